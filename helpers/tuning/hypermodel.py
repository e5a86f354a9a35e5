"""The course CNN as a KerasTuner ``HyperModel``, and :func:`build_model` for one configuration.

Every hyperparameter is an argument of :func:`helpers.models.simple_cnn`,
:func:`helpers.training.compile_classifier` or ``fit`` (see :mod:`helpers.tuning.space`): no model
code is duplicated here.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import keras
import keras_tuner as kt
import numpy as np

from helpers import _validate, config, models, training
from helpers.tuning.space import DEFAULT_SPACE, DIMENSIONS, Range, model_arguments, space_to_json, validate_space

__all__ = ["build_model", "CNNHyperModel"]


def objective_direction(objective: str) -> str:
    """``"min"`` for a loss or an error, ``"max"`` for every other metric."""
    return "min" if "loss" in objective or "error" in objective else "max"


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


class CNNHyperModel(kt.HyperModel):
    """The course CNN as a KerasTuner ``HyperModel``: declare the space, build, fit one trial.

    Args:
        input_shape, num_classes: the images and classes (e.g. ``ds.input_shape, ds.num_classes``).
        space: the search space (default :data:`~helpers.tuning.space.DEFAULT_SPACE`); see
            :mod:`helpers.tuning.space`.
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
        if shape is None or len(shape) != 3 or not all(_validate.is_int(d) and d > 0 for d in shape):
            raise ValueError(f"input_shape must be (height, width, channels). Received: input_shape={input_shape!r}")
        self.num_classes = _validate.int_at_least(num_classes, "num_classes", 2)
        if not isinstance(objective, str) or not objective.startswith("val_"):
            raise ValueError(
                f"objective must be a validation metric such as 'val_accuracy' or 'val_loss' (scoring on "
                f"the training data rewards overfitting). Received: objective={objective!r}"
            )
        self.patience = _validate.int_at_least(patience, "patience", 1)
        self.seed = _validate.seed(seed)
        self.input_shape = tuple(int(d) for d in shape)
        self.space = validate_space(DEFAULT_SPACE if space is None else space, self.input_shape)
        self.searched = [d.name for d in DIMENSIONS if isinstance(self.space.get(d.name), (list, Range))]
        self.fixed = {d.name: self.space.get(d.name, d.default) for d in DIMENSIONS if d.name not in self.searched}
        self.objective = objective
        self.direction = objective_direction(objective)

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
        ``epochs_trained`` and ``train_seconds`` (what :func:`~helpers.tuning.results.results_table`
        shows).
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
            "space": space_to_json(self.space),
            "objective": self.objective,
            "seed": self.seed,
        }
