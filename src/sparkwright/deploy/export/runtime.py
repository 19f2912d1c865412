"""Score an exported Spark ML pipeline with NumPy: no pyspark, no JVM.

A scorer is the list of a fitted ``PipelineModel``'s stages, each turned into a step over a frame of named
columns, with the fitted state (labels, surrogates, coefficients, trees as flat arrays) stored as JSON and
``.npy`` files. Every step reproduces its Spark stage's column semantics: nulls and NaN, unseen categories
under ``handleInvalid`` keep / error / skip (skip drops rows, as Spark does), the casts Spark applies.

This file imports only NumPy, pandas and the standard library, on purpose: the exporter copies it into
every exported MLflow model as ``sparkwright_scorer.py``, so the model loads where neither sparkwright nor
pyspark is installed. The boosted-tree steps are the exception: they score with LightGBM / xgboost itself,
from the library's own text or JSON model, and import it when a scorer that has them loads (the exported
model's requirements then list it; see :attr:`Step.requirements`).

Example:
    >>> scorer = ExportedScorer.load("exported/artifacts/scorer")
    >>> scorer.predict(pandas_df)          # prediction (+ probability_<i> for classifiers)
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

try:  # inside sparkwright, scoring errors are DataErrors; in a standalone model they are ValueErrors
    from sparkwright.errors import DataError as _BaseError
except ImportError:  # pragma: no cover - the copy shipped inside an exported model
    _BaseError = ValueError

FORMAT = "sparkwright-scorer"
FORMAT_VERSION = 1
MANIFEST = "scorer.json"

INTEGRAL_TYPES = ("tinyint", "smallint", "int", "bigint")
NUMERIC_TYPES = (*INTEGRAL_TYPES, "float", "double")
SCALAR_TYPES = ("string", "boolean", *NUMERIC_TYPES)
VECTOR = "vector"
# The column of predict()'s output that says why the model refused a row (models that prepare raw rows).
REASON_OUTPUT = "_reason"
REASON_FIELDS_SUFFIX = "_fields"


class ScoringError(_BaseError):
    """Input the scorer cannot score: a missing or mistyped column, or a row Spark would refuse too
    (an unseen category or a null under ``handleInvalid="error"``)."""


# ---- columns ------------------------------------------------------------------------------------


@dataclass
class Column:
    """One column of the frame.

    Attributes:
        type: The Spark type it has in the Spark pipeline (``double``, ``int``, ``string``, ``vector``, ...).
        values: 1-D values, or 2-D ``(rows, size)`` for vectors. Strings are an object array with None for null.
        null: True where the value is null (Spark's null, not NaN); None when nothing is null.
    """

    type: str
    values: np.ndarray
    null: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.values)

    def nulls(self) -> np.ndarray:
        return self.null if self.null is not None else np.zeros(len(self.values), dtype=bool)

    def take(self, rows: np.ndarray) -> Column:
        return Column(self.type, self.values[rows], None if self.null is None else self.null[rows])

    def as_double(self) -> np.ndarray:
        """The values cast to double, as Spark's ``CAST(... AS DOUBLE)`` (nulls come back as NaN)."""
        if self.type == "string":
            raise ScoringError("a string column cannot be used as a number")
        values = self.values.astype(np.float64)
        if self.null is not None and self.null.any():
            values = np.where(self.null, np.nan, values)
        return values


class Frame:
    """Named columns of equal length plus the input row labels that survive (skip drops rows)."""

    def __init__(self, columns: dict[str, Column], index: pd.Index):
        self.columns = columns
        self.index = index

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, name: str) -> Column:
        try:
            return self.columns[name]
        except KeyError:
            raise ScoringError(f"column {name!r} is missing; columns: {', '.join(self.columns)}.") from None

    def __setitem__(self, name: str, column: Column) -> None:
        self.columns[name] = column

    def keep_rows(self, keep: np.ndarray) -> None:
        """Drop the rows where ``keep`` is False, from every column (handleInvalid = skip)."""
        if keep.all():
            return
        self.columns = {name: column.take(keep) for name, column in self.columns.items()}
        self.index = self.index[keep]


def input_column(values: Any, spark_type: str, name: str) -> Column:
    """A pandas Series (or sequence) as a column of ``spark_type``.

    Null is None or ``pd.NA``; in a float column NaN stays NaN, as Spark keeps it. In integer, boolean and
    string columns NaN is null too (they cannot hold NaN; pandas writes missing values that way).

    Raises:
        ScoringError: Values that do not fit the type (text in a number column, 1.5 in an integer column).
    """
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    if spark_type == "string":
        null = series.isna().to_numpy()
        array = series.to_numpy(dtype=object, copy=True)
        if pd.api.types.infer_dtype(series, skipna=True) not in ("string", "empty"):
            odd = ~null & ~np.fromiter((isinstance(v, str) for v in array), dtype=bool, count=len(array))
            array[odd] = [_spark_text_of_python(v) for v in array[odd]]
        if null.any():
            array[null] = None
            return Column("string", array, null)
        return Column("string", array)
    # NumPy dtypes take the fast paths; object columns and pandas' nullable dtypes (Int64, Float64,
    # boolean, with pd.NA) go value by value.
    kind = series.dtype.kind if isinstance(series.dtype, np.dtype) else "O"
    if spark_type in ("double", "float"):
        dtype = np.float64 if spark_type == "double" else np.float32
        if kind in "fiub":
            return Column(spark_type, series.to_numpy(dtype=np.float64).astype(dtype))
        array = series.to_numpy(dtype=object)
        null = np.fromiter((v is None or v is pd.NA for v in array), dtype=bool, count=len(array))
        try:
            numbers = np.array([0.0 if n else v for v, n in zip(array, null, strict=True)], dtype=np.float64)
        except (TypeError, ValueError):
            odd = _first_odd(array)
            raise ScoringError(f"column {name!r} must hold numbers ({spark_type}); got {odd!r}.") from None
        return Column(spark_type, numbers.astype(dtype), null if null.any() else None)
    if spark_type in INTEGRAL_TYPES or spark_type == "boolean":
        if kind in "iub":
            return Column(spark_type, series.to_numpy().astype(bool if spark_type == "boolean" else np.int64))
        array = series.to_numpy(dtype=object)
        null = _is_missing(array)
        values = [0 if n else _whole(v, name, spark_type) for v, n in zip(array, null, strict=True)]
        if spark_type == "boolean":
            if any(v not in (0, 1) for v in values):
                raise ScoringError(f"column {name!r} must hold true or false.")
            return Column("boolean", np.array(values, dtype=bool), null if null.any() else None)
        return Column(spark_type, np.array(values, dtype=np.int64), null if null.any() else None)
    raise ScoringError(f"column {name!r} has type {spark_type!r}, which the scorer does not read.")


def _whole(value: Any, name: str, spark_type: str) -> int:
    """An integer value exactly (no detour through float, which rounds above 2**53)."""
    try:
        if isinstance(value, str):
            raise TypeError
        whole = int(value)
    except (TypeError, ValueError):
        raise ScoringError(f"column {name!r} must hold {spark_type} values; got {value!r}.") from None
    if whole != value:
        raise ScoringError(f"column {name!r} must hold whole numbers ({spark_type}); got {value!r}.")
    return whole


def _is_missing(array: np.ndarray) -> np.ndarray:
    return np.fromiter(
        (v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) for v in array),
        dtype=bool,
        count=len(array),
    )


def _first_odd(array: np.ndarray) -> Any:
    for value in array:
        try:
            float(value)
        except (TypeError, ValueError):
            return value
    return None


# ---- Spark's text of numbers (StringIndexer casts numeric input to string) ---------------------

_JAVA_PLAIN = re.compile(r"-?(0|[1-9]\d*)\.(0|\d*[1-9])")
_JAVA_SCIENTIFIC = re.compile(r"-?[1-9]\.(0|\d*[1-9])E-?[1-9]\d*")
_INTEGER = re.compile(r"-?(0|[1-9]\d*)")


