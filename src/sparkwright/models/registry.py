"""Model types by the ``type`` string of a project file; a new type is one decorated class."""

from __future__ import annotations

from typing import TypeVar

from sparkwright.config.checks import did_you_mean
from sparkwright.errors import ModelError
from sparkwright.models.base import ModelType

_T = TypeVar("_T", bound=type[ModelType])
_REGISTRY: dict[str, type[ModelType]] = {}


def register_model_type(cls: _T) -> _T:
    """Class decorator: make ``cls`` available under ``cls.name``.

    Raises:
        ModelError: Another class already holds the name.
    """
    existing = _REGISTRY.get(cls.name)
    if existing is not None and existing is not cls:
        raise ModelError(f"model type {cls.name!r} is already registered by {existing.__qualname__}.")
    _REGISTRY[cls.name] = cls
    return cls


def model_types(task: str = "regression") -> list[str]:
    """Names of the types that support ``task``, sorted."""
    return sorted(name for name, cls in _REGISTRY.items() if task in cls.tasks)


def get_model_type(name: str, task: str = "regression") -> ModelType:
    """The model type registered as ``name``, for ``task``.

    Raises:
        ModelError: The name is unknown, or the type does not support the task.
    """
    valid = model_types(task)
    cls = _REGISTRY.get(name)
    if cls is None or task not in cls.tasks:
        reason = "unknown model type" if cls is None else f"model type {name!r} does not support task {task!r}:"
        subject = f"{reason} {name!r};" if cls is None else reason
        raise ModelError(f"{subject} valid types for {task}: {', '.join(valid) or 'none'}." + did_you_mean(name, valid))
    return cls()
