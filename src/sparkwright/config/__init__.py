"""Project files: schema, loading and validation."""

from sparkwright.config.loader import load_project, parse_project, project_file_text, yaml_path
from sparkwright.config.schema import (
    CleanseConfig,
    DataConfig,
    ModelSpec,
    ProjectConfig,
    RegisterConfig,
    SourceConfig,
    SparkConfig,
    SplitConfig,
)
from sparkwright.config.tasks import TASKS, TaskSpec

__all__ = [
    "TASKS",
    "CleanseConfig",
    "DataConfig",
    "ModelSpec",
    "ProjectConfig",
    "RegisterConfig",
    "SourceConfig",
    "SparkConfig",
    "SplitConfig",
    "TaskSpec",
    "load_project",
    "parse_project",
    "project_file_text",
    "yaml_path",
]
