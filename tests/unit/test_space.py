"""Search spaces from the project file: every distribution, fixed values, grids, and each error's path and fix."""

from __future__ import annotations

import pytest

from sparkwright.config.space import (
    Choice,
    Fixed,
    LogUniform,
    Normal,
    QLogUniform,
    QUniform,
    Uniform,
    grid_points,
    parse_space,
)
from sparkwright.errors import ConfigError

PATH = "tune.space.random_forest"


def test_every_distribution_parses_to_its_type():
    space = parse_space(
        {
            "subsamplingRate": {"uniform": [0.5, 1.0]},
            "stepSize": {"loguniform": [0.001, 0.3]},
            "maxDepth": {"quniform": [2, 12, 1]},
            "maxBins": {"qloguniform": [16, 256, 16]},
            "minInfoGain": {"quniform": [0.0, 0.5, 0.1]},
            "impurity": {"choice": ["variance", "gini"]},
            "shift": {"normal": [0, 2]},
            "seed": 7,
        },
        PATH,
    )
    assert space == {
        "subsamplingRate": Uniform(0.5, 1.0),
        "stepSize": LogUniform(0.001, 0.3),
        "maxDepth": QUniform(2, 12, 1, integer=True),
        "maxBins": QLogUniform(16, 256, 16, integer=True),
        "minInfoGain": QUniform(0.0, 0.5, 0.1, integer=False),
        "impurity": Choice(("variance", "gini")),
        "shift": Normal(0, 2),
        "seed": Fixed(7),
    }
    assert list(space) == [
        "subsamplingRate",
        "stepSize",
        "maxDepth",
        "maxBins",
        "minInfoGain",
        "impurity",
        "shift",
        "seed",
    ]


def test_choice_keeps_any_yaml_value():
    space = parse_space({"layers": {"choice": [[4, 2], [8, 4, 2]]}, "flag": {"choice": [True, None]}}, PATH)
    assert space["layers"] == Choice(([4, 2], [8, 4, 2]))
    assert space["flag"] == Choice((True, None))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"unifrom": [0, 1]},
            r"maxDepth: unknown distribution 'unifrom'; use one of uniform, .*Did you mean 'uniform'\?",
        ),
        ({"qunifrom": [1, 5, 1]}, r"Did you mean 'quniform'\?"),
        (
            {"uniform": [0, 1], "q": 1},
            r"maxDepth: a distribution is one key with its arguments, e\.g\. \{uniform: \[0, 1\]\}",
        ),
        ({"uniform": [1]}, r"maxDepth: uniform takes \[low, high\], got \[1\]"),
        ({"quniform": [1, 5]}, r"maxDepth: quniform takes \[low, high, q\], got \[1, 5\]"),
        ({"uniform": "0..1"}, r"uniform takes \[low, high\], got '0\.\.1'"),
        ({"uniform": ["a", 1]}, r"uniform takes \[low, high\] as numbers, got \['a', 1\]"),
        ({"uniform": [True, 2]}, r"as numbers"),
        ({"uniform": [5, 1]}, r"maxDepth: uniform needs low < high, got \[5, 1\]"),
        ({"loguniform": [0, 1]}, r"loguniform bounds are values \(not their logs\) and must be > 0, got \[0, 1\]"),
        ({"qloguniform": [-2, 4, 1]}, r"qloguniform bounds are values \(not their logs\) and must be > 0"),
        ({"quniform": [0, 10, 0]}, r"quniform's step q must be > 0, got 0"),
        ({"quniform": [1, 10, 4]}, r"quniform bounds must be multiples of q .* 1 is not a multiple of 4"),
        ({"choice": []}, r"choice takes a non-empty list of options"),
        ({"choice": "a"}, r"choice takes a non-empty list of options, e\.g\. \{choice: \[a, b\]\}, got 'a'"),
        ({"normal": [0, 0]}, r"normal's sigma must be > 0, got 0"),
        (
            [3, 5, 8],
            r"maxDepth: a list is a grid axis \(method: grid\); to sample among values write \{choice: \[3, 5, 8\]\}",
        ),
    ],
)
def test_invalid_spec_names_yaml_path_and_fix(spec, message):
    with pytest.raises(ConfigError, match=message) as info:
        parse_space({"maxDepth": spec}, PATH)
    assert info.value.path == f"{PATH}.maxDepth"


def test_model_entry_must_be_a_non_empty_mapping():
    with pytest.raises(ConfigError, match=r"tune\.space\.random_forest: must map each parameter to a distribution"):
        parse_space([{"maxDepth": 3}], PATH)
    with pytest.raises(ConfigError, match=r"tune\.space\.random_forest: has no parameters to search"):
        parse_space({}, PATH)


def test_all_fixed_space_has_nothing_to_search():
    with pytest.raises(ConfigError, match=r"every parameter is fixed, so there is nothing to search"):
        parse_space({"maxDepth": 5, "seed": 1}, PATH)


def test_optuna_refuses_normal_with_the_alternative():
    with pytest.raises(ConfigError, match=r"tune\.space\.random_forest\.shift: normal has no optuna equivalent.*"
                       r"\{uniform: \[mu - 2\*sigma, mu \+ 2\*sigma\]\} or method: hyperopt"):  # fmt: skip
        parse_space({"shift": {"normal": [0, 1]}}, PATH, method="optuna")


def test_unknown_method():
    with pytest.raises(ConfigError, match=r"tune\.method: unknown method 'hyperpot'.*Did you mean 'hyperopt'\?"):
        parse_space({"a": {"uniform": [0, 1]}}, PATH, method="hyperpot")


def test_grid_takes_lists_and_fixed_values():
    space = parse_space({"maxDepth": [3, 5], "impurity": ["gini", "entropy"], "seed": 1}, PATH, method="grid")
    assert grid_points(space) == [
        {"maxDepth": 3, "impurity": "gini", "seed": 1},
        {"maxDepth": 3, "impurity": "entropy", "seed": 1},
        {"maxDepth": 5, "impurity": "gini", "seed": 1},
        {"maxDepth": 5, "impurity": "entropy", "seed": 1},
    ]


def test_grid_refuses_distributions_and_empty_axes():
    with pytest.raises(ConfigError, match=r"tune\.space\.random_forest\.maxDepth: method: grid takes a list of values, "
                       r"e\.g\. \[3, 5, 8\], got the distribution \{'quniform': \[2, 8, 1\]\}"):  # fmt: skip
        parse_space({"maxDepth": {"quniform": [2, 8, 1]}}, PATH, method="grid")
    with pytest.raises(ConfigError, match=r"maxDepth: a grid axis needs at least one value, got \[\]"):
        parse_space({"maxDepth": []}, PATH, method="grid")
    with pytest.raises(ConfigError, match=r"a grid needs a list of values"):
        grid_points({"x": Uniform(0, 1)})


def test_parse_space_needs_no_backend():
    import subprocess
    import sys

    code = (
        "import sys; from sparkwright.config.space import parse_space; "
        "parse_space({'a': {'uniform': [0, 1]}}, 'p'); "
        "print(sorted(m for m in ('hyperopt', 'optuna', 'pyspark') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
