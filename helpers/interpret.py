"""What the network looks at (``06_monitoring_evaluation``, ``07_transfer_learning``): attribution
maps, and the sanity check that tells a map that explains the model from one that does not.

Five methods, one call each. Every one takes a batch ``x`` of shape ``(n, height, width, channels)``
and returns a float32 array ``(n, height, width)``: one importance value per pixel.

* :func:`saliency`: the gradient of the class score with respect to the pixels (Simonyan et al.,
  2014), ``max |gradient|`` over the colour channels.
* :func:`smoothgrad`: the same gradient averaged over noisy copies of the image (Smilkov et al., 2017).
* :func:`grad_cam`: a conv layer's feature maps weighted by the pooled gradient, ReLU, upsampled to the
  image (Selvaraju et al., 2017).
* :func:`occlusion`: the drop in the class probability when a grey patch hides each region (Zeiler &
  Fergus, 2014). No gradient: it works on any model, and is the slowest (one prediction per patch).
* :func:`integrated_gradients`: gradients summed along the straight path from a baseline (black) image
  to the image, times the pixel difference (Sundararajan et al., 2017).

``class_index`` says which class to explain: ``None`` (the predicted class), one int for every image,
or one per image (e.g. the true labels). The gradient methods differentiate the **score before the
softmax** (the logit) when the model ends in one: the gradient of a probability near 1 saturates to
almost nothing. Nothing in the model is changed for that: the last layer's linear part is computed
from its own weights, beside it (models without a softmax are explained on their outputs as they are).

Every kind of model the course builds works: ``Sequential`` with or without ``keras.Input`` (once
called), Functional models with branches (:func:`helpers.models.small_resnet`), and transfer models
with a base model nested inside a new head (a frozen base included). The network is run layer by
layer inside a ``tf.GradientTape`` (a Functional graph through a sub-model of the same graph,
recursing into a nested base), so nothing depends on ``layer.output`` of a ``Sequential`` that was
never given an input (keras-io's Grad-CAM fails there: "has never been called and thus has no
defined output") and a layer inside a nested base is reachable without "Graph disconnected"
(``"base/block3_conv1"``, or just ``"block3_conv1"``). Every call first checks a few images against
``model(x)``, then runs compiled (``tf.function``, kept while the model lives): a 16-image map of
the course CNN on 28x28 digits takes well under a second once compiled.

**Sanity checks** (Adebayo et al., 2018): a map that stays the same when the weights are replaced by
random ones cannot be explaining what the model learned. :func:`randomization_test` measures that
(Spearman rank correlation of ``|map|`` between the trained model and :func:`randomized_copy`), and
:func:`cascading_randomization` randomizes the layers from the top down. :func:`region_ratio` tells
whether a map is brighter on the stroke of a digit than on its background.

The TensorFlow backend is required (``tf.GradientTape``), as everywhere in the course.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence

import keras
import numpy as np
import pandas as pd
from keras import layers

from helpers import _validate, config
from helpers.models import walk_layers

__all__ = [
    "METHODS",
    "METHOD_TITLES",
    "SANITY_BOUND",
    "cascading_randomization",
    "class_scores",
    "conv_layers",
    "explain",
    "grad_cam",
    "integrated_gradients",
    "occlusion",
    "otsu_threshold",
    "randomization_test",
    "randomized_copy",
    "rank_correlation",
    "region_ratio",
    "saliency",
    "smoothgrad",
]

METHODS = ("saliency", "smoothgrad", "grad_cam", "integrated_gradients", "occlusion")
"""The attribution methods, by the name :func:`explain` and :func:`randomization_test` take."""

METHOD_TITLES = {
    "saliency": "gradient saliency",
    "smoothgrad": "SmoothGrad",
    "grad_cam": "Grad-CAM",
    "integrated_gradients": "integrated gradients",
    "occlusion": "occlusion",
}
"""How figures and tables name each method."""

SANITY_BOUND = 0.5
"""A method passes the model-randomization test when the mean rank correlation between its maps for
the trained and the randomized model is below this: the map changed with the weights."""

_CONV_TYPES = (layers.Conv2D, layers.SeparableConv2D, layers.DepthwiseConv2D)
_BATCH = 256  # images per forward/backward pass: bounds memory for large images, one pass for small grids
_VERIFY_ATOL = 1e-4
_CHECKED = 8  # images run eagerly against model(x) at every call


# ----------------------------------------------------------------------------------------------
# Running the model: captured layer outputs and pre-softmax scores, for any model the course builds.


def _is_model(layer) -> bool:
    return isinstance(layer, keras.Model)


def _ends_in_softmax(layer) -> bool:
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", None) == "softmax"


def _linear_twin(layer, notes: dict) -> Callable:
    """``layer`` without its softmax; the original is never modified.

    ``Activation("softmax")`` becomes the identity, ``Dense`` its matrix product with the layer's own
    (live) kernel and bias. Any other layer is rebuilt from its config with ``activation="linear"``
    and a copy of its current weights (``notes["copied"]``: such a plan is not cached, since the
    copy would not follow further training).
    """
    if isinstance(layer, layers.Activation):
        return lambda h: h
    if isinstance(layer, layers.Dense) and not getattr(layer, "quantization_mode", None):

        def dense(h):
            z = keras.ops.matmul(keras.ops.cast(h, "float32"), keras.ops.cast(layer.kernel, "float32"))
            return z + keras.ops.cast(layer.bias, "float32") if layer.bias is not None else z

        return dense
    notes["copied"] = True
    twin = type(layer).from_config({**layer.get_config(), "activation": "linear"})

    def apply(h):
        if not twin.built:
            twin.build(tuple(h.shape))
            twin.set_weights(layer.get_weights())
        return twin(h, training=False)

    return apply


def _output_layer(model):
    """The top-level layer that produces the model's (single) output."""
    outputs = model.outputs
    if len(outputs) != 1:
        raise ValueError(
            f"{model.name!r} has {len(outputs)} outputs; attribution maps need a single-output classifier."
        )
    for layer in reversed(model.layers):
        try:
            if layer.output is outputs[0]:
                return layer
        except (AttributeError, ValueError):
            continue
    return model.layers[-1]


