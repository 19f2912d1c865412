"""The profile report opens in a real (headless) browser: every plot decodes or is laid out, and the page
screenshots."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from chromium import find_chromium, png_size, run_chromium

from sparkwright.explore import profile_table, render_report, write_report

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chromium() -> str:
    return find_chromium()


@pytest.fixture(scope="module")
def report(spark, tmp_path_factory) -> Path:
    rng = np.random.default_rng(3)
    rows = 2_000
    size = rng.lognormal(4.0, 0.5, rows)
    frame = pd.DataFrame(
        {
            "size": size,
            "rooms": rng.integers(1, 6, rows),
            "age": np.where(rng.uniform(size=rows) < 0.1, np.nan, rng.uniform(0, 80, rows)),
            "district": rng.choice(["north", "south", "east", "west"], rows),
            "price": 2.5 * size + rng.normal(0, 20, rows),
        }
    )
    found = profile_table(spark.createDataFrame(frame), label="price")
    folder = tmp_path_factory.mktemp("report")
    return write_report(render_report(found, "Houses"), folder / "profile.html")


def test_every_plot_decodes_in_the_browser(chromium, report, tmp_path: Path):
    expected = len(re.findall(r"<img ", report.read_text(encoding="utf-8")))
    done = run_chromium(chromium, tmp_path, "--virtual-time-budget=5000", "--dump-dom", report.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    body = re.search(r"<body[^>]*>", done.stdout)
    assert body, done.stdout[:2000]
    ok = re.search(r'data-images-ok="(\d+)"', body.group(0))
    total = re.search(r'data-images-total="(\d+)"', body.group(0))
    assert ok and total, f"the page's load script did not run: {body.group(0)}"
    assert expected >= 3  # the label's distribution, its correlations, the scatters (and the heatmap)
    assert int(total.group(1)) == expected
    assert int(ok.group(1)) == expected
    # The column cards' distributions are CSS bars: every one was laid out with a size.
    drawn = re.search(r'data-bars-drawn="(\d+)"', body.group(0))
    bars = re.search(r'data-bars-total="(\d+)"', body.group(0))
    assert drawn and bars and int(bars.group(1)) > 20
    assert int(drawn.group(1)) == int(bars.group(1))


def test_screenshot_is_a_real_page(chromium, report, tmp_path: Path):
    shot = tmp_path / "profile.png"
    done = run_chromium(chromium, tmp_path, f"--screenshot={shot}", "--window-size=1280,2400", report.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    data = shot.read_bytes()
    assert png_size(data) == (1280, 2400)
    # A blank page compresses to a few KB; text, tables and plots do not.
    assert len(data) > 100_000
