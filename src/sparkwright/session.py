"""The one place that builds a SparkSession.

Local by default (``local[*]``, Delta Lake configured, Arrow on, few shuffle partitions, quiet logs,
no UI); a Spark master URL or a Spark Connect URL runs the same code on a cluster. When a session is
already active (a notebook, Databricks, a test fixture) it is reused as it is.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import logging
import os
import sys
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from sparkwright.errors import SessionError
from sparkwright.settings import get_settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

_LOG4J_CONFIG = Path(__file__).with_name("log4j2.properties")

# Every session: Delta Lake, Arrow for pandas conversions, UTC, and Rich (not Spark) draws progress.
_BASE_CONF: dict[str, str] = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # Rows per Arrow batch to a Python worker (Spark's default: 10,000). A model scored in a UDF pays a
    # fixed cost per call; at 50,000 an isolation forest scores 1.34x -> 1.64x one scikit-learn process.
    "spark.sql.execution.arrow.maxRecordsPerBatch": "50000",
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.showConsoleProgress": "false",
    # Chained stages without a table in between (a notebook calling read_source -> cleanse -> split -> fit)
    # build filters over wide, derived columns; inferring constraints from them grows without bound and
    # ran the driver out of heap on 29 columns. The optimisation it enables is minor for ML pipelines.
    "spark.sql.constraintPropagation.enabled": "false",
}

# Sized for a laptop; a cluster keeps its own defaults. Delta's 50 snapshot partitions cost 50 tasks
# per table read or write, which on 2 cores made every small commit 3x slower.
_LOCAL_CONF: dict[str, str] = {
    "spark.sql.shuffle.partitions": "8",
    "spark.default.parallelism": "8",
    "spark.databricks.delta.snapshotPartitions": "4",
    "spark.driver.memory": "4g",
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

    settings = get_settings()
    master = master or settings.master
    remote = remote or settings.remote
    if master and remote:
        raise SessionError(
            f"Both a Spark master ({master!r}) and a Spark Connect URL ({remote!r}) were given; "
            "choose one (--master for classic Spark, --remote for Spark Connect)."
        )
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    local = not remote and (master or "local[*]").startswith("local")
    merged = {
        **_BASE_CONF,
        **(_LOCAL_CONF if local else {}),
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
            builder = _with_delta_jars(builder, merged)
        spark = builder.getOrCreate()
    except ImportError as exc:
        if remote:
            raise SessionError(
                f"Spark Connect needs its client libraries ({exc}), which sparkwright depends on; "
                "reinstall it: `pip install --force-reinstall sparkwright`."
            ) from exc
        raise
    except Exception as exc:
        where = remote or master or "local[*]"
        raise SessionError(
            f"Could not start a Spark session on {where}: {exc}. Check that Java 17 is installed "
            "(java -version) and, on the first start, that Maven Central is reachable for the Delta jars."
        ) from exc
    if remote:
        # Stop it before the interpreter tears down gRPC: Spark ML models released during shutdown would
        # otherwise call the server on a dead channel and hang the exit.
        atexit.register(spark.stop)
    else:
        spark.sparkContext.setLogLevel(settings.log_level)
        _remember_delta_jars(spark)
        if not local:
            _ship_own_code(spark)
    log.info("Spark %s session started on %s", spark.version, remote or master or "local[*]")
    return spark


def is_connect(spark: SparkSession) -> bool:
    """Whether ``spark`` is a Spark Connect client session (no SparkContext, no JVM in this process)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def share_with_threads() -> Callable[[], None]:
    """A thread initializer that makes this thread's active Spark Connect session active in the new thread.

    A Connect session is active only on the thread that created it, and Spark ML's remote calls (fits,
    ``StringIndexerModel.from_labels``) need an active one, so a trial that fits on a pool thread would fail.
    Classic sessions are found from any thread already: then it does nothing.
    """
    if "pyspark" not in sys.modules:
        return lambda: None
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    if spark is None or not is_connect(spark):
        return lambda: None

    def activate() -> None:
        # pyspark has no public setter; this is what SparkSession.builder.create() does on its own thread.
        type(spark)._set_default_and_active_session(spark)

    return activate


@contextlib.contextmanager
def cached(df: DataFrame) -> Iterator[DataFrame]:
    """``df`` cached for the several jobs that read it inside the block, released after it.

    Over Spark Connect the block gets a cached temporary view of it instead, whose plan is one reference: Spark
    ML's commands (an evaluator's ``evaluate``, also ``localCheckpoint``) copy their input's plan through
    protobuf, which refuses plans more than 100 levels deep, and an ensemble of pipelines scores through a
    deeper one. Classic sessions are unchanged: ``df.cache()``, then ``unpersist()``.
    """
    if not is_connect(df.sparkSession):
        df = df.cache()
        try:
            yield df
        finally:
            df.unpersist()
        return
    view = f"sparkwright_cached_{uuid.uuid4().hex}"
    df.createOrReplaceTempView(view)
    catalog = df.sparkSession.catalog
    catalog.cacheTable(view)
    try:
        yield df.sparkSession.table(view)
    finally:
        catalog.uncacheTable(view)
        catalog.dropTempView(view)


