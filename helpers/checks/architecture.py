"""Checks for ``03_architecture``: receptive fields, head parameters, conv FLOPs, a residual block."""

from __future__ import annotations

import numpy as np

from helpers.checks._core import Hint, exercise, require, require_answers, require_callable, require_int

__all__ = ["receptive_field_growth", "head_parameters", "conv_layer_flops", "residual_block_shapes"]


def _reference_receptive_fields(layer_specs) -> list[int]:
    rf, jump, out = 1, 1, []
    for kernel, stride in layer_specs:
        rf += (kernel - 1) * jump
        jump *= stride
        out.append(rf)
    return out


def _growth_without_jump(layer_specs) -> list[int]:
    rf, out = 1, []
    for kernel, _ in layer_specs:
        rf += kernel - 1
        out.append(rf)
    return out


def _growth_jump_updated_first(layer_specs) -> list[int]:
    rf, jump, out = 1, 1, []
    for kernel, stride in layer_specs:
        jump *= stride
        rf += (kernel - 1) * jump
        out.append(rf)
    return out


def _receptive_field_growth_reference():
    """The course's ``receptive_field_sizes``, for the cells after exercise 1 while yours does not pass."""
    return _reference_receptive_fields


RF_CASES = (
    [(3, 1), (3, 1), (2, 2), (3, 1), (3, 1), (2, 2)],  # two blocks of simple_cnn
    [(5, 1), (2, 2), (5, 1), (2, 2), (5, 1)],  # LeNet-5's C1 S2 C3 S4 C5
    [(7, 2), (3, 2), (3, 1), (3, 1)],  # a ResNet-style stem
)


@exercise("Exercise: receptive field growth", reference=_receptive_field_growth_reference)
def receptive_field_growth(fn) -> str:
    """``fn(layers)`` takes ``[(kernel, stride), ...]`` and returns the receptive field after each layer."""
    require_callable(fn, "receptive_field_sizes")
    for specs in RF_CASES:
        expected = _reference_receptive_fields(specs)
        got = fn(list(specs))
        require(got is not None and got is not Ellipsis, "Your function returned nothing. Did you forget `return`?")
        if np.isscalar(got):
            raise Hint(
                f"Return one receptive field per layer (a list of {len(specs)} numbers), not a single "
                f"number. Received {got!r}."
            )
        got = [int(v) if isinstance(v, (int, float, np.integer, np.floating)) and v == int(v) else v for v in got]
        if got == expected:
            continue
        require(len(got) == len(expected), f"For {len(specs)} layers return {len(specs)} values; received {len(got)}.")
        if got == _growth_without_jump(specs):
            raise Hint(
                f"For {specs} you return {got}: the field grows by (kernel - 1) at every layer. After a "
                "stride-2 layer, neighbouring outputs are 2 input pixels apart, so every later kernel "
                "step covers more: grow by (kernel - 1) * jump, where jump = product of earlier strides."
            )
        if got == _growth_jump_updated_first(specs):
            raise Hint(
                f"For {specs} you return {got}: you multiply the jump by the current layer's stride "
                "before growing the field. A layer's own stride only spaces out *its outputs*: grow "
                "with the old jump, then update jump *= stride."
            )
        if got == [v - 1 for v in expected]:
            raise Hint("You are one short everywhere: start from a field of 1 (one input pixel sees itself), not 0.")
        raise Hint(
            f"For layers {specs} the fields should be {expected}; you returned {got}. Start at rf = 1, "
            "jump = 1; for each layer: rf += (kernel - 1) * jump, then jump *= stride."
        )
    return (
        "Right for three stacks. Note LeNet-5's C5 sees 32x32 pixels: more than the whole 28x28 image, "
        "which is why it can end in a 1x1 map."
    )


HEAD_EXPECTED = {"flatten": (7 * 7 * 32 + 1) * 64, "gap": (32 + 1) * 64}


@exercise("Exercise: parameters of a Flatten head and a GAP head")
def head_parameters(answers: dict) -> str:
    """``answers = {"flatten": n, "gap": m}``: parameters of Dense(64) after 7x7x32 maps, per head."""
    require_answers(answers, HEAD_EXPECTED)
    for name, expected in HEAD_EXPECTED.items():
        got = answers[name]
        inputs = 7 * 7 * 32 if name == "flatten" else 32
        if got == inputs * 64:
            raise Hint(f"{name}: {got} counts the weights but not the 64 biases.")
        if name == "flatten" and got in (7 * 7 * 64, (7 * 7 + 1) * 64):
            raise Hint("flatten: Flatten keeps every value of the 7x7x32 maps: 1,568 inputs, not 49.")
        if name == "gap" and got in (7 * 7 * 32 * 64, (7 * 7 * 32 + 1) * 64):
            raise Hint("gap: global average pooling leaves one number per channel: 32 inputs, whatever the map size.")
        require_int(got, expected, name, "A dense layer with n inputs and u units has u * (n + 1) parameters.")
    ratio = HEAD_EXPECTED["flatten"] / HEAD_EXPECTED["gap"]
    return (
        f"Both right: the Flatten head needs {ratio:.0f}x more parameters, and its size grows with the "
        "image; the GAP head's does not."
    )


CONV_CASES = ((28, 28, 3, 1, 16), (14, 14, 3, 16, 32), (7, 7, 5, 32, 8), (10, 6, 1, 3, 4))


