"""A monitoring run as ONE self-contained HTML file (inline CSS, plots as inline PNG; works offline).

It shares the profile report's look and helpers (``sparkwright.explore.report``). Rows and cells carry
``data-*`` attributes (``data-status`` on the body, ``data-column`` / ``data-drift`` on each column's row)
so a headless browser, or a script, can read the verdict without parsing text.
"""

from __future__ import annotations

from datetime import UTC, datetime

from matplotlib.figure import Figure

# One look for sparkwright's reports: the profile report's styles and helpers.
from sparkwright.explore.report import _CSS, _SCRIPT, _e, _figure, _fmt, _short, _style, inline_png
from sparkwright.monitor.drift import NEW_EXAMPLES
from sparkwright.monitor.results import NUMERIC, Drift, MonitorResult, Performance
from sparkwright.monitor.statistics import PSI_EPSILON

_BLUE, _ORANGE, _RED, _GREY = "#2563eb", "#f59e0b", "#dc2626", "#6b7280"
# Column cards drawn (drifted columns first); past this the table still lists every column.
MAX_CARDS = 60
_BARS = 16  # buckets drawn per column: the largest, then other / new / missing


def render_monitor_report(result: MonitorResult) -> str:
    """Render a monitoring run: verdict, alerts, every column's statistics, predictions, labelled metrics.

    Returns:
        The HTML text (``sparkwright.explore.write_report`` saves it).
    """
    sections = [
        _overview(result),
        _columns_section(result),
        _predictions_section(result),
        _performance_section(result),
        _cards(result),
        _method(result),
    ]
    nav = "".join(
        f'<a href="#{anchor}">{name}</a>'
        for anchor, name in (
            ("overview", "Overview"),
            ("columns", "Features"),
            ("predictions", "Predictions"),
            ("performance", "Performance"),
            ("details", "Feature details"),
            ("method", "Method"),
        )
    )
    version = f" (version {result.input_version})" if result.input_version is not None else ""
    return _PAGE.format(
        title=_e(f"Monitoring {result.model_name} v{result.model_version}"),
        subtitle=_e(
            f"{result.input}{version} against the training rows of {result.reference_table} "
            f"(version {result.reference_version})"
        ),
        status="crossed" if result.crossed else "ok",
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        nav=nav,
        css=_CSS + _EXTRA_CSS,
        script=_SCRIPT,
        body="\n".join(s for s in sections if s),
    )


# ------------------------------------------------------------------------------------------------- sections


def _overview(result: MonitorResult) -> str:
    crossed = result.crossed
    verdict = (
        '<div class="verdict bad" id="verdict">Threshold crossed</div>'
        if crossed
        else '<div class="verdict good" id="verdict">No threshold crossed</div>'
    )
    prediction_psi = max((d.psi for d in result.predictions), default=None)
    tiles = [
        ("drifted features", f"{len(result.drifted_features)} / {len(result.features)}"),
        ("prediction PSI", _fmt(prediction_psi)),
        ("scoring rows", f"{result.current_rows:,}"),
        ("refused rows", f"{result.refused_rows:,}"),
        ("training rows", f"{result.reference_rows:,}"),
        (
            "labelled rows",
            f"{result.performance.labelled_rows:,}" if result.performance is not None else "—",
        ),
    ]
    tiles_html = "".join(f'<div class="tile"><div class="v">{v}</div><div class="k">{k}</div></div>' for k, v in tiles)
    tiles_html = f'<div class="tiles">{tiles_html}</div>'
    alerts = result.alerts
    alerts_html = (
        '<ul class="alerts" id="alerts">' + "".join(f"<li>{_e(a)}</li>" for a in alerts) + "</ul>"
        if alerts
        else '<p class="ok">Every statistic is within its threshold.</p>'
    )
    links = (
        f'<p class="note">MLflow run <code>{_e(result.run_id)}</code> · results appended to '
        f"<code>{_e(result.results_table)}</code> (version {_fmt(result.results_version)}) · predictions "
        f"{'from the input' if result.prediction_source == 'input' else 'scored by the model'} · "
        f"{result.malformed_rows:,} malformed input rows.</p>"
    )
    return f'<section id="overview"><h2>Overview</h2>{verdict}{tiles_html}{alerts_html}{links}</section>'


