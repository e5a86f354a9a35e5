"""Regularization tools for ``05_regularization``: weight statistics, seeded runs and their summary.

* :func:`overfitting_cnn` builds the deliberately overfitting CNN the notebook starts from (no
  BatchNorm, a wide Flatten-Dense head) with any of ``models.simple_cnn``'s regularizers switched on.
* :func:`train_variant` trains one variant from the same seed and measures train and validation
  accuracy **in inference mode** (dropout off), so the train/val gap is an honest comparison.
* :func:`kernel_weights`, :func:`kernel_norms`, :func:`near_zero_fraction`, :func:`l1_l2_penalty`
  and :func:`prune_small_weights` look at what a penalty did to the weights.
* :func:`forward_passes` shows dropout's randomness in training mode and its absence at inference.
* :func:`summary_table` puts every variant in one table (test accuracy only when asked, at the end).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from helpers import config

# |w| below this counts as "zero". With Adam at learning rate 1e-3, an L1 penalty cannot park a
# weight at exactly 0.0: each step moves it by about the learning rate, so it jitters within about
# +-1e-3 of zero. A weight that small changes a logit by at most 1e-3 x its input.
DEFAULT_ZERO_THRESHOLD = 1e-3

# The notebook's deliberately overfitting CNN: two narrow conv blocks, no BatchNorm (with BN, an L2
# penalty on the conv kernels mostly rescales them and does not limit what the network can fit), and
# a wide Flatten -> Dense(256) head that holds ~400k of its ~410k weights: room to memorize.
OVERFITTING_CNN = {
    "filters": (16, 32),
    "convs_per_block": 1,
    "batch_norm": False,
    "head": "flatten",
    "dense_units": 256,
    "dropout": 0.0,
}


def overfitting_cnn(input_shape=(28, 28, 1), num_classes: int = 10, **overrides):
    """The course's overfitting CNN (:data:`OVERFITTING_CNN`), with ``overrides`` for ``simple_cnn``.

    ``overrides`` switch on a regularizer (``l2=1e-3``, ``l1=1e-4``, ``dropout=0.5``,
    ``spatial_dropout=0.2``) or change the architecture; any ``simple_cnn`` argument is accepted.
    """
    from helpers import models

    unknown = sorted(set(overrides) - _SIMPLE_CNN_ARGS)
    if unknown:
        raise TypeError(
            f"Unknown model option(s) {', '.join(unknown)}. Choose from: {', '.join(sorted(_SIMPLE_CNN_ARGS))}."
        )
    kwargs = {**OVERFITTING_CNN, **overrides}
    kwargs.setdefault("name", "overfitting_cnn")
    return models.simple_cnn(input_shape, num_classes, **kwargs)


_SIMPLE_CNN_ARGS = {
    "filters",
    "kernel_size",
    "convs_per_block",
    "batch_norm",
    "dropout",
    "head",
    "dense_units",
    "l2",
    "l1",
    "spatial_dropout",
    "augmentation",
    "name",
}


# ----------------------------------------------------------------------------------------------
# Weights.


def _walk_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):  # a nested model or Sequential
            yield from _walk_layers(layer)


def kernel_weights(model) -> dict[str, np.ndarray]:
    """The kernels (weight matrices, not biases or BatchNorm scales) of every Conv/Dense layer.

    These are the weights ``kernel_regularizer`` penalizes. Returns ``{layer name: array}`` in
    layer order.
    """
    if not hasattr(model, "layers"):
        raise TypeError(f"Expected a Keras model. Received: {type(model).__name__}")
    import keras

    kinds = (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
    out = {
        layer.name: np.asarray(layer.kernel)
        for layer in _walk_layers(model)
        if isinstance(layer, kinds) and getattr(layer, "kernel", None) is not None
    }
    if not out:
        raise ValueError(f"Model {model.name!r} has no Conv or Dense layer with a kernel (is it built?).")
    return out


def _flat(weights) -> np.ndarray:
    """One 1-D float array from a model, an array, a dict or a list of arrays."""
    if hasattr(weights, "layers"):
        weights = kernel_weights(weights)
    if isinstance(weights, Mapping):
        weights = list(weights.values())
    if isinstance(weights, (list, tuple)):
        if not weights:
            raise ValueError("No weights given: the list (or dict) is empty.")
        parts = [np.asarray(w, dtype=np.float64).ravel() for w in weights]
        arr = np.concatenate(parts)
    else:
        try:
            arr = np.asarray(weights, dtype=np.float64).ravel()
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"weights must be numbers: a model, an array, or a dict/list of arrays. "
                f"Received: {type(weights).__name__}"
            ) from exc
    if arr.size == 0:
        raise ValueError("No weights given: the array is empty.")
    if not np.all(np.isfinite(arr)):
        raise ValueError("The weights hold NaN or infinite values: training diverged; lower the learning rate.")
    return arr


def flat_kernel_weights(model) -> np.ndarray:
    """All of ``model``'s kernel weights (see :func:`kernel_weights`) in one 1-D array."""
    return _flat(kernel_weights(model))


