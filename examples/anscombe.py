"""Anscombe's quartet: four series with the same summary statistics and very different shapes.

Why a profile shows histograms and scatter plots, not only numbers. Run it with::

    python examples/anscombe.py [OUTPUT_FOLDER]

It prints each series' statistics (equal to two decimals) and writes one profile report per series.
Needs ``vega_datasets`` (the ``dev`` extra), which bundles the data.
"""

from __future__ import annotations

import sys
from pathlib import Path

from vega_datasets import local_data

from sparkwright.explore import profile_table, render_report, write_report
from sparkwright.session import get_session


def main(output: Path) -> None:
    spark = get_session(master="local[2]", conf={"spark.sql.shuffle.partitions": "2"})
    quartet = spark.createDataFrame(local_data.anscombe())
    print(f"{'series':<7}{'mean X':>8}{'std X':>8}{'mean Y':>8}{'std Y':>8}{'corr':>8}   histogram of Y (5 bins)")
    for series in ("I", "II", "III", "IV"):
        profile = profile_table(quartet.where(quartet["Series"] == series).drop("Series"), label="Y", bins=5)
        x, y = profile.column("X"), profile.column("Y")
        r = profile.correlation.get("X", "Y") if profile.correlation else float("nan")
        print(f"{series:<7}{x.mean:8.2f}{x.std:8.2f}{y.mean:8.2f}{y.std:8.2f}{r:8.3f}   {y.histogram.counts}")
        path = write_report(render_report(profile, f"Anscombe's quartet, series {series}"), output / f"{series}.html")
        print(f"       report: {path}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "anscombe-reports"))
