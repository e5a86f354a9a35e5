"""The course's KerasTuner tuners: the four kinds, their budgets, and :func:`make_tuner`.

Every tuner is a KerasTuner class with the :class:`CourseTuner` mixin: it is seeded, saves to a
project folder (:mod:`helpers.tuning.project`), knows its epoch budget, and records who ran each
trial and which trials failed, so :func:`helpers.tuning.searching.search` can fail loudly.

Resuming: building the same tuner again with ``overwrite=False`` (the default) reloads the folder.
Finished trials are kept and the search continues (a trial that was running when the process died
is run again); a larger ``max_trials`` extends a finished search. A folder that holds a different
search is refused with a clear error instead of being silently mixed.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import os
import shutil
from pathlib import Path

import keras_tuner as kt
import pandas as pd

from helpers import _validate, config
from helpers._internals import drop_stale_retries
from helpers.tuning import project
from helpers.tuning.hypermodel import CNNHyperModel
from helpers.tuning.roles import is_worker
from helpers.tuning.space import grid_size

__all__ = [
    "TUNER_KINDS",
    "TuningError",
    "Budget",
    "BUDGETS",
    "default_budget",
    "hyperband_schedule",
    "epoch_budget",
    "CourseTuner",
    "RandomSearch",
    "Hyperband",
    "BayesianOptimization",
    "GridSearch",
    "require_tensorboard",
    "make_tuner",
]

TUNER_KINDS = ("random", "hyperband", "bayesian", "grid")


class TuningError(RuntimeError):
    """A search could not do its job (a trial failed, or nothing could run); the message says why."""


def _check_kind(kind) -> str:
    if kind not in TUNER_KINDS:
        raise ValueError(f"Unknown tuner kind {kind!r}. Choose one of: {', '.join(TUNER_KINDS)}.")
    return kind


# ----------------------------------------------------------------------------------------------
# Budgets.


@dataclasses.dataclass(frozen=True)
class Budget:
    """How much a search may train: trials (ignored by Hyperband) x epochs per trial."""

    max_trials: int
    max_epochs: int


#: Per-profile defaults for :func:`make_tuner`: seconds in ``smoke``, a few minutes on 2 cores in ``full``.
BUDGETS = {"smoke": Budget(max_trials=2, max_epochs=2), "full": Budget(max_trials=8, max_epochs=6)}


def default_budget() -> Budget:
    """The budget of the active profile (``COURSE_PROFILE``)."""
    return BUDGETS[config.profile().name]


def hyperband_schedule(max_epochs: int, factor: int = 3) -> pd.DataFrame:
    """One Hyperband iteration, as KerasTuner runs it: per bracket and round, how many trials train
    how many *new* epochs (a promoted trial continues from its checkpoint)."""
    if not _validate.is_int(max_epochs) or max_epochs < 1 or not _validate.is_int(factor) or factor < 2:
        raise ValueError(f"max_epochs must be >= 1 and factor >= 2. Received: {max_epochs!r}, {factor!r}")
    brackets, e = 0, float(max_epochs)
    while e >= 1:
        e /= factor
        brackets += 1
    end0 = math.ceil(1 + math.log(max_epochs, factor))
    rows = []
    for b in range(brackets - 1, -1, -1):
        for r in range(b + 1):
            size = math.ceil(end0 / (b + 1) * factor ** (b - r))
            epochs = math.ceil(max_epochs / factor ** (b - r))
            before = math.ceil(max_epochs / factor ** (b - r + 1)) if r else 0
            rows.append(
                {
                    "bracket": b,
                    "round": r,
                    "trials": size,
                    "epochs": epochs,
                    "new_epochs_per_trial": epochs - before,
                    "new_epochs": size * (epochs - before),
                }
            )
    return pd.DataFrame(rows)


def epoch_budget(kind: str, *, max_trials: int | None = None, max_epochs: int, factor: int = 3) -> int:
    """The most epochs a search can train (early stopping can only lower it)."""
    _check_kind(kind)
    if kind == "hyperband":
        return int(hyperband_schedule(max_epochs, factor)["new_epochs"].sum())
    return _validate.positive_int(max_trials, "max_trials") * int(max_epochs)


# ----------------------------------------------------------------------------------------------
# The tuner classes.


class CourseTuner:
    """Mixin for KerasTuner's tuners: the course's budget and bookkeeping, set when the tuner is made.

    Args:
        max_epochs: epochs per trial at most (what :func:`~helpers.tuning.searching.search` trains
            by default; Hyperband's oracle schedules its rounds from it).
        factor: Hyperband's reduction factor (kept for every kind, so a tuner describes its budget).
        resumed_trials: trial folders the project held before (0 for a new search). When resuming
            outside a distributed worker, retries of trials that already finished are dropped.
        **kwargs: the KerasTuner class's own arguments.

    Attributes:
        course_trials_run: ids of the trials this process ran, in order.
        course_failures: ``(trial id, error message)`` of the trials that failed here.
    """

    kind = "?"
    _oracle_takes_epochs = False  # Hyperband's oracle needs max_epochs and factor itself

    def __init__(self, hypermodel=None, *, max_epochs: int, factor: int = 3, resumed_trials: int = 0, **kwargs):
        self.max_epochs = _validate.positive_int(max_epochs, "max_epochs")
        self.factor = _validate.int_at_least(factor, "factor", 2)
        self.resumed_trials = _validate.non_negative_int(resumed_trials, "resumed_trials")
        self.course_failures: list[tuple[str, str]] = []
        self.course_trials_run: list[str] = []
        if self._oracle_takes_epochs:
            kwargs.update(max_epochs=self.max_epochs, factor=self.factor)
        super().__init__(hypermodel=hypermodel, **kwargs)
        if self.resumed_trials and not is_worker():
            drop_stale_retries(self.oracle)

    def on_trial_end(self, trial):
        failed = trial.status in (kt.engine.trial.TrialStatus.INVALID, kt.engine.trial.TrialStatus.FAILED)
        if failed:
            self.course_failures.append((trial.trial_id, trial.message or "(no message)"))
        self.course_trials_run.append(trial.trial_id)
        record = {"tuner_id": self.tuner_id, "status": "FAILED" if failed else trial.status}
        project.write_trial_record(self.get_trial_dir(trial.trial_id), record)
        super().on_trial_end(trial)


class RandomSearch(CourseTuner, kt.RandomSearch):
    kind = "random"


class Hyperband(CourseTuner, kt.Hyperband):
    kind = "hyperband"
    _oracle_takes_epochs = True


class BayesianOptimization(CourseTuner, kt.BayesianOptimization):
    kind = "bayesian"


class GridSearch(CourseTuner, kt.GridSearch):
    kind = "grid"


_CLASSES = {cls.kind: cls for cls in (RandomSearch, Hyperband, BayesianOptimization, GridSearch)}


def require_tensorboard() -> None:
    """KerasTuner imports TensorBoard's hparams plugin in every trial on the TF backend: without it
    every trial fails, yet ``search()`` returns. Fail before the search instead."""
    if importlib.util.find_spec("tensorboard") is None:
        raise ImportError(
            "KerasTuner needs the `tensorboard` package on the TensorFlow backend (every trial would fail "
            "with ModuleNotFoundError). Install it: pip install 'tensorboard>=2.21,<2.22' (it is in the "
            "course's pyproject.toml; `make setup` installs it)."
        )


def make_tuner(
    kind: str,
    hypermodel: CNNHyperModel,
    *,
    project_name: str,
    directory: str | os.PathLike | None = None,
    max_trials: int | None = None,
    max_epochs: int | None = None,
    factor: int = 3,
    num_initial_points: int | None = None,
    seed: int = config.DEFAULT_SEED,
    overwrite: bool = False,
    distribution_strategy=None,
    max_consecutive_failed_trials: int = 3,
) -> CourseTuner:
    """A KerasTuner tuner for ``hypermodel``, seeded, saving to ``<directory>/<project_name>``.

    Args:
        kind: ``"random"``, ``"hyperband"``, ``"bayesian"`` or ``"grid"`` (a small discrete space).
        project_name: folder name of this search (letters, digits, ``_.-``).
        directory: parent folder (default ``build/tuner``, ignored by git).
        max_trials: trials to run (default: the profile's :data:`BUDGETS`; for ``grid`` the grid's
            size). Hyperband does not take it: ``max_epochs`` and ``factor`` set its trials.
        max_epochs: epochs per trial at most (default: the profile's budget); early stopping ends a
            trial sooner when the objective stops improving.
        factor: Hyperband's reduction factor (default 3): each round keeps 1/factor of the trials.
        num_initial_points: Bayesian optimization's random start (default ``max(2, max_trials // 3)``).
        seed: seeds the oracle (non-zero: KerasTuner treats 0 as "pick a random seed").
        overwrite: delete an existing project folder first (default False: resume it).
        distribution_strategy: e.g. ``tf.distribute.MirroredStrategy()``: every trial trains on all
            of this process's GPUs.
        max_consecutive_failed_trials: KerasTuner stops after this many failures in a row (default 3).
    """
    _check_kind(kind)
    if not isinstance(hypermodel, CNNHyperModel):
        raise TypeError(f"hypermodel must be a tuning.CNNHyperModel. Received: {type(hypermodel).__name__}")
    project.check_project_name(project_name)
    if not _validate.is_int(seed) or seed < 1:
        raise ValueError(f"seed must be a positive integer (KerasTuner treats 0 as 'random'). Received: seed={seed!r}")
    budget = default_budget()
    if kind == "hyperband" and max_trials is not None:
        raise ValueError("Hyperband sets its number of trials from max_epochs and factor: do not pass max_trials.")
    if kind == "grid":  # also checks that the space is discrete
        size = grid_size(hypermodel.space)
        max_trials = size if max_trials is None else max_trials
    max_trials = _validate.positive_int(budget.max_trials if max_trials is None else max_trials, "max_trials")
    max_epochs = _validate.positive_int(budget.max_epochs if max_epochs is None else max_epochs, "max_epochs")
    require_tensorboard()

    directory = Path(directory) if directory is not None else config.BUILD_DIR / "tuner"
    project_dir = directory / project_name
    fingerprint = {
        "kind": kind,
        **hypermodel.get_config(),
        "oracle_seed": int(seed),
        **({"max_epochs": max_epochs, "factor": int(factor)} if kind == "hyperband" else {}),
    }
    worker = is_worker()
    if overwrite and not worker and project_dir.exists():
        shutil.rmtree(project_dir)
    if worker:  # the chief owns the folder: a worker only checks it, and resumes nothing itself
        resumed = 0
        if project.read_fingerprint(project_dir) is not None:
            project.check_project(project_dir, fingerprint)
    else:
        resumed = project.check_project(project_dir, fingerprint)
        project.write_fingerprint(project_dir, fingerprint)

    common = dict(
        hypermodel=hypermodel, objective=kt.Objective(hypermodel.objective, hypermodel.direction), seed=int(seed),
        directory=str(directory), project_name=project_name, overwrite=False,
        distribution_strategy=distribution_strategy, max_consecutive_failed_trials=max_consecutive_failed_trials,
        max_epochs=max_epochs, factor=factor, resumed_trials=resumed,
    )  # fmt: skip
    if kind == "hyperband":
        return Hyperband(hyperband_iterations=1, **common)
    if kind == "bayesian":
        points = max(2, max_trials // 3) if num_initial_points is None else num_initial_points
        return BayesianOptimization(max_trials=max_trials, num_initial_points=int(points), **common)
    return _CLASSES[kind](max_trials=max_trials, **common)
