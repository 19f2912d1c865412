"""The TABLE arguments of predict and stream: a path, or <project>/<table> in the workspace's lake."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sparkwright.cli import app
from sparkwright.cli.tables import existing_input, output_table
from sparkwright.errors import DataError


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def lake_with_bronze(spark, workspace) -> Path:
    """A workspace whose lake holds one real Delta table, p/bronze."""
    path = workspace.table_path("p", "bronze")
    spark.range(3).write.format("delta").save(path)
    return Path(path)


def test_a_workspace_table_name_resolves_to_its_path_and_files_stay_paths(workspace, lake_with_bronze, tmp_path):
    assert existing_input("p/bronze", workspace.root) == str(lake_with_bronze.resolve())
    landing = tmp_path / "landing"
    landing.mkdir()
    assert existing_input(str(landing), workspace.root) == str(landing)
    assert output_table("p/scored", workspace) == workspace.table_path("p", "scored")
    assert output_table("./scored", workspace) == "./scored"


@pytest.mark.parametrize("command", ["predict", "stream"])
def test_a_missing_input_exits_3_naming_the_tables_there_are(command, workspace, lake_with_bronze):
    code, out = _cli(
        command, "--model", "models:/m@champion", "--input", "p/silver", "--output", "p/scored",
        "-w", str(workspace.root),
    )  # fmt: skip
    assert code == 3, out
    assert "no file or folder 'p/silver', and no Delta table 'p/silver'" in out
    assert "Tables in" in out and "p/bronze" in out
    assert not Path(workspace.table_path("p", "scored")).exists()


def test_an_empty_workspace_says_it_has_no_tables(workspace):
    with pytest.raises(DataError, match=r"has no tables yet"):
        existing_input("p/silver", workspace.root)
