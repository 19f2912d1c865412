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
    ClassificationConfig,
    CleanseConfig,
    ClusteringConfig,
    DataConfig,
    ExploreConfig,
    IngestConfig,
    ModelSpec,
    ProjectConfig,
    RegisterConfig,
    SearchConfig,
    SourceConfig,
    SparkConfig,
    SplitConfig,
    TuneConfig,
)
from sparkwright.config.tasks import TASKS, TaskSpec

__all__ = [
    "TASKS",
    "AllowedValuesRule",
    "ClassificationConfig",
    "CleanseConfig",
    "ClusteringConfig",
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
    "SearchConfig",
    "SourceConfig",
    "SparkConfig",
    "SplitConfig",
    "TaskSpec",
    "TuneConfig",
    "UniqueRule",
    "load_project",
    "parse_project",
    "project_file_text",
    "yaml_path",
]
