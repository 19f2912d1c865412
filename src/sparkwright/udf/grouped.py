"""One single-node model per group (per city, per device), trained on the executors with ``applyInPandas``.

Each group's rows are fitted with a scikit-learn-style estimator given by import path and params, and
scored on the group's hold-out rows. A group that fails to fit is reported with its error and the others
go on; a group with too few rows is skipped. The results are logged to one MLflow run (per-group metrics as
``<metric>.<group>``, the table of groups as ``groups.json``) together with ONE routing model: an MLflow
pyfunc model that holds every group's model and sends each row to its group's model (see
:mod:`sparkwright.udf.routing`); it can be registered and scored like any model, in pandas or in Spark.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import pickle
import re
import tempfile
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkwright.errors import ConfigError, DataError, ModelError, TrackingError
from sparkwright.models.partitions import spread_groups
from sparkwright.tracking import pinned_requirement
from sparkwright.udf.routing import GroupKey, GroupRouter, group_key

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame

    from sparkwright.tracking import Tracker

log = logging.getLogger(__name__)

TEST_COL = "__sparkwright_test"
TRAINED, FAILED, SKIPPED = "trained", "failed", "skipped"
ROUTER_ARTIFACT = "router"
ROUTING_MODULE = "sparkwright_routing"
_RESULT_COLUMNS = ("status", "message", "rows", "train_rows", "test_rows", "metrics", "model", "seconds")
_RESULT_SCHEMA = (
    "status string, message string, rows long, train_rows long, test_rows long, "
    "metrics map<string, double>, model binary, seconds double"
)
_BUCKETS = 10_000
_METRIC_NAME = re.compile(r"[^0-9A-Za-z_\-. :/]")
# Spark SQL type -> MLflow column type of the routing model's signature (every integer is "long": pandas'
# int64 then passes MLflow's check).
_MLFLOW_TYPES = {
    "string": "string",
    "boolean": "boolean",
    "double": "double",
    "float": "double",
    "tinyint": "long",
    "smallint": "long",
    "int": "long",
    "bigint": "long",
}


@dataclass(frozen=True)
class EstimatorSpec:
    """A scikit-learn-style estimator by import path and constructor params.

    Inert until used: :meth:`validate` checks it on the driver, :meth:`build` makes a fresh estimator.

    Example:
        >>> EstimatorSpec("sklearn.ensemble.RandomForestRegressor", {"n_estimators": 50, "max_depth": 8})
    """

    estimator: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def build(self) -> Any:
        """A new, unfitted estimator."""
        module_name, _, name = self.estimator.rpartition(".")
        return getattr(importlib.import_module(module_name), name)(**dict(self.params))

    def validate(self) -> Any:
        """Import the class and check the params; returns an unfitted instance.

        Raises:
            ConfigError: Not an import path, no such class, not an estimator, or params it refuses.
        """
        where = "estimator"
        if not isinstance(self.estimator, str) or "." not in self.estimator:
            raise ConfigError(
                f"must be an import path such as 'sklearn.ensemble.RandomForestRegressor', got {self.estimator!r}.",
                where,
            )
        module_name, _, name = self.estimator.rpartition(".")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(f"cannot import {self.estimator!r}: {exc}.", where) from None
        if not hasattr(module, name):
            from sparkwright.config.checks import did_you_mean

            public = [n for n in dir(module) if not n.startswith("_")]
            raise ConfigError(
                f"cannot import {self.estimator!r}: {module_name} has no {name!r}." + did_you_mean(name, public), where
            )
        cls = getattr(module, name)
        if not isinstance(cls, type) or not callable(getattr(cls, "fit", None)):
            raise ConfigError(f"{self.estimator!r} is not an estimator class (a class with fit and predict).", where)
        try:
            instance = cls(**dict(self.params))
            if hasattr(instance, "_validate_params"):  # scikit-learn's own check, done at fit otherwise
                instance._validate_params()
        except Exception as exc:
            raise ConfigError(f"{exc}", "estimator.params") from exc
        return instance


@dataclass
class GroupTrainingResult:
    """What :func:`train_per_group` did.

    Attributes:
        groups: One row per group: the group columns, ``status`` (trained / failed / skipped), ``message``
            (the error of a failed group, why a group was skipped), ``rows``, ``train_rows``, ``test_rows``,
            ``seconds`` and one column per hold-out metric.
        models: The fitted model of each trained group, by key (a tuple, one value per group column).
        router: The routing model's runtime (what ``mlflow.pyfunc.load_model(model_uri)`` wraps).
        run_id: The MLflow run holding metrics, ``groups.json`` and the routing model.
        model_uri: ``runs:/<run_id>/model``.
        registered_version: The routing model's version in the registry, when it was registered.
        global_metrics: Hold-out metrics of the ``fallback="global"`` model, when there is one.
    """

    groups: pd.DataFrame
    models: dict[GroupKey, Any]
    router: GroupRouter
    run_id: str
    model_uri: str
    registered_version: str | None = None
    global_metrics: dict[str, float] | None = None

    def with_status(self, status: str) -> pd.DataFrame:
        return self.groups[self.groups["status"] == status].reset_index(drop=True)

    @property
    def failed(self) -> pd.DataFrame:
        return self.with_status(FAILED)

    @property
    def skipped(self) -> pd.DataFrame:
        return self.with_status(SKIPPED)

    @property
    def trained(self) -> pd.DataFrame:
        return self.with_status(TRAINED)


def train_per_group(
    df: DataFrame,
    group_cols: str | Sequence[str],
    label: str,
    features: Sequence[str],
    estimator: EstimatorSpec | str,
    *,
    params: Mapping[str, Any] | None = None,
    test_fraction: float = 0.2,
    test_col: str | None = None,
    min_rows: int = 20,
    seed: int = 42,
    fallback: Any = None,
    tracker: Tracker | None = None,
    experiment: str = "per-group",
    run_name: str | None = None,
    register_as: str | None = None,
    alias: str | None = None,
    per_group_runs: bool = False,
    threads_per_worker: int | None = 1,
) -> GroupTrainingResult:
    """Fit one model per group on the executors, log the results and one routing model to MLflow.

    Each group's rows (label not null or NaN) are sorted by features and label, so a group's model does not
    depend on the order Spark delivers them in; the hold-out rows (``test_col``, else a seeded hash of each
    row) are left out of the fit and give the group's metrics: RMSE, MAE and R² for a regressor, accuracy
    and macro F1 for a classifier.

    Example:
        >>> result = train_per_group(
        ...     housing, "city", "median", ["year", "month", "listings", "inventory"],
        ...     "sklearn.ensemble.HistGradientBoostingRegressor", params={"max_iter": 100},
        ...     fallback="global", register_as="txhousing-median",
        ... )
        >>> result.failed[["city", "message"]]

    Args:
        df: Training rows.
        group_cols: Column(s) whose values name a group.
        label: Column to predict.
        features: Columns each group's model takes (as a pandas DataFrame with these names).
        estimator: Import path of the estimator class (or an :class:`EstimatorSpec` with its params).
        params: Constructor params, with an import path.
        test_fraction: Share of each group held out when ``test_col`` is not given.
        test_col: Boolean column: true for hold-out rows (e.g. the last year of a time series).
        min_rows: Groups with fewer rows are skipped (reported, not fitted).
        seed: Seed of the hash split.
        fallback: What unseen groups (and groups that failed or were skipped) get at prediction time:
            None (a clear error), ``"global"`` (a model of the same spec fitted on every group's rows), or
            a fixed value.
        tracker: MLflow store. Default: the workspace's.
        experiment, run_name: Where the run goes.
        register_as: Register the routing model under this name (a new version).
        alias: Point this alias (e.g. ``champion``) at the new version.
        per_group_runs: Also log one nested run per group (its params and metrics); slower for many groups.
        threads_per_worker: OpenMP / BLAS threads per Python worker while fitting (Spark runs one per core).

    Returns:
        The groups' table, their models, the router, the run and the routing model's URI.

    Raises:
        ConfigError: The estimator spec is invalid.
        DataError: Columns missing, no rows, or a group column named like a result column.
        ModelError: No group trained, or the global fallback model failed.
    """
    spec = estimator if isinstance(estimator, EstimatorSpec) else EstimatorSpec(estimator, dict(params or {}))
    instance = spec.validate()
    task = _task_of(instance)
    groups = [group_cols] if isinstance(group_cols, str) else list(group_cols)
    features = list(features)
    _check_columns(df, groups, label, features, test_col)
    if min_rows < 1:
        raise ValueError(f"min_rows must be >= 1, got {min_rows}.")
    if test_col is None and not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}.")

    data = _training_rows(df, groups, label, features, test_col, test_fraction, seed)
    options = _FitOptions(spec, task, groups, label, features, min_rows, threads_per_worker)
    group_fields = [f"`{f.name}` {f.dataType.simpleString()}" for f in df.select(*groups).schema]
    schema = ", ".join([*group_fields, _RESULT_SCHEMA])
    started = time.perf_counter()
    rows = spread_groups(data, groups).groupBy(*groups).applyInPandas(_fit_function(options), schema).collect()
    if not rows:
        raise DataError(f"no rows to train on: every row of {label!r} is null or NaN, or the DataFrame is empty.")
    log.info("fitted %d groups in %.1fs", len(rows), time.perf_counter() - started)

    table, models, not_trained = _collect(rows, groups)
    if not models:
        raise ModelError(
            f"no group trained ({len(rows)} groups): "
            + "; ".join(f"{r[groups[0]]!r}: {r['message']}" for r in table.head(5).to_dict("records"))
        )

    fallback_kind, fallback_model, fallback_value, global_metrics = None, None, None, None
    if fallback == "global":
        fallback_kind = "global"
        fallback_model, global_metrics = _fit_global(data, options)
    elif fallback is not None:
        fallback_kind, fallback_value = "value", fallback
    router = GroupRouter(
        groups,
        features,
        models,
        fallback=fallback_kind,
        fallback_model=fallback_model,
        fallback_value=fallback_value,
        not_trained=not_trained,
    )

    tracker = tracker or _workspace_tracker()
    run_id, model_uri, registered = _log(
        tracker,
        router,
        table,
        spec=spec,
        task=task,
        label=label,
        label_type=dict(df.dtypes)[label],
        input_types=dict(df.dtypes),
        options={
            "experiment": experiment,
            "run_name": run_name or f"per-group {spec.estimator.rpartition('.')[2]}",
            "register_as": register_as,
            "alias": alias,
            "per_group_runs": per_group_runs,
            "test_fraction": None if test_col else test_fraction,
            "test_col": test_col,
            "seed": seed,
            "min_rows": min_rows,
            "fallback": fallback,
        },
        global_metrics=global_metrics,
    )
    return GroupTrainingResult(table, models, router, run_id, model_uri, registered, global_metrics)


def save_routing_model(router: GroupRouter, path: str | Path, *, signature: Any = None, extra_requirements=()) -> Path:
    """Write ``router`` as an MLflow pyfunc model folder at ``path`` (must not exist or be empty).

    The model is a "model from code" plus a copy of :mod:`sparkwright.udf.routing`: loading it needs MLflow,
    pandas and the group models' library, not sparkwright.

    Raises:
        TrackingError: MLflow could not write the model.
    """
    import shutil

    import mlflow.pyfunc

    from sparkwright.udf import routing

    target = Path(path)
    requirements = [
        pinned_requirement("mlflow"),
        pinned_requirement("numpy"),
        pinned_requirement("pandas"),
        pinned_requirement("scikit-learn"),
        *extra_requirements,
    ]
    with tempfile.TemporaryDirectory(prefix="sparkwright-router-") as folder:
        runtime_copy = Path(folder) / f"{ROUTING_MODULE}.py"
        shutil.copyfile(routing.__file__, runtime_copy)
        router_dir = router.save(Path(folder) / ROUTER_ARTIFACT)
        with warnings.catch_warnings():
            # Rows of the training data are on the executors; the signature states the inputs instead.
            warnings.filterwarnings("ignore", message=".*input example was not provided")
            try:
                mlflow.pyfunc.save_model(
                    str(target),
                    python_model=str(Path(__file__).with_name("_routing_pyfunc.py")),
                    artifacts={ROUTER_ARTIFACT: str(router_dir)},
                    code_paths=[str(runtime_copy)],
                    signature=signature,
                    pip_requirements=[r for r in dict.fromkeys(requirements) if r],
                    metadata={
                        "sparkwright_routing": {
                            "group_columns": router.group_columns,
                            "feature_columns": router.feature_columns,
                            "groups": len(router.models),
                            "fallback": router.fallback,
                        }
                    },
                )
            except Exception as exc:
                raise TrackingError(f"MLflow could not save the routing model to {target}: {exc}") from exc
    return target


def log_routing_model(tracker: Tracker, run_id: str, router: GroupRouter, *, signature: Any = None, **kwargs: Any):
    """Save ``router`` as a pyfunc model and upload it as ``model`` of run ``run_id``; returns a LoggedModel."""
    from sparkwright.tracking import LoggedModel, model_uri_of_run

    with tempfile.TemporaryDirectory(prefix="sparkwright-router-") as folder:
        local = save_routing_model(router, Path(folder) / "model", signature=signature, **kwargs)
        tracker.client.log_artifacts(run_id, str(local), "model")
    return LoggedModel(run_id=run_id, model_uri=model_uri_of_run(run_id, "model"))


# ---- executors ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _FitOptions:
    spec: EstimatorSpec
    task: str
    groups: list[str]
    label: str
    features: list[str]
    min_rows: int
    threads: int | None


def _fit_function(options: _FitOptions):
    def fit(key: tuple, frame: pd.DataFrame) -> pd.DataFrame:
        return _fit_group(key, frame, options)

    return fit


def _fit_group(key: tuple, frame: pd.DataFrame, options: _FitOptions) -> pd.DataFrame:
    """Fit one group (runs in a Python worker); never raises: a failure is a row with its message."""
    import pandas as pd

    from sparkwright.udf._worker import _limit_threads

    if options.threads:
        _limit_threads(options.threads)
    started = time.perf_counter()
    result: dict[str, Any] = dict(zip(options.groups, key, strict=True))
    result.update(status=SKIPPED, message=None, rows=len(frame), train_rows=0, test_rows=0, metrics={}, model=None)
    if len(frame) < options.min_rows:
        result["message"] = f"{len(frame)} rows, fewer than min_rows={options.min_rows}"
    else:
        try:
            model, metrics, train_rows, test_rows = _fit_group_frame(frame, options)
            result.update(
                status=TRAINED,
                train_rows=train_rows,
                test_rows=test_rows,
                metrics=metrics,
                model=pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL),
            )
        except Exception as exc:
            result.update(status=FAILED, message=f"{type(exc).__name__}: {exc}".strip())
    result["seconds"] = time.perf_counter() - started
    return pd.DataFrame([result], columns=[*options.groups, *_RESULT_COLUMNS])


def _fit_group_frame(frame: pd.DataFrame, options: _FitOptions) -> tuple[Any, dict[str, float], int, int]:
    """Sort, split, fit and score one group's rows: (model, hold-out metrics, train rows, test rows)."""
    ordered = frame.sort_values([*options.features, options.label], kind="mergesort", na_position="last")
    is_test = ordered[TEST_COL].fillna(False).astype(bool).to_numpy()
    train, test = ordered[~is_test], ordered[is_test]
    if train.empty:
        raise ValueError("every row of the group is a hold-out row; nothing to fit")
    model = options.spec.build()
    model.fit(train[options.features], train[options.label])
    metrics = _metrics(model, test, options) if len(test) else {}
    return model, metrics, len(train), len(test)


def _metrics(model: Any, test: pd.DataFrame, options: _FitOptions) -> dict[str, float]:
    import numpy as np
    from sklearn import metrics

    truth = test[options.label].to_numpy()
    predicted = np.asarray(model.predict(test[options.features]))
    if options.task == "classification":
        return {
            "accuracy": float(metrics.accuracy_score(truth, predicted)),
            "f1_macro": float(metrics.f1_score(truth, predicted, average="macro", zero_division=0)),
        }
    out = {
        "rmse": float(np.sqrt(metrics.mean_squared_error(truth, predicted))),
        "mae": float(metrics.mean_absolute_error(truth, predicted)),
    }
    if len(test) >= 2:
        out["r2"] = float(metrics.r2_score(truth, predicted))
    return out


# ---- driver -------------------------------------------------------------------------------------


def _task_of(instance: Any) -> str:
    try:
        from sklearn.base import is_classifier

        return "classification" if is_classifier(instance) else "regression"
    except ImportError:
        return "classification" if hasattr(instance, "predict_proba") else "regression"


def _check_columns(df: DataFrame, groups: list[str], label: str, features: list[str], test_col: str | None) -> None:
    needed = [*groups, label, *features, *([test_col] if test_col else [])]
    missing = [c for c in dict.fromkeys(needed) if c not in df.columns]
    if missing:
        raise DataError(f"the DataFrame lacks column(s) {missing}; it has {', '.join(df.columns)}.")
    if not groups:
        raise DataError("give at least one group column.")
    clashes = [c for c in groups if c in _RESULT_COLUMNS]
    if clashes:
        raise DataError(f"group column(s) {clashes} clash with result columns {list(_RESULT_COLUMNS)}; rename them.")
    overlap = [c for c in features if c in groups or c == label]
    if overlap:
        raise DataError(f"feature column(s) {overlap} are also group or label columns.")


def _training_rows(
    df: DataFrame,
    groups: list[str],
    label: str,
    features: list[str],
    test_col: str | None,
    test_fraction: float,
    seed: int,
) -> DataFrame:
    """Rows with a label, and a hold-out flag: ``test_col``, or a seeded hash of the row's content."""
    from pyspark.sql import functions as F

    columns = list(dict.fromkeys([*groups, *features, label]))
    label_col = F.col(f"`{label}`")
    has_label = label_col.isNotNull()
    if dict(df.dtypes)[label] in ("double", "float"):
        has_label = has_label & ~F.isnan(label_col)
    if test_col:
        is_test = F.coalesce(F.col(f"`{test_col}`").cast("boolean"), F.lit(False))
    else:
        row_hash = F.xxhash64(F.lit(seed), *[F.col(f"`{c}`") for c in columns])
        is_test = F.pmod(row_hash, F.lit(_BUCKETS)) < F.lit(round(test_fraction * _BUCKETS))
    return df.where(has_label).select(*[F.col(f"`{c}`") for c in columns], is_test.alias(TEST_COL))


def _collect(rows: list[Any], groups: list[str]) -> tuple[pd.DataFrame, dict[GroupKey, Any], dict[GroupKey, str]]:
    import pandas as pd

    records, models, not_trained = [], {}, {}
    metric_names: list[str] = []
    for row in rows:
        item = row.asDict()
        key = group_key(tuple(item[c] for c in groups))
        if item["status"] == TRAINED:
            models[key] = pickle.loads(item["model"])
        else:
            not_trained[key] = f"{item['status']}: {item['message']}"
        metrics = item.pop("metrics") or {}
        item.pop("model")
        metric_names += [m for m in metrics if m not in metric_names]
        records.append({**item, **metrics})
    table = pd.DataFrame(records, columns=[*groups, *_RESULT_COLUMNS[:5], "seconds", *metric_names])
    table = table.sort_values(groups, kind="mergesort", na_position="last")
    return table.reset_index(drop=True), models, not_trained


def _fit_global(data: DataFrame, options: _FitOptions) -> tuple[Any, dict[str, float]]:
    """The fallback model: the same spec on every group's rows, fitted in one Python worker."""
    from pyspark.sql import functions as F

    everyone = "__sparkwright_all"
    global_options = _FitOptions(
        options.spec, options.task, [everyone], options.label, options.features, 1, options.threads
    )
    schema = f"{everyone} int, {_RESULT_SCHEMA}"
    (row,) = (
        data.withColumn(everyone, F.lit(0))
        .groupBy(everyone)
        .applyInPandas(_fit_function(global_options), schema)
        .collect()
    )
    if row["status"] != TRAINED:
        raise ModelError(f"the global fallback model did not train: {row['message']}")
    return pickle.loads(row["model"]), dict(row["metrics"] or {})


def _log(
    tracker: Tracker,
    router: GroupRouter,
    table: pd.DataFrame,
    *,
    spec: EstimatorSpec,
    task: str,
    label: str,
    label_type: str,
    input_types: dict[str, str],
    options: dict[str, Any],
    global_metrics: dict[str, float] | None,
) -> tuple[str, str, str | None]:
    """One run: params, summary and per-group metrics, ``groups.json``, the routing model; then register."""
    groups = router.group_columns
    statuses = table["status"].value_counts().to_dict()
    metric_columns = [c for c in table.columns if c not in (*groups, *_RESULT_COLUMNS)]
    trained = table[table["status"] == TRAINED]
    metrics: dict[str, float] = {f"groups_{s}": float(statuses.get(s, 0)) for s in (TRAINED, FAILED, SKIPPED)}
    for name in metric_columns:
        values = trained[name].dropna()
        if len(values):
            metrics[f"mean_{name}"] = float(values.mean())
    for record in trained.to_dict("records"):
        label_text = _metric_label(tuple(record[c] for c in groups))
        metrics.update({f"{m}.{label_text}": float(record[m]) for m in metric_columns if _finite(record[m])})
    metrics.update({f"global_{k}": v for k, v in (global_metrics or {}).items()})

    experiment_id = tracker.experiment_id(options["experiment"])
    with tracker.run(experiment_id, options["run_name"], tags={"sparkwright.kind": "per_group"}) as run_id:
        tracker.log_params(
            run_id,
            {
                "estimator": spec.estimator,
                **{f"param.{k}": v for k, v in spec.params.items()},
                "task": task,
                "group_columns": ",".join(groups),
                "features": ",".join(router.feature_columns),
                "label": label,
                **{k: options[k] for k in ("test_fraction", "test_col", "seed", "min_rows", "fallback")},
            },
        )
        _log_metrics(tracker, run_id, metrics)
        tracker.log_dict(run_id, {"groups": json.loads(table.to_json(orient="records"))}, "groups.json")
        if options["per_group_runs"]:
            for record in table.to_dict("records"):
                _log_group_run(tracker, experiment_id, run_id, record, groups, metric_columns)
        requirement = pinned_requirement(spec.estimator.partition(".")[0].replace("sklearn", "scikit-learn"))
        logged = log_routing_model(
            tracker,
            run_id,
            router,
            signature=_signature(router, input_types, label_type if task == "classification" else "double"),
            extra_requirements=[requirement] if requirement else [],
        )
    registered = None
    if options["register_as"]:
        registered = tracker.register(
            logged, options["register_as"], tags={"sparkwright.kind": "per_group", "groups": len(router.models)}
        )
        if options["alias"]:
            from sparkwright.registry import Registry

            Registry(tracker).set_alias(options["register_as"], options["alias"], registered)
    return logged.run_id, logged.model_uri, registered


def _log_metrics(tracker: Tracker, run_id: str, metrics: dict[str, float]) -> None:
    items = list(metrics.items())
    for start in range(0, len(items), 900):  # MLflow takes at most 1000 metrics per batch
        tracker.log_metrics(run_id, dict(items[start : start + 900]))


def _log_group_run(
    tracker: Tracker,
    experiment_id: str,
    parent: str,
    record: dict[str, Any],
    groups: list[str],
    metric_columns: list[str],
) -> None:
    name = _metric_label(tuple(record[c] for c in groups))
    with tracker.run(experiment_id, name, parent_run_id=parent) as child:
        tracker.log_params(child, {**{c: record[c] for c in groups}, "status": record["status"]})
        if record["message"]:
            tracker.set_tags(child, {"message": record["message"]})
        values = {m: float(record[m]) for m in metric_columns if _finite(record[m])}
        values.update(rows=float(record["rows"]), train_rows=float(record["train_rows"]))
        tracker.log_metrics(child, values)


def _signature(router: GroupRouter, input_types: dict[str, str], output_type: str) -> Any:
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    columns = [*router.group_columns, *router.feature_columns]
    if any(input_types.get(c) not in _MLFLOW_TYPES for c in columns):
        return None  # a type MLflow's column schema cannot state: no signature rather than a wrong one
    inputs = Schema([ColSpec(_MLFLOW_TYPES[input_types[c]], c) for c in columns])
    outputs = Schema([ColSpec(_MLFLOW_TYPES.get(output_type, "double"))])
    return ModelSignature(inputs=inputs, outputs=outputs)


def _metric_label(key: tuple) -> str:
    text = "/".join("null" if v is None else str(v) for v in key)
    return _METRIC_NAME.sub("_", text)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _workspace_tracker() -> Tracker:
    from sparkwright.tracking import Tracker
    from sparkwright.workspace import Workspace

    workspace = Workspace.resolve()
    return Tracker(workspace.tracking_uri, workspace.artifacts)
