"""Self-checks of 01_cnn_foundations: each passes on a correct answer and fails, with a hint, on wrong ones."""

import numpy as np
import pytest

from helpers import checks


def stub(*args):
    raise NotImplementedError


def good_conv2d(image, kernel):
    kh, kw = kernel.shape
    h, w = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    return np.array([[np.sum(image[i : i + kh, j : j + kw] * kernel) for j in range(w)] for i in range(h)])


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (stub, "Not started yet"),
        (lambda i, k: None, "forget to `return`"),
        (lambda i, k: np.zeros_like(i), "'same' padding"),
        (lambda i, k: good_conv2d(i, k[::-1, ::-1]), "flipped the kernel"),
        (lambda i, k: good_conv2d(i, k) + 1, "values differ"),
        (lambda i, k: good_conv2d(i, k)[:-1], "Check your loop ranges"),
        ("conv2d", "Pass your function"),
    ],
)
def test_conv2d_check_fails_with_a_hint(answer, hint):
    result = checks.conv2d(answer)
    assert not result and hint in result.message


def test_conv2d_check_passes_on_a_correct_answer():
    assert checks.conv2d(good_conv2d)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (stub, "Not started yet"),
        (lambda n, k, s, p: None, "forget `return`"),
        (lambda n, k, s, p: (n + 2 * p - k) / s + 1, "floor division"),
        (lambda n, k, s, p: (n + p - k) // s + 1, "2 * padding"),
        (lambda n, k, s, p: (n + 2 * p - k) // s, "add 1"),
        (lambda n, k, s, p: n - k + 1, "floor((n + 2*padding - kernel) / stride) + 1"),
    ],
)
def test_conv_output_size_check_fails_with_a_hint(answer, hint):
    result = checks.conv_output_size(answer)
    assert not result and hint in result.message


def test_conv_output_size_check_passes():
    assert checks.conv_output_size(lambda n, k, s, p: (n + 2 * p - k) // s + 1)


CORRECT = {"C1": 156, "C3": 2416, "C5": 48120, "F6": 10164}


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        ({"C1": ..., "C3": ..., "C5": ..., "F6": ...}, "replace the `...`"),
        ({**CORRECT, "C3": 2400}, "not the biases"),
        ({**CORRECT, "C5": 48100}, "filters x (kernel_h x kernel_w x input_channels + 1)"),
        ({"C1": 156}, "Add your answer for C3, C5, F6"),
        ([156], "Pass a dict"),
    ],
)
def test_lenet5_parameters_check_fails_with_a_hint(answer, hint):
    result = checks.lenet5_parameters(answer)
    assert not result and hint in result.message


def test_lenet5_parameters_check_matches_keras():
    from helpers import models

    model = models.lenet5()
    assert checks.lenet5_parameters({k: model.get_layer(k).count_params() for k in CORRECT})


def test_lenet5_parameters_message_states_computed_shares():
    from helpers import models

    model = models.lenet5()
    message = checks.lenet5_parameters(CORRECT).message
    assert f"{model.count_params():,}" in message
    assert f"C5 ({model.get_layer('C5').count_params() / model.count_params():.0%})" in message


# ----------------------------------------------------------------------------------------------
# Reference answers: what the cells after an exercise use while the learner's answer does not pass.


def conv2d_stub(image, kernel):
    # YOUR CODE HERE: one output value per kernel position, sum(window * kernel).
    raise NotImplementedError


def conv_output_size_stub(n, kernel, stride, padding):
    # YOUR CODE HERE: return the output length along one axis (a whole number).
    ...


LENET_STUB = {
    "C1": ...,  # 6 filters, 5x5, over 1 input channel
    "C3": ...,  # 16 filters, 5x5, over the 6 maps of S2
    "C5": ...,  # 120 filters, 5x5, over the 16 maps of S4
    "F6": ...,  # 84 units over C5's 120 outputs
}


@pytest.mark.parametrize(
    ("name", "stub_answer"),
    [("conv2d", conv2d_stub), ("conv_output_size", conv_output_size_stub), ("lenet5_parameters", LENET_STUB)],
)
def test_the_reference_passes_and_replaces_the_untouched_stub(assert_reference_replaces_stub, name, stub_answer):
    assert_reference_replaces_stub(name, stub_answer)


def test_the_conv2d_reference_matches_keras_on_a_digit(fresh_kernel):
    import keras

    from helpers import data

    digit = data.load("mnist5k", train_size=100).x_train[0].mean(axis=-1)
    sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32)
    conv = keras.layers.Conv2D(filters=1, kernel_size=3, use_bias=False)
    conv.build((None, *digit.shape, 1))
    conv.set_weights([sobel_x[:, :, None, None]])
    by_keras = np.asarray(conv(digit[None, :, :, None]))[0, :, :, 0]
    np.testing.assert_allclose(fresh_kernel.answer("conv2d", conv2d_stub)(digit, sobel_x), by_keras, atol=1e-4)
    assert fresh_kernel.answer("conv_output_size", conv_output_size_stub)(28, 5, 2, 0) == 12
