"""``sparkwright recommend``: the top-N items of a registered recommendation model for one user (no Spark)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from sparkwright.cli.common import (
    ModelOption,
    VerboseOption,
    WorkspaceOption,
    app,
    configure_logging,
    console,
    user_errors,
    workspace_registry,
)


@app.command()
def recommend(
    model: ModelOption,
    user: Annotated[str, typer.Option("--user", help="The user id (a value of the project's data.user).")],
    n: Annotated[int, typer.Option("-n", "--n", help="How many items.", min=1)] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON (as the REST route does).")] = False,
    workspace: WorkspaceOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Recommend N items to a user; a user the model does not know gets the most popular items, marked so."""
    configure_logging(verbose)
    with user_errors():
        from sparkwright.deploy.recommender import FALLBACK, require_recommender

        _, registry = workspace_registry(workspace)
        loaded = require_recommender(registry, model)
        answer = loaded.recommender.recommend(user, n)
    if as_json:
        console.print_json(json.dumps(answer))
        return
    how = "the most popular items (unknown user)" if answer["source"] == FALLBACK else "ALS"
    console.print(
        f"Top {n} for {loaded.recommender.user_col} {user} from models:/{loaded.name}/{loaded.version} ({how}):",
        soft_wrap=True,
    )
    table = Table()
    for column in ("rank", loaded.recommender.item_col, "score"):
        table.add_column(column, justify="right")
    for rank, pick in enumerate(answer["items"], start=1):
        table.add_row(str(rank), str(pick["item"]), "" if pick["score"] is None else f"{pick['score']:.4f}")
    console.print(table)
