"""A profile as ONE self-contained HTML file: inline CSS, plots as inline PNG, no external URL (works offline).

Plots are matplotlib Figures drawn off pyplot (no global state, no GUI backend); each column card's
distribution is drawn in HTML and CSS. A tiny inline script counts the images the browser decoded and the
bars it drew into ``<body data-images-ok data-bars-drawn>`` so a headless browser can check the page.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import math
import os
import zlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sparkwright.explore.profile import ColumnProfile, Profile

_BLUE, _ORANGE, _RED = "#2563eb", "#f59e0b", "#dc2626"
_HIGH_MISSING = 0.2
_HEATMAP_LABELS = 14  # annotate cells only while they stay readable


def render_report(
    profile: Profile,
    title: str = "Data profile",
    *,
    subtitle: str | None = None,
    quality: Mapping[str, Any] | None = None,
) -> str:
    """Render a profile as one self-contained HTML page (overview, quality, columns, label, correlations).

    Args:
        profile: From :func:`~sparkwright.explore.profile_table`.
        title: The page's heading, e.g. the project and table name.
        subtitle: A line under the title, e.g. where the data came from.
        quality: The main job's quality summary (``total_rows``, ``quarantined_rows``, ``failures_by_rule``,
            ``quarantine_table``), shown as its own section when given.

    Returns:
        The HTML text; :func:`write_report` saves it.
    """
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    sections = [
        _overview(profile),
        _quality_section(quality) if quality else "",
        _columns_table(profile),
        _label_section(profile),
        _correlation_section(profile),
        _column_cards(profile),
    ]
    nav = "".join(
        f'<a href="#{anchor}">{name}</a>'
        for anchor, name in (
            ("overview", "Overview"),
            *([("quality", "Data quality")] if quality else []),
            ("columns", "Columns"),
            ("label", "Label"),
            ("correlations", "Correlations"),
            ("details", "Column details"),
        )
    )
    return _PAGE.format(
        title=_e(title),
        subtitle=_e(subtitle or f"{profile.rows:,} rows × {len(profile.columns)} columns"),
        generated=generated,
        nav=nav,
        css=_CSS,
        script=_SCRIPT,
        body="\n".join(s for s in sections if s),
        footer=_FOOTER,
    )


def render_page(title: str, subtitle: str, nav: Sequence[tuple[str, str]], body: str, footer: str) -> str:
    """Another self-contained page in the report's look (the run summary): ``nav`` is (anchor, name) pairs, ``body``
    HTML sections; its load script counts the images that decoded into ``<body data-images-ok>``."""
    return _PAGE.format(
        title=_e(title),
        subtitle=_e(subtitle),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        nav="".join(f'<a href="#{_e(anchor)}">{_e(name)}</a>' for anchor, name in nav),
        css=_CSS,
        script=_SCRIPT,
        body=body,
        footer=_e(footer),
    )


def write_report(html_text: str, path: str | os.PathLike[str]) -> Path:
    """Write a rendered report (creating its folder) and return its path, e.g. to log it as an artifact."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html_text, encoding="utf-8")
    return target


# ------------------------------------------------------------------------------------------------- sections


def _overview(profile: Profile) -> str:
    cells = profile.rows * len(profile.columns)
    missing = sum(c.missing for c in profile.columns)
    kinds = [c.kind for c in profile.columns]
    tiles = [
        ("rows", f"{profile.rows:,}"),
        ("columns", f"{len(profile.columns):,}"),
        ("numeric", f"{kinds.count('numeric'):,}"),
        ("categorical", f"{kinds.count('categorical'):,}"),
        ("missing cells", f"{missing / cells:.1%}" if cells else "—"),
        ("label", _e(profile.label) if profile.label else "—"),
    ]
    tiles_html = "".join(f'<div class="tile"><div class="v">{v}</div><div class="k">{k}</div></div>' for k, v in tiles)
    alerts = _alerts(profile)
    alerts_html = (
        '<ul class="alerts">' + "".join(f"<li>{a}</li>" for a in alerts) + "</ul>"
        if alerts
        else '<p class="ok">No alerts: no column is constant, mostly missing or an identifier.</p>'
    )
    return f'<section id="overview"><h2>Overview</h2><div class="tiles">{tiles_html}</div>{alerts_html}</section>'


