"""Delta writes are atomic: a writer killed mid-write leaves no trace in the table, concurrent appends both land.

Each writer is a separate Python process with its own local Spark session (about 5-10 s to start), driving
``sparkwright.data.lake.write_table`` exactly as a pipeline run would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sparkwright.data import lake

pytestmark = pytest.mark.slow

BASE_ROWS = 100
# Many small partitions on one core: the write takes several seconds, one task (one Parquet file) at a time.
SLOW_ROWS, SLOW_PARTITIONS = 20_000, 200

WRITER = textwrap.dedent(
    """
    import os, sys, time
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import functions as F
    from sparkwright.data import lake
    from sparkwright.session import get_session

    path, rows, parts, start, barrier = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    spark = get_session(master="local[1]", conf={"spark.driver.memory": "512m", "spark.ui.enabled": "false"})
    df = spark.range(start, start + rows, numPartitions=parts).select("id", (F.col("id") * 2).alias("v"))
    if barrier != "-":  # line up with the other writer, so both commits really race
        open(barrier + ".ready." + str(os.getpid()), "w").close()
        while not os.path.exists(barrier + ".go"):
            time.sleep(0.02)
    print("WRITING", flush=True)
    print("VERSION", lake.write_table(df, path, mode="append"), flush=True)
    """
)


def _start_writer(tmp_path: Path, table: str, rows: int, parts: int, start: int, barrier: str = "-"):
    """A writer process in its own process group, so a kill takes its JVM down with it."""
    log = open(tmp_path / f"writer-{start}.log", "w")  # noqa: SIM115 - closed by the caller via _finish
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, table, str(rows), str(parts), str(start), barrier],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "PYSPARK_PYTHON": sys.executable},
    )
    return proc, tmp_path / f"writer-{start}.log"


def _wait(proc: subprocess.Popen, log: Path, timeout: float = 120) -> str:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        pytest.fail(f"writer did not finish in {timeout}s:\n{log.read_text()[-3000:]}")
    output = log.read_text()
    assert proc.returncode == 0, output[-3000:]
    return output


def _commits(table: str) -> set[str]:
    return {name for name in os.listdir(os.path.join(table, "_delta_log")) if name.endswith(".json")}


def _data_files(table: str) -> set[str]:
    return {name for name in os.listdir(table) if name.endswith(".parquet")}


def _base_table(spark, tmp_path: Path) -> str:
    table = str(tmp_path / "events")
    lake.write_table(spark.range(BASE_ROWS).selectExpr("id", "id * 2 AS v"), table)
    return table


def test_writer_killed_mid_write_leaves_previous_version_then_rerun_commits(spark, tmp_path):
    table = _base_table(spark, tmp_path)
    commits, files = _commits(table), _data_files(table)

    proc, log = _start_writer(tmp_path, table, SLOW_ROWS, SLOW_PARTITIONS, start=BASE_ROWS)
    deadline = time.monotonic() + 120
    while not _data_files(table) - files:  # the first task of the write has put a Parquet file in the table
        assert proc.poll() is None, f"writer exited before writing:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"writer wrote nothing in 120 s:\n{log.read_text()[-3000:]}"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)

    assert proc.returncode == -signal.SIGKILL
    assert "VERSION" not in log.read_text()
    orphans = _data_files(table) - files
    assert 0 < len(orphans) < SLOW_PARTITIONS, "the kill must land mid-write"
    assert _commits(table) == commits  # no commit, not even a partial one
    assert lake.table_version(spark, table) == 0
    assert lake.read_table(spark, table).count() == BASE_ROWS  # orphan files are not part of any version

    rerun = spark.range(BASE_ROWS, BASE_ROWS + SLOW_ROWS, numPartitions=4).selectExpr("id", "id * 2 AS v")
    assert lake.write_table(rerun, table, mode="append") == 1
    assert lake.read_table(spark, table).count() == BASE_ROWS + SLOW_ROWS
    assert lake.read_table(spark, table).selectExpr("count(DISTINCT id)").first()[0] == BASE_ROWS + SLOW_ROWS
    assert lake.read_table(spark, table, version=0).count() == BASE_ROWS


def test_two_concurrent_appends_both_commit(spark, tmp_path):
    table = _base_table(spark, tmp_path)
    barrier = str(tmp_path / "barrier")
    writers = [
        _start_writer(tmp_path, table, rows, parts=2, start=start, barrier=barrier)
        for rows, start in ((1_000, 10_000), (2_000, 20_000))
    ]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("barrier.ready.*"))) < len(writers):
        for proc, log in writers:
            assert proc.poll() is None, f"writer exited before the barrier:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, "writers did not start in 120 s"
        time.sleep(0.05)
    Path(barrier + ".go").touch()

    outputs = [_wait(proc, log) for proc, log in writers]

    versions = sorted(
        int(line.split()[1]) for out in outputs for line in out.splitlines() if line.startswith("VERSION")
    )
    assert versions == [1, 2]
    assert lake.table_version(spark, table) == 2
    df = lake.read_table(spark, table)
    assert df.count() == BASE_ROWS + 1_000 + 2_000
    assert df.selectExpr("count(DISTINCT id)").first()[0] == BASE_ROWS + 1_000 + 2_000
    history = lake.table_history(spark, table, limit=2)
    assert [(h["operation"], h["operationParameters"]["mode"]) for h in history] == [("WRITE", "Append")] * 2
    assert sorted(int(h["operationMetrics"]["numOutputRows"]) for h in history) == [1_000, 2_000]
