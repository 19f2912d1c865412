"""The project file's schema: strict pydantic models (unknown keys are errors).

Cross-field rules that need more than one section live in ``checks.py``.
"""

from __future__ import annotations

import re
from difflib import get_close_matches
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sparkwright.config.quality import QualityRule
from sparkwright.config.tasks import TASKS, TaskSpec


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SourceConfig(_Strict):
    """Where the raw data comes from."""

    path: str = Field(description="File, folder or Delta table path; relative to the project file.")
    format: str | None = Field(
        default=None,
        description="A registered source format (csv, parquet, json, delta, ...); default: from the path's extension.",
    )
    schema_: dict[str, str] | None = Field(
        default=None,
        alias="schema",
        description="Column -> Spark SQL type (int, double, string, date, ...). Default: inferred.",
    )
    options: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Extra reader options, e.g. {sep: ';'}."
    )


class IngestConfig(_Strict):
    """How a source lands in the bronze table."""

    mode: Literal["overwrite", "append", "merge"] | None = Field(
        default=None,
        description="overwrite: replace the rows; append: add them; merge: upsert by data.keys (idempotent). "
        "Default: merge when data.keys is set, else overwrite.",
    )
    evolve_schema: bool = Field(
        default=False, description="Let append/merge add new columns (never drop or retype existing ones)."
    )


class DataConfig(_Strict):
    source: SourceConfig
    label: str | None = Field(default=None, description="The column to predict.")
    features: list[str] | None = Field(default=None, description="Default: every column but label/drop.")
    drop: list[str] = Field(default_factory=list, description="Columns never used as features.")
    keys: list[str] = Field(default_factory=list, description="Columns that identify a row (dedup).")
    max_rejected_fraction: float = Field(
        default=0.05, ge=0, le=1, description="Stop when more of the input than this is malformed."
    )
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    user: str | None = Field(default=None, description="task recommendation: the column of user ids.")
    item: str | None = Field(default=None, description="task recommendation: the column of item ids.")
    rating: str | None = Field(
        default=None,
        description="task recommendation: the rating (explicit) or interaction strength such as a count "
        "(implicit); with implicit feedback and no rating, each row counts once.",
    )
    timestamp: str | None = Field(
        default=None, description="task recommendation: hold out each user's latest ratings instead of random ones."
    )
    time: str | None = Field(default=None, description="task forecasting: the date or timestamp column.")
    series: list[str] = Field(
        default_factory=list,
        description="task forecasting: the column(s) naming a series (store, product, city); none: one series.",
    )


class CleanseConfig(_Strict):
    deduplicate: bool = Field(default=True, description="Drop exact duplicate rows (or by data.keys).")
    impute: Literal["median", "mean", "mode"] | None = Field(
        default="median", description="Numeric imputation strategy, fitted on the training set only."
    )
    missing_indicators: bool = Field(default=True, description="Add <col>_missing for numeric columns.")
    categorical_missing: str = Field(default="missing", description="Level that replaces null strings.")
    filters: list[str] = Field(default_factory=list, description="Spark SQL conditions rows must meet.")
    log_label: bool = Field(default=False, description="Train on log(label); predict back in label units.")
    steps: list[str] = Field(
        default_factory=list,
        description="Your own cleansing steps, 'module:function', each taking and returning a Spark or "
        "pandas-on-Spark DataFrame.",
    )


class ExploreConfig(_Strict):
    """The exploration (profile) report of the silver table."""

    enabled: bool = True
    bins: int = Field(default=20, ge=2, le=200, description="Histogram bins per numeric column.")
    top_values: int = Field(default=10, ge=1, le=100, description="Most frequent values shown per column.")
    max_correlation_columns: int = Field(default=30, ge=2, le=200, description="Numeric columns in the matrix.")


class SplitConfig(_Strict):
    test_fraction: float = Field(default=0.2, gt=0, lt=1)
    seed: int = 42


class ModelSpec(_Strict):
    type: str = Field(description="A registered model type, e.g. linear_regression, random_forest.")
    name: str | None = Field(default=None, description="Unique name in the leaderboard; default: type.")
    params: dict[str, Any] = Field(default_factory=dict, description="Estimator parameters.")

    @property
    def display_name(self) -> str:
        return self.name or self.type


