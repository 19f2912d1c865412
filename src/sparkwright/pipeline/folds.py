"""The training split as k folds (stratified for classification) or one train / validation split."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sparkwright.config import ProjectConfig

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

_FOLD = "__sw_fold"


class TrainingFolds:
    """Cached (fit on, evaluate on) pairs of the training split, for tuning and the budgeted search.

    Attributes:
        count: The number of pairs: ``folds`` when >= 2, else 1 (one validation split).
    """

    def __init__(
        self,
        train: DataFrame,
        *,
        folds: int,
        seed: int,
        validation_fraction: float,
        stratify_by: str | None = None,
        key_columns: list[str] | None = None,
    ):
        from sparkwright.data import assign_folds, split_train_test

        self.count = folds if folds >= 2 else 1
        if self.count > 1:
            self._with_folds = assign_folds(
                train, folds, seed=seed, fold_col=_FOLD, key_columns=key_columns, stratify_by=stratify_by
            ).cache()
            self._split = None
        else:
            self._with_folds = None
            fit, validation = split_train_test(
                train,
                test_fraction=validation_fraction,
                seed=seed,
                key_columns=key_columns,
                stratify_by=stratify_by,
                salt="validation",
            )
            self._split = (fit.cache(), validation.cache())

    @classmethod
    def for_project(
        cls, config: ProjectConfig, train: DataFrame, folds: int, seed: int, validation_fraction: float
    ) -> TrainingFolds:
        """Folds stratified by the label for classification, keyed by the project's keys where present."""
        from sparkwright.tasks import get_task

        stratify = get_task(config.task).stratify_column(config)
        keys = [k for k in config.data.keys if k in train.columns] or None
        return cls(
            train,
            folds=folds,
            seed=seed,
            validation_fraction=validation_fraction,
            stratify_by=stratify,
            key_columns=keys,
        )

    def pair(self, fold: int) -> tuple[DataFrame, DataFrame]:
        """(fit on, evaluate on) for ``fold``."""
        from pyspark.sql import functions as F

        if self._split is not None:
            return self._split
        assert self._with_folds is not None
        rows = self._with_folds
        return rows.where(F.col(_FOLD) != fold).drop(_FOLD), rows.where(F.col(_FOLD) == fold).drop(_FOLD)

    def pairs(self) -> list[tuple[DataFrame, DataFrame]]:
        return [self.pair(fold) for fold in range(self.count)]

    def release(self) -> None:
        for df in [self._with_folds, *(self._split or ())]:
            if df is not None:
                df.unpersist()
