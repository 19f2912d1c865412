"""A trained recommender without Spark: ALS factors in NumPy, ids as they were, most popular items as fallback.

The main job saves one next to every logged ALS model (``model/recommender/``). ``sparkwright recommend``
and the ``/recommend`` route of ``sparkwright serve`` load it, so a top-N answer is one matrix-vector
product on the caller's machine: no JVM, no Spark job per request. A user the model has no factors for
(new since training) gets the most popular training items, and the answer says so. Items a user rated in
training are never recommended to them again: the recommender carries each user's training items.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sparkwright.errors import DataError, ModelError
from sparkwright.registry import Registry, parse_model_ref

# The MLmodel metadata key that marks a recommender; its value names the id columns.
RECOMMENDER_KEY = "sparkwright_recommender"
# Where the recommender lies inside a logged model's folder.
RECOMMENDER_DIR = "recommender"
FALLBACK = "most_popular"
_FORMAT = 2
# How many popular items the fallback keeps (an n beyond it gets this many).
POPULAR_ITEMS = 1000


@dataclass
class Recommender:
    """User and item factors by id (ids as text, the training's most frequent first: row ``i`` is ``users[i]``),
    the rating for an unknown pair, the most popular items (best first) for users without factors, and the
    items each user rated.

    Attributes:
        seen_start: Row ``i``'s training items are ``seen_items[seen_start[i]:seen_start[i + 1]]`` (item rows;
            compressed sparse rows of the user x item ratings, ``len(users) + 1`` offsets).
        integer_ids: ``(user, item)``: whether the source ids are integers (answers give them back as such).
    """

    user_col: str
    item_col: str
    users: list[str]
    items: list[str]
    user_factors: np.ndarray
    item_factors: np.ndarray
    popular: list[str]
    fallback_rating: float
    implicit: bool
    seen_start: np.ndarray
    seen_items: np.ndarray
    integer_ids: tuple[bool, bool] = (False, False)
    _user_index: dict[str, int] = field(init=False, repr=False)
    _item_index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._user_index = {label: i for i, label in enumerate(self.users)}
        self._item_index = {label: i for i, label in enumerate(self.items)}

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(
            folder / "factors.npz",
            users=self.user_factors,
            items=self.item_factors,
            seen_start=self.seen_start,
            seen_items=self.seen_items,
        )
        meta = {
            "format": _FORMAT,
            "user_col": self.user_col,
            "item_col": self.item_col,
            "users": self.users,
            "items": self.items,
            "popular": self.popular,
            "fallback_rating": self.fallback_rating,
            "implicit": self.implicit,
            "integer_ids": list(self.integer_ids),
        }
        (folder / "recommender.json").write_text(json.dumps(meta))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Recommender:
        """Raises: ModelError: the folder holds no recommender, or one of another format."""
        folder = Path(folder)
        try:
            meta = json.loads((folder / "recommender.json").read_text())
            factors = np.load(folder / "factors.npz")
        except OSError as exc:
            raise ModelError(
                f"{folder} holds no recommender ({exc}); recommendation models trained by "
                "`sparkwright run` carry one in model/recommender/."
            ) from exc
        if meta.get("format") != _FORMAT:
            raise ModelError(f"{folder}: recommender format {meta.get('format')!r}; this sparkwright reads {_FORMAT}.")
        return cls(
            user_col=meta["user_col"],
            item_col=meta["item_col"],
            users=meta["users"],
            items=meta["items"],
            user_factors=factors["users"],
            item_factors=factors["items"],
            popular=meta["popular"],
            fallback_rating=float(meta["fallback_rating"]),
            implicit=bool(meta["implicit"]),
            seen_start=factors["seen_start"],
            seen_items=factors["seen_items"],
            integer_ids=tuple(meta["integer_ids"]),
        )

    def recommend(self, user: Any, n: int = 10) -> dict[str, Any]:
        """The ``n`` items with the highest predicted score for ``user`` among those they did not rate, best first.

        Returns:
            ``{"user", "items": [{"item", "score"}], "source"}``; ``source`` is ``als``, or ``most_popular``
            for a user the model does not know (scores are then null: popularity is not a rating).

        Raises:
            DataError: ``n`` is not a positive integer.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise DataError(f"n must be a positive integer (how many items to recommend), got {n!r}.")
        if self._row(self._user_index, user, self.user_factors) is None:
            picks = [{"item": self._item_id(label), "score": None} for label in self.popular[:n]]
            return {"user": user, "items": picks, "source": FALLBACK}
        [(top, scores)] = self.rank_rows(np.array([self._user_index[_label(user)]]), n)
        picks = [{"item": self._item_id(self.items[i]), "score": float(s)} for i, s in zip(top, scores, strict=True)]
        return {"user": user, "items": picks, "source": "als"}

    def rank_rows(self, user_rows: np.ndarray, n: int, chunk: int = 1024) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each user row: ``(item rows, scores)`` of the ``n`` best items the user did not rate, best first.

        What :meth:`recommend` answers, for many users at once (the run's top-k metrics rank the test users
        with it, so they judge exactly what is served); ``chunk`` users at a time bound the memory.
        """
        out: list[tuple[np.ndarray, np.ndarray]] = []
        for start in range(0, len(user_rows), chunk):
            rows = user_rows[start : start + chunk]
            scores = self.user_factors[rows] @ self.item_factors.T
            scores = np.where(np.isnan(scores), -np.inf, scores)
            for j, row in enumerate(rows):
                scores[j, self.seen_items[self.seen_start[row] : self.seen_start[row + 1]]] = -np.inf
            top = np.argsort(-scores, axis=1, kind="stable")[:, :n]
            for j in range(len(rows)):
                picked = scores[j, top[j]]
                keep = np.isfinite(picked)
                out.append((top[j][keep], picked[keep]))
        return out

    def predict(self, user: Any, item: Any) -> float:
        """The predicted rating (explicit) or preference (implicit); ``fallback_rating`` for an unknown user or item."""
        user_row = self._row(self._user_index, user, self.user_factors)
        item_row = self._row(self._item_index, item, self.item_factors)
        if user_row is None or item_row is None:
            return self.fallback_rating
        return float(user_row @ item_row)

    def _row(self, index: dict[str, int], key: Any, factors: np.ndarray) -> np.ndarray | None:
        position = index.get(_label(key))
        if position is None or np.isnan(factors[position]).any():
            return None
        return factors[position]

    def _item_id(self, label: str) -> Any:
        return int(label) if self.integer_ids[1] else label


def _label(key: Any) -> str:
    """An id as StringIndexer wrote it: integers without a decimal point, everything else as str()."""
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    return str(key)


@dataclass(frozen=True)
class RegisteredRecommender:
    """A registered version's recommender and where it came from."""

    recommender: Recommender
    name: str
    version: str
    run_id: str | None
    metrics: dict[str, float]


def load_recommender(registry: Registry, model: str) -> RegisteredRecommender | None:
    """The recommender of ``model`` (a models:/ URI), or None when the model is not a recommender.

    Raises:
        ModelError: Unknown model, version or alias; or a recommender whose files are missing.
    """
    from mlflow.models import Model

    info = registry.resolve(parse_model_ref(model))
    local = registry.tracker.download_model(info.source)
    if RECOMMENDER_KEY not in (Model.load(str(local / "MLmodel")).metadata or {}):
        return None
    metrics = {k: v for k, v in info.metrics.items() if not k.startswith(("train_", "fit_"))}
    return RegisteredRecommender(
        Recommender.load(local / RECOMMENDER_DIR), info.name, info.version, info.run_id, metrics
    )


def require_recommender(registry: Registry, model: str) -> RegisteredRecommender:
    """Like :func:`load_recommender`, for callers that need one.

    Raises:
        ModelError: ``model`` is not a recommender (names what it is for instead).
    """
    loaded = load_recommender(registry, model)
    if loaded is None:
        raise ModelError(
            f"{model} is not a recommendation model (task recommendation); score it with `sparkwright predict` "
            "or `sparkwright serve` instead."
        )
    return loaded