class ClassificationConfig(_Strict):
    """Settings of the classification task (ignored by other tasks, which reject this section)."""

    positive_class: str | int | bool | None = Field(
        default=None,
        description="Binary only: the class precision, recall and F1 are about. Default: the last in sorted "
        "order (1, true, 'yes' ...).",
    )
    threshold: float | str = Field(
        default=0.5,
        description="Binary only: predict the positive class when its probability is >= this. 'max_f1' picks "
        "the threshold that maximises F1 on a validation slice of the training data.",
    )
    class_weight: str | dict[str, float] | None = Field(
        default=None,
        description="Per-class training weights: 'balanced' (inverse class frequency) or {class: weight}.",
    )

    # One clear message instead of pydantic's one-per-union-member.
    @field_validator("threshold", mode="before")
    @classmethod
    def _threshold(cls, value: Any) -> Any:
        if isinstance(value, bool) or (isinstance(value, str) and value != "max_f1"):
            raise ValueError(f"must be a probability between 0 and 1 (exclusive) or 'max_f1', got {value!r}")
        if not isinstance(value, str) and not 0 < float(value) < 1:
            raise ValueError(f"must be a probability between 0 and 1 (exclusive) or 'max_f1', got {value!r}")
        return value

    @field_validator("class_weight", mode="before")
    @classmethod
    def _class_weight(cls, value: Any) -> Any:
        if isinstance(value, str) and value != "balanced":
            raise ValueError(f"must be 'balanced' or a mapping {{class: weight}}, got {value!r}")
        return value


class AnomalyConfig(_Strict):
    """Settings of the anomaly task (``task: anomaly``; other tasks reject this section)."""

    contamination: float = Field(
        default=0.05,
        gt=0,
        le=0.5,
        description="Share of rows flagged as anomalies: the flag threshold is the score that this share of the "
        "training rows exceeds. Precision and recall are measured at it.",
    )
    anomaly_value: str | int | bool | None = Field(
        default=None,
        description="With data.label: the label value that marks a known anomaly. Default: the last in sorted "
        "order of a two-valued label (1, true, 'yes' ...).",
    )
    flagged_table: bool = Field(
        default=True, description="Write the rows the best model flags, with their keys and scores, to Delta."
    )


class KRange(_Strict):
    """``k: {from: 2, to: 12}``: every k in the range (both ends included) is tried."""

    from_: int = Field(alias="from", ge=2, description="Smallest k tried (at least 2).")
    to: int = Field(ge=2, description="Largest k tried.")


