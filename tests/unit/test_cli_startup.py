"""The CLI answers --help and validates files without importing the heavy stack or starting a JVM."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

PROBE = textwrap.dedent(
    """
    import sys
    from typer.testing import CliRunner
    from sparkwright.cli import app
    result = CliRunner().invoke(app, sys.argv[1:])
    print("EXIT", result.exit_code)
    print(result.output)
    print("MLFLOW", "mlflow" in sys.modules)
    print("PYSPARK_SQL", "pyspark.sql.session" in sys.modules)
    from pyspark.core.context import SparkContext
    print("JVM", SparkContext._jvm is not None)
    """
)


def cli_in_fresh_process(*args: str) -> str:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return " ".join(done.stdout.split())  # Rich wraps long lines


def test_help_imports_neither_spark_nor_mlflow():
    out = cli_in_fresh_process("--help")
    assert "EXIT 0" in out
    assert "run" in out and "validate" in out and "demo" in out and "ui" in out
    assert "MLFLOW False" in out
    assert "PYSPARK_SQL False" in out
    assert "JVM False" in out


def test_validate_checks_model_params_without_a_jvm(tmp_path: Path):
    project = {
        "name": "p",
        "task": "regression",
        "data": {"source": {"path": "x.csv"}, "label": "y"},
        "models": [{"type": "random_forest", "params": {"numTrees": 10}}],
    }
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(project))
    out = cli_in_fresh_process("validate", str(good))
    assert "EXIT 0" in out and "is valid" in out
    assert "JVM False" in out

    project["models"][0]["params"] = {"maxDepht": 3}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(project))
    out = cli_in_fresh_process("validate", str(bad))
    assert "EXIT 2" in out
    assert "models[0].params.maxDepht" in out and "Did you mean 'maxDepth'?" in out
    assert "JVM False" in out


def test_import_layers_hold():
    """DESIGN.md's layering, as import-linter contracts in pyproject.toml."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint_imports)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 1 kept, 0 broken." in done.stdout


def test_bad_conf_option_exits_2_with_an_example(tmp_path: Path):
    out = cli_in_fresh_process("run", str(tmp_path / "any.yaml"), "--conf", "spark.executor.memory")
    assert "EXIT 2" in out
    assert "--conf expects KEY=VALUE, got 'spark.executor.memory'" in out
    assert "JVM False" in out


def test_missing_project_file_exits_2(tmp_path: Path):
    out = cli_in_fresh_process("run", str(tmp_path / "nope.yaml"))
    assert "EXIT 2" in out and "nope.yaml' does not exist" in out
    assert "JVM False" in out


def test_max_evals_without_a_sampled_search_is_refused_before_spark_starts(tmp_path: Path):
    project = {
        "name": "p",
        "task": "regression",
        "data": {"source": {"path": "x.csv"}, "label": "y"},
        "models": [{"type": "random_forest"}],
    }
    untuned = tmp_path / "untuned.yaml"
    untuned.write_text(yaml.safe_dump(project))
    out = cli_in_fresh_process("run", str(untuned), "--max-evals", "3")
    assert "EXIT 2" in out and "--max-evals: the project has no tune: section" in out
    assert "JVM False" in out

    project["tune"] = {"method": "grid", "space": {"random_forest": {"maxDepth": [3, 5]}}}
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump(project))
    out = cli_in_fresh_process("run", str(grid), "--max-evals", "3")
    assert "EXIT 2" in out and "tunes by grid, which tries every combination" in out


def test_help_shows_bracketed_defaults_and_init_without_a_jvm():
    """Option help texts say "[default: ...]": Rich must print it, not read it as markup."""
    out = cli_in_fresh_process("init", "--help")
    assert "EXIT 0" in out and "--label" in out and "--force" in out
    assert "[default:" in out  # Rich markup would have swallowed the whole bracket
    assert "JVM False" in out and "PYSPARK_SQL False" in out
