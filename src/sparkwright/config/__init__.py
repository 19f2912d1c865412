"""Project files: schema, loading and validation."""

from sparkwright.config.loader import load_project, parse_project, project_file_text, yaml_path
from sparkwright.config.quality import (
    AllowedValuesRule,
    NotNullRule,
    PatternRule,
    QualityRule,
    RangeRule,
    UniqueRule,
)
from sparkwright.config.schema import (
    CleanseConfig,
    DataConfig,
    ExploreConfig,
    IngestConfig,
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
    "AllowedValuesRule",
    "CleanseConfig",
    "DataConfig",
    "ExploreConfig",
    "IngestConfig",
    "ModelSpec",
    "NotNullRule",
    "PatternRule",
    "ProjectConfig",
    "QualityRule",
    "RangeRule",
    "RegisterConfig",
    "SourceConfig",
    "SparkConfig",
    "SplitConfig",
    "TaskSpec",
    "UniqueRule",
    "load_project",
    "parse_project",
    "project_file_text",
    "yaml_path",
]
