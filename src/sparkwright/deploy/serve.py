"""Real-time scoring: a FastAPI app around one MLflow pyfunc model (a Spark model through its export).

``POST /predict`` takes ``{"records": [{column: value, ...}, ...]}``; each record is validated
against the model's signature by a pydantic model built from it, so a missing, extra or mistyped
field is a 422 that names it. ``GET /health`` and ``GET /metadata`` describe the model, and FastAPI
serves the OpenAPI docs at ``/docs``. An optional bearer token protects every route but ``/health``;
a body larger than ``max_body_bytes`` is refused with 413 before it is read.

The exported scorer needs a few tenths of a millisecond for one record, so the request path avoids
whatever costs as much (measured with ``benchmarks/bench_rest.py``, see BENCHMARKS.md): an exported
Spark model is scored by its ``ExportedScorer`` straight from the validated records (no pandas frame,
no second schema check by MLflow), small requests are scored on the event loop instead of in a worker
thread, the body limit is a plain ASGI middleware, and the answer is written as JSON without a
response model. ``sparkwright serve --workers N`` runs N such processes on one port.
"""

# No ``from __future__ import annotations``: FastAPI reads the route functions' annotations at runtime,
# and the request models are classes local to create_app.
import hmac
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd

from sparkwright.errors import ModelError
from sparkwright.registry import Registry, VersionInfo, parse_model_ref

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 1_000_000
MAX_RECORDS = 10_000
# Requests with up to this many records are scored on the event loop: a thread hop costs more than
# scoring them. Larger ones go to a worker thread so /health and new connections still get answers.
INLINE_RECORDS = 64
# How `sparkwright serve --workers N` hands its resolved options to the worker processes it starts
# (uvicorn imports the app in each of them by name); not a setting to set by hand.
WORKER_CONFIG_ENV = "SPARKWRIGHT_SERVE_WORKER_CONFIG"

_PYTHON_TYPES: dict[str, type] = {
    "string": str,
    "long": int,
    "integer": int,
    "double": float,
    "float": float,
    "boolean": bool,
}
_INTEGER_BOUNDS = {"long": 2**63, "integer": 2**31}


@dataclass
class ServedModel:
    """A loaded model and what ``/metadata`` says about it.

    Attributes:
        predictor: The ``ExportedScorer`` of an exported Spark model, else the MLflow pyfunc model.
    """

    predictor: Any
    name: str
    version: str
    inputs: list[tuple[str, str, bool]]  # (column, MLflow type, required)
    outputs: list[str]
    details: dict[str, Any] = field(default_factory=dict)


def load_served_model(registry: Registry, model: str, *, export_if_needed: bool = True) -> ServedModel:
    """Load ``model`` (a models:/ URI) for serving, through its export when it is a Spark model.

    A Spark model exported earlier (``sparkwright export``) loads without Spark. Otherwise, with
    ``export_if_needed``, it is exported now (a Spark session starts once, at start-up, never per request).

    Raises:
        ModelError: Unknown model, no signature, or a Spark model that cannot be exported.
    """
    from mlflow.models import Model

    info = registry.resolve(parse_model_ref(model))
    local = registry.tracker.download_model(info.source)
    flavors = Model.load(str(local / "MLmodel")).flavors
    if "spark" in flavors:
        local = _exported(registry, info, export_if_needed)
    mlmodel = Model.load(str(local / "MLmodel"))
    predictor = _exported_scorer(local, mlmodel) or _pyfunc(local)
    signature = mlmodel.signature
    if signature is None or signature.inputs is None:
        raise ModelError(f"models:/{info.name}/{info.version} has no signature; serving validates requests by it.")
    inputs = [(c.name, getattr(c.type, "name", str(c.type)), c.required) for c in signature.inputs.inputs]
    outputs = signature.outputs.input_names() if signature.outputs is not None else ["prediction"]
    details = {
        "run_id": info.run_id,
        "aliases": info.aliases,
        "created": info.created.isoformat(),
        "metrics": {k: v for k, v in info.metrics.items() if not k.startswith(("train_", "fit_"))},
        "model_type": info.params.get("model_type"),
        "exported": "spark" in flavors,
    }
    export_meta = (mlmodel.metadata or {}).get("sparkwright_export") or {}
    if export_meta.get("classes"):
        details["classes"] = export_meta["classes"]
    return ServedModel(predictor, info.name, info.version, inputs, outputs, details)


