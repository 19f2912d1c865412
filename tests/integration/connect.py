"""A Spark Connect server for the tests: started with spark-submit from the pyspark wheel, Delta configured.

The server is the shape docs/scale-out.md tells users to start: pyspark's own ``spark-submit`` with the
``SparkConnectServer`` class, Delta's jars and SQL extension, and Python workers on this interpreter (the
server runs the pandas UDFs and mapInPandas jobs). Delta's Connect plugin (``delta-connect-server``) is not
on Maven Central for Delta 4.4.0, so the server runs without it; sparkwright needs none of its APIs.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

START_TIMEOUT_S = 180


@dataclass
class ConnectServer:
    """A running server: its ``sc://`` URL, process (leader of its own process group) and log file."""

    url: str
    proc: subprocess.Popen
    log: Path

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the server and its Python workers (the whole process group)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def server_command(port: int) -> list[str]:
    """The spark-submit command line of a local Connect server with Delta on ``port``."""
    import pyspark

    from sparkwright.session import cached_delta_jars, delta_maven_coordinate

    spark_home = Path(pyspark.__file__).parent
    jars = cached_delta_jars()  # the jars a previous local session resolved; else Ivy fetches them
    delta = ["--jars", ",".join(jars)] if jars else ["--packages", delta_maven_coordinate()]
    conf = {
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(port),
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.pyspark.python": sys.executable,
        "spark.ui.enabled": "false",
        "spark.driver.memory": "2g",
        "spark.sql.shuffle.partitions": "2",
        "spark.default.parallelism": "2",
        "spark.databricks.delta.snapshotPartitions": "2",
    }
    return [
        str(spark_home / "bin" / "spark-submit"),
        "--class",
        "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--master",
        "local[2]",
        *delta,
        *[arg for key, value in conf.items() for arg in ("--conf", f"{key}={value}")],
        "spark-internal",
    ]


def start_server(folder: Path) -> ConnectServer:
    """Start a server in ``folder`` on a free port; return once a Connect session answers a query.

    Raises:
        AssertionError: The server exited or did not answer within ``START_TIMEOUT_S``; the message holds
            the tail of its log.
    """
    import pyspark

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = folder / "connect-server.log"
    env = {
        **os.environ,
        "SPARK_HOME": str(Path(pyspark.__file__).parent),
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_DIRS": str(folder),
    }
    with log.open("w") as out:
        proc = subprocess.Popen(
            server_command(port),
            cwd=folder,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # one process group: a kill takes the JVM and its Python workers
        )
    server = ConnectServer(f"sc://127.0.0.1:{port}", proc, log)
    try:
        _wait_until_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_ready(server: ConnectServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    port = int(server.url.rsplit(":", 1)[1])
    while True:
        if server.proc.poll() is not None:
            raise AssertionError(f"the Spark Connect server exited with {server.proc.returncode}:\n{server.log_tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the Spark Connect server did not accept a session within {START_TIMEOUT_S} s:\n{server.log_tail()}"
            )
        with socket.socket() as probe:
            listening = probe.connect_ex(("127.0.0.1", port)) == 0
        if listening:
            break
        time.sleep(1)
    # The port opens before the session machinery is ready: a real query proves it is. In a subprocess: a
    # Connect session in the test process would switch pyspark there to Connect mode for good (is_remote()).
    probe = (
        "from pyspark.sql import SparkSession; "
        f"assert SparkSession.builder.remote({server.url!r}).create().range(3).count() == 3"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise AssertionError(f"the Spark Connect server refused a session: {done.stderr[-2000:]}\n{server.log_tail()}")


def require_java() -> None:
    """Skip without Java, except on CI, where a missing Java is a broken machine."""
    if shutil.which("java") or os.environ.get("JAVA_HOME"):
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("CI is set but there is no Java (java on PATH or JAVA_HOME): Spark Connect needs Java 17.")
    pytest.skip("no Java (java on PATH or JAVA_HOME): the Spark Connect server needs Java 17")