class ClusteringConfig(_Strict):
    """Settings of the clustering task (other tasks reject this section)."""

    k: int | KRange = Field(
        default_factory=lambda: KRange(**{"from": 2, "to": 10}),
        description="Number of clusters: an integer >= 2, or a range {from: 2, to: 12} to try each k.",
    )
    select_k: Literal["silhouette", "elbow"] = Field(
        default="silhouette",
        description="How k is chosen from a range: the highest silhouette, or the elbow of the within-cluster "
        "sum of squares.",
    )
    standardize: bool = Field(
        default=True, description="Scale numeric features to mean 0, standard deviation 1 inside the model."
    )
    restarts: int = Field(
        default=3,
        ge=1,
        le=20,
        description="Fits per model and k from different seeds; the lowest cost is kept (scikit-learn's n_init).",
    )
    top_levels: int = Field(default=3, ge=1, le=20, description="Most frequent levels per categorical in profiles.")

    # One message naming both forms instead of pydantic's one-per-union-member.
    @field_validator("k", mode="before")
    @classmethod
    def _k(cls, value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) != {"from", "to"}:
                raise ValueError(f"a range has exactly the keys 'from' and 'to' ({{from: 2, to: 12}}), got {value!r}")
            start, end = value["from"], value["to"]
            if any(isinstance(v, bool) or not isinstance(v, int) or v < 2 for v in (start, end)):
                raise ValueError(f"'from' and 'to' must be integers >= 2, got {value!r}")
            if end < start:
                raise ValueError(f"the range must not be empty: 'to' ({end}) is below 'from' ({start})")
            return KRange(**value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 2:
            raise ValueError(f"must be an integer >= 2 or a range {{from: 2, to: 12}}, got {value!r}")
        return value

    @property
    def k_values(self) -> list[int]:
        """Every k to try, ascending."""
        return [self.k] if isinstance(self.k, int) else list(range(self.k.from_, self.k.to + 1))


class RecommendationConfig(_Strict):
    """Settings of the recommendation task (ALS on data.user x data.item)."""

    implicit: bool = Field(
        default=False,
        description="data.rating is implicit feedback (counts, clicks): ALS weighs confidence by its 'alpha' "
        "param, and models are ranked by top-k metrics only (a count is not a rating to predict).",
    )
    k: int = Field(default=10, ge=1, le=1000, description="Length of the top-k lists the ranking metrics judge.")
    top_n: int = Field(
        default=10, ge=1, le=1000, description="Items per user and users per item in the recommendation tables."
    )

    @property
    def default_metric(self) -> str:
        """What ranks models when ``metric`` is not given: RMSE for ratings, NDCG@k for implicit feedback."""
        return "ndcg_at_k" if self.implicit else "rmse"


class BacktestConfig(_Strict):
    """Rolling-origin windows: each forecasts ``horizon`` points from the history before its origin."""

    windows: int = Field(default=3, ge=1, le=100, description="How many windows, the last ending at the last point.")
    step: int | None = Field(default=None, ge=1, description="Points between origins. Default: the horizon.")


class ForecastingConfig(_Strict):
    """Settings of the forecasting task (``task: forecasting``)."""

    horizon: int = Field(ge=1, le=10_000, description="How many points ahead to forecast.")
    frequency: str | None = Field(
        default=None,
        description="A pandas offset alias (D, W-SUN, MS, QS, ...). Default: inferred from the times.",
    )
    season_length: int | None = Field(
        default=None, ge=1, description="Points per seasonal cycle. Default: from the frequency (MS: 12, D: 7, ...)."
    )
    fill: Literal["interpolate", "previous", "zero"] = Field(
        default="interpolate", description="How a missing point inside a series is filled."
    )
    min_length: int | None = Field(
        default=None,
        ge=2,
        description="Points a series needs before a window; shorter series are reported, not fitted. Default: two "
        "seasons, at least 8.",
    )
    backtest: BacktestConfig = Field(default_factory=BacktestConfig)
    levels: list[int] = Field(default=[80, 95], description="Prediction interval levels, in percent.")
    route: bool = Field(
        default=False, description="Forecast each series with the model that backtested best on it (logged)."
    )
    exogenous: list[str] = Field(
        default=[],
        description="Numeric columns known in advance (prices, promotions, holidays) that the models taking "
        "regressors (arima) use; their values for the points to forecast come from forecasting.future.",
    )
    future: SourceConfig | None = Field(
        default=None,
        description="Rows with the series columns, data.time and the exogenous columns for the points to forecast.",
    )

    @field_validator("levels")
    @classmethod
    def _levels(cls, value: list[int]) -> list[int]:
        if not value or any(not 0 < level < 100 for level in value):
            raise ValueError(f"must be levels between 0 and 100 (exclusive), e.g. [80, 95], got {value!r}")
        return sorted(set(value))

    def settings_for(self, season: int) -> tuple[int, int]:
        """``(min_length, step)`` with their defaults for a series of ``season`` points per cycle."""
        return self.min_length or max(8, 2 * season), self.backtest.step or self.horizon


class TuneConfig(_Strict):
    """Hyperparameter search over the models named in ``space``; the best params are refit on all training data."""

    method: Literal["grid", "hyperopt", "optuna"] = Field(
        default="hyperopt", description="grid: every combination of lists; hyperopt / optuna: a sampled search."
    )
    algorithm: Literal["random", "tpe", "atpe"] = Field(
        default="tpe", description="Search algorithm (hyperopt: random, tpe, atpe; optuna: random, tpe)."
    )
    max_evals: int = Field(default=20, ge=1, description="Trials per model (hyperopt / optuna).")
    timeout_seconds: float | None = Field(default=None, gt=0, description="Stop a model's search after this.")
    early_stop_after: int | None = Field(
        default=None, ge=1, description="Stop after this many trials without improvement."
    )
    parallelism: int = Field(default=1, ge=1, description="Trials (or grid points / folds) evaluated at once.")
    trials: Literal["auto", "serial", "spark", "parallel", "joblib-spark"] = Field(
        default="auto",
        description="hyperopt trial executor: serial (Trials), spark (SparkTrials), parallel (sparkwright's "
        "low-overhead parallel executor); auto: serial for distributed models, parallel for single-node ones. "
        "joblib-spark (method: grid, single-node models): the grid's fits as joblib tasks on Spark (joblibspark).",
    )
    folds: int = Field(
        default=3, ge=0, description="k-fold cross-validation; 0 or 1: one train/validation split instead."
    )
    validation_fraction: float = Field(default=0.2, gt=0, lt=1, description="Used when folds < 2.")
    seed: int = 42
    space: dict[str, dict[str, Any]] = Field(
        description="Model name -> param -> a list (grid) or a distribution such as {quniform: [2, 12, 1]}."
    )


_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s)?\s*$")
# Families of the budgeted search (sparkwright.pipeline.families holds their types and spaces).
SEARCH_FAMILIES = ("lightgbm", "xgboost", "random_forest", "extra_trees", "linear", "gbt")
# Used when a project lists no models and gives no search: what measured best on the bundled examples.
DEFAULT_SEARCH_BUDGET = "3m"


