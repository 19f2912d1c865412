"""Lakehouse features: timestamp time travel, append schema rules, idempotent merge, ingest modes, ``lake`` CLI."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from sparkwright.cli import app
from sparkwright.config.schema import SourceConfig
from sparkwright.data import ingest, lake
from sparkwright.errors import ConfigError, DataError

ROWS = "id long, v string"
CSV = "id,hotel,price\n1,A,10.0\n2,B,20.0\n3,C,30.0\n"


def _csv(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return SourceConfig(path=str(path))


def _bronze(workspace):
    return workspace.table_path("p", "bronze"), workspace.table_path("p", "bronze_rejects")


def _rows(spark, path, **as_of):
    return sorted((tuple(r) for r in lake.read_table(spark, path, **as_of).collect()), key=repr)  # None keys sort too


# --- time travel by timestamp -------------------------------------------------------------------------------------


def test_read_as_of_timestamp_and_errors_give_the_history_range(spark, tmp_path):
    path = str(tmp_path / "t")
    lake.write_table(spark.createDataFrame([(1, "a")], ROWS), path)
    lake.write_table(spark.createDataFrame([(2, "b")], ROWS), path)
    stamps = {h["version"]: h["timestamp"] for h in lake.table_history(spark, path)}
    assert stamps[0] < stamps[1]

    assert _rows(spark, path, timestamp=str(stamps[0])) == [(1, "a")]
    assert _rows(spark, path, timestamp=str(stamps[1])) == [(2, "b")]
    between = stamps[0] + (stamps[1] - stamps[0]) / 2
    assert _rows(spark, path, timestamp=str(between)) == [(1, "a")]

    with pytest.raises(DataError, match=r"as of timestamp '2000-01-01'.*It has versions 0\.\.1, committed"):
        lake.read_table(spark, path, timestamp="2000-01-01")
    # Delta refuses a time after the last commit (the table's future is unknown); the message says so.
    with pytest.raises(DataError, match=r"as of timestamp '2999-01-01'.*after the table's latest version"):
        lake.read_table(spark, path, timestamp="2999-01-01")
    with pytest.raises(DataError, match="as of a version or a timestamp, not both"):
        lake.read_table(spark, path, version=0, timestamp=str(stamps[0]))


# --- append: schema enforcement and additive evolution ------------------------------------------------------------


def test_append_enforces_schema_and_evolves_only_additively(spark, tmp_path):
    path = str(tmp_path / "t")
    lake.write_table(spark.createDataFrame([(1, "a")], ROWS), path)
    wider = spark.createDataFrame([(2, "b", 2.5)], "id long, v string, score double")

    with pytest.raises(DataError, match=r"added columns: score\. Set data\.ingest\.evolve_schema: true"):
        lake.write_table(wider, path, mode="append")
    retyped = spark.createDataFrame([("3", "c")], "id string, v string")
    with pytest.raises(DataError, match=r"changed types: id bigint -> string\. Only added columns can evolve"):
        lake.write_table(retyped, path, mode="append", evolve_schema=True)
    narrower = spark.createDataFrame([(4,)], "id long")
    with pytest.raises(DataError, match=r"missing columns: v\. Only added columns"):
        lake.write_table(narrower, path, mode="append", evolve_schema=True)
    assert lake.table_version(spark, path) == 0

    assert lake.write_table(wider, path, mode="append", evolve_schema=True) == 1
    assert _rows(spark, path) == [(1, "a", None), (2, "b", 2.5)]
    assert lake.write_table(spark.createDataFrame([(5, "e", 5.0)], wider.schema), path, mode="append") == 2


# --- merge: idempotent upsert -------------------------------------------------------------------------------------


def test_merge_is_idempotent_updates_changed_rows_and_matches_null_keys(spark, tmp_path):
    path = str(tmp_path / "t")
    rows = [(1, "a"), (2, "b"), (None, "no key")]
    assert lake.merge_table(spark.createDataFrame(rows, ROWS), path, ["id"]) == 0

    assert lake.merge_table(spark.createDataFrame(rows, ROWS), path, ["id"]) == 1
    assert _rows(spark, path) == _rows(spark, path, version=0)
    metrics = lake.table_history(spark, path, limit=1)[0]["operationMetrics"]
    assert (metrics["numTargetRowsInserted"], metrics["numTargetRowsUpdated"]) == ("0", "0")

    changed = [(2, "B"), (3, "c"), (3, "c")]  # an exact duplicate is collapsed, not an error
    assert lake.merge_table(spark.createDataFrame(changed, ROWS), path, ["id"]) == 2
    assert _rows(spark, path, version=2) == sorted([(1, "a"), (2, "B"), (3, "c"), (None, "no key")], key=repr)


def test_merge_rejects_conflicting_duplicate_keys_and_unknown_keys(spark, tmp_path):
    path = str(tmp_path / "t")
    lake.merge_table(spark.createDataFrame([(1, "a")], ROWS), path, ["id"])
    clash = spark.createDataFrame([(7, "x"), (7, "y"), (8, "z")], ROWS)

    with pytest.raises(DataError, match=r"different rows with the same key \(id\), e\.g\. id=7 \(2 rows\)"):
        lake.merge_table(clash, path, ["id"])
    with pytest.raises(DataError, match=r"key column\(s\) nope are not in the data .* its columns are id, v"):
        lake.merge_table(clash, path, ["nope"])
    assert lake.table_version(spark, path) == 0


# --- ingest modes -------------------------------------------------------------------------------------------------


def test_ingest_merge_by_keys_is_idempotent(spark, tmp_path, workspace):
    bronze, rejects = _bronze(workspace)
    source = _csv(tmp_path, "rates.csv", CSV)

    first = ingest(spark, source, bronze, rejects, keys=["id"])
    again = ingest(spark, source, bronze, rejects, keys=["id"])

    assert (first.mode, first.version, again.mode, again.version) == ("merge", 0, "merge", 1)
    assert lake.read_table(spark, bronze).count() == 3
    assert _rows(spark, bronze) == _rows(spark, bronze, version=0)

    update = _csv(tmp_path, "update.csv", "id,hotel,price\n3,C,33.0\n4,D,40.0\n")
    assert ingest(spark, update, bronze, rejects, mode="merge", keys=["id"]).version == 2
    assert [r.price for r in lake.read_table(spark, bronze).orderBy("id").collect()] == [10.0, 20.0, 33.0, 40.0]


def test_ingest_merge_with_conflicting_keys_leaves_bronze_untouched(spark, tmp_path, workspace):
    bronze, rejects = _bronze(workspace)
    ingest(spark, _csv(tmp_path, "rates.csv", CSV), bronze, rejects, keys=["id"])
    clash = _csv(tmp_path, "clash.csv", "id,hotel,price\n1,A,11.0\n1,A,12.0\n")

    with pytest.raises(DataError, match=r"same key \(id\), e\.g\. id=1 \(2 rows\)"):
        ingest(spark, clash, bronze, rejects, keys=["id"])
    assert lake.table_version(spark, bronze) == 0
    with pytest.raises(ConfigError, match=r"data\.keys: room not in the columns of .*\(id, hotel, price\)"):
        ingest(spark, clash, bronze, rejects, keys=["room"])
    with pytest.raises(ConfigError, match=r"merge needs data\.keys"):
        ingest(spark, clash, bronze, rejects, mode="merge")


def test_ingest_append_adds_rows_and_evolves_schema_only_when_asked(spark, tmp_path, workspace):
    bronze, rejects = _bronze(workspace)
    source = _csv(tmp_path, "rates.csv", CSV)
    assert ingest(spark, source, bronze, rejects).mode == "overwrite"  # no keys: the old default
    assert ingest(spark, source, bronze, rejects, mode="append").version == 1
    assert lake.read_table(spark, bronze).count() == 6

    wider = _csv(tmp_path, "wider.csv", "id,hotel,price,stars\n9,Z,90.0,4\n")
    with pytest.raises(DataError, match=r"schema differs: added columns: stars"):
        ingest(spark, wider, bronze, rejects, mode="append")
    assert lake.table_version(spark, bronze) == 1
    assert ingest(spark, wider, bronze, rejects, mode="append", evolve_schema=True).version == 2
    stars = {r.id: r.stars for r in lake.read_table(spark, bronze).collect()}
    assert stars == {1: None, 2: None, 3: None, 9: 4}

    narrower = _csv(tmp_path, "narrower.csv", "id,hotel\n10,Y\n")
    with pytest.raises(DataError, match=r"missing columns: price, stars"):
        ingest(spark, narrower, bronze, rejects, mode="append", evolve_schema=True)


# --- the lake CLI -------------------------------------------------------------------------------------------------


def _cli(*args: str):
    result = CliRunner().invoke(app, ["lake", *args], catch_exceptions=False)
    return result.exit_code, " ".join(result.output.split())  # Rich wraps long lines


def test_lake_cli_history_show_restore_and_missing_table(spark, tmp_path, workspace):
    bronze, rejects = _bronze(workspace)
    ws = str(workspace.root)
    ingest(spark, _csv(tmp_path, "rates.csv", CSV), bronze, rejects, keys=["id"])
    ingest(spark, _csv(tmp_path, "more.csv", "id,hotel,price\n4,D,40.0\n"), bronze, rejects, keys=["id"])

    code, out = _cli("history", "p/bronze", "-w", ws)
    assert code == 0, out
    assert "MERGE" in out and "WRITE" in out and "Overwrite" in out
    assert "rows written 3" in out and "inserted 1" in out

    code, out = _cli("show", "p/bronze", "--version", "0", "-w", ws)
    assert code == 0, out
    assert "version 0; first 3 rows" in out and "30.0" in out and "40.0" not in out
    stamp = str(lake.table_history(spark, bronze)[0]["timestamp"])
    code, out = _cli("show", bronze, "--timestamp", stamp, "--limit", "2")
    assert code == 0, out
    assert f"as of {stamp}; first 2 rows" in out

    code, out = _cli("restore", "p/bronze", "--version", "0", "-w", ws)
    assert code == 0, out
    assert "restored" in out and "to version 0; it is now version 2." in out
    assert lake.read_table(spark, bronze).count() == 3

    code, out = _cli("history", "p/silver", "-w", ws)
    assert code == 3
    assert "no Delta table 'p/silver'" in out and "Tables in" in out and "p/bronze" in out
    code, out = _cli("show", "p/bronze", "--version", "9", "-w", ws)
    assert code == 3
    assert "has versions 0..2; version 9 does not exist" in out
