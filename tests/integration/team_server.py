"""A team's tracking stack for the tests: Debian's PostgreSQL in a temporary data folder on a free port, and an
MLflow server on it started through ``sparkwright server``, as docs/team-server.md tells a team to.

PostgreSQL refuses to run as root, so as root its commands run as the ``postgres`` user (``runuser``) in a
folder that user owns.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from cluster import free_port

SPARKWRIGHT = str(Path(sys.executable).with_name("sparkwright"))


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian's layout), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


@dataclass
class Postgres:
    folder: Path
    port: int
    bin: Path

    @property
    def url(self) -> str:
        return f"postgresql://sparkwright@127.0.0.1:{self.port}/mlflow"

    def stop(self) -> None:
        _as_owner([str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "stop", "-m", "fast"], check=False)
        shutil.rmtree(self.folder, ignore_errors=True)


def start_postgres() -> Postgres:
    """initdb in a fresh folder, start on a free port (127.0.0.1 only, fsync off: test data), create ``mlflow``."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install postgresql); .ci/run installs it")
    folder = Path(tempfile.mkdtemp(prefix="sparkwright-pg-"))
    os.chmod(folder, 0o755)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    port = free_port()
    data = folder / "data"
    _as_owner([str(bin_dir / "initdb"), "-D", str(data), "-U", "sparkwright", "-A", "trust", "--no-sync", "-E", "UTF8"])
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
    _as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"])
    _as_owner([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "sparkwright", "mlflow"])
    return Postgres(folder, port, bin_dir)


def _as_owner(command: list[str], check: bool = True) -> None:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    done = subprocess.run(prefix + command, capture_output=True, text=True, timeout=120)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")


@dataclass
class TrackingServer:
    process: subprocess.Popen
    port: int
    artifacts: Path
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


def start_tracking_server(backend_uri: str, folder: Path, timeout: float = 120) -> TrackingServer:
    """``sparkwright server`` on ``backend_uri`` with artifacts under ``folder``; returns once /health answers."""
    port = free_port()
    artifacts = folder / "artifacts"
    log = folder / "server.log"
    command = [SPARKWRIGHT, "server", "--backend-store-uri", backend_uri, "--artifacts-destination", str(artifacts)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = TrackingServer(process, port, artifacts, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the tracking server exited ({process.returncode}): {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return server
        except OSError:
            time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"the tracking server did not answer in {timeout:.0f}s: {log.read_text()[-3000:]}")
