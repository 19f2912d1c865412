"""Sections a flow adds to the run's HTML report after training (a table and a plot, self-contained): the
cluster profiles, the forecasts."""

from __future__ import annotations

import base64
import html
import io
import numbers
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

_END_OF_BODY = "</main>"


def profiles_section(frame: pd.DataFrame, figure: Figure, model: str, k: int, table: str) -> str:
    """A ``<section id="clusters">``: which model and k, the profile table and the plot as an inline PNG."""
    note = f"{model}, k = {k}; every row's cluster is in {table}"
    return _section("clusters", "Clusters", note, frame, figure, "cluster profiles")


def forecasts_section(scores: pd.DataFrame, figure: Figure, model: str, table: str) -> str:
    """A ``<section id="forecasts">``: every model's backtest scores and the best model's history + forecast."""
    note = f"{model} drawn; every series' forecasts are in {table}"
    return _section("forecasts", "Forecasts", note, scores, figure, "history and forecast")


def _section(id_: str, title: str, note: str, frame: pd.DataFrame, figure: Figure, alt: str) -> str:
    header = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>"
        + "".join(f'<td class="num">{_cell(v)}</td>' if _numeric(v) else f"<td>{_cell(v)}</td>" for v in row)
        + "</tr>"
        for row in frame.itertuples(index=False)
    )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    image = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        f'<section id="{id_}"><h2>{html.escape(title)} <span class="note">{html.escape(note)}</span></h2>'
        f'<div class="scroll"><table class="grid"><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table></div>'
        f'<p><img class="plot" alt="{html.escape(alt)}" src="data:image/png;base64,{image}"></p></section>\n'
    )


def add_section(report: Path, section: str) -> None:
    """Insert ``section`` at the end of the report's main content (it was written before the models ran)."""
    text = report.read_text(encoding="utf-8")
    at = text.rfind(_END_OF_BODY)
    report.write_text(text[:at] + section + text[at:] if at >= 0 else text + section, encoding="utf-8")


def _numeric(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:,.0f}"
    return html.escape(str(value))
