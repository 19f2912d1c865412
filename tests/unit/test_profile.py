"""The profile is computed in Spark with few jobs, matches pandas/numpy, and renders as one offline HTML page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sparkwright.errors import DataError
from sparkwright.explore import Profile, profile_table, render_report, write_report

ROWS = 600


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    x = rng.normal(10.0, 2.0, ROWS)
    noisy = rng.uniform(0.0, 1.0, ROWS)
    noisy[::10] = np.nan  # NaN counts as missing, like null
    pdf = pd.DataFrame(
        {
            "x": x,
            "noisy": noisy,
            "count": rng.integers(0, 5, ROWS).astype("int64"),
            "constant": np.ones(ROWS),
            "color": rng.choice(["red", "green", "blue", "teal"], ROWS, p=[0.5, 0.3, 0.15, 0.05]),
            "y": 3.0 * x + rng.normal(0.0, 1.0, ROWS),
        }
    )
    pdf.loc[::20, "color"] = None
    return pdf


@pytest.fixture(scope="module")
def profiled(spark, frame) -> Profile:
    return profile_table(spark.createDataFrame(frame), label="y", bins=8, top_values=3)


def test_numeric_statistics_match_pandas(profiled, frame):
    assert profiled.rows == ROWS
    for name in ("x", "noisy", "count", "y"):
        column, expected = profiled.column(name), frame[name]
        assert column.kind == "numeric"
        assert column.missing == expected.isna().sum()
        assert column.count == expected.notna().sum()
        assert column.min == pytest.approx(expected.min())
        assert column.max == pytest.approx(expected.max())
        assert column.mean == pytest.approx(expected.mean())
        assert column.std == pytest.approx(expected.std())
        # percentile_approx returns a value of the column close in rank to the exact quantile
        assert column.quantiles["50%"] == pytest.approx(expected.quantile(0.5), abs=0.02 * expected.std())
    assert profiled.column("noisy").missing == 60
    assert profiled.column("count").distinct == 5


def test_histograms_equal_numpy(profiled, frame):
    for name in ("x", "noisy", "y"):
        values = frame[name].dropna().to_numpy()
        counts, edges = np.histogram(values, bins=8)
        histogram = profiled.column(name).histogram
        assert histogram.counts == counts.tolist()
        assert histogram.edges == pytest.approx(edges.tolist())
    constant = profiled.column("constant").histogram
    assert constant.counts == [ROWS] and constant.edges == [0.5, 1.5]


def test_top_values_of_categorical_columns(profiled, frame):
    color = profiled.column("color")
    assert color.kind == "categorical"
    assert color.missing == frame["color"].isna().sum()
    assert color.top_values == list(frame["color"].value_counts().head(3).items())
    assert color.histogram is None


def test_correlations_match_pandas_and_rank_label_features(profiled, frame):
    corr = profiled.correlation
    assert corr.columns[0] == "y"
    assert "constant" not in corr.columns  # a constant column has no correlation (and must not fail ANSI mode)
    expected = frame[corr.columns].corr()
    for a in corr.columns:
        for b in corr.columns:
            assert corr.get(a, b) == pytest.approx(expected.loc[a, b], abs=1e-9)
    assert profiled.label_correlations[0][0] == "x"
    assert profiled.label_correlations[0][1] > 0.95
    assert sorted(profiled.sample) == sorted(["y", *[c for c, _ in profiled.label_correlations[:4]]])
    assert len(profiled.sample["y"]) == ROWS  # smaller than the sample bound: every row


def test_sample_is_bounded(spark):
    from pyspark.sql import functions as F

    df = spark.range(50_000).select(F.col("id").cast("double").alias("a"), (F.col("id") * 2.0).alias("b"))
    found = profile_table(df, label="b", sample_rows=500)
    assert 0 < len(found.sample["b"]) <= 500
    assert found.sample["b"] == [2 * a for a in found.sample["a"]]


def test_profile_is_json_serialisable(profiled):
    data = json.loads(json.dumps(profiled.to_dict(), allow_nan=False))
    assert data["rows"] == ROWS
    assert data["label"] == "y"
    assert {c["name"] for c in data["columns"]} == {"x", "noisy", "count", "constant", "color", "y"}


def test_profile_runs_few_spark_jobs_whatever_the_width(spark, frame):
    """Statistics, correlations, distributions and the sample take one scan each, however wide the table.

    Adaptive query execution runs each shuffle stage as a job of its own, hence more jobs than scans.
    """
    narrow = spark.createDataFrame(frame)
    wide = narrow.select("*", *[(narrow["x"] * i).alias(f"x{i}") for i in range(20)])

    def jobs(df) -> int:
        context = spark.sparkContext
        group = f"profile-{len(df.columns)}"
        context.setJobGroup(group, "counting jobs")
        try:
            profile_table(df, label="y")
        finally:
            context.setLocalProperty("spark.jobGroup.id", None)
        return len(context.statusTracker().getJobIdsForGroup(group))

    narrow_jobs = jobs(narrow)
    assert narrow_jobs <= 8
    assert jobs(wide) == narrow_jobs


def test_invalid_arguments_are_data_errors(spark, frame):
    df = spark.createDataFrame(frame)
    with pytest.raises(DataError, match="label 'price' is not a column"):
        profile_table(df, label="price")
    with pytest.raises(DataError, match="bins must be an integer >= 1, got 0"):
        profile_table(df, bins=0)
    with pytest.raises(DataError, match="the profile has no column 'z'"):
        profile_table(df.select("x")).column("z")


def test_empty_table(spark, frame):
    found = profile_table(spark.createDataFrame(frame).limit(0), label="y")
    assert found.rows == 0
    assert found.column("x").count == 0 and found.column("x").histogram is None
    assert "0 rows" in render_report(found)


def test_report_is_one_offline_html_page(profiled, tmp_path: Path):
    text = render_report(profiled, "Synthetic <table>")
    assert text.startswith("<!DOCTYPE html>")
    assert "Synthetic &lt;table&gt;" in text  # names are escaped
    for section in ("overview", "columns", "label", "correlations", "details"):
        assert f'id="{section}"' in text
    # Offline: no external URL loads anything (stylesheets, scripts, images).
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
    images = re.findall(r'<img [^>]*src="data:image/png;base64,', text)
    # the label's distribution, its correlations, the scatters and the heatmap (column cards draw in CSS)
    assert len(images) == 4
    assert "<code>constant</code> is constant" in text
    path = write_report(text, tmp_path / "reports" / "profile.html")
    assert path == tmp_path / "reports" / "profile.html"
    assert path.read_text(encoding="utf-8") == text


def test_column_cards_draw_every_bin_and_top_value_with_its_rows(profiled, frame):
    text = render_report(profiled)

    def card(name: str) -> str:
        figure = rf'<figure class="dist [a-z]+" role="img" aria-label="distribution of {name}">(.*?)</figure>'
        return re.search(figure, text).group(1)

    bins = re.findall(r'title="\[([^,]+), ([^)]+)\): ([\d,]+) rows"', card("x"))
    assert len(bins) == 8
    assert [int(n.replace(",", "")) for *_, n in bins] == profiled.column("x").histogram.counts
    assert sum(int(n.replace(",", "")) for *_, n in bins) == frame["x"].notna().sum()
    assert 'class="mark mean"' in card("x") and 'class="mark median"' in card("x")

    tops = re.findall(r'<div title="([^"]+): ([\d,]+) rows">', card("color"))
    expected = frame["color"].value_counts().head(3)
    assert [(v, int(n.replace(",", ""))) for v, n in tops] == list(zip(expected.index, expected.tolist(), strict=True))
    widths = [float(w) for w in re.findall(r'<span class="track"><span style="width:([\d.]+)%">', card("color"))]
    assert widths[0] == 100.0 and widths == sorted(widths, reverse=True)


# ---------------------------------------------------------------------------------------- Anscombe's quartet


def anscombe_series(spark):
    """Spark DataFrames of Anscombe's four series, keyed I..IV."""
    local_data = pytest.importorskip("vega_datasets").local_data
    quartet = spark.createDataFrame(local_data.anscombe())
    return {name: quartet.where(quartet["Series"] == name).drop("Series") for name in ("I", "II", "III", "IV")}