def _quality_section(quality: Mapping[str, Any]) -> str:
    """Rows quarantined by each data-quality rule before the profiled table was written."""
    total = int(quality["total_rows"])
    rows = (
        "".join(
            f"<tr><td>{_e(rule)}</td><td class='num'>{count:,}</td><td class='num'>{count / total:.2%}</td></tr>"
            for rule, count in quality["failures_by_rule"].items()
        )
        if total
        else ""
    )
    return (
        '<section id="quality"><h2>Data quality</h2>'
        f"<p>{int(quality['quarantined_rows']):,} of {total:,} rows broke at least one rule and were quarantined "
        f"in <code>{_e(quality['quarantine_table'])}</code>; this profile covers the rows that passed.</p>"
        '<table class="grid"><tr><th>rule</th><th>failing rows</th><th>share</th></tr>'
        f"{rows}</table></section>"
    )


def _alerts(profile: Profile) -> list[str]:
    alerts = []
    for c in profile.columns:
        name = f"<code>{_e(c.name)}</code>"
        if c.missing_fraction > _HIGH_MISSING:
            alerts.append(f"{name} is {c.missing_fraction:.0%} missing.")
        if c.count and c.distinct is not None and c.distinct <= 1:
            alerts.append(f"{name} is constant: it carries no information.")
        elif c.kind == "categorical" and c.distinct and c.count > 50 and c.distinct >= 0.9 * c.count:
            alerts.append(f"{name} has a distinct value on (nearly) every row: an identifier, not a feature.")
    for feature, r in profile.label_correlations:
        if abs(r) > 0.98:
            alerts.append(f"<code>{_e(feature)}</code> correlates {r:+.3f} with the label: a possible leak.")
    return alerts


def _columns_table(profile: Profile) -> str:
    head = "".join(
        f"<th>{h}</th>" for h in ("column", "type", "missing", "distinct≈", "min", "median", "max", "mean", "std")
    )
    rows = []
    for c in profile.columns:
        bar = f'<span class="bar"><span style="width:{c.missing_fraction * 100:.1f}%"></span></span>'
        label = ' <span class="tag">label</span>' if c.name == profile.label else ""
        rows.append(
            f'<tr><td><a href="#col-{_anchor(c.name)}">{_e(c.name)}</a>{label}</td>'
            f'<td><span class="kind {c.kind}">{_e(c.dtype)}</span></td>'
            f'<td class="num">{bar} {c.missing:,} ({c.missing_fraction:.1%})</td>'
            f'<td class="num">{_fmt(c.distinct)}</td>'
            f'<td class="num">{_fmt(c.min)}</td><td class="num">{_fmt(c.median)}</td>'
            f'<td class="num">{_fmt(c.max)}</td><td class="num">{_fmt(c.mean)}</td>'
            f'<td class="num">{_fmt(c.std)}</td></tr>'
        )
    return (
        '<section id="columns"><h2>Columns</h2><div class="scroll"><table class="grid">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        '<p class="note">Statistics are computed in Spark: distinct counts use HyperLogLog++ and quantiles '
        "use percentile_approx, both approximate by design.</p></section>"
    )


def _label_section(profile: Profile) -> str:
    if profile.label is None:
        return '<section id="label"><h2>Label</h2><p class="note">No label was given.</p></section>'
    label = profile.column(profile.label)
    parts = [f"<h2>Label: <code>{_e(label.name)}</code></h2>", '<div class="row">']
    distribution = _distribution_figure(label)
    if distribution is not None:
        parts.append(inline_png(distribution, f"distribution of {label.name}"))
    if profile.label_correlations:
        parts.append(inline_png(_label_correlation_figure(profile), f"correlation of features with {label.name}"))
    parts.append("</div>")
    features = [c for c in profile.sample if c != profile.label]
    if features and profile.sample.get(profile.label):
        n = len(profile.sample[profile.label])
        sampled = f'<span class="note">(sample of {n:,} rows)</span>'
        parts.append(f"<h3>Label against its most correlated features {sampled}</h3>")
        parts.append(inline_png(_scatter_figure(profile, features), f"{label.name} against {', '.join(features)}"))
    elif label.kind != "numeric":
        parts.append('<p class="note">The label is not numeric: no correlations or scatter plots.</p>')
    return f'<section id="label">{"".join(parts)}</section>'


def _correlation_section(profile: Profile) -> str:
    corr = profile.correlation
    if corr is None:
        body = '<p class="note">Fewer than two numeric columns: no correlation matrix.</p>'
    else:
        varying = sum(c.kind == "numeric" and bool(c.std) for c in profile.columns)
        note = " Constant columns are left out."
        if varying > len(corr.columns):
            note += f" The first {len(corr.columns)} of {varying} varying numeric columns are shown."
        body = inline_png(_heatmap_figure(corr.columns, corr.matrix), "correlation matrix") + (
            f'<p class="note">Pearson correlation of each pair on the rows where both are present.{note}</p>'
        )
    return f'<section id="correlations"><h2>Correlations</h2>{body}</section>'


