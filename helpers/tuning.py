"""Hyperparameter search with KerasTuner for the course CNN (introduced in ``09_hyperparameter_search``).

Four pieces, each usable alone:

* :class:`CNNHyperModel` — a ``keras_tuner.HyperModel`` whose every hyperparameter is an argument
  of :func:`helpers.models.simple_cnn`, :func:`helpers.training.compile_classifier` or ``fit``
  (no model code is duplicated here). The search space is a plain dict (see below).
* :func:`make_tuner` — ``random``, ``hyperband``, ``bayesian`` or ``grid`` with a seeded oracle, a
  project folder under ``build/tuner`` (git-ignored), early stopping in every trial and a budget
  per profile (:data:`BUDGETS`).
* :func:`search` — runs the search quietly on a :class:`helpers.data.Dataset` (training split to fit,
  validation split to score; the test split is never touched) and fails loudly, with the trial's
  error, if a trial failed. :func:`results_table` turns a search into a tidy ``DataFrame``.
* :func:`build_model`, :func:`fit_train_val` and :func:`rerun_with_seeds` — retrain the winner.

The search space
----------------
Documented in one place, :data:`DIMENSIONS` (``describe_space()`` shows it as a table). A space is a
dict from a dimension's name to

* a list of values, e.g. ``"filters": [8, 16, 32]`` — a choice (``[True, False]`` a boolean);
* ``Range(low, high, step=None, log=False)`` — a numeric range, e.g.
  ``"learning_rate": Range(1e-4, 1e-2, log=True)`` (sampled uniformly in log space);
* a single value, e.g. ``"head": "gap"`` — fixed, not searched.

Dimensions left out keep their default. ``blocks`` and ``filters`` together give
``simple_cnn(filters=(f, 2f, 4f, ...))`` (``blocks`` entries, doubling per block, the course's
convention); ``optimizer`` and ``learning_rate`` go to ``compile_classifier``; ``batch_size`` to
``fit``; every other name is the ``simple_cnn`` argument of the same name.

Resuming
--------
KerasTuner saves every trial to ``<directory>/<project_name>``. Building the same tuner again with
``overwrite=False`` (the default here) reloads it: finished trials are kept and the search continues
(a trial that was running when the process died is run again). A larger ``max_trials`` extends a
finished search. A folder that holds a different search (another tuner kind, space, objective or
seed) is refused with a clear error instead of being silently mixed.

Distributed search
------------------
KerasTuner's own chief/worker mode: one *chief* process runs the oracle (it decides which
hyperparameters to try next) behind a gRPC server; any number of *workers* ask it for trials, train
them, and report back. Each process runs the *same* script; three environment variables select
the role:

* ``KERASTUNER_TUNER_ID``: ``chief`` for the oracle, a unique name (``tuner0``, ``tuner1``...) per worker;
* ``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT``: where the chief listens.

:mod:`helpers.distributed_search` (``make tune-distributed``) starts a chief and N workers on
``127.0.0.1``. Across machines it is the same: start the script on one machine with
``KERASTUNER_TUNER_ID=chief`` and ``KERASTUNER_ORACLE_IP`` set to an address the others can reach
(``0.0.0.0`` to listen on every interface), then on every other machine with its own tuner id and
the chief's IP and port. Give every process the same ``directory`` on a shared file system (NFS, a
mounted bucket): the chief writes the trial records there and Hyperband's workers load the
checkpoints of earlier rounds from it. The port must be open between the machines and the traffic is
unencrypted: keep it inside a private network.

Each worker can itself use several GPUs for one trial: pass
``distribution_strategy=tf.distribute.MirroredStrategy()`` to :func:`make_tuner`. KerasTuner builds
and trains every model of that worker inside the strategy's scope, so one trial is data-parallel
over the worker's GPUs (the batch size is the *global* batch, split across them; scale the batch
and learning rate together). Workers x GPUs-per-worker then multiply: e.g. 4 machines with 2 GPUs
each run 4 trials at a time, each on 2 GPUs.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import json
import math
import os
import re
import shutil
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd

from helpers import config, models, training
from helpers.data import Dataset

TUNER_KINDS = ("random", "hyperband", "bayesian", "grid")
FINGERPRINT_FILE = "course_search.json"
TRIAL_RECORD_FILE = "course_trial.json"
_PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class TuningError(RuntimeError):
    """A search could not do its job (a trial failed, or nothing could run); the message says why."""


# ----------------------------------------------------------------------------------------------
# The search space.


@dataclasses.dataclass(frozen=True)
class Range:
    """A numeric range ``[low, high]`` for one hyperparameter.

    Args:
        low, high: the bounds (inclusive). Two integers give an integer range.
        step: spacing of the values (default None: continuous floats, every integer for ints).
            With ``log=True`` the step multiplies, e.g. ``Range(8, 64, step=2, log=True)`` is
            8, 16, 32, 64.
        log: sample uniformly in log space (default False): right for learning rates and
            regularization strengths, whose effect scales with the order of magnitude.
    """

    low: float
    high: float
    step: float | None = None
    log: bool = False

    def __post_init__(self):
        for name in ("low", "high") + (("step",) if self.step is not None else ()):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float, np.integer, np.floating))
                or not math.isfinite(value)
            ):
                raise ValueError(f"Range {name} must be a finite number. Received: {name}={value!r}")
        if not self.low < self.high:
            raise ValueError(
                f"Range needs low < high. Received: Range({self.low!r}, {self.high!r}). "
                "For a single value, write the value itself (a fixed hyperparameter)."
            )
        if self.log and self.low <= 0:
            raise ValueError(f"A log-scale Range needs low > 0. Received: low={self.low!r}")
        if self.step is not None:
            if self.log and self.step <= 1:
                raise ValueError(f"With log=True, step multiplies and must be > 1. Received: step={self.step!r}")
            if not self.log and not 0 < self.step <= self.high - self.low:
                raise ValueError(
                    f"step must be in (0, high - low]. Received: step={self.step!r} for "
                    f"Range({self.low!r}, {self.high!r})"
                )

    @property
    def is_int(self) -> bool:
        ints = (int, np.integer)
        return (
            isinstance(self.low, ints)
            and isinstance(self.high, ints)
            and (self.step is None or isinstance(self.step, ints))
        )

    def grid_values(self) -> list | None:
        """The values a grid search tries, or None for a continuous range."""
        if self.step is None and not self.is_int:
            return None
        if self.step is None and self.log:
            return None  # KerasTuner would pick 10 values itself: not exhaustive
        step = self.step if self.step is not None else 1
        values, v = [], self.low
        while v <= self.high * (1 + 1e-9):
            values.append(v)
            v = v * step if self.log else v + step
        return values

    def __repr__(self) -> str:
        extra = (f", step={self.step!r}" if self.step is not None else "") + (", log=True" if self.log else "")
        return f"Range({self.low!r}, {self.high!r}{extra})"


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


@dataclasses.dataclass(frozen=True)
class Dimension:
    """One hyperparameter the course CNN can search: its default and where it goes."""

    name: str
    kind: type  # int, float, bool or str
    default: Any
    suggested: Any  # a sensible search range (list or Range)
    maps_to: str
    rule: str  # the allowed values, in words
    valid: Callable[[Any], bool]

    def check_value(self, value, where: str) -> Any:
        """Return ``value`` as this dimension's type, or raise a ValueError that names the rule."""
        ok_type = {
            int: _is_int,
            float: _is_number,
            bool: lambda v: isinstance(v, (bool, np.bool_)),
            str: lambda v: isinstance(v, str),
        }[self.kind](value)
        if not ok_type or not self.valid(value):
            raise ValueError(f"{self.name} must be {self.rule}. Received: {where}={value!r}")
        return self.kind(value)


