"""Fixtures for end-to-end runs: a small real example project in a fresh workspace."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

SAMPLE_ROWS = 2_000
FAST_MODELS = [
    {"type": "linear_regression", "params": {"regParam": 0.01}},
    {"type": "decision_tree", "params": {"maxDepth": 6}},
]


@pytest.fixture
def hotel_project(workspace) -> Path:
    """The bundled hotel_rates project on its first 2,000 rows with two quick models; returns the file."""
    from sparkwright.demo import materialise_example

    project_file = materialise_example("hotel_rates", workspace, sample_rows=SAMPLE_ROWS)
    raw = yaml.safe_load(project_file.read_text())
    raw["models"] = FAST_MODELS
    raw["workspace"] = str(workspace.root)
    project_file.write_text(yaml.safe_dump(raw))
    return project_file


@pytest.fixture
def edit_project():
    """A function that rewrites top-level sections of a project file (a test's variation of the example)."""

    def edit(project_file: Path, **changes) -> Path:
        raw = yaml.safe_load(project_file.read_text())
        raw.update(changes)
        project_file.write_text(yaml.safe_dump(raw))
        return project_file

    return edit