def java_double_text(value: float, single: bool = False) -> str:
    """``CAST(x AS STRING)`` of a double (or float), as Java's ``Double.toString`` writes it.

    Used for messages only: matching numbers to StringIndexer labels compares values, not text, because
    Java 17's digits differ from the shortest ones for some values above 1e16 (and for floats).
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    text = np.format_float_scientific(np.float32(value) if single else value, unique=True, trim="k")
    mantissa, exponent_text = text.split("e")
    exponent = int(exponent_text)
    sign = "-" if mantissa.startswith("-") else ""
    digits = mantissa.lstrip("-").replace(".", "").rstrip("0") or "0"
    if 1e-3 <= abs(value) < 1e7:
        point = exponent + 1
        if point <= 0:
            return f"{sign}0.{'0' * -point}{digits}"
        if point >= len(digits):
            return f"{sign}{digits}{'0' * (point - len(digits))}.0"
        return f"{sign}{digits[:point]}.{digits[point:]}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{exponent}"


def label_as_number(label: str, spark_type: str) -> float | int | None:
    """The number whose Spark text is ``label`` in a column of ``spark_type``; None if no number has it.

    Spark's number-to-text cast is one-to-one and its text parses back to the same number, so a value
    matches a label exactly when it equals the label's number: no formatting has to be reproduced.
    """
    if spark_type in INTEGRAL_TYPES:
        return int(label) if _INTEGER.fullmatch(label) else None
    if label in ("Infinity", "-Infinity"):
        return float(label.replace("Infinity", "inf"))
    plain, scientific = _JAVA_PLAIN.fullmatch(label), _JAVA_SCIENTIFIC.fullmatch(label)
    if not (plain or scientific):
        return None
    number = float(np.float32(label)) if spark_type == "float" else float(label)
    if number == 0:
        return number if plain else None
    in_plain_range = 1e-3 <= abs(number) < 1e7
    return number if bool(plain) == in_plain_range else None


def _spark_text_of_python(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        return java_double_text(float(value))
    return str(value)


def _spark_text(column: Column, row: int) -> str:
    if column.null is not None and column.null[row]:
        return "null"
    value = column.values[row]
    if column.type in ("double", "float"):
        return java_double_text(float(value), single=column.type == "float")
    return _spark_text_of_python(value.item() if hasattr(value, "item") else value)


def _bits(values: np.ndarray, spark_type: str) -> np.ndarray:
    """Exact keys for numbers: bit patterns, so -0.0 and 0.0 differ as their Spark texts do."""
    if spark_type == "double":
        return np.ascontiguousarray(values, dtype=np.float64).view(np.int64)
    if spark_type == "float":
        return np.ascontiguousarray(values, dtype=np.float32).view(np.int32).astype(np.int64)
    return np.asarray(values, dtype=np.int64)


# ---- steps --------------------------------------------------------------------------------------

_STEPS: dict[str, type[Step]] = {}


def _register(cls: type[Step]) -> type[Step]:
    _STEPS[cls.kind] = cls
    return cls


class Step:
    """One fitted Spark stage as NumPy. ``params`` is JSON; ``arrays`` are saved as ``.npy`` files.

    ``params["stage"]`` names the Spark stage (class and uid) for messages.
    """

    kind: ClassVar[str]
    # Packages the step imports beyond NumPy and pandas; the exported model's requirements add them.
    requirements: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: dict[str, Any], arrays: Mapping[str, np.ndarray] | None = None):
        self.params = params
        self.arrays = {name: np.asarray(array) for name, array in (arrays or {}).items()}
        self._prepare()

    def _prepare(self) -> None:
        """Derived lookups, built once at load."""

    @property
    def stage(self) -> str:
        return self.params.get("stage", self.kind)

    def inputs(self) -> list[str]:
        raise NotImplementedError

    def outputs(self) -> list[str]:
        raise NotImplementedError

    def prune(self, needed: set[str]) -> Step | None:
        """This step reduced to the outputs in ``needed``; None when it makes none of them."""
        return self if set(self.outputs()) & needed else None

    def apply(self, frame: Frame) -> None:
        raise NotImplementedError

    def _error(self, message: str) -> ScoringError:
        return ScoringError(f"{self.stage}: {message}")


class _PerColumnStep(Step):
    """A stage with ``inputCols`` / ``outputCols`` pairs, each entry of ``params["columns"]`` one pair."""

    def inputs(self) -> list[str]:
        return [c["input"] for c in self.params["columns"]]

    def outputs(self) -> list[str]:
        return [c["output"] for c in self.params["columns"]]

    def prune(self, needed: set[str]) -> Step | None:
        kept = [c for c in self.params["columns"] if c["output"] in needed]
        if not kept:
            return None
        if len(kept) == len(self.params["columns"]):
            return self
        return type(self)({**self.params, "columns": kept}, self.arrays)


@_register
class StringIndexerStep(_PerColumnStep):
    """``StringIndexerModel``: label -> index in ``labelsArray`` order; numbers are matched as Spark's text of them.

    Null and unseen labels: ``keep`` gives index ``len(labels)``, ``error`` raises, ``skip`` drops the row
    (first every row with a null, or NaN in a number column, in an indexed column, then unseen labels). An
    input column absent from the data is skipped, as Spark skips it.
    """

    kind = "string_indexer"

    def _prepare(self) -> None:
        # Per column: key -> label index as a dict (few rows) and as a pandas Index (many rows). Numbers are
        # keyed by their bit pattern, strings by themselves.
        self._lookups: list[tuple[dict[Any, int], pd.Index, np.ndarray]] = []
        for column in self.params["columns"]:
            labels, spark_type = column["labels"], column.get("input_type", "string")
            if spark_type == "string":
                keys, positions = list(labels), list(range(len(labels)))
                index = pd.Index(keys, dtype=object)
            else:
                numbers = [label_as_number(label, spark_type) for label in labels]
                positions = [i for i, n in enumerate(numbers) if n is not None]
                bits = _bits(np.array([numbers[i] for i in positions], dtype=_NUMPY_OF[spark_type]), spark_type)
                keys, index = bits.tolist(), pd.Index(bits)
            self._lookups.append((dict(zip(keys, positions, strict=True)), index, np.array(positions, dtype=np.int64)))

    def _positions(self, i: int, column: Column) -> np.ndarray:
        """Index of each row's label, -1 for null and unseen."""
        mapping, index, label_of_key = self._lookups[i]
        keys = column.values if column.type == "string" else _bits(column.values, column.type)
        if len(keys) <= _FEW_ROWS:
            found = np.fromiter((mapping.get(k, -1) for k in keys.tolist()), dtype=np.int64, count=len(keys))
        else:
            at = index.get_indexer(keys)
            found = np.where(at >= 0, label_of_key[np.maximum(at, 0)], -1) if len(label_of_key) else at
        if column.type != "string" and column.null is not None:
            found = np.where(column.null, -1, found)
        return found

    def apply(self, frame: Frame) -> None:
        present = [(i, c) for i, c in enumerate(self.params["columns"]) if c["input"] in frame.columns]
        how = self.params["handle_invalid"]
        if how == "skip":
            keep = np.ones(len(frame), dtype=bool)
            for i, c in present:
                column = frame[c["input"]]
                keep &= ~column.nulls()
                if column.type in ("double", "float"):
                    keep &= ~np.isnan(column.values)
                keep &= self._positions(i, column) >= 0
            frame.keep_rows(keep)
        for i, c in present:
            column = frame[c["input"]]
            positions = self._positions(i, column)
            bad = positions < 0
            if bad.any():
                if how == "keep":
                    positions = np.where(bad, len(c["labels"]), positions)
                else:
                    row = int(np.argmax(bad))
                    if column.null is not None and column.null[row]:
                        raise self._error(
                            f"column {c['input']!r} has a null; StringIndexer with handleInvalid='error' refuses "
                            "nulls (Spark: 'StringIndexer encountered NULL value')."
                        )
                    raise self._error(
                        f"Unseen label: {_spark_text(column, row)} in column {c['input']!r}; the model knows "
                        f"{len(c['labels'])} labels and handleInvalid='error' refuses others."
                    )
            frame[c["output"]] = Column("double", positions.astype(np.float64))


# Below this many rows a dict lookup beats building a pandas index over the values.
_FEW_ROWS = 64
_NUMPY_OF = {"double": np.float64, "float": np.float32, **dict.fromkeys(INTEGRAL_TYPES, np.int64)}


@_register
class OneHotEncoderStep(_PerColumnStep):
    """``OneHotEncoderModel``: index -> vector of the configured size (``dropLast``, ``handleInvalid``)."""

    kind = "one_hot_encoder"

    def apply(self, frame: Frame) -> None:
        keep_invalid = self.params["handle_invalid"] == "keep"
        drop_last = self.params["drop_last"]
        for c in self.params["columns"]:
            column = frame[c["input"]]
            values = column.as_double()
            null = column.nulls()
            original = int(c["size"])
            # Spark's configured size: one slot for invalid values with keep, one dropped with dropLast.
            size = original + (1 if keep_invalid else 0) - (1 if drop_last else 0)
            with np.errstate(invalid="ignore"):
                valid = (values >= 0) & (values < original)
            invalid = ~valid & ~null
            if invalid.any():
                if not keep_invalid:
                    value = values[int(np.argmax(invalid))]
                    what = f"Negative value: {value}" if value < 0 else f"Unseen value: {value}"
                    raise self._error(f"{what} in column {c['input']!r}; handleInvalid='error' refuses it.")
                values = np.where(invalid, original, values)
            slot = np.where(null, size, np.trunc(np.nan_to_num(values, nan=size))).astype(np.int64)
            out = np.zeros((len(values), size), dtype=np.float64)
            hot = slot < size
            out[np.nonzero(hot)[0], slot[hot]] = 1.0
            frame[c["output"]] = Column(VECTOR, out, null if null.any() else None)


@_register
class ImputerStep(_PerColumnStep):
    """``ImputerModel``: null and ``missingValue`` -> the surrogate, cast back to the column's type."""

    kind = "imputer"

    def apply(self, frame: Frame) -> None:
        missing = float(self.params["missing_value"])
        for c in self.params["columns"]:
            column = frame[c["input"]]
            values = column.as_double()
            # Spark SQL's NaN = NaN is true, so NaN is replaced when missingValue is NaN.
            replace = column.nulls() | (np.isnan(values) if math.isnan(missing) else values == missing)
            out = np.where(replace, float(c["surrogate"]), values)
            frame[c["output"]] = Column(column.type, _cast_double(out, column.type))


def _cast_double(values: np.ndarray, spark_type: str) -> np.ndarray:
    """Spark's ``CAST(double AS type)``: truncation toward zero for integers."""
    if spark_type == "double":
        return values
    if spark_type == "float":
        return values.astype(np.float32)
    if spark_type in INTEGRAL_TYPES:
        return np.trunc(values).astype(np.int64)
    raise ScoringError(f"cannot cast double to {spark_type}")