def _columns_section(result: MonitorResult) -> str:
    t = result.thresholds
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "feature",
            "type",
            "PSI",
            "chi² p",
            "Cramér's V",
            "missing (train → now)",
            "new",
            "mean (train → now)",
        )
    )
    ordered = sorted(result.features, key=lambda d: (not d.drifted, -d.psi))
    rows = []
    for d in ordered:
        chi = d.chi_square
        rows.append(
            f'<tr data-column="{_e(d.name)}" data-drift="{str(d.drifted).lower()}" class="{_flag(d.drifted)}">'
            f'<td><a href="#card-{_id(d)}">{_e(d.name)}</a></td>'
            f'<td><span class="kind {d.kind}">{d.kind}</span></td>'
            f'<td class="num {_flag("psi" in d.crossed, d.psi >= t.psi / 2)}" data-psi="{d.psi:.12g}">{d.psi:.4f}</td>'
            f'<td class="num {_flag("chi_square" in d.crossed)}">{"—" if chi is None else f"{chi.p_value:.2g}"}</td>'
            f'<td class="num">{"—" if chi is None else f"{chi.effect:.3f}"}</td>'
            f'<td class="num {_flag("null_rate_change" in d.crossed)}">'
            f"{d.null_rate_reference:.1%} → {d.null_rate_current:.1%}</td>"
            f'<td class="num {_flag("new_category_share" in d.crossed)}">{_new(d)}</td>'
            f'<td class="num">{_means(d)}</td></tr>'
        )
    chart = inline_png(_psi_figure(result.features, t.psi), "PSI per feature") if result.features else ""
    return (
        '<section id="columns"><h2>Features</h2><div class="scroll"><table class="grid" id="features">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>{chart}</section>"
    )


def _predictions_section(result: MonitorResult) -> str:
    if not result.predictions:
        return ""
    cards = "".join(_card(d) for d in result.predictions)
    where = "the input's own prediction column" if result.prediction_source == "input" else "the model, scored here"
    return (
        '<section id="predictions"><h2>Predictions</h2>'
        f'<p class="note">Training rows scored by the model against the scoring rows\' predictions ({where}).</p>'
        f'<div class="cards">{cards}</div></section>'
    )


def _performance_section(result: MonitorResult) -> str:
    p = result.performance
    if p is None:
        return (
            '<section id="performance"><h2>Performance</h2><p class="note">No labels were given: run with '
            "<code>--labels TABLE --on KEYS</code> once outcomes arrive to compare the metrics with training."
            "</p></section>"
        )
    head = "".join(
        f"<th>{h}</th>" for h in ("window start", "window end", "labelled rows", p.metric, "vs training", "")
    )
    rows = []
    for w in [*p.windows, p.overall]:
        label = "all labelled rows" if w.start is None else f"{w.start:%Y-%m-%d %H:%M}"
        end = "" if w.end is None else f"{w.end:%Y-%m-%d %H:%M}"
        value = w.metrics.get(p.metric)
        drop = "—" if w.drop is None else f"{abs(w.drop):.1%} {'worse' if w.drop > 0 else 'better'}"
        rows.append(
            f'<tr data-window="{_e(label)}" data-crossed="{str(w.crossed).lower()}" class="{_flag(w.crossed)}">'
            f'<td>{_e(label)}</td><td>{_e(end)}</td><td class="num">{w.rows:,}</td>'
            f'<td class="num">{_fmt(value)}</td><td class="num {_flag(w.crossed)}">{drop}</td>'
            f'<td class="note">{_e(w.note or "")}</td></tr>'
        )
    omitted = f" {p.omitted_windows} older windows are not shown." if p.omitted_windows else ""
    chart = inline_png(_metric_figure(p, result.thresholds.metric_drop), f"{p.metric} per window") if p.windows else ""
    return (
        '<section id="performance"><h2>Performance</h2>'
        f"<p>Labels from <code>{_e(p.labels)}</code> joined on {', '.join(f'<code>{_e(k)}</code>' for k in p.keys)}: "
        f"{p.labelled_rows:,} labelled rows, {max(result.current_rows - p.labelled_rows, 0):,} without a label yet; "
        f"windows of {_e(p.window)} "
        f"by <code>{_e(p.time_column)}</code>. Training run's test {_e(p.metric)}: "
        f"<b>{_fmt(p.training.get(p.metric))}</b>.{omitted}</p>"
        f'<div class="scroll"><table class="grid" id="windows"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>{chart}</section>"
    )


