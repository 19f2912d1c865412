"""The two search backends behind one ask / tell interface, so every executor works with both.

hyperopt's algorithms are called the way ``fmin`` calls them (one ``suggest`` per new trial, a seed drawn
from ``np.random.default_rng(seed)`` each time, running trials in the history with no loss yet), so a
serial search proposes exactly the points ``fmin(..., rstate=np.random.default_rng(seed))`` would.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Iterator, Mapping
from typing import Any

from sparkwright.config.space import Distribution
from sparkwright.errors import ConfigError
from sparkwright.tune import _spaces

ALGORITHMS = ("random", "tpe", "atpe")


class Backend:
    """Proposes points (``ask``) and learns their losses (``tell``)."""

    def ask(self) -> tuple[Any, dict[str, Any]]:
        """(token for ``tell``, params for the objective)."""
        raise NotImplementedError

    def tell(self, token: Any, loss: float | None) -> None:
        """The trial's loss; None for a failed trial."""
        raise NotImplementedError


class HyperoptBackend(Backend):
    def __init__(self, space: Mapping[str, Distribution], algorithm: str, seed: int):
        import numpy as np
        from hyperopt import Trials, atpe, base, rand, tpe

        if algorithm == "atpe":
            _require_atpe_packages()
        self._suggest = {"random": rand.suggest, "tpe": tpe.suggest, "atpe": atpe.suggest}[algorithm]
        self._base = base
        self._domain = base.Domain(lambda params: 0.0, _spaces.to_hyperopt(space))
        self._trials = Trials()
        self._docs: dict[int, dict[str, Any]] = {}
        self._rstate = np.random.default_rng(seed)
        self._convert = _spaces.converter(space)
        # ATPE draws from Python's and numpy's global generators, not from the seed hyperopt passes: give it
        # its own seeded streams so a seed reproduces ATPE's points too, and leave the caller's as they were.
        self._atpe_state = (
            (random.Random(seed).getstate(), np.random.RandomState(seed).get_state()) if algorithm == "atpe" else None
        )

    def ask(self) -> tuple[int, dict[str, Any]]:
        from hyperopt.utils import coarse_utcnow

        trials = self._trials
        new_ids = trials.new_trial_ids(1)
        trials.refresh()
        seed = int(self._rstate.integers(2**31 - 1))
        with self._own_global_random(), _quiet("hyperopt"):
            docs = self._suggest(new_ids, self._domain, trials, seed)
        trials.insert_trial_docs(docs)
        trials.refresh()
        tid = docs[0]["tid"]
        # insert_trial_docs stores copies: keep the stored doc to write the result into.
        doc = self._docs[tid] = next(d for d in trials._dynamic_trials if d["tid"] == tid)
        doc["state"] = self._base.JOB_STATE_RUNNING
        doc["book_time"] = doc["refresh_time"] = coarse_utcnow()  # ATPE reads both
        raw = {name: values[0] for name, values in docs[0]["misc"]["vals"].items() if values}
        return tid, self._convert(raw)

    def tell(self, token: int, loss: float | None) -> None:
        from hyperopt.utils import coarse_utcnow

        doc = self._docs.pop(token)
        doc["state"] = self._base.JOB_STATE_DONE
        doc["result"] = {"status": "ok", "loss": loss} if loss is not None else {"status": "fail"}
        doc["refresh_time"] = coarse_utcnow()
        self._trials.refresh()

    @contextlib.contextmanager
    def _own_global_random(self) -> Iterator[None]:
        if self._atpe_state is None:
            yield
            return
        import numpy as np

        caller = random.getstate(), np.random.get_state()
        random.setstate(self._atpe_state[0])
        np.random.set_state(self._atpe_state[1])
        try:
            yield
        finally:
            self._atpe_state = random.getstate(), np.random.get_state()
            random.setstate(caller[0])
            np.random.set_state(caller[1])


class OptunaBackend(Backend):
    def __init__(self, space: Mapping[str, Distribution], algorithm: str, seed: int):
        import optuna

        if algorithm == "atpe":
            raise ConfigError(
                "optuna has no adaptive TPE (atpe); use algorithm: tpe (optuna's TPESampler) or method: hyperopt."
            )
        sampler = (
            optuna.samplers.RandomSampler(seed=seed)
            if algorithm == "random"
            # constant_liar: a running trial counts as a bad result, so parallel trials spread out.
            else optuna.samplers.TPESampler(seed=seed, constant_liar=True)
        )
        with _quiet("optuna"):
            self._study = optuna.create_study(direction="minimize", sampler=sampler)
        self._distributions = _spaces.to_optuna(space)
        self._convert = _spaces.converter(space)
        self._failed = optuna.trial.TrialState.FAIL

    def ask(self) -> tuple[Any, dict[str, Any]]:
        with _quiet("optuna"):
            trial = self._study.ask(self._distributions)
        return trial, self._convert(trial.params)

    def tell(self, token: Any, loss: float | None) -> None:
        with _quiet("optuna"):
            if loss is None:
                self._study.tell(token, state=self._failed)
            else:
                self._study.tell(token, loss)


def make_backend(method: str, space: Mapping[str, Distribution], algorithm: str, seed: int) -> Backend:
    if method == "hyperopt":
        return HyperoptBackend(space, algorithm, seed)
    return OptunaBackend(space, algorithm, seed)


def _require_atpe_packages() -> None:
    try:
        import lightgbm  # noqa: F401
        import sklearn  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"algorithm: atpe needs lightgbm and scikit-learn ({exc}); reinstall sparkwright, which depends on "
            "both, or use algorithm: tpe."
        ) from exc


@contextlib.contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """Keep a backend's per-trial INFO lines out of the output (sparkwright reports trials itself)."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)
