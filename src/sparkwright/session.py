"""The one place that builds a SparkSession.

Local by default (``local[*]``, Delta Lake configured, Arrow on, few shuffle partitions, quiet logs,
no UI); a Spark master URL or a Spark Connect URL runs the same code on a cluster. When a session is
already active (a notebook, Databricks, a test fixture) it is reused as it is.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from sparkwright.errors import SessionError
from sparkwright.settings import get_settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

# Defaults sized for a laptop; every one can be overridden through `conf`.
_LOCAL_DEFAULTS: dict[str, str] = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.shuffle.partitions": "8",
    "spark.default.parallelism": "8",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.memory": "4g",
    # Delta's own checks would otherwise print one warning per write.
    "spark.databricks.delta.schema.autoMerge.enabled": "false",
}


def get_session(
    master: str | None = None,
    remote: str | None = None,
    conf: Mapping[str, str] | None = None,
    app_name: str = "sparkwright",
) -> SparkSession:
    """Return the active SparkSession, or start one.

    Args:
        master: Spark master URL (``local[*]``, ``spark://host:7077``, ``yarn``, ``k8s://...``).
            Default ``SPARKWRIGHT_MASTER`` or ``local[*]``.
        remote: Spark Connect URL (``sc://host:15002``); excludes ``master``.
        conf: Extra Spark configuration, applied over the defaults and ``SPARKWRIGHT_SPARK_CONF``.
        app_name: Application name shown by the cluster manager.

    Raises:
        SessionError: Both a master and a remote URL were given, or the session failed to start.
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active

    settings = get_settings()
    master = master or settings.master
    remote = remote or settings.remote
    if master and remote:
        raise SessionError(
            f"Both a Spark master ({master!r}) and a Spark Connect URL ({remote!r}) were given; "
            "choose one (--master for classic Spark, --remote for Spark Connect)."
        )
    merged = {
        **_LOCAL_DEFAULTS,
        "spark.ui.enabled": str(settings.spark_ui).lower(),
        **settings.spark_conf,
        **(conf or {}),
    }
    _use_driver_interpreter(merged)

    builder = SparkSession.builder.appName(app_name)
    if remote:
        builder = builder.remote(remote)
        # A Connect server owns its JVM conf: only session-level SQL settings can be sent.
        merged = {
            k: v
            for k, v in merged.items()
            if k.startswith("spark.sql.") and "extensions" not in k and "catalog" not in k
        }
    else:
        builder = builder.master(master or "local[*]")
    for key, value in merged.items():
        builder = builder.config(key, value)

    try:
        if not remote:
            from delta import configure_spark_with_delta_pip

            builder = configure_spark_with_delta_pip(builder)
        spark = builder.getOrCreate()
    except Exception as exc:
        where = remote or master or "local[*]"
        raise SessionError(
            f"Could not start a Spark session on {where}: {exc}. Check that Java 17 is installed "
            "(java -version) and, on the first start, that Maven Central is reachable for the Delta jars."
        ) from exc
    if not remote:
        spark.sparkContext.setLogLevel(settings.log_level)
    log.info("Spark %s session started on %s", spark.version, remote or master or "local[*]")
    return spark


def _use_driver_interpreter(conf: dict[str, str]) -> None:
    """Python workers must run the driver's interpreter, or pandas UDFs fail to import pandas."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    conf.setdefault("spark.pyspark.python", os.environ["PYSPARK_PYTHON"])


def stop_session() -> None:
    """Stop the active session, if any (CLI commands call this on exit)."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()
