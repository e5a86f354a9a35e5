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