def _exported(registry: Registry, info: VersionInfo, export_if_needed: bool) -> Path:
    from sparkwright.deploy.exported import export_version, exported_folder

    folder = exported_folder(registry, info)
    if folder is not None:
        return folder
    if not export_if_needed:
        raise ModelError(
            f"models:/{info.name}/{info.version} is a Spark model that was never exported; run "
            f"`sparkwright export --model models:/{info.name}/{info.version}` first."
        )
    from sparkwright.scratch import scratch_dir
    from sparkwright.session import get_session

    log.warning("exporting models:/%s/%s for serving (once; a Spark session starts)", info.name, info.version)
    target = scratch_dir("sparkwright-export-") / "model"
    return export_version(get_session(), registry, f"models:/{info.name}/{info.version}", target).folder


def _exported_scorer(local: Path, mlmodel: Any) -> Any:
    """The ExportedScorer inside an exported model folder; None for any other model, or one this runtime
    cannot read (another scorer format version), which then goes through MLflow and its own runtime copy."""
    from sparkwright.deploy.export.runtime import ExportedScorer, ScoringError

    if "sparkwright_export" not in (mlmodel.metadata or {}):
        return None
    artifacts = mlmodel.flavors.get("python_function", {}).get("artifacts", {})
    folder = local / artifacts.get("scorer", {}).get("path", "artifacts/scorer")
    try:
        return ExportedScorer.load(folder)
    except ScoringError as exc:
        log.warning("scoring %s through MLflow: %s", local, exc)
        return None


def _pyfunc(local: Path) -> Any:
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(str(local))


