"""Real-time scoring: a FastAPI app around one MLflow pyfunc model (a Spark model through its export).

``POST /predict`` takes ``{"records": [{column: value, ...}, ...]}``; each record is validated
against the model's signature by a pydantic model built from it, so a missing, extra or mistyped
field is a 422 that names it. ``GET /health`` and ``GET /metadata`` describe the model, and FastAPI
serves the OpenAPI docs at ``/docs``. An optional bearer token protects every route but ``/health``;
a body larger than ``max_body_bytes`` is refused with 413 before it is read.
"""

# No ``from __future__ import annotations``: FastAPI reads the route functions' annotations at runtime,
# and the request models are classes local to create_app.
import hmac
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from sparkwright.errors import ModelError
from sparkwright.registry import Registry, VersionInfo, parse_model_ref

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 1_000_000
MAX_RECORDS = 10_000
_PYTHON_TYPES: dict[str, type] = {
    "string": str,
    "long": int,
    "integer": int,
    "double": float,
    "float": float,
    "boolean": bool,
}


@dataclass
class ServedModel:
    """A loaded pyfunc model and what ``/metadata`` says about it."""

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
    import mlflow.pyfunc
    from mlflow.models import Model

    info = registry.resolve(parse_model_ref(model))
    local = registry.tracker.download_model(info.source)
    flavors = Model.load(str(local / "MLmodel")).flavors
    if "spark" in flavors:
        local = _exported(registry, info, export_if_needed)
    predictor = mlflow.pyfunc.load_model(str(local))
    signature = predictor.metadata.signature
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
    export_meta = (predictor.metadata.metadata or {}).get("sparkwright_export") or {}
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
    import tempfile

    from sparkwright.session import get_session

    log.warning("exporting models:/%s/%s for serving (once; a Spark session starts)", info.name, info.version)
    target = Path(tempfile.mkdtemp(prefix="sparkwright-export-")) / "model"
    return export_version(get_session(), registry, f"models:/{info.name}/{info.version}", target).folder


def create_app(served: ServedModel, *, token: str | None = None, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> Any:
    """The FastAPI app serving ``served``.

    Args:
        token: When set, requests other than ``GET /health`` need ``Authorization: Bearer <token>``.
        max_body_bytes: Larger request bodies are refused with 413.
    """
    import pandas as pd
    from fastapi import Depends, FastAPI, HTTPException, Request
    from fastapi.responses import JSONResponse
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
    from pydantic import BaseModel, ConfigDict, Field, create_model

    record_model = _record_model(served.inputs, BaseModel, ConfigDict, create_model)
    columns = [name for name, _, _ in served.inputs]

    class PredictRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        records: list[record_model] = Field(min_length=1, max_length=MAX_RECORDS)  # type: ignore[valid-type]

    bearer = HTTPBearer(auto_error=False)

    def authorised(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
        if token is None:
            return
        if credentials is None or not hmac.compare_digest(credentials.credentials.encode(), token.encode()):
            raise HTTPException(401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})

    app = FastAPI(
        title=f"sparkwright: {served.name} v{served.version}",
        description="Real-time scoring of a registered model. POST records to /predict.",
        version=str(served.version),
    )

    @app.middleware("http")
    async def limit_body(request: Request, call_next: Any) -> Any:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_body_bytes:
            return JSONResponse({"detail": f"request body over {max_body_bytes} bytes"}, status_code=413)
        if length is None and request.method == "POST":
            body = await request.body()  # chunked: read it (Starlette caches it for the route)
            if len(body) > max_body_bytes:
                return JSONResponse({"detail": f"request body over {max_body_bytes} bytes"}, status_code=413)
        return await call_next(request)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "model": served.name, "version": served.version}

    @app.get("/metadata", dependencies=[Depends(authorised)])
    def metadata() -> dict[str, Any]:
        return {
            "name": served.name,
            "version": served.version,
            "uri": f"models:/{served.name}/{served.version}",
            "signature": {
                "inputs": [{"name": n, "type": t, "required": r} for n, t, r in served.inputs],
                "outputs": served.outputs,
            },
            **served.details,
        }

    @app.post("/predict", dependencies=[Depends(authorised)])
    def predict(body: PredictRequest) -> dict[str, Any]:
        frame = pd.DataFrame([record.model_dump() for record in body.records], columns=columns)
        frame = frame.astype({n: _PANDAS_TYPES[t] for n, t, _ in served.inputs if t in _PANDAS_TYPES})
        try:
            output = served.predictor.predict(frame)
        except ValueError as exc:  # the scorer refuses a value Spark would refuse (e.g. an unseen category)
            raise HTTPException(422, str(exc)) from exc
        return _response(output, served)

    return app


_PANDAS_TYPES = {"long": "Int64", "integer": "Int32", "double": "float64", "float": "float32", "boolean": "boolean"}


def _record_model(inputs: list[tuple[str, str, bool]], base: Any, config: Any, create: Any) -> Any:
    """A strict pydantic model of one record: JSON numbers for numbers, strings for strings, no extras."""
    from pydantic import StrictBool, StrictFloat, StrictInt, StrictStr

    strict = {str: StrictStr, int: StrictInt, float: StrictFloat, bool: StrictBool}  # StrictFloat takes ints
    fields: dict[str, Any] = {}
    for name, mlflow_type, required in inputs:
        python = strict[_PYTHON_TYPES.get(mlflow_type, str)]
        fields[name] = (python, ...) if required else (python | None, None)
    return create("Record", __config__=config(extra="forbid"), **fields)


def _response(output: Any, served: ServedModel) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

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