def _cards(result: MonitorResult) -> str:
    ordered = sorted(result.features, key=lambda d: (not d.drifted, -d.psi))
    shown = "".join(_card(d) for d in ordered[:MAX_CARDS])
    hidden = len(ordered) - MAX_CARDS
    note = f'<p class="note">{hidden} more features are in the table above, without a plot.</p>' if hidden > 0 else ""
    return f'<section id="details"><h2>Feature details</h2><div class="cards">{shown}</div>{note}</section>'


def _card(d: Drift) -> str:
    facts = [("PSI", f"{d.psi:.4f}")]
    if d.chi_square is not None:
        facts += [("chi²", f"{d.chi_square.statistic:.4g}"), ("p-value", f"{d.chi_square.p_value:.2g}")]
        facts += [("Cramér's V", f"{d.chi_square.effect:.3f}")]
    facts += [("missing", f"{d.null_rate_reference:.1%} → {d.null_rate_current:.1%}")]
    if d.kind == NUMERIC:
        facts += [("mean", _means(d))]
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    new = ""
    if d.new_categories:
        listed = ", ".join(f"<code>{_e(v)}</code> ({n:,})" for v, n in d.new_categories)
        new = f'<p class="new">New in scoring ({d.new_share:.1%} of rows): {listed}</p>'
    status = '<span class="tag bad">drift</span>' if d.drifted else '<span class="tag good">ok</span>'
    chart = inline_png(_buckets_figure(d), f"distribution of {d.name}")
    return (
        f'<div class="card" id="card-{_id(d)}" data-column="{_e(d.name)}"><h3>{_e(d.name)} '
        f'<span class="kind {d.kind}">{d.kind}</span> {status}</h3>'
        f'<div class="card-body"><dl>{dl}</dl>{chart}</div>{new}</div>'
    )


def _method(result: MonitorResult) -> str:
    t = result.thresholds
    return (
        '<section id="method"><h2>Method</h2><ul class="method">'
        "<li><b>Reference</b>: the training split of the silver table at the version the model trained on, "
        "made again with the run's own seeded split; <b>current</b>: the scoring rows, prepared by the model "
        "as in training (refused rows are counted, not compared).</li>"
        "<li><b>PSI</b> = Σ (c − r) · ln(c / r) over buckets, with r and c each side's share of a bucket, "
        f"raised to at least {PSI_EPSILON:g}. Numeric buckets: the training deciles (fewer when they coincide) "
        "and missing values; categorical: the training levels, other training levels, new values, missing. "
        f"Threshold {t.psi:g}.</li>"
        "<li><b>Chi-square</b> (categoricals): Pearson's test of homogeneity on the bucket counts; drift when "
        f"p &lt; {t.p_value:g} and Cramér's V = √(χ² / n) ≥ {t.min_effect:g}.</li>"
        f"<li><b>Missing share</b>: drift when it moves by {t.null_rate_change:.0%} or more; <b>new categories</b>: "
        f"when {t.new_category_share:.0%} or more of the scoring rows have one.</li>"
        f"<li><b>Metrics</b>: drift when a window with at least {t.min_window_rows:,} labelled rows is "
        f"{t.metric_drop:.0%} or more worse than the training run's test value.</li>"
        "</ul></section>"
    )


# ---------------------------------------------------------------------------------------------------- plots


def _buckets_figure(d: Drift) -> Figure:
    """Each side's share per bucket, side by side (the largest buckets, then other / new / missing)."""
    buckets = d.buckets
    if d.kind != NUMERIC and len(buckets) > _BARS:
        buckets = buckets[: _BARS - 3] + buckets[-3:]
    buckets = [b for b in buckets if b.reference or b.current] or buckets
    total_r = sum(b.reference for b in d.buckets) or 1
    total_c = sum(b.current for b in d.buckets) or 1
    fig = _figure(4.6, max(1.8, 0.26 * len(buckets) + 0.9))
    ax = fig.add_subplot()
    positions = list(range(len(buckets)))[::-1]
    ax.barh([p + 0.2 for p in positions], [b.reference / total_r for b in buckets], 0.4, color=_BLUE, label="training")
    ax.barh([p - 0.2 for p in positions], [b.current / total_c for b in buckets], 0.4, color=_ORANGE, label="scoring")
    ax.set_yticks(positions, [_short(b.label) for b in buckets])
    ax.set_xlabel("share of rows", fontsize=8)
    ax.legend(fontsize=7, frameon=False, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2)
    _style(ax)
    ax.grid(axis="x", alpha=0.25)
    ax.grid(axis="y", visible=False)
    return fig


