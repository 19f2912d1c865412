"""Every notebook in ``examples/notebooks`` runs top to bottom in a fresh kernel, as CI runs it.

Each notebook ends with cells that assert what its text claims, so a notebook that runs without an
error also says nothing false. Outputs are never written back: the committed notebooks stay clean.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError

pytestmark = pytest.mark.slow

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "examples" / "notebooks").glob("*.ipynb"))
# A notebook runs in well under 2 minutes on an unloaded 2-core machine; one cell gets a generous share of
# a loaded one (CI, or a benchmark next door) before it counts as hung.
CELL_TIMEOUT_SECONDS = 600
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_WHICH_PYTHON = "import sys; print(sys.prefix, end='')"


@pytest.mark.parametrize(
    "notebook", NOTEBOOKS or [pytest.param(None, id="no-notebooks-found")], ids=lambda p: getattr(p, "stem", p)
)
def test_notebook_runs_without_error(notebook: Path | None, tmp_path: Path) -> None:
    assert notebook is not None, "no notebooks found in examples/notebooks: the glob or the folder is wrong"
    nb = nbformat.read(notebook, as_version=4)
    # A first cell that names the kernel's environment: "python3" must be this venv's Python, not another
    # Jupyter kernel on the machine, or the notebook would test some other installation of sparkwright. The
    # prefix, not the executable's resolved path: every venv's python links to the same base interpreter.
    nb.cells.insert(0, nbformat.v4.new_code_cell(_WHICH_PYTHON))
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_SECONDS,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's cwd: nothing lands in the checkout
    )
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError) as exc:
        pytest.fail(f"{notebook.name} failed:\n{_ANSI.sub('', str(exc))}", pytrace=False)
    kernel_prefix = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert kernel_prefix == sys.prefix, (
        f"the python3 kernel ran in {kernel_prefix!r}, not in this environment ({sys.prefix!r}): install "
        "ipykernel into it, or remove the other python3 kernel spec (`jupyter kernelspec list`)."
    )
