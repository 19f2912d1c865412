"""Route each row to its group's model: the runtime of the routing MLflow model of ``train_per_group``.

This file needs only numpy and pandas (and the group models' own library, e.g. scikit-learn). The routing
pyfunc model carries a copy of it in its ``code/`` folder as ``sparkwright_routing``, so the model loads
with ``mlflow.pyfunc.load_model`` where sparkwright is not installed.

A router folder holds ``routing.json`` (group columns, features, one entry per group, the fallback) and
one pickled model per trained group under ``models/``.
"""

from __future__ import annotations

import json
import math
import os
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

try:
    from sparkwright.errors import ModelError as _BaseError
except ImportError:  # inside a routing model loaded without sparkwright
    _BaseError = ValueError  # type: ignore[misc,assignment]

FORMAT_VERSION = 1
INDEX_FILE = "routing.json"
_SHOWN_GROUPS = 20  # groups listed by name in an error message

GroupKey = tuple[Any, ...]


class UnknownGroupError(_BaseError):  # type: ignore[misc,valid-type]
    """Rows of groups the routing model has no model for, and no fallback. ``groups`` lists their keys."""

    def __init__(self, message: str, groups: list[GroupKey]):
        self.groups = groups
        super().__init__(message)


def group_key(values: Any) -> GroupKey:
    """A group's key as a tuple of plain Python values (numpy scalars unwrapped, NaN as None)."""
    items = values if isinstance(values, tuple | list) else (values,)
    key = []
    for value in items:
        if isinstance(value, np.generic):
            value = value.item()
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            value = None
        key.append(value)
    return tuple(key)


