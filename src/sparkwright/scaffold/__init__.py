"""``sparkwright init``: a commented project file proposed from a data source, so a first model needs no YAML.

:func:`inspect_source` reads a bounded sample in Spark, :func:`propose_project` decides (task, drops, keys,
models) with a reason for each, :func:`render_project` writes the file that says those reasons.
"""

from sparkwright.scaffold.inspect import ColumnFacts, SourceFacts, inspect_source
from sparkwright.scaffold.propose import Decision, Proposal, project_name, propose_project
from sparkwright.scaffold.render import render_project

__all__ = [
    "ColumnFacts",
    "Decision",
    "Proposal",
    "SourceFacts",
    "inspect_source",
    "project_name",
    "propose_project",
    "render_project",
]
