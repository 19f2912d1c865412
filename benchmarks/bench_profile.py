"""Profile a synthetic table in Spark at two sizes: time, Spark jobs, and the driver's peak memory.

The claim: only aggregates reach the driver, so the driver's memory stays flat as rows grow 10x. Compared
with pandas ``describe()`` + ``corr()`` (+ histograms and value counts, the same work) on the same shape of
data generated with numpy, which must hold the whole table in memory.

    .venv/bin/python benchmarks/bench_profile.py                # 1M and 10M rows
    .venv/bin/python benchmarks/bench_profile.py --rows 200000 --rows 2000000

It also renders the last profile's HTML report and times its column cards (histograms and top values in
HTML and CSS) against the same cards drawn as matplotlib PNGs, as the report drew them before.

Memory columns: the Python driver's peak RSS (``ru_maxrss``: process-wide, so it can only grow), the
JVM driver's peak heap in use during the profile (sampled every 50 ms), and the JVM process's peak RSS
(``VmHWM``, also process-wide). pandas runs first in a child process, so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import io
import itertools
import multiprocessing
import os
import resource
import sys
import threading
import time
from pathlib import Path

NUMERIC = 10
CATEGORIES = (50, 1_000)


def spark_table(spark, rows: int):
    """~10 numeric columns (normal, uniform, integer, correlated, with nulls) and 2 categoricals."""
    from pyspark.sql import functions as F

    base = spark.range(rows).select(
        F.col("id"),
        F.randn(1).alias("n1"),
        F.randn(2).alias("n2"),
        F.rand(3).alias("u1"),
        (F.rand(4) * 100).alias("u2"),
    )
    return base.select(
        "n1",
        "n2",
        "u1",
        "u2",
        (F.col("n1") * 0.8 + F.randn(5) * 0.6).alias("c1"),
        F.exp(F.randn(6)).alias("lognormal"),
        (F.rand(7) * 10).cast("int").alias("small_int"),
        F.when(F.rand(8) < 0.1, None).otherwise(F.randn(9)).alias("with_nulls"),
        (F.col("id") % 1_000).cast("double").alias("cycle"),
        F.concat(F.lit("k"), (F.abs(F.hash("id")) % CATEGORIES[0]).cast("string")).alias("cat_small"),
        F.concat(F.lit("v"), (F.abs(F.hash("id", F.lit(1))) % CATEGORIES[1]).cast("string")).alias("cat_large"),
        (F.col("n1") * 3 + F.col("u2") * 0.1 + F.randn(10)).alias("label"),
    )


def pandas_profile(rows: int, queue) -> None:
    """The same profile in pandas on numpy-generated data; reports (seconds, peak RSS MiB)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n1 = rng.standard_normal(rows)
    u2 = rng.uniform(0, 100, rows)
    with_nulls = rng.standard_normal(rows)
    with_nulls[rng.uniform(size=rows) < 0.1] = np.nan
    frame = pd.DataFrame(
        {
            "n1": n1,
            "n2": rng.standard_normal(rows),
            "u1": rng.uniform(size=rows),
            "u2": u2,
            "c1": n1 * 0.8 + rng.standard_normal(rows) * 0.6,
            "lognormal": np.exp(rng.standard_normal(rows)),
            "small_int": rng.integers(0, 10, rows),
            "with_nulls": with_nulls,
            "cycle": (np.arange(rows) % 1_000).astype(float),
            "cat_small": pd.Categorical.from_codes(rng.integers(0, CATEGORIES[0], rows), [f"k{i}" for i in range(50)]),
            "cat_large": pd.Categorical.from_codes(
                rng.integers(0, CATEGORIES[1], rows), [f"v{i}" for i in range(CATEGORIES[1])]
            ),
            "label": n1 * 3 + u2 * 0.1 + rng.standard_normal(rows),
        }
    )
    started = time.perf_counter()
    numeric = frame.select_dtypes("number")
    numeric.describe(percentiles=[0.05, 0.25, 0.5, 0.75, 0.95])
    numeric.corr()
    numeric.nunique()
    for name in numeric:
        values = numeric[name].dropna().to_numpy()
        np.histogram(values, bins=20)
    for name in ("cat_small", "cat_large"):
        frame[name].value_counts().head(10)
    seconds = time.perf_counter() - started
    queue.put((seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


class HeapSampler:
    """Peak JVM heap in use (total - free), sampled in a thread while a block runs."""

    def __init__(self, spark) -> None:
        self._runtime = spark.sparkContext._jvm.java.lang.Runtime.getRuntime()
        self.peak = 0
        self._stop = threading.Event()

    def _used(self) -> int:
        return self._runtime.totalMemory() - self._runtime.freeMemory()

    def __enter__(self) -> HeapSampler:
        self._runtime.gc()
        self.peak = self._used()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self._used())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def jvm_pid() -> int | None:
    """The JVM that pyspark launched: a java descendant of this process."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    todo = list(children.get(os.getpid(), []))
    while todo:
        pid = todo.pop()
        try:
            if (Path("/proc") / str(pid) / "comm").read_text().strip() == "java":
                return pid
        except OSError:
            continue
        todo += children.get(pid, [])
    return None


def vm_hwm_mib(pid: int | None) -> float:
    if pid is None:
        return float("nan")
    for line in (Path("/proc") / str(pid) / "status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def matplotlib_cards(profile) -> tuple[float, int]:
    """The reference for the cards: each column's distribution as one matplotlib PNG -> (seconds, bytes)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    started, size = time.perf_counter(), 0
    for column in profile.columns:
        fig = Figure(figsize=(4.2, 2.4), layout="constrained", dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        if column.histogram is not None and column.histogram.counts:
            edges = column.histogram.edges
            widths = [b - a for a, b in itertools.pairwise(edges)]
            ax.bar(edges[:-1], column.histogram.counts, width=widths, align="edge")
        elif column.top_values:
            shown = range(len(column.top_values))
            ax.barh(shown, [n for _, n in column.top_values])
            ax.set_yticks(shown, [str(v)[:24] for v, _ in column.top_values])
        else:
            continue
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100)
        size += buffer.tell()
    return time.perf_counter() - started, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, action="append", help="Table size (repeatable); default 1M and 10M.")
    parser.add_argument("--no-pandas", action="store_true", help="Skip the pandas comparison.")
    args = parser.parse_args()
    sizes = sorted(args.rows or [1_000_000, 10_000_000])

    # pandas first, in a child process, so its memory is measured on its own and not left in this one.
    pandas_result = None
    if not args.no_pandas:
        queue = multiprocessing.get_context("spawn").Queue()
        child = multiprocessing.get_context("spawn").Process(target=pandas_profile, args=(sizes[-1], queue))
        child.start()
        pandas_result = queue.get()
        child.join()

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from sparkwright.explore import profile_table, render_report
    from sparkwright.explore.report import _column_cards  # the part of the report the reference redraws
    from sparkwright.session import get_session

    spark = get_session(app_name="bench-profile")
    context = spark.sparkContext
    pid = jvm_pid()
    spark_table(spark, 1_000).count()  # warm up: JIT, codegen caches

    rows_out = []
    for rows in sizes:
        df = spark_table(spark, rows)
        group = f"profile-{rows}"
        context.setJobGroup(group, "benchmark")
        with HeapSampler(spark) as heap:
            started = time.perf_counter()
            found = profile_table(df, label="label")
            seconds = time.perf_counter() - started
        context.setLocalProperty("spark.jobGroup.id", None)
        jobs = len(context.statusTracker().getJobIdsForGroup(group))
        python_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        assert found.rows == rows
        rows_out.append((rows, seconds, jobs, python_rss, heap.peak / 2**20, vm_hwm_mib(pid)))

    cores = os.cpu_count()
    print(
        f"\nProfile of {len(found.columns)} columns ({NUMERIC} numeric + label, 2 categorical), "
        f"Spark {spark.version} local[*] on {cores} cores, driver memory {context.getConf().get('spark.driver.memory')}"
    )
    print(
        f"{'rows':>12} {'seconds':>9} {'jobs':>5} {'python peak RSS MiB':>20} {'JVM peak heap used MiB':>23} "
        f"{'JVM peak RSS MiB':>17}"
    )
    for rows, seconds, jobs, python_rss, heap_mib, jvm_rss in rows_out:
        print(f"{rows:>12,} {seconds:>9.1f} {jobs:>5} {python_rss:>20.0f} {heap_mib:>23.0f} {jvm_rss:>17.0f}")
    if pandas_result is not None:
        seconds, rss = pandas_result
        spark_seconds = rows_out[-1][1]
        print(
            f"\npandas describe()+corr()+nunique()+histograms+value_counts on {sizes[-1]:,} rows (numpy data): "
            f"{seconds:.1f} s, peak RSS {rss:.0f} MiB (data generation included in the RSS)"
        )
        print(f"Spark / pandas time ratio at {sizes[-1]:,} rows: {spark_seconds / seconds:.2f}x")

    started = time.perf_counter()
    report = render_report(found, "bench")
    render_seconds = time.perf_counter() - started
    started = time.perf_counter()
    cards = _column_cards(found)
    cards_seconds = time.perf_counter() - started
    reference_seconds, reference_bytes = matplotlib_cards(found)
    print(
        f"\nReport of the {sizes[-1]:,}-row profile: {render_seconds:.2f} s, {len(report) / 1024:.0f} KB. Its "
        f"{len(found.columns)} column cards in CSS: {cards_seconds:.3f} s, {len(cards) / 1024:.0f} KB; as "
        f"matplotlib PNGs: {reference_seconds:.2f} s, {reference_bytes * 4 / 3 / 1024:.0f} KB in base64 "
        f"({reference_seconds / cards_seconds:.0f}x the time)"
    )


if __name__ == "__main__":
    main()