def _graph_plan(model, paths: set[str], strip: bool, notes: dict):
    """``run(x) -> (captured, out, stripped)`` through a sub-model of a Functional graph, or None when
    the graph cannot serve (a captured layer used twice, a nested model that ends in the softmax)."""
    try:
        last = _output_layer(model)
        strip_layer = last if strip and _ends_in_softmax(last) else None
        if strip and strip_layer is None and _is_model(last):
            return None  # the softmax may sit inside a nested model: walk it
        order = sorted(paths)
        tensors = [model.get_layer(p).output for p in order]
        final = strip_layer.input if strip_layer is not None else model.outputs[0]
        sub = keras.Model(model.inputs, [*tensors, final])
    except (AttributeError, ValueError):
        return None
    twin = _linear_twin(strip_layer, notes) if strip_layer is not None else None

    def run(x):
        outs = sub(x, training=False)
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        out = twin(outs[-1]) if twin is not None else outs[-1]
        return dict(zip(order, outs[:-1])), out, twin is not None

    return run


def _walk_plan(model, paths: set[str], strip: bool, notes: dict):
    """``run(x) -> (captured, out, stripped)`` calling the top-level layers in order, recursing into a
    nested model when a captured layer (or the final softmax) is inside it."""
    steps = [layer for layer in model.layers if not isinstance(layer, layers.InputLayer)]
    if not steps:
        raise ValueError(f"{model.name!r} has no layers to run.")
    plans = []
    for i, layer in enumerate(steps):
        last = i == len(steps) - 1
        inner = {p[len(layer.name) + 1 :] for p in paths if p.startswith(layer.name + "/")}
        if _is_model(layer) and (inner or (last and strip)):
            plans.append((layer.name, _plan(layer, inner, last and strip, notes)))
        elif last and strip and _ends_in_softmax(layer):
            twin = _linear_twin(layer, notes)
            plans.append((layer.name, lambda h, twin=twin: ({}, twin(h), True)))
        else:
            plans.append((layer.name, lambda h, layer=layer: ({}, layer(h, training=False), False)))
    # Only names here: a plan must not hold the model itself (see _scorer's cache).
    chain_by_construction = isinstance(model, keras.Sequential)
    message = _untraceable(model.name)

    def run(x):
        h, captured, stripped = x, {}, False
        for name, step in plans:
            try:
                inner, h, stripped_here = step(h)
            except _UntraceableModel:
                raise
            except Exception as exc:  # noqa: BLE001 - a layer fed the wrong tensor fails in many ways
                if chain_by_construction:
                    raise
                raise _UntraceableModel(message) from exc
            stripped = stripped or stripped_here
            captured.update({f"{name}/{k}": v for k, v in inner.items()})
            if name in paths:
                captured[name] = h
        return captured, h, stripped

    return run


class _UntraceableModel(ValueError):
    """Running a Functional model's layers in order does not reproduce it (its graph is not a chain)."""


def _untraceable(name: str) -> str:
    return (
        f"Running the layers of {name!r} one after the other does not reproduce the model, so its maps "
        "would be wrong: its graph branches around a nested model. Explain the nested model itself, or reach "
        "only top-level layers of this one (their graph is used as it is)."
    )


def _plan(model, paths: set[str], strip: bool, notes: dict):
    if not isinstance(model, keras.Sequential) and not any("/" in p for p in paths):
        run = _graph_plan(model, paths, strip, notes)
        if run is not None:
            return run
    return _walk_plan(model, paths, strip, notes)