def _column_cards(profile: Profile) -> str:
    cards = []
    for c in profile.columns:
        facts = [("type", _e(c.dtype)), ("present", f"{c.count:,}"), ("missing", f"{c.missing:,}")]
        facts.append(("distinct≈", _fmt(c.distinct)))
        if c.kind == "numeric":
            facts += [("mean", _fmt(c.mean)), ("std", _fmt(c.std)), ("min", _fmt(c.min)), ("max", _fmt(c.max))]
            facts += [(q, _fmt(v)) for q, v in c.quantiles.items()]
        elif c.kind == "datetime":
            facts += [("min", _e(str(c.min))), ("max", _e(str(c.max)))]
        dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
        plot = _distribution_bars(c)
        cards.append(
            f'<div class="card" id="col-{_anchor(c.name)}"><h3>{_e(c.name)} '
            f'<span class="kind {c.kind}">{c.kind}</span></h3><div class="card-body"><dl>{dl}</dl>{plot}</div></div>'
        )
    return f'<section id="details"><h2>Column details</h2><div class="cards">{"".join(cards)}</div></section>'


def _distribution_bars(column: ColumnProfile) -> str:
    """A column card's distribution drawn in HTML and CSS: a histogram (numeric) or its top values.

    One matplotlib PNG per column cost about 0.1 s each (a second per ten columns of every run); bars in
    CSS cost nothing to draw, stay sharp at any zoom and name each bin's range and rows on hover.
    """
    label = f"distribution of {column.name}"
    if column.histogram is not None and column.histogram.counts:
        edges, counts = column.histogram.edges, column.histogram.counts
        low, high, tallest = edges[0], edges[-1], max(counts) or 1
        span = (high - low) or 1.0
        bars = "".join(
            f'<span style="flex-grow:{(b - a) / span:.6f};height:{100 * n / tallest:.1f}%" '
            f'title="[{_fmt(a)}, {_fmt(b)}): {n:,} rows"></span>'
            for a, b, n in zip(edges[:-1], edges[1:], counts, strict=True)
        )
        marks = "".join(
            f'<i class="mark {name}" style="left:{100 * (value - low) / span:.1f}%" title="{name} {_fmt(value)}"></i>'
            for name, value in (("mean", column.mean), ("median", column.median))
            if value is not None and low <= value <= high
        )
        return (
            f'<figure class="dist hist" role="img" aria-label="{_e(label)}"><div class="bars">{bars}{marks}</div>'
            f"<figcaption><span>{_fmt(low)}</span><span>rows per bin (highest {tallest:,}); "
            f'<b class="mean">mean</b> <b class="median">median</b></span><span>{_fmt(high)}</span>'
            "</figcaption></figure>"
        )
    if column.top_values:
        most = max(n for _, n in column.top_values) or 1
        rows = "".join(
            f'<div title="{_e(value)}: {n:,} rows"><span class="name">{_e(_short(value))}</span>'
            f'<span class="track"><span style="width:{100 * n / most:.1f}%"></span></span>'
            f'<span class="n">{n:,}</span></div>'
            for value, n in column.top_values
        )
        return f'<figure class="dist top" role="img" aria-label="{_e(label)}">{rows}</figure>'
    return '<p class="note">No plot.</p>'


# ---------------------------------------------------------------------------------------------------- plots


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained", dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _style(ax) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=8)
    ax.grid(axis="y", alpha=0.25)


def _distribution_figure(column: ColumnProfile) -> Figure | None:
    """The label's distribution (the column cards draw theirs in CSS: :func:`_distribution_bars`)."""
    width, height = 5.6, 3.2
    if column.histogram is not None and column.histogram.counts:
        edges, counts = column.histogram.edges, column.histogram.counts
        fig = _figure(width, height)
        ax = fig.add_subplot()
        widths = [b - a for a, b in itertools.pairwise(edges)]
        ax.bar(edges[:-1], counts, width=widths, align="edge", color=_BLUE, edgecolor="white", linewidth=0.5)
        if column.mean is not None:
            ax.axvline(column.mean, color=_ORANGE, linewidth=1.4, label="mean")
        if column.median is not None:
            ax.axvline(column.median, color=_RED, linewidth=1.2, linestyle="--", label="median")
        ax.legend(fontsize=7, frameon=False)
        ax.set_ylabel("rows", fontsize=8)
        _style(ax)
        return fig
    if column.top_values:
        shown = column.top_values[::-1]
        fig = _figure(width, max(1.6, 0.24 * len(shown) + 0.8))
        ax = fig.add_subplot()
        names = [_short(v) for v, _ in shown]
        ax.barh(range(len(shown)), [n for _, n in shown], color=_BLUE)
        ax.set_yticks(range(len(shown)), names)
        ax.set_xlabel("rows", fontsize=8)
        _style(ax)
        ax.grid(axis="x", alpha=0.25)
        ax.grid(axis="y", visible=False)
        return fig
    return None


