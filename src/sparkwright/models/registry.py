"""Model types by the ``type`` string of a project file; a new type is one decorated class.

A name belongs to one class per task: ``gbt`` is Spark ML's gradient-boosted trees for regression and
classification and the global gradient-boosted forecaster for forecasting, both the same idea for a user.
"""

from __future__ import annotations

from typing import TypeVar

from sparkwright.config.checks import did_you_mean
from sparkwright.errors import ModelError
from sparkwright.models.base import ModelType

_T = TypeVar("_T", bound=type[ModelType])
# (name, task) -> class
_REGISTRY: dict[tuple[str, str], type[ModelType]] = {}


def register_model_type(cls: _T) -> _T:
    """Class decorator: make ``cls`` available under ``cls.name`` for each of its tasks.

    Raises:
        ModelError: Another class already holds the name for one of those tasks.
    """
    for task in cls.tasks:
        existing = _REGISTRY.get((cls.name, task))
        if existing is not None and existing is not cls:
            raise ModelError(
                f"model type {cls.name!r} is already registered for task {task!r} by {existing.__qualname__}."
            )
    _REGISTRY.update({(cls.name, task): cls for task in cls.tasks})
    return cls


def model_types(task: str = "regression") -> list[str]:
    """Names of the types that support ``task``, sorted."""
    return sorted(name for name, of_task in _REGISTRY if of_task == task)


def get_model_type(name: str, task: str = "regression") -> ModelType:
    """The model type registered as ``name``, for ``task``.

    Raises:
        ModelError: The name is unknown, or the type does not support the task.
    """
    cls = _REGISTRY.get((name, task))
    if cls is None:
        valid = model_types(task)
        known = any(registered == name for registered, _ in _REGISTRY)
        subject = f"model type {name!r} does not support task {task!r}:" if known else f"unknown model type {name!r};"
        raise ModelError(f"{subject} valid types for {task}: {', '.join(valid) or 'none'}." + did_you_mean(name, valid))
    return cls()
