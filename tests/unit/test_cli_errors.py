"""Spark failures reach the CLI's user as one line and exit code 5, not a Py4J traceback with exit code 1."""

from __future__ import annotations

import pytest
import typer

from sparkwright.cli.common import spark_failure_summary, user_errors


def test_a_spark_analysis_error_exits_5_with_its_first_line(spark, capsys):
    with pytest.raises(typer.Exit) as exited, user_errors():
        spark.sql("SELECT * FROM no_such_table_anywhere").collect()

    assert exited.value.exit_code == 5
    err = capsys.readouterr().err
    assert "error: Spark failed:" in err and "no_such_table_anywhere" in err
    assert "Traceback" not in err


def test_a_jvm_exception_is_summarised_by_its_cause_not_by_py4js_preamble(spark):
    from py4j.protocol import Py4JJavaError

    crash = spark.sparkContext._jvm.java.lang.IllegalStateException("Python worker exited unexpectedly (crashed)")
    failure = Py4JJavaError("An error occurred while calling o7436.collectToPython.\n", crash)

    summary = spark_failure_summary(failure)
    assert summary == "java.lang.IllegalStateException: Python worker exited unexpectedly (crashed)"
    with pytest.raises(typer.Exit) as exited, user_errors():
        raise failure
    assert exited.value.exit_code == 5


def test_other_unexpected_errors_keep_their_traceback():
    with pytest.raises(KeyError), user_errors():
        raise KeyError("a bug of ours")