def _label_correlation_figure(profile: Profile) -> Figure:
    shown = profile.label_correlations[:15][::-1]
    fig = _figure(5.0, max(2.4, 0.28 * len(shown) + 0.9))
    ax = fig.add_subplot()
    ax.barh([_short(c) for c, _ in shown], [r for _, r in shown], color=[_BLUE if r >= 0 else _RED for _, r in shown])
    ax.axvline(0, color="#555", linewidth=0.8)
    ax.set_xlim(-1, 1)
    ax.set_xlabel(f"correlation with {profile.label}", fontsize=8)
    _style(ax)
    return fig


def _scatter_figure(profile: Profile, features: Sequence[str]) -> Figure:
    label = profile.label or ""
    y = profile.sample[label]
    fig = _figure(3.0 * len(features) + 0.4, 3.0)
    axes = fig.subplots(1, len(features), squeeze=False)[0]
    correlations = dict(profile.label_correlations)
    for ax, feature in zip(axes, features, strict=True):
        pairs = [(a, b) for a, b in zip(profile.sample[feature], y, strict=True) if a is not None and b is not None]
        ax.scatter([a for a, _ in pairs], [b for _, b in pairs], s=9, alpha=0.5, color=_BLUE, edgecolors="none")
        ax.set_xlabel(_short(feature), fontsize=8)
        ax.set_title(f"r = {correlations.get(feature, math.nan):+.3f}", fontsize=9)
        _style(ax)
    axes[0].set_ylabel(_short(label), fontsize=8)
    return fig


def _heatmap_figure(columns: list[str], matrix: list[list[float | None]]) -> Figure:
    n = len(columns)
    size = min(11.0, max(4.0, 0.45 * n + 2.0))
    fig = _figure(size + 1.0, size)
    ax = fig.add_subplot()
    values = [[math.nan if v is None else v for v in row] for row in matrix]
    image = ax.imshow(values, cmap="RdBu_r", vmin=-1, vmax=1)
    labels = [_short(c, 18) for c in columns]
    ax.set_xticks(range(n), labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(n), labels, fontsize=8)
    if n <= _HEATMAP_LABELS:
        for i, row in enumerate(values):
            for j, v in enumerate(row):
                if not math.isnan(v):
                    ink = "white" if abs(v) > 0.6 else "#222"
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color=ink)
    fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


def inline_png(fig: Figure, alt: str) -> str:
    """A figure as an <img> with its PNG inline, so a page is one self-contained file."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img class="plot" alt="{_e(alt)}" src="data:image/png;base64,{data}">'


# -------------------------------------------------------------------------------------------------- helpers


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _anchor(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name) + f"-{zlib.crc32(name.encode()) % 10_000}"


def _short(text: object, width: int = 24) -> str:
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def _fmt(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return _e(value)
    if isinstance(value, int):
        return f"{value:,}"
    x = float(value)  # type: ignore[arg-type]
    if not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    if abs(x) >= 1e5:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:,.1f}"
    if abs(x) >= 1e-3:
        return f"{x:.4g}"
    return f"{x:.2e}"


_SCRIPT = """
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var ok = images.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute("data-images-ok", String(ok));
  document.body.setAttribute("data-images-total", String(images.length));
  // Drawn in CSS: a bar is drawn when the browser gave it a size (an empty bin has height 0 by design).
  var bars = Array.prototype.slice.call(document.querySelectorAll(".dist .bars > span, .dist .track > span"));
  var drawn = bars.filter(function (b) { var r = b.getBoundingClientRect(); return r.width > 0 || r.height > 0; });
  document.body.setAttribute("data-bars-drawn", String(drawn.length));
  document.body.setAttribute("data-bars-total", String(bars.length));
});
"""

_CSS = """
:root { --ink:#1f2937; --muted:#6b7280; --line:#e5e7eb; --bg:#f8fafc; --card:#fff; --accent:#2563eb; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
  color:var(--ink); background:var(--bg); }