DIMENSIONS: tuple[Dimension, ...] = (
    Dimension(
        "blocks",
        int,
        2,
        [1, 2, 3],
        "simple_cnn: number of conv blocks = len(filters)",
        "an integer >= 1",
        lambda v: v >= 1,
    ),
    Dimension(
        "filters",
        int,
        32,
        [8, 16, 32],
        "simple_cnn(filters=(f, 2f, ...)): first block's filters, x2 per block",
        "an integer >= 1",
        lambda v: v >= 1,
    ),
    Dimension(
        "kernel_size",
        int,
        3,
        [3, 5],
        "simple_cnn(kernel_size=...)",
        "a positive odd integer",
        lambda v: v >= 1 and v % 2 == 1,
    ),
    Dimension(
        "convs_per_block",
        int,
        2,
        [1, 2],
        "simple_cnn(convs_per_block=...)",
        "an integer >= 1",
        lambda v: v >= 1,
    ),
    Dimension("batch_norm", bool, True, [True, False], "simple_cnn(batch_norm=...)", "True or False", lambda v: True),
    Dimension(
        "dropout",
        float,
        0.3,
        Range(0.0, 0.5, step=0.1),
        "simple_cnn(dropout=...)",
        "in [0, 1)",
        lambda v: 0 <= v < 1,
    ),
    Dimension(
        "spatial_dropout",
        float,
        0.0,
        Range(0.0, 0.3, step=0.1),
        "simple_cnn(spatial_dropout=...)",
        "in [0, 1)",
        lambda v: 0 <= v < 1,
    ),
    Dimension("l2", float, 0.0, Range(1e-6, 1e-3, log=True), "simple_cnn(l2=...)", ">= 0", lambda v: v >= 0),
    Dimension("l1", float, 0.0, Range(1e-7, 1e-4, log=True), "simple_cnn(l1=...)", ">= 0", lambda v: v >= 0),
    Dimension(
        "head",
        str,
        "gap",
        list(models.HEADS),
        "simple_cnn(head=...)",
        f"one of {list(models.HEADS)}",
        lambda v: v in models.HEADS,
    ),
    Dimension(
        "dense_units",
        int,
        128,
        [0, 64, 128],
        "simple_cnn(dense_units=...)",
        "an integer >= 0",
        lambda v: v >= 0,
    ),
    Dimension(
        "optimizer",
        str,
        "adam",
        ["adam", "momentum", "rmsprop"],
        "compile_classifier(optimizer=...)",
        f"one of {list(training.OPTIMIZERS)}",
        lambda v: v in training.OPTIMIZERS,
    ),
    Dimension(
        "learning_rate",
        float,
        1e-3,
        Range(1e-4, 1e-2, log=True),
        "compile_classifier(learning_rate=...)",
        "in (0, 1]",
        lambda v: 0 < v <= 1,
    ),
    Dimension("batch_size", int, 64, [32, 64, 128], "fit(batch_size=...)", "an integer >= 1", lambda v: v >= 1),
)
DIMENSION_BY_NAME = {d.name: d for d in DIMENSIONS}
DEFAULTS: dict[str, Any] = {d.name: d.default for d in DIMENSIONS}

#: What to search first (notebooks 03-05): the learning rate, then capacity, BatchNorm, head, dropout.
DEFAULT_SPACE: dict[str, Any] = {
    "learning_rate": Range(1e-4, 1e-2, log=True),
    "filters": [8, 16, 32],
    "blocks": [1, 2],
    "batch_norm": [True, False],
    "head": ["flatten", "gap"],
    "dropout": Range(0.0, 0.5, step=0.1),
}