def parse_duration(value: Any) -> float:
    """Seconds from ``90``, ``"90s"``, ``"10m"``, ``"1h30m"`` (a number is seconds).

    Raises:
        ValueError: Anything else, or a duration that is not positive.
    """
    if isinstance(value, bool):
        raise ValueError(f"must be a duration such as 90s, 10m or 1h, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value)) if value is not None else None
        if not match or not any(match.groups()):
            raise ValueError(f"must be a duration such as 90s, 10m or 1h30m (or a number of seconds), got {value!r}")
        hours, minutes, secs = (float(g) if g else 0.0 for g in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    if not seconds > 0:
        raise ValueError(f"must be a positive duration, got {value!r}")
    return seconds


class SearchConfig(_Strict):
    """A time-budgeted search across model families; each family's best is refit, then blended."""

    budget: str | float = Field(
        default=DEFAULT_SEARCH_BUDGET,
        description="Time for the search: 90s, 10m, 1h30m or seconds. Refitting the winners comes after it.",
    )
    families: list[str] | None = Field(
        default=None,
        description="Model families to search; default: every family that suits the task and the data size.",
    )
    max_trials: int | None = Field(
        default=None, ge=1, description="Stop after this many trials (with a seed: the same leaderboard every run)."
    )
    folds: int | Literal["auto"] = Field(
        default="auto",
        description="k-fold cross-validation, or 1 for one hold-out split; auto: 5 folds on small data, 3 on "
        "medium, hold-out on large.",
    )
    validation_fraction: float = Field(default=0.2, gt=0, lt=1, description="Hold-out share when folds is 1.")
    parallelism: int | None = Field(
        default=None, ge=1, description="Trials at once on the driver's worker processes; default: its cores."
    )
    ensemble: bool = Field(default=True, description="Blend the families' best models; kept only if it wins.")
    seed: int = 42

    @field_validator("budget", mode="before")
    @classmethod
    def _budget(cls, value: Any) -> Any:
        parse_duration(value)
        return value

    @field_validator("folds", mode="before")
    @classmethod
    def _folds(cls, value: Any) -> Any:
        if value == "auto":
            return value
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"must be 'auto' or an integer >= 1 (1: one hold-out split), got {value!r}")
        return value

    @field_validator("families", mode="before")
    @classmethod
    def _families(cls, value: Any) -> Any:
        if value is None:
            return value
        if not isinstance(value, list) or not value:
            raise ValueError(f"must be a non-empty list of families ({', '.join(SEARCH_FAMILIES)}), got {value!r}")
        for name in value:
            if name not in SEARCH_FAMILIES:
                close = get_close_matches(str(name), SEARCH_FAMILIES, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(f"unknown family {name!r}{hint}; valid: {', '.join(SEARCH_FAMILIES)}")
        return value

    @property
    def budget_seconds(self) -> float:
        return parse_duration(self.budget)


class RegisterConfig(_Strict):
    name: str | None = Field(default=None, description="Registered model name; default: project name.")
    promote_if_better: bool = Field(
        default=True, description="Move alias 'champion' to the new version when it beats the current one."
    )


class SparkConfig(_Strict):
    master: str | None = None
    remote: str | None = None
    conf: dict[str, str] = Field(default_factory=dict)


class ProjectConfig(_Strict):
    """A whole project file."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="Used for table and model names.")
    task: str = Field(description="regression or classification.")
    data: DataConfig
    cleanse: CleanseConfig = Field(default_factory=CleanseConfig)
    quality: list[QualityRule] = Field(
        default_factory=list, description="Data-quality rules; failures are quarantined."
    )
    explore: ExploreConfig = Field(default_factory=ExploreConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    classification: ClassificationConfig | None = Field(
        default=None, description="Classification settings: positive class, threshold, class weights."
    )
    anomaly: AnomalyConfig | None = Field(
        default=None, description="Anomaly settings: contamination, the label value of a known anomaly."
    )
    clustering: ClusteringConfig | None = Field(
        default=None, description="Clustering settings: k or a range of k, how k is chosen, scaling."
    )
    recommendation: RecommendationConfig | None = Field(
        default=None, description="Recommendation settings: implicit feedback, k of the metrics, top-N tables."
    )
    forecasting: ForecastingConfig | None = Field(
        default=None, description="Forecasting settings: horizon, frequency, gap rule, backtest windows."
    )
    models: list[ModelSpec] = Field(
        default_factory=list, description="Models to train; none: a budgeted search (see search) picks them."
    )
    tune: TuneConfig | None = Field(default=None, description="Hyperparameter search; default: none.")
    search: SearchConfig | None = Field(
        default=None, description="A time-budgeted search across model families; default when models is empty."
    )
    metric: str | None = Field(default=None, description="Metric that picks the best model.")
    registry: RegisterConfig | None = Field(
        default_factory=RegisterConfig, alias="register", description="null: do not register a model."
    )
    spark: SparkConfig = Field(default_factory=SparkConfig)
    workspace: str | None = Field(
        default=None, description="Default: SPARKWRIGHT_WORKSPACE or ./sparkwright-workspace."
    )

    @property
    def classification_settings(self) -> ClassificationConfig:
        return self.classification or ClassificationConfig()

    @property
    def anomaly_settings(self) -> AnomalyConfig:
        return self.anomaly or AnomalyConfig()

    @property
    def clustering_settings(self) -> ClusteringConfig:
        return self.clustering or ClusteringConfig()

    @property
    def search_settings(self) -> SearchConfig | None:
        """``search``, or the default search when the project lists no models and its task has one; None: no
        search."""
        if self.search is not None:
            return self.search
        return None if self.models or not self.task_spec.searchable else SearchConfig()

    @property
    def registered_model_name(self) -> str:
        return (self.registry.name if self.registry else None) or self.name

    @property
    def task_spec(self) -> TaskSpec:
        return TASKS[self.task]

    @property
    def selection_metric(self) -> str:
        """The metric that ranks models: ``metric``, the task section's ``default_metric``, the task's metric
        without a label (for tasks whose label is optional), or the task's default."""
        if self.metric:
            return self.metric
        section = getattr(self, self.task_spec.section, None) if self.task_spec.section else None
        if getattr(section, "default_metric", None):
            return section.default_metric
        if not self.data.label and self.task_spec.unlabelled_metric:
            return self.task_spec.unlabelled_metric
        return self.task_spec.default_metric