header { background:#0f172a; color:#fff; padding:24px 32px 16px; }
header h1 { margin:0 0 4px; font-size:24px; font-weight:600; }
header .sub { color:#cbd5e1; }
nav { margin-top:12px; display:flex; gap:18px; flex-wrap:wrap; }
nav a { color:#93c5fd; text-decoration:none; font-size:13px; }
main { max-width:1200px; margin:0 auto; padding:8px 32px 48px; }
section { margin-top:28px; }
h2 { font-size:19px; border-bottom:2px solid var(--line); padding-bottom:6px; margin:0 0 14px; }
h3 { font-size:15px; margin:14px 0 8px; }
code { font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:.92em;
  background:#eef2ff; padding:1px 5px; border-radius:4px; }
.tiles { display:grid; grid-template-columns:repeat(auto-fit,minmax(150px,1fr)); gap:12px; }
.tile { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:12px 14px; }
.tile .v { font-size:22px; font-weight:600; overflow-wrap:anywhere; }
.tile .k { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.alerts { background:#fffbeb; border:1px solid #fcd34d; border-radius:10px; padding:10px 14px 10px 32px; }
.ok { color:#047857; }
.note { color:var(--muted); font-size:12.5px; font-weight:normal; }
.scroll { overflow-x:auto; background:var(--card); border:1px solid var(--line); border-radius:10px; }
table.grid { border-collapse:collapse; width:100%; font-size:13px; }
table.grid th { text-align:left; background:#f1f5f9; padding:8px 10px; font-weight:600; white-space:nowrap; }
table.grid td { padding:6px 10px; border-top:1px solid var(--line); white-space:nowrap; }
table.grid tbody tr:hover { background:#f8fafc; }
table.grid a { color:var(--accent); text-decoration:none; }
td.num { text-align:right; font-variant-numeric:tabular-nums; }
.bar { display:inline-block; width:48px; height:7px; background:#e5e7eb; border-radius:4px; vertical-align:middle; }
.bar span { display:block; height:100%; background:#f97316; border-radius:4px; }
.kind { font-size:11px; padding:1px 7px; border-radius:999px; background:#e5e7eb; color:#374151; font-weight:500; }
.kind.numeric { background:#dbeafe; color:#1e40af; }
.kind.categorical { background:#dcfce7; color:#166534; }
.kind.datetime { background:#fae8ff; color:#86198f; }
.tag { font-size:11px; padding:1px 6px; border-radius:4px; background:#fef3c7; color:#92400e; }
.row { display:flex; flex-wrap:wrap; gap:16px; align-items:flex-start; }
img.plot { max-width:100%; height:auto; background:#fff; border:1px solid var(--line); border-radius:8px; }
.cards { display:grid; grid-template-columns:repeat(auto-fill,minmax(540px,1fr)); gap:14px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:4px 14px 12px; }
.card-body { display:flex; gap:12px; align-items:flex-start; }
.dist { flex:1 1 auto; min-width:0; margin:6px 0 0; font-size:11.5px; color:var(--muted); }
.dist .bars { position:relative; display:flex; align-items:flex-end; gap:1px; height:150px;
  border-bottom:1px solid #94a3b8; }
.dist .bars > span { flex-basis:0; min-width:1px; background:#2563eb; border-radius:2px 2px 0 0; }
.dist .bars > span:hover { background:#1d4ed8; }
.dist .mark { position:absolute; top:0; bottom:0; width:0; border-left:2px solid; }
.dist .mark.mean, .dist b.mean { border-color:#f59e0b; color:#b45309; }
.dist .mark.median { border-left-style:dashed; }
.dist .mark.median, .dist b.median { border-color:#dc2626; color:#b91c1c; }
.dist figcaption { display:flex; justify-content:space-between; gap:8px; margin-top:2px; }
.dist.top > div { display:grid; grid-template-columns:minmax(60px,36%) 1fr auto; gap:8px; align-items:center;
  margin:2px 0; }
.dist .name { color:var(--ink); overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
.dist .track { height:12px; background:#f1f5f9; border-radius:3px; }
.dist .track > span { display:block; height:100%; background:#2563eb; border-radius:3px; }
.dist .n { font-variant-numeric:tabular-nums; }
dl { display:grid; grid-template-columns:auto auto; gap:2px 10px; margin:0; font-size:12.5px; flex:0 0 auto; }
dt { color:var(--muted); } dd { margin:0; text-align:right; font-variant-numeric:tabular-nums; }
footer { color:var(--muted); font-size:12px; text-align:center; padding:20px; }
"""

_FOOTER = "Computed in Spark; only aggregates and a bounded sample left the cluster."

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="sparkwright">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<header><h1>{title}</h1><div class="sub">{subtitle}</div><nav>{nav}</nav></header>
<main>
{body}
</main>
<footer>Generated by sparkwright on {generated}. {footer}</footer>
<script>{script}</script>
</body>
</html>
"""
