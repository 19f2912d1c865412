"""The Spark Connect feature list: the check at the start of a run, and the table in docs/scale-out.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sparkwright.config import parse_project
from sparkwright.errors import ConfigError
from sparkwright.pipeline.connect_support import FEATURES, check_connect_support

DOC = Path(__file__).parents[2] / "docs" / "scale-out.md"


def _project(**changes):
    raw = {
        "name": "p",
        "task": "regression",
        "data": {"source": {"path": "data.csv", "format": "csv"}, "label": "y"},
        "models": [{"type": "linear_regression"}],
    }
    return parse_project({**raw, **changes})


def test_the_docs_table_lists_every_feature_as_the_code_does():
    table = DOC.read_text().split("<!-- features-table -->")[1].split("<!-- /features-table -->")[0]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table.strip().splitlines()[2:]]

    assert rows == [[f.name, "yes", f.cluster, f.connect] for f in FEATURES]


def test_a_project_of_connect_features_passes():
    check_connect_support(_project())


@pytest.mark.parametrize(
    ("changes", "where", "feature"),
    [
        ({"models": [{"type": "linear_regression"}, {"type": "xgboost"}]}, "models[1].type", "xgboost"),
        (
            {
                "tune": {
                    "method": "hyperopt",
                    "trials": "spark",
                    "space": {"linear_regression": {"regParam": {"uniform": [0, 1]}}},
                }
            },
            "tune.trials",
            "SparkTrials",
        ),
    ],
)
def test_a_classic_only_feature_is_named_with_its_alternative(changes, where, feature):
    with pytest.raises(ConfigError, match=rf"^{re.escape(where)}: .*{feature}.*--master local\[\*\]"):
        check_connect_support(_project(**changes))
