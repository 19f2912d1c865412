"""Load a project file: YAML -> schema -> cross-field checks, with errors that name the YAML path."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from sparkwright.config.checks import did_you_mean, run_checks
from sparkwright.config.schema import ProjectConfig
from sparkwright.errors import ConfigError


def load_project(path: str | os.PathLike[str]) -> ProjectConfig:
    """Read and validate a project file.

    Relative data paths are resolved against the file's folder, so a project runs from anywhere.

    Raises:
        ConfigError: The file is missing, is not YAML, or breaks the schema or a cross-field rule.
    """
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"project file {str(file)!r} does not exist; check the path.")
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file} is not valid YAML: {exc}") from exc
    config = parse_project(raw)
    future = config.forecasting.future if config.forecasting else None
    for source in (config.data.source, *([future] if future else [])):
        if "://" not in source.path and not Path(source.path).is_absolute():
            source.path = str((file.parent / source.path).resolve())
    return config


def parse_project(raw: Any) -> ProjectConfig:
    """Validate an already-parsed mapping (a notebook user's dict) as a project."""
    if not isinstance(raw, dict):
        raise ConfigError(f"a project must be a mapping of keys to values, got {type(raw).__name__}.")
    try:
        config = ProjectConfig.model_validate(raw)
    except ValidationError as exc:
        raise _to_config_error(exc) from None
    run_checks(config)
    return config


def project_file_text(config: ProjectConfig) -> str:
    """The validated project as YAML, defaults included: what a run actually used."""
    return yaml.safe_dump(config.model_dump(mode="json", by_alias=True), sort_keys=False)


def yaml_path(loc: tuple[int | str, ...]) -> str:
    """``('models', 2, 'params')`` -> ``models[2].params``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _to_config_error(exc: ValidationError) -> ConfigError:
    """Turn pydantic's first error into one sentence with a path, the expectation and a fix."""
    messages = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        messages.append(f"{yaml_path(loc)}: {_explain(error, loc)}")
    more = " (and more)" if len(messages) > 5 else ""
    return ConfigError("; ".join(messages[:5]) + more)


def _explain(error: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    kind = error["type"]
    got = error.get("input")
    if kind == "extra_forbidden":
        key = str(loc[-1])
        valid = _valid_keys(loc[:-1])
        return f"unknown key {key!r}; valid keys here: {', '.join(valid)}." + did_you_mean(key, set(valid))
    if kind == "missing":
        return "is required but missing; add it."
    if kind == "literal_error":
        return f"must be one of {error['ctx']['expected']}, got {got!r}."
    if kind == "value_error":  # our own field validators: their message is already complete
        return f"{error['ctx']['error']}."
    return f"{error['msg'].lower()}, got {got!r}."


def _valid_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The field names (YAML spelling) allowed at a location, found by walking the schema."""
    model: Any = ProjectConfig
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) or next((f for f in model.model_fields.values() if f.alias == part), None)
        if field is None:
            return []
        model = _model_of(field.annotation)
        if model is None:
            return []
    return [f.alias or name for name, f in model.model_fields.items()]


def _model_of(annotation: Any) -> Any:
    """The pydantic model inside ``X``, ``X | None`` or ``list[X]``, else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None