def create_app(served: ServedModel, *, token: str | None = None, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> Any:
    """The FastAPI app serving ``served``.

    Args:
        token: When set, requests other than ``GET /health`` need ``Authorization: Bearer <token>``.
        max_body_bytes: Larger request bodies are refused with 413.
    """
    from fastapi import HTTPException
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel, ConfigDict, Field, create_model

    from sparkwright.deploy.export.runtime import ExportedScorer

    ignored = served.predictor.ignored_columns if isinstance(served.predictor, ExportedScorer) else []
    record_model = _record_model(served.inputs, ignored, BaseModel, ConfigDict, Field, create_model)
    score = _score_exported if isinstance(served.predictor, ExportedScorer) else _score_pyfunc

    class PredictRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        records: list[record_model] = Field(min_length=1, max_length=MAX_RECORDS)  # type: ignore[valid-type]

    metadata_body = {
        "name": served.name,
        "version": served.version,
        "uri": f"models:/{served.name}/{served.version}",
        "signature": {
            "inputs": [{"name": n, "type": t, "required": r} for n, t, r in served.inputs],
            "outputs": served.outputs,
        },
        **served.details,
    }
    app, protected = model_app(
        served.name,
        served.version,
        "Real-time scoring of a registered model. POST records to /predict.",
        metadata_body,
        token,
        max_body_bytes,
    )

    @app.post("/predict", dependencies=protected, response_class=JSONResponse)
    async def predict(body: PredictRequest) -> JSONResponse:
        records = [record.__dict__ for record in body.records]
        try:
            if len(records) <= INLINE_RECORDS:
                answer = score(served, records)
            else:
                answer = await run_in_threadpool(score, served, records)
        except RefusedRecords as exc:  # the model's preparation refused rows: name each field and rule
            return JSONResponse({"detail": exc.errors}, status_code=422)
        except ValueError as exc:  # the scorer refuses a value Spark would refuse (e.g. an unseen category)
            raise HTTPException(422, str(exc)) from exc
        return JSONResponse(answer)

    return app


def model_app(name: str, version: Any, description: str, metadata: dict[str, Any], token: str | None,
              max_body_bytes: int) -> tuple[Any, list[Any]]:  # fmt: skip
    """A FastAPI app for one registered version: the body limit, ``GET /health`` (open) and ``GET /metadata``
    (behind the token); returns it with the route dependencies the caller's own routes take."""
    from fastapi import FastAPI

    protected = bearer_guard(token)
    app = FastAPI(title=f"sparkwright: {name} v{version}", description=description, version=str(version))
    app.add_middleware(_BodyLimit, max_body_bytes=max_body_bytes)
    health_body = {"status": "ok", "model": name, "version": version}

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return health_body

    @app.get("/metadata", dependencies=protected)
    async def metadata_route() -> dict[str, Any]:
        return metadata

    return app, protected


def bearer_guard(token: str | None) -> list[Any]:
    """The route dependencies that refuse a request without ``Authorization: Bearer <token>`` (none without
    a token)."""
    from fastapi import Depends, HTTPException
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

    if token is None:
        return []
    bearer = HTTPBearer(auto_error=False)

    async def authorised(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
        # async: FastAPI runs a plain ``def`` dependency in a worker thread, a hop on every request.
        if credentials is None or not hmac.compare_digest(credentials.credentials.encode(), token.encode()):
            raise HTTPException(401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})

    return [Depends(authorised)]


def worker_config(registry: Registry, served: Any, *, token: str | None, max_body_bytes: int) -> str:
    """What a worker process of ``sparkwright serve --workers N`` needs to build the same app, as JSON.

    Args:
        served: A :class:`ServedModel`, or a forecasting model's
            :class:`~sparkwright.deploy.forecaster.RegisteredForecaster` (served by its own app).

    The version is pinned (an alias that moves while the workers start does not split them), and the
    export already exists, so no worker starts Spark.
    """
    return json.dumps(
        {
            "tracking_uri": registry.tracker.tracking_uri,
            "artifacts": str(registry.tracker.artifact_root) if registry.tracker.artifact_root else None,
            "model": f"models:/{served.name}/{served.version}",
            "forecaster": not isinstance(served, ServedModel),
            "token": token,
            "max_body_bytes": max_body_bytes,
        }
    )


def worker_app() -> Any:
    """The app of one worker process (``uvicorn --factory``), from the JSON in ``WORKER_CONFIG_ENV``."""
    from sparkwright.tracking import Tracker

    config = json.loads(os.environ[WORKER_CONFIG_ENV])
    registry = Registry(Tracker(config["tracking_uri"], config["artifacts"]))
    options = {"token": config["token"], "max_body_bytes": config["max_body_bytes"]}
    if config.get("forecaster"):
        from sparkwright.deploy.forecaster import load_forecaster
        from sparkwright.deploy.forecaster_app import create_forecaster_app

        return create_forecaster_app(load_forecaster(registry, config["model"]), **options)
    return create_app(load_served_model(registry, config["model"], export_if_needed=False), **options)


class _BodyLimit:
    """ASGI middleware: 413 for a body over ``max_body_bytes``, by its Content-Length before it is read, or,
    for a chunked body, as soon as the chunks read exceed it.

    Plain ASGI on purpose: Starlette's ``BaseHTTPMiddleware`` (``@app.middleware``) costs a task group
    and a response stream per request, about as much as scoring a record.
    """

    def __init__(self, app: Any, max_body_bytes: int):
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = next((value for key, value in scope["headers"] if key == b"content-length"), None)
        if length is not None:
            if length.isdigit() and int(length) > self.max_body_bytes:
                await self._refuse(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body_bytes:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        from starlette.responses import JSONResponse

        response = JSONResponse({"detail": f"request body over {self.max_body_bytes} bytes"}, status_code=413)
        await response(scope, receive, send)


def _record_model(
    inputs: list[tuple[str, str, bool]], ignored: list[str], base: Any, config: Any, field_: Any, create: Any
) -> Any:
    """A strict pydantic model of one record: JSON numbers for numbers, strings for strings, no extras but
    the source columns the model ignores (the label, dropped columns: a row straight from the source).

    Integers must fit their column (64 or 32 bits), so a value NumPy cannot hold is a 422 naming it.
    """
    from pydantic import StrictBool, StrictFloat, StrictInt, StrictStr

    strict = {str: StrictStr, int: StrictInt, float: StrictFloat, bool: StrictBool}  # StrictFloat takes ints
    fields: dict[str, Any] = {}
    for name, mlflow_type, required in inputs:
        python: Any = strict[_PYTHON_TYPES.get(mlflow_type, str)]
        if mlflow_type in _INTEGER_BOUNDS:
            bound = _INTEGER_BOUNDS[mlflow_type]
            python = Annotated[python, field_(ge=-bound, lt=bound)]
        fields[name] = (python, ...) if required else (python | None, None)
    for name in ignored:
        fields.setdefault(name, (Any, None))
    return create("Record", __config__=config(extra="forbid"), **fields)


# ---- scoring ------------------------------------------------------------------------------------


def _score_exported(served: ServedModel, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Score validated records with an ExportedScorer: each input column straight from the records.

    This is ``ExportedScorer.transform`` without its pandas input frame: the records already hold exactly
    the signature's types (pydantic checked them), so each becomes the scorer's ``Column`` directly,
    with JSON null as Spark's null. For one record that is 4x cheaper than a DataFrame.
    """
    from sparkwright.deploy.export.runtime import Frame

    scorer = served.predictor
    columns = {}
    for spec in scorer.inputs:
        name, spark_type = spec["name"], spec["type"]
        values = [record[name] for record in records]
        columns[name] = _column(values, spark_type)
    frame = Frame(columns, pd.RangeIndex(len(records)))
    for step in scorer.steps:
        step.apply(frame)
    if scorer.outputs.get("reason"):
        _raise_refused(frame, scorer.outputs["reason"])
    prediction = frame[scorer.outputs["prediction"]]
    predictions = prediction.values.tolist()
    if prediction.null is not None:
        predictions = [None if null else v for v, null in zip(predictions, prediction.null.tolist(), strict=True)]
    body: dict[str, Any] = {"predictions": predictions}
    if scorer.outputs.get("score"):  # an anomaly detector: predictions are its flags
        score = frame[scorer.outputs["score"]]
        scores = zip(score.values.tolist(), score.nulls().tolist(), strict=True)
        body["scores"] = [None if null else v for v, null in scores]
    if scorer.is_classifier:
        probability = frame[scorer.outputs["probability"]].values
        body["probabilities"] = np.round(probability.astype(float), 12).tolist()
        if served.details.get("classes"):
            body["classes"] = served.details["classes"]
    body["model"] = {"name": served.name, "version": served.version}
    return body


class RefusedRecords(ValueError):
    """Records the model's preparation refused; ``errors`` in FastAPI's 422 form, one per field and rule."""

    def __init__(self, errors: list[dict[str, Any]]):
        super().__init__("; ".join(e["msg"] for e in errors))
        self.errors = errors


def _raise_refused(frame: Any, reason_col: str) -> None:
    from sparkwright.deploy.export.runtime import REASON_FIELDS_SUFFIX

    reasons = frame[reason_col]
    if reasons.null is not None and reasons.null.all():
        return
    fields = frame[reason_col + REASON_FIELDS_SUFFIX].values
    errors = [
        {"loc": ["body", "records", row, *names[:1]], "msg": text, "type": "refused", "fields": names}
        for row in np.nonzero(~reasons.nulls())[0].tolist()
        for names, text in fields[row]
    ]
    raise RefusedRecords(errors)


def _column(values: list[Any], spark_type: str) -> Any:
    """One input column of the scorer, as its ``input_column`` makes it of these values: null (None) is
    Spark's null, integers stay exact (no detour through float)."""
    from sparkwright.deploy.export.runtime import Column

    null = [value is None for value in values]
    has_null = True in null
    if spark_type == "string":
        return Column("string", _object_array(values), np.array(null) if has_null else None)
    if has_null:
        values = [0 if n else v for v, n in zip(values, null, strict=True)]
    if spark_type in ("double", "float"):
        array = np.array(values, dtype=np.float64)
        array = array.astype(np.float32) if spark_type == "float" else array
    else:
        array = np.array(values, dtype=bool if spark_type == "boolean" else np.int64)
    return Column(spark_type, array, np.array(null) if has_null else None)


def _object_array(values: list[Any]) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _score_pyfunc(served: ServedModel, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Score validated records with an MLflow pyfunc model: a pandas frame of the signature's dtypes."""
    from mlflow.exceptions import MlflowException

    data = {name: _pandas_column([r[name] for r in records], kind) for name, kind, _ in served.inputs}
    try:
        output = served.predictor.predict(pd.DataFrame(data))
    except MlflowException as exc:
        if exc.error_code != "INVALID_PARAMETER_VALUE":
            raise
        # MLflow's schema check refused the input, e.g. a null in an integer column (pandas has no NA there).
        raise ValueError(exc.message) from exc
    return _response(output, served)


_NULLABLE_TYPES = {"long": "Int64", "integer": "Int32", "boolean": "boolean"}
_NUMPY_TYPES = {"long": "int64", "integer": "int32", "boolean": "bool", "double": "float64", "float": "float32"}


def _pandas_column(values: list[Any], mlflow_type: str) -> Any:
    """A column MLflow's schema check accepts: null is NaN in a float column, pandas' NA in an integer or
    boolean one (a nullable dtype, only when a value is null)."""
    if mlflow_type in ("double", "float"):
        return np.array([np.nan if v is None else v for v in values], dtype=_NUMPY_TYPES[mlflow_type])
    if mlflow_type in _NULLABLE_TYPES:
        if None in values:
            return pd.array(values, dtype=_NULLABLE_TYPES[mlflow_type])
        return np.array(values, dtype=_NUMPY_TYPES[mlflow_type])
    return _object_array(values)


def _response(output: Any, served: ServedModel) -> dict[str, Any]:
    if isinstance(output, pd.DataFrame):
        predictions = output["prediction"] if "prediction" in output else output.iloc[:, 0]
        probability_cols = [c for c in output.columns if str(c).startswith("probability_")]
        body: dict[str, Any] = {"predictions": _plain(predictions.tolist())}
        if probability_cols:
            body["probabilities"] = np.round(output[probability_cols].to_numpy(float), 12).tolist()
            if served.details.get("classes"):
                body["classes"] = served.details["classes"]
    else:
        body = {"predictions": _plain(list(np.asarray(output).ravel()))}
    body["model"] = {"name": served.name, "version": served.version}
    return body


def _plain(values: list[Any]) -> list[Any]:
    """numpy scalars -> JSON-ready Python values."""
    return [v.item() if hasattr(v, "item") else v for v in values]
