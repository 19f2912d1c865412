"""Ingest: sources -> bronze Delta table + rejects table, with exact row accounting."""

from __future__ import annotations

import json

import pytest

from sparkwright.config.schema import SourceConfig
from sparkwright.data import ingest, lake, read_source, resolve_format
from sparkwright.errors import ConfigError, DataError

GOOD_CSV = "hotel,lead_time,price,weekend\nA,10,99.5,true\nB,3,120.0,false\nA,,80.25,true\nC,7,150.0,false\n"
SCHEMA = {"hotel": "string", "lead_time": "int", "price": "double", "weekend": "boolean"}


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _tables(workspace):
    return workspace.table_path("p", "bronze"), workspace.table_path("p", "bronze_rejects")


def test_csv_with_inferred_schema_becomes_bronze_version_0(spark, tmp_path, workspace):
    bronze, rejects = _tables(workspace)
    source = SourceConfig(path=_write(tmp_path, "rates.csv", GOOD_CSV))

    result = ingest(spark, source, bronze, rejects)

    assert (result.version, result.input_rows, result.accepted_rows, result.rejected_rows) == (0, 4, 4, 0)
    assert result.rejected_fraction == 0.0
    df = lake.read_table(spark, bronze)
    assert dict(df.dtypes) == {"hotel": "string", "lead_time": "int", "price": "double", "weekend": "boolean"}
    assert sorted(r.price for r in df.collect()) == [80.25, 99.5, 120.0, 150.0]
    # Nothing rejected and no earlier rejects: no empty table is created.
    assert not lake.table_exists(spark, rejects)


def test_explicit_schema_rejects_bad_value_and_wrong_field_count_with_reasons(spark, tmp_path, workspace):
    bronze, rejects = _tables(workspace)
    text = GOOD_CSV + "D,abc,70.0,true\nE,5,60.0\n"
    path = _write(tmp_path, "rates.csv", text)
    source = SourceConfig(path=path, schema=SCHEMA)

    result = ingest(spark, source, bronze, rejects, max_rejected_fraction=0.5)

    assert (result.input_rows, result.accepted_rows, result.rejected_rows) == (6, 4, 2)
    assert result.input_rows == result.accepted_rows + result.rejected_rows
    assert result.rejected_fraction == pytest.approx(2 / 6)
    bad = {r["_raw"]: r for r in lake.read_table(spark, rejects).collect()}
    assert bad["D,abc,70.0,true"]["_reason"] == "column 'lead_time': 'abc' is not a valid int"
    assert bad["E,5,60.0"]["_reason"] == "malformed record: expected 4 fields, got 3"
    assert {r["_source"] for r in bad.values()} == {path}
    assert all(r["_ingested_at"] is not None for r in bad.values())
    assert sorted(r.hotel for r in lake.read_table(spark, bronze).collect()) == ["A", "A", "B", "C"]


def test_read_source_splits_accepted_and_rejected(spark, tmp_path):
    path = _write(tmp_path, "x.csv", "a,b\n1,x\nzz,y\n2,z,extra\n")
    accepted, rejected = read_source(spark, SourceConfig(path=path, schema={"a": "bigint", "b": "string"}))

    assert dict(accepted.dtypes) == {"a": "bigint", "b": "string"}
    assert [tuple(r) for r in accepted.collect()] == [(1, "x")]
    reasons = sorted(r["_reason"] for r in rejected.collect())
    assert reasons == ["column 'a': 'zz' is not a valid bigint", "malformed record: expected 2 fields, got 3"]


def test_too_many_rejects_leaves_bronze_untouched_and_writes_rejects(spark, tmp_path, workspace):
    bronze, rejects = _tables(workspace)
    bad_file = _write(tmp_path, "bad.csv", "hotel,lead_time,price,weekend\nA,x,1.0,true\nB,y,2.0,false\nC,3,3.0,true\n")
    source = SourceConfig(path=bad_file, schema=SCHEMA)

    with pytest.raises(DataError, match=r"2 of 3 rows .* rejected \(66\.7%\), more than the limit of 5\.0%") as info:
        ingest(spark, source, bronze, rejects)
    message = str(info.value)
    assert "column 'lead_time': 'x' is not a valid int" in message
    assert rejects in message and "data.max_rejected_fraction" in message
    assert not lake.table_exists(spark, bronze)
    assert lake.read_table(spark, rejects).count() == 2

    # With an existing bronze table, a bad file must not add a version to it.
    ingest(spark, SourceConfig(path=_write(tmp_path, "good.csv", GOOD_CSV), schema=SCHEMA), bronze, rejects)
    with pytest.raises(DataError, match="2 of 3 rows"):
        ingest(spark, source, bronze, rejects)
    assert lake.table_version(spark, bronze) == 0
    assert lake.read_table(spark, bronze).count() == 4


def test_reingest_overwrites_as_a_new_version_without_duplicates(spark, tmp_path, workspace):
    bronze, rejects = _tables(workspace)
    source = SourceConfig(path=_write(tmp_path, "rates.csv", GOOD_CSV))

    assert ingest(spark, source, bronze, rejects).version == 0
    again = ingest(spark, source, bronze, rejects)

    assert again.version == 1
    assert lake.read_table(spark, bronze).count() == 4
    assert lake.read_table(spark, bronze, version=0).count() == 4


