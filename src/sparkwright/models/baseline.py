"""``type: baseline``: the model every candidate must beat, as the task defines it (``sparkwright.tasks``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sparkwright.models.base import ModelType, Target
from sparkwright.models.registry import register_model_type

if TYPE_CHECKING:
    from pyspark.ml import Estimator


@register_model_type
class Baseline(ModelType):
    """``type: baseline`` — no parameters; the project's threshold and class weights do not apply to it.

    With log_label it still averages the label in its own units.
    """

    name = "baseline"
    tasks = ("regression", "classification", "anomaly")
    fits_log_label = False
    uses_features = False

    def build(self, params: Mapping[str, Any], target: Target) -> Estimator:
        from sparkwright.tasks import get_task

        self.validate_params(params)
        return get_task(target.task).baseline(target)
