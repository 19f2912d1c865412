"""The one SparkSession builder: Delta, Arrow, the driver's interpreter, quiet, reused when active."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from sparkwright.errors import SessionError
from sparkwright.session import get_session


def test_session_is_configured_for_delta_arrow_and_the_driver_interpreter(spark):
    conf = spark.conf
    assert conf.get("spark.sql.extensions") == "io.delta.sql.DeltaSparkSessionExtension"
    assert conf.get("spark.sql.catalog.spark_catalog") == "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    assert conf.get("spark.sql.execution.arrow.pyspark.enabled") == "true"
    assert conf.get("spark.ui.enabled") == "false"
    assert conf.get("spark.sql.constraintPropagation.enabled") == "false"
    assert conf.get("spark.pyspark.python") == os.environ["PYSPARK_PYTHON"] == sys.executable
    # A Python UDF runs in a worker on the same interpreter, so pandas is importable there.
    from pyspark.sql.functions import pandas_udf

    @pandas_udf("string")
    def worker_python(values):
        return values.map(lambda _: sys.executable)

    assert spark.range(1).select(worker_python("id")).first()[0] == sys.executable


def test_active_session_is_reused(spark):
    assert get_session() is spark
    assert get_session(conf={"spark.sql.shuffle.partitions": "99"}) is spark


def test_master_and_remote_together_are_refused(spark):
    with pytest.raises(SessionError, match=r"Both a Spark master \('local\[2\]'\) and a Spark Connect URL"):
        get_session(master="local[2]", remote="sc://localhost:15002")


def test_delta_jars_are_remembered_after_the_first_start(spark):
    from sparkwright.session import cached_delta_jars

    jars = cached_delta_jars()
    assert any("delta-spark" in jar for jar in jars)
    assert all(os.path.isfile(jar) for jar in jars)


def test_a_session_and_a_spark_ml_fit_print_nothing_but_the_jvms_own_notice():
    """Quiet unless asked: no "Setting default log level" banner, and no netlib line from native code
    ('netlib-blas: JNI_OnLoad: dlopen(libblas.so.3) failed') on a machine without a system BLAS / LAPACK.
    The JVM's "Using incubator modules" notice is printed before any configuration applies."""
    code = textwrap.dedent(
        """
        from pyspark.ml.feature import VectorAssembler
        from pyspark.ml.regression import LinearRegression
        from sparkwright.session import get_session

        spark = get_session(master="local[1]")
        rows = spark.createDataFrame([(float(i), 2.0 * i + 1.0) for i in range(20)], ["x", "y"])
        data = VectorAssembler(inputCols=["x"], outputCol="features").transform(rows)
        model = LinearRegression(labelCol="y", solver="normal").fit(data)
        print("slope", round(model.coefficients[0], 6))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert "slope 2.0" in result.stdout
    lines = [line for line in result.stderr.splitlines() if "Using incubator modules" not in line]
    assert lines == [], result.stderr


def test_a_process_without_a_main_file_survives_the_spark_connect_import():
    """PySpark ends a process whose ``__main__`` has no file (``python -c``, pytest-xdist workers) with exit 0
    when it imports ``pyspark.sql.connect`` without the Connect client libraries; MLflow imports it while
    logging a Spark model, so a job run that way would stop early and report success."""
    code = "import sparkwright, pyspark.sql.connect.dataframe; print('still running')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "still running" in done.stdout, done.stderr


def test_cached_keeps_a_classic_dataframe_cached_for_the_block_only(spark):
    from sparkwright.session import cached

    df = spark.range(5)
    with cached(df) as kept:
        assert kept.is_cached and kept.count() == 5
    assert not kept.is_cached
