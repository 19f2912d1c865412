"""The REST app of a recommender (``sparkwright serve`` on a task-recommendation model), served without Spark.

``GET /recommend?user=ID&n=10`` answers what ``sparkwright recommend`` prints; ``POST /predict`` takes
``{"records": [{<user column>: ..., <item column>: ...}]}`` and returns a predicted rating per record (the
training mean for an unknown user or item, as the Spark model does). ``/health`` and ``/metadata`` as for
any served model; the bearer token and the body limit work the same way.
"""

# No ``from __future__ import annotations``: FastAPI reads the route functions' annotations at runtime.
from typing import Annotated, Any

from sparkwright.deploy.recommender import RegisteredRecommender
from sparkwright.deploy.serve import DEFAULT_MAX_BODY_BYTES, MAX_RECORDS, model_app
from sparkwright.errors import DataError

MAX_ITEMS = 1000


def create_recommender_app(
    loaded: RegisteredRecommender, *, token: str | None = None, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
) -> Any:
    """The FastAPI app answering top-N and rating requests of ``loaded``."""
    from fastapi import HTTPException, Query
    from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

    recommender = loaded.recommender
    Id = StrictInt | StrictStr | StrictFloat

    class Pair(BaseModel):
        model_config = ConfigDict(extra="forbid", populate_by_name=True)
        user: Id = Field(alias=recommender.user_col)  # type: ignore[valid-type]
        item: Id = Field(alias=recommender.item_col)  # type: ignore[valid-type]

    class PredictRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        records: list[Pair] = Field(min_length=1, max_length=MAX_RECORDS)

    metadata_body = {
        "name": loaded.name,
        "version": loaded.version,
        "uri": f"models:/{loaded.name}/{loaded.version}",
        "task": "recommendation",
        "user": recommender.user_col,
        "item": recommender.item_col,
        "implicit": recommender.implicit,
        "users": len(recommender.users),
        "items": len(recommender.items),
        "run_id": loaded.run_id,
        "metrics": loaded.metrics,
    }
    app, protected = model_app(
        loaded.name,
        loaded.version,
        "Recommendations of a registered ALS model: GET /recommend?user=ID&n=10, POST /predict.",
        metadata_body,
        token,
        max_body_bytes,
    )

    @app.get("/recommend", dependencies=protected)
    async def recommend(
        user: Annotated[str, Query(description=f"A {recommender.user_col} value.")],
        n: Annotated[int, Query(ge=1, le=MAX_ITEMS, description="How many items.")] = 10,
    ) -> dict[str, Any]:
        try:
            return recommender.recommend(user, n)
        except DataError as exc:
            raise HTTPException(422, str(exc)) from exc

    @app.post("/predict", dependencies=protected)
    async def predict(body: PredictRequest) -> dict[str, Any]:
        return {"predictions": [recommender.predict(pair.user, pair.item) for pair in body.records]}

    return app
