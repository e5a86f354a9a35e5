"""Checks for ``03_architecture``: receptive fields, head parameters, Flatten vs GAP model sizes, conv FLOPs,
a residual block."""

from __future__ import annotations

import numpy as np

from helpers import _validate
from helpers.checks._core import Hint, exercise, require, require_answers, require_callable, require_int

__all__ = [
    "receptive_field_growth",
    "head_parameters",
    "flatten_gap_ratio",
    "conv_layer_flops",
    "residual_block_shapes",
]


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


RATIO_TOLERANCE = 0.10  # a predicted ratio passes within 10 % of the measured one


def _sizes(flatten_model, gap_model) -> dict:
    """What makes up the two models' parameter counts: the shared feature extractor, the Dense layer after
    the head's Flatten or GAP (with the size of the maps it reads), and everything else."""
    import keras

    from helpers import model_stats

    out = {}
    for head, model in (("flatten", flatten_model), ("gap", gap_model)):
        table = model_stats.layer_table(model)
        # the first Dense layer reads the head's vector
        dense = next((layer for layer in model.layers if isinstance(layer, keras.layers.Dense)), None)
        if dense is None:
            raise ValueError(f"the {head} model {model.name!r} has no Dense layer after its head")
        out[head] = {
            "total": int(model.count_params()),
            "features": int(table.loc[table["part"] == "features", "params"].sum()),
            "head": int(table.loc[table["part"] == "head", "params"].sum()),
            "dense": int(dense.count_params()),
            "units": int(dense.units),
        }
    maps = [layer for layer in flatten_model.layers if isinstance(layer, keras.layers.Flatten)][0].input.shape[1:]
    pools = [layer for layer in flatten_model.layers if isinstance(layer, keras.layers.MaxPooling2D)]
    out["maps"] = tuple(int(v) for v in maps)
    out["unpooled"] = tuple(int(v) for v in pools[-1].input.shape[1:]) if pools else out["maps"]
    return out


def _near(got: float, value: float) -> bool:
    return abs(got / value - 1) <= RATIO_TOLERANCE


@exercise("Exercise: predict how much larger the Flatten model is")
def flatten_gap_ratio(predicted: dict, models: dict) -> str:
    """``predicted`` maps each depth (``"2 blocks"``, ``"3 blocks"``) to the learner's ratio of parameters,
    whole Flatten model / whole GAP model; ``models`` holds ``"flatten, <depth>"`` and ``"gap, <depth>"``
    for each, the notebook's built models. It passes within :data:`RATIO_TOLERANCE` of ``count_params()``.
    """
    require_answers(predicted, ["2 blocks", "3 blocks"])
    measured = {}
    for depth in ("2 blocks", "3 blocks"):
        got = predicted[depth]
        require(
            _validate.is_number(got),
            f"{depth}: give a number, Flatten's count divided by GAP's, like 2.5. Received {got!r}.",
        )
        got = float(got)
        s = _sizes(models[f"flatten, {depth}"], models[f"gap, {depth}"])
        flat, gap = s["flatten"], s["gap"]
        ratio = flat["total"] / gap["total"]
        measured[depth] = (ratio, s)
        h, w, c = s["maps"]
        said = (
            f"{depth}: you predicted {got:g}, count_params() gives {flat['total']:,} / {gap['total']:,} = {ratio:.2f}"
        )
        if _near(got, ratio):
            continue
        if got <= 1:
            raise Hint(
                f"{said}. The Flatten model is the larger one: give its count divided by the GAP model's, a "
                "number above 1."
            )
        uh, uw, _ = s["unpooled"]
        unpooled = (flat["total"] - flat["dense"] + (uh * uw * c + 1) * flat["units"]) / gap["total"]
        mistakes = {"heads": flat["head"] / gap["head"], "dense": flat["dense"] / gap["dense"]}
        if (uh, uw) != (h, w):
            mistakes["unpooled"] = unpooled
        closest = min(mistakes, key=lambda k: abs(got / mistakes[k] - 1))
        if _near(got, mistakes[closest]) and closest == "unpooled":
            raise Hint(
                f"{said}. Close to what {uh}x{uw}x{c} maps would give: the last block ends with a 2x2 pooling "
                f"too, so Flatten reads {h}x{w}x{c} = {h * w * c:,} values."
            )
        if _near(got, mistakes[closest]):
            alone = (
                f"the heads alone ({flat['head']:,} / {gap['head']:,})"
                if closest == "heads"
                else f"the Dense layers after Flatten and GAP alone ({flat['dense']:,} / {gap['dense']:,})"
            )
            raise Hint(
                f"{said}. That is about the ratio of {alone}. Both models also hold the same feature extractor "
                f"({flat['features']:,} parameters){'' if closest == 'heads' else ' and output layer'}, in each "
                "total too: what both share pulls the ratio towards 1."
            )
        raise Hint(
            f"{said}. Count each whole model: the same feature extractor in both, then a Dense({flat['units']}) "
            f"with a weight per input and unit plus a bias per unit: after Flatten its inputs are the {h}x{w}x{c} "
            f"maps' {h * w * c:,} values, after GAP the {c} channel averages; the output layer is the same too."
        )
    lines, maps = [], {}
    for depth, (ratio, s) in measured.items():
        h, w, c = maps[depth] = s["maps"]
        lines.append(
            f"{depth}: {s['flatten']['total']:,} / {s['gap']['total']:,} = {ratio:.1f}x, Flatten's Dense reads "
            f"{h}x{w}x{c} = {h * w * c:,} values, GAP's {c}"
        )
    (h2, w2, c2), (h3, w3, c3) = maps["2 blocks"], maps["3 blocks"]
    fell = "fell" if measured["3 blocks"][0] < measured["2 blocks"][0] else "did not fall"
    return (
        f"Both within {RATIO_TOLERANCE:.0%}. " + "; ".join(lines) + ". The feature extractor and the output layer "
        "are the same in each pair; the difference is the Dense layer after the head, whose weights scale with "
        f"H*W*C after Flatten and with C after GAP. The third pooling shrank H*W from {h2 * w2} to {h3 * w3} while "
        f"C went from {c2} to {c3}, and the extractor grew: the ratio {fell}."
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
    """The course's ``conv_flops``, for the cells after exercise 4 while yours does not pass."""
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
