"""The model families of the budgeted search: which type each one trains, its space and its cheap start.

A family has a *driver* form, trained on the driver's NumPy arrays in worker processes while the data fits
there, and a *cluster* form, trained by Spark when it does not (or for families Spark trains fast anyway,
such as the linear models). Boosted families run with early stopping: ``n_estimators`` is a ceiling and
each fit keeps its best iteration, so the search tunes the shape of the trees, not their number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sparkwright.config.schema import SEARCH_FAMILIES

_BOOSTED_CEILING = 2000
_EARLY_STOP = {"early_stopping_rounds": 50, "validation_fraction": 0.1}


@dataclass(frozen=True)
class FamilyForm:
    """How a family trains in one setting: a registered model type per task, fixed params, start and space.

    Attributes:
        types: Task -> registered model type.
        fixed: Task -> params every trial and the refit use (ceilings, early stopping, the estimator path).
        start: Task -> the low-cost first point (FLAML's "low-cost partial config").
        space: Task -> the searched params, in the project file's space syntax.
        local: True: fitted on NumPy arrays in worker processes (the type implements ``fit_local``).
    """

    types: Mapping[str, str]
    fixed: Mapping[str, Mapping[str, Any]]
    start: Mapping[str, Mapping[str, Any]]
    space: Mapping[str, Mapping[str, Any]]
    local: bool


@dataclass(frozen=True)
class Family:
    name: str
    driver: FamilyForm | None = None
    cluster: FamilyForm | None = None
    # Searched by default only when the data is too large for the driver (slow on small data).
    large_data_only: bool = False
    # Searched by default on the driver only up to this many training rows (None: while the data fits there).
    default_max_rows: int | None = None
    notes: str = field(default="", compare=False)

    def form(self, fits_driver: bool) -> FamilyForm | None:
        """The form to search: the driver's when the data fits there and one exists, else the cluster's."""
        if fits_driver and self.driver is not None:
            return self.driver
        return self.cluster


def _both(value: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {"regression": value, "classification": value}


_FOREST_SPACE = {
    "n_estimators": {"quniform": [50, 300, 25]},
    "max_features": {"uniform": [0.1, 1.0]},
    "min_samples_leaf": {"qloguniform": [1, 32, 1]},
}
_FOREST_START = {"n_estimators": 50, "max_features": 0.5, "min_samples_leaf": 1}
# scikit-learn's forests grow every tree to full depth: at 800K rows one start trial took minutes on one core and
# the refitted forest (gigabytes) crashed the Spark Python worker that scored it. Boosted trees win there anyway.
_FOREST_DEFAULT_MAX_ROWS = 200_000


def _sklearn_forest(kind: str) -> FamilyForm:
    return FamilyForm(
        types=_both_types("sklearn"),
        fixed={
            "regression": {"estimator": f"sklearn.ensemble.{kind}Regressor", "n_jobs": 1},
            "classification": {"estimator": f"sklearn.ensemble.{kind}Classifier", "n_jobs": 1},
        },
        start=_both(_FOREST_START),
        space=_both(_FOREST_SPACE),
        local=True,
    )


def _both_types(name: str) -> dict[str, str]:
    return {"regression": name, "classification": name}


FAMILIES: dict[str, Family] = {
    "lightgbm": Family(
        "lightgbm",
        driver=FamilyForm(
            types=_both_types("lightgbm"),
            fixed=_both({"n_estimators": _BOOSTED_CEILING, "subsample_freq": 1, **_EARLY_STOP}),
            start=_both(
                {
                    "learning_rate": 0.1,
                    "num_leaves": 15,
                    "min_child_samples": 20,
                    "subsample": 1.0,
                    "colsample_bytree": 1.0,
                }
            ),
            space=_both(
                {
                    "learning_rate": {"loguniform": [0.01, 0.2]},
                    "num_leaves": {"qloguniform": [4, 256, 1]},
                    "min_child_samples": {"qloguniform": [2, 100, 1]},
                    "subsample": {"uniform": [0.5, 1.0]},
                    "colsample_bytree": {"uniform": [0.3, 1.0]},
                    "reg_lambda": {"loguniform": [0.001, 30]},
                }
            ),
            local=True,
        ),
        notes="trains on the driver only; past the driver limit use xgboost or gbt",
    ),
    "xgboost": Family(
        "xgboost",
        driver=FamilyForm(
            types=_both_types("xgboost"),
            fixed=_both({"n_estimators": _BOOSTED_CEILING, **_EARLY_STOP}),
            start=_both({"max_depth": 4, "learning_rate": 0.1, "min_child_weight": 1.0, "colsample_bytree": 1.0}),
            space=_both(
                {
                    "max_depth": {"quniform": [2, 10, 1]},
                    "learning_rate": {"loguniform": [0.01, 0.2]},
                    "min_child_weight": {"loguniform": [0.5, 30]},
                    "subsample": {"uniform": [0.5, 1.0]},
                    "colsample_bytree": {"uniform": [0.3, 1.0]},
                    "reg_lambda": {"loguniform": [0.01, 30]},
                }
            ),
            local=True,
        ),
        cluster=FamilyForm(
            types=_both_types("xgboost"),
            fixed=_both({"n_estimators": 200, "training": "distributed"}),
            start=_both({"max_depth": 4, "learning_rate": 0.1}),
            space=_both({"max_depth": {"quniform": [3, 10, 1]}, "learning_rate": {"loguniform": [0.03, 0.3]}}),
            local=False,
        ),
    ),
    "random_forest": Family(
        "random_forest",
        driver=_sklearn_forest("RandomForest"),
        default_max_rows=_FOREST_DEFAULT_MAX_ROWS,
        cluster=FamilyForm(
            types=_both_types("random_forest"),
            fixed=_both({}),
            start=_both({"numTrees": 20, "maxDepth": 6}),
            space=_both({"numTrees": {"quniform": [20, 120, 10]}, "maxDepth": {"quniform": [4, 12, 1]}}),
            local=False,
        ),
    ),
    "extra_trees": Family(
        "extra_trees", driver=_sklearn_forest("ExtraTrees"), default_max_rows=_FOREST_DEFAULT_MAX_ROWS
    ),
    "linear": Family(
        "linear",
        driver=FamilyForm(
            types=_both_types("sklearn"),
            fixed={
                "regression": {"estimator": "sklearn.linear_model.Ridge", "standardize": True},
                "classification": {
                    "estimator": "sklearn.linear_model.LogisticRegression",
                    "standardize": True,
                    "max_iter": 1000,
                },
            },
            start={"regression": {"alpha": 1.0}, "classification": {"C": 1.0}},
            space={
                "regression": {"alpha": {"loguniform": [1e-3, 1e3]}},
                "classification": {"C": {"loguniform": [1e-3, 100]}},
            },
            local=True,
        ),
        cluster=FamilyForm(
            types={"regression": "linear_regression", "classification": "logistic_regression"},
            fixed=_both({}),
            start=_both({"regParam": 0.01, "elasticNetParam": 0.0}),
            space=_both({"regParam": {"loguniform": [1e-5, 1.0]}, "elasticNetParam": {"uniform": [0.0, 1.0]}}),
            local=False,
        ),
    ),
    "gbt": Family(
        "gbt",
        cluster=FamilyForm(
            types=_both_types("gbt"),
            fixed=_both({}),
            start=_both({"maxIter": 20, "maxDepth": 4, "stepSize": 0.1}),
            space=_both(
                {
                    "maxIter": {"quniform": [20, 100, 10]},
                    "maxDepth": {"quniform": [3, 8, 1]},
                    "stepSize": {"loguniform": [0.03, 0.3]},
                }
            ),
            local=False,
        ),
        large_data_only=True,
    ),
}
assert tuple(FAMILIES) == SEARCH_FAMILIES, "config.schema.SEARCH_FAMILIES lists the same families"


def default_families(fits_driver: bool, rows: int) -> list[str]:
    """The families searched when the project names none, for ``rows`` training rows that do or do not fit
    the driver. Listing a family in ``search.families`` searches it whatever the size."""
    if fits_driver:
        return [
            name
            for name, family in FAMILIES.items()
            if not family.large_data_only and (family.default_max_rows is None or rows <= family.default_max_rows)
        ]
    return [name for name, family in FAMILIES.items() if family.cluster is not None]