@_register
class VectorAssemblerStep(Step):
    """``VectorAssembler``: numbers, booleans and vectors -> one vector; nulls and NaN per ``handleInvalid``.

    ``error`` refuses a null anywhere and a NaN number (NaN inside a vector passes, as in Spark); ``keep``
    writes NaN for them; ``skip`` drops rows with a null, or a NaN number, in any input column.
    """

    kind = "vector_assembler"

    def inputs(self) -> list[str]:
        return list(self.params["inputs"])

    def outputs(self) -> list[str]:
        return [self.params["output"]]

    def apply(self, frame: Frame) -> None:
        how = self.params["handle_invalid"]
        names = self.params["inputs"]
        if how == "skip":
            keep = np.ones(len(frame), dtype=bool)
            for name in names:
                column = frame[name]
                keep &= ~column.nulls()
                if column.type in ("double", "float"):
                    keep &= ~np.isnan(column.values)
            frame.keep_rows(keep)
        parts = []
        for name in names:
            column = frame[name]
            null = column.nulls()
            if how == "error" and null.any():
                raise self._error(
                    f"Encountered null in column {name!r} while assembling a row with handleInvalid = 'error'. "
                    "Consider removing nulls from dataset or using handleInvalid = 'keep' or 'skip'."
                )
            if column.type == VECTOR:
                part = column.values
                if null.any():
                    part = np.where(null[:, None], np.nan, part)
                parts.append(part)
                continue
            values = column.as_double()
            if how == "error" and np.isnan(values).any():
                raise self._error(
                    f"Encountered NaN in column {name!r} while assembling a row with handleInvalid = 'error'. "
                    "Consider removing NaNs from dataset or using handleInvalid = 'keep' or 'skip'."
                )
            parts.append(values[:, None])
        out = np.hstack(parts) if parts else np.zeros((len(frame), 0))
        frame[self.params["output"]] = Column(VECTOR, np.ascontiguousarray(out, dtype=np.float64))


@_register
class StandardScalerStep(Step):
    """``StandardScalerModel``: ``(x - mean) * (1 / std)`` (0 where std is 0), per ``withMean`` / ``withStd``."""

    kind = "standard_scaler"

    def _prepare(self) -> None:
        std = self.arrays["std"]
        with np.errstate(divide="ignore"):
            self._scale = np.where(std == 0, 0.0, 1.0 / np.where(std == 0, 1.0, std))

    def inputs(self) -> list[str]:
        return [self.params["input"]]

    def outputs(self) -> list[str]:
        return [self.params["output"]]

    def apply(self, frame: Frame) -> None:
        column = frame[self.params["input"]]
        values = column.values
        with_mean, with_std = self.params["with_mean"], self.params["with_std"]
        if with_mean and with_std:
            out = (values - self.arrays["mean"]) * self._scale
        elif with_std:
            out = values * self._scale
        elif with_mean:
            out = values - self.arrays["mean"]
        else:
            out = values.copy()
        frame[self.params["output"]] = Column(VECTOR, out, column.null)


@_register
class ConstantStep(Step):
    """``SQLTransformer``: ``SELECT *, CAST(<number> AS DOUBLE) AS `out` FROM __THIS__`` (the mean baseline)."""

    kind = "sql_constant"

    def inputs(self) -> list[str]:
        return []

    def outputs(self) -> list[str]:
        return [self.params["output"]]

    def apply(self, frame: Frame) -> None:
        frame[self.params["output"]] = Column("double", np.full(len(frame), float(self.params["value"])))


@_register
class ExpStep(Step):
    """``SQLTransformer``: ``SELECT *, EXP(`in`) AS `out` FROM __THIS__`` (predictions trained on log(label))."""

    kind = "sql_exp"

    def inputs(self) -> list[str]:
        return [self.params["input"]]

    def outputs(self) -> list[str]:
        return [self.params["output"]]

    def apply(self, frame: Frame) -> None:
        column = frame[self.params["input"]]
        with np.errstate(over="ignore", invalid="ignore"):
            out = np.exp(column.as_double())
        frame[self.params["output"]] = Column("double", out, column.null)


@_register
class IndexToLabelStep(Step):
    """``SQLTransformer``: ``CASE CAST(`idx` AS INT) WHEN 0 THEN CAST('No' AS string) ... END`` (class index -> label).

    ``params["labels"]`` maps the index (as text, JSON keys) to the label already cast to ``label_type``; an
    index with no WHEN gives null.
    """

    kind = "sql_index_to_label"

    def _prepare(self) -> None:
        mapping = {int(k): v for k, v in self.params["labels"].items()}
        self._indices = np.array(sorted(mapping), dtype=np.int64)
        self._labels = np.array([mapping[i] for i in sorted(mapping)], dtype=_LABEL_DTYPES[self.params["label_type"]])

    def inputs(self) -> list[str]:
        return [self.params["input"]]

    def outputs(self) -> list[str]:
        return [self.params["output"]]

    def apply(self, frame: Frame) -> None:
        column = frame[self.params["input"]]
        values = column.as_double()
        if np.isnan(values[~column.nulls()]).any():
            raise self._error(f"column {self.params['input']!r} has NaN, which Spark cannot cast to INT.")
        index = np.trunc(np.nan_to_num(values, nan=-1)).astype(np.int64)
        where = np.searchsorted(self._indices, index)
        where = np.minimum(where, len(self._indices) - 1)
        found = (self._indices[where] == index) & ~column.nulls()
        out = self._labels[where]
        null = None
        if not found.all():
            out = out.astype(object)
            out[~found] = None
            null = ~found
        frame[self.params["output"]] = Column(self.params["label_type"], out, null)


_LABEL_DTYPES = {
    "string": object,
    "boolean": bool,
    "double": np.float64,
    "float": np.float32,
    **dict.fromkeys(INTEGRAL_TYPES, np.int64),
}


# ---- models -------------------------------------------------------------------------------------


class _ModelStep(Step):
    """A model reading the ``features`` vector column. Classifiers follow Spark's
    ``ProbabilisticClassificationModel.transform``: raw prediction, then probability from it, then the
    prediction from the raw prediction (or from the probability when there is no raw column)."""

    def inputs(self) -> list[str]:
        return [self.params["features"]]

    def outputs(self) -> list[str]:
        return [c for c in (self.params.get("raw"), self.params.get("probability"), self.params["prediction"]) if c]

    def _features(self, frame: Frame) -> np.ndarray:
        column = frame[self.params["features"]]
        if column.null is not None and column.null.any():
            raise self._error(f"the feature vector {self.params['features']!r} is null for some rows.")
        if column.values.shape[1] != self.params["num_features"]:
            raise self._error(
                f"the feature vector has {column.values.shape[1]} slots; "
                f"the model expects {self.params['num_features']}."
            )
        return column.values


