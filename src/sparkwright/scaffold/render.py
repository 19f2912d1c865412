"""A proposal as a commented project file: every value the user did not give says why it was chosen."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path
from typing import Any

import yaml

from sparkwright.scaffold.propose import TEST_FRACTION, Decision, Proposal

_WIDTH = 110
_SAFE_NAME = re.compile(r"^[^ ,;{}()\n\t=]+$")
_TEXT_FORMATS = {"csv", "json"}


def render_project(proposal: Proposal, *, project_file: Path, command: str) -> str:
    """The project file's text. ``project_file`` is where it will be written (its data path is made relative
    to that folder, so the pair can move together); ``command`` is the init command line, for the header."""
    facts = proposal.facts
    lines: list[str] = []
    sample = ""
    if facts is not None:
        rows = f"{'about ' if facts.rows_estimated else ''}{facts.rows:,}"
        sample = (
            f" from all {rows} rows"
            if facts.sampled_everything
            else f" from a sample of {facts.sample_rows:,} of its {rows} rows"
        )
    _comment(lines, f"Proposed by `{command}`{sample}. Read it, change what you know better, then:", 0)
    lines.append(f"#   sparkwright validate {project_file.name} && sparkwright run {project_file.name}")
    lines.append(f"name: {_scalar(proposal.name)}")
    _field(lines, "task", proposal.task, 0)
    lines += ["data:", "  source:", f"    path: {_scalar(_relative(proposal.source_path, project_file))}"]
    lines.append(f"    format: {proposal.source_format}")
    _schema(lines, proposal)
    lines.append(f"  label: {_scalar(proposal.label)}")
    if proposal.drop:
        lines.append("  drop:")
        for column, why in proposal.drop.items():
            lines.append(f"    - {_scalar(column)}  # {why}")
    else:
        lines.append("  drop: []  # no constant, empty or identifier columns found")
    if proposal.keys is not None:
        _field(lines, "keys", proposal.keys, 2)
    elif proposal.unproven_keys:
        _comment(
            lines,
            f"{', '.join(proposal.unproven_keys)} looked unique in the sample, but the source is too large to "
            "prove it here. If it is unique, `keys: [column]` makes re-ingesting merge instead of add:",
            2,
        )
        lines.append(f"  # keys: [{proposal.unproven_keys[0]}]")
    for column, why in proposal.left_out.items():
        _comment(lines, f"{column} is kept in the tables but is no feature: {why}.", 2)
    lines += [
        "cleanse:",
        "  impute: median  # a missing number becomes the training split's median, with a <column>_missing flag",
        f"split: {{test_fraction: {TEST_FRACTION}, seed: 42}}",
    ]
    if proposal.classification:
        lines.append("classification:")
        for key, decision in proposal.classification.items():
            _field(lines, key, decision, 2)
    if proposal.models is not None:
        _comment(lines, proposal.models.reason, 0)
        lines.append("models:")
        for spec in proposal.models.value:
            lines.append(f"  - {_flow(spec)}")
    if proposal.search is not None:
        _field(lines, "search", proposal.search, 0)
    if proposal.metric is not None:
        _field(lines, "metric", proposal.metric, 0)
    lines.append(f"register: {{name: {_scalar(proposal.name)}, promote_if_better: true}}  # alias champion if it wins")
    return "\n".join(lines) + "\n"


def _schema(lines: list[str], proposal: Proposal) -> None:
    if proposal.source_format not in _TEXT_FORMATS:
        return  # Parquet and Delta carry their types
    if not all(_SAFE_NAME.match(name) for name in proposal.schema):
        _comment(lines, "Types are inferred at each run (a column name has characters Delta renames).", 4)
        return
    _comment(
        lines,
        "Types inferred from the sample. A value that does not fit its type is quarantined at ingest, with the "
        "column and the reason, not turned into a silent null.",
        4,
    )
    lines.append("    schema:")
    lines += [f"      {_scalar(name)}: {dtype}" for name, dtype in proposal.schema.items()]


def _field(lines: list[str], key: str, decision: Decision, indent: int) -> None:
    text = f"{' ' * indent}{key}: {_flow(decision.value)}"
    if len(text) + 4 + len(decision.reason) <= _WIDTH:
        lines.append(f"{text}  # {decision.reason}")
    else:
        _comment(lines, decision.reason, indent)
        lines.append(text)


def _comment(lines: list[str], text: str, indent: int) -> None:
    prefix = " " * indent + "# "
    lines += textwrap.wrap(text, _WIDTH, initial_indent=prefix, subsequent_indent=prefix, break_on_hyphens=False)


def _scalar(value: Any) -> str:
    """One YAML scalar, quoted when YAML would read it otherwise (``'Yes'`` stays a string)."""
    return _flow([value])[1:-1]


def _flow(value: Any) -> str:
    return (
        yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10_000)
        .strip()
        .removesuffix("...")
        .strip()
    )


def _relative(path: str, project_file: Path) -> str:
    if "://" in path:
        return path
    return os.path.relpath(os.path.abspath(path), os.path.abspath(project_file.parent))
