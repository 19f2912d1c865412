"""Monitoring at scale: PSI equal to a NumPy reference, and the Python driver's memory flat from 1M to 10M rows.

(a) ``sparkwright.monitor.compare`` on 1M synthetic reference rows against 1M drifted rows, generated in
    Spark: every column's PSI against NumPy / pandas on the same rows (collected here, for the reference
    only) with the same bin edges and levels; the largest absolute difference must be <= 1e-9.
(b) ``monitor_model`` (what ``sparkwright monitor`` runs) of a registered linear model, trained by the main
    job on 200K synthetic rows, on 1M and on 10M scoring rows generated in Spark and written to Delta:
    time, Spark jobs, the Python driver's peak RSS sampled every 20 ms during the call (psutil if
    installed, else /proc/self/status), the JVM's peak heap in use.

    .venv/bin/python benchmarks/bench_monitor.py                      # (a) on 1M, (b) on 1M and 10M
    .venv/bin/python benchmarks/bench_monitor.py --rows 200000 --rows 2000000 --psi-rows 200000
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench_profile import HeapSampler

LEVELS = (12, 40)  # categories of cat_small / cat_large (fewer than --max-levels: no tie decides a bucket)
TRAIN_ROWS = 200_000


def synthetic(spark, rows: int, *, drifted: bool, seed: int = 0):
    """Numeric columns (normal, uniform, log-normal, few integers, 10% nulls) and categoricals; ``drifted``
    shifts n1, widens u, raises the null rate and brings new categories."""
    from pyspark.sql import functions as F

    shift = 0.4 if drifted else 0.0
    base = spark.range(rows).select(
        F.col("id"),
        F.randn(seed + 1).alias("z1"),
        F.randn(seed + 2).alias("z2"),
        F.rand(seed + 3).alias("r1"),
        F.rand(seed + 4).alias("r2"),
        F.rand(seed + 5).alias("r3"),
    )
    small = (F.abs(F.hash("id", F.lit(seed))) % LEVELS[0]).cast("string")
    large = (F.abs(F.hash("id", F.lit(seed + 1))) % (LEVELS[1] + (8 if drifted else 0))).cast("string")
    return base.select(
        (F.col("z1") + shift).alias("n1"),
        (F.col("z2") * 2).alias("n2"),
        (F.col("r1") * (130 if drifted else 100)).alias("u"),
        F.exp(F.col("z2")).alias("lognormal"),
        (F.col("r2") * 6).cast("int").alias("small_int"),
        F.when(F.col("r3") < (0.25 if drifted else 0.1), None).otherwise(F.col("z1") * 3).alias("with_nulls"),
        F.concat(F.lit("k"), small).alias("cat_small"),
        F.when(F.col("r3") > 0.97, None).otherwise(F.concat(F.lit("v"), large)).alias("cat_large"),
        (F.col("z1") * 3 + F.col("r1") * 10 + F.col("z2")).alias("label"),
    )


NUMERIC = ["n1", "n2", "u", "lognormal", "small_int", "with_nulls"]
CATEGORICAL = ["cat_small", "cat_large"]


# ---- (a) PSI against NumPy ------------------------------------------------------------------------------------


def numpy_psi_numeric(reference, current, edges) -> float:
    import numpy as np

    from sparkwright.monitor import PSI_EPSILON

    def shares(values):
        values = values.astype(float)
        present = values[~np.isnan(values)]
        counts = np.bincount(np.searchsorted(edges, present, side="left"), minlength=len(edges) + 1)
        return np.append(counts, np.isnan(values).sum()) / len(values)

    r, c = np.maximum(shares(reference), PSI_EPSILON), np.maximum(shares(current), PSI_EPSILON)
    return float(np.sum((c - r) * np.log(c / r)))


def numpy_psi_categorical(reference, current, max_levels: int) -> float:
    """Training levels (the most frequent ``max_levels``), other training levels, new values, missing."""
    import numpy as np

    from sparkwright.monitor import PSI_EPSILON

    ref_counts, cur_counts = reference.value_counts(), current.value_counts()
    order = sorted(ref_counts.index, key=lambda k: (-ref_counts[k], -cur_counts.get(k, 0), k))
    top, rest = order[:max_levels], order[max_levels:]
    new = cur_counts[~cur_counts.index.isin(ref_counts.index)].sum()
    r = [*(ref_counts[k] for k in top), ref_counts[rest].sum(), 0, reference.isna().sum()]
    c = [*(cur_counts.get(k, 0) for k in top), cur_counts.reindex(rest).fillna(0).sum(), new, current.isna().sum()]
    r, c = np.asarray(r, float) / len(reference), np.asarray(c, float) / len(current)
    r, c = np.maximum(r, PSI_EPSILON), np.maximum(c, PSI_EPSILON)
    return float(np.sum((c - r) * np.log(c / r)))


def psi_check(spark, rows: int) -> float:
    from sparkwright.monitor import compare

    reference = synthetic(spark, rows, drifted=False, seed=0).drop("label").cache()
    current = synthetic(spark, rows, drifted=True, seed=100).drop("label").cache()
    reference.count()
    current.count()
    context = spark.sparkContext
    context.setJobGroup("psi-check", "benchmark")
    started = time.perf_counter()
    found = compare(reference, current, numeric=NUMERIC, categorical=CATEGORICAL, bins=10, max_levels=50)
    seconds = time.perf_counter() - started
    context.setLocalProperty("spark.jobGroup.id", None)
    jobs = len(context.statusTracker().getJobIdsForGroup("psi-check"))
    ref_pd, cur_pd = reference.toPandas(), current.toPandas()  # the reference implementation's copy
    reference.unpersist()
    current.unpersist()
    print(
        f"\n(a) PSI of {len(found.drifts)} columns, {rows:,} reference and {rows:,} drifted rows (cached): "
        f"compare() {seconds:.1f} s, {jobs} Spark jobs"
    )
    print(f"{'column':>12} {'kind':>12} {'PSI (Spark)':>16} {'PSI (NumPy)':>16} {'|difference|':>13}")
    worst = 0.0
    for d in found.drifts:
        if d.kind == "numeric":
            expected = numpy_psi_numeric(ref_pd[d.name].to_numpy(), cur_pd[d.name].to_numpy(), d.edges)
        else:
            expected = numpy_psi_categorical(ref_pd[d.name], cur_pd[d.name], 50)
        difference = abs(d.psi - expected)
        worst = max(worst, difference)
        print(f"{d.name:>12} {d.kind:>12} {d.psi:>16.12f} {expected:>16.12f} {difference:>13.2e}")
    print(f"largest difference {worst:.2e} ({'OK' if worst <= 1e-9 else 'FAILED'}: must be <= 1e-9)")
    return worst


# ---- (b) memory flat -------------------------------------------------------------------------------------------


class RssSampler:
    """Peak resident memory of this (Python) process while a block runs, sampled every 20 ms."""

    def __init__(self) -> None:
        try:
            import psutil

            process = psutil.Process()
            self._read = lambda: process.memory_info().rss
            self.source = "psutil"
        except ImportError:
            self._read = _proc_rss
            self.source = "/proc/self/status"
        self.peak = 0
        self._stop = threading.Event()

    def __enter__(self) -> RssSampler:
        self.peak = self._read()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._read())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._read())


def _proc_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def train_model(spark, ws) -> str:
    """The main job on TRAIN_ROWS synthetic rows (a Delta source): a registered linear model, v1 champion."""
    import sparkwright
    from sparkwright.data import write_table

    source = str(ws.root / "data" / "source")
    write_table(synthetic(spark, TRAIN_ROWS, drifted=False, seed=7), source)
    project = {
        "name": "bench-monitor",
        "task": "regression",
        "data": {"source": {"path": source, "format": "delta"}, "label": "label"},
        "explore": {"enabled": False},
        "models": [{"type": "linear_regression"}],
        "metric": "rmse",
        "register": {"name": "bench-monitor", "promote_if_better": True},
        "workspace": str(ws.root),
    }
    result = sparkwright.run(project, spark=spark, workspace=ws.root)
    return str(result.model_uri)


def memory_check(spark, sizes: list[int]) -> list[tuple]:
    from sparkwright.data import write_table
    from sparkwright.monitor import monitor_model
    from sparkwright.workspace import Workspace

    folder = tempfile.mkdtemp(prefix="bench-monitor-")
    ws = Workspace.resolve(Path(folder) / "ws")
    os.environ["SPARKWRIGHT_TRACKING_URI"] = ws.tracking_uri
    uri = train_model(spark, ws)
    context = spark.sparkContext
    out = []
    for rows in sizes:
        path = ws.table_path("bench-monitor", f"scoring_{rows}")
        write_table(synthetic(spark, rows, drifted=True, seed=1_000 + rows).drop("label"), path)
        group = f"monitor-{rows}"
        context.setJobGroup(group, "benchmark")
        with RssSampler() as rss, HeapSampler(spark) as heap:
            started = time.perf_counter()
            result = monitor_model(uri, path, spark=spark, workspace=ws.root)
            seconds = time.perf_counter() - started
        context.setLocalProperty("spark.jobGroup.id", None)
        jobs = len(context.statusTracker().getJobIdsForGroup(group))
        assert result.current_rows == rows, (result.current_rows, rows)
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out.append((rows, seconds, jobs, rss.peak / 2**20, maxrss, heap.peak / 2**20, len(result.alerts), rss.source))
    print(f"\n(b) monitor_model of {uri} ({len(NUMERIC)} numeric + {len(CATEGORICAL)} categorical features and the")
    print(f"    prediction; reference: the training split of {TRAIN_ROWS:,} rows), Spark {spark.version} local[*]")
    print(f"    on {os.cpu_count()} cores, driver memory {context.getConf().get('spark.driver.memory')}, load average")
    print(f"    before the runs {os.getloadavg()[0]:.2f}; Python RSS sampled with {out[0][-1]}")
    print(
        f"{'rows':>12} {'seconds':>9} {'jobs':>5} {'Python peak RSS MiB':>20} {'ru_maxrss MiB':>14} "
        f"{'JVM peak heap used MiB':>23} {'alerts':>7}"
    )
    for rows, seconds, jobs, peak, maxrss, heap, alerts, _ in out:
        print(f"{rows:>12,} {seconds:>9.1f} {jobs:>5} {peak:>20.0f} {maxrss:>14.0f} {heap:>23.0f} {alerts:>7}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, action="append", help="Scoring rows for (b) (repeatable); 1M and 10M.")
    parser.add_argument("--psi-rows", type=int, default=1_000_000, help="Rows per side for (a); 0 skips it.")
    args = parser.parse_args()
    sizes = sorted(args.rows or [1_000_000, 10_000_000])

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from sparkwright.session import get_session

    spark = get_session(app_name="bench-monitor")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    failed = False
    if args.psi_rows:
        failed = psi_check(spark, args.psi_rows) > 1e-9
    if sizes:
        memory_check(spark, sizes)
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
