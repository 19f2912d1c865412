"""Checks that several tasks' cross-field checks share."""

from __future__ import annotations

from sparkwright.config.schema import ProjectConfig
from sparkwright.errors import ConfigError


def check_distinct_kept(config: ProjectConfig, named: list[tuple[str, str]]) -> None:
    """Each ``(key, column)`` names its own column, and none is dropped; a key is a ``data`` key, or a path
    with a dot (``forecasting.exogenous``).

    Raises:
        ConfigError: Path of the key (two keys, one column) or ``data.drop``.
    """

    def path(key: str) -> str:
        return key if "." in key else f"data.{key}"

    for index, (key, column) in enumerate(named):
        for other, same in named[:index]:
            if same == column:
                raise ConfigError(
                    f"{path(other)} and {path(key)} both name column {column!r}; give each its own.", path(key)
                )
        if column in config.data.drop:
            raise ConfigError(f"{path(key)} {column!r} is also listed in data.drop; remove it there.", "data.drop")


def refuse_tuning(config: ProjectConfig) -> None:
    """A task that trains the listed models only: no ``tune`` or ``search`` section.

    Raises:
        ConfigError: Path ``tune`` or ``search``.
    """
    for section in ("tune", "search"):
        if getattr(config, section) is not None:
            raise ConfigError(
                f"task {config.task} does not {section} yet; remove the {section} section and list the models "
                "(with their params) under models.",
                section,
            )
