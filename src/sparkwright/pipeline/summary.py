"""A run's summary as ONE self-contained HTML page: what was trained on what, the leaderboard against the
baseline, the pictures (inline PNGs) and what was registered. Rendered from plain data: no Spark, no MLflow."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from matplotlib.figure import Figure

from sparkwright.explore import render_page
from sparkwright.explore.report import inline_png

_SKIPPED_COLUMNS = {"rank", "model", "type", "run_id", "vs_baseline", "fit_seconds", "mse"}


@dataclass
class RunSummary:
    """What the summary page shows, as plain values.

    Attributes:
        data: Row counts by name (``input rows``, ``after cleansing``, ``train rows`` ...), in display order.
        tables: Table name -> (path, Delta version).
        leaderboard: :meth:`RunResult.leaderboard` rows, best first.
        registered: ``models:/<name>/<version>`` registered by the run, or None.
        aliases: The aliases that version holds after the run (``challenger``, ``champion``).
        figures: Title -> figure, drawn in this order.
    """

    project: str
    task: str
    metric: str
    higher_is_better: bool
    run_id: str
    data: dict[str, int]
    tables: dict[str, tuple[str, int]]
    leaderboard: list[dict[str, Any]]
    registered: str | None = None
    aliases: list[str] = field(default_factory=list)
    figures: dict[str, Figure] = field(default_factory=dict)


def render_summary(summary: RunSummary) -> str:
    """The summary page's HTML text (overview, data, leaderboard, plots, registered model)."""
    sections = [
        ("overview", "Overview", _overview(summary)),
        ("data", "Data", _data(summary)),
        ("leaderboard", "Leaderboard", _leaderboard(summary)),
        ("plots", "Plots", _plots(summary.figures)),
        ("registry", "Registered model", _registry(summary)),
    ]
    body = "\n".join(f'<section id="{anchor}"><h2>{name}</h2>{content}</section>' for anchor, name, content in sections)
    return render_page(
        f"{summary.project}: run summary",
        f"{summary.task}, ranked on test {summary.metric}; MLflow run {summary.run_id}",
        [(anchor, name) for anchor, name, _ in sections],
        body,
        "Plots and tables as logged to the run's MLflow parent run.",
    )


def _overview(summary: RunSummary) -> str:
    best = summary.leaderboard[0] if summary.leaderboard else None
    tiles = [
        ("project", summary.project),
        ("task", summary.task),
        ("metric", f"{summary.metric} ({'higher' if summary.higher_is_better else 'lower'} is better)"),
        ("best model", best["model"] if best else "—"),
        ("best " + summary.metric, _fmt(best[summary.metric]) if best else "—"),
        ("registered", summary.registered or "nothing"),
    ]
    return (
        '<div class="tiles">'
        + "".join(f'<div class="tile"><div class="v">{_e(v)}</div><div class="k">{_e(k)}</div></div>' for k, v in tiles)
        + "</div>"
    )


def _data(summary: RunSummary) -> str:
    counts = "".join(
        f"<tr><td>{_e(name)}</td><td class='num'>{rows:,}</td></tr>" for name, rows in summary.data.items()
    )
    tables = "".join(
        f"<tr><td>{_e(name)}</td><td><code>{_e(path)}</code></td><td class='num'>{version}</td></tr>"
        for name, (path, version) in summary.tables.items()
    )
    return (
        '<div class="row"><table class="grid" style="width:auto"><thead><tr><th>rows</th><th></th></tr></thead>'
        f"<tbody>{counts}</tbody></table>"
        '<div class="scroll"><table class="grid" id="tables"><thead><tr><th>table</th><th>path</th>'
        f"<th>Delta version</th></tr></thead><tbody>{tables}</tbody></table></div></div>"
    )


def _leaderboard(summary: RunSummary) -> str:
    rows = summary.leaderboard
    if not rows:
        return '<p class="note">No models.</p>'
    metrics = [summary.metric, *(k for k in rows[0] if k not in _SKIPPED_COLUMNS and k != summary.metric)]
    header = "".join(f"<th>{_e(c)}</th>" for c in ["#", "model", "type", *metrics, "vs baseline", "fit s"])
    body = []
    for row in rows:
        baseline = row["type"] == "baseline"
        gain = "—" if baseline else _percent(row["vs_baseline"])
        cells = [
            f"<td class='num'>{row['rank']}</td>",
            f"<td>{_e(row['model'])}</td>",
            f"<td>{_e(row['type'])}</td>",
            *(f"<td class='num'>{_fmt(row.get(m))}</td>" for m in metrics),
            f"<td class='num'>{gain}</td>",
            f"<td class='num'>{_fmt(row['fit_seconds'])}</td>",
        ]
        marker = ' class="baseline"' if baseline else ""
        body.append(f"<tr{marker}>{''.join(cells)}</tr>")
    direction = "higher" if summary.higher_is_better else "lower"
    return (
        f'<p class="note">Test-set scores, best first ({summary.metric}: {direction} is better); "vs baseline" is the '
        "relative gain over the baseline model.</p>"
        f'<div class="scroll"><table class="grid" id="leaderboard-table"><thead><tr>{header}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _plots(figures: Mapping[str, Figure]) -> str:
    if not figures:
        return '<p class="note">No plots.</p>'
    return "".join(f"<h3>{_e(title)}</h3><p>{inline_png(figure, title)}</p>" for title, figure in figures.items())


def _registry(summary: RunSummary) -> str:
    if summary.registered is None:
        return '<p class="note">Nothing was registered (no registry section, or no model beat the baseline).</p>'
    aliases = ", ".join(f"<code>{_e(a)}</code>" for a in summary.aliases) or "no alias"
    return f"<p><code>{_e(summary.registered)}</code>, aliases: {aliases}.</p>"


def _percent(value: Any) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:+.1%}"


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool | str):
        return _e(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:,.0f}"
    return _e(value)


def _e(value: object) -> str:
    return html.escape(str(value))
