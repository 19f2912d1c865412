"""The workspace: one folder that holds everything a run writes, so it can be moved or deleted as a unit."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sparkwright.settings import get_settings


@dataclass(frozen=True)
class Workspace:
    """Paths inside a workspace folder. Nothing is created until a stage writes."""

    root: Path

    @classmethod
    def resolve(cls, root: str | os.PathLike[str] | None = None) -> Workspace:
        """The workspace at ``root``, else ``SPARKWRIGHT_WORKSPACE``, else ``./sparkwright-workspace``."""
        return cls(Path(root or get_settings().workspace).expanduser().resolve())

    @property
    def lake(self) -> Path:
        return self.root / "lake"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def artifacts(self) -> Path:
        return self.root / "mlartifacts"

    @property
    def tracking_uri(self) -> str:
        """``SPARKWRIGHT_TRACKING_URI``, else ``MLFLOW_TRACKING_URI``, else SQLite in the workspace."""
        configured = get_settings().tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
        return configured or f"sqlite:///{self.root / 'mlflow.db'}"

    def table_path(self, project: str, table: str) -> str:
        """Where a project's Delta table lives, e.g. ``lake/hotel-prices/bronze``."""
        return str(self.lake / project / table)