class _Classifier(_ModelStep):
    def predict_raw(self, features: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def raw_to_probability(self, raw: np.ndarray) -> np.ndarray:
        return _normalize(raw, self)

    def raw_to_prediction(self, raw: np.ndarray) -> np.ndarray:
        if self.params.get("thresholds") is None:
            return _spark_argmax(raw)
        return self.probability_to_prediction(self.raw_to_probability(raw))

    def probability_to_prediction(self, probability: np.ndarray) -> np.ndarray:
        thresholds = self.params.get("thresholds")
        if thresholds is None:
            return _spark_argmax(probability)
        with np.errstate(divide="ignore", invalid="ignore"):
            return _spark_argmax(probability / np.asarray(thresholds, dtype=np.float64), start=-np.inf)

    def predict_direct(self, features: np.ndarray) -> np.ndarray:
        """``predict(features)``, used only when both the raw and the probability columns are switched off."""
        raw = self.predict_raw(features)
        if self.params.get("thresholds") is None:
            return self.raw_to_prediction(raw)
        return self.probability_to_prediction(self.raw_to_probability(raw))

    def apply(self, frame: Frame) -> None:
        features = self._features(frame)
        raw_col, probability_col, prediction_col = (
            self.params.get("raw"),
            self.params.get("probability"),
            self.params["prediction"],
        )
        raw = probability = None
        if raw_col or probability_col:
            raw = self.predict_raw(features)
        if raw_col:
            frame[raw_col] = Column(VECTOR, raw)
        if probability_col:
            probability = self.raw_to_probability(raw.copy())
            frame[probability_col] = Column(VECTOR, probability)
        if prediction_col:
            if raw_col:
                prediction = self.raw_to_prediction(raw)
            elif probability_col:
                prediction = self.probability_to_prediction(probability)
            else:
                prediction = self.predict_direct(features)
            frame[prediction_col] = Column("double", prediction.astype(np.float64))


def _spark_argmax(values: np.ndarray, start: float | None = None) -> np.ndarray:
    """Spark's argmax per row: the first strictly greatest value; NaN never wins (index 0 if all NaN).

    ``start=None`` starts from the first value (``Vector.argmax``); ``-inf`` is the threshold loop's start.
    """
    best = values[:, 0].copy() if start is None else np.full(len(values), start)
    index = np.zeros(len(values), dtype=np.float64)
    for k in range(0 if start is not None else 1, values.shape[1]):
        better = values[:, k] > best
        best = np.where(better, values[:, k], best)
        index = np.where(better, float(k), index)
    return index


def _sequential_sum(values: np.ndarray) -> np.ndarray:
    """Row sums left to right, in Scala's order (NumPy's pairwise sum rounds differently)."""
    total = values[:, 0].copy()
    for k in range(1, values.shape[1]):
        total += values[:, k]
    return total


def _normalize(raw: np.ndarray, step: Step) -> np.ndarray:
    """``normalizeToProbabilitiesInPlace``: divide by the sum; Spark refuses negatives and an all-zero vector."""
    total = _sequential_sum(raw)
    if (raw < 0).any() or (total <= 0).any():
        raise step._error("cannot normalise the raw prediction to probabilities (negative or all-zero counts).")
    return raw / total[:, None]


@_register
class LinearRegressionStep(_ModelStep):
    """``LinearRegressionModel``: ``features . coefficients + intercept``."""

    kind = "linear_regression"

    def apply(self, frame: Frame) -> None:
        features = self._features(frame)
        prediction = features @ self.arrays["coefficients"] + float(self.params["intercept"])
        frame[self.params["prediction"]] = Column("double", prediction)


@_register
class KMeansStep(_ModelStep):
    """``KMeansModel`` (Euclidean): the index of the nearest centre, the first one on a tie as in Spark."""

    kind = "kmeans"

    def apply(self, frame: Frame) -> None:
        features = self._features(frame)
        centers = self.arrays["centers"]
        # |x - c|^2 = |x|^2 - 2 x.c + |c|^2, and |x|^2 is the same for every centre of a row.
        distances = (centers**2).sum(axis=1) - 2.0 * features @ centers.T
        frame[self.params["prediction"]] = Column("int", distances.argmin(axis=1).astype(np.int32))


@_register
class GaussianMixtureStep(_ModelStep):
    """``GaussianMixtureModel``: membership probabilities ``(1e-16-ish + w_i pdf_i(x))`` normalised, and the
    most probable cluster, as Spark computes them (pseudo-inverse and pseudo-determinant of each covariance,
    so a singular one, from one-hot slots, scores as in Spark)."""

    kind = "gaussian_mixture"

    def _prepare(self) -> None:
        eps = np.finfo(np.float64).eps
        self._roots, self._constants = [], []
        for cov in self.arrays["covariances"]:
            values, vectors = np.linalg.eigh(cov)
            tol = eps * values.max() * len(values)
            kept = values > tol
            self._roots.append((np.where(kept, np.sqrt(1.0 / np.where(kept, values, 1.0)), 0.0))[:, None] * vectors.T)
            log_det = float(np.log(values[kept]).sum())
            self._constants.append(-0.5 * (len(values) * np.log(2 * np.pi) + log_det))

    def apply(self, frame: Frame) -> None:
        features = self._features(frame)
        weights, means = self.arrays["weights"], self.arrays["means"]
        dense = np.empty((len(features), len(weights)))
        for i, (root, constant) in enumerate(zip(self._roots, self._constants, strict=True)):
            centred = (features - means[i]) @ root.T
            dense[:, i] = np.finfo(np.float64).eps + weights[i] * np.exp(constant - 0.5 * (centred**2).sum(axis=1))
        probability = dense / dense.sum(axis=1, keepdims=True)
        if self.params.get("probability"):
            frame[self.params["probability"]] = Column(VECTOR, probability)
        frame[self.params["prediction"]] = Column("int", probability.argmax(axis=1).astype(np.int32))


@_register
class LogisticRegressionStep(_Classifier):
    """``LogisticRegressionModel``: binomial (margin, sigmoid, ``threshold``) or multinomial (softmax)."""

    kind = "logistic_regression"

    def predict_raw(self, features: np.ndarray) -> np.ndarray:
        margins = features @ self.arrays["coefficients"].T + self.arrays["intercepts"]
        if self.params["multinomial"]:
            return margins
        return np.column_stack([-margins[:, 0], margins[:, 0]])

    def raw_to_probability(self, raw: np.ndarray) -> np.ndarray:
        if not self.params["multinomial"]:
            first = 1.0 / (1.0 + np.exp(-raw[:, 0]))
            return np.column_stack([first, 1.0 - first])
        return _spark_softmax(raw)

    def raw_to_prediction(self, raw: np.ndarray) -> np.ndarray:
        if self.params["multinomial"]:
            return super().raw_to_prediction(raw)
        return (raw[:, 1] > self.params["binary_thresholds"][1]).astype(np.float64)

    def probability_to_prediction(self, probability: np.ndarray) -> np.ndarray:
        if self.params["multinomial"]:
            return super().probability_to_prediction(probability)
        return (probability[:, 1] > self.params["binary_thresholds"][0]).astype(np.float64)

    def predict_direct(self, features: np.ndarray) -> np.ndarray:
        if self.params["multinomial"]:
            return super().predict_direct(features)
        margin = self.predict_raw(features)[:, 1]
        return (1.0 / (1.0 + np.exp(-margin)) > self.params["binary_thresholds"][0]).astype(np.float64)


def _spark_softmax(raw: np.ndarray) -> np.ndarray:
    """Spark's ``Utils.softmax``: exp(x - max) / sum, multiplied by 1/sum; +inf makes a one-hot row."""
    largest = np.full(len(raw), -np.finfo(np.float64).max)
    for k in range(raw.shape[1]):
        largest = np.where(raw[:, k] > largest, raw[:, k], largest)
    with np.errstate(over="ignore", invalid="ignore"):
        exps = np.exp(raw - largest[:, None])
    out = exps * (1.0 / _sequential_sum(exps))[:, None]
    infinite = np.isposinf(raw)
    if infinite.any():
        rows = np.nonzero(infinite.any(axis=1))[0]
        first = np.argmax(infinite[rows], axis=1)
        out[rows] = 0.0
        out[rows, first] = 1.0
    return out


@_register
class TreeEnsembleStep(_Classifier):
    """Decision tree, random forest and gradient-boosted trees, regression and classification.

    All trees sit in flat arrays (one row per node, children by position) and are walked together, one
    level per NumPy pass. Continuous splits send ``x <= threshold`` left (NaN goes right); categorical
    splits send the left categories left, and a value outside ``0 .. numCategories-1`` goes where Spark's
    ``CategoricalSplit`` sends it (right when it stores the left set, left when it stores the right set).

    ``params["ensemble"]``: ``tree`` (one tree), ``forest`` (mean of predictions, or for classifiers the sum
    of each tree's normalised leaf counts), ``boosted`` (``sum(weight * prediction)``; classifiers turn that
    margin into ``[-m, m]`` and probability ``1 / (1 + exp(-2 m))``).
    """

    kind = "trees"

    def _prepare(self) -> None:
        a = self.arrays
        self._roots = a["roots"].astype(np.int64)
        self._feature = a["feature"].astype(np.int64)
        self._threshold = a["threshold"]
        self._left = a["left"].astype(np.int64)
        self._right = a["right"].astype(np.int64)
        self._categorical = a["categorical"].astype(bool)
        self._num_categories = a["num_categories"].astype(np.int64)
        self._category_row = a["category_row"].astype(np.int64)
        self._left_categories = a["left_categories"].astype(bool)
        # children[2 * node + goes_left]: one gather per level instead of two and a where.
        self._children = np.stack([self._right, self._left], axis=1).ravel()
        self._has_categorical = bool(self._categorical.any())
        # Spark's CategoricalSplit keeps the smaller side; values outside the categories go the other way.
        self._outside_goes_left = np.zeros(len(self._feature), dtype=bool)
        if self._has_categorical:
            left_count = self._left_categories.sum(axis=1)[np.maximum(self._category_row, 0)]
            self._outside_goes_left = self._categorical & ~(left_count <= self._num_categories // 2)
            # One row per categorical split: whether each category goes left, then a last slot for the rest.
            width = self._left_categories.shape[1] + 1
            outside = self._outside_goes_left[self._categorical]
            self._category_table = np.column_stack([self._left_categories, outside]).ravel()
            self._category_width = width
        if self.params["task"] == "classification" and self.params["ensemble"] == "forest":
            stats = a["stats"]
            total = _sequential_sum(stats)
            safe = np.where(total == 0, 1.0, total)
            self._votes = np.where((total == 0)[:, None], 0.0, stats / safe[:, None])

    def _leaves(self, features: np.ndarray) -> np.ndarray:
        """Leaf node of every (row, tree): all pairs step down one level per pass; those at a leaf drop out."""
        rows, trees = len(features), len(self._roots)
        node = np.tile(self._roots, rows)
        row_start = np.repeat(np.arange(rows) * features.shape[1], trees)
        flat = np.ascontiguousarray(features).ravel()
        active = np.flatnonzero(self._feature[node] >= 0)
        for _ in range(int(self.params["max_depth"]) + 1):
            if not active.size:
                break
            at = node[active]
            value = flat[row_start[active] + self._feature[at]]
            go_left = value <= self._threshold[at]
            if self._has_categorical:
                categorical = self._categorical[at]
                if categorical.any():
                    go_left[categorical] = self._categorical_left(at[categorical], value[categorical])
            following = self._children[2 * at + go_left]
            node[active] = following
            active = active[self._feature[following] >= 0]
        return node.reshape(rows, trees)

    def _categorical_left(self, at: np.ndarray, value: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            slot = value.astype(np.int64)
        inside = (slot >= 0) & (slot < self._num_categories[at]) & (slot == value)
        slot = np.where(inside, slot, self._category_width - 1)
        return self._category_table[self._category_row[at] * self._category_width + slot]

    def _tree_predictions(self, features: np.ndarray) -> np.ndarray:
        return self.arrays["value"][self._leaves(features)]

    def _combine(self, predictions: np.ndarray) -> np.ndarray:
        ensemble = self.params["ensemble"]
        if ensemble == "tree":
            return predictions[:, 0]
        if ensemble == "forest":
            return _sequential_sum(predictions) / predictions.shape[1]
        weighted = predictions * self.arrays["tree_weights"]
        return _sequential_sum(weighted)

    def apply(self, frame: Frame) -> None:
        if self.params["task"] == "classification":
            super().apply(frame)
            return
        features = self._features(frame)
        prediction = self._combine(self._tree_predictions(features))
        frame[self.params["prediction"]] = Column("double", prediction)

    # classification

    def predict_raw(self, features: np.ndarray) -> np.ndarray:
        ensemble = self.params["ensemble"]
        if ensemble == "boosted":
            margin = self._combine(self._tree_predictions(features))
            return np.column_stack([-margin, margin])
        leaves = self._leaves(features)
        if ensemble == "tree":
            return self.arrays["stats"][leaves[:, 0]].copy()
        votes = self._votes[leaves[:, 0]].copy()
        for t in range(1, leaves.shape[1]):
            votes += self._votes[leaves[:, t]]
        return votes

    def raw_to_probability(self, raw: np.ndarray) -> np.ndarray:
        if self.params["ensemble"] == "boosted":
            first = 1.0 / (1.0 + np.exp(-2.0 * raw[:, 0]))
            return np.column_stack([first, 1.0 - first])
        return _normalize(raw, self)

    def predict_direct(self, features: np.ndarray) -> np.ndarray:
        ensemble = self.params["ensemble"]
        if self.params.get("thresholds") is not None:
            return super().predict_direct(features)
        if ensemble == "tree":
            return self.arrays["value"][self._leaves(features)[:, 0]]
        if ensemble == "boosted":
            return (self._combine(self._tree_predictions(features)) > 0).astype(np.float64)
        return super().predict_direct(features)


@_register
class SklearnClassesStep(Step):
    """The class outputs of sparkwright's ``SklearnModel`` (``type: sklearn``), after the model step that scored it.

    ``params["source"]`` says what that model step left in ``params["input"]``: ``probability`` (the
    estimator's class columns, from the tree step), ``binary_margin`` (a logistic regression's raw
    ``[-m, m]``: class 1 gets ``expit(m)`` and class 0 ``1 - expit(m)``, as scikit-learn computes them) or
    ``margins`` (one per class, turned into probabilities by scikit-learn's softmax). The columns then go
    into class-index order (``order[k]`` is the estimator's column of class k, -1 for a class absent from
    training, which gets 0) and the class is picked as ``predict_local`` picks it: NumPy's argmax (first
    maximum), or with two classes and ``threshold``, class 1 exactly when its probability is >= threshold.

    It writes the model step's probability column again, so that step remains the pipeline's classifier.
    """

    kind = "sklearn_classes"

    def inputs(self) -> list[str]:
        return [self.params["input"]]

    def outputs(self) -> list[str]:
        return [self.params["probability"], self.params["prediction"]]

    def apply(self, frame: Frame) -> None:
        values = frame[self.params["input"]].values
        source = self.params["source"]
        if source == "binary_margin":
            # sklearn's order: p1 first, p0 = 1 - p1 (Spark's is the reverse; near 0 they differ relatively).
            with np.errstate(over="ignore"):  # exp(-m) = inf gives p1 = 0, as scipy's expit does
                positive = 1.0 / (1.0 + np.exp(-values[:, 1]))
            columns = np.column_stack([1.0 - positive, positive])
        elif source == "margins":
            # sklearn.utils.extmath.softmax, operation for operation.
            columns = values - np.max(values, axis=1).reshape(-1, 1)
            np.exp(columns, out=columns)
            columns /= np.sum(columns, axis=1).reshape(-1, 1)
        else:
            columns = values
        order = np.asarray(self.params["order"], dtype=np.int64)
        probability = np.where(order >= 0, columns[:, np.maximum(order, 0)], 0.0)
        threshold = self.params.get("threshold")
        if threshold is not None and probability.shape[1] == 2:
            prediction = (probability[:, 1] >= float(threshold)).astype(np.float64)
        else:
            prediction = np.argmax(probability, axis=1).astype(np.float64)
        frame[self.params["probability"]] = Column(VECTOR, probability)
        frame[self.params["prediction"]] = Column("double", prediction)


# ---- boosted trees, scored by their own library ---------------------------------------------------


def model_bytes(text: str | bytes) -> np.ndarray:
    """A library's own model file (LightGBM's text, xgboost's JSON) as a uint8 array: saved as ``.npy``."""
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    return np.frombuffer(data, dtype=np.uint8).copy()


@_register
class LightGBMStep(_ModelStep):
    """sparkwright's ``LightGBMModel``: the booster from LightGBM's text model, scored by ``lightgbm``.

    As ``predict_local`` scores it in Spark: a regression's value; for a classifier ``LGBMClassifier``'s
    probabilities placed at their class index (``params["classes"]``; a class absent from training gets 0),
    then class 1 exactly when its probability is >= ``params["threshold"]`` (binary, when set) or the
    first most probable class.
    """

    kind = "lightgbm"
    requirements = ("lightgbm",)

    def _prepare(self) -> None:
        import lightgbm

        self._booster = lightgbm.Booster(model_str=self.arrays["model"].tobytes().decode("utf-8"))

    def apply(self, frame: Frame) -> None:
        features = self._features(frame)
        rows = len(features)
        raw = self._booster.predict(features) if rows else np.zeros(0)
        if not self.params.get("num_classes"):
            frame[self.params["prediction"]] = Column("double", np.asarray(raw, dtype=np.float64).reshape(-1))
            return
        width = int(self.params["num_classes"])
        classes = np.asarray(self.params["classes"], dtype=np.int64)
        if rows:
            raw = raw if raw.ndim == 2 else np.vstack((1.0 - raw, raw)).transpose()
        probability = np.zeros((rows, width))
        probability[:, classes] = np.asarray(raw, dtype=np.float64).reshape(rows, len(classes))
        threshold = self.params.get("threshold")
        if threshold is not None and width == 2:
            prediction = (probability[:, 1] >= threshold).astype(np.float64)
        else:
            prediction = probability.argmax(axis=1).astype(np.float64)
        frame[self.params["probability"]] = Column(VECTOR, probability)
        frame[self.params["prediction"]] = Column("double", prediction)


@_register
class XGBoostStep(_ModelStep):
    """xgboost.spark's ``SparkXGBRegressorModel`` / ``SparkXGBClassifierModel``: the booster from xgboost's
    JSON model, scored by ``xgboost`` as xgboost.spark scores it.

    The features go in as float32 (xgboost.spark casts the vector so); ``iteration_range`` is the rounds up
    to the best one after early stopping. A regression's prediction is the booster's value. A classifier
    takes the margin: binary ``raw = [-m, m]``, probabilities ``[1 - expit(m), expit(m)]``; multiclass
    ``raw`` = the margins and their softmax; the prediction is the first most probable class.
    """

    kind = "xgboost"
    requirements = ("xgboost", "scipy")

    def _prepare(self) -> None:
        import xgboost

        self._booster = xgboost.Booster()
        self._booster.load_model(bytearray(self.arrays["model"].tobytes()))

    def apply(self, frame: Frame) -> None:
        features = self._features(frame).astype(np.float32)
        num_classes = int(self.params.get("num_classes") or 0)
        classification = num_classes > 0
        missing = self.params.get("missing")
        if len(features):
            predicted = self._booster.inplace_predict(
                features,
                iteration_range=(0, int(self.params["iterations"])),
                predict_type="margin" if classification else "value",
                missing=np.nan if missing is None else float(missing),
                validate_features=False,
            )
        else:
            predicted = np.zeros((0, num_classes) if num_classes > 2 else 0, dtype=np.float32)
        if not classification:
            if self.params["prediction"]:
                frame[self.params["prediction"]] = Column("double", np.asarray(predicted, dtype=np.float64))
            return
        from scipy.special import expit, softmax

        if predicted.ndim == 1:
            one = expit(predicted)
            raw = np.vstack((-predicted, predicted)).transpose()
            probability = np.vstack((1.0 - one, one)).transpose()
        else:
            raw, probability = predicted, softmax(predicted, axis=1)
        outputs = {
            self.params.get("raw"): Column(VECTOR, raw.astype(np.float64)),
            self.params.get("probability"): Column(VECTOR, probability.astype(np.float64)),
            self.params["prediction"]: Column("double", np.argmax(probability, axis=1).astype(np.float64)),
        }
        for name, column in outputs.items():
            if name:
                frame[name] = column


@_register
class BinaryThresholdStep(Step):
    """sparkwright's ``BinaryThreshold`` (after an xgboost classifier): 1.0 exactly when the probability of
    class 1 is >= ``threshold``, else 0.0."""

    kind = "binary_threshold"

    def inputs(self) -> list[str]:
        return [self.params["probability"]]

    def outputs(self) -> list[str]:
        return [self.params["prediction"]]

    def apply(self, frame: Frame) -> None:
        column = frame[self.params["probability"]]
        above = column.values[:, 1] >= float(self.params["threshold"])
        # Spark's WHEN on a null probability falls through to OTHERWISE 0.0.
        prediction = np.where(above & ~column.nulls(), 1.0, 0.0)
        frame[self.params["prediction"]] = Column("double", prediction)


@_register
class IsolationForestStep(_ModelStep):
    """sparkwright's ``IsolationForestModel`` (scikit-learn's IsolationForest): the score ``2^(-E[h(x)] / c(n))``
    and the flag ``score > threshold``.

    Arrays hold every tree's nodes back to back (``feature`` already mapped to the vector's slot, ``-1`` at a
    leaf; ``value`` at a leaf is its depth + c(leaf rows) - 1) and ``roots``; features are compared as float32,
    as scikit-learn does, and the trees' path lengths are added in tree order, as it does.
    """

    kind = "isolation_forest"

    def outputs(self) -> list[str]:
        return [self.params["score"], self.params["prediction"]]

    def apply(self, frame: Frame) -> None:
        X = self._features(frame).astype(np.float32)
        feature, threshold = self.arrays["feature"], self.arrays["threshold"]
        left, right, value = self.arrays["left"], self.arrays["right"], self.arrays["value"]
        nodes = np.tile(self.arrays["roots"], (len(X), 1))
        rows = np.arange(len(X))[:, None]
        for _ in range(int(self.params["max_depth"])):
            leaf = left[nodes] < 0
            if leaf.all():
                break
            slots = np.where(leaf, 0, feature[nodes])
            go_left = X[rows, slots] <= threshold[nodes]
            nodes = np.where(leaf, nodes, np.where(go_left, left[nodes], right[nodes]))
        depths = _sequential_sum(value[nodes]) if nodes.shape[1] else np.zeros(len(X))
        denominator = float(self.params["denominator"])
        score = 2.0 ** (-(depths / denominator)) if denominator else np.ones(len(X))
        frame[self.params["score"]] = Column("double", score)
        flag = (score > float(self.params["threshold"])).astype(np.float64)
        frame[self.params["prediction"]] = Column("double", flag)


# ---- row preparation (a model that takes source-shaped rows) -------------------------------------

_INTEGRAL_BOUNDS = {"tinyint": 2**7, "smallint": 2**15, "int": 2**31, "bigint": 2**63}


@_register
class PrepareRowsStep(Step):
    """sparkwright's ``PrepareRows``: source-typed input columns -> the silver columns, their missing
    indicators and the reason a row is refused (``params["reason"]``, null when it is not).

    ``params["columns"]``: ``{name, source_type, indicator, optional}``; ``params["missing_level"]``;
    ``params["checks"]``: ``{kind, column(s), prefix, suffix, ...}`` with the reason texts' constant parts
    already written by the exporter, so the texts equal those Spark writes.
    """

    kind = "prepare_rows"

    def inputs(self) -> list[str]:
        return [c["name"] for c in self.params["columns"]]

    def outputs(self) -> list[str]:
        names = [c["name"] for c in self.params["columns"]]
        return (
            names + [c["name"] + "_missing" for c in self.params["columns"] if c["indicator"]] + [self.params["reason"]]
        )

    def prune(self, needed: set[str]) -> Step | None:
        return self  # the reason depends on every column's checks

    def _prepare(self) -> None:
        self._columns = [(c["name"], c["source_type"], bool(c["indicator"])) for c in self.params["columns"]]

    def apply(self, frame: Frame) -> None:
        # REST scores one row at a time, so each column costs only the operations its values need.
        rows = len(frame)
        level = self.params["missing_level"]
        typed: dict[str, Column] = {}
        failures: list[tuple[np.ndarray, list[str], list[str]]] = []  # (rows, reason texts, fields)
        for name, source_type, _ in self._columns:
            original = frame[name]
            column, failed = _to_source_type(original, source_type)
            if column.type == "string" and _contains(column.values, level):
                # The missing level is a missing value, as silver writes one (the rules see a gap).
                column = Column("string", column.values, column.nulls() | (column.values == level))
            typed[name] = column
            if failed is not None:
                texts = [
                    f"{name} = {_spark_text(original, i)} is not a valid {source_type}" if failed[i] else ""
                    for i in range(rows)
                ]
                failures.append((failed, texts, [name]))
        for check in self.params["checks"]:
            failed, texts = _check_rows(check, typed, rows)
            if failed.any():
                failures.append((failed, texts, check.get("columns") or [check["column"]]))
        for name, _, indicator in self._columns:
            column = typed[name]
            if column.type == "string":
                values = column.values
                if column.null is not None or _contains(values, ""):
                    values = values.copy()
                    values[column.nulls() | (values == "")] = level
                frame[name] = Column("string", values)
            else:
                frame[name] = Column("double", column.as_double(), column.null)
            if indicator:
                missing = column.nulls()
                if column.type in ("double", "float"):
                    missing = missing | np.isnan(column.values.astype(np.float64))
                frame[name + "_missing"] = Column("double", missing.astype(np.float64))
        reason = np.full(rows, None, dtype=object)
        fields = np.full(rows, None, dtype=object)
        refused = np.zeros(rows, dtype=bool)
        for failed, _, _ in failures:
            refused |= failed
        for row in np.nonzero(refused)[0]:
            hits = [(texts[row], names) for failed, texts, names in failures if failed[row]]
            reason[row] = "; ".join(text for text, _ in hits)
            fields[row] = [(names, text) for text, names in hits]
        frame[self.params["reason"]] = Column("string", reason, ~refused)
        # Per refused row: [(columns, reason)] for each rule it broke (REST names them in its 422).
        frame[self.params["reason"] + REASON_FIELDS_SUFFIX] = Column("object", fields)


def _contains(values: np.ndarray, text: str) -> bool:
    """Whether an object array of strings holds ``text`` (a Python scan: cheaper than NumPy for a few rows)."""
    return text in values.tolist()


def _to_source_type(column: Column, source_type: str) -> tuple[Column, np.ndarray | None]:
    """Spark's ``try_cast`` of an input column to the source's type; where a value did not convert (None when
    every value did)."""
    if column.type == source_type:
        return column, None
    if source_type in INTEGRAL_TYPES and column.type in INTEGRAL_TYPES:
        bound = _INTEGRAL_BOUNDS[source_type]
        if all(-bound <= v < bound for v in column.values.tolist()):
            return Column(source_type, column.values, column.null), None
        failed = ~column.nulls() & ((column.values < -bound) | (column.values >= bound))
        return Column(source_type, column.values, column.nulls() | failed), failed
    if source_type in ("double", "float") and column.type in NUMERIC_TYPES:
        values = column.values.astype(np.float64)
        return Column(source_type, values.astype(np.float32) if source_type == "float" else values, column.null), None
    decimal = _DECIMAL.fullmatch(source_type)
    if decimal and column.type in NUMERIC_TYPES:
        converted, failed = _to_decimal(column, int(decimal.group(1)), int(decimal.group(2)))
        return converted, failed if failed.any() else None
    raise ScoringError(f"an input of type {column.type} for a column the model knows as {source_type}")


_DECIMAL = re.compile(r"decimal\((\d+),(\d+)\)")


def _to_decimal(column: Column, precision: int, scale: int) -> tuple[Column, np.ndarray]:
    """``try_cast(x AS DECIMAL(p, s))`` as a double: rounded half up to ``s`` places; null past ``p`` digits."""
    from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

    null = column.nulls()
    quantum, limit = Decimal(1).scaleb(-scale), Decimal(10) ** (precision - scale)
    values = np.zeros(len(column), dtype=np.float64)
    failed = np.zeros(len(column), dtype=bool)
    for i, value in enumerate(column.values):
        if null[i]:
            continue
        try:
            rounded = Decimal(repr(float(value)) if column.type in ("double", "float") else int(value))
            rounded = rounded.quantize(quantum, rounding=ROUND_HALF_UP)
        except InvalidOperation:  # NaN and infinities do not convert
            failed[i] = True
            continue
        if abs(rounded) >= limit:
            failed[i] = True
        else:
            values[i] = float(rounded)
    return Column("double", values, null | failed if (null | failed).any() else None), failed


def _check_rows(check: Mapping[str, Any], columns: Mapping[str, Column], rows: int) -> tuple[np.ndarray, list[str]]:
    """Where a row-local rule fails, and the reason of each failing row (Spark's text of the value)."""
    if check["kind"] == "filter":
        passes = SqlCondition(check["expression"]).evaluate(columns, rows)
        return ~passes, [check["suffix"]] * rows
    column = columns[check["column"]]
    values, null = column.values, column.nulls()
    missing = null | (np.isnan(values.astype(np.float64)) if column.type in ("double", "float") else False)
    if check["kind"] == "not_null":
        nan = missing & ~null
        return missing, [f"{check['column']} is {'NaN' if nan[i] else 'null'}" for i in range(rows)]
    if check["kind"] == "range":
        numbers = values.astype(np.float64)
        outside = np.zeros(rows, dtype=bool)
        if check.get("min") is not None:
            outside |= numbers < float(check["min"])
        if check.get("max") is not None:
            outside |= numbers > float(check["max"])
        failed = ~missing & outside
    elif check["kind"] == "allowed_values":
        allowed = check["values"]
        if column.type == "string":
            inside = np.fromiter((v in set(allowed) for v in values), dtype=bool, count=rows)
        else:
            inside = np.isin(values.astype(np.float64), np.asarray(allowed, dtype=np.float64))
        failed = ~missing & ~inside
    elif check["kind"] == "pattern":
        pattern = re.compile(check["regex"])
        texts = [_spark_text(column, i) for i in range(rows)]
        failed = ~missing & np.fromiter((pattern.search(t) is None for t in texts), dtype=bool, count=rows)
    else:
        raise ScoringError(f"unknown row check {check['kind']!r}")
    shown = [_shown(column, i) if failed[i] else "" for i in range(rows)]
    return failed, [f"{check['column']} = {shown[i]}{check['suffix']}" if failed[i] else "" for i in range(rows)]


def _shown(column: Column, row: int) -> str:
    """A value as a quality reason shows it: strings quoted, so an empty string is visible."""
    text = _spark_text(column, row)
    return f"'{text}'" if column.type == "string" and not (column.null is not None and column.null[row]) else text


@_register
class RejectedRowsStep(Step):
    """sparkwright's ``RejectedRows``: no prediction (nor probability) where the preparation refused the row."""

    kind = "rejected_rows"

    def inputs(self) -> list[str]:
        return [*self.params["columns"], self.params["reason"]]

    def outputs(self) -> list[str]:
        return list(self.params["columns"])

    def apply(self, frame: Frame) -> None:
        refused = ~frame[self.params["reason"]].nulls()
        if not refused.any():
            return
        for name in self.params["columns"]:
            if name in frame.columns:
                column = frame[name]
                frame[name] = Column(column.type, column.values, column.nulls() | refused)


# ---- the filters of a project file, as Spark SQL reads them (a subset) ---------------------------

_SQL_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)|'(?P<string>(?:[^'\\]|\\.)*)'"
    r"|`(?P<quoted>(?:[^`]|``)+)`|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<op><=|>=|<>|!=|==|[-+*/()<>=,]))"
)
SQL_KEYWORDS = ("AND", "OR", "NOT", "IS", "NULL", "IN", "BETWEEN", "TRUE", "FALSE")


