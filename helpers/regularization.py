"""What regularization does to a network (``05_regularization``): its weights and its dropout.

* :func:`overfitting_cnn` builds the deliberately overfitting CNN the notebook starts from (no
  BatchNorm, a wide Flatten-Dense head) with any of ``models.simple_cnn``'s regularizers switched
  on; :data:`OVERFITTING_CNN` is the same network as a model spec for :func:`helpers.runs.train`.
* :func:`kernel_weights`, :func:`kernel_norms`, :func:`near_zero_fraction`, :func:`l1_l2_penalty`
  and :func:`prune_small_weights` look at what a penalty did to the weights.
* :func:`forward_passes` shows dropout's randomness in training mode and its absence at inference.

Training and comparing the variants is :mod:`helpers.runs`' job.
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
import numpy as np

from helpers import _validate, models
from helpers.data import validate_images

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
