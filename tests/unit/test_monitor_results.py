"""A monitoring result as the Delta table's rows, as JSON and as the HTML report (no Spark needed)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sparkwright.monitor import Bucket, ChiSquare, Drift, MonitorResult, Performance, Thresholds, WindowMetrics
from sparkwright.monitor.report import render_monitor_report

START = datetime(2026, 1, 1, tzinfo=UTC)


def result() -> MonitorResult:
    t = Thresholds(min_window_rows=10)
    price = Drift(
        name="price",
        kind="numeric",
        role="feature",
        buckets=[Bucket("≤ 10", 50, 10), Bucket("> 10", 50, 90), Bucket("(missing)", 0, 0)],
        edges=[10.0],
        psi=0.9,
        chi_square=None,
        null_rate_reference=0.0,
        null_rate_current=0.0,
        mean_reference=9.5,
        mean_current=14.0,
    )
    city = Drift(
        name="city",
        kind="categorical",
        role="feature",
        buckets=[Bucket("a", 60, 58), Bucket("b", 40, 40), Bucket("(new in scoring)", 0, 2), Bucket("(missing)", 0, 0)],
        edges=[],
        psi=0.02,
        chi_square=ChiSquare(2.0, 2, 0.37, 0.1),
        null_rate_reference=0.0,
        null_rate_current=0.0,
        new_categories=[("c", 2)],
        new_share=0.02,
    )
    prediction = Drift("prediction", "numeric", "prediction", price.buckets, [10.0], 0.05, None, 0.0, 0.0)
    windows = [
        WindowMetrics(START, START + timedelta(days=1), 40, {"rmse": 10.0, "r2": 0.8}, drop=0.0),
        WindowMetrics(START + timedelta(days=1), START + timedelta(days=2), 40, {"rmse": 15.0, "r2": 0.5}, drop=0.5),
    ]
    windows[1] = replace(windows[1], crossed=t.metric_crossed(0.5, 40))
    performance = Performance(
        metric="rmse",
        higher_is_better=False,
        training={"rmse": 10.0, "r2": 0.8},
        labels="/lake/p/labels",
        keys=["id"],
        time_column="_scored_at",
        window="1 day",
        labelled_rows=80,
        overall=WindowMetrics(None, None, 80, {"rmse": 12.7, "r2": 0.65}, drop=0.27, crossed=True),
        windows=windows,
    )
    return MonitorResult(
        model_uri="models:/p/3",
        model_name="p",
        model_version="3",
        training_run="abc",
        project="p",
        task="regression",
        input="/lake/p/scored",
        input_version=4,
        reference_table="/lake/p/silver",
        reference_version=2,
        reference_rows=100,
        current_rows=100,
        refused_rows=1,
        malformed_rows=0,
        features=[replace(price, crossed=t.drift_crossed(price)), replace(city, crossed=t.drift_crossed(city))],
        predictions=[prediction],
        prediction_source="model",
        performance=performance,
        thresholds=t,
        started=START,
        run_id="r" * 32,
        results_table="/lake/p/monitoring",
        results_version=7,
    )


def test_alerts_name_what_crossed():
    alerts = result().alerts
    assert alerts[0] == "feature price: PSI 0.900 >= 0.2"
    assert alerts[1] == "feature city: 2.0% of rows have categories unseen in training ('c')"
    assert (
        alerts[2] == "rmse 15 in the window from 2026-01-02 00:00 is 50.0% worse than in training (10; threshold 10%)"
    )
    assert alerts[3] == "rmse 12.7 over all 80 labelled rows is 27.0% worse than in training (10; threshold 10%)"
    assert len(alerts) == 4  # the prediction and the first window are within their thresholds


def test_rows_are_one_per_column_and_statistic():
    rows = result().rows()
    by_key = {(r["column"], r["statistic"], r["window_start"]): r for r in rows}
    price = by_key[("price", "psi", None)]
    assert (price["value"], price["threshold"], price["crossed"], price["role"]) == (0.9, 0.2, True, "feature")
    assert ("price", "chi_square_p_value", None) not in by_key  # numeric: PSI only
    assert by_key[("city", "cramers_v", None)]["value"] == 0.1
    assert by_key[("city", "new_category_share", None)]["crossed"] is True
    assert by_key[("prediction", "psi", None)]["role"] == "prediction"
    day2 = by_key[("rmse", "rmse_drop", START + timedelta(days=1))]
    assert (day2["value"], day2["crossed"], day2["rows"]) == (0.5, True, 40)
    assert by_key[("r2", "r2", START)]["threshold"] is None  # only the monitored metric is judged
    assert by_key[("", "refused_rows", None)]["value"] == 1.0
    assert {r["run_id"] for r in rows} == {"r" * 32} and {r["model_version"] for r in rows} == {3}
    assert all(isinstance(r["value"], float) for r in rows)  # a DoubleType column takes floats only


def test_to_dict_is_json():
    data = json.loads(json.dumps(result().to_dict()))
    assert data["features"][1]["new_categories"] == [["c", 2]]
    assert data["performance"]["windows"][1]["start"] == "2026-01-02T00:00:00+00:00"


def test_report_carries_the_verdict_in_data_attributes():
    html = render_monitor_report(result())
    assert '<body data-status="crossed">' in html
    assert re.search(r'<tr data-column="price" data-drift="true"', html)
    assert re.search(r'<tr data-column="city" data-drift="true"', html)
    assert 'data-crossed="true"' in html and "all labelled rows" in html
    assert html.count("<img ") == 5  # PSI chart, two feature cards, the prediction, the metric per window
    assert "https://" not in html and "http://" not in html  # self-contained, works offline
