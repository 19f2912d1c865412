"""The main job and its result objects."""

from sparkwright.pipeline.job import Reporter, run, validate_models
from sparkwright.pipeline.results import ModelResult, RunResult, TableRef

__all__ = ["ModelResult", "Reporter", "RunResult", "TableRef", "run", "validate_models"]