def _psi_figure(drifts: list[Drift], threshold: float) -> Figure:
    shown = sorted(drifts, key=lambda d: d.psi, reverse=True)[:30][::-1]
    fig = _figure(6.4, max(2.2, 0.24 * len(shown) + 1.0))
    ax = fig.add_subplot()
    colours = [_RED if d.psi >= threshold else (_ORANGE if d.psi >= threshold / 2 else _BLUE) for d in shown]
    ax.barh([_short(d.name) for d in shown], [d.psi for d in shown], color=colours)
    ax.axvline(threshold, color=_RED, linewidth=1.0, linestyle="--", label=f"threshold {threshold:g}")
    ax.set_xlabel("population stability index", fontsize=8)
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    _style(ax)
    return fig


def _metric_figure(p: Performance, drop: float) -> Figure:
    windows = [w for w in p.windows if p.metric in w.metrics]
    fig = _figure(6.4, 3.0)
    ax = fig.add_subplot()
    ax.plot([w.start for w in windows], [w.metrics[p.metric] for w in windows], marker="o", color=_BLUE)
    training = p.training[p.metric]
    limit = training * (1 - drop) if p.higher_is_better else training * (1 + drop)
    ax.axhline(training, color=_GREY, linewidth=1.0, label="training (test set)")
    ax.axhline(limit, color=_RED, linewidth=1.0, linestyle="--", label=f"{drop:.0%} worse")
    ax.set_ylabel(p.metric, fontsize=8)
    ax.legend(fontsize=7, frameon=False)
    fig.autofmt_xdate()
    _style(ax)
    return fig


# -------------------------------------------------------------------------------------------------- helpers


def _flag(crossed: bool, warn: bool = False) -> str:
    return "bad" if crossed else ("warn" if warn else "")


def _new(d: Drift) -> str:
    if d.kind == NUMERIC:
        return "—"
    named = len(d.new_categories)
    values = f"{named}+ values" if named == NEW_EXAMPLES else f"{named} value{'s' if named > 1 else ''}"
    return f"{d.new_share:.1%}" + (f" ({values})" if named else "")


def _means(d: Drift) -> str:
    return f"{_fmt(d.mean_reference)} → {_fmt(d.mean_current)}" if d.kind == NUMERIC else "—"


def _id(d: Drift) -> str:
    return f"{d.role}-" + "".join(ch if ch.isalnum() else "-" for ch in d.name)


_EXTRA_CSS = """
.verdict { display:inline-block; font-size:18px; font-weight:600; padding:8px 16px; border-radius:10px;
  margin-bottom:14px; }
.verdict.bad { background:#fee2e2; color:#991b1b; border:1px solid #fca5a5; }
.verdict.good { background:#dcfce7; color:#166534; border:1px solid #86efac; }
td.bad { color:#b91c1c; font-weight:600; } td.warn { color:#b45309; }
tr.bad td:first-child { border-left:3px solid #dc2626; }
.tag.bad { background:#fee2e2; color:#991b1b; } .tag.good { background:#dcfce7; color:#166534; }
p.new { font-size:12.5px; margin:6px 0 0; overflow-wrap:anywhere; }
ul.method li { margin-bottom:6px; }
#columns img.plot, #performance img.plot { margin-top:14px; }
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="sparkwright monitor">
<title>{title}</title>
<style>{css}</style>
</head>
<body data-status="{status}">
<header><h1>{title}</h1><div class="sub">{subtitle}</div><nav>{nav}</nav></header>
<main>
{body}
</main>
<footer>Generated by sparkwright on {generated}. Computed in Spark; only aggregates left the cluster.</footer>
<script>{script}</script>
</body>
</html>
"""
