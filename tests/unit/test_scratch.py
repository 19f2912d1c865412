"""Temporary folders for downloaded and unpacked models do not pile up in /tmp."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from sparkwright.udf._worker import _unpacked


def test_scratch_dirs_are_removed_when_the_process_exits(tmp_path):
    code = (
        "from sparkwright.scratch import scratch_dir\n"
        "folder = scratch_dir('sparkwright-test-')\n"
        "(folder / 'model.bin').write_bytes(b'x')\n"
        "print(folder)\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    folder = Path(out.stdout.strip())
    assert folder.parent == tmp_path
    assert not folder.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_worker_unpacks_each_model_once_and_reuses_the_folder(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("MLmodel", "flavors: {}\n")
    first = _unpacked("pyfunc-abc123", zipped.getvalue())
    second = _unpacked("pyfunc-abc123", zipped.getvalue())
    assert first == second
    assert Path(first, "MLmodel").read_text() == "flavors: {}\n"
    # One folder per model, and no staging copy left behind.
    assert [p.name for p in tmp_path.iterdir()] == ["sparkwright-udf-pyfunc-abc123"]


def test_a_folder_of_that_name_that_others_can_write_is_not_trusted(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    planted = tmp_path / "sparkwright-udf-pyfunc-abc123"
    planted.mkdir()
    (planted / "MLmodel").write_text("planted\n")
    planted.chmod(0o777)
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("MLmodel", "flavors: {}\n")
    folder = _unpacked("pyfunc-abc123", zipped.getvalue())
    assert Path(folder) != planted
    assert Path(folder, "MLmodel").read_text() == "flavors: {}\n"