def describe_space(space: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """The dimensions as a table: default, suggested range, what it maps to (and ``space``'s choice)."""
    rows = []
    for d in DIMENSIONS:
        row = {
            "hyperparameter": d.name,
            "default": d.default,
            "suggested": repr(d.suggested),
            "maps to": d.maps_to,
        }
        if space is not None:
            row["this search"] = repr(space[d.name]) if d.name in space else f"fixed at {d.default!r}"
        rows.append(row)
    return pd.DataFrame(rows).set_index("hyperparameter")


def validate_space(space: Mapping[str, Any], input_shape: Sequence[int] = (28, 28, 1)) -> dict[str, Any]:
    """Check a search space and return it normalized (types coerced, one-value lists made fixed).

    Raises ``ValueError`` for an unknown name (with the closest known one), an empty or impossible
    choice, a range on a non-numeric dimension, values a ``simple_cnn`` argument refuses, a space
    with nothing to search, and contradictions with the images (more pooling blocks than the image
    can take).
    """
    if not isinstance(space, Mapping):
        raise TypeError(f"space must be a dict of hyperparameter name -> values. Received: {type(space).__name__}")
    out: dict[str, Any] = {}
    for name, spec in space.items():
        if name not in DIMENSION_BY_NAME:
            close = difflib.get_close_matches(str(name), DIMENSION_BY_NAME, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"Unknown hyperparameter {name!r}.{hint} Known: {', '.join(DIMENSION_BY_NAME)}.")
        dim = DIMENSION_BY_NAME[name]
        if isinstance(spec, tuple):
            raise ValueError(
                f"{name}: a tuple is ambiguous. Write a list for a choice, e.g. [8, 16, 32], or "
                f"tuning.Range(low, high) for a range. Received: {name}={spec!r}"
            )
        if isinstance(spec, Range):
            if dim.kind in (bool, str):
                raise ValueError(f"{name} takes {dim.rule}, not a numeric Range. Use a list of values.")
            if dim.kind is int and not spec.is_int:
                raise ValueError(f"{name} takes integers: give Range integer bounds. Received: {name}={spec!r}")
            dim.check_value(spec.low, f"{name} low")
            dim.check_value(spec.high, f"{name} high")
            out[name] = spec
        elif isinstance(spec, list):
            if not spec:
                raise ValueError(f"{name}: the list of values is empty, so there is nothing to choose from.")
            values = [dim.check_value(v, name) for v in spec]
            if len(set(values)) != len(values):
                raise ValueError(f"{name} lists the same value twice: {spec!r}. List each value once.")
            out[name] = values if len(values) > 1 else values[0]
        else:
            out[name] = dim.check_value(spec, name)
    if not any(isinstance(v, (list, Range)) for v in out.values()):
        raise ValueError(
            "The search space is empty: no hyperparameter has more than one value to try "
            f"(received {dict(space)!r}). Give at least one a list or a tuning.Range, e.g. "
            "{'learning_rate': tuning.Range(1e-4, 1e-2, log=True)}."
        )
    shape = tuple(input_shape)
    most_blocks = _largest(out.get("blocks", DEFAULTS["blocks"]))
    if 2**most_blocks > min(shape[:2]):
        raise ValueError(
            f"blocks={out.get('blocks', DEFAULTS['blocks'])!r} contradicts the images: {most_blocks} pooling blocks "
            f"halve a {shape[0]}x{shape[1]} image {most_blocks} times, below 1 pixel. "
            f"Use at most {int(math.log2(min(shape[:2])))} blocks."
        )
    return out


def _largest(spec) -> Any:
    if isinstance(spec, Range):
        return spec.high
    if isinstance(spec, list):
        return max(spec)
    return spec


def grid_size(space: Mapping[str, Any]) -> int:
    """How many combinations a grid search over ``space`` has; ValueError for continuous ranges."""
    size = 1
    for name, spec in space.items():
        if isinstance(spec, Range):
            values = spec.grid_values()
            if values is None:
                raise ValueError(
                    f"A grid search needs discrete values, but {name}={spec!r} is continuous. Give it a "
                    f"step, e.g. Range({spec.low!r}, {spec.high!r}, step=...), or a list of values."
                )
            size *= len(values)
        elif isinstance(spec, list):
            size *= len(spec)
    return size


def _space_to_json(space: Mapping[str, Any]) -> dict:
    return {k: (dataclasses.asdict(v) | {"type": "Range"}) if isinstance(v, Range) else v for k, v in space.items()}


def model_arguments(values: Mapping[str, Any]) -> tuple[dict, dict, int]:
    """Split one configuration into ``(simple_cnn kwargs, compile_classifier kwargs, batch_size)``.

    ``values`` may omit dimensions (their defaults are used); unknown names are an error.
    """
    unknown = [k for k in values if k not in DIMENSION_BY_NAME and not str(k).startswith("tuner/")]
    if unknown:
        raise ValueError(f"Unknown hyperparameter(s) {unknown}. Known: {', '.join(DIMENSION_BY_NAME)}.")
    v = {**DEFAULTS, **{k: val for k, val in values.items() if k in DIMENSION_BY_NAME}}
    cnn = {
        "filters": tuple(int(v["filters"]) * 2**i for i in range(int(v["blocks"]))),
        **{
            k: v[k]
            for k in (
                "kernel_size",
                "convs_per_block",
                "batch_norm",
                "dropout",
                "spatial_dropout",
                "l2",
                "l1",
                "head",
                "dense_units",
            )
        },
    }
    cnn = {k: (val.item() if isinstance(val, np.generic) else val) for k, val in cnn.items()}
    compile_kwargs = {"optimizer": str(v["optimizer"]), "learning_rate": float(v["learning_rate"])}
    return cnn, compile_kwargs, int(v["batch_size"])


def build_model(
    values: Mapping[str, Any],
    input_shape=(28, 28, 1),
    num_classes: int = 10,
    *,
    seed: int | None = config.DEFAULT_SEED,
    name: str = "tuned_cnn",
) -> keras.Model:
    """Build and compile the course CNN for one configuration (``seed=None`` leaves seeding alone)."""
    cnn_kwargs, compile_kwargs, _ = model_arguments(values)
    if seed is not None:
        config.seed_everything(seed)
    model = models.simple_cnn(tuple(input_shape), num_classes, name=name, **cnn_kwargs)
    return training.compile_classifier(model, **compile_kwargs)


# ----------------------------------------------------------------------------------------------
# The hypermodel.


def _direction(objective: str) -> str:
    return "min" if "loss" in objective or "error" in objective else "max"


class CNNHyperModel(kt.HyperModel):
    """The course CNN as a KerasTuner ``HyperModel``: declare the space, build, fit one trial.

    Args:
        input_shape, num_classes: the images and classes (e.g. ``ds.input_shape, ds.num_classes``).
        space: the search space (default :data:`DEFAULT_SPACE`); see the module docstring.
        objective: the validation metric to optimize (default ``"val_accuracy"``; ``"val_loss"`` is
            minimized).
        patience: epochs without improvement of ``objective`` before a trial stops early (default 2).
        seed: every trial starts from this seed (default 42), so trials differ only in their
            hyperparameters.
    """

    def __init__(
        self,
        input_shape=(28, 28, 1),
        num_classes: int = 10,
        space: Mapping[str, Any] | None = None,
        *,
        objective: str = "val_accuracy",
        patience: int = 2,
        seed: int = config.DEFAULT_SEED,
        name: str = "course_cnn",
    ):
        super().__init__(name=name, tunable=True)
        shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
        if shape is None or len(shape) != 3 or not all(_is_int(d) and d > 0 for d in shape):
            raise ValueError(f"input_shape must be (height, width, channels). Received: input_shape={input_shape!r}")
        if not _is_int(num_classes) or num_classes < 2:
            raise ValueError(f"num_classes must be an integer >= 2. Received: num_classes={num_classes!r}")
        if not isinstance(objective, str) or not objective.startswith("val_"):
            raise ValueError(
                f"objective must be a validation metric such as 'val_accuracy' or 'val_loss' (scoring on "
                f"the training data rewards overfitting). Received: objective={objective!r}"
            )
        if not _is_int(patience) or patience < 1:
            raise ValueError(f"patience must be an integer >= 1. Received: patience={patience!r}")
        if not _is_int(seed) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer. Received: seed={seed!r}")
        self.input_shape = tuple(int(d) for d in shape)
        self.num_classes = int(num_classes)
        self.space = validate_space(DEFAULT_SPACE if space is None else space, self.input_shape)
        self.searched = [d.name for d in DIMENSIONS if isinstance(self.space.get(d.name), (list, Range))]
        self.fixed = {d.name: self.space.get(d.name, d.default) for d in DIMENSIONS if d.name not in self.searched}
        self.objective = objective
        self.direction = _direction(objective)
        self.patience = int(patience)
        self.seed = int(seed)

    def declare(self, hp: kt.HyperParameters) -> dict[str, Any]:
        """Declare the searched dimensions on ``hp`` and return the full configuration it selects."""
        values = dict(self.fixed)
        for name in self.searched:
            spec = self.space[name]
            if isinstance(spec, Range):
                sampling = "log" if spec.log else "linear"
                if spec.is_int:
                    values[name] = hp.Int(
                        name,
                        int(spec.low),
                        int(spec.high),
                        step=None if spec.step is None else int(spec.step),
                        sampling=sampling,
                    )
                else:
                    values[name] = hp.Float(name, float(spec.low), float(spec.high), step=spec.step, sampling=sampling)
            elif all(isinstance(v, bool) for v in spec) and set(spec) == {True, False}:
                values[name] = hp.Boolean(name, default=spec[0])
            else:
                values[name] = hp.Choice(name, spec)
        return values

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        return build_model(self.declare(hp), self.input_shape, self.num_classes, seed=self.seed)

    def fit(self, hp: kt.HyperParameters, model: keras.Model, *args, **kwargs) -> dict[str, float]:
        _, _, batch_size = model_arguments({**self.fixed, **{n: hp.get(n) for n in self.searched}})
        kwargs.pop("batch_size", None)  # the configuration's batch size wins over search(..., batch_size=)
        return self.train(model, *args, batch_size=batch_size, **kwargs)

    def train(self, model: keras.Model, *args, batch_size: int, callbacks=(), **kwargs) -> dict[str, float]:
        """Fit one trial (with early stopping on the objective) and summarize it as metrics.

        Returns the objective's best value, the other metrics at that epoch, ``best_epoch``,
        ``epochs_trained`` and ``train_seconds`` (what :func:`results_table` shows).
        """
        callbacks = list(callbacks or [])
        if not any(isinstance(c, keras.callbacks.EarlyStopping) for c in callbacks):
            callbacks.append(
                keras.callbacks.EarlyStopping(monitor=self.objective, mode=self.direction, patience=self.patience)
            )
        kwargs.setdefault("verbose", 0)
        x = kwargs.get("x", args[0] if args else None)
        if isinstance(x, np.ndarray):  # a tf.data pipeline carries its own batch size
            kwargs["batch_size"] = batch_size
        start = time.perf_counter()
        history = model.fit(*args, callbacks=callbacks, **kwargs)
        seconds = time.perf_counter() - start
        h = history.history
        if self.objective not in h:
            raise ValueError(
                f"The objective {self.objective!r} is not among the logged metrics ({', '.join(h)}). "
                "Pass validation data to the search, or choose an objective the model reports."
            )
        scores = np.asarray(h[self.objective], dtype=float)
        if np.all(np.isnan(scores)):
            best = 0
        else:
            best = int(np.nanargmax(scores) if self.direction == "max" else np.nanargmin(scores))
        out = {k: float(v[best]) for k, v in h.items() if len(v) == len(scores)}
        out.update(
            best_epoch=float(kwargs.get("initial_epoch", 0) + best + 1),
            epochs_trained=float(len(scores)),
            train_seconds=float(seconds),
        )
        return out

    def get_config(self) -> dict:
        """What identifies this search (stored with the project to refuse a different one)."""
        return {
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "space": _space_to_json(self.space),
            "objective": self.objective,
            "seed": self.seed,
        }


# ----------------------------------------------------------------------------------------------
# Tuners.


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
    if not _is_int(max_epochs) or max_epochs < 1 or not _is_int(factor) or factor < 2:
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
    if not _is_int(max_trials) or max_trials < 1:
        raise ValueError(f"max_trials must be a positive integer. Received: max_trials={max_trials!r}")
    return int(max_trials) * int(max_epochs)


def _check_kind(kind) -> str:
    if kind not in TUNER_KINDS:
        raise ValueError(f"Unknown tuner kind {kind!r}. Choose one of: {', '.join(TUNER_KINDS)}.")
    return kind


class _CourseTuner:
    """Mixin for KerasTuner tuners: records who ran each trial and which trials failed here."""

    kind = "?"

    def on_trial_end(self, trial):
        failed = trial.status in (kt.engine.trial.TrialStatus.INVALID, kt.engine.trial.TrialStatus.FAILED)
        if failed:
            self.course_failures.append((trial.trial_id, trial.message or "(no message)"))
        self.course_trials_run.append(trial.trial_id)
        record = {"tuner_id": self.tuner_id, "status": "FAILED" if failed else trial.status}
        Path(self.get_trial_dir(trial.trial_id), TRIAL_RECORD_FILE).write_text(json.dumps(record))
        super().on_trial_end(trial)


class RandomSearch(_CourseTuner, kt.RandomSearch):
    kind = "random"


class Hyperband(_CourseTuner, kt.Hyperband):
    kind = "hyperband"


class BayesianOptimization(_CourseTuner, kt.BayesianOptimization):
    kind = "bayesian"


class GridSearch(_CourseTuner, kt.GridSearch):
    kind = "grid"


_CLASSES = {
    "random": RandomSearch,
    "hyperband": Hyperband,
    "bayesian": BayesianOptimization,
    "grid": GridSearch,
}


def is_worker() -> bool:
    """True in a distributed worker process (``KERASTUNER_ORACLE_IP`` set, tuner id not ``chief``)."""
    return "KERASTUNER_ORACLE_IP" in os.environ and "chief" not in os.environ.get("KERASTUNER_TUNER_ID", "")


def is_chief() -> bool:
    """True in the distributed chief (oracle) process."""
    return "KERASTUNER_ORACLE_IP" in os.environ and "chief" in os.environ.get("KERASTUNER_TUNER_ID", "")


def require_tensorboard() -> None:
    """KerasTuner imports TensorBoard's hparams plugin in every trial on the TF backend: without it
    every trial fails, yet ``search()`` returns. Fail before the search instead."""
    if importlib.util.find_spec("tensorboard") is None:
        raise ImportError(
            "KerasTuner needs the `tensorboard` package on the TensorFlow backend (every trial would fail "
            "with ModuleNotFoundError). Install it: pip install 'tensorboard>=2.21,<2.22' (it is in the "
            "course's pyproject.toml; `make setup` installs it)."
        )


def _check_project(project_dir: Path, fingerprint: dict) -> int:
    """Refuse a folder that holds a different search; return how many trial folders it has."""
    if not project_dir.exists():
        return 0
    if not project_dir.is_dir():
        raise ValueError(f"{project_dir} is a file, not a tuner project folder. Choose another project_name.")
    saved_file = project_dir / FINGERPRINT_FILE
    contents = [p.name for p in project_dir.iterdir()]
    if not saved_file.exists():
        if not contents:
            return 0
        raise ValueError(
            f"{project_dir} already holds files that are not a helpers.tuning search "
            f"({', '.join(sorted(contents)[:5])}{'...' if len(contents) > 5 else ''}). Choose another "
            "project_name, or pass overwrite=True to delete it and start over."
        )
    saved = json.loads(saved_file.read_text())
    current = json.loads(json.dumps(fingerprint))
    differ = sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
    if differ:
        detail = "; ".join(f"{k}: saved {saved.get(k)!r}, now {current.get(k)!r}" for k in differ)
        raise ValueError(
            f"{project_dir} holds a different search ({detail}). Resuming it with these settings would mix "
            "two searches. Choose another project_name, or pass overwrite=True to delete it and start over."
        )
    return sum(1 for name in contents if name.startswith("trial_"))


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
):
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
    if not isinstance(project_name, str) or not _PROJECT_NAME.match(project_name):
        raise ValueError(
            "project_name must be a folder name made of letters, digits, '_', '.' or '-'. "
            f"Received: project_name={project_name!r}"
        )
    if not _is_int(seed) or seed < 1:
        raise ValueError(f"seed must be a positive integer (KerasTuner treats 0 as 'random'). Received: seed={seed!r}")
    budget = default_budget()
    if kind == "hyperband" and max_trials is not None:
        raise ValueError("Hyperband sets its number of trials from max_epochs and factor: do not pass max_trials.")
    if kind == "grid":
        size = grid_size(hypermodel.space)
        max_trials = size if max_trials is None else max_trials
    max_trials = budget.max_trials if max_trials is None else max_trials
    max_epochs = budget.max_epochs if max_epochs is None else max_epochs
    for name, value in (("max_trials", max_trials), ("max_epochs", max_epochs)):
        if not _is_int(value) or value < 1:
            raise ValueError(f"{name} must be a positive integer. Received: {name}={value!r}")
    require_tensorboard()

    directory = Path(directory) if directory is not None else config.BUILD_DIR / "tuner"
    project_dir = directory / project_name
    fingerprint = {
        "kind": kind,
        **hypermodel.get_config(),
        "oracle_seed": int(seed),
        **({"max_epochs": int(max_epochs), "factor": int(factor)} if kind == "hyperband" else {}),
    }
    worker = is_worker()
    if overwrite and not worker and project_dir.exists():
        shutil.rmtree(project_dir)
    if worker:
        resumed = 0
        if (project_dir / FINGERPRINT_FILE).exists():
            _check_project(project_dir, fingerprint)
    else:
        resumed = _check_project(project_dir, fingerprint)
        config.ensure_dir(project_dir)
        (project_dir / FINGERPRINT_FILE).write_text(json.dumps(fingerprint, indent=1))

    common = dict(
        hypermodel=hypermodel,
        objective=kt.Objective(hypermodel.objective, hypermodel.direction),
        seed=int(seed),
        directory=str(directory),
        project_name=project_name,
        overwrite=False,
        distribution_strategy=distribution_strategy,
        max_consecutive_failed_trials=max_consecutive_failed_trials,
    )
    if kind == "hyperband":
        tuner = Hyperband(max_epochs=int(max_epochs), factor=int(factor), hyperband_iterations=1, **common)
    elif kind == "bayesian":
        points = max(2, max_trials // 3) if num_initial_points is None else num_initial_points
        tuner = BayesianOptimization(max_trials=int(max_trials), num_initial_points=int(points), **common)
    else:
        tuner = _CLASSES[kind](max_trials=int(max_trials), **common)
    if resumed and not worker:
        _drop_stale_retries(tuner.oracle)
    tuner.max_epochs = int(max_epochs)
    tuner.factor = int(factor)
    tuner.resumed_trials = resumed
    tuner.course_failures = []
    tuner.course_trials_run = []
    return tuner


def _drop_stale_retries(oracle) -> None:
    """KerasTuner saves ``oracle.json`` before it forgets a finished trial as "ongoing"; a distributed
    chief (or a process killed at that moment) leaves it so, and a reload would run that finished
    trial again. Keep only retries of trials that did not complete."""
    done = kt.engine.trial.TrialStatus.COMPLETED
    oracle._retry_queue = [t for t in oracle._retry_queue if t not in oracle.trials or oracle.trials[t].status != done]


# ----------------------------------------------------------------------------------------------
# Running a search and reading its results.


def _failure_message(failures: list[tuple[str, str]]) -> str:
    trial_id, message = failures[0]
    lines = [ln for ln in message.strip().splitlines() if ln.strip()]
    last = "\n".join(lines[-6:])
    return (
        f"{len(failures)} trial(s) failed (first: trial {trial_id}). KerasTuner's search() returns anyway, "
        f"so we stop here. The trial's error:\n{last}"
    )


def search(
    tuner,
    ds: Dataset | None,
    *,
    epochs: int | None = None,
    callbacks: Sequence = (),
    allow_failed_trials: bool = False,
) -> pd.DataFrame | None:
    """Run ``tuner``'s search on ``ds``: fit on the training split, score on the validation split.

    Quiet (``verbose=0``: KerasTuner's display clears the notebook output). Prints one summary line
    and returns :func:`results_table`. Raises :class:`TuningError` with the trial's error message if
    any trial failed (unless ``allow_failed_trials``). In a distributed chief, serves the oracle
    until the workers are done (``ds`` may be None there) and returns None.

    Args:
        epochs: epochs per trial (default the tuner's ``max_epochs``; Hyperband sets its own).
        callbacks: extra Keras callbacks for every trial (they must be deep-copyable).
    """
    if not isinstance(tuner, _CourseTuner):
        raise TypeError(f"Pass a tuner made by tuning.make_tuner. Received: {type(tuner).__name__}")
    hm: CNNHyperModel = tuner.hypermodel
    epochs = tuner.max_epochs if epochs is None else epochs
    if is_chief():
        tuner.search(verbose=0)
        tuner.oracle.save()  # KerasTuner's last save still lists the last trial as ongoing
        return None
    if not isinstance(ds, Dataset):
        raise TypeError(f"ds must be a helpers.data.Dataset (from data.load). Received: {type(ds).__name__}")
    if ds.input_shape != hm.input_shape or ds.num_classes != hm.num_classes:
        raise ValueError(
            f"The hypermodel was made for images {hm.input_shape} and {hm.num_classes} classes, but "
            f"{ds.name!r} has {ds.input_shape} and {ds.num_classes}. Build it with "
            "CNNHyperModel(ds.input_shape, ds.num_classes, ...)."
        )
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():  # the Gaussian process's fit warnings are noise in a notebook
            _ignore_convergence_warnings()
            tuner.search(
                ds.x_train,
                ds.y_train,
                validation_data=(ds.x_val, ds.y_val),
                epochs=int(epochs),
                callbacks=list(callbacks),
                verbose=0,
            )
    except RuntimeError as exc:
        if "consecutive failures" in str(exc):
            raise TuningError(f"The search stopped: {exc}") from exc
        raise
    if tuner.course_failures and not allow_failed_trials:
        raise TuningError(_failure_message(tuner.course_failures))
    if is_worker():
        return None
    results = results_table(tuner)
    done = results[results["status"] == "COMPLETED"]
    best = _best_row(results)
    kept = f", {tuner.resumed_trials} kept from before" if tuner.resumed_trials else ""
    verdict = (
        f"best {hm.objective} {best['score']:.4f} (trial {best['trial']})" if best is not None else "none completed"
    )
    print(
        f"{tuner.kind}: {len(tuner.course_trials_run)} trials run in {time.perf_counter() - start:.0f} s{kept}; "
        f"{len(done)} completed, {int(done['epochs'].sum())} epochs in all; {verdict}"
    )
    return results


def _ignore_convergence_warnings() -> None:
    try:
        from sklearn.exceptions import ConvergenceWarning
    except ImportError:  # scikit-learn is only needed by Bayesian optimization
        return
    warnings.filterwarnings("ignore", category=ConvergenceWarning)


def _best_row(results: pd.DataFrame):
    done = results.dropna(subset=["score"])
    if done.empty:
        return None
    idx = done["score"].idxmax() if results.attrs.get("direction", "max") == "max" else done["score"].idxmin()
    return done.loc[idx]


def _last_value(metric_config: dict) -> float:
    observations = metric_config.get("observations") or []
    if not observations:
        return float("nan")
    value = observations[-1]["value"]
    return float(value[0] if isinstance(value, list) else value)


def _trial_states(source) -> tuple[list[dict], dict, str]:
    """Trial states (dicts) and (fixed values, objective) from a tuner or a project folder."""
    if isinstance(source, _CourseTuner):
        if not hasattr(source.oracle, "trials"):
            raise ValueError("A distributed worker cannot list the trials; read the project folder instead.")
        states = [t.get_state() for t in source.oracle.trials.values()]
        project_dir = Path(source.project_dir)
    else:
        project_dir = Path(source)
        if not (project_dir / "oracle.json").exists():
            raise ValueError(f"{project_dir} is not a KerasTuner project folder (no oracle.json).")
        states = [json.loads(p.read_text()) for p in sorted(project_dir.glob("trial_*/trial.json"))]
    fixed, objective = {}, "val_accuracy"
    fp = project_dir / FINGERPRINT_FILE
    if fp.exists():
        saved = json.loads(fp.read_text())
        objective = saved.get("objective", objective)
        space = saved.get("space", {})
        fixed = {
            d.name: space.get(d.name, d.default) for d in DIMENSIONS if not isinstance(space.get(d.name), (list, dict))
        }
    for state in states:
        record = project_dir / f"trial_{state['trial_id']}" / TRIAL_RECORD_FILE
        state["_record"] = json.loads(record.read_text()) if record.exists() else {}
    return states, fixed, objective


def results_table(source) -> pd.DataFrame:
    """A tidy table of a search, one row per trial in the order they were created.

    ``source`` is a tuner or a project folder (``build/tuner/<project_name>``). Columns: ``trial``,
    one column per searched hyperparameter, ``score`` (the objective; NaN if the trial failed),
    ``best_epoch``, ``epochs`` (trained in that trial), ``seconds``, ``status``, ``run_by`` (the
    tuner id), and the running ``best_so_far``, ``cum_epochs``, ``cum_seconds``.
    ``df.attrs`` holds ``hyperparameters`` (the searched names), ``fixed`` values and ``objective``.
    """
    states, fixed, objective = _trial_states(source)
    direction = _direction(objective)
    hp_names: list[str] = []
    rows = []
    for state in sorted(states, key=lambda s: int(s["trial_id"]) if str(s["trial_id"]).isdigit() else 0):
        values = state["hyperparameters"]["values"]
        for name in values:
            if name in DIMENSION_BY_NAME and name not in hp_names:
                hp_names.append(name)
        metrics = state["metrics"]["metrics"]
        status = state.get("status")
        completed = status == "COMPLETED"
        rows.append(
            {
                "trial": int(state["trial_id"]) if str(state["trial_id"]).isdigit() else state["trial_id"],
                **{k: v for k, v in values.items() if k in DIMENSION_BY_NAME},
                "score": float(state["score"]) if completed and state.get("score") is not None else float("nan"),
                "best_epoch": _last_value(metrics.get("best_epoch", {})),
                "epochs": _last_value(metrics.get("epochs_trained", {})),
                "seconds": _last_value(metrics.get("train_seconds", {})),
                "status": status,
                "run_by": state["_record"].get("tuner_id"),
            }
        )
    hp_names = [d.name for d in DIMENSIONS if d.name in hp_names]
    columns = ["trial", *hp_names, "score", "best_epoch", "epochs", "seconds", "status", "run_by"]
    df = pd.DataFrame(rows, columns=columns)
    scores = df["score"].astype(float)
    running = scores.cummax() if direction == "max" else scores.cummin()
    df["best_so_far"] = running.ffill()
    df["cum_epochs"] = df["epochs"].fillna(0).cumsum()
    df["cum_seconds"] = df["seconds"].fillna(0).cumsum()
    df.attrs.update(
        hyperparameters=hp_names,
        fixed={k: v for k, v in fixed.items() if k not in hp_names},
        objective=objective,
        direction=direction,
    )
    return df


def best_values(source) -> dict[str, Any]:
    """The best completed trial's full configuration (searched values plus the fixed ones), ready
    for :func:`build_model`."""
    results = source if isinstance(source, pd.DataFrame) else results_table(source)
    best = _best_row(results)
    if best is None:
        raise TuningError("No trial completed, so there is no best configuration. Run search() first.")
    values = {**DEFAULTS, **results.attrs.get("fixed", {})}
    for name in results.attrs["hyperparameters"]:
        v = best[name]
        values[name] = v.item() if isinstance(v, np.generic) else v
    return {k: DIMENSION_BY_NAME[k].kind(v) for k, v in values.items()}


def compare_searches(runs: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per search: trials, completed, epochs and seconds used, best score and its trial."""
    if not runs:
        raise ValueError("runs is empty; pass e.g. {'random': random_results, 'hyperband': hb_results}.")
    rows = {}
    for name, df in runs.items():
        best = _best_row(df)
        rows[name] = {
            "trials": len(df),
            "completed": int((df["status"] == "COMPLETED").sum()),
            "epochs": int(df["epochs"].fillna(0).sum()),
            "seconds": round(float(df["seconds"].fillna(0).sum()), 1),
            "best score": None if best is None else round(float(best["score"]), 4),
            "best trial": None if best is None else best["trial"],
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def hyperparameter_importance(results: pd.DataFrame, *, bins: int = 3) -> pd.DataFrame:
    """A rough answer to "which hyperparameters mattered": for each one, the spread (max - min) of
    the mean score across its values (numbers with many values are cut into ``bins`` quantile bins).

    Meaningful on a *random* search (an unbiased sample of the space); with a few dozen trials
    it ranks the big effects and is noise for the small ones.
    """
    names = results.attrs.get("hyperparameters")
    if not names:
        raise ValueError("results has no hyperparameter columns; pass a table from tuning.results_table.")
    done = results.dropna(subset=["score"])
    if len(done) < 3:
        raise ValueError(f"Need at least 3 completed trials to compare values; got {len(done)}.")
    rows = []
    for name in names:
        col = done[name]
        if col.nunique() < 2:
            continue
        if _is_number(col.iloc[0]) and col.nunique() > bins:
            ranked = col.rank(method="first")
            groups = pd.qcut(ranked, bins, labels=False)
        else:
            groups = col.astype(str)
        means = done.groupby(groups)["score"].mean()
        best_group = means.idxmax() if results.attrs.get("direction", "max") == "max" else means.idxmin()
        best_values_ = col[groups == best_group]
        best_desc = (
            f"{best_values_.min():.3g}-{best_values_.max():.3g}"
            if _is_number(col.iloc[0]) and col.nunique() > bins
            else str(best_values_.iloc[0])
        )
        rows.append(
            {
                "hyperparameter": name,
                "spread": float(means.max() - means.min()),
                "best": best_desc,
                "trials": len(done),
            }
        )
    return pd.DataFrame(rows).sort_values("spread", ascending=False).set_index("hyperparameter")


# ----------------------------------------------------------------------------------------------
# Retraining the winner.


def fit_train_val(
    model: keras.Model,
    ds: Dataset,
    *,
    epochs: int,
    batch_size: int = 64,
    seed: int = config.DEFAULT_SEED,
    verbose=None,
) -> keras.callbacks.History:
    """Train a compiled ``model`` on the training *and* validation splits together.

    Once the hyperparameters are chosen, the validation split has done its job; training on it too
    gives the final model more data. There is nothing left to validate on, so the number of epochs
    must come from the search. Evaluate the result once, on the test split.
    """
    from helpers.pipelines import to_tf_dataset

    if not _is_int(epochs) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer. Received: epochs={epochs!r}")
    if getattr(model, "optimizer", None) is None:
        raise ValueError("Compile the model first, e.g. tuning.build_model(values) or training.compile_classifier.")
    x = np.concatenate([ds.x_train, ds.x_val])
    y = np.concatenate([ds.y_train, ds.y_val])
    pipeline = to_tf_dataset(x, y, batch_size=batch_size, shuffle=True, seed=seed)
    return model.fit(
        pipeline,
        epochs=int(epochs),
        shuffle=False,
        verbose=config.fit_verbose() if verbose is None else verbose,
    )


def rerun_with_seeds(
    hypermodel: CNNHyperModel, values: Mapping[str, Any], ds: Dataset, *, seeds: Sequence[int], epochs: int
) -> pd.DataFrame:
    """Train one configuration again with other seeds, exactly as a trial is trained, and return
    one row per seed (``seed``, ``score``, ``best_epoch``, ``epochs``). The spread of the scores is
    the noise floor: differences between trials smaller than that are luck."""
    if not seeds:
        raise ValueError("seeds is empty; pass e.g. seeds=(1, 2, 3).")
    _, _, batch_size = model_arguments(values)
    rows = []
    for seed in seeds:
        model = build_model(values, hypermodel.input_shape, hypermodel.num_classes, seed=int(seed))
        m = hypermodel.train(
            model,
            ds.x_train,
            ds.y_train,
            validation_data=(ds.x_val, ds.y_val),
            epochs=int(epochs),
            batch_size=batch_size,
        )
        rows.append(
            {
                "seed": int(seed),
                "score": m[hypermodel.objective],
                "best_epoch": int(m["best_epoch"]),
                "epochs": int(m["epochs_trained"]),
            }
        )
    return pd.DataFrame(rows)