class _Scorer:
    """Runs a model on batches: class scores, captured layer outputs, and gradients of a class score.

    Scores are the logits when the model ends in a softmax (see the module docstring). Every call
    first checks a few images eagerly against ``model(x)`` (which also builds a ``Sequential`` that
    was never called): a graph that branches around a nested model cannot be walked layer by layer,
    and that is reported instead of returning wrong maps. Scores and gradients then run compiled
    (``tf.function``), in batches of :data:`_BATCH`: faster, and it avoids a TensorFlow 2.21 heap
    corruption seen in eager gradients through a 1x1 stride-2 convolution (a residual net's projection).
    """

    def __init__(self, model, capture: Iterable[str] = ()):
        self.name = model.name
        self.capture = tuple(capture)
        self._model = weakref.ref(model)  # the cache below is keyed by the model: never hold it strongly
        self.notes: dict = {}
        self._run = _plan(model, set(self.capture), True, self.notes)
        self._compiled: dict = {}

    def check(self, x: np.ndarray) -> dict:
        """Run a few images eagerly and compare with ``model(x)``; the captured outputs (tensors)."""
        import tensorflow as tf

        model = self._model()
        x = x[:_CHECKED]
        expected = np.asarray(model(x, training=False), dtype=np.float32)
        captured, scores, stripped = self._run(tf.constant(x))
        got = np.asarray(tf.nn.softmax(scores) if stripped else scores, dtype=np.float32)
        if expected.shape != got.shape or not np.allclose(expected, got, atol=_VERIFY_ATOL):
            raise _UntraceableModel(_untraceable(self.name))
        missing = [p for p in self.capture if p not in captured]
        if missing:
            raise ValueError(f"Could not reach layer(s) {', '.join(missing)} while running {self.name!r}.")
        return captured

    def scores(self, x: np.ndarray, *, verify: bool = True) -> np.ndarray:
        """``(n, classes)`` scores (logits when the model ends in a softmax)."""
        import tensorflow as tf

        if verify:
            self.check(x)
        fn = self._function("scores", x.shape[1:])
        with _quiet_tracing():
            return np.concatenate(
                [np.asarray(fn(tf.constant(chunk)), dtype=np.float32) for chunk in _chunks(x, _BATCH)]
            )

    def gradients(self, x: np.ndarray, classes: np.ndarray, wrt: str | None = None):
        """d score[class] / d x (``wrt=None``), or ``(gradient, output)`` of the captured layer ``wrt``."""
        import tensorflow as tf

        self.check(x)
        fn = self._function(("gradient", wrt), x.shape[1:])
        grads, outputs = [], []
        with _quiet_tracing():
            for start in range(0, len(x), _BATCH):
                g, out = fn(tf.constant(x[start : start + _BATCH]), tf.constant(classes[start : start + _BATCH]))
                grads.append(np.asarray(g, dtype=np.float32))
                outputs.append(np.asarray(out, dtype=np.float32))
        grads = np.concatenate(grads)
        return grads if wrt is None else (grads, np.concatenate(outputs))

    def _function(self, kind, shape: tuple):
        import tensorflow as tf

        key = (kind, tuple(shape))
        if key in self._compiled:
            return self._compiled[key]
        images = tf.TensorSpec((None, *shape), tf.float32)
        run = self._run
        if kind == "scores":
            fn = tf.function(lambda x: tf.cast(run(x)[1], tf.float32), input_signature=[images])
        else:
            wrt = kind[1]

            def gradient(x, idx):
                with tf.GradientTape() as tape:
                    tape.watch(x)  # records a frozen base's ops too (its variables are not watched)
                    captured, scores, _ = run(x)
                    total = tf.reduce_sum(tf.gather(tf.cast(scores, tf.float32), idx, batch_dims=1))
                target = x if wrt is None else captured[wrt]
                return tape.gradient(total, target), target

            fn = tf.function(gradient, input_signature=[images, tf.TensorSpec((None,), tf.int64)])
        self._compiled[key] = fn
        return fn