def _conv_flops(h_out: int, w_out: int, kernel: int, c_in: int, c_out: int) -> int:
    """What ``model_stats.layer_flops`` counts for a Conv2D (with bias) with this output size."""
    import keras

    from helpers import model_stats

    conv = keras.layers.Conv2D(c_out, kernel, padding="same")
    conv(keras.Input((h_out, w_out, c_in)))  # called once, so the layer knows its input and output shapes
    return model_stats.layer_flops(conv)


def _conv_layer_flops_reference():
    """The course's ``conv_flops``, for the cells after exercise 3 while yours does not pass."""
    return _conv_flops


@exercise("Exercise: FLOPs of a convolution layer", reference=_conv_layer_flops_reference)
def conv_layer_flops(fn) -> str:
    """``fn(h_out, w_out, kernel, c_in, c_out)``: forward FLOPs of a Conv2D with a bias (course convention)."""
    require_callable(fn, "conv_flops")
    for h, w, k, c_in, c_out in CONV_CASES:
        expected = _conv_flops(h, w, k, c_in, c_out)
        got = fn(h, w, k, c_in, c_out)
        require(
            got is not None and got is not Ellipsis,
            "Your function returned nothing: replace the `...` with `return <your formula>`.",
        )
        if isinstance(got, float) and got == int(got):
            got = int(got)
        if got == expected:
            continue
        macs = h * w * k * k * c_in * c_out
        what = f"conv_flops(h_out={h}, w_out={w}, kernel={k}, c_in={c_in}, c_out={c_out})"
        if got in (macs, macs + h * w * c_out):
            raise Hint(
                f"{what} = {got} counts multiply-adds. The convention is 1 multiply-add = 2 FLOPs "
                "(a multiplication and an addition)."
            )
        if got == 2 * macs:
            raise Hint(f"{what} = {got}: close. Add the bias: one addition per output value (h_out * w_out * c_out).")
        if got in (2 * h * w * k * k * c_out + h * w * c_out, 2 * h * w * k * c_in * c_out + h * w * c_out):
            raise Hint(
                f"{what} = {got}: each output value sums over a kernel x kernel window in *every* "
                "input channel: kernel * kernel * c_in multiply-adds."
            )
        require_int(
            got, expected, what, "FLOPs = 2 * h_out * w_out * kernel * kernel * c_in * c_out + h_out * w_out * c_out."
        )
    return "Your formula matches model_stats.count_flops on four layers."


def _zero_convs(model) -> int:
    import keras

    n = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
            n += 1
    return n


@exercise("Exercise: a residual block")
def residual_block_shapes(fn) -> str:
    """``fn(x, filters)`` returns ``relu(F(x) + shortcut(x))`` with a 1x1 projection when channels change."""
    import keras

    require_callable(fn, "residual_block")
    inputs = keras.Input(shape=(8, 8, 4))
    out = fn(inputs, 4)
    require(out is not None and out is not Ellipsis, "Your block returned nothing. Did you forget `return`?")
    require(
        hasattr(out, "shape") and tuple(out.shape) == (None, 8, 8, 4),
        f"With filters equal to the input's 4 channels the block must keep the shape (None, 8, 8, 4). "
        f"Received: {getattr(out, 'shape', type(out).__name__)}. Use padding='same' and stride 1.",
    )
    model = keras.Model(inputs, out)
    kinds = [type(layer).__name__ for layer in model.layers]
    require(
        "Add" in kinds,
        "There is no Add layer: the skip connection is missing. End with layers.Add()([y, shortcut]) and then a ReLU.",
    )
    n_convs = sum(isinstance(layer, keras.layers.Conv2D) for layer in model.layers)
    require(n_convs >= 2, f"F(x) should have two 3x3 convolutions; found {n_convs} Conv2D layer(s).")
    _zero_convs(model)
    x = np.random.default_rng(0).normal(size=(3, 8, 8, 4)).astype(np.float32)
    y = np.asarray(model(x, training=False))
    passes = np.allclose(y, np.maximum(x, 0), atol=1e-4) or np.allclose(y, x, atol=1e-4)
    if not passes:
        if np.allclose(y, 0, atol=1e-4):
            raise Hint(
                "With all conv weights set to zero your block outputs zeros: the input never reaches "
                "the output. Add the block's *input* x as the shortcut: layers.Add()([y, x])."
            )
        raise Hint(
            "With all conv weights set to zero, a residual block should output relu(x) (F(x) = 0, so "
            "only the shortcut is left). Yours outputs something else: is the shortcut the "
            "block's input, unchanged when the shape does not change?"
        )
    inputs = keras.Input(shape=(8, 8, 4))
    try:
        wider = fn(inputs, 8)
    except ValueError as exc:
        raise Hint(
            "With filters=8 on a 4-channel input the shapes of F(x) and x differ, so Add fails "
            f"({str(exc).splitlines()[0][:120]}). Project the shortcut first: "
            "layers.Conv2D(filters, 1)(x) when x.shape[-1] != filters."
        ) from None
    require(
        tuple(wider.shape) == (None, 8, 8, 8),
        f"residual_block(x, 8) on (8, 8, 4) inputs should give (None, 8, 8, 8); received {tuple(wider.shape)}.",
    )
    n_bn = sum(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)
    require(
        n_bn >= 2,
        f"F(x) should be conv -> BatchNorm -> ReLU -> conv -> BatchNorm, as in He et al. (2016); found {n_bn} "
        "BatchNormalization layer(s). BN after each convolution is what keeps a deep stack trainable.",
    )
    return "Your block passes its input through when F(x) = 0, and projects the shortcut when channels change."
