"""Temporary folders that live as long as the process and are removed when it exits.

Downloaded and exported models must outlive the call that fetched them (a server scores with them until
it stops, Spark reads a saved model lazily), so a ``with TemporaryDirectory()`` block is too short; a
plain ``mkdtemp`` would leave one folder per call behind in /tmp.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

_folders: list[str] = []


def scratch_dir(prefix: str) -> Path:
    """A new empty folder under the system temp folder, deleted when this process exits normally."""
    folder = tempfile.mkdtemp(prefix=prefix)
    _folders.append(folder)
    return Path(folder)


@atexit.register
def _remove_scratch_dirs() -> None:
    while _folders:
        shutil.rmtree(_folders.pop(), ignore_errors=True)