def kernel_norms(model) -> dict[str, float]:
    """The Euclidean (Frobenius) norm of each Conv/Dense kernel, by layer name: how much a
    regularizer shrank each layer (compare two models layer by layer)."""
    return {name: float(np.linalg.norm(np.asarray(k, dtype=np.float64))) for name, k in kernel_weights(model).items()}


def near_zero_fraction(weights, threshold: float = DEFAULT_ZERO_THRESHOLD) -> float:
    """Fraction of weights with ``|w| < threshold``; ``threshold=0`` counts exact zeros (``w == 0``).

    Args:
        weights: a Keras model (its kernels), an array, or a dict/list of arrays.
        threshold: the size below which a weight counts as zero (default
            :data:`DEFAULT_ZERO_THRESHOLD` = 1e-3).
    """
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, (int, float))
        or not threshold >= 0
        or not math.isfinite(threshold)
    ):
        raise ValueError(f"threshold must be a finite number >= 0. Received: threshold={threshold!r}")
    w = _flat(weights)
    if threshold == 0:
        return float(np.mean(w == 0.0))
    return float(np.mean(np.abs(w) < threshold))


def l1_l2_penalty(weights, l1: float = 0.0, l2: float = 0.0) -> float:
    """The penalty ``keras.regularizers.L1L2(l1, l2)`` adds to the loss: ``l1*sum|w| + l2*sum(w**2)``.

    Summed over every array in ``weights`` (a model's kernels, an array, or a dict/list of arrays).
    Keras uses no 1/2 factor and no mean: the penalty grows with the number of weights.
    """
    for name, value in (("l1", l1), ("l2", l2)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError(f"{name} must be a number >= 0. Received: {name}={value!r}")
    w = _flat(weights)
    return float(l1 * np.sum(np.abs(w)) + l2 * np.sum(w**2))


def prune_small_weights(model, threshold: float = DEFAULT_ZERO_THRESHOLD):
    """A copy of ``model`` whose kernel weights with ``|w| < threshold`` are set to exactly 0.0.

    Use it to test whether "near zero" means "unused": if the copy's accuracy matches the original,
    those weights did no work. The original model is left unchanged.
    """
    import keras

    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold > 0:
        raise ValueError(f"threshold must be a number > 0. Received: threshold={threshold!r}")
    names = set(kernel_weights(model))
    pruned = keras.models.clone_model(model)
    pruned.set_weights(model.get_weights())
    for layer in _walk_layers(pruned):
        if layer.name in names and getattr(layer, "kernel", None) is not None:
            k = np.asarray(layer.kernel)
            layer.kernel.assign(np.where(np.abs(k) < threshold, 0.0, k).astype(k.dtype))
    return pruned


def cross_entropy(model, x, y, *, batch_size: int = 256) -> float:
    """Mean cross-entropy of ``model``'s predictions (inference mode) on ``(x, y)``, without any
    weight penalty: the data term alone, comparable across regularized and plain models."""
    from helpers.data import validate_images, validate_labels

    x = validate_images(x)
    y = validate_labels(y, n=len(x))
    probs = np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float64)
    if probs.ndim != 2 or y.max() >= probs.shape[1]:
        raise ValueError(
            f"The model outputs shape {probs.shape}; expected one probability per class (labels go up to {y.max()})."
        )
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-7, 1.0))))


# ----------------------------------------------------------------------------------------------
# Dropout at training and inference time.


