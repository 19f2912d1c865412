"""Your own cleansing steps (``cleanse.steps``: ``'module:function'``), run before the built-in cleanse.

A step is a plain function of one DataFrame. It gets a Spark DataFrame, unless the annotation of its
first parameter is ``pyspark.pandas.DataFrame``: then it gets the same rows as pandas-on-Spark, so
pandas-style code needs no conversion and a Spark step pays no pandas overhead. It may return either
kind; a pandas-on-Spark result is turned back into Spark, its default index dropped and a named index
(``set_index("id")``) kept as columns. Example::

    import pyspark.pandas as ps

    def price_per_night(df: ps.DataFrame) -> ps.DataFrame:
        df["price_per_night"] = df["price"] / df["nights"]
        return df
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import logging
import typing
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame

from sparkwright.config.checks import did_you_mean
from sparkwright.errors import ConfigError, DataError

if TYPE_CHECKING:
    import pyspark.pandas as ps

log = logging.getLogger(__name__)

Step = Callable[[Any], Any]

# How a pandas-on-Spark annotation reads when it cannot be resolved (e.g. imported under TYPE_CHECKING).
_PANDAS_ON_SPARK_NAMES = {"ps.DataFrame", "pyspark.pandas.DataFrame", "pyspark.pandas.frame.DataFrame"}


def load_step(spec: str, index: int | None = None) -> Step:
    """Import the function named by ``spec`` (``'package.module:function'``).

    Args:
        spec: The step as written in ``cleanse.steps``.
        index: Its position there, so errors carry the YAML path ``cleanse.steps[index]``.

    Raises:
        ConfigError: ``spec`` is malformed, the module cannot be imported, or has no such function.
    """
    path = "cleanse.steps" if index is None else f"cleanse.steps[{index}]"
    module_name, sep, function_name = spec.partition(":")
    if not sep or not module_name or not function_name.isidentifier():
        raise ConfigError(f"a step is 'module:function' (e.g. my_project.cleaning:fix_prices), got {spec!r}.", path)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise ConfigError(
                f"cannot import module {module_name!r} of step {spec!r}: {exc}. Is the module on PYTHONPATH "
                "(run from the project folder) or installed in this environment?",
                path,
            ) from exc
        raise ConfigError(f"importing module {module_name!r} of step {spec!r} failed: {exc}", path) from exc
    except Exception as exc:  # a module that raises on import (syntax error, missing dependency, ...)
        raise ConfigError(
            f"importing module {module_name!r} of step {spec!r} failed: {type(exc).__name__}: {exc}", path
        ) from exc
    function = getattr(module, function_name, None)
    if function is None:
        functions = [name for name, value in vars(module).items() if inspect.isfunction(value)]
        raise ConfigError(
            f"module {module_name!r} has no function {function_name!r}." + did_you_mean(function_name, functions),
            path,
        )
    if not callable(function):
        raise ConfigError(f"{spec!r} is not a function (it is a {type(function).__name__}).", path)
    return function


def apply_steps(df: DataFrame, steps: list[str]) -> DataFrame:
    """Run each step of ``steps`` on the output of the previous one and return the last result as Spark.

    Every step is loaded before the first one runs, so a typo in the last fails fast. Each step's result
    is analysed at once, so an unknown column in its Spark code is reported as that step's failure.
    pandas-on-Spark steps run with ``compute.default_index_type = distributed``: the default
    ``sequence`` index numbers rows on one partition, which does not scale.

    Raises:
        ConfigError: A step cannot be loaded (YAML path ``cleanse.steps[i]``).
        DataError: A step raised (chained), or returned something other than a Spark or pandas-on-Spark
            DataFrame; the message names the step.
    """
    functions = [load_step(spec, index) for index, spec in enumerate(steps)]
    for index, (spec, function) in enumerate(zip(steps, functions, strict=True)):
        name = f"cleanse.steps[{index}] {spec}"
        wants_pandas = _wants_pandas_on_spark(function)
        try:
            if wants_pandas:
                import pyspark.pandas as ps

                with ps.option_context("compute.default_index_type", "distributed"):
                    result = _to_spark(function(df.pandas_api()))
            else:
                result = _to_spark(function(df))
            if isinstance(result, DataFrame):
                result.columns  # noqa: B018 - analyse now (lazy on Spark Connect) so errors name this step
        except Exception as exc:
            raise DataError(f"{name} failed: {type(exc).__name__}: {exc}") from exc
        if not isinstance(result, DataFrame):
            raise DataError(
                f"{name} returned {_type_name(result)}; a step must return a Spark DataFrame or a pandas-on-Spark "
                "DataFrame" + _hint(result)
            )
        log.info("cleanse step %s -> %d columns", name, len(result.columns))
        df = result
    return df


# ------------------------------------------------------------------------------------------------ helpers


def _wants_pandas_on_spark(function: Step) -> bool:
    """Whether the first parameter is annotated ``pyspark.pandas.DataFrame``."""
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):  # builtins and some C functions have no signature
        return False
    if not parameters:
        return False
    first = parameters[0]
    annotation = first.annotation
    # Names imported under TYPE_CHECKING cannot be resolved; the string annotation is read instead.
    with contextlib.suppress(Exception):
        annotation = typing.get_type_hints(function).get(first.name, annotation)
    if isinstance(annotation, str):
        return annotation.strip("'\"") in _PANDAS_ON_SPARK_NAMES
    if annotation is inspect.Parameter.empty or not isinstance(annotation, type):
        return False
    if annotation.__module__.startswith("pyspark.pandas"):
        import pyspark.pandas as ps

        return issubclass(annotation, ps.DataFrame)
    return False


def _to_spark(result: Any) -> Any:
    """A pandas-on-Spark result as Spark, keeping a named index as columns; anything else unchanged."""
    if type(result).__module__.startswith("pyspark.pandas"):
        import pyspark.pandas as ps

        if isinstance(result, ps.DataFrame):
            return _frame_to_spark(result)
    return result


def _frame_to_spark(frame: ps.DataFrame) -> DataFrame:
    names = list(frame.index.names)
    if any(name is not None for name in names):
        return frame.to_spark(index_col=[f"index_{i}" if name is None else str(name) for i, name in enumerate(names)])
    with warnings.catch_warnings():
        # Dropping the default (unnamed) index is the point; pandas-on-Spark advises against it every time.
        warnings.filterwarnings("ignore", message=".*index_col.*to_spark")
        return frame.to_spark()


def _type_name(value: Any) -> str:
    if value is None:
        return "None"
    kind = type(value)
    return f"a {kind.__module__}.{kind.__qualname__}"


def _hint(value: Any) -> str:
    if value is None:
        return " (does it end with 'return df'?)."
    if type(value).__module__.startswith("pandas"):
        return (
            " (a pandas object lives on the driver only; annotate the parameter as pyspark.pandas.DataFrame "
            "and use the same pandas code, or call spark.createDataFrame on it)."
        )
    return "."
