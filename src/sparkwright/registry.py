"""The model registry as users address it: ``models:/name@alias`` and ``models:/name/version`` URIs,
aliases with a history (so ``rollback`` knows where an alias was before), and version details.

MLflow aliases keep no history; sparkwright records each alias's past versions in a tag of the
registered model (``sparkwright.alias_history.<alias>``), written by every alias change it makes,
including the main job's automatic promotion.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sparkwright.errors import ModelError
from sparkwright.tracking import CHAMPION, Tracker

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion

_HISTORY_TAG = "sparkwright.alias_history."
_HISTORY_KEEP = 50  # versions remembered per alias (a tag value holds at most 5,000 characters)
_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<version>\d+))?/?$")


@dataclass(frozen=True)
class ModelRef:
    """A registered model, optionally one version of it (by number or alias)."""

    name: str
    version: str | None = None
    alias: str | None = None

    @property
    def uri(self) -> str:
        if self.alias:
            return f"models:/{self.name}@{self.alias}"
        if self.version:
            return f"models:/{self.name}/{self.version}"
        return f"models:/{self.name}"


@dataclass(frozen=True)
class VersionInfo:
    """What ``models show`` prints for one version."""

    name: str
    version: str
    aliases: list[str]
    run_id: str | None
    source: str
    created: datetime
    status: str
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


def parse_model_ref(text: str) -> ModelRef:
    """``models:/name@alias``, ``models:/name/3``, ``models:/name`` or a bare ``name``.

    Raises:
        ModelError: Anything else (e.g. a ``runs:/`` URI), with the accepted forms.
    """
    match = _URI.match(text.strip())
    if match:
        return ModelRef(match["name"], match["version"], match["alias"])
    if text and "/" not in text and ":" not in text and "@" not in text:
        return ModelRef(text)
    raise ModelError(
        f"{text!r} is not a registered model; use models:/<name>@<alias>, models:/<name>/<version> or <name>."
    )


class Registry:
    """Registry operations of one MLflow store, through a :class:`Tracker`."""

    def __init__(self, tracker: Tracker):
        self.tracker = tracker

    @property
    def _client(self) -> Any:
        return self.tracker.client

    def names(self) -> list[str]:
        return sorted(m.name for m in self._client.search_registered_models())

    def versions(self, name: str) -> list[VersionInfo]:
        """Every version of ``name``, newest first, with its aliases and its run's metrics and params.

        Raises:
            ModelError: No such registered model (the message lists the ones that exist).
        """
        self._require_model(name)
        found = self._client.search_model_versions(f"name = '{name}'")
        return [self._info(v) for v in sorted(found, key=lambda v: int(v.version), reverse=True)]

    def resolve(self, ref: ModelRef) -> VersionInfo:
        """The version a reference points at (the latest when it names no version or alias).

        Raises:
            ModelError: No such model, version or alias.
        """
        return self._info(self._version(ref))

    def set_alias(self, name: str, alias: str, version: str) -> str | None:
        """Point ``alias`` at ``version``, remembering where it was; returns the previous version."""
        self._require_model(name)
        self._version(ModelRef(name, version=version))
        previous = self._alias_version(name, alias)
        self._client.set_registered_model_alias(name, alias, str(version))
        history = self._history(name, alias)
        if previous is not None and (not history or history[-1] != previous):
            history.append(previous)  # an alias set before sparkwright kept history
        if not history or history[-1] != str(version):
            history.append(str(version))
        self._save_history(name, alias, history)
        return previous

    def promote(self, ref: ModelRef, alias: str = CHAMPION) -> tuple[str | None, str]:
        """Point ``alias`` (default ``champion``) at the version ``ref`` names: (previous, new)."""
        target = self._version(ref)
        return self.set_alias(ref.name, alias, str(target.version)), str(target.version)

    def rollback(self, name: str, alias: str = CHAMPION) -> tuple[str, str]:
        """Move ``alias`` back to the version that held it before: (from, to).

        Raises:
            ModelError: The alias is not set, or no earlier version that still exists held it.
        """
        current = self._alias_version(name, alias)
        if current is None:
            raise ModelError(f"model {name!r} has no alias {alias!r}; nothing to roll back.")
        history = self._history(name, alias)
        while history and history[-1] == current:
            history.pop()
        existing = {v.version for v in self.versions(name)}
        while history and history[-1] not in existing:
            history.pop()
        if not history:
            raise ModelError(
                f"no earlier version of {name!r} held alias {alias!r} (it is on v{current}); "
                f"use `sparkwright models promote models:/{name}/<version> --alias {alias}`."
            )
        target = history[-1]
        self._client.set_registered_model_alias(name, alias, target)
        self._save_history(name, alias, history)
        return current, target

    def delete_alias(self, name: str, alias: str) -> str:
        """Remove ``alias``; returns the version it pointed at."""
        current = self._alias_version(name, alias)
        if current is None:
            raise ModelError(f"model {name!r} has no alias {alias!r}.")
        self._client.delete_registered_model_alias(name, alias)
        return current

    # ---- internals ------------------------------------------------------------------------------

    def _require_model(self, name: str) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self._client.get_registered_model(name)
        except MlflowException:
            known = self.names()
            from sparkwright.config.checks import did_you_mean

            raise ModelError(
                f"no registered model {name!r} in {self.tracker.tracking_uri}; registered: "
                f"{', '.join(known) or 'none'}." + did_you_mean(name, known)
            ) from None

    def _version(self, ref: ModelRef) -> ModelVersion:
        from mlflow.exceptions import MlflowException

        self._require_model(ref.name)
        if ref.alias:
            try:
                return self._client.get_model_version_by_alias(ref.name, ref.alias)
            except MlflowException:
                aliases = sorted(self._client.get_registered_model(ref.name).aliases)
                raise ModelError(
                    f"model {ref.name!r} has no alias {ref.alias!r}; its aliases: {', '.join(aliases) or 'none'}."
                ) from None
        if ref.version:
            try:
                return self._client.get_model_version(ref.name, ref.version)
            except MlflowException:
                versions = sorted(int(v.version) for v in self._client.search_model_versions(f"name = '{ref.name}'"))
                raise ModelError(
                    f"model {ref.name!r} has no version {ref.version}; versions: {', '.join(map(str, versions))}."
                ) from None
        latest = max(self._client.search_model_versions(f"name = '{ref.name}'"), key=lambda v: int(v.version))
        return latest

    def _alias_version(self, name: str, alias: str) -> str | None:
        version = self.tracker.version_by_alias(name, alias)
        return None if version is None else str(version.version)

    def _history(self, name: str, alias: str) -> list[str]:
        raw = self._client.get_registered_model(name).tags.get(_HISTORY_TAG + alias)
        return [str(v) for v in json.loads(raw)] if raw else []

    def _save_history(self, name: str, alias: str, history: list[str]) -> None:
        self._client.set_registered_model_tag(name, _HISTORY_TAG + alias, json.dumps(history[-_HISTORY_KEEP:]))

    def _info(self, version: ModelVersion) -> VersionInfo:
        model = self._client.get_registered_model(version.name)
        aliases = sorted(a for a, v in model.aliases.items() if str(v) == str(version.version))
        metrics: dict[str, float] = {}
        params: dict[str, str] = {}
        if version.run_id:
            run = self._client.get_run(version.run_id)
            metrics, params = dict(run.data.metrics), dict(run.data.params)
        return VersionInfo(
            name=version.name,
            version=str(version.version),
            aliases=aliases,
            run_id=version.run_id,
            source=version.source,
            created=datetime.fromtimestamp(version.creation_timestamp / 1000, tz=UTC),
            status=str(version.status),
            tags=dict(version.tags),
            metrics=metrics,
            params=params,
        )
