"""What regularization does to a network (``05_regularization``): its weights and its dropout.

* :func:`overfitting_cnn` builds the deliberately overfitting CNN the notebook starts from (no
  BatchNorm, a wide Flatten-Dense head) with any of ``models.simple_cnn``'s regularizers switched
  on; :data:`OVERFITTING_CNN` is the same network as a model spec for :func:`helpers.runs.train`.
* :func:`kernel_weights`, :func:`kernel_norms`, :func:`near_zero_fraction`, :func:`l1_l2_penalty`
  and :func:`prune_small_weights` look at what a penalty did to the weights;
  :func:`largest_unit_norms` at what a max-norm constraint can cap.
* :func:`penalized_variables` and :func:`decayed_variables` list what an L2 penalty and an optimizer's
  weight decay act on: a comparison of the two must cover the same variables.
* :func:`decay_shrink` is the factor decoupled weight decay leaves on an unused weight after a run.
* :func:`val_loss_trend` reads from each history where the validation loss was lowest and where it ended.
* :func:`compare_with_baseline` puts each variant beside the baseline with its uncertainty and a
  paired test.
* :func:`forward_passes` shows dropout's randomness in training mode and its absence at inference.

Training and comparing the variants is :mod:`helpers.runs`' job.
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
import numpy as np
import pandas as pd

from helpers import _validate, evaluation, models, schedules, significance
from helpers.data import Dataset, validate_images
from helpers.runs import Run

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
    kwargs = {**OVERFITTING_CNN, **models.check_simple_cnn_options(overrides)}
    kwargs.setdefault("name", "overfitting_cnn")
    return models.simple_cnn(input_shape, num_classes, **kwargs)


# ----------------------------------------------------------------------------------------------
# Weights.


def kernel_weights(model) -> dict[str, np.ndarray]:
    """The kernels (weight matrices, not biases or BatchNorm scales) of every Conv/Dense layer.

    These are the weights ``kernel_regularizer`` penalizes. Returns ``{layer name: array}`` in
    layer order.
    """
    if not hasattr(model, "layers"):
        raise TypeError(f"Expected a Keras model. Received: {type(model).__name__}")
    kinds = (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
    out = {
        layer.name: np.asarray(layer.kernel)
        for layer in models.walk_layers(model)
        if isinstance(layer, kinds) and getattr(layer, "kernel", None) is not None
    }
    if not out:
        raise ValueError(f"Model {model.name!r} has no Conv or Dense layer with a kernel (is it built?).")
    return out


def flat_weights(weights) -> np.ndarray:
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
    return flat_weights(kernel_weights(model))


def kernel_norms(model) -> dict[str, float]:
    """The Euclidean (Frobenius) norm of each Conv/Dense kernel, by layer name: how much a
    regularizer shrank each layer (compare two models layer by layer)."""
    return {name: float(np.linalg.norm(np.asarray(k, dtype=np.float64))) for name, k in kernel_weights(model).items()}


def largest_unit_norms(model) -> dict[str, float]:
    """The largest norm of one unit's incoming weights in each Conv/Dense layer, by layer name.

    A unit is a conv filter (its weights over height, width and input channels) or a dense unit (its
    kernel column): what a max-norm constraint (``simple_cnn(max_norm=c)``, 05) caps at ``c``. A cap
    above these values never acts.
    """
    return {
        name: float(np.sqrt((np.asarray(k, dtype=np.float64) ** 2).sum(axis=tuple(range(k.ndim - 1)))).max())
        for name, k in kernel_weights(model).items()
    }


def near_zero_fraction(weights, threshold: float = DEFAULT_ZERO_THRESHOLD) -> float:
    """Fraction of weights with ``|w| < threshold``; ``threshold=0`` counts exact zeros (``w == 0``).

    Args:
        weights: a Keras model (its kernels), an array, or a dict/list of arrays.
        threshold: the size below which a weight counts as zero (default
            :data:`DEFAULT_ZERO_THRESHOLD` = 1e-3).
    """
    threshold = _validate.non_negative_number(threshold, "threshold")
    w = flat_weights(weights)
    if threshold == 0:
        return float(np.mean(w == 0.0))
    return float(np.mean(np.abs(w) < threshold))


def l1_l2_penalty(weights, l1: float = 0.0, l2: float = 0.0) -> float:
    """The penalty ``keras.regularizers.L1L2(l1, l2)`` adds to the loss: ``l1*sum|w| + l2*sum(w**2)``.

    Summed over every array in ``weights`` (a model's kernels, an array, or a dict/list of arrays).
    Keras uses no 1/2 factor and no mean: the penalty grows with the number of weights.
    """
    l1, l2 = _validate.non_negative_number(l1, "l1"), _validate.non_negative_number(l2, "l2")
    w = flat_weights(weights)
    return float(l1 * np.sum(np.abs(w)) + l2 * np.sum(w**2))


def prune_small_weights(model, threshold: float = DEFAULT_ZERO_THRESHOLD):
    """A copy of ``model`` whose kernel weights with ``|w| < threshold`` are set to exactly 0.0.

    Use it to test whether "near zero" means "unused": if the copy's accuracy matches the original,
    those weights did no work. The original model is left unchanged.
    """
    threshold = _validate.number_above(threshold, "threshold", 0)
    names = set(kernel_weights(model))
    pruned = keras.models.clone_model(model)
    pruned.set_weights(model.get_weights())
    for layer in models.walk_layers(pruned):
        if layer.name in names and getattr(layer, "kernel", None) is not None:
            k = np.asarray(layer.kernel)
            layer.kernel.assign(np.where(np.abs(k) < threshold, 0.0, k).astype(k.dtype))
    return pruned


# ----------------------------------------------------------------------------------------------
# What a penalty and a weight decay act on.


def penalized_variables(model) -> list[str]:
    """Paths (``"layer/variable"``) of the trainable variables a layer regularizer penalizes.

    ``kernel_regularizer=`` (what ``models.simple_cnn(l2=...)`` sets) attaches the penalty to the
    kernel only; biases and BatchNorm's scales and offsets are penalized only if their own
    ``bias_regularizer`` / ``gamma_regularizer`` / ``beta_regularizer`` is set. Compare with
    :func:`decayed_variables`: an AdamW run that should differ from an L2 run only in decoupling
    must decay exactly these.
    """
    if not hasattr(model, "trainable_variables"):
        raise TypeError(f"Expected a Keras model. Received: {type(model).__name__}")
    return [v.path for v in model.trainable_variables if getattr(v, "regularizer", None) is not None]


def decayed_variables(optimizer, model, *, max_steps: int = 100) -> list[str]:
    """Paths of ``model``'s trainable variables that ``optimizer``'s weight decay shrinks.

    Found by trying rather than by reading the optimizer's private state: on a copy of ``model``
    with every trainable variable set to 1, the optimizer takes steps with all-zero gradients.
    Adam, SGD and their kin then move nothing, so the variables that change are exactly those the
    decay touches (Keras decays every trainable variable unless ``exclude_from_weight_decay``
    names it). Steps repeat, up to ``max_steps``, while a warmup holds the learning rate at 0.

    Args:
        optimizer: a fresh, unbuilt optimizer; it is built on the copy and used up.
        model: a built Keras model; it is left unchanged.
        max_steps: the most zero-gradient steps to take (default 100).

    Raises:
        ValueError: when the optimizer is already built, or when it has a weight decay but no
            variable moved in ``max_steps`` steps (a decay too small to show in float32, or every
            variable excluded: list them with ``exclude_from_weight_decay`` to be sure).
    """
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise TypeError(f"Expected a Keras optimizer. Received: {type(optimizer).__name__}")
    if not hasattr(model, "trainable_variables"):
        raise TypeError(f"Expected a Keras model. Received: {type(model).__name__}")
    max_steps = _validate.positive_int(max_steps, "max_steps")
    if optimizer.built:
        raise ValueError("Pass a fresh optimizer (not yet used for training): it is built on a copy of the model.")
    if not optimizer.weight_decay:
        return []
    copy = keras.models.clone_model(model)
    variables = copy.trainable_variables
    for v in variables:
        v.assign(np.ones(v.shape, dtype=v.dtype))
    zeros = [np.zeros(v.shape, dtype=v.dtype) for v in variables]
    for _ in range(int(max_steps)):
        optimizer.apply_gradients(zip(zeros, variables))
        moved = [v.path for v in variables if not np.all(np.asarray(v) == 1)]
        if moved:
            return moved
    raise ValueError(
        f"No variable moved in {max_steps} steps although weight_decay={optimizer.weight_decay}: the decay is too "
        "small to show in float32, or every variable is excluded from it."
    )


def decay_shrink(weight_decay: float, learning_rate, steps: int) -> float:
    """The factor decoupled weight decay leaves on a weight the data never moves, after ``steps`` steps.

    Keras's decay multiplies a variable by ``1 - lr_t * weight_decay`` at every step ``t``
    (before the optimizer's own step), so after a run an unused weight keeps
    ``prod_t (1 - lr_t * weight_decay)``, about ``exp(-weight_decay * sum_t lr_t)``: a weight-decay
    value only means something together with the learning rates and the number of steps.

    Args:
        weight_decay: the optimizer's ``weight_decay``.
        learning_rate: a float or a ``LearningRateSchedule`` (evaluated at steps ``0 .. steps - 1``).
        steps: optimizer steps in the run.
    """
    weight_decay = _validate.non_negative_number(weight_decay, "weight_decay")
    rates = schedules.learning_rate_values(learning_rate, steps)
    return float(np.prod(1.0 - rates * weight_decay))


# ----------------------------------------------------------------------------------------------
# Reading a comparison of variants.


def _runs_list(runs_by_name) -> list:
    items = list(runs_by_name.values()) if isinstance(runs_by_name, Mapping) else list(runs_by_name)
    bad = sorted({type(r).__name__ for r in items if not isinstance(r, Run)})
    if not items or bad:
        raise TypeError(
            "Expected a non-empty list or {name: run} dict of Runs from runs.train. "
            f"Received: {', '.join(bad) or 'nothing'}"
        )
    return items


def val_loss_trend(runs_by_name) -> pd.DataFrame:
    """Per run, the epoch of its lowest validation loss and how far its last epoch ended above it.

    Read from each run's history, one row per run: ``best_epoch`` (1-based), ``lowest_val_loss``,
    ``final_val_loss`` and ``rise`` (final minus lowest; 0 when the last epoch was the lowest).
    Whether the loss "creeps back up" depends on the schedule and the number of epochs, so this
    states what these runs did, not a rule. ``penalty_in_loss`` flags the runs whose history
    ``val_loss`` includes a weight penalty (Keras adds it), which makes their values larger but
    still shows their trend.
    """
    rows = []
    for run in _runs_list(runs_by_name):
        losses = np.asarray(run.history.get("val_loss", []), dtype=np.float64)
        if losses.size == 0:
            raise ValueError(f"Run {run.name!r} has no val_loss in its history: train it with validation data.")
        best = int(np.argmin(losses))
        rows.append(
            {
                "name": run.name,
                "best_epoch": best + 1,
                "epochs": int(losses.size),
                "lowest_val_loss": float(losses[best]),
                "final_val_loss": float(losses[-1]),
                "rise": float(losses[-1] - losses[best]),
                "penalty_in_loss": bool(run.model.losses),
            }
        )
    return pd.DataFrame(rows).set_index("name")


def compare_with_baseline(runs_by_name, baseline, data: Dataset, *, split: str = "val") -> pd.DataFrame:
    """Each run beside ``baseline`` on one split: accuracy with its standard error, gap, loss, McNemar.

    One row per run (the baseline itself included, as the reference): ``accuracy`` and ``se`` (one
    binomial standard error, :func:`helpers.significance.binomial_se`), ``difference`` (accuracy
    minus the baseline's), ``gap`` and ``gap_change`` (train minus validation accuracy, and its
    change from the baseline's; negative = smaller gap), ``val_loss_ratio`` (validation
    cross-entropy over the baseline's), and the paired McNemar test against the baseline on the
    same images: ``only_run`` / ``only_baseline`` (images only one of them gets right),
    ``p_value`` and ``clear`` (p < 0.05).

    ``gap`` and ``val_loss_ratio`` always come from the runs' rows (training and validation
    splits); ``split`` chooses where accuracy and the test are measured. Use the validation split
    while choosing, and ``"test"`` only once, at the end.
    """
    if not isinstance(baseline, Run):
        raise TypeError(f"baseline must be a Run from runs.train. Received: {type(baseline).__name__}")
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a helpers.data.Dataset. Received: {type(data).__name__}")
    splits = data.splits()
    if split not in splits:
        raise ValueError(f"split must be one of {', '.join(splits)}. Received: split={split!r}")
    x, y = splits[split]
    reference = evaluation.predict_classes(baseline.model, x)
    rows = []
    for run in [baseline, *(r for r in _runs_list(runs_by_name) if r is not baseline)]:
        pred = reference if run is baseline else evaluation.predict_classes(run.model, x)
        test = significance.mcnemar(y, pred, reference, names=(run.name, baseline.name))
        acc = float(np.mean(pred == y))
        rows.append(
            {
                "name": run.name,
                "accuracy": acc,
                "se": significance.binomial_se(acc, len(y)),
                "difference": test.accuracy_difference,
                "gap": run.gap,
                "gap_change": run.gap - baseline.gap,
                "val_loss_ratio": run.val_loss / baseline.val_loss,
                "only_run": test.a_only,
                "only_baseline": test.b_only,
                "p_value": test.p_value,
                "clear": significance.difference_is_clear(test),
            }
        )
    return pd.DataFrame(rows).set_index("name")


# ----------------------------------------------------------------------------------------------
# Dropout at training and inference time.


def forward_passes(model, x, *, n: int = 5, training: bool = False) -> np.ndarray:
    """``n`` forward passes of ``model`` on the same images: an array ``(n, len(x), outputs)``.

    With ``training=True`` dropout layers drop a fresh random set of units on every pass, so the
    outputs differ; with ``training=False`` (what ``predict`` and ``evaluate`` use) they are identical.
    """
    n = _validate.positive_int(n, "n")
    training = _validate.boolean(training, "training")
    x = validate_images(np.asarray(x, dtype=np.float32))
    return np.stack([np.asarray(model(x, training=training)) for _ in range(int(n))])