def test_anscombe_statistics_agree_while_histograms_differ(spark):
    profiles = {name: profile_table(df, label="Y", bins=5) for name, df in anscombe_series(spark).items()}
    first = profiles["I"]
    for found in profiles.values():
        for column in ("X", "Y"):
            for stat in ("mean", "std"):
                assert getattr(found.column(column), stat) == pytest.approx(
                    getattr(first.column(column), stat), abs=0.01
                )
        assert found.correlation.get("X", "Y") == pytest.approx(first.correlation.get("X", "Y"), abs=0.01)
    assert first.column("X").mean == pytest.approx(9.0)
    assert first.column("Y").mean == pytest.approx(7.5, abs=0.01)
    assert first.correlation.get("X", "Y") == pytest.approx(0.816, abs=0.001)
    shapes = {tuple(found.column("Y").histogram.counts) for found in profiles.values()}
    assert len(shapes) == 4
    assert len({tuple(found.column("X").histogram.counts) for found in profiles.values()}) > 1


# ----------------------------------------------------------------------------------------------------- CLI


def write_project(tmp_path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(tmp_path / "table.csv", index=False)
    project = {
        "name": "synthetic",
        "task": "regression",
        "data": {"source": {"path": "table.csv"}, "label": "y"},
        "explore": {"bins": 6, "top_values": 2},
        "models": [{"type": "linear_regression"}],
        "workspace": str(tmp_path / "ws"),
    }
    path = tmp_path / "project.yaml"
    path.write_text(yaml.safe_dump(project))
    return path


def test_cli_profile_writes_the_report(spark, frame, tmp_path: Path):
    from typer.testing import CliRunner

    from sparkwright.cli import app

    project_file = write_project(tmp_path, frame)
    result = CliRunner().invoke(app, ["profile", str(project_file)])
    assert result.exit_code == 0, result.output
    report = tmp_path / "ws" / "reports" / "synthetic" / "profile.html"
    assert str(report) in "".join(result.output.split())  # Rich wraps long paths
    text = report.read_text(encoding="utf-8")
    assert "synthetic: source" in text and f"{ROWS:,} rows" in text

    custom = tmp_path / "elsewhere" / "p.html"
    result = CliRunner().invoke(app, ["profile", str(project_file), "--output", str(custom)])
    assert result.exit_code == 0, result.output
    assert custom.exists()


def test_cli_profile_of_a_missing_table_is_a_data_error(spark, frame, tmp_path: Path):
    from typer.testing import CliRunner

    from sparkwright.cli import app

    project_file = write_project(tmp_path, frame)
    result = CliRunner().invoke(app, ["profile", str(project_file), "--table", "silver"])
    assert result.exit_code == 3
    assert "there is no silver table" in result.output
