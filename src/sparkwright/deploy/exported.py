"""The exported (no-JVM) form of a registered Spark model: made once per version, found again later.

``sparkwright export`` writes it, logs it to the version's run as ``exported_model`` and tags the
version with its URI; ``sparkwright serve`` loads it from there, so serving never needs Spark.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sparkwright.errors import ModelError
from sparkwright.registry import Registry, VersionInfo, parse_model_ref

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

EXPORTED_TAG = "sparkwright.exported_model"
ARTIFACT_PATH = "exported_model"


@dataclass(frozen=True)
class ExportResult:
    version: VersionInfo
    folder: Path
    logged_uri: str


def export_version(spark: SparkSession, registry: Registry, model: str, output: Path) -> ExportResult:
    """Export the Spark model ``model`` (a models:/ URI) into ``output``, log it and tag its version.

    Raises:
        ModelError: Unknown model, or a version that is not a Spark model.
        UnsupportedStageError: A stage the exporter cannot reproduce (lists the supported ones).
    """
    from sparkwright.deploy.export import export_model, log_exported_model

    del spark  # export_model uses the active session; taking it makes the caller start one first
    info = registry.resolve(parse_model_ref(model))
    if not info.run_id:
        raise ModelError(f"models:/{info.name}/{info.version} has no run to log the export to.")
    if output.exists() and any(output.iterdir()):
        raise ModelError(f"the export folder {output} is not empty; remove it or give another --output.")
    export_model(info.source, output, tracking_uri=registry.tracker.tracking_uri)
    logged = log_exported_model(registry.tracker, info.run_id, output, ARTIFACT_PATH)
    registry.tracker.client.set_model_version_tag(info.name, info.version, EXPORTED_TAG, logged.model_uri)
    return ExportResult(info, output, logged.model_uri)


def exported_folder(registry: Registry, info: VersionInfo) -> Path | None:
    """The local folder of the version's exported model, downloaded; None when it was never exported."""
    uri = info.tags.get(EXPORTED_TAG)
    return None if uri is None else registry.tracker.download_model(uri)
