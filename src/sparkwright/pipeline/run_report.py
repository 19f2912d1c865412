"""The pictures a person looks at after a run (leaderboard, tuning and search histories, parallel coordinates of
trials), logged to the parent MLflow run and gathered with the run's facts into one HTML summary."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkwright import plots
from sparkwright.explore import write_report
from sparkwright.pipeline.summary import RunSummary, render_summary
from sparkwright.tracking import CHALLENGER, CHAMPION

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from sparkwright.pipeline.results import RunResult
    from sparkwright.tracking import Tracker

SUMMARY_FILE = "run-summary.html"


def write_run_summary(tracker: Tracker, result: RunResult, task: str, data: dict[str, int]) -> Path:
    """Log the run's plots to its parent run under ``plots/``, write ``<workspace>/reports/<project>/run-summary.html``
    and log it too; returns the file.

    Args:
        data: Row counts to show (input, after cleansing, train, test), in display order.
    """
    figures = run_figures(result)
    for file, (_, figure) in figures.items():
        tracker.log_figure(result.parent_run_id, figure, f"plots/{file}.png")
    aliases = ([CHALLENGER] + ([CHAMPION] if result.promoted else [])) if result.registered_version else []
    summary = RunSummary(
        project=result.project,
        task=task,
        metric=result.metric,
        higher_is_better=result.higher_is_better,
        run_id=result.parent_run_id,
        data=data,
        tables={name: (ref.path, ref.version) for name, ref in result.tables.items()},
        leaderboard=result.leaderboard(),
        registered=result.model_uri,
        aliases=aliases,
        figures={title: figure for title, figure in figures.values()},
    )
    path = write_report(render_summary(summary), result.workspace / "reports" / result.project / SUMMARY_FILE)
    tracker.log_artifact(result.parent_run_id, path)
    return path


def run_figures(result: RunResult) -> dict[str, tuple[str, Figure]]:
    """File stem -> (title, figure): the leaderboard, then each tuned model's history and parallel coordinates,
    then the budgeted search's history and its best family's parallel coordinates."""
    metric, higher = result.metric, result.higher_is_better
    figures: dict[str, tuple[str, Figure]] = {
        "leaderboard": (
            "Leaderboard against the baseline",
            plots.leaderboard(
                [m.name for m in result.models],
                [m.metrics[metric] for m in result.models],
                metric,
                higher,
                result.baseline.name,
            ),
        )
    }
    for tuned in result.tuning:
        rows = sorted(tuned.rows, key=lambda r: r["trial"])
        title = f"Tuning {tuned.model}"
        scores = [r["score"] for r in rows]
        figures[f"tuning_history_{tuned.model}"] = (
            f"{title}: trial history",
            plots.tuning_history(scores, metric, title, higher),
        )
        _add_parallel(figures, f"parallel_{tuned.model}", f"{title}: trials by param", rows, metric, higher)
    if result.search is not None:
        trials = result.search.trials
        figures["search_history"] = (
            "Budgeted search: trial history",
            plots.search_history(trials, metric, higher_is_better=higher),
        )
        family = result.search.families[0].family
        chosen = [t for t in trials if t["family"] == family and t["status"] == "ok"]
        _add_parallel(figures, f"parallel_{family}", f"Search, {family}: trials by param", chosen, metric, higher)
    return figures


def _add_parallel(
    figures: dict[str, tuple[str, Any]], file: str, title: str, rows: list[dict[str, Any]], metric: str, higher: bool
) -> None:
    """Add the parallel-coordinates plot when there is something to draw (two or more trials with params)."""
    if sum(1 for r in rows if r.get("score") is not None and r.get("params")) >= 2:
        figures[file] = (title, plots.parallel_coordinates(rows, metric, title, higher))
