"""How the commands read a TABLE argument: a path or URL, or ``<project>/<table>`` in the workspace's lake."""

from __future__ import annotations

import os
from pathlib import Path

from sparkwright.errors import DataError
from sparkwright.workspace import Workspace


def existing_table(table: str, workspace: Path | None) -> str:
    """The table's path: an existing path as given, else ``<project>/<table>`` in the workspace.

    A missing local table is reported before Spark starts, with the tables the workspace does have.
    """
    if "://" in table:
        return table  # remote: only Delta itself can tell whether a table is there
    ws = Workspace.resolve(workspace)
    candidate = Path(table).expanduser()
    parts = table.strip("/").split("/")
    if not (candidate / "_delta_log").is_dir() and len(parts) == 2 and not candidate.is_absolute():
        candidate = Path(ws.table_path(*parts))
    if (candidate / "_delta_log").is_dir():
        return str(candidate.resolve())
    known = _workspace_tables(ws.lake)
    listing = f"Tables in {ws.root}: {', '.join(known)}." if known else f"The workspace {ws.root} has no tables yet."
    raise DataError(f"no Delta table {table!r} (looked at {candidate}). {listing}")


def existing_input(source: str, workspace: Path | None) -> str:
    """An input to score: an existing file or folder as given, else a Delta table as :func:`existing_table`."""
    if Path(source).expanduser().exists():
        return source
    try:
        return existing_table(source, workspace)
    except DataError as exc:
        raise DataError(f"no file or folder {source!r}, and {exc}") from None


def output_table(output: str, ws: Workspace) -> str:
    """``<project>/<table>`` names a table in the workspace's lake; a URL, absolute or ./ path is a path."""
    parts = output.strip("/").split("/")
    if "://" in output or Path(output).is_absolute() or output.startswith(".") or len(parts) != 2:
        return output
    return ws.table_path(*parts)


def _workspace_tables(lake_root: Path) -> list[str]:
    """``<project>/<table>`` for every Delta table under the workspace's lake folder."""
    if not lake_root.is_dir():
        return []
    return sorted(
        f"{project}/{name}"
        for project in os.listdir(lake_root)
        if (lake_root / project).is_dir()
        for name in os.listdir(lake_root / project)
        if (lake_root / project / name / "_delta_log").is_dir()
    )