@pytest.mark.parametrize(
    ("text", "match"),
    [("", r"is empty \(0 bytes\): it has no data rows"), ("a,b\n", "has no data rows")],
    ids=["zero-bytes", "header-only"],
)
def test_empty_sources_are_data_errors(spark, tmp_path, workspace, text, match):
    bronze, rejects = _tables(workspace)
    with pytest.raises(DataError, match=match):
        ingest(spark, SourceConfig(path=_write(tmp_path, "e.csv", text)), bronze, rejects)
    assert not lake.table_exists(spark, bronze)


def test_missing_file_is_a_data_error(spark, tmp_path, workspace):
    with pytest.raises(DataError, match=r"source file '.*nope\.csv' does not exist"):
        ingest(spark, SourceConfig(path=str(tmp_path / "nope.csv")), *_tables(workspace))


def test_unknown_format_and_type_are_config_errors(spark, tmp_path, workspace):
    with pytest.raises(ConfigError, match=r"data\.source\.format: cannot tell the format .*csv, delta, json, parquet"):
        resolve_format(SourceConfig(path=_write(tmp_path, "data.xlsx", "x")))
    path = _write(tmp_path, "rates.csv", GOOD_CSV)
    with pytest.raises(ConfigError, match=r"data\.source\.schema\.price: unknown Spark SQL type 'dubble'"):
        ingest(spark, SourceConfig(path=path, schema={"price": "dubble"}), *_tables(workspace))


def test_declared_columns_missing_from_file(spark, tmp_path, workspace):
    path = _write(tmp_path, "rates.csv", GOOD_CSV)
    with pytest.raises(DataError, match=r"does not have: rooms\. Columns found: hotel, lead_time, price, weekend"):
        ingest(spark, SourceConfig(path=path, schema={"rooms": "int"}), *_tables(workspace))


def test_partial_schema_overrides_inferred_types(spark, tmp_path, workspace):
    bronze, rejects = _tables(workspace)
    ingest(
        spark, SourceConfig(path=_write(tmp_path, "r.csv", GOOD_CSV), schema={"lead_time": "double"}), bronze, rejects
    )
    assert dict(lake.read_table(spark, bronze).dtypes)["lead_time"] == "double"
    assert dict(lake.read_table(spark, bronze).dtypes)["price"] == "double"


def test_json_source_with_bad_value_and_malformed_line(spark, tmp_path, workspace):
    bronze, rejects = _tables(workspace)
    lines = [json.dumps({"id": i, "name": f"n{i}", "tags": {"k": i}}) for i in range(8)]
    lines += ['{"id": "oops", "name": "x"}', "not json at all"]
    # Inference would make 'id' a string column (it holds "oops"); the declared type rejects that row.
    source = SourceConfig(path=_write(tmp_path, "events.jsonl", "\n".join(lines) + "\n"), schema={"id": "bigint"})

    result = ingest(spark, source, bronze, rejects, max_rejected_fraction=0.2)

    assert (result.accepted_rows, result.rejected_rows) == (8, 2)
    df = lake.read_table(spark, bronze)
    assert dict(df.dtypes)["tags"] == "struct<k:bigint>"
    reasons = {r["_raw"]: r["_reason"] for r in lake.read_table(spark, rejects).collect()}
    assert reasons["not json at all"].startswith("malformed record")
    assert any(reason == "column 'id': 'oops' is not a valid bigint" for reason in reasons.values())


def test_parquet_source_with_explicit_schema_checks_casts(spark, tmp_path, workspace):
    bronze, rejects = _tables(workspace)
    path = str(tmp_path / "in.parquet")
    spark.createDataFrame([("1", 1.5), ("2", 2.5), ("x", 3.5)], "code string, v double").write.parquet(path)
    assert resolve_format(SourceConfig(path=path)) == "parquet"

    result = ingest(spark, SourceConfig(path=path, schema={"code": "int"}), bronze, rejects, max_rejected_fraction=0.5)

    assert (result.accepted_rows, result.rejected_rows) == (2, 1)
    assert sorted(tuple(r) for r in lake.read_table(spark, bronze).collect()) == [(1, 1.5), (2, 2.5)]
    rejected = lake.read_table(spark, rejects).first()
    assert rejected["_reason"] == "column 'code': 'x' is not a valid int"
    assert json.loads(rejected["_raw"]) == {"code": "x", "v": 3.5}


def test_delta_source_is_detected_from_its_log(spark, tmp_path, workspace):
    bronze, rejects = _tables(workspace)
    path = str(tmp_path / "upstream")
    lake.write_table(spark.createDataFrame([(1, "a"), (2, "b")], "id long, v string"), path)
    assert resolve_format(SourceConfig(path=path)) == "delta"

    result = ingest(spark, SourceConfig(path=path), bronze, rejects)

    assert (result.input_rows, result.accepted_rows) == (2, 2)
    assert sorted(r.id for r in lake.read_table(spark, bronze).collect()) == [1, 2]


def test_column_names_delta_cannot_store_are_renamed(spark, tmp_path, workspace):
    bronze, rejects = _tables(workspace)
    ingest(spark, SourceConfig(path=_write(tmp_path, "r.csv", "room type,price (eur)\nA,1.0\n")), bronze, rejects)
    assert lake.read_table(spark, bronze).columns == ["room_type", "price__eur_"]