def forward_passes(model, x, *, n: int = 5, training: bool = False) -> np.ndarray:
    """``n`` forward passes of ``model`` on the same images: an array ``(n, len(x), outputs)``.

    With ``training=True`` dropout layers drop a fresh random set of units on every pass, so the
    outputs differ; with ``training=False`` (what ``predict`` and ``evaluate`` use) they are identical.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer. Received: n={n!r}")
    if not isinstance(training, bool):
        raise TypeError(f"training must be True or False. Received: training={training!r}")
    from helpers.data import validate_images

    x = validate_images(np.asarray(x, dtype=np.float32))
    return np.stack([np.asarray(model(x, training=training)) for _ in range(int(n))])


# ----------------------------------------------------------------------------------------------
# Seeded runs and their summary.


@dataclasses.dataclass
class RunResult:
    """One trained variant: its model and history, and accuracies measured in inference mode.

    ``gap`` is train minus validation accuracy; ``val_loss`` is the validation cross-entropy without
    the penalty (the ``val_loss`` in a Keras history includes it). ``test_accuracy`` stays ``None``
    until :func:`summary_table` is asked for it, at the end of the notebook.
    """

    name: str
    model: Any
    history: Any
    train_accuracy: float
    val_accuracy: float
    seconds: float
    val_loss: float | None = None
    test_accuracy: float | None = None

    @property
    def gap(self) -> float:
        return self.train_accuracy - self.val_accuracy

    def __repr__(self) -> str:
        test = "" if self.test_accuracy is None else f", test {self.test_accuracy:.1%}"
        return (
            f"RunResult({self.name!r}: train {self.train_accuracy:.1%}, val {self.val_accuracy:.1%}, "
            f"gap {self.gap:+.1%}{test}, {self.seconds:.0f} s)"
        )


def train_variant(
    name: str,
    data,
    *,
    epochs: int,
    build: Callable[[], Any] | None = None,
    optimizer="adam",
    learning_rate: float = 1e-3,
    batch_size: int = 32,
    seed: int = config.DEFAULT_SEED,
    verbose: int | str | None = 0,
    **model_options,
) -> RunResult:
    """Seed, build, compile, train one variant and measure it: a :class:`RunResult`.

    Every variant starts from the same seed, so two runs differ only in what you changed. Train and
    validation accuracy are measured after training with ``evaluate`` (dropout off, final weights),
    not read from the history (which averages over an epoch, with dropout on).

    Args:
        name: a label for tables and figures.
        data: a :class:`helpers.data.Dataset`.
        epochs: training epochs.
        build: a function returning an uncompiled model; default :func:`overfitting_cnn` with
            ``model_options`` (e.g. ``l2=1e-3``, ``dropout=0.5``).
        optimizer: a name from ``training.OPTIMIZERS`` (default ``"adam"``) or a fresh optimizer
            instance, e.g. ``keras.optimizers.AdamW(1e-3, weight_decay=0.1)``.
        learning_rate: used when ``optimizer`` is a name (default 1e-3).
        batch_size: default 32.
        seed: default the course seed.
        verbose: Keras's verbosity; default 0, because a sweep prints one summary line per run
            (``print(result)``) rather than every epoch. None gives ``config.fit_verbose()``.
    """
    from helpers import evaluation, training

    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string. Received: name={name!r}")
    if build is not None and model_options:
        raise ValueError(
            f"Pass either build= or model options ({', '.join(model_options)}), not both: "
            "put the options inside your build function."
        )
    if build is not None and (not callable(build) or hasattr(build, "layers")):
        raise TypeError(
            "build must be a function that returns a new model (each run builds its own, from "
            f"the seed), e.g. build=lambda: my_cnn(). Received: {type(build).__name__}"
        )
    config.seed_everything(seed)
    model = build() if build is not None else overfitting_cnn(data.input_shape, data.num_classes, **model_options)
    training.compile_classifier(model, optimizer=optimizer, learning_rate=learning_rate)
    start = time.perf_counter()
    history = training.fit(model, data, epochs=epochs, batch_size=batch_size, seed=seed, verbose=verbose)
    seconds = time.perf_counter() - start
    return RunResult(
        name=name,
        model=model,
        history=history,
        train_accuracy=evaluation.evaluate(model, data, "train"),
        val_accuracy=evaluation.evaluate(model, data, "val"),
        seconds=seconds,
        val_loss=cross_entropy(model, data.x_val, data.y_val),
    )


def _runs_list(runs) -> list[RunResult]:
    if isinstance(runs, RunResult):
        runs = [runs]
    elif isinstance(runs, Mapping):
        runs = list(runs.values())
    runs = list(runs)
    if not runs:
        raise ValueError("No runs given; train at least one variant with train_variant(...).")
    bad = [type(r).__name__ for r in runs if not isinstance(r, RunResult)]
    if bad:
        raise TypeError(f"Expected RunResult objects from train_variant. Received: {', '.join(sorted(set(bad)))}")
    return runs


def summary_table(runs, *, test_data=None, zero_threshold: float = DEFAULT_ZERO_THRESHOLD):
    """A DataFrame with one row per run: train, val and test accuracy, gap, validation loss (without
    penalty), the fraction of near-zero kernel weights, and training time.

    Args:
        runs: ``RunResult`` objects (a list, or a dict such as ``{name: run}``).
        test_data: the Dataset whose **test** split to evaluate; default None (no test column). Pass
            it once, at the end, when every choice has been made on validation results. The test
            accuracy is also stored on each run.
        zero_threshold: ``|w|`` below which a kernel weight counts as zero (default 1e-3).
    """
    import pandas as pd

    from helpers import evaluation

    runs = _runs_list(runs)
    rows = []
    for run in runs:
        if test_data is not None:
            run.test_accuracy = evaluation.evaluate(run.model, test_data, "test")
        row = {
            "variant": run.name,
            "train acc": run.train_accuracy,
            "val acc": run.val_accuracy,
            "gap": run.gap,
        }
        if test_data is not None:
            row["test acc"] = run.test_accuracy
        row["val loss"] = np.nan if run.val_loss is None else run.val_loss
        row[f"|w|<{zero_threshold:g}"] = near_zero_fraction(run.model, zero_threshold)
        row["seconds"] = run.seconds
        rows.append(row)
    return pd.DataFrame(rows).set_index("variant")