class SqlCondition:
    """A ``cleanse.filters`` condition evaluated with Spark SQL's semantics on the frame's columns.

    The subset: column names (plain or in backticks), numbers, 'strings', TRUE / FALSE / NULL, ``+ - * /``,
    comparisons (``= == <> != < <= > >=``), ``AND`` / ``OR`` / ``NOT``, ``IS [NOT] NULL``, ``[NOT] IN (...)``,
    ``[NOT] BETWEEN .. AND ..``, parentheses. Three-valued logic (a null comparison is null, and a null
    condition removes the row, as WHERE does); NaN equals NaN and is larger than any number, as in Spark.
    ``parse`` raises ValueError for anything else, which the exporter turns into a refusal.
    """

    def __init__(self, expression: str):
        self.expression = expression
        self.tokens = self._tokenize(expression)
        self.position = 0
        self.tree = self._or()
        if self.position != len(self.tokens):
            raise ValueError(f"unexpected {self.tokens[self.position][1]!r}")

    def columns(self) -> list[str]:
        found: list[str] = []

        def walk(node: tuple) -> None:
            if node[0] == "column" and node[1] not in found:
                found.append(node[1])
            for child in node[1:]:
                if isinstance(child, tuple):
                    walk(child)
                elif isinstance(child, list):
                    for item in child:
                        walk(item)

        walk(self.tree)
        return found

    def check_types(self, types: Mapping[str, str]) -> None:
        """Refuse comparisons and arithmetic that mix text with numbers (Spark would cast, or fail in ANSI mode).

        Raises:
            ValueError: Names the operation; ``types`` maps each column to its Spark type.
        """

        def kind(node: tuple) -> str:
            if node[0] == "literal":
                value = node[1]
                return (
                    "null"
                    if value is None
                    else "string"
                    if isinstance(value, str)
                    else "boolean"
                    if isinstance(value, bool)
                    else "number"
                )
            if node[0] == "column":
                spark_type = types[node[1]]
                return "string" if spark_type == "string" else "boolean" if spark_type == "boolean" else "number"
            if node[0] == "arith":
                for side in node[2:]:
                    if kind(side) not in ("number", "null"):
                        raise ValueError(f"arithmetic on a {kind(side)}")
                return "number"
            if node[0] in ("compare", "in"):
                sides = [node[2], node[3]] if node[0] == "compare" else [node[1], *node[2]]
                kinds = {kind(side) for side in sides} - {"null"}
                if len(kinds) > 1:
                    raise ValueError(f"a comparison of {' with '.join(sorted(kinds))}")
                return "boolean"
            for child in node[1:]:
                if isinstance(child, tuple):
                    kind(child)
            return "boolean"

        kind(self.tree)

    def evaluate(self, columns: Mapping[str, Column], rows: int) -> np.ndarray:
        """True where the condition holds (null and false both remove the row)."""
        value, null = self._eval(self.tree, columns, rows)
        return np.asarray(value, dtype=bool) & ~null

    # parsing
    @staticmethod
    def _tokenize(text: str) -> list[tuple[str, Any]]:
        tokens, position = [], 0
        while position < len(text.rstrip()):
            found = _SQL_TOKEN.match(text, position)
            if found is None or found.end() == position:
                raise ValueError(f"cannot read {text[position:]!r}")
            kind = found.lastgroup
            value = found.group(kind)
            if kind == "word" and value.upper() in SQL_KEYWORDS:
                tokens.append(("keyword", value.upper()))
            elif kind == "word":
                tokens.append(("column", value))
            elif kind == "quoted":
                tokens.append(("column", value.replace("``", "`")))
            elif kind == "string":
                tokens.append(("string", re.sub(r"\\(.)", r"\1", value)))
            elif kind == "number":
                tokens.append(("number", float(value)))
            else:
                tokens.append(("op", "=" if value == "==" else "!=" if value == "<>" else value))
            position = found.end()
        return tokens

    def _peek(self, *wanted: str) -> bool:
        return self.position < len(self.tokens) and self.tokens[self.position][1] in wanted

    def _take(self, *wanted: str) -> Any:
        if not self._peek(*wanted):
            seen = self.tokens[self.position][1] if self.position < len(self.tokens) else "the end"
            raise ValueError(f"expected {' or '.join(wanted)}, found {seen!r}")
        self.position += 1
        return self.tokens[self.position - 1][1]

    def _or(self) -> tuple:
        node = self._and()
        while self._peek("OR"):
            self._take("OR")
            node = ("or", node, self._and())
        return node

    def _and(self) -> tuple:
        node = self._not()
        while self._peek("AND"):
            self._take("AND")
            node = ("and", node, self._not())
        return node

    def _not(self) -> tuple:
        if self._peek("NOT"):
            self._take("NOT")
            return ("not", self._not())
        return self._predicate()

    def _predicate(self) -> tuple:
        left = self._additive()
        if self._peek("=", "!=", "<", "<=", ">", ">="):
            return ("compare", self._take("=", "!=", "<", "<=", ">", ">="), left, self._additive())
        if self._peek("IS"):
            self._take("IS")
            negated = self._peek("NOT") and self._take("NOT")
            self._take("NULL")
            node: tuple = ("is_null", left)
            return ("not", node) if negated else node
        negated = self._peek("NOT") and self._take("NOT")
        if self._peek("IN"):
            self._take("IN")
            self._take("(")
            items = [self._additive()]
            while self._peek(","):
                self._take(",")
                items.append(self._additive())
            self._take(")")
            node = ("in", left, items)
        elif self._peek("BETWEEN"):
            self._take("BETWEEN")
            low = self._additive()
            self._take("AND")
            node = ("and", ("compare", ">=", left, low), ("compare", "<=", left, self._additive()))
        elif negated:
            raise ValueError("NOT must be followed by IN or BETWEEN here")
        else:
            return left
        return ("not", node) if negated else node

    def _additive(self) -> tuple:
        node = self._multiplicative()
        while self._peek("+", "-"):
            node = ("arith", self._take("+", "-"), node, self._multiplicative())
        return node

    def _multiplicative(self) -> tuple:
        node = self._unary()
        while self._peek("*", "/"):
            node = ("arith", self._take("*", "/"), node, self._unary())
        return node

    def _unary(self) -> tuple:
        if self._peek("-"):
            self._take("-")
            return ("arith", "-", ("literal", 0.0), self._unary())
        if self._peek("("):
            self._take("(")
            node = self._or()
            self._take(")")
            return node
        if self.position >= len(self.tokens):
            raise ValueError("the condition ends too soon")
        kind, value = self.tokens[self.position]
        self.position += 1
        if kind == "column":
            return ("column", value)
        if kind in ("number", "string"):
            return ("literal", value)
        if kind == "keyword" and value in ("TRUE", "FALSE"):
            return ("literal", value == "TRUE")
        if kind == "keyword" and value == "NULL":
            return ("literal", None)
        raise ValueError(f"unexpected {value!r}")

    # evaluation: (values, null mask)
    def _eval(self, node: tuple, columns: Mapping[str, Column], rows: int) -> tuple[np.ndarray, np.ndarray]:
        kind = node[0]
        if kind == "literal":
            value = node[1]
            null = np.full(rows, value is None)
            return np.full(
                rows, 0.0 if value is None else value, dtype=object if isinstance(value, str) else None
            ), null
        if kind == "column":
            column = columns[node[1]]
            values = column.values if column.type == "string" else column.values.astype(np.float64)
            if column.type == "boolean":
                values = column.values.astype(bool)
            return values, column.nulls()
        if kind == "not":
            value, null = self._eval(node[1], columns, rows)
            return ~np.asarray(value, dtype=bool), null
        if kind in ("and", "or"):
            (a, an), (b, bn) = self._eval(node[1], columns, rows), self._eval(node[2], columns, rows)
            a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
            if kind == "and":
                false = (~a & ~an) | (~b & ~bn)
                return a & b & ~an & ~bn, ~false & (an | bn)
            true = (a & ~an) | (b & ~bn)
            return true, ~true & (an | bn)
        if kind == "is_null":
            _, null = self._eval(node[1], columns, rows)
            return null.copy(), np.zeros(rows, dtype=bool)
        if kind == "arith":
            (a, an), (b, bn) = self._eval(node[2], columns, rows), self._eval(node[3], columns, rows)
            a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
            if node[1] == "/":
                if (~an & ~bn & (b == 0)).any():  # Spark's ANSI mode fails the query the same way
                    raise ScoringError(f"division by zero in the filter {self.expression!r}")
                return a / np.where(b == 0, 1.0, b), an | bn
            return {"+": a + b, "-": a - b, "*": a * b}[node[1]], an | bn
        if kind == "compare":
            (a, an), (b, bn) = self._eval(node[2], columns, rows), self._eval(node[3], columns, rows)
            return _sql_compare(node[1], a, b), an | bn
        if kind == "in":
            value, null = self._eval(node[1], columns, rows)
            found = np.zeros(rows, dtype=bool)
            unknown = np.zeros(rows, dtype=bool)
            for item in node[2]:
                other, other_null = self._eval(item, columns, rows)
                found |= _sql_compare("=", value, other) & ~other_null
                unknown |= other_null
            # x IN (.., NULL) is null, not false, when no item matches.
            return found, null | (~found & unknown)
        raise ValueError(f"unknown node {kind!r}")


