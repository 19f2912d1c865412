"""What runs inside Spark's Python workers: a per-process model cache and batch scoring.

A Python worker is reused across tasks (``spark.python.worker.reuse``, on by default), so a model kept in
this module's cache is deserialised once per worker process, not once per task or per Arrow batch. The
payload carries a content hash as its key: scoring the same model again (another ``score`` call, another
job) finds it in the cache too.

Only numpy and pandas are imported at module level; the model's own libraries load with the model.
"""

from __future__ import annotations

import io
import os
import pickle
import shutil
import tempfile
import zipfile
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# Models kept per worker process; older ones are dropped first.
CACHE_SIZE = 4

ESTIMATOR = "estimator"  # a pickled object with predict (scikit-learn, xgboost's sklearn API, ...)
BOOSTER = "booster"  # an xgboost Booster in its own binary format
PYFUNC = "pyfunc"  # a zipped MLflow model folder

_CACHE: OrderedDict[str, Predictor] = OrderedDict()
_THREADS_LIMITED: list[Any] = []  # the threadpoolctl limiter, kept alive for the worker's life


@dataclass(frozen=True)
class ModelPayload:
    """A model as it travels to the workers.

    ``data`` is the serialised model (bytes) or a Spark broadcast of it; a broadcast is read only when the
    worker's cache misses, so a reused worker neither reads nor unpickles the model again.
    """

    key: str
    kind: str
    data: Any
    threads: int | None = 1

    def raw(self) -> bytes:
        return self.data if isinstance(self.data, bytes | bytearray) else self.data.value


class Predictor:
    """A loaded model behind one interface: ``predict`` and ``predict_proba`` on a numpy matrix or a frame."""

    def __init__(self, kind: str, model: Any):
        self.kind = kind
        self.model = model
        self.feature_names = _feature_names(model) if kind == ESTIMATOR else None

    @property
    def wants_frame(self) -> bool:
        """pyfunc models check their input schema by column name, so they always get a DataFrame."""
        return self.kind == PYFUNC

    def predict(self, features: np.ndarray | pd.DataFrame) -> Any:
        if self.kind == BOOSTER:
            return self.model.inplace_predict(features)
        return self.model.predict(self._named(features))

    def predict_proba(self, features: np.ndarray | pd.DataFrame) -> np.ndarray:
        if self.kind == PYFUNC:
            out = self.model.predict(features)
            columns = [c for c in getattr(out, "columns", []) if str(c).startswith("probability")]
            if not columns:
                raise ValueError(
                    "this MLflow model returns no probability columns (probability_0, probability_1, ...); "
                    "score it without probabilities."
                )
            return out[columns].to_numpy(dtype=np.float64)
        if not hasattr(self.model, "predict_proba"):
            raise ValueError(f"{type(self.model).__name__} has no predict_proba; score it without probabilities.")
        return np.asarray(self.model.predict_proba(self._named(features)), dtype=np.float64)

    def _named(self, features: np.ndarray | pd.DataFrame) -> Any:
        """An estimator fitted on a DataFrame warns on a bare matrix; a single-block frame over it is free."""
        if self.feature_names is not None and isinstance(features, np.ndarray):
            return pd.DataFrame(features, columns=self.feature_names, copy=False)
        return features


def get_predictor(payload: ModelPayload) -> Predictor:
    """The payload's model from this worker's cache, deserialised on the first call only."""
    predictor = _CACHE.get(payload.key)
    if predictor is not None:
        _CACHE.move_to_end(payload.key)
        return predictor
    if payload.threads:
        _limit_threads(payload.threads)
    predictor = Predictor(payload.kind, _load(payload))
    _CACHE[payload.key] = predictor
    while len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)
    return predictor


def score_batches(
    payload: ModelPayload,
    batches: Iterator[tuple[pd.Series, ...]],
    *,
    names: list[str],
    batch_size: int | None,
    probability: bool,
    result_type: str,
) -> Iterator[pd.Series | pd.DataFrame]:
    """Score Arrow batches (one Series per feature column), regrouped into ``batch_size`` rows per model call.

    Spark's Arrow batches are ``spark.sql.execution.arrow.maxRecordsPerBatch`` rows (read when an action
    runs); the rows are regrouped here so the model sees ``batch_size`` rows per call whatever that
    setting was. Spark matches outputs to inputs by position across batches, so an output need not line
    up with one input batch.
    """
    predictor = get_predictor(payload)
    pending: list[np.ndarray | pd.DataFrame] = []
    rows = 0
    for columns in batches:
        block = _features(columns, names, predictor)
        if batch_size is None:
            yield _outputs(predictor, block, probability, result_type)
            continue
        pending.append(block)
        rows += len(block)
        if rows < batch_size:
            continue
        block = _concat(pending)
        full = rows - rows % batch_size
        for start in range(0, full, batch_size):
            yield _outputs(predictor, block[start : start + batch_size], probability, result_type)
        pending = [block[full:]] if full < rows else []
        rows -= full
    if rows:
        yield _outputs(predictor, _concat(pending), probability, result_type)


