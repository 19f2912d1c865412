"""The run's pictures (leaderboard, tuning history, parallel coordinates) and its HTML summary, from plain data."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest
from matplotlib.image import imread

from sparkwright.errors import DataError
from sparkwright.pipeline.summary import RunSummary, render_summary
from sparkwright.plots import leaderboard, parallel_coordinates, tuning_history

LOSSES = [3.0, None, 2.5, 2.8, 1.9, 2.2]
TRIALS = [
    {"params": {"maxDepth": 3, "impurity": "variance", "stepSize": 0.1}, "score": 2.0},
    {"params": {"maxDepth": 8, "impurity": "gini", "stepSize": 0.3}, "score": 1.5},
    {"params": {"maxDepth": 5, "impurity": "variance", "stepSize": 0.05}, "score": 1.8},
    {"params": {"maxDepth": 12, "impurity": "entropy", "stepSize": 0.2}, "score": None},
]


def _pixels(fig, path):
    fig.savefig(path)
    return imread(path)


def test_leaderboard_marks_the_baseline_and_the_better_direction(tmp_path):
    fig = leaderboard(["random_forest", "linear", "baseline"], [10.0, 12.5, 20.0], "rmse", False, "baseline")
    ax = fig.axes[0]
    assert "lower is better" in ax.get_xlabel()
    # The best model is drawn at the top, the baseline at the bottom as a grey bar and a dashed line at its score.
    heights = {t.get_text(): y for t, y in zip(ax.get_yticklabels(), ax.get_yticks(), strict=True)}
    assert sorted(heights, key=heights.get) == ["baseline", "linear", "random_forest"]
    assert [line.get_xdata()[0] for line in ax.get_lines()] == [20.0]
    image = _pixels(fig, tmp_path / "leaderboard.png")
    assert image.shape[1] == 800 and image.std() > 0.05

    higher = leaderboard(["gbt", "baseline"], [0.91, 0.5], "roc_auc", True, "baseline")
    assert "higher is better" in higher.axes[0].get_xlabel()


def test_leaderboard_refuses_unpaired_scores():
    with pytest.raises(DataError, match="one score per model, got 2 models and 1 scores"):
        leaderboard(["a", "b"], [1.0], "rmse", False, "a")


def test_tuning_history_draws_the_best_so_far_and_the_failed_trials(tmp_path):
    fig = tuning_history(LOSSES, "rmse", "Tuning gbt")
    ax = fig.axes[0]
    best = next(line for line in ax.get_lines() if line.get_label() == "best so far")
    assert list(best.get_ydata()) == [3.0, 3.0, 2.5, 2.5, 1.9, 1.9]
    assert "6 trials, best 1.9" in ax.get_title()
    assert {c.get_label() for c in ax.collections} == {"trial", "failed"}
    assert _pixels(fig, tmp_path / "history.png").shape == (450, 800, 4)

    higher = tuning_history([0.7, 0.9, 0.8], "roc_auc", "Tuning lr", higher_is_better=True)
    best = next(line for line in higher.axes[0].get_lines() if line.get_label() == "best so far")
    assert list(best.get_ydata()) == [0.7, 0.9, 0.9]


def test_tuning_history_needs_a_successful_trial():
    with pytest.raises(DataError, match="Tuning gbt: no successful trial to plot"):
        tuning_history([None, None], "rmse", "Tuning gbt")


def test_parallel_coordinates_has_an_axis_per_param_and_a_line_per_successful_trial(tmp_path):
    fig = parallel_coordinates(TRIALS, "rmse", "Tuning gbt")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["maxDepth", "impurity", "stepSize"]
    trial_lines = [line for line in ax.get_lines() if len(line.get_xdata()) == 3]
    assert len(trial_lines) == 3  # the failed trial is left out
    # Each param is scaled to its range; the categorical one sits at ordinal positions labelled by value.
    for line in trial_lines:
        assert np.all((line.get_ydata() >= 0) & (line.get_ydata() <= 1))
    labels = {t.get_text() for t in ax.texts}
    assert {"variance", "gini", "3", "8", "0.05", "0.3"} <= labels
    assert len(fig.axes) == 2  # the colour bar of the score
    assert "lower is better" in fig.axes[1].get_ylabel()
    assert _pixels(fig, tmp_path / "parallel.png").std() > 0.05


def test_parallel_coordinates_needs_params():
    with pytest.raises(DataError, match="need successful trials with params; got 0 trials"):
        parallel_coordinates([{"params": {"a": 1}, "score": None}], "rmse", "Tuning")


def _summary(**changes) -> RunSummary:
    board = [
        {"rank": 1, "model": "gbt", "type": "gbt", "rmse": 10.0, "mae": 7.0, "r2": 0.8, "vs_baseline": 0.5,
         "fit_seconds": 3.2, "run_id": "r1"},
        {"rank": 2, "model": "baseline", "type": "baseline", "rmse": 20.0, "mae": 15.0, "r2": 0.0,
         "vs_baseline": 0.0, "fit_seconds": 0.1, "run_id": "r0"},
    ]  # fmt: skip
    values = {
        "project": "hotel <rates>",
        "task": "regression",
        "metric": "rmse",
        "higher_is_better": False,
        "run_id": "abc123",
        "data": {"input rows": 2000, "after cleansing": 1990, "train rows": 1592, "test rows": 398},
        "tables": {"bronze": ("/ws/lake/p/bronze", 0), "silver": ("/ws/lake/p/silver", 3)},
        "leaderboard": board,
        "registered": "models:/hotel-rates/2",
        "aliases": ["challenger", "champion"],
        "figures": {
            "Leaderboard": leaderboard(["gbt", "baseline"], [10.0, 20.0], "rmse", False, "baseline"),
            "Tuning gbt": tuning_history(LOSSES, "rmse", "Tuning gbt"),
        },
    }
    return RunSummary(**{**values, **changes})


def test_summary_is_one_self_contained_page_with_the_run_facts():
    page = render_summary(_summary())
    assert "hotel &lt;rates&gt;: run summary" in page  # escaped
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing loaded from elsewhere
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", page.split('id="leaderboard-table"')[1].split("</table>")[0])
    assert len(rows) == 3  # the header and two models
    assert "<td>gbt</td>" in rows[1] and "+50.0%" in rows[1]
    assert '<tr class="baseline">' in page and "—" in rows[2]
    assert "lower is better" in page
    assert "<code>/ws/lake/p/silver</code></td><td class='num'>3</td>" in page
    assert "1,990" in page
    assert "<code>models:/hotel-rates/2</code>, aliases: <code>challenger</code>, <code>champion</code>" in page
    images = re.findall(r'<img class="plot" alt="([^"]+)" src="data:image/png;base64,([^"]+)"', page)
    assert [alt for alt, _ in images] == ["Leaderboard", "Tuning gbt"]
    for _, data in images:
        assert base64.b64decode(data).startswith(b"\x89PNG")
    assert "data-images-ok" in page  # the load script a browser test reads


def test_summary_without_a_registered_model_or_plots_says_so():
    page = render_summary(_summary(registered=None, aliases=[], figures={}))
    assert "Nothing was registered" in page
    assert "No plots." in page
    assert "<img" not in page
