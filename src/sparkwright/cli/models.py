"""``sparkwright models``: registered models, their versions and aliases; promote, roll back, set aliases.

Every command that takes a model accepts ``models:/name@alias``, ``models:/name/version`` or a name.
Only MLflow is imported (no Spark): these commands answer in about a second.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table

from sparkwright.cli.common import WorkspaceOption, app, console, user_errors, workspace_registry

if TYPE_CHECKING:
    from pathlib import Path

    from sparkwright.registry import Registry, VersionInfo

models_app = typer.Typer(no_args_is_help=True, help="The model registry: versions, aliases, promote, roll back.")
app.add_typer(models_app, name="models", help="The model registry: list, show, promote, rollback, alias.")

ModelArgument = Annotated[
    str, typer.Argument(help="models:/<name>@<alias>, models:/<name>/<version> or a registered model name.")
]
AliasOption = Annotated[str, typer.Option("--alias", help="The alias to move.")]
# Metrics worth a column in `show`: the ranking metrics of both tasks, when a version's run has them.
_SHOWN_METRICS = ("rmse", "mae", "r2", "roc_auc", "pr_auc", "f1", "accuracy", "log_loss")


def _registry(workspace: Path | None) -> Registry:
    return workspace_registry(workspace)[1]


def _move_alias(registry: Registry, model: str, alias: str) -> None:
    from sparkwright.registry import parse_model_ref

    ref = parse_model_ref(model)
    previous, new = registry.promote(ref, alias)
    console.print(f"models:/{ref.name}@{alias}: {f'v{previous}' if previous else 'unset'} → v{new}")


@models_app.command("list")
def list_models(workspace: WorkspaceOption = None) -> None:
    """Registered models with their number of versions, latest version and aliases."""
    with user_errors():
        registry = _registry(workspace)
        names = registry.names()
        if not names:
            console.print(f"No registered models in {registry.tracker.tracking_uri}; `sparkwright run` registers one.")
            return
        table = Table(box=box.SIMPLE_HEAD, title="Registered models", title_justify="left")
        for column in ("model", "versions", "latest", "aliases", "updated"):
            table.add_column(column)
        for name in names:
            versions = registry.versions(name)
            aliases = sorted((a, v.version) for v in versions for a in v.aliases)
            table.add_row(
                name,
                str(len(versions)),
                f"v{versions[0].version}",
                ", ".join(f"{a} → v{v}" for a, v in aliases) or "—",
                f"{versions[0].created:%Y-%m-%d %H:%M} UTC",
            )
        console.print(table)


@models_app.command("show")
def show(model: ModelArgument, workspace: WorkspaceOption = None) -> None:
    """A model's versions (or one version): aliases, metrics, training data, run."""
    with user_errors():
        from sparkwright.registry import parse_model_ref

        ref = parse_model_ref(model)
        registry = _registry(workspace)
        if ref.version or ref.alias:
            _print_version(registry.resolve(ref))
            return
        versions = registry.versions(ref.name)
        metrics = [m for m in _SHOWN_METRICS if any(m in v.metrics for v in versions)]
        table = Table(box=box.SIMPLE_HEAD, title=f"models:/{ref.name}", title_justify="left")
        for column in ("version", "aliases", *metrics, "model", "trained on", "created"):
            table.add_column(column)
        for v in versions:
            table.add_row(
                f"v{v.version}",
                ", ".join(v.aliases) or "—",
                *[f"{v.metrics[m]:.4f}" if m in v.metrics else "—" for m in metrics],
                v.params.get("model_type", "—"),
                _trained_on(v),
                f"{v.created:%Y-%m-%d %H:%M}",
            )
        console.print(table)


@models_app.command("promote")
def promote(
    model: ModelArgument,
    alias: AliasOption = "champion",
    workspace: WorkspaceOption = None,
) -> None:
    """Point an alias (default champion) at a version, e.g. `models promote models:/churn@challenger`."""
    with user_errors():
        _move_alias(_registry(workspace), model, alias)


@models_app.command("rollback")
def rollback(
    model: ModelArgument,
    alias: AliasOption = "champion",
    workspace: WorkspaceOption = None,
) -> None:
    """Move an alias (default champion) back to the version that held it before."""
    with user_errors():
        from sparkwright.registry import parse_model_ref

        ref = parse_model_ref(model)
        moved_from, moved_to = _registry(workspace).rollback(ref.name, ref.alias or alias)
        console.print(f"models:/{ref.name}@{ref.alias or alias}: v{moved_from} → v{moved_to} (rolled back)")


@models_app.command("alias")
def set_alias(
    model: ModelArgument,
    alias: Annotated[str, typer.Argument(help="The alias to set (or delete), e.g. staging.")],
    delete: Annotated[bool, typer.Option("--delete", help="Remove the alias instead.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Set any alias on a version (`models alias models:/churn/3 staging`), or remove it with --delete."""
    with user_errors():
        from sparkwright.errors import ConfigError
        from sparkwright.registry import parse_model_ref

        if not alias.replace("-", "_").isidentifier() or alias.isdigit():
            raise ConfigError(f"alias {alias!r} must be a name (letters, digits, _ or -), not a version number.")
        ref = parse_model_ref(model)
        registry = _registry(workspace)
        if delete:
            version = registry.delete_alias(ref.name, alias)
            console.print(f"models:/{ref.name}@{alias} removed (was v{version})")
            return
        _move_alias(registry, model, alias)


def _trained_on(version: VersionInfo) -> str:
    table, at = version.params.get("silver_table"), version.params.get("silver_version")
    if not table:
        return "—"
    return f"{table.rstrip('/').rsplit('/', 2)[-2]}/silver@v{at}" if at is not None else table


def _print_version(version: VersionInfo) -> None:
    console.print(f"[bold]models:/{version.name}/{version.version}[/] aliases: {', '.join(version.aliases) or '—'}")
    console.print(f"  created   {version.created:%Y-%m-%d %H:%M:%S} UTC, status {version.status}")
    console.print(f"  run       {version.run_id}  (source {version.source})", soft_wrap=True)
    console.print(f"  model     {version.params.get('model_type', '—')}")
    console.print(f"  trained   {_trained_on(version)}", soft_wrap=True)
    shown = {k: v for k, v in sorted(version.metrics.items()) if not k.startswith(("train_", "fit_"))}
    if shown:
        console.print("  metrics   " + ", ".join(f"{k}={v:.4f}" for k, v in shown.items()), soft_wrap=True)
    params = {k.removeprefix("param_"): v for k, v in sorted(version.params.items()) if k.startswith("param_")}
    if params:
        console.print("  params    " + ", ".join(f"{k}={v}" for k, v in params.items()), soft_wrap=True)
