"""A Spark standalone cluster on 127.0.0.1 started from the pyspark install: one master, workers of one core.

Each daemon is ``bin/spark-class`` of the pyspark wheel in its own process group, so stopping kills the
executors the workers launched too. The master's JSON status page tells when every worker has registered.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pyspark

SPARK_HOME = Path(pyspark.__file__).parent
_MASTER = "org.apache.spark.deploy.master.Master"
_WORKER = "org.apache.spark.deploy.worker.Worker"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class StandaloneCluster:
    """A running master and its workers; ``url`` is what ``--master`` takes."""

    root: Path
    port: int
    ui_port: int
    worker_dirs: list[Path]
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    def status(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=5) as response:
            return json.load(response)

    def executor_dirs(self) -> list[Path]:
        """Every executor's working folder (``<worker dir>/<app id>/<executor id>``) so far, all applications."""
        return sorted(path for worker in self.worker_dirs for path in worker.glob("app-*/*") if path.is_dir())

    def log_tail(self, lines: int = 30) -> str:
        logs = sorted(self.root.glob("*.log"))
        return "\n".join(f"--- {log.name}\n" + "\n".join(log.read_text().splitlines()[-lines:]) for log in logs)

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def start_cluster(root: Path, *, workers: int = 2, worker_memory: str = "2g", timeout: float = 90) -> StandaloneCluster:
    """Start a master and ``workers`` one-core workers under ``root``; return once all have registered.

    Raises:
        RuntimeError: A daemon exited or the workers did not register in ``timeout`` seconds (with the logs).
    """
    root.mkdir(parents=True, exist_ok=True)
    cluster = StandaloneCluster(root, free_port(), free_port(), [root / f"worker-{i}" for i in range(workers)])
    env = {
        **os.environ,
        "SPARK_HOME": str(SPARK_HOME),
        # No REST submission server (its fixed port 6066 would clash between two clusters) and no leftovers.
        "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false",
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    master = [spark_class, _MASTER, "--host", "127.0.0.1", "--port", str(cluster.port)]
    cluster.processes.append(_daemon([*master, "--webui-port", str(cluster.ui_port)], root / "master.log", env))
    try:
        for index, work_dir in enumerate(cluster.worker_dirs):
            work_dir.mkdir()
            command = [spark_class, _WORKER, "--host", "127.0.0.1", "--cores", "1", "--memory", worker_memory]
            command += ["--webui-port", str(free_port()), "--work-dir", str(work_dir), cluster.url]
            cluster.processes.append(_daemon(command, root / f"worker-{index}.log", env))
        _wait_for_workers(cluster, workers, timeout)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _daemon(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _wait_for_workers(cluster: StandaloneCluster, expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in cluster.processes):
            raise RuntimeError(f"a Spark daemon exited while the cluster started:\n{cluster.log_tail()}")
        try:
            if cluster.status().get("aliveworkers", 0) >= expected:
                return
        except OSError:
            pass  # the master's status page is not up yet
        time.sleep(1)
    raise RuntimeError(f"{expected} workers did not join {cluster.url} in {timeout:.0f}s:\n{cluster.log_tail()}")