def _sql_compare(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A comparison as Spark makes it: NaN equals NaN and is larger than every number."""
    if a.dtype == object or b.dtype == object:
        a, b = a.astype(object), b.astype(object)
        pairs = list(zip(a, b, strict=True))
        table = {
            "=": lambda x, y: x == y,
            "!=": lambda x, y: x != y,
            "<": lambda x, y: x < y,
            "<=": lambda x, y: x <= y,
            ">": lambda x, y: x > y,
            ">=": lambda x, y: x >= y,
        }[op]
        return np.fromiter(
            (x is not None and y is not None and table(x, y) for x, y in pairs), dtype=bool, count=len(pairs)
        )
    a, b = a.astype(np.float64), b.astype(np.float64)
    a_nan, b_nan = np.isnan(a), np.isnan(b)
    with np.errstate(invalid="ignore"):
        equal = (a == b) | (a_nan & b_nan)
        less = (a < b) | (~a_nan & b_nan)
    return {"=": equal, "!=": ~equal, "<": less, "<=": less | equal, ">": ~(less | equal), ">=": ~less}[op]


# ---- the scorer ---------------------------------------------------------------------------------


class ExportedScorer:
    """A fitted Spark ML pipeline as NumPy steps: ``predict`` a pandas DataFrame without Spark.

    Args:
        inputs: The raw input columns it reads, ``[{"name": ..., "type": <Spark type>}]``, in order.
        steps: The steps, in pipeline order.
        outputs: ``prediction`` (column name), ``probability`` (vector column or None), ``classes`` (the
            label of each class index, or None), ``prediction_type`` (Spark type of the prediction).
        metadata: Free-form provenance (Spark version, stage list), saved with the scorer.
    """

    def __init__(
        self,
        inputs: Sequence[Mapping[str, str]],
        steps: Sequence[Step],
        outputs: Mapping[str, Any],
        metadata: Mapping[str, Any] | None = None,
    ):
        self.inputs = [dict(i) for i in inputs]
        self.steps = list(steps)
        self.outputs = dict(outputs)
        self.metadata = dict(metadata or {})

    @property
    def input_columns(self) -> list[str]:
        return [i["name"] for i in self.inputs]

    @property
    def is_classifier(self) -> bool:
        return bool(self.outputs.get("probability"))

    @property
    def ignored_columns(self) -> list[str]:
        """Source columns a row may carry that the model does not read (a model that prepares source rows)."""
        return [name for step in self.steps if isinstance(step, PrepareRowsStep) for name in step.params["ignored"]]

    @property
    def classes(self) -> list[Any] | None:
        return self.outputs.get("classes")

    @property
    def num_classes(self) -> int:
        return int(self.outputs.get("num_classes") or 0)

    @property
    def requirements(self) -> list[str]:
        """Packages its steps import beyond NumPy and pandas (``lightgbm``, ``xgboost``, ...), sorted."""
        return sorted({name for step in self.steps for name in step.requirements})

    @property
    def output_columns(self) -> list[str]:
        """``prediction``, then ``probability_0`` .. ``probability_<k-1>`` for a classifier, then ``_reason``
        for a model that prepares source-shaped rows (why a row got no prediction; null for scored rows)."""
        names = [self.outputs["prediction"]]
        if self.is_classifier:
            names += [f"{self.outputs['probability']}_{k}" for k in range(self.num_classes)]
        if self.outputs.get("score"):
            names.append(self.outputs["score"])
        if self.outputs.get("reason"):
            names.append(REASON_OUTPUT)
        return names

    def transform(self, data: pd.DataFrame | Mapping[str, Sequence[Any]]) -> Frame:
        """Every column the pipeline makes (intermediate ones too), like Spark's ``transform``.

        Raises:
            ScoringError: A missing input column, a value of the wrong type, or a row the pipeline refuses.
        """
        df = data if isinstance(data, pd.DataFrame) else pd.DataFrame(dict(data))
        missing = [i["name"] for i in self.inputs if i["name"] not in df.columns and not i.get("optional")]
        if missing:
            raise ScoringError(f"the input lacks columns {missing}; the model reads {self.input_columns}.")
        absent = pd.Series([None] * len(df), index=df.index, dtype=object)
        frame = Frame(
            {i["name"]: input_column(df.get(i["name"], absent), i["type"], i["name"]) for i in self.inputs}, df.index
        )
        for step in self.steps:
            step.apply(frame)
        return frame

    def predict(self, data: pd.DataFrame | Mapping[str, Sequence[Any]]) -> pd.DataFrame:
        """Predictions: a DataFrame with ``prediction`` (+ ``probability_<i>`` for classifiers).

        Its index is the input's: rows a ``handleInvalid="skip"`` stage drops are absent, as in Spark.

        Raises:
            ScoringError: See :meth:`transform`.
        """
        frame = self.transform(data)
        prediction = frame[self.outputs["prediction"]]
        values = prediction.values
        if prediction.null is not None and prediction.null.any():
            values = values.astype(object)
            values[prediction.null] = None
        columns: dict[str, Any] = {self.outputs["prediction"]: values}
        if self.is_classifier:
            probability = frame[self.outputs["probability"]]
            refused = probability.nulls()
            for k in range(probability.values.shape[1]):
                columns[f"{self.outputs['probability']}_{k}"] = np.where(refused, np.nan, probability.values[:, k])
        if self.outputs.get("score"):
            score = frame[self.outputs["score"]]
            columns[self.outputs["score"]] = np.where(score.nulls(), np.nan, score.values)
        if self.outputs.get("reason"):
            columns[REASON_OUTPUT] = frame[self.outputs["reason"]].values
        return pd.DataFrame(columns, index=frame.index)

    # ---- files ----------------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the scorer to folder ``path``: ``scorer.json`` plus one ``.npy`` file per array (no pickle)."""
        folder = Path(path)
        (folder / "arrays").mkdir(parents=True, exist_ok=True)
        steps = []
        for i, step in enumerate(self.steps):
            files = {}
            for name, array in step.arrays.items():
                file = f"arrays/{i:03d}_{step.kind}_{name}.npy"
                np.save(folder / file, array, allow_pickle=False)
                files[name] = file
            steps.append({"kind": step.kind, "params": step.params, "arrays": files})
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "metadata": self.metadata,
            "steps": steps,
        }
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=1))
        return folder

    @classmethod
    def load(cls, path: str | Path) -> ExportedScorer:
        """Read a scorer written by :meth:`save`.

        Raises:
            ScoringError: The folder holds no scorer, or one of a format this runtime does not read.
        """
        folder = Path(path)
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
        except FileNotFoundError:
            raise ScoringError(f"{folder} holds no exported scorer ({MANIFEST} is missing).") from None
        if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
            raise ScoringError(
                f"{folder / MANIFEST} is format {manifest.get('format')!r} version {manifest.get('format_version')}; "
                f"this runtime reads {FORMAT!r} version {FORMAT_VERSION}. Export the model again."
            )
        steps = []
        for entry in manifest["steps"]:
            step_cls = _STEPS.get(entry["kind"])
            if step_cls is None:
                raise ScoringError(f"unknown step kind {entry['kind']!r}; known: {', '.join(sorted(_STEPS))}.")
            arrays = {name: np.load(folder / file, allow_pickle=False) for name, file in entry["arrays"].items()}
            steps.append(step_cls(entry["params"], arrays))
        return cls(manifest["inputs"], steps, manifest["outputs"], manifest.get("metadata"))


def load_scorer(path: str | Path) -> ExportedScorer:
    """:meth:`ExportedScorer.load`."""
    return ExportedScorer.load(path)
