"""Parallel tuning (issue 4b): serial ``Trials`` vs plain ``SparkTrials(parallelism=2)`` vs sparkwright's
parallel executor (2 workers), on an objective of about 1 s of CPU, in one process and one SparkSession.

    .venv/bin/python benchmarks/bench_tuning.py [--trials 18] [--seconds 1.0] [--repeats 1] [--work cpu|sleep]

The objective is deterministic pure-Python busy work (a fixed number of loop iterations, calibrated
once to ``--seconds`` on this machine) plus a quadratic of the params, so every contender does the same
work per trial. Reports wall time, speedup over serial and per-trial overhead; writes
benchmarks/results/tuning_<work>.json.

Per-trial overhead = (wall time x workers - summed objective seconds) / trials: the worker time per
trial not spent in the objective (proposing, shipping, polling, idle slots, pool start). Around each
repeat it also measures the ceiling: how much more two plain processes get done than one at that
moment (2.0 on an idle 2-core machine), since other work on the machine lowers every speedup.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

ITERATIONS = 0  # set by calibrate()
SLEEP = 0.0  # --work sleep: seconds per trial instead of CPU work


def busy_objective(params: dict) -> float:
    """About ``--seconds`` of CPU in pure Python (no numpy threads), then a deterministic loss."""
    if SLEEP:
        time.sleep(SLEEP)
        return (params["x"] - 3.0) ** 2 + (params["y"] + 1.0) ** 2
    acc = 0
    for i in range(ITERATIONS):
        acc = (acc + i * 7919) % 104729
    return (params["x"] - 3.0) ** 2 + (params["y"] + 1.0) ** 2 + 0.0 * acc


def calibrate(seconds: float) -> int:
    global ITERATIONS
    ITERATIONS = 200_000
    started = time.perf_counter()
    busy_objective({"x": 0.0, "y": 0.0})
    per_iteration = (time.perf_counter() - started) / ITERATIONS
    ITERATIONS = int(seconds / per_iteration)
    return ITERATIONS


def _busy_share(iterations: int) -> None:
    acc = 0
    for i in range(iterations):
        acc = (acc + i * 7919) % 104729


def capacity(seconds: float = 0.5) -> float:
    """What two processes get done now compared with one: the ceiling of any 2-worker speedup.

    2.0 on an idle 2-core machine; less while other work competes for the cores.
    """
    import multiprocessing

    iterations = int(ITERATIONS * seconds)
    started = time.perf_counter()
    _busy_share(iterations)
    _busy_share(iterations)
    one = time.perf_counter() - started
    context = multiprocessing.get_context("fork")  # plain CPU work, no JVM use: fork is fine here
    workers = [context.Process(target=_busy_share, args=(iterations,)) for _ in range(2)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return one / (time.perf_counter() - started)


def hyperopt_space():
    from hyperopt import hp

    return {"x": hp.uniform("x", -10, 10), "y": hp.uniform("y", -10, 10)}


def run_fmin(trials_object, n_trials: int, seed: int) -> tuple[float, float]:
    """Plain hyperopt: fmin with the given Trials object. Returns (wall, summed objective seconds)."""
    from hyperopt import fmin, tpe

    durations: list[float] = []

    def timed(params: dict) -> dict:
        began = time.perf_counter()
        loss = busy_objective(params)
        return {"status": "ok", "loss": loss, "seconds": time.perf_counter() - began}

    started = time.perf_counter()
    fmin(
        timed, hyperopt_space(), algo=tpe.suggest, max_evals=n_trials, trials=trials_object,
        rstate=np.random.default_rng(seed), show_progressbar=False, verbose=False,
        max_queue_len=getattr(trials_object, "parallelism", 1),
    )  # fmt: skip
    wall = time.perf_counter() - started
    durations = [t["result"]["seconds"] for t in trials_object.trials if t["result"].get("status") == "ok"]
    return wall, sum(durations)


def run_sparkwright(n_trials: int, seed: int, trials: str, spark, parallelism: int = 2) -> tuple[float, float, str]:
    from sparkwright.tune import search

    space = {"x": {"uniform": [-10, 10]}, "y": {"uniform": [-10, 10]}}
    started = time.perf_counter()
    result = search(
        busy_objective, space, algorithm="tpe", max_evals=n_trials, parallelism=parallelism, trials=trials,
        seed=seed, spark=spark,
    )  # fmt: skip
    wall = time.perf_counter() - started
    assert len(result.ok_trials) == n_trials, result.failed_trials[:1]
    return wall, sum(t.seconds for t in result.trials), result.executor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=18)
    parser.add_argument("--seconds", type=float, default=1.0, help="CPU seconds per objective call")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument(
        "--work", choices=["cpu", "sleep"], default="cpu",
        help="sleep: each trial sleeps --seconds instead, which isolates each executor's own overhead from "
        "CPU contention (for a machine shared with other work)",
    )  # fmt: skip
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated substrings of contender names to run, e.g. 'serial Trials,parallel ('",
    )
    args = parser.parse_args()

    from hyperopt import SparkTrials, Trials

    from sparkwright.session import get_session
    from sparkwright.tune import _executors

    global SLEEP
    spark = get_session()
    iterations = calibrate(args.seconds)
    if args.work == "sleep":
        SLEEP = args.seconds
        print(f"objective: sleeps {args.seconds:.1f} s; load average {os.getloadavg()}")
    else:
        print(f"objective: {iterations:,} loop iterations (~{args.seconds:.1f} s); load average {os.getloadavg()}")
    # Warm Spark's Python workers and the JIT once for the Spark contenders.
    if not args.only or "Spark" in args.only or "cluster" in args.only:
        run_fmin(SparkTrials(parallelism=2, spark_session=spark), 2, seed=0)

    contenders = {
        "serial Trials (hyperopt)": lambda seed: (*run_fmin(Trials(), args.trials, seed), "Trials", 1),
        "SparkTrials(parallelism=2) (hyperopt)": lambda seed: (
            *run_fmin(SparkTrials(parallelism=2, spark_session=spark), args.trials, seed),
            "SparkTrials",
            2,
        ),
        "sparkwright serial": lambda seed: (*run_sparkwright(args.trials, seed, "serial", spark), 1),
        "sparkwright parallel (2 workers)": lambda seed: (*run_sparkwright(args.trials, seed, "parallel", spark), 2),
        # The cluster path of trials: parallel (one Spark job per trial), forced on the local session.
        "sparkwright parallel, cluster path (2 jobs)": lambda seed: (
            *_spark_jobs(args.trials, seed, spark, _executors),
            2,
        ),
    }
    if args.only:
        wanted = [part.strip() for part in args.only.split(",")]
        contenders = {name: run for name, run in contenders.items() if any(part in name for part in wanted)}
    runs: dict[str, list[dict]] = {name: [] for name in contenders}
    ceilings: list[float] = []
    for repeat in range(args.repeats):
        ceilings.append(capacity())
        print(f"repeat {repeat}: two processes do {ceilings[-1]:.2f}x the work of one right now (2.00 when idle)")
        order = list(contenders) if repeat % 2 == 0 else list(reversed(contenders))
        for name in order:
            wall, objective_seconds, executor, workers = contenders[name](seed=repeat)
            overhead = (wall * workers - objective_seconds) / args.trials
            runs[name].append(
                {
                    "wall": wall,
                    "objective_seconds": objective_seconds,
                    "overhead_per_trial": overhead,
                    "executor": executor,
                }
            )
            print(f"repeat {repeat} {name}: {wall:.2f} s (load average {os.getloadavg()[0]:.1f})")

    ceilings.append(capacity())
    report = summarise(runs, "serial Trials (hyperopt)")
    report["two_process_ceiling"] = ceilings
    print_report(report, args.trials)
    print(f"two-process ceiling measured around the repeats: {', '.join(f'{c:.2f}x' for c in ceilings)}")
    out = Path(__file__).resolve().parent / "results" / f"tuning_{args.work}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {"trials": args.trials, "seconds": args.seconds, "work": args.work, "iterations": iterations,
             "repeats": args.repeats,
             "load_average_after": os.getloadavg(), **report},
            indent=2,
        )
    )  # fmt: skip


def _spark_jobs(n_trials: int, seed: int, spark, executors_module) -> tuple[float, float, str]:
    """trials: parallel as it runs against a cluster, measured on this local session."""
    from sparkwright.tune import _search

    original = _search._make_executor
    _search._make_executor = lambda objective, trials, parallelism, session: executors_module.SparkJobExecutor(
        objective, parallelism, session, connect=False
    )
    try:
        return run_sparkwright(n_trials, seed, "parallel", spark)
    finally:
        _search._make_executor = original


def summarise(runs: dict[str, list[dict]], reference: str) -> dict:
    medians = {
        name: {
            "wall": statistics.median(r["wall"] for r in rs),
            # On a machine shared with other work the fastest repeat is the least disturbed one.
            "best_wall": min(r["wall"] for r in rs),
            "objective_seconds": statistics.median(r["objective_seconds"] for r in rs),
            "overhead_per_trial": statistics.median(r["overhead_per_trial"] for r in rs),
            "executor": rs[0]["executor"],
            "walls": [r["wall"] for r in rs],
        }
        for name, rs in runs.items()
    }
    if reference not in medians:
        return {"contenders": medians}
    for row in medians.values():
        row["speedup_vs_serial"] = medians[reference]["wall"] / row["wall"]
        row["best_speedup_vs_serial"] = medians[reference]["best_wall"] / row["best_wall"]
    return {"contenders": medians}


def print_report(report: dict, n_trials: int) -> None:
    print(f"\n{n_trials} trials; median (and fastest) of the repeats")
    print(f"{'contender':45} {'wall s':>14} {'speedup':>15} {'overhead/trial s':>17} {'objective s':>12}")
    for name, row in report["contenders"].items():
        print(
            f"{name:45} {row['wall']:6.2f} ({row['best_wall']:5.2f}) {row['speedup_vs_serial']:6.2f}x "
            f"({row['best_speedup_vs_serial']:5.2f}x) {row['overhead_per_trial']:17.3f} "
            f"{row['objective_seconds']:12.2f}"
        )
    row = report["contenders"].get("sparkwright parallel (2 workers)")
    if row is None:
        return
    print(
        f"sparkwright parallel vs serial Trials: {row['speedup_vs_serial']:.2f}x median, "
        f"{row['best_speedup_vs_serial']:.2f}x fastest (goal >= 1.8x)"
    )


if __name__ == "__main__":
    main()