def _with_delta_jars(builder: SparkSession.Builder, conf: dict[str, str]) -> SparkSession.Builder:
    """Add the Delta Lake jars: from the cached list of a previous start, else resolved from Maven Central.

    Resolving through Ivy prints a long report and costs seconds at every start; once the jars are in
    the local Ivy cache their paths are remembered and handed to Spark directly.
    """
    from delta import configure_spark_with_delta_pip

    java_options = " ".join(_driver_java_options())
    builder = builder.config(
        "spark.driver.extraJavaOptions", f"{java_options} {conf.get('spark.driver.extraJavaOptions', '')}".strip()
    )
    cached = cached_delta_jars()
    if cached:
        return builder.config("spark.jars", ",".join([*cached, *filter(None, [conf.get("spark.jars")])]))
    return configure_spark_with_delta_pip(builder)


def _driver_java_options() -> list[str]:
    """Our log4j config, and netlib told not to try a system BLAS / LAPACK this machine does not have.

    Spark ML's netlib otherwise tries to dlopen libblas.so.3 / liblapack.so.3 and prints a failure from
    native code, which no log level silences; it then uses its Java implementation, as it does here.
    Where the libraries are installed, netlib keeps loading them.
    """
    from ctypes.util import find_library

    options = [f"-Dlog4j2.configurationFile={_LOG4J_CONFIG.as_uri()}"]
    for library in ("blas", "lapack"):
        if find_library(library) is None:
            options.append(f"-Ddev.ludovic.netlib.{library}.allowNative=false")
    return options


def _delta_jar_cache() -> Path:
    from importlib.metadata import version

    return Path.home() / ".cache" / "sparkwright" / f"delta-spark-{version('delta-spark')}-jars.txt"


def delta_maven_coordinate() -> str:
    """Delta's Maven coordinate for the installed pyspark and delta-spark, as ``configure_spark_with_delta_pip``
    builds it: what a Spark Connect server or a cluster's ``spark-submit --packages`` needs."""
    from importlib.metadata import version

    spark_minor = ".".join(version("pyspark").split(".")[:2])
    return f"io.delta:delta-spark_{spark_minor}_2.13:{version('delta-spark')}"


def cached_delta_jars() -> list[str]:
    """The Delta jar paths a previous local start resolved (empty when none were kept or one is gone)."""
    cache = _delta_jar_cache()
    if not cache.is_file():
        return []
    jars = cache.read_text().split()
    return jars if jars and all(Path(jar).is_file() for jar in jars) else []


def _remember_delta_jars(spark: SparkSession) -> None:
    """After an Ivy resolution, keep the resolved jar paths for the next start."""
    if cached_delta_jars() or not spark.conf.get("spark.jars.packages", None):
        return
    jars = [j.removeprefix("file://") for j in spark.conf.get("spark.jars", "").split(",")]
    jars = [j for j in jars if j and Path(j).is_file()]
    if any("delta-spark" in Path(j).name for j in jars):
        cache = _delta_jar_cache()
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text("\n".join(jars))


def _ship_own_code(spark: SparkSession) -> None:
    """Send this sparkwright's code to the executors, so a cluster runs the driver's version of it.

    Executors import the shipped zip before their own site-packages (pandas UDFs, per-group training and
    model scoring unpickle sparkwright functions there); they still need its dependencies installed. The zip
    is built once per content of the package.
    """
    package = Path(__file__).parent
    files = sorted(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    archive = Path.home() / ".cache" / "sparkwright" / f"sparkwright-{digest.hexdigest()[:16]}.zip"
    if not archive.is_file():
        archive.parent.mkdir(parents=True, exist_ok=True)
        partial = archive.with_suffix(".zip.partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as out:
            for path in files:
                out.write(path, Path(package.name) / path.relative_to(package))
        partial.replace(archive)
    spark.sparkContext.addPyFile(str(archive))
    log.info("Shipped sparkwright to the executors as %s", archive.name)


def _use_driver_interpreter(conf: dict[str, str]) -> None:
    """Python workers must run the driver's interpreter, or pandas UDFs fail to import pandas."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    conf.setdefault("spark.pyspark.python", os.environ["PYSPARK_PYTHON"])