@contextlib.contextmanager
def _quiet_tracing():
    """Hide TensorFlow's "N out of the last M calls triggered tf.function retracing" warning: each new
    model (e.g. every randomized copy) is compiled once on purpose, which is not the waste it warns of."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(max(level, logging.ERROR))
    try:
        yield
    finally:
        logger.setLevel(level)


_SCORERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _scorer(model, capture: Iterable[str] = ()) -> _Scorer:
    """The model's :class:`_Scorer` for ``capture``, kept while the model lives (compiled once).

    The key includes the identity of every layer, so a model whose layers changed gets a new plan.
    A plan that had to copy weights (a softmax layer other than Dense or Activation) is never kept.
    """
    if not _is_model(model):
        raise TypeError(f"model must be a Keras model. Received: {type(model).__name__}")
    key = (tuple(capture), tuple(id(layer) for layer in walk_layers(model)))
    per_model = _SCORERS.setdefault(model, {})
    if key not in per_model:
        scorer = _Scorer(model, capture)
        if scorer.notes.get("copied"):
            return scorer
        per_model[key] = scorer
    return per_model[key]


def class_scores(model, x, *, probabilities: bool = False) -> np.ndarray:
    """The scores the gradient methods explain: ``(n, classes)`` logits (before the softmax), or the
    probabilities with ``probabilities=True``."""
    scores = _scorer(model).scores(_check_batch(x))
    if not probabilities:
        return scores
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Arguments.


def _check_batch(x) -> np.ndarray:
    """``x`` as a float32 ``(n, h, w, c)`` batch, with a clear message for one image or bad values."""
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except Exception as exc:  # noqa: BLE001 - anything that is not array-like
            raise TypeError(f"x must be a NumPy array of images. Received: {type(x).__name__}") from exc
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise TypeError(f"x must hold numbers. Received dtype={x.dtype}")
    if x.ndim == 3:
        raise ValueError(
            f"x must be a batch (n, height, width, channels). Received shape={x.shape}: for one image pass "
            "image[None]; for grayscale images without a channel axis pass x[..., None]."
        )
    if x.ndim != 4 or 0 in x.shape:
        raise ValueError(f"x must be a non-empty batch (n, height, width, channels). Received shape={x.shape}")
    x = x.astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise ValueError("x holds NaN or infinite values; clean or re-load the images.")
    return x


def _chunks(x: np.ndarray, size: int):
    for start in range(0, len(x), size):
        yield x[start : start + size]


def _resolve_classes(class_index, scores: np.ndarray) -> np.ndarray:
    """One class per image: the predicted one (None), the same int for all, or one per image."""
    n, k = scores.shape
    if class_index is None:
        return np.argmax(scores, axis=1).astype(np.int64)
    if _validate.is_int(class_index):
        classes = np.full(n, int(class_index), dtype=np.int64)
    else:
        arr = np.asarray(class_index)
        if arr.ndim != 1 or len(arr) != n or not (np.issubdtype(arr.dtype, np.integer)):
            raise ValueError(
                f"class_index must be None (the predicted class), an int, or one int per image ({n}). "
                f"Received: class_index={class_index!r}"
            )
        classes = arr.astype(np.int64)
    if classes.min() < 0 or classes.max() >= k:
        raise ValueError(f"class_index must lie in [0, {k - 1}] (the model has {k} classes). Received: {class_index!r}")
    return classes


def _classes_for(model, x: np.ndarray, class_index) -> np.ndarray:
    if class_index is None:
        return _resolve_classes(None, class_scores(model, x))
    k = _num_classes(model, x)
    return _resolve_classes(class_index, np.zeros((len(x), k)))


def _num_classes(model, x: np.ndarray) -> int:
    try:
        return int(model.output_shape[-1])
    except (AttributeError, ValueError, TypeError):
        return int(class_scores(model, x[:1]).shape[-1])


# ----------------------------------------------------------------------------------------------
# Gradient methods.


def _gradients(model, x: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """d score[class] / d x for every image, in batches of :data:`_BATCH` (one pass for a small grid)."""
    return _scorer(model).gradients(x, classes)


def _channel_max_abs(grads: np.ndarray) -> np.ndarray:
    return np.max(np.abs(grads), axis=-1).astype(np.float32)


def saliency(model, x, class_index=None) -> np.ndarray:
    """Vanilla gradient saliency (Simonyan et al., 2014): ``max_c |d score / d x[..., c]|``.

    How much a tiny change of each pixel would change the class score (the logit, before the
    softmax). Colour images take the largest absolute gradient over the channels, as in the paper.
    Returns ``(n, height, width)``, non-negative.
    """
    x = _check_batch(x)
    classes = _classes_for(model, x, class_index)
    return _channel_max_abs(_gradients(model, x, classes))


def smoothgrad(
    model, x, class_index=None, *, samples: int = 16, noise: float = 0.1, seed: int = config.DEFAULT_SEED
) -> np.ndarray:
    """SmoothGrad (Smilkov et al., 2017): the gradient averaged over ``samples`` noisy copies of each image.

    Gaussian noise with standard deviation ``noise`` times the image's value range (max - min) is
    added; the raw gradients are averaged, then reduced like :func:`saliency` (max ``|.|`` over the
    channels). Averaging removes the pixel-to-pixel flicker of the plain gradient. The ``n * samples``
    copies go through batched backward passes (256 images each: one for a 16-image grid).

    Args:
        samples: noisy copies per image (default 16).
        noise: noise level as a fraction of each image's value range (default 0.1; the paper
            recommends 0.1-0.2).
        seed: seeds the noise (default 42), so the same call gives the same map.
    """
    x = _check_batch(x)
    samples = _validate.positive_int(samples, "samples")
    noise = _validate.non_negative_number(noise, "noise")
    seed = _validate.seed(seed)
    classes = _classes_for(model, x, class_index)
    rng = np.random.default_rng(seed)
    spread = (x.max(axis=(1, 2, 3)) - x.min(axis=(1, 2, 3))).reshape(-1, 1, 1, 1, 1)
    spread = np.where(spread > 0, spread, 1.0)
    noisy = x[:, None] + rng.normal(size=(len(x), samples, *x.shape[1:])).astype(np.float32) * noise * spread
    grads = _gradients(model, noisy.reshape(-1, *x.shape[1:]).astype(np.float32), np.repeat(classes, samples))
    return _channel_max_abs(grads.reshape(len(x), samples, *x.shape[1:]).mean(axis=1))


def integrated_gradients(model, x, class_index=None, *, steps: int = 32, baseline=None) -> np.ndarray:
    """Integrated gradients (Sundararajan et al., 2017), summed over the channels (signed).

    ``(x - baseline) * mean of d score / d x along the straight path from the baseline to x``
    (``steps`` midpoints). The attributions add up to ``score(x) - score(baseline)`` (completeness),
    so unlike saliency they are signed: negative pixels are evidence *against* the class. Take
    ``np.abs`` to rank them by importance. With the black baseline a pixel that is black in the image
    gets exactly 0, whatever the model: see :func:`randomization_test`. The ``n * steps`` path images
    go through batched backward passes (256 images each).

    Args:
        steps: points on the path (default 32; more is more exact).
        baseline: the "absence of signal" image: None (black, zeros), a number (a constant image),
            or an array shaped like one image or like ``x``.
    """
    x = _check_batch(x)
    steps = _validate.positive_int(steps, "steps")
    base = _baseline(baseline, x)
    classes = _classes_for(model, x, class_index)
    alphas = ((np.arange(steps) + 0.5) / steps).astype(np.float32).reshape(1, steps, 1, 1, 1)
    path = base[:, None] + alphas * (x - base)[:, None]
    grads = _gradients(model, path.reshape(-1, *x.shape[1:]), np.repeat(classes, steps))
    mean_grad = grads.reshape(len(x), steps, *x.shape[1:]).mean(axis=1)
    return ((x - base) * mean_grad).sum(axis=-1).astype(np.float32)


def _baseline(baseline, x: np.ndarray) -> np.ndarray:
    if baseline is None:
        return np.zeros_like(x)
    if _validate.is_number(baseline):
        return np.full_like(x, float(baseline))
    arr = np.asarray(baseline, dtype=np.float32)
    if arr.shape == x.shape[1:]:
        return np.broadcast_to(arr, x.shape).copy()
    if arr.shape == x.shape:
        return arr
    raise ValueError(
        f"baseline must be None, a number, or an array shaped like one image {x.shape[1:]} or like x {x.shape}. "
        f"Received shape={arr.shape}"
    )


# ----------------------------------------------------------------------------------------------
# Grad-CAM.


def conv_layers(model) -> list[str]:
    """Paths of the conv layers Grad-CAM can use, in order, nested ones as ``"base/block1_conv1"``."""
    return [
        path for path, layer in walk_layers(model, leaves_only=True, with_paths=True) if isinstance(layer, _CONV_TYPES)
    ]


def _resolve_layer(model, layer: str) -> str:
    """The path of ``layer`` (a path such as ``"base/block3_conv1"`` or a unique inner name)."""
    _validate.non_empty_str(layer, "layer")
    paths = [path for path, _ in walk_layers(model, with_paths=True)]
    if layer in paths:
        return layer
    matches = [p for p in paths if p.rsplit("/", 1)[-1] == layer]
    if len(matches) == 1:
        return matches[0]
    convs = ", ".join(conv_layers(model)) or "none"
    if matches:
        raise ValueError(f"layer={layer!r} is ambiguous in {model.name!r}: {', '.join(matches)}. Pass the full path.")
    raise ValueError(f"No layer {layer!r} in {model.name!r}. Conv layers available: {convs}")


def _default_layer(model, x: np.ndarray) -> str:
    """The layer Grad-CAM uses by default: the last one that keeps the resolution of the last conv layer
    with a map larger than 1x1, i.e. that conv's activation (``block2_relu2`` in the course CNN,
    ``stage2_block1_out`` after a residual sum, MobileNetV2's ``out_relu``, as keras-io uses).

    Skipping 1x1 maps matters for LeNet-5 (C5 is 1x1: its map would be constant); taking the layer
    after the conv keeps Grad-CAM on the main path of a residual net (its last conv is a shortcut's
    projection) and on what the next layers actually receive.
    """
    candidates = conv_layers(model)
    if not candidates:
        raise ValueError(
            f"{model.name!r} has no conv layers, so Grad-CAM has no feature maps to weight. "
            "Use saliency or occlusion, or pass layer= a layer with a 4-D output."
        )
    every = [path for path, _ in walk_layers(model, leaves_only=True, with_paths=True)]
    captured = _Scorer(model, every).check(x[:1])
    shapes = {p: tuple(captured[p].shape) for p in every}
    spatial = [p for p in candidates if len(shapes[p]) == 4 and shapes[p][1] * shapes[p][2] > 1]
    if not spatial:
        raise ValueError(f"Every conv layer of {model.name!r} outputs a 1x1 map; Grad-CAM needs a spatial one.")
    last = spatial[-1]
    same = [p for p in every[every.index(last) :] if len(shapes[p]) == 4 and shapes[p][1:3] == shapes[last][1:3]]
    return same[-1]


def _grad_cam_layer(model, x: np.ndarray, layer: str | None) -> str:
    return _default_layer(model, x) if layer is None else _resolve_layer(model, layer)


def grad_cam(model, x, class_index=None, *, layer: str | None = None) -> np.ndarray:
    """Grad-CAM (Selvaraju et al., 2017) for a conv layer's feature maps, upsampled to the image size.

    The layer's feature maps ``A_k`` are weighted by the gradient of the class score (the logit)
    averaged over their positions, summed and passed through a ReLU: ``relu(sum_k alpha_k A_k)``.
    The map is as coarse as the layer (14x14 for the course CNN's last block on 28x28 digits) and
    is resized bilinearly to ``(height, width)``. Returns ``(n, height, width)``, non-negative, in
    the layer's units (not normalized).

    Args:
        layer: a layer with a 4-D output; in a transfer model the base's layers are
            ``"base/block3_conv1"`` or just ``"block3_conv1"`` (:func:`conv_layers` lists the conv
            layers). Default: the last conv layer whose map is larger than 1x1, taken after its
            activation (``block2_relu2`` in the course CNN, ``C3`` in LeNet-5, ``stage2_block1_out``
            in a residual net, whose last conv is a shortcut's projection; keras-io uses MobileNetV2's
            ``out_relu`` the same way).
    """
    import tensorflow as tf

    x = _check_batch(x)
    path = _grad_cam_layer(model, x, layer)
    classes = _classes_for(model, x, class_index)
    scorer = _scorer(model, (path,))
    shape = tuple(scorer.check(x)[path].shape)
    if len(shape) != 4:
        raise ValueError(
            f"layer={path!r} outputs shape {shape}; Grad-CAM needs feature maps (n, h, w, channels). "
            f"Conv layers: {', '.join(conv_layers(model))}"
        )
    grads, maps = scorer.gradients(x, classes, wrt=path)
    weights = grads.mean(axis=(1, 2), keepdims=True)
    cam = np.maximum((weights * maps).sum(axis=-1, keepdims=True), 0.0)
    return np.asarray(tf.image.resize(cam, x.shape[1:3], method="bilinear"))[..., 0].astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Occlusion.


def _positions(size: int, patch: int, stride: int) -> list[int]:
    """Top-left corners ``0, stride, 2*stride, ...``; one more at ``size - patch`` if the stride
    leaves the last rows uncovered, so every pixel is covered."""
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] + patch < size:
        starts.append(size - patch)
    return starts


def occlusion(
    model,
    x,
    class_index=None,
    *,
    patch: int = 4,
    stride: int = 2,
    fill: float | None = None,
    score: str = "probability",
    per_pixel: bool = True,
) -> np.ndarray:
    """Occlusion sensitivity (Zeiler & Fergus, 2014): how much hiding each region lowers the class's score.

    A ``patch`` x ``patch`` grey square (value ``fill``) slides over the image, top-left corners at
    ``0, stride, 2 * stride, ...`` in both directions (plus one flush with the far edge when the
    stride does not reach it). At each position the drop ``score(image) - score(occluded)`` is
    recorded: positive where hiding the region hurts the class. All occluded copies of the batch
    are predicted together.

    Args:
        patch: side of the square in pixels (default 4).
        stride: step between positions (default 2).
        fill: the patch's value; None (default) is the batch's mean pixel value, the "grey" of
            Zeiler & Fergus (their images were mean-subtracted, so grey was the mean). On MNIST that
            is about 0.13: a mid-grey 0.5 patch adds ink to the black background, and the map
            then lights up the background instead of the stroke.
        score: ``"probability"`` (default, the softmax output, as Zeiler & Fergus) or ``"logit"``.
        per_pixel: True (default) returns ``(n, height, width)``, each pixel the mean drop over the
            positions whose patch covers it; False returns the coarse grid ``(n, rows, cols)``, one
            value per position (``rows = len(range(0, height - patch + 1, stride))`` when the stride
            divides ``height - patch``).
    """
    x = _check_batch(x)
    n, h, w, _ = x.shape
    patch = _validate.positive_int(patch, "patch")
    stride = _validate.positive_int(stride, "stride")
    _validate.one_of(score, "score", ("probability", "logit"))
    _validate.boolean(per_pixel, "per_pixel")
    if patch > min(h, w):
        raise ValueError(f"patch must fit in the {h}x{w} image. Received: patch={patch}")
    if fill is None:
        fill = float(x.mean())
    elif not _validate.is_number(fill):
        raise ValueError(f"fill must be a number or None (mid-grey). Received: fill={fill!r}")
    rows, cols = _positions(h, patch, stride), _positions(w, patch, stride)
    masks = np.zeros((len(rows) * len(cols), h, w, 1), dtype=bool)
    for p, (r, c) in enumerate((r, c) for r in rows for c in cols):
        masks[p, r : r + patch, c : c + patch] = True

    scorer = _scorer(model)

    def scores_of(batch, verify=False):
        s = scorer.scores(batch, verify=verify)
        if score == "logit":
            return s
        e = np.exp(s - s.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    original = scores_of(x, verify=True)
    classes = _resolve_classes(class_index, original)
    picked = original[np.arange(n), classes]
    pairs = np.array([(i, p) for i in range(n) for p in range(len(masks))])
    drops = np.empty(len(pairs), dtype=np.float32)
    for start in range(0, len(pairs), _BATCH):
        img, pos = pairs[start : start + _BATCH].T
        occluded = np.where(masks[pos], np.float32(fill), x[img])
        drops[start : start + _BATCH] = picked[img] - scores_of(occluded)[np.arange(len(img)), classes[img]]
    grid = drops.reshape(n, len(rows), len(cols))
    if not per_pixel:
        return grid
    flat = masks[..., 0].reshape(len(masks), -1).astype(np.float32)
    covered = flat.sum(axis=0)
    return (grid.reshape(n, -1) @ flat / covered).reshape(n, h, w).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# One entry point, and the sanity checks.


_FUNCTIONS: dict[str, Callable] = {
    "saliency": saliency,
    "smoothgrad": smoothgrad,
    "grad_cam": grad_cam,
    "integrated_gradients": integrated_gradients,
    "occlusion": occlusion,
}


def explain(model, x, method: str, class_index=None, **options) -> np.ndarray:
    """The map of ``method`` (one of :data:`METHODS`) for ``x``: ``explain(model, x, "grad_cam", layer=...)``."""
    _validate.one_of(method, "method", METHODS)
    return _FUNCTIONS[method](model, x, class_index, **options)


def randomized_copy(model, seed: int = config.DEFAULT_SEED, *, layers: Iterable[str] | None = None) -> keras.Model:
    """A copy of ``model`` whose weights are freshly initialized (the original is left untouched).

    ``keras.models.clone_model`` rebuilds every layer with its initializers (BatchNorm back to
    identity statistics), seeded through :func:`helpers.config.seed_everything` so a seed gives the
    same copy (this reseeds the global generators, as ``config.setup`` does).

    Args:
        layers: randomize only these layers (paths as in :func:`conv_layers`, e.g. ``"head_dense"``
            or ``"base/block3_conv1"``); the others keep the trained weights. Default: all.
    """
    if not _is_model(model):
        raise TypeError(f"model must be a Keras model. Received: {type(model).__name__}")
    if not model.built or not model.weights:
        raise ValueError(f"{model.name!r} has no weights yet: call it on a batch of images (or train it) first.")
    seed = _validate.seed(seed)
    config.seed_everything(seed)
    copy = keras.models.clone_model(model)
    if not copy.built:
        copy.build(model.input_shape)
    if layers is not None:
        if isinstance(layers, str):
            layers = [layers]
        chosen = {_resolve_layer(model, name) for name in layers}
        pairs = zip(walk_layers(model, leaves_only=True, with_paths=True), walk_layers(copy, leaves_only=True))
        for (path, original), clone in pairs:
            inside = any(path == c or path.startswith(c + "/") for c in chosen)
            if not inside and original.weights:
                clone.set_weights(original.get_weights())
    return copy


def rank_correlation(a, b, *, absolute: bool = True) -> np.ndarray:
    """Spearman rank correlation between two sets of maps, one value per image.

    Args:
        a, b: maps of the same shape, ``(n, h, w)`` (or one map ``(h, w)``).
        absolute: compare ``|a|`` with ``|b|`` (default True, as Adebayo et al.: the sign of an
            attribution flips easily, its importance is what a reader sees).

    A constant map has no ranking: against a varied map the correlation is taken as 0 (nothing in
    common), and NaN when both are constant.
    """
    from scipy.stats import spearmanr

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape. Received shapes {a.shape} and {b.shape}")
    if a.ndim == 2:
        a, b = a[None], b[None]
    if a.ndim != 3 or a.size == 0:
        raise ValueError(
            f"a and b must be maps (n, height, width) or one map (height, width). Received shape={a.shape}"
        )
    _validate.boolean(absolute, "absolute")
    if absolute:
        a, b = np.abs(a), np.abs(b)
    out = np.empty(len(a))
    for i, (u, v) in enumerate(zip(a.reshape(len(a), -1), b.reshape(len(b), -1))):
        flat_u, flat_v = np.ptp(u) == 0, np.ptp(v) == 0
        if flat_u or flat_v:
            out[i] = np.nan if (flat_u and flat_v) else 0.0
        else:
            out[i] = spearmanr(u, v).statistic
    return out


def _options_for(options: Mapping | None, method: str) -> dict:
    if options is None:
        return {}
    if not isinstance(options, Mapping) or any(k not in METHODS for k in options):
        raise ValueError(
            f"options must map method names ({', '.join(METHODS)}) to keyword dicts. Received: {options!r}"
        )
    return dict(options.get(method, {}))


def randomization_test(
    model,
    x,
    methods: Sequence[str] = METHODS,
    *,
    seed: int = config.DEFAULT_SEED,
    class_index=None,
    bound: float = SANITY_BOUND,
    options: Mapping[str, dict] | None = None,
) -> pd.DataFrame:
    """The model-randomization sanity check (Adebayo et al., 2018), one row per method.

    Each method maps ``x`` for the trained ``model`` and for :func:`randomized_copy` (same classes:
    the trained model's predictions unless ``class_index`` says otherwise; Grad-CAM on the same
    layer). A map that explains the model must change when its weights are random: the rank
    correlation of ``|map|`` (:func:`rank_correlation`) should be low.

    Columns: ``method``, ``rank_correlation`` (mean over images), ``spread`` (standard deviation),
    ``min``, ``max``, ``passes`` (mean below ``bound``, default :data:`SANITY_BOUND` = 0.5). The
    per-image values are in ``table.attrs["per_image"]`` (method -> array).

    Args:
        options: keyword arguments per method, e.g. ``{"grad_cam": {"layer": "block2_conv2"}}``.
    """
    x = _check_batch(x)
    methods = _check_methods(methods)
    bound = _validate.number_above(bound, "bound", -1.0)
    classes = _classes_for(model, x, class_index)
    random_model = randomized_copy(model, seed)
    rows, per_image = [], {}
    for method in methods:
        opts = _options_for(options, method)
        if method == "grad_cam":
            opts["layer"] = _grad_cam_layer(model, x, opts.get("layer"))
        trained = explain(model, x, method, classes, **opts)
        randomized = explain(random_model, x, method, classes, **opts)
        rho = rank_correlation(trained, randomized)
        per_image[method] = rho
        rows.append(_summary_row(method, rho, bound))
    table = pd.DataFrame(rows)
    table.attrs["per_image"] = per_image
    table.attrs["bound"] = bound
    return table


def _check_methods(methods) -> tuple[str, ...]:
    if isinstance(methods, str):
        methods = (methods,)
    methods = tuple(methods)
    if not methods:
        raise ValueError(f"methods must name at least one of {', '.join(METHODS)}.")
    for m in methods:
        _validate.one_of(m, "methods", METHODS)
    return methods


def _summary_row(method: str, rho: np.ndarray, bound: float) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: reported as NaN
        mean = float(np.nanmean(rho)) if np.any(np.isfinite(rho)) else float("nan")
        spread = float(np.nanstd(rho)) if np.any(np.isfinite(rho)) else float("nan")
    return {
        "method": method,
        "rank_correlation": mean,
        "spread": spread,
        "min": float(np.nanmin(rho)) if np.any(np.isfinite(rho)) else float("nan"),
        "max": float(np.nanmax(rho)) if np.any(np.isfinite(rho)) else float("nan"),
        "passes": bool(mean < bound),
    }


def cascading_randomization(
    model,
    x,
    method: str = "saliency",
    *,
    seed: int = config.DEFAULT_SEED,
    class_index=None,
    options: Mapping | None = None,
) -> pd.DataFrame:
    """Randomize the layers with weights from the output down, one more at a time (Adebayo et al., 2018).

    Row ``k`` randomizes the top ``k`` weighted layers and reports the rank correlation of ``|map|``
    with the trained model's map (``rank_correlation``, mean over images, and ``spread``). A map
    that explains the model decorrelates as soon as the top layers are random; one that stays high
    while most of the network is random is showing the input, not the model.

    Args:
        options: keyword arguments for ``method``, e.g. ``{"layer": "block2_conv2"}`` for Grad-CAM.
    """
    x = _check_batch(x)
    _validate.one_of(method, "method", METHODS)
    opts = dict(options or {})
    if method == "grad_cam":
        opts["layer"] = _grad_cam_layer(model, x, opts.get("layer"))
    classes = _classes_for(model, x, class_index)
    trained = explain(model, x, method, classes, **opts)
    weighted = [path for path, layer in walk_layers(model, leaves_only=True, with_paths=True) if layer.weights]
    rows = []
    for k in range(1, len(weighted) + 1):
        top = weighted[::-1][:k]
        randomized = explain(randomized_copy(model, seed, layers=top), x, method, classes, **opts)
        row = _summary_row(method, rank_correlation(trained, randomized), SANITY_BOUND)
        rows.append(
            {
                "randomized_down_to": top[-1],
                "layers_randomized": k,
                "rank_correlation": row["rank_correlation"],
                "spread": row["spread"],
            }
        )
    return pd.DataFrame(rows)


def otsu_threshold(intensity, *, bins: int = 64) -> float:
    """Otsu's threshold (1979) of one image's intensities: the level that splits its pixels into two
    groups with the largest between-group variance. Pixels above it are the foreground.

    Used by :func:`region_ratio` for images without a fixed stroke level, such as a coloured object
    on a noisy background.
    """
    values = np.asarray(intensity, dtype=np.float64).ravel()
    bins = _validate.int_at_least(bins, "bins", 2)
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError("intensity must be a non-empty array of finite numbers.")
    low, high = float(values.min()), float(values.max())
    if low == high:
        raise ValueError(f"The image is uniform (every pixel {low:g}): there is no foreground to separate.")
    counts, edges = np.histogram(values, bins=bins, range=(low, high))
    centres = (edges[:-1] + edges[1:]) / 2
    below = np.cumsum(counts)[:-1]  # pixels at or under each candidate edge edges[1:-1]
    above = values.size - below
    sum_below = np.cumsum(counts * centres)[:-1]
    mean_below = sum_below / np.maximum(below, 1)
    mean_above = (np.sum(counts * centres) - sum_below) / np.maximum(above, 1)
    between = below * above * (mean_below - mean_above) ** 2
    between[(below == 0) | (above == 0)] = -1.0
    return float(edges[1:-1][int(np.argmax(between))])


def region_ratio(maps, images, *, threshold: float | str = 0.5) -> np.ndarray:
    """Per image: the mean map value on the stroke divided by the mean on the background.

    The stroke is the pixels whose intensity (mean over the channels for colour images) is above
    ``threshold``; the background is the rest. A ratio above 1 says the map is brighter where the
    digit is. Meant for non-negative maps (saliency, Grad-CAM); pass ``np.abs(m)`` for signed ones
    (integrated gradients), or compare occlusion drops (their background is near 0, so the ratio is
    large; a background mean <= 0 gives ``inf``).

    Args:
        maps: ``(n, height, width)``.
        images: the images mapped, ``(n, height, width[, channels])``.
        threshold: intensity that separates stroke from background (default 0.5, the digits' stroke,
            for images in [0, 1]), or ``"otsu"``: each image's own :func:`otsu_threshold`, for images
            whose object has no fixed grey level (a red disc and a yellow ring on a dark background).
    """
    maps = np.asarray(maps, dtype=np.float64)
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 4:
        images = images.mean(axis=-1)
    if maps.ndim != 3 or images.shape != maps.shape:
        raise ValueError(
            f"maps must be (n, height, width) and images the same images ((n, height, width[, channels])). "
            f"Received shapes {maps.shape} and {np.shape(images)}"
        )
    per_image = isinstance(threshold, str)
    if per_image and threshold != "otsu":
        raise ValueError(f'threshold must be a number or "otsu". Received: threshold={threshold!r}')
    if not per_image:
        threshold = float(_validate.non_negative_number(threshold, "threshold"))
    out = np.empty(len(maps))
    for i, (m, img) in enumerate(zip(maps, images)):
        level = otsu_threshold(img) if per_image else threshold
        stroke = img > level
        if stroke.all() or not stroke.any():
            raise ValueError(
                f"Image {i} has no {'background' if stroke.all() else 'stroke'} at threshold={threshold}: "
                'choose a threshold between its darkest and brightest pixel, or threshold="otsu".'
            )
        background = m[~stroke].mean()
        out[i] = m[stroke].mean() / background if background > 0 else np.inf
    return out
