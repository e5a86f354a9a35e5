"""What a model costs and what it sees: parameters, forward FLOPs and receptive fields, per layer.

Introduced in ``03_architecture``; ``bench/`` reuses :func:`count_flops`.

FLOP convention (the one most papers and TensorFlow's profiler use):

* **1 multiply-add = 2 FLOPs.** A Conv2D with a ``kh x kw`` kernel over ``c_in`` channels does
  ``kh * kw * c_in`` multiply-adds per output value, so ``2 * H_out * W_out * kh * kw * c_in * c_out``
  FLOPs (divided by ``groups``), plus **1 FLOP per output for the bias** when it has one.
  A Dense layer with ``n`` inputs and ``u`` units: ``2 * n * u`` (+ ``u`` for the bias).
* **BatchNormalization at inference: 2 FLOPs per element** (its four statistics fold into one
  scale and one shift).
* **Pooling:** max pooling ``ph * pw - 1`` comparisons per output; average pooling ``ph * pw``
  (adds and one division); global pooling likewise over the whole map.
* **Merges:** ``Add`` (a residual shortcut) ``(inputs - 1)`` FLOPs per output element.
* **Counted as 0:** activations (ReLU, softmax), Dropout, Flatten, reshapes, preprocessing and
  augmentation layers. They are cheap next to convolutions, and their cost depends on the kernel
  library rather than on the model.

Counts are per image, for one forward pass at inference. Training costs about 3x that (the backward
pass computes two gradients per weight), the rule of thumb ``bench/`` uses.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import keras
import numpy as np
import pandas as pd

from helpers.models import walk_layers

__all__ = [
    "layer_flops",
    "count_flops",
    "layer_table",
    "receptive_fields",
    "compare_models",
    "gradient_norms",
    "activation_scales",
]

_VECTORIZING = (keras.layers.Flatten, keras.layers.GlobalAveragePooling2D, keras.layers.GlobalMaxPooling2D)
_MERGES_PAIRWISE = (
    keras.layers.Add,
    keras.layers.Subtract,
    keras.layers.Multiply,
    keras.layers.Maximum,
    keras.layers.Minimum,
)


def _check_model(model) -> keras.Model:
    if not isinstance(model, keras.Model):
        raise TypeError(f"Expected a Keras model. Received: {type(model).__name__}")
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise ValueError(
            f"Model {model.name!r} has no defined input shape yet. Start it with keras.Input(shape=...) "
            "or call model.build((None, height, width, channels)) first."
        )
    return model


def _model_input(model):
    """The model's input tensor (the list only for several inputs), so a probe model built on it
    takes a plain array without Keras warning that the input structure differs."""
    return model.inputs[0] if len(model.inputs) == 1 else model.inputs


def _as_list(tensors) -> list:
    return list(tensors) if isinstance(tensors, (list, tuple)) else [tensors]


def _shape(tensor) -> tuple[int, ...]:
    """Shape without the batch axis; every axis must be known."""
    shape = tuple(tensor.shape[1:])
    if any(d is None for d in shape):
        raise ValueError(f"Shapes must be fully known to count FLOPs. Received shape={tuple(tensor.shape)}")
    return tuple(int(d) for d in shape)


def _pair(value) -> tuple[int, int]:
    return (int(value), int(value)) if np.isscalar(value) else (int(value[0]), int(value[1]))


def _io_shapes(layer) -> tuple[list[tuple[int, ...]], tuple[int, ...]]:
    try:
        inputs, output = _as_list(layer.input), layer.output
    except (AttributeError, ValueError) as exc:
        raise ValueError(
            f"Layer {layer.name!r} has not been called on an input yet; count the layers of a built model."
        ) from exc
    return [_shape(t) for t in inputs], _shape(_as_list(output)[0])


def layer_flops(layer, *, unknown: str = "raise") -> int:
    """Forward FLOPs per image of one layer of a built model (see the module's convention).

    A nested model counts as the sum of its layers.

    Args:
        layer: a layer that has been called once inside a model.
        unknown: what to do with a layer type that has weights but no rule here: ``"raise"``
            (default, so a count is never silently wrong) or ``"ignore"`` (count it as 0).
    """
    if unknown not in ("raise", "ignore"):
        raise ValueError(f"unknown must be 'raise' or 'ignore'. Received: unknown={unknown!r}")
    if isinstance(layer, keras.Model):
        return count_flops(layer, unknown=unknown)
    if isinstance(layer, keras.layers.InputLayer):
        return 0
    in_shapes, out_shape = _io_shapes(layer)
    out_elems = math.prod(out_shape)
    has_bias = bool(getattr(layer, "use_bias", False))
    bias = out_elems if has_bias else 0
    if isinstance(layer, keras.layers.SeparableConv2D):
        kh, kw = _pair(layer.kernel_size)
        c_in = in_shapes[0][-1]
        spatial = out_shape[0] * out_shape[1]
        mid = c_in * layer.depth_multiplier
        return 2 * spatial * mid * (kh * kw + out_shape[-1]) + bias
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        kh, kw = _pair(layer.kernel_size)
        return 2 * out_elems * kh * kw + bias
    if isinstance(layer, keras.layers.Conv2D):
        kh, kw = _pair(layer.kernel_size)
        c_in = in_shapes[0][-1]
        return 2 * out_elems * kh * kw * (c_in // layer.groups) + bias
    if isinstance(layer, keras.layers.Dense):
        return 2 * out_elems * in_shapes[0][-1] + bias
    if isinstance(layer, keras.layers.BatchNormalization):
        return 2 * out_elems
    if isinstance(layer, keras.layers.MaxPooling2D):
        ph, pw = _pair(layer.pool_size)
        return out_elems * (ph * pw - 1)
    if isinstance(layer, keras.layers.AveragePooling2D):
        ph, pw = _pair(layer.pool_size)
        return out_elems * ph * pw
    if isinstance(layer, keras.layers.GlobalAveragePooling2D):
        return math.prod(in_shapes[0])
    if isinstance(layer, keras.layers.GlobalMaxPooling2D):
        return math.prod(in_shapes[0]) - in_shapes[0][-1]
    if isinstance(layer, _MERGES_PAIRWISE):
        return (len(in_shapes) - 1) * out_elems
    if isinstance(layer, keras.layers.Average):
        return len(in_shapes) * out_elems
    if layer.weights and unknown == "raise":
        raise ValueError(
            f"count_flops has no rule for layer {layer.name!r} ({type(layer).__name__}), which has weights. "
            "It counts Conv2D, DepthwiseConv2D, SeparableConv2D, Dense, BatchNormalization, pooling and "
            "merge layers. Pass unknown='ignore' to count it as 0."
        )
    return 0


def count_flops(model: keras.Model, *, unknown: str = "raise") -> int:
    """Forward FLOPs for one image through ``model`` (1 multiply-add = 2 FLOPs; see the module doc).

    Example: a 3x3 Conv2D with 8 filters on a 28x28x1 image ('same' padding, with bias) costs
    ``2 * 28 * 28 * 3 * 3 * 1 * 8 + 28 * 28 * 8 = 119,168`` FLOPs.

    Nested models (a pretrained backbone) are expanded. A layer shared by several calls is counted
    once, for its first call.
    """
    _check_model(model)
    return int(sum(layer_flops(layer, unknown=unknown) for layer in walk_layers(model, leaves_only=True)))


def layer_table(model: keras.Model, *, unknown: str = "raise") -> pd.DataFrame:
    """One row per layer: type, part (``features`` or ``head``), output shape, parameters, FLOPs.

    The **head** starts at the first layer that turns feature maps into a vector (Flatten or global
    pooling); everything before it is the **feature extractor**.
    """
    _check_model(model)
    rows, part = [], "features"
    for name, layer in walk_layers(model, leaves_only=True, with_paths=True):
        if isinstance(layer, _VECTORIZING):
            part = "head"
        _, out_shape = _io_shapes(layer)
        rows.append(
            {
                "layer": name,
                "type": type(layer).__name__,
                "part": part,
                "output_shape": out_shape,
                "params": int(layer.count_params()),
                "flops": int(layer_flops(layer, unknown=unknown)),
            }
        )
    return pd.DataFrame(rows, columns=["layer", "type", "part", "output_shape", "params", "flops"])


_RF_KERNELS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)
_RF_POOLS = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)


def _rf_step(layer) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """``(effective kernel, stride)`` per axis for conv and pooling layers, else None."""
    if isinstance(layer, _RF_KERNELS):
        (kh, kw), (dh, dw) = _pair(layer.kernel_size), _pair(layer.dilation_rate)
        return (dh * (kh - 1) + 1, dw * (kw - 1) + 1), _pair(layer.strides)
    if isinstance(layer, _RF_POOLS):
        return _pair(layer.pool_size), _pair(layer.strides)
    return None


def _rf_walk(model: keras.Model, start, prefix: str, rows: list) -> tuple:
    state = {id(t): start for t in model.inputs}
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        known = [state[id(t)] for t in _as_list(layer.input) if id(t) in state]
        rf, jump = max(known) if known else start  # several inputs (a shortcut): the largest field
        name = f"{prefix}{layer.name}"
        if isinstance(layer, keras.Model):
            rf, jump = _rf_walk(layer, (rf, jump), f"{name}/", rows)
        elif isinstance(layer, _VECTORIZING) or getattr(layer, "output", None) is None:
            continue
        else:
            step = _rf_step(layer)
            if step is not None:
                kernel, stride = step
                rf = tuple(r + (k - 1) * j for r, k, j in zip(rf, kernel, jump))
                jump = tuple(j * s for j, s in zip(jump, stride))
                out = _shape(_as_list(layer.output)[0])

                def squash(v):
                    return v[0] if v[0] == v[1] else v

                rows.append(
                    {
                        "layer": name,
                        "type": type(layer).__name__,
                        "kernel": squash(kernel),
                        "stride": squash(stride),
                        "jump": squash(jump),
                        "receptive_field": squash(rf),
                        "output_size": f"{out[0]}x{out[1]}",
                    }
                )
        for t in _as_list(layer.output):
            state[id(t)] = (rf, jump)
    outs = [state[id(t)] for t in model.outputs if id(t) in state]
    return max(outs) if outs else start


def receptive_fields(model: keras.Model) -> pd.DataFrame:
    """The receptive field of every conv and pooling layer: how many input pixels (per side) one
    of its outputs can see.

    Going through a layer with (effective) kernel ``k`` and stride ``s``, the field grows by
    ``(k - 1) * jump`` where ``jump`` is the product of all earlier strides (the distance, in input
    pixels, between neighbouring outputs of the previous layer); then ``jump`` is multiplied by
    ``s``. Dilation ``d`` makes the effective kernel ``d * (k - 1) + 1``. Layers that do not mix
    neighbouring pixels (BatchNorm, ReLU, dropout) leave the field unchanged; where branches meet
    (a residual ``Add``) the larger field counts. Padding does not change the size of the field.

    Returns:
        A DataFrame with columns ``layer, type, kernel, stride, jump, receptive_field, output_size``
        (kernel, stride, jump and field are integers for square layers, ``(h, w)`` tuples otherwise).
    """
    _check_model(model)
    rows: list[dict] = []
    _rf_walk(model, ((1, 1), (1, 1)), "", rows)
    return pd.DataFrame(rows, columns=["layer", "type", "kernel", "stride", "jump", "receptive_field", "output_size"])


def compare_models(
    models: Mapping[str, keras.Model], metrics: Mapping[str, Mapping[str, float]] | None = None
) -> pd.DataFrame:
    """Compare models in one table: parameters (total, feature extractor, head), forward MFLOPs
    per image, and any measured metrics.

    Args:
        models: ``{"name": model}``.
        metrics: optional ``{"name": {"val_accuracy": 0.97, ...}}``; each becomes a column
            (names missing a value get NaN).
    """
    if not isinstance(models, Mapping) or not models:
        raise ValueError("models must be a non-empty dict like {'gap': model_a, 'flatten': model_b}.")
    metrics = dict(metrics or {})
    unknown_names = sorted(set(metrics) - set(models))
    if unknown_names:
        raise ValueError(f"metrics names {unknown_names} are not in models ({', '.join(models)}).")
    rows = {}
    for name, model in models.items():
        table = layer_table(model)
        by_part = table.groupby("part")["params"].sum()
        rows[name] = {
            "params": int(table["params"].sum()),
            "feature_params": int(by_part.get("features", 0)),
            "head_params": int(by_part.get("head", 0)),
            "mflops": table["flops"].sum() / 1e6,
            **metrics.get(name, {}),
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "model"
    return out


def gradient_norms(model: keras.Model, x: np.ndarray, y: np.ndarray) -> pd.Series:
    """The L2 norm of the loss gradient for every Conv2D/Dense kernel, from input to output.

    One batch, ``training=True``, sparse cross-entropy on integer labels ``y``. At initialization
    this shows whether a deep network passes a usable signal back to its first layers (a plain
    deep stack without normalization shrinks it layer by layer; shortcuts carry it through).
    TensorFlow backend.
    """
    import tensorflow as tf

    _check_model(model)
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    if len(x) == 0 or len(x) != len(y):
        raise ValueError(f"x and y must be non-empty and of equal length. Received: {len(x)} and {len(y)}")
    kernels = [
        (name, layer.kernel)
        for name, layer in walk_layers(model, leaves_only=True, with_paths=True)
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))
    ]
    if not kernels:
        raise ValueError(f"Model {model.name!r} has no Conv2D or Dense kernels.")
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, [k for _, k in kernels])
    return pd.Series(
        {name: float(tf.norm(g)) if g is not None else 0.0 for (name, _), g in zip(kernels, grads)},
        name="gradient_norm",
    )


def _is_relu(layer) -> bool:
    if isinstance(layer, keras.layers.ReLU):
        return True
    activation = getattr(layer, "activation", None)
    return isinstance(layer, keras.layers.Activation) and getattr(activation, "__name__", "") == "relu"


def activation_scales(model: keras.Model, x: np.ndarray) -> pd.Series:
    """The root mean square of every ReLU layer's output on the batch ``x``, from input to output.

    The companion of :func:`gradient_norms` for the forward pass: at initialization it shows whether
    the signal keeps its scale through depth. With Glorot's initialization (Keras's default) each
    ReLU layer of equal width halves the mean square, so the RMS falls by about ``1/sqrt(2)`` per
    layer; He initialization (variance ``2 / fan_in``) keeps it roughly constant; a shortcut adds
    the block's input back. Runs with ``training=True`` (BatchNorm normalizes with the batch's
    statistics, as in :func:`gradient_norms`; dropout, if any, is active).

    Only the model's own layers are measured (not those inside a nested model), and the model must
    be functional (built from ``keras.Input``), so that each layer's output can be tapped.
    """
    _check_model(model)
    relus = [layer for layer in model.layers if _is_relu(layer)]
    if not relus:
        raise ValueError(
            f"Model {model.name!r} has no ReLU layers of its own (Activation('relu') or ReLU) to measure. "
            "Activations fused into a Conv2D (activation='relu') cannot be tapped: use a separate Activation layer."
        )
    x = np.asarray(x, dtype=np.float32)
    if len(x) == 0:
        raise ValueError("x must hold at least one example.")
    try:
        probe = keras.Model(model.input, [layer.output for layer in relus])
    except (AttributeError, ValueError) as exc:
        raise ValueError(
            f"Model {model.name!r} is not a functional model; build it from keras.Input to measure its activations."
        ) from exc
    outputs = probe(x, training=True)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return pd.Series(
        {layer.name: float(np.sqrt(np.mean(np.square(np.asarray(out))))) for layer, out in zip(relus, outputs)},
        name="activation_rms",
    )
