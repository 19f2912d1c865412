"""Delta helpers: versions, time travel, restore and the schema guard on overwrite."""

from __future__ import annotations

import pytest

from sparkwright.data import lake
from sparkwright.errors import DataError


def test_write_read_and_time_travel(spark, tmp_path):
    path = str(tmp_path / "t")
    assert not lake.table_exists(spark, path)

    assert lake.write_table(spark.createDataFrame([(1, "a"), (2, "b"), (3, "c")], "id long, v string"), path) == 0
    assert lake.write_table(spark.createDataFrame([(4, "d")], "id long, v string"), path) == 1

    assert lake.table_exists(spark, path)
    assert lake.table_version(spark, path) == 1
    assert [r.id for r in lake.read_table(spark, path).collect()] == [4]
    assert sorted(r.id for r in lake.read_table(spark, path, version=0).collect()) == [1, 2, 3]
    history = lake.table_history(spark, path)
    assert [h["version"] for h in history] == [1, 0]
    assert history[0]["operation"] == "WRITE"

    assert lake.write_table(spark.createDataFrame([(5, "e")], "id long, v string"), path, mode="append") == 2
    assert sorted(r.id for r in lake.read_table(spark, path).collect()) == [4, 5]

    assert lake.restore_table(spark, path, 0) == 3
    assert sorted(r.id for r in lake.read_table(spark, path).collect()) == [1, 2, 3]


def test_overwrite_with_other_schema_lists_differences_and_keeps_table(spark, tmp_path):
    path = str(tmp_path / "t")
    lake.write_table(spark.createDataFrame([(1, 2, "a")], "id long, n long, gone string"), path)
    changed = spark.createDataFrame([(1, "x", 1.0)], "id long, n string, extra double")

    with pytest.raises(
        DataError, match=r"added columns: extra; missing columns: gone; changed types: n bigint -> string"
    ):
        lake.write_table(changed, path)
    assert lake.table_version(spark, path) == 0

    assert lake.write_table(changed, path, allow_schema_change=True) == 1
    assert lake.read_table(spark, path).columns == ["id", "n", "extra"]


def test_missing_table_and_version_errors_name_the_path(spark, tmp_path):
    path = str(tmp_path / "nothing")
    with pytest.raises(DataError, match=r"no Delta table at '.*nothing'"):
        lake.read_table(spark, path)
    with pytest.raises(DataError, match="no Delta table"):
        lake.table_version(spark, path)

    lake.write_table(spark.createDataFrame([(1,)], "id long"), path)
    with pytest.raises(DataError, match=r"has versions 0\.\.0; version 5 does not exist"):
        lake.read_table(spark, path, version=5)