class GroupRouter:
    """Models per group key, and what to do with rows of other groups.

    Args:
        group_columns: Columns that form the key, in order.
        feature_columns: Columns every group model takes, in order (a DataFrame with these names).
        models: Fitted model per key (tuples, one value per group column).
        fallback: None (unseen group -> :class:`UnknownGroupError`), ``"global"`` (``fallback_model``
            scores them) or ``"value"`` (``fallback_value`` is their prediction).
        fallback_model: The model for ``fallback="global"``, fitted on all groups' rows.
        fallback_value: The prediction for ``fallback="value"``.
        not_trained: Why groups without a model have none (``failed: ...``, ``skipped: ...``), for messages.
    """

    def __init__(
        self,
        group_columns: Sequence[str],
        feature_columns: Sequence[str],
        models: Mapping[GroupKey, Any],
        *,
        fallback: str | None = None,
        fallback_model: Any = None,
        fallback_value: Any = None,
        not_trained: Mapping[GroupKey, str] | None = None,
    ):
        if fallback not in (None, "global", "value"):
            raise ValueError(f"fallback must be None, 'global' or 'value', got {fallback!r}.")
        if fallback == "global" and fallback_model is None:
            raise ValueError("fallback='global' needs the global model (fallback_model).")
        self.group_columns = list(group_columns)
        self.feature_columns = list(feature_columns)
        self.models = {group_key(k): m for k, m in models.items()}
        self.fallback = fallback
        self.fallback_model = fallback_model
        self.fallback_value = fallback_value
        self.not_trained = {group_key(k): v for k, v in (not_trained or {}).items()}

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """One prediction per row of ``frame`` (any order, any mix of groups), by its group's model.

        Raises:
            UnknownGroupError: Rows of groups without a model when there is no fallback; the message names
                them, why they have no model if they were in training, and the known groups.
            ValueError: ``frame`` lacks group or feature columns.
        """
        needed = [*self.group_columns, *self.feature_columns]
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ValueError(f"the input lacks column(s) {missing}; the routing model takes {needed}.")
        frame = frame.reset_index(drop=True)
        positions = frame.groupby(self.group_columns, dropna=False, sort=False).indices
        parts: list[tuple[np.ndarray, np.ndarray]] = []
        unknown: dict[GroupKey, int] = {}
        for raw_key, rows in positions.items():
            key = group_key(raw_key)
            model = self.models.get(key)
            if model is None and self.fallback == "global":
                model = self.fallback_model
            if model is None:
                if self.fallback == "value":
                    parts.append((rows, np.full(len(rows), self.fallback_value)))
                else:
                    unknown[key] = len(rows)
                continue
            try:
                values = np.asarray(model.predict(frame.iloc[rows][self.feature_columns]))
            except Exception as exc:
                exc.add_note(f"while scoring the rows of group {self._describe(key)}")
                raise
            parts.append((rows, values.reshape(len(rows), -1)[:, 0] if values.ndim > 1 else values))
        if unknown:
            raise UnknownGroupError(self._unknown_message(unknown), list(unknown))
        if not parts:
            return np.empty(0)
        out = np.empty(len(frame), dtype=np.result_type(*[values.dtype for _, values in parts]))
        for rows, values in parts:
            out[rows] = values
        return out

    # ---- files ----------------------------------------------------------------------------------

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """Write ``routing.json`` and one pickle per model into ``folder`` (created)."""
        root = Path(folder)
        (root / "models").mkdir(parents=True, exist_ok=True)
        groups = []
        for index, (key, model) in enumerate(self.models.items()):
            name = f"models/{index}.pkl"
            (root / name).write_bytes(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
            groups.append({"key": list(key), "file": name})
        fallback: dict[str, Any] | None = None
        if self.fallback == "global":
            (root / "models/global.pkl").write_bytes(pickle.dumps(self.fallback_model, protocol=5))
            fallback = {"kind": "global", "file": "models/global.pkl"}
        elif self.fallback == "value":
            fallback = {"kind": "value", "value": _plain(self.fallback_value)}
        index_doc = {
            "format_version": FORMAT_VERSION,
            "group_columns": self.group_columns,
            "feature_columns": self.feature_columns,
            "groups": groups,
            "not_trained": [{"key": list(k), "reason": v} for k, v in self.not_trained.items()],
            "fallback": fallback,
        }
        (root / INDEX_FILE).write_text(json.dumps(index_doc, indent=1))
        return root

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> GroupRouter:
        """Read a folder written by :meth:`save` (unpickles the group models).

        Raises:
            ValueError: Unknown format version, or pickles refused by ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION``.
        """
        if os.environ.get("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true").strip().lower() in ("false", "0", "no"):
            raise ValueError(
                "the routing model's group models are pickles and MLFLOW_ALLOW_PICKLE_DESERIALIZATION is false; "
                "set it to true for models you trust."
            )
        root = Path(folder)
        doc = json.loads((root / INDEX_FILE).read_text())
        if doc.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"routing model format {doc.get('format_version')} is not {FORMAT_VERSION}.")
        models = {tuple(g["key"]): pickle.loads((root / g["file"]).read_bytes()) for g in doc["groups"]}
        fallback = doc.get("fallback") or {}
        return cls(
            doc["group_columns"],
            doc["feature_columns"],
            models,
            fallback=fallback.get("kind"),
            fallback_model=pickle.loads((root / fallback["file"]).read_bytes())
            if fallback.get("kind") == "global"
            else None,
            fallback_value=fallback.get("value"),
            not_trained={tuple(item["key"]): item["reason"] for item in doc.get("not_trained", [])},
        )

    # ---- messages -------------------------------------------------------------------------------

    def _describe(self, key: GroupKey) -> str:
        parts = [f"{c}={v!r}" for c, v in zip(self.group_columns, key, strict=True)]
        return parts[0] if len(parts) == 1 else "(" + ", ".join(parts) + ")"

    def _unknown_message(self, unknown: dict[GroupKey, int]) -> str:
        lines = []
        for key, rows in unknown.items():
            reason = self.not_trained.get(key)
            why = f"it did not train ({reason})" if reason else "it was not in the training data"
            lines.append(f"{self._describe(key)} ({rows} row{'s' if rows != 1 else ''}): {why}")
        known = sorted((self._describe(k) for k in self.models), key=str)
        shown = ", ".join(known[:_SHOWN_GROUPS])
        if len(known) > _SHOWN_GROUPS:
            shown += f", ... ({len(known)} in all)"
        return (
            f"no model for {len(unknown)} group(s): {'; '.join(lines)}. Known groups: {shown or 'none'}. "
            "Train with fallback='global' or a fixed fallback value to score unseen groups."
        )


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
