"""The REST app of a forecasting model (``sparkwright serve`` on a task-forecasting model), served without Spark.

``POST /predict`` takes ``{"series": [{<series columns>}, ...], "horizon": 6}``: the series to forecast, each
by its key columns, and the horizon (optional: the run's); a series may carry its own ``"horizon"``.
``{"records": [...]}``, the shape ``/predict`` of any served model takes, is read the same way. The answer is
``{"forecasts": [{<series columns>, <time>, "model", "forecast", "lo_80", "hi_80", ...}], "model": {...}}``,
one row per series and future time, times in ISO 8601: what the registered model's pyfunc ``predict`` gives.
``GET /forecast?<series column>=...&horizon=6`` answers one series. A series the model was not fitted on is a
422 that names it, and so is a horizon that is not a whole number from 1 to ``MAX_HORIZON``. ``/health`` and
``/metadata`` as for any served model; the bearer token and the body limit work the same way. A model
fitted with exogenous columns takes, for a series whose model uses them, one row per point to forecast with
the time (ISO 8601) and the exogenous values.
"""

# No ``from __future__ import annotations``: FastAPI reads the route functions' annotations at runtime.
from typing import Annotated, Any

import pandas as pd

from sparkwright.deploy.forecaster import MAX_HORIZON, RegisteredForecaster
from sparkwright.deploy.serve import DEFAULT_MAX_BODY_BYTES, MAX_RECORDS, model_app
from sparkwright.forecast.runtime import HORIZON_COL


def _boolean(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise ValueError(text)
    return text.lower() == "true"


# Spark SQL type of a series column -> how a query parameter's text becomes its value.
_FROM_TEXT = {"bigint": int, "int": int, "double": float, "float": float, "boolean": _boolean}


def create_forecaster_app(
    loaded: RegisteredForecaster, *, token: str | None = None, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
) -> Any:
    """The FastAPI app answering forecast requests of ``loaded``."""
    from fastapi import HTTPException, Query, Request
    from fastapi.concurrency import run_in_threadpool
    from pydantic import BaseModel, ConfigDict, Field, model_validator

    forecaster, series = loaded.forecaster, loaded.series
    Horizon = Annotated[int, Field(strict=True, ge=1, le=MAX_HORIZON)]
    Row = _row_model(loaded, Horizon)

    class PredictRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        series: list[Row] | None = Field(None, min_length=1, max_length=MAX_RECORDS)  # type: ignore[valid-type]
        records: list[Row] | None = Field(None, min_length=1, max_length=MAX_RECORDS)  # type: ignore[valid-type]
        horizon: Horizon | None = None  # type: ignore[valid-type]

        @model_validator(mode="after")
        def one_list(self) -> "PredictRequest":
            if (self.series is None) == (self.records is None):
                raise ValueError("send the series to forecast as 'series' (or 'records'): one list of them.")
            return self

    def answer(requests: pd.DataFrame) -> dict[str, Any]:
        unique = requests.drop(columns=loaded.exogenous_columns, errors="ignore").drop_duplicates()
        repeated = unique[series].duplicated(keep=False)
        if repeated.any():
            keys = list(dict.fromkeys(unique[series][repeated].itertuples(index=False, name=None)))
            raise HTTPException(422, f"series requested more than once with different horizons: {keys}.")
        try:
            out = forecaster.forecast(requests)
        except ValueError as exc:  # a series the model does not know (named), or one it cannot forecast so far
            raise HTTPException(422, str(exc)) from exc
        out[forecaster.time] = out[forecaster.time].map(lambda t: t.isoformat())
        rows = out.astype(object).where(out.notna(), None).to_dict(orient="records")
        return {"forecasts": rows, "model": {"name": loaded.name, "version": loaded.version}}

    metadata_body = {
        "name": loaded.name,
        "version": loaded.version,
        "uri": loaded.uri,
        "task": "forecasting",
        "series_columns": series,
        "time": forecaster.time,
        "frequency": forecaster.meta["freq"],
        "horizon": loaded.horizon,
        "max_horizon": MAX_HORIZON,
        "levels": list(forecaster.meta["levels"]),
        "series": len(forecaster.keys),
        "run_id": loaded.run_id,
        "metrics": loaded.metrics,
    }
    app, protected = model_app(
        loaded.name,
        loaded.version,
        "Forecasts of a registered forecasting model: POST /predict, GET /forecast.",
        metadata_body,
        token,
        max_body_bytes,
    )

    @app.post("/predict", dependencies=protected)
    async def predict(body: PredictRequest) -> dict[str, Any]:
        rows = [row.model_dump(by_alias=True) for row in (body.series or body.records or [])]
        frame = pd.DataFrame([{**row, HORIZON_COL: row[HORIZON_COL] or body.horizon} for row in rows])
        return await run_in_threadpool(answer, frame)

    key_parameters = [
        {"name": c, "in": "query", "required": True, "schema": {"type": "string"}, "description": "Series column."}
        for c in series
    ]

    @app.get("/forecast", dependencies=protected, openapi_extra={"parameters": key_parameters})
    async def forecast(
        request: Request,
        horizon: Annotated[int | None, Query(ge=1, le=MAX_HORIZON, description="Points to forecast.")] = None,
    ) -> dict[str, Any]:
        given = request.query_params
        missing = [c for c in series if c not in given]
        if missing:
            raise HTTPException(422, f"name the series with the query parameter(s) {missing} (columns {series}).")
        key = {}
        for column in series:
            try:
                key[column] = _FROM_TEXT.get(loaded.inputs.get(column, "string"), str)(given[column])
            except ValueError:
                raise HTTPException(
                    422, f"query parameter {column}={given[column]!r} is not a {loaded.inputs[column]}."
                ) from None
        return await run_in_threadpool(answer, pd.DataFrame([{**key, HORIZON_COL: horizon}]))

    return app


def _row_model(loaded: RegisteredForecaster, horizon: Any) -> Any:
    """A strict pydantic model of one requested series: its key columns (by name, JSON types of the model's
    signature) and an optional horizon; any other field is a 422 that names it."""
    from pydantic import ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, create_model

    strict = {"bigint": StrictInt, "int": StrictInt, "double": StrictFloat, "float": StrictFloat, "boolean": StrictBool}
    fields: dict[str, Any] = {
        # Field names of their own: a column's name need not be a Python identifier.
        f"key_{i}": (strict.get(loaded.inputs.get(c, "string"), StrictStr), Field(alias=c))
        for i, c in enumerate(loaded.series)
    }
    fields[HORIZON_COL] = (horizon | None, None)
    for i, column in enumerate(loaded.exogenous_columns):  # a point to forecast: its time and exogenous values
        kind = StrictStr if column == loaded.forecaster.time else StrictFloat | StrictInt
        fields[f"ahead_{i}"] = (kind | None, Field(None, alias=column))
    return create_model("SeriesRequest", __config__=ConfigDict(extra="forbid"), **fields)
