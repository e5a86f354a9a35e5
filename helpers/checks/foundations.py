"""Checks for ``01_cnn_foundations``: convolution by hand, output sizes, a stack's shapes, LeNet-5's parameters."""

from __future__ import annotations

import numpy as np

from helpers import _validate
from helpers.checks._core import Hint, exercise, require, require_answers, require_array, require_callable, require_int

__all__ = ["conv2d", "conv_output_size", "feature_map_shapes", "lenet5_parameters"]


def _reference_conv2d(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """'valid' cross-correlation: what deep-learning libraries call convolution."""
    kh, kw = kernel.shape
    windows = np.lib.stride_tricks.sliding_window_view(image, (kh, kw))
    return np.einsum("ijkl,kl->ij", windows, kernel)


def _conv2d_reference():
    """The course's ``conv2d`` (vectorized), for the cells after exercise 1 while yours does not pass."""
    return _reference_conv2d


@exercise("Exercise: 2-D convolution by hand", reference=_conv2d_reference)
def conv2d(fn) -> str:
    """``fn(image, kernel)`` must compute a 'valid' 2-D convolution as Keras's Conv2D does."""
    require_callable(fn, "conv2d")
    rng = np.random.default_rng(0)
    for shape, kshape in (((6, 7), (3, 3)), ((9, 8), (3, 2)), ((5, 5), (1, 1))):
        image = rng.normal(size=shape)
        kernel = rng.normal(size=kshape)
        expected = _reference_conv2d(image, kernel)
        result = fn(image.copy(), kernel.copy())
        out_shape = (shape[0] - kshape[0] + 1, shape[1] - kshape[1] + 1)
        got = require_array(result, what=f"conv2d(image {shape}, kernel {kshape})")
        if got.shape == shape and shape != out_shape:
            raise Hint(
                f"Your output has the input's shape {shape}: that is 'same' padding. Without padding a "
                f"{kshape[0]}x{kshape[1]} kernel fits in (H - {kshape[0]} + 1) x (W - {kshape[1]} + 1) "
                f"= {out_shape} positions."
            )
        require(
            got.shape == out_shape,
            f"conv2d(image {shape}, kernel {kshape}) has shape {got.shape}; expected {out_shape} "
            "(H - kh + 1, W - kw + 1). Check your loop ranges.",
        )
        if np.allclose(got, _reference_conv2d(image, kernel[::-1, ::-1])) and not np.allclose(got, expected):
            raise Hint(
                "You flipped the kernel: that is convolution in the signal-processing sense. Keras's "
                "Conv2D (like every deep-learning library) computes cross-correlation: multiply the "
                "window by the kernel as it is, without flipping."
            )
        require(
            np.allclose(got, expected, atol=1e-8),
            f"The shape is right but the values differ (first row: {np.round(got[0, :3], 3)} vs "
            f"expected {np.round(expected[0, :3], 3)}). Each output is sum(window * kernel) over the "
            "window whose top-left corner is at (i, j).",
        )
    return "Your convolution matches the reference on three image/kernel sizes."


def _output_size(n: int, kernel: int, stride: int, padding: int) -> int:
    """Outputs of a convolution along one axis: ``floor((n + 2 * padding - kernel) / stride) + 1``."""
    return (n + 2 * padding - kernel) // stride + 1


def _conv_output_size_reference():
    """The course's ``conv_output_size``, for the cells after exercise 2 while yours does not pass."""
    return _output_size


@exercise("Exercise: output size of a convolution", reference=_conv_output_size_reference)
def conv_output_size(fn) -> str:
    """``fn(n, kernel, stride, padding)`` must return the output length of a conv along one axis."""
    require_callable(fn, "conv_output_size")
    cases = [(28, 5, 1, 0), (28, 5, 1, 2), (32, 3, 2, 1), (14, 2, 2, 0), (7, 7, 1, 0), (227, 11, 4, 0)]
    for n, k, s, p in cases:
        expected = _output_size(n, k, s, p)
        got = fn(n, k, s, p)
        require(got is not None and got is not Ellipsis, "Your function returned nothing. Did you forget `return`?")
        if isinstance(got, float) and got == int(got):
            got = int(got)
        if got == expected:
            continue
        if isinstance(got, float):
            raise Hint(
                f"conv_output_size{(n, k, s, p)} returned {got}, a fraction. Sizes are whole "
                "numbers: use floor division `//`."
            )
        if p and got == (n + p - k) // s + 1:
            raise Hint("Padding is added on both sides of the image: use 2 * padding.")
        if got == (n + 2 * p - k) // s:
            raise Hint(
                f"conv_output_size{(n, k, s, p)} = {got}: you are one short. The first position counts too: add 1."
            )
        require_int(
            got,
            expected,
            f"conv_output_size(n={n}, kernel={k}, stride={s}, padding={p})",
            "The formula is floor((n + 2*padding - kernel) / stride) + 1.",
        )
    return "Your formula gives the right size for six layer configurations (including AlexNet's first)."


def _shape_of(layer) -> tuple[int, ...]:
    """A built layer's output shape without the batch dimension."""
    return tuple(int(v) for v in layer.output.shape[1:])


def _predicted_shape(value, name: str) -> tuple[int, ...]:
    """The learner's ``(height, width, channels)`` for layer ``name``, or a Hint saying what is wrong with it."""
    if value is Ellipsis or value is None:
        raise Hint(f"{name}: replace the `...` with its output shape, a tuple (height, width, channels).")
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        raise Hint(f"{name}: give a tuple of three whole numbers (height, width, channels). Received {value!r}.")
    value = tuple(value)
    if len(value) == 4 and value[0] is None:
        raise Hint(f"{name}: leave out the batch dimension (None): give (height, width, channels).")
    if len(value) != 3:
        raise Hint(f"{name}: a feature map has three sizes, (height, width, channels). Received {len(value)}: {value}.")
    for v in value:
        if not _validate.is_int(v) and not (_validate.is_number(v) and float(v).is_integer()):
            raise Hint(f"{name}: sizes are whole numbers (round down where a size does not divide). Received {value}.")
    return tuple(int(v) for v in value)


def _explain_shape(layer, before: tuple, got: tuple, expected: tuple) -> str:
    """Why ``layer`` turns ``before`` into ``expected`` and not into the learner's ``got``."""
    import keras

    (h, w, c), (gh, gw, gc), (eh, ew, ec) = before, got, expected
    why = []
    if isinstance(layer, keras.layers.Conv2D):
        (kh, kw), (sh, sw), padding = layer.kernel_size, layer.strides, layer.padding
        if gc != ec:
            why.append(
                f"a Conv2D outputs one map per filter: {ec} channels, not the {c} it receives"
                if gc == c
                else f"the channels are the number of filters, {ec}"
            )
        if (gh, gw) != (eh, ew):
            same = (-(-h // sh), -(-w // sw))
            valid = ((h - kh) // sh + 1, (w - kw) // sw + 1)
            unstrided = (h, w) if padding == "same" else (h - kh + 1, w - kw + 1)
            if padding == "valid" and (gh, gw) in (same, (h, w)):
                why.append(
                    f"padding 'valid' adds no zeros, so a {kh}x{kw} kernel at stride {sh} fits "
                    f"floor(({h} - {kh}) / {sh}) + 1 = {eh} times down the height (and {ew} across the width); "
                    "only padding 'same' keeps the size"
                )
            elif padding == "same" and (gh, gw) == valid:
                why.append(
                    f"padding 'same' adds zeros around the maps so that the kernel fits at every pixel: at stride "
                    f"{sh} the size is ceil({h} / {sh}) = {eh} down the height (and {ew} across), whatever the kernel"
                )
            elif max(sh, sw) > 1 and (gh, gw) == unstrided:
                why.append(
                    f"strides={sh} moves the kernel {sh} pixels at a time, so it fits floor(({h} - {kh}) / {sh}) + 1 "
                    f"= {eh} times down the height (and {ew} across the width)"
                )
            elif max(sh, sw) > 1 and (gh, gw) == (-(-(h - kh) // sh) + 1, -(-(w - kw) // sw) + 1):
                why.append(f"round down: floor(({h} - {kh}) / {sh}) + 1 = {eh} (a last, partial step is no position)")
            else:
                why.append(
                    f"with padding '{padding}', kernel {kh}x{kw} and stride {sh}, a {h}x{w} input gives {eh}x{ew} "
                    "(exercise 2's formula: p = 0 for 'valid'; 'same' keeps the size at stride 1)"
                )
    elif isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
        (ph, pw), (sh, sw) = layer.pool_size, layer.strides
        if gc != ec:
            why.append(f"pooling works on each map separately: it keeps the {c} channels")
        if (gh, gw) != (eh, ew):
            if (gh, gw) == (h, w):
                why.append(f"{ph}x{pw} pooling with stride {sh} divides height and width by {sh}: {eh}x{ew}")
            elif (gh, gw) == (-(-h // sh), -(-w // sw)):
                why.append(
                    f"round down: a last row or column that does not fill a {ph}x{pw} window is dropped, "
                    f"so {h}x{w} becomes {eh}x{ew}"
                )
            else:
                why.append(
                    f"{ph}x{pw} pooling with stride {sh} turns {h}x{w} into floor(({h} - {ph}) / {sh}) + 1 = {eh}"
                )
    return "; ".join(why) or f"Keras gives {expected} for this {type(layer).__name__} layer"


@exercise("Exercise: predict the feature-map shapes")
def feature_map_shapes(predicted: dict, model) -> str:
    """``predicted`` maps each layer name of the built ``model`` to its output ``(height, width, channels)``.

    A wrong shape gets the reason (padding, stride, pooling's rounding down, channels = filters); a shape
    that is the right rule applied to the learner's own wrong shape before it says so.
    """
    import keras

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    names = [layer.name for layer in layers]
    require(
        isinstance(predicted, dict),
        f"Pass a dict of layer name -> (height, width, channels), like {{{names[0]!r}: (..., ..., ...)}}. "
        f"Received {type(predicted).__name__}.",
    )
    missing = [n for n in names if n not in predicted]
    require(not missing, f"Add your prediction for {', '.join(missing)}.")
    shapes = {n: _predicted_shape(predicted[n], n) for n in names}
    before = previous = tuple(int(v) for v in model.inputs[0].shape[1:])
    wrong = []
    for i, (layer, name) in enumerate(zip(layers, names)):
        expected, got = _shape_of(layer), shapes[name]
        if got != expected:
            try:
                carried = tuple(int(v) for v in layer.compute_output_shape((None, *previous))[1:])
            except Exception:  # noqa: BLE001 - a shape that no layer of this kind accepts
                carried = None
            if previous != before and got == carried:
                wrong.append(f"{name}: the right rule, applied to your {names[i - 1]} shape (fix that one first)")
            else:
                why = _explain_shape(layer, before, got, expected)
                wrong.append(f"{name}: you predicted {got}, Keras gives {expected}: {why}")
        before, previous = expected, got
    if wrong:
        raise Hint(f"{len(wrong)} of {len(names)} shapes differ. " + ". ".join(wrong) + ".")
    first, last = tuple(int(v) for v in model.inputs[0].shape[1:]), _shape_of(layers[-1])
    return (
        f"All {len(names)} shapes right: the stack turns {first[0]}x{first[1]}x{first[2]} = {int(np.prod(first)):,} "
        f"values into {last[0]}x{last[1]}x{last[2]} = {int(np.prod(last)):,}. Height and width fell with "
        "'valid' padding, stride and pooling; the channels are each convolution's number of filters."
    )


LENET5_EXPECTED = {
    "C1": 6 * (5 * 5 * 1 + 1),
    "C3": 16 * (5 * 5 * 6 + 1),
    "C5": 120 * (5 * 5 * 16 + 1),
    "F6": 84 * (120 + 1),
}
LENET5_OUTPUT = 10 * (84 + 1)  # the 10-class output layer over F6's 84 units


def _lenet5_parameters_reference() -> dict:
    """The four counts of exercise 4, for the cells after it while yours do not pass."""
    return dict(LENET5_EXPECTED)


@exercise("Exercise: count LeNet-5's parameters", reference=_lenet5_parameters_reference)
def lenet5_parameters(answers: dict) -> str:
    """``answers`` maps 'C1', 'C3', 'C5', 'F6' to the number of trainable parameters of each layer."""
    require_answers(answers, LENET5_EXPECTED)
    for name, expected in LENET5_EXPECTED.items():
        got = answers[name]
        weights_only = expected - expected // {"C1": 26, "C3": 151, "C5": 401, "F6": 121}[name]
        if got == weights_only:
            raise Hint(f"{name}: {got} counts the weights but not the biases: each filter (or unit) has one bias too.")
        require_int(
            got,
            expected,
            f"{name}",
            "A conv layer has filters x (kernel_h x kernel_w x input_channels + 1) parameters; "
            "a dense layer has units x (inputs + 1).",
        )
    total = sum(LENET5_EXPECTED.values()) + LENET5_OUTPUT
    return (
        f"All four counts are right, biases included. With the output layer's {LENET5_OUTPUT} that makes "
        f"{total:,}; the largest layer is C5 ({LENET5_EXPECTED['C5'] / total:.0%}), the extractor's last convolution."
    )