def _features(
    columns: tuple[pd.Series, ...] | pd.Series, names: list[str], predictor: Predictor
) -> np.ndarray | pd.DataFrame:
    """All-numeric features become one C-ordered float64 matrix (what estimators convert to anyway, without a
    pandas frame in between); others, and every input of a pyfunc model, a DataFrame with the column names."""
    if isinstance(columns, pd.Series):
        columns = (columns,)
    if not predictor.wants_frame and all(c.dtype.kind in "fiub" for c in columns):
        matrix = np.empty((len(columns[0]), len(columns)), dtype=np.float64)
        for index, column in enumerate(columns):
            matrix[:, index] = column.to_numpy()
        return matrix
    return pd.DataFrame({name: column.reset_index(drop=True) for name, column in zip(names, columns, strict=True)})


def _concat(blocks: list[np.ndarray | pd.DataFrame]) -> np.ndarray | pd.DataFrame:
    if len(blocks) == 1:
        return blocks[0]
    if isinstance(blocks[0], np.ndarray):
        return np.concatenate(blocks)
    return pd.concat(blocks, ignore_index=True)


def _outputs(
    predictor: Predictor, block: np.ndarray | pd.DataFrame, probability: bool, result_type: str
) -> pd.Series | pd.DataFrame:
    if isinstance(block, pd.DataFrame):
        block = block.reset_index(drop=True)
    prediction = _as_series(predictor.predict(block), len(block), result_type)
    if not probability:
        return prediction
    proba = predictor.predict_proba(block)
    return pd.DataFrame({"prediction": prediction, "probability": list(proba)})


def _as_series(values: Any, rows: int, result_type: str) -> pd.Series:
    """One value per row, whatever the model returned (array, list, Series, one-column or pyfunc frame)."""
    if isinstance(values, pd.DataFrame):
        values = values["prediction"] if "prediction" in values.columns else values.iloc[:, 0]
    array = np.asarray(values)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1 or len(array) != rows:
        raise ValueError(
            f"the model returned shape {array.shape} for {rows} rows; one value per row is needed "
            "(for class probabilities ask for them with probability_col / probability=True)."
        )
    if result_type == "string" and array.dtype.kind != "O":
        array = array.astype(str)
    return pd.Series(array)


def _load(payload: ModelPayload) -> Any:
    raw = payload.raw()
    if payload.kind == ESTIMATOR:
        model = pickle.loads(raw)
        if payload.threads:
            _single_threaded(model, payload.threads)
        return model
    if payload.kind == BOOSTER:
        import xgboost

        booster = xgboost.Booster()
        booster.load_model(bytearray(raw))
        if payload.threads:
            booster.set_param({"nthread": payload.threads})
        return booster
    if payload.kind == PYFUNC:
        import mlflow.pyfunc

        return mlflow.pyfunc.load_model(_unpacked(payload.key, raw))
    raise ValueError(f"unknown model payload kind {payload.kind!r}")


def _unpacked(key: str, zipped: bytes) -> str:
    """The model folder for ``key`` in the temp folder, unzipped once per machine and shared by its workers.

    Spark's Python workers exit without running ``atexit`` hooks, so a folder per load would pile up; one
    folder per model (the key is a content hash) is reused by every later load and job instead. It is
    unzipped beside its final name and renamed into place, so a worker never sees half a folder.
    """
    folder = os.path.join(tempfile.gettempdir(), f"sparkwright-udf-{key}")
    if os.path.isdir(folder) and _private(folder):
        return folder
    staging = tempfile.mkdtemp(prefix=f"sparkwright-udf-{key[:12]}-staging-")
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        archive.extractall(staging)
    try:
        os.rename(staging, folder)
    except OSError:  # another worker renamed its copy first, or a folder of that name is not ours
        if os.path.isdir(folder) and _private(folder):
            shutil.rmtree(staging, ignore_errors=True)
            return folder
        return staging
    return folder


def _private(folder: str) -> bool:
    """Ours alone: owned by this user and writable by no one else (a shared temp folder's name is guessable,
    and a model folder holds code and pickles that loading runs)."""
    if not hasattr(os, "getuid"):
        return True
    info = os.stat(folder)
    return info.st_uid == os.getuid() and not info.st_mode & 0o022


def _single_threaded(model: Any, threads: int) -> None:
    """Spark runs one worker per core: a model's own thread pool (n_jobs, nthread) would oversubscribe them."""
    get_params = getattr(model, "get_params", None)
    if get_params is None:
        return
    try:
        names = [name for name in get_params(deep=True) if name == "n_jobs" or name.endswith("__n_jobs")]
        if names:
            model.set_params(**dict.fromkeys(names, threads))
    except Exception:  # an estimator with unusual params: leave it as it is
        return


def _limit_threads(threads: int) -> None:
    """OpenMP and BLAS pools (HistGradientBoosting, xgboost, numpy) to ``threads`` in this worker, once."""
    if _THREADS_LIMITED:
        return
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    try:
        from threadpoolctl import threadpool_limits

        _THREADS_LIMITED.append(threadpool_limits(limits=threads))
    except ImportError:
        _THREADS_LIMITED.append(None)


def _feature_names(model: Any) -> list[str] | None:
    names = getattr(model, "feature_names_in_", None)
    return None if names is None else [str(n) for n in names]
