"""Search spaces from the project file: ``tune.space.<model>.<param>`` -> typed distributions.

Pure Python (no hyperopt, optuna or Spark): ``sparkwright validate`` checks a space without either
backend, and ``sparkwright.tune`` maps these objects to hyperopt or optuna when a search runs.

One model's space is a mapping of parameter -> spec::

    maxDepth: {quniform: [2, 12, 1]}          # 2, 3, ..., 12 as ints
    stepSize: {loguniform: [0.001, 0.3]}      # bounds in value units, both > 0
    subsamplingRate: {uniform: [0.5, 1.0]}
    featureSubsetStrategy: {choice: [sqrt, log2, onethird]}
    seed: 7                                   # a plain value is fixed

With ``method: grid`` each parameter is a list of values (a plain value is a one-value list).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sparkwright.config.checks import did_you_mean
from sparkwright.errors import ConfigError


@dataclass(frozen=True)
class Uniform:
    """A float drawn uniformly in ``[low, high]``."""

    low: float
    high: float


@dataclass(frozen=True)
class LogUniform:
    """A float whose log is uniform: ``[low, high]`` in value units, ``0 < low < high``.

    hyperopt's own ``hp.loguniform`` takes ``log(low), log(high)``; the conversion happens in
    ``sparkwright.tune``.
    """

    low: float
    high: float


@dataclass(frozen=True)
class QUniform:
    """``round(x / q) * q`` for ``x`` uniform in ``[low, high]``: the values ``low, low + q, ..., high``.

    ``integer`` is true when low, high and q are all integers: values are then Python ints.
    """

    low: float
    high: float
    q: float
    integer: bool


@dataclass(frozen=True)
class QLogUniform:
    """``round(x / q) * q`` for ``x`` log-uniform in ``[low, high]`` (``0 < low``); ints as for QUniform."""

    low: float
    high: float
    q: float
    integer: bool


@dataclass(frozen=True)
class Choice:
    """One of ``options``, each equally likely at first (any YAML values, lists included)."""

    options: tuple[Any, ...]


@dataclass(frozen=True)
class Normal:
    """A float drawn from a normal distribution (unbounded; hyperopt only)."""

    mu: float
    sigma: float


@dataclass(frozen=True)
class Fixed:
    """A value that every trial uses as it is."""

    value: Any


Distribution = Uniform | LogUniform | QUniform | QLogUniform | Choice | Normal | Fixed

METHODS = ("grid", "hyperopt", "optuna")
DISTRIBUTIONS: dict[str, str] = {
    "uniform": "[low, high]",
    "loguniform": "[low, high]",
    "quniform": "[low, high, q]",
    "qloguniform": "[low, high, q]",
    "choice": "[option, option, ...]",
    "normal": "[mu, sigma]",
}


def parse_space(raw: Any, path: str, method: str = "hyperopt") -> dict[str, Distribution]:
    """Parse one model's ``{param: spec}`` into distributions.

    Args:
        raw: The model's mapping from the project file, e.g. ``{"maxDepth": {"quniform": [2, 12, 1]}}``.
        path: Its YAML path, used in errors, e.g. ``tune.space.random_forest``.
        method: ``hyperopt``, ``optuna`` or ``grid``. Grid takes lists of values (each becomes a
            :class:`Choice`); the others take distributions; optuna has no ``normal``.

    Returns:
        Parameter name -> distribution, in the file's order.

    Raises:
        ConfigError: With the parameter's YAML path, what was expected and how to fix it.

    Example:
        >>> parse_space({"maxDepth": {"quniform": [2, 8, 2]}}, "tune.space.rf")
        {'maxDepth': QUniform(low=2, high=8, q=2, integer=True)}
    """
    if method not in METHODS:
        raise ConfigError(
            f"unknown method {method!r}; use one of {', '.join(METHODS)}." + did_you_mean(str(method), set(METHODS)),
            "tune.method",
        )
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"must map each parameter to a distribution, e.g. {{maxDepth: {{quniform: [2, 12, 1]}}}}; "
            f"got {type(raw).__name__} {raw!r}.",
            path,
        )
    if not raw:
        raise ConfigError("has no parameters to search; add one or remove the model from tune.space.", path)
    space: dict[str, Distribution] = {}
    for name, spec in raw.items():
        param_path = f"{path}.{name}"
        space[str(name)] = _parse_grid_axis(spec, param_path) if method == "grid" else _parse_spec(spec, param_path)
        if method == "optuna" and isinstance(space[str(name)], Normal):
            raise ConfigError(
                "normal has no optuna equivalent (optuna's distributions are bounded); use "
                "{uniform: [mu - 2*sigma, mu + 2*sigma]} or method: hyperopt.",
                param_path,
            )
    if method != "grid" and all(isinstance(d, Fixed) for d in space.values()):
        raise ConfigError(
            "every parameter is fixed, so there is nothing to search; give at least one a distribution "
            "such as {uniform: [low, high]}, or set fixed values in the model's params instead.",
            path,
        )
    return space


def grid_points(space: Mapping[str, Distribution]) -> list[dict[str, Any]]:
    """Every combination of a grid space's values, the first parameter varying slowest.

    Raises:
        ConfigError: A parameter is a continuous distribution (grids need lists of values).

    Example:
        >>> grid_points({"a": Choice((1, 2)), "b": Fixed("x")})
        [{'a': 1, 'b': 'x'}, {'a': 2, 'b': 'x'}]
    """
    axes: list[tuple[Any, ...]] = []
    for name, dist in space.items():
        if isinstance(dist, Choice):
            axes.append(dist.options)
        elif isinstance(dist, Fixed):
            axes.append((dist.value,))
        else:
            raise ConfigError(f"a grid needs a list of values, got the distribution {dist!r}.", name)
    names = list(space)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*axes)]


def _parse_grid_axis(spec: Any, path: str) -> Distribution:
    if isinstance(spec, list):
        if not spec:
            raise ConfigError("a grid axis needs at least one value, got [].", path)
        return Choice(tuple(spec))
    if isinstance(spec, Mapping):
        raise ConfigError(
            f"method: grid takes a list of values, e.g. [3, 5, 8], got the distribution {dict(spec)!r}; "
            "list the values, or use method: hyperopt / optuna to sample distributions.",
            path,
        )
    return Fixed(spec)


def _parse_spec(spec: Any, path: str) -> Distribution:
    if isinstance(spec, list):
        raise ConfigError(
            f"a list is a grid axis (method: grid); to sample among values write {{choice: {spec!r}}}.",
            path,
        )
    if not isinstance(spec, Mapping):
        return Fixed(spec)
    if len(spec) != 1:
        raise ConfigError(
            "a distribution is one key with its arguments, e.g. {uniform: [0, 1]}, "
            f"got keys {sorted(map(str, spec))}.",
            path,
        )
    ((kind, args),) = spec.items()
    kind = str(kind)
    if kind not in DISTRIBUTIONS:
        raise ConfigError(
            f"unknown distribution {kind!r}; use one of {', '.join(DISTRIBUTIONS)}."
            + did_you_mean(kind, set(DISTRIBUTIONS)),
            path,
        )
    if kind == "choice":
        if not isinstance(args, list) or not args:
            raise ConfigError(f"choice takes a non-empty list of options, e.g. {{choice: [a, b]}}, got {args!r}.", path)
        return Choice(tuple(args))
    numbers = _numbers(kind, args, path)
    if kind == "normal":
        mu, sigma = numbers
        if sigma <= 0:
            raise ConfigError(f"normal's sigma must be > 0, got {sigma!r}.", path)
        return Normal(mu, sigma)
    low, high = numbers[0], numbers[1]
    if not low < high:
        raise ConfigError(f"{kind} needs low < high, got {args!r}.", path)
    if kind.endswith("loguniform") and low <= 0:
        raise ConfigError(
            f"{kind} bounds are values (not their logs) and must be > 0, got {args!r}; "
            "for a range that includes 0 use uniform / quniform.",
            path,
        )
    if kind == "uniform":
        return Uniform(low, high)
    if kind == "loguniform":
        return LogUniform(low, high)
    q = numbers[2]
    if q <= 0:
        raise ConfigError(f"{kind}'s step q must be > 0, got {q!r}.", path)
    for bound in (low, high):
        if not _is_multiple(bound, q):
            raise ConfigError(
                f"{kind} bounds must be multiples of q so that every value is low, low + q, ..., high; "
                f"{bound!r} is not a multiple of {q!r} (got {args!r}).",
                path,
            )
    integer = all(isinstance(n, int) for n in numbers)
    return (QUniform if kind == "quniform" else QLogUniform)(low, high, q, integer)


def _numbers(kind: str, args: Any, path: str) -> list[int | float]:
    shape = DISTRIBUTIONS[kind]
    expected = shape.count(",") + 1
    if not isinstance(args, list) or len(args) != expected:
        raise ConfigError(f"{kind} takes {shape}, got {args!r}.", path)
    if not all(isinstance(a, int | float) and not isinstance(a, bool) and math.isfinite(a) for a in args):
        raise ConfigError(f"{kind} takes {shape} as numbers, got {args!r}.", path)
    return list(args)


def _is_multiple(value: float, q: float) -> bool:
    steps = value / q
    return abs(steps - round(steps)) <= 1e-9 * max(1.0, abs(steps))
