"""The committed notebooks are clean (no outputs), parametrised, and end by checking their claims.

Executing them is the slow test in ``tests/integration/test_notebooks.py``; these checks take milliseconds.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "examples" / "notebooks").glob("*.ipynb"))


@pytest.fixture(params=NOTEBOOKS or [None], ids=lambda p: getattr(p, "stem", "no-notebooks-found"))
def notebook(request) -> nbformat.NotebookNode:
    assert request.param is not None, "no notebooks found in examples/notebooks: the glob or the folder is wrong"
    nb = nbformat.read(request.param, as_version=4)
    nbformat.validate(nb)
    return nb


def test_notebook_has_no_outputs_or_execution_counts(notebook) -> None:
    dirty = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"cells {dirty} have outputs or execution counts; clear them before committing"


def test_notebook_runs_on_the_python3_kernel(notebook) -> None:
    assert notebook.metadata.kernelspec.name == "python3"


def test_first_code_cell_holds_the_parameters(notebook) -> None:
    first = next(c for c in notebook.cells if c.cell_type == "code")
    assert "parameters" in first.metadata.get("tags", []), "tag the first code cell 'parameters' (papermill)"


def test_notebook_opens_with_text_and_ends_by_asserting_its_claims(notebook) -> None:
    assert notebook.cells[0].cell_type == "markdown"
    last = [c for c in notebook.cells if c.cell_type == "code"][-1]
    assert "assert " in last.source
