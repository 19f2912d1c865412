"""A parsed search space (``sparkwright.config.space``) as hyperopt or optuna see it, and back.

Both backends sample raw values (floats, and indices for choices); :func:`converter` turns them into
the params the objective gets: ints for q-distributions with integer bounds, the chosen option itself,
fixed values added. It is a closure over plain data, so Spark can ship it to executors by value.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from typing import Any

from sparkwright.config.space import (
    Choice,
    Distribution,
    Fixed,
    LogUniform,
    Normal,
    QLogUniform,
    QUniform,
    Uniform,
)
from sparkwright.errors import ConfigError


def sampled(space: Mapping[str, Distribution]) -> dict[str, Distribution]:
    """The parameters an algorithm samples (everything but fixed values)."""
    return {name: dist for name, dist in space.items() if not isinstance(dist, Fixed)}


def to_hyperopt(space: Mapping[str, Distribution]) -> dict[str, Any]:
    """hyperopt expressions, one per sampled parameter. Choices sample an index (see :func:`converter`)."""
    from hyperopt import hp

    out: dict[str, Any] = {}
    for name, dist in sampled(space).items():
        if isinstance(dist, Uniform):
            out[name] = hp.uniform(name, dist.low, dist.high)
        elif isinstance(dist, LogUniform):
            out[name] = hp.loguniform(name, math.log(dist.low), math.log(dist.high))
        elif isinstance(dist, QUniform):
            out[name] = hp.quniform(name, dist.low, dist.high, dist.q)
        elif isinstance(dist, QLogUniform):
            out[name] = hp.qloguniform(name, math.log(dist.low), math.log(dist.high), dist.q)
        elif isinstance(dist, Normal):
            out[name] = hp.normal(name, dist.mu, dist.sigma)
        elif isinstance(dist, Choice):
            out[name] = hp.choice(name, list(range(len(dist.options))))
        else:
            raise ConfigError(f"{name}: not a distribution: {dist!r}")
    return out


def to_optuna(space: Mapping[str, Distribution]) -> dict[str, Any]:
    """optuna distributions, one per sampled parameter.

    optuna has no log scale with a step: ``qloguniform`` with q = 1 and integer bounds is an integer
    log distribution; any other q is sampled log-uniformly and rounded to q by :func:`converter`.

    Raises:
        ConfigError: ``normal``, which no optuna distribution matches.
    """
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, Any] = {}
    for name, dist in sampled(space).items():
        if isinstance(dist, Uniform):
            out[name] = FloatDistribution(dist.low, dist.high)
        elif isinstance(dist, LogUniform):
            out[name] = FloatDistribution(dist.low, dist.high, log=True)
        elif isinstance(dist, QUniform):
            if dist.integer:
                out[name] = IntDistribution(int(dist.low), int(dist.high), step=int(dist.q))
            else:
                out[name] = FloatDistribution(dist.low, dist.high, step=dist.q)
        elif isinstance(dist, QLogUniform):
            if dist.integer and dist.q == 1:
                out[name] = IntDistribution(int(dist.low), int(dist.high), log=True)
            else:
                out[name] = FloatDistribution(dist.low, dist.high, log=True)
        elif isinstance(dist, Choice):
            out[name] = CategoricalDistribution(list(range(len(dist.options))))
        elif isinstance(dist, Normal):
            raise ConfigError(
                f"{name}: normal has no optuna equivalent (optuna's distributions are bounded); use "
                "{uniform: [mu - 2*sigma, mu + 2*sigma]} or method: hyperopt."
            )
        else:
            raise ConfigError(f"{name}: not a distribution: {dist!r}")
    return out


def converter(space: Mapping[str, Distribution]) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """``raw sampled values -> params``: q-values rounded, clipped and cast, choices resolved, fixed added.

    The returned function uses only builtins, so Spark can run it on executors without sparkwright.
    """
    rules: list[tuple[str, str, tuple[Any, ...]]] = []
    for name, dist in space.items():
        if isinstance(dist, Fixed):
            rules.append((name, "fixed", (dist.value,)))
        elif isinstance(dist, Choice):
            rules.append((name, "choice", dist.options))
        elif isinstance(dist, QUniform | QLogUniform):
            rules.append((name, "q", (dist.low, dist.high, dist.q, dist.integer)))
        else:
            rules.append((name, "float", ()))

    def convert(raw: Mapping[str, Any]) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for name, kind, args in rules:
            if kind == "fixed":
                params[name] = copy.deepcopy(args[0])
            elif kind == "choice":
                params[name] = copy.deepcopy(args[int(raw[name])])
            elif kind == "q":
                low, high, q, integer = args
                # hyperopt rounds x / q; clipping only catches float error at the (multiple-of-q) bounds.
                value = min(max(round(float(raw[name]) / q) * q, low), high)
                params[name] = round(value) if integer else round(float(value), 12)
            else:
                params[name] = float(raw[name])
        return params

    return convert


def to_optuna_params(space: Mapping[str, Distribution], point: Mapping[str, Any]) -> dict[str, Any]:
    """A point of ``space`` (params as the objective gets them) as optuna's raw values, to enqueue it.

    Raises:
        ConfigError: A choice value that is not one of the options.
    """
    raw: dict[str, Any] = {}
    for name, dist in sampled(space).items():
        if name not in point:
            continue
        value = point[name]
        if isinstance(dist, Choice):
            if value not in dist.options:
                raise ConfigError(f"{name}: {value!r} is not one of the options {list(dist.options)}.")
            raw[name] = list(dist.options).index(value)
        else:
            raw[name] = value
    return raw
