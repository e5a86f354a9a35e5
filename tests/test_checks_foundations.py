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


# ----------------------------------------------------------------------------------------------
# Exercise 3 (predict, then run): the feature-map shapes through the notebook's conv/pool stack


def shape_stack(input_shape=(28, 28, 1)):
    """The notebook's stack, built: three convolutions that differ in padding and stride, two poolings."""
    import keras

    layers = [
        keras.layers.Conv2D(8, 3, name="conv1"),
        keras.layers.MaxPooling2D(2, name="pool1"),
        keras.layers.Conv2D(16, 3, padding="same", name="conv2"),
        keras.layers.MaxPooling2D(2, name="pool2"),
        keras.layers.Conv2D(32, 3, strides=2, name="conv3"),
    ]
    return keras.Sequential([keras.Input(input_shape), *layers])


def predicted_by_hand(input_shape=(28, 28, 1)):
    """The notebook's solution: the shapes worked out from the input shape before the stack is built."""
    h, w, _ = input_shape
    h, w = h - 3 + 1, w - 3 + 1
    shapes = {"conv1": (h, w, 8)}
    h, w = h // 2, w // 2
    shapes["pool1"] = (h, w, 8)
    shapes["conv2"] = (h, w, 16)
    h, w = h // 2, w // 2
    shapes["pool2"] = (h, w, 16)
    h, w = (h - 3) // 2 + 1, (w - 3) // 2 + 1
    shapes["conv3"] = (h, w, 32)
    return shapes


SHAPES_28 = {
    "conv1": (26, 26, 8),
    "pool1": (13, 13, 8),
    "conv2": (13, 13, 16),
    "pool2": (6, 6, 16),
    "conv3": (2, 2, 32),
}


@pytest.fixture(scope="module")
def stack28():
    return shape_stack()


def test_feature_map_shapes_passes_on_the_solution(stack28):
    assert predicted_by_hand() == SHAPES_28  # what Keras computes, worked out here independently
    result = checks.feature_map_shapes(predicted_by_hand(), stack28)
    assert result and "28x28x1 = 784 values into 2x2x32 = 128" in result.message
    assert checks.feature_map_shapes({k: list(v) for k, v in SHAPES_28.items()}, stack28)  # lists are fine too


@pytest.mark.parametrize("input_shape", [(32, 32, 3), (28, 28, 3), (40, 36, 1)])
def test_feature_map_shapes_follows_the_dataset_input_shape(input_shape):
    stack = shape_stack(input_shape)
    assert checks.feature_map_shapes(predicted_by_hand(input_shape), stack)
    # the input's channels reach no output shape (a convolution has one channel per filter); its size does
    assert bool(checks.feature_map_shapes(SHAPES_28, stack)) == (input_shape[:2] == (28, 28))


def test_feature_map_shapes_reports_not_started_on_the_stub(stack28):
    stub = {"conv1": ..., "pool1": ..., "conv2": ..., "pool2": ..., "conv3": ...}
    result = checks.feature_map_shapes(stub, stack28)
    assert result.status == "not started" and "replace the `...`" in result.message


@pytest.mark.parametrize(
    ("change", "hint"),
    [
        ({"conv1": (28, 28, 8)}, "padding 'valid' adds no zeros, so a 3x3 kernel at stride 1 fits floor((28 - 3) / 1)"),
        ({"conv1": (26, 26, 1)}, "one map per filter: 8 channels, not the 1 it receives"),
        ({"pool1": (13, 13, 16)}, "pooling works on each map separately: it keeps the 8 channels"),
        ({"pool1": (26, 26, 8)}, "divides height and width by 2"),
        ({"conv2": (11, 11, 16)}, "padding 'same' adds zeros"),
        ({"pool2": (7, 7, 16)}, "round down: a last row or column that does not fill a 2x2 window is dropped"),
        ({"conv3": (4, 4, 32)}, "strides=2 moves the kernel 2 pixels at a time"),
        ({"conv3": (2, 2, 64)}, "the channels are the number of filters, 32"),
        ({"conv3": (None, 2, 2, 32)}, "leave out the batch dimension"),
        ({"conv3": (2, 2)}, "three sizes, (height, width, channels)"),
        ({"conv3": (2.5, 2.5, 32)}, "whole numbers"),
        ({"conv3": "2x2x32"}, "a tuple of three whole numbers"),
        ({"conv3": ...}, "conv3: replace the `...`"),
    ],
)
def test_feature_map_shapes_explains_each_mismatch(stack28, change, hint):
    result = checks.feature_map_shapes({**SHAPES_28, **change}, stack28)
    assert not result and result.status == "not yet" and hint in result.message, result.message


def test_feature_map_shapes_lists_every_mismatch_and_follows_a_carried_error(stack28):
    # 'same' padding assumed in conv1: every later shape is the right rule applied to the wrong one before it
    carried = {
        "conv1": (28, 28, 8),
        "pool1": (14, 14, 8),
        "conv2": (14, 14, 16),
        "pool2": (7, 7, 16),
        "conv3": (3, 3, 32),
    }
    result = checks.feature_map_shapes(carried, stack28)
    assert not result and "5 of 5 shapes differ" in result.message
    assert "conv1: you predicted (28, 28, 8), Keras gives (26, 26, 8)" in result.message
    assert "pool2: the right rule, applied to your conv2 shape (fix that one first)" in result.message
    # two independent mistakes are both explained
    result = checks.feature_map_shapes({**SHAPES_28, "conv1": (26, 26, 1), "pool2": (7, 7, 16)}, stack28)
    assert "2 of 5 shapes differ" in result.message and "one map per filter" in result.message
    assert "round down" in result.message


def test_feature_map_shapes_needs_every_layer(stack28):
    result = checks.feature_map_shapes({"conv1": (26, 26, 8)}, stack28)
    assert not result and "Add your prediction for pool1, conv2, pool2, conv3" in result.message
    assert "Pass a dict" in checks.feature_map_shapes([(26, 26, 8)], stack28).message


def test_feature_map_shapes_is_a_predict_exercise_checked_after_the_summary():
    import json
    from pathlib import Path

    from helpers import coursework

    path = Path(__file__).resolve().parent.parent / "notebooks" / "01_cnn_foundations.ipynb"
    ex = next(e for e in coursework.exercises(path) if e.name == "feature_map_shapes")
    assert ex.kind == "predict"
    cells = json.loads(path.read_text())["cells"]
    before = "".join("".join(c["source"]) for c in cells[: ex.cell] if c["cell_type"] == "code")
    between = "".join("".join(c["source"]) for c in cells[ex.cell + 1 : ex.check] if c["cell_type"] == "code")
    assert "stack.summary()" in between and "stack.summary()" not in before  # the shapes are shown after it
