"""Shared fixtures: one local SparkSession for the whole run, a fresh workspace and MLflow store per test."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    """When a test (its fixtures included) outlives ``faulthandler_timeout``, print the Spark JVM's threads
    too: faulthandler prints only Python's, and a hang inside Spark shows as a py4j socket read there."""
    seconds = float(item.config.getini("faulthandler_timeout") or 0)
    # A few seconds after faulthandler's dump: it walks every thread's frames, and this one must not be busy.
    timer = threading.Timer(seconds + 5, _print_jvm_threads, args=(item.config, item.nodeid)) if seconds else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()


def _print_jvm_threads(config: pytest.Config, nodeid: str) -> None:
    """``jstack`` of every JVM this process started (the local Spark driver), to the real stderr."""
    import shutil
    import subprocess

    children = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(os.getpid()) and fields.get("Name", "").strip() == "java":
            children.append(status.parent.name)
    jstack = shutil.which("jstack")
    dumps = [
        subprocess.run([jstack, pid], capture_output=True, text=True, timeout=60).stdout if jstack else "no jstack"
        for pid in children
    ]
    capture = config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        sys.stderr.write(f"\n===== {nodeid} is still running: threads of JVM(s) {children} =====\n")
        sys.stderr.write("\n".join(dumps) + "\n")
        sys.stderr.flush()


@pytest.fixture(scope="session")
def spark():
    """A local SparkSession with Delta, started once (about 5-20 s) and stopped at the end."""
    from sparkwright.session import get_session

    session = get_session(
        master="local[2]",
        conf={
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            "spark.databricks.delta.snapshotPartitions": "2",
        },
        app_name="sparkwright-tests",
    )
    yield session
    session.stop()


@pytest.fixture(scope="session", autouse=True)
def _mlflow_default_store(tmp_path_factory: pytest.TempPathFactory):
    """MLflow's default store is ./mlflow.db: keep anything that falls back to it out of the checkout."""
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp_path_factory.mktemp('mlflow-default') / 'mlflow.db'}"
    yield
    os.environ.pop("MLFLOW_TRACKING_URI", None)


@pytest.fixture(autouse=True)
def _settings_read_per_test():
    """sparkwright reads SPARKWRIGHT_* once per process; a test that sets one must not leak it to the next."""
    from sparkwright.settings import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An empty workspace whose MLflow store is a SQLite file of its own.

    MLflow's fluent API (used by tests to check what a user would see) points at it too.
    """
    import mlflow

    from sparkwright.workspace import Workspace

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("SPARKWRIGHT_TRACKING_URI", raising=False)
    workspace = Workspace.resolve(tmp_path / "ws")
    uri = workspace.tracking_uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    yield workspace
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)


class ServeProcess:
    """``sparkwright serve`` in a subprocess: started with :meth:`start` (returns once ``/health`` answers),
    stopped with :meth:`stop` (returns its output)."""

    def __init__(self, proc, url: str):
        self.proc, self.url = proc, url

    @classmethod
    def start(cls, workspace, model: str, *options: str, env: dict[str, str] | None = None) -> ServeProcess:
        import socket
        import subprocess
        import time

        import httpx

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        command = [str(Path(sys.executable).with_name("sparkwright")), "serve", "--model", model,
                   "--port", str(port), "--workspace", str(workspace), *options]  # fmt: skip
        proc = subprocess.Popen(
            command, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if proc.poll() is not None:
                    raise AssertionError(proc.stdout.read()) from None
                time.sleep(0.2)
        return cls(proc, url)

    def stop(self) -> str:
        self.proc.terminate()
        return self.proc.communicate(timeout=30)[0]


@pytest.fixture
def serve_process():
    """A started ``sparkwright serve`` is stopped at the end of the test even when the test fails."""
    started: list[ServeProcess] = []

    def start(workspace, model: str, *options: str, env: dict[str, str] | None = None) -> ServeProcess:
        started.append(ServeProcess.start(workspace, model, *options, env=env))
        return started[-1]

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.stop()
