"""Plots render to valid, non-trivial PNG files without pyplot."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from matplotlib.image import imread

from sparkwright.errors import DataError
from sparkwright.plots import feature_importance, predicted_vs_actual, residuals


@pytest.fixture
def sample():
    rng = np.random.default_rng(0)
    actual = rng.gamma(4.0, 25.0, 2000)
    return actual, actual * 0.9 + rng.normal(0, 12, 2000) + 10


def _saved(fig, path):
    fig.savefig(path)
    image = imread(path)
    assert path.stat().st_size > 15_000
    return image.shape


def test_predicted_vs_actual(sample, tmp_path):
    assert _saved(predicted_vs_actual(*sample, "random_forest: test set"), tmp_path / "pva.png") == (600, 600, 4)


def test_residuals(sample, tmp_path):
    assert _saved(residuals(*sample, "random_forest: residuals"), tmp_path / "res.png") == (450, 1100, 4)


def test_feature_importance_shows_the_top_columns(tmp_path):
    importances = {f"column_{i}": 1.0 / (i + 1) for i in range(30)}
    fig = feature_importance(importances, "random_forest: importance", top=10)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[-1] == "column_0"
    assert len(labels) == 10
    height, width, _ = _saved(fig, tmp_path / "imp.png")
    assert width == 700
    assert height > 300


def test_plots_do_not_use_pyplot(sample):
    predicted_vs_actual(*sample, "t")
    assert "matplotlib.pyplot" not in sys.modules or not sys.modules["matplotlib.pyplot"].get_fignums()


def test_bad_inputs_are_data_errors():
    with pytest.raises(DataError, match="no rows"):
        predicted_vs_actual([], [], "t")
    with pytest.raises(DataError, match="3 actual values but 2 predictions"):
        residuals([1, 2, 3], [1, 2], "t")
    with pytest.raises(DataError, match="no feature importances"):
        feature_importance({}, "t")
