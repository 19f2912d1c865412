"""`sparkwright stream`: exactly-once scoring of landing files across a SIGKILL, rejects, Delta sources."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sparkwright.data import read_table, table_exists
from sparkwright.deploy.stream import start_scoring_stream, stream_spec
from sparkwright.registry import Registry
from sparkwright.tracking import Tracker

pytestmark = pytest.mark.slow

FILES, ROWS_PER_FILE = 12, 60


def _commits(table: str) -> int:
    log = Path(table) / "_delta_log"
    return len(list(log.glob("*.json"))) if log.is_dir() else 0


def test_a_killed_stream_resumes_with_every_row_exactly_once(spark, trained, tmp_path):
    import pandas as pd

    ws, _ = trained
    # Rows as the source has them: the model prepares them itself.
    raw = pd.read_csv(ws.root / "examples" / "hotel_rates" / "data" / "hotel_rates.csv").head(FILES * ROWS_PER_FILE)
    raw.insert(0, "row_id", range(len(raw)))  # not a model input: carried through as text
    landing = tmp_path / "landing"
    landing.mkdir()
    for i in range(FILES):
        raw.iloc[i * ROWS_PER_FILE : (i + 1) * ROWS_PER_FILE].to_csv(landing / f"part-{i:02d}.csv", index=False)
    # One file with a value that is not a number and a record cut short: both rejected, the rest scored.
    lines = (landing / "part-00.csv").read_text().splitlines()
    lead = lines[0].split(",").index("lead_time")
    bad = lines[1].split(",")
    bad[lead] = "soon"
    (landing / "part-99.csv").write_text(
        "\n".join([lines[0], ",".join(bad), ",".join(lines[2].split(",")[:3]), lines[3]])
    )
    expected_rows = FILES * ROWS_PER_FILE + 1

    out = str(tmp_path / "scored")
    command = [str(Path(sys.executable).with_name("sparkwright")), "stream", "--model", "models:/hotel-rates/1",
               "--input", str(landing), "--output", out, "--workspace", str(ws.root), "--master", "local[1]",
               "--max-files-per-trigger", "1", "--interval", "0.2"]  # fmt: skip
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARKWRIGHT_TRACKING_URI": ws.tracking_uri}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    deadline = time.time() + 300
    while time.time() < deadline and _commits(out) < 3:
        assert proc.poll() is None, "the stream ended before it was killed"
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = read_table(spark, out).count()
    assert 0 < killed_at < expected_rows, "killed too late to test a restart"

    # The restart runs in this process (a JVM start saved) on the same checkpoint, as `--available-now` would.
    registry = Registry(Tracker(ws.tracking_uri, ws.artifacts))
    spec = stream_spec(str(landing), out)
    start_scoring_stream(
        spark, registry, "models:/hotel-rates/1", spec, trigger="available-now", max_files_per_trigger=1
    ).awaitTermination()
    scored = read_table(spark, out)
    assert scored.count() == expected_rows
    assert scored.select("row_id").distinct().count() == FILES * ROWS_PER_FILE  # part-99's good row repeats one
    assert scored.where("prediction IS NULL").count() == 0
    rejects = read_table(spark, out + "_rejects").collect()
    assert len(rejects) == 2
    assert all(r["_source"].endswith("part-99.csv") and "malformed record" in r["_reason"] for r in rejects)
    assert any("soon" in r["_raw"] for r in rejects)


def test_a_delta_table_read_as_a_stream_is_scored_once(spark, trained, tmp_path):
    ws, result = trained
    source = str(tmp_path / "incoming")
    read_table(spark, result.tables["silver"].path).limit(100).write.format("delta").save(source)
    registry = Registry(Tracker(ws.tracking_uri, ws.artifacts))
    spec = stream_spec(source, str(tmp_path / "out"))
    assert spec.source_format == "delta"
    for _ in range(2):  # the second run finds nothing new in the checkpoint
        start_scoring_stream(
            spark, registry, "models:/hotel-rates@champion", spec, trigger="available-now"
        ).awaitTermination()
    out = read_table(spark, spec.output)
    assert out.count() == 100
    assert {r._model_version for r in out.select("_model_version").distinct().collect()} == {1}
    assert not table_exists(spark, spec.rejects)
