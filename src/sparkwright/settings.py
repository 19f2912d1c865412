"""Every SPARKWRIGHT_* environment variable, typed and read in one place."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Environment settings; a project file or CLI option overrides each of them."""

    model_config = SettingsConfigDict(env_prefix="SPARKWRIGHT_", extra="ignore")

    workspace: Path = Field(
        default=Path("sparkwright-workspace"),
        description="Folder that holds the Delta lake, the MLflow store and reports.",
    )
    master: str | None = Field(default=None, description="Spark master URL; default local[*].")
    remote: str | None = Field(default=None, description="Spark Connect URL, e.g. sc://host:15002.")
    spark_conf: dict[str, str] = Field(
        default_factory=dict,
        description='Extra Spark conf as JSON, e.g. {"spark.executor.memory": "4g"}.',
    )
    spark_ui: bool = Field(default=False, description="Start the Spark UI (off by default).")
    log_level: str = Field(default="ERROR", description="Spark log level (ERROR, WARN, INFO).")
    tracking_uri: str | None = Field(
        default=None,
        description="MLflow tracking URI; default sqlite:///<workspace>/mlflow.db. MLFLOW_TRACKING_URI also works.",
    )
    sklearn_max_rows: int = Field(
        default=1_000_000,
        ge=1,
        description="Most training rows a `type: sklearn` model collects to the driver (params.max_driver_rows "
        "overrides it per model); more is refused before anything is collected.",
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
