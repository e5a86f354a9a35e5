"""Checks for ``01_cnn_foundations``: convolution by hand, output sizes, LeNet-5's parameters."""

from __future__ import annotations

import numpy as np

from helpers.checks._core import Hint, exercise, require, require_answers, require_array, require_callable, require_int

__all__ = ["conv2d", "conv_output_size", "lenet5_parameters"]


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


LENET5_EXPECTED = {
    "C1": 6 * (5 * 5 * 1 + 1),
    "C3": 16 * (5 * 5 * 6 + 1),
    "C5": 120 * (5 * 5 * 16 + 1),
    "F6": 84 * (120 + 1),
}
LENET5_OUTPUT = 10 * (84 + 1)  # the 10-class output layer over F6's 84 units


def _lenet5_parameters_reference() -> dict:
    """The four counts of exercise 3, for the cells after it while yours do not pass."""
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
