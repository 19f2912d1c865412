"""One exception hierarchy for sparkwright.

Every error a user can cause is a :class:`SparkwrightError`; each subclass also inherits the matching
built-in so callers can catch either (``except ValueError`` keeps working). Messages say what was
wrong, where (YAML path, column, file) and how to fix it.
"""

from __future__ import annotations


class SparkwrightError(Exception):
    """Base class of all sparkwright errors."""


class ConfigError(SparkwrightError, ValueError):
    """The project file or an option is invalid. ``path`` is the YAML path, e.g. ``models[2].params``."""

    def __init__(self, message: str, path: str | None = None):
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class DataError(SparkwrightError, ValueError):
    """The input data cannot be used as asked: missing file, empty table, unknown column, too many rejects."""


class ModelError(SparkwrightError, ValueError):
    """A model type, parameter or fitted model is invalid."""


class TrackingError(SparkwrightError, RuntimeError):
    """MLflow tracking or the model registry failed or holds something unexpected."""


class SessionError(SparkwrightError, RuntimeError):
    """A SparkSession could not be started or reached."""
