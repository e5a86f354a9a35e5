"""helpers.diagnostics.sanity: each check before training flags its fault and passes a healthy model."""

import math
import warnings

import keras
import numpy as np
import pytest

from helpers import augment, diagnostics, models, pipelines, training
from helpers.diagnostics import sanity

SPARSE_LOGITS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


@pytest.fixture(scope="module")
def digits_like():
    """64 random 28x28 'images' in [0, 1] with 10 balanced labels: enough to measure a loss at init."""
    rng = np.random.default_rng(0)
    return rng.uniform(0, 1, size=(64, 28, 28, 1)).astype(np.float32), np.arange(64) % 10


def course_cnn(**options):
    return training.compile_classifier(models.simple_cnn(**options))


def tiny_cnn(**options):
    return models.simple_cnn((8, 8, 1), 3, filters=(4,), dense_units=8, **options)


def test_expected_init_loss_is_ln_k_or_the_prior_entropy():
    assert diagnostics.expected_init_loss(10) == pytest.approx(math.log(10))
    assert diagnostics.expected_init_loss(2, [5, 5]) == pytest.approx(math.log(2))
    p = np.array([0.9, 0.1])
    assert diagnostics.expected_init_loss(2, [90, 10]) == pytest.approx(-(p * np.log(p)).sum())
    assert diagnostics.expected_init_loss(3, [4, 0, 4]) == pytest.approx(math.log(2))  # an empty class adds nothing
    with pytest.raises(ValueError, match="num_classes"):
        diagnostics.expected_init_loss(1)
    with pytest.raises(ValueError, match="one per class"):
        diagnostics.expected_init_loss(3, [1, 2])
    with pytest.raises(ValueError, match="counts >= 0"):
        diagnostics.expected_init_loss(2, [3, -1])


def test_loss_at_init_passes_the_healthy_course_cnn(seeded, digits_like):
    x, y = digits_like
    result = diagnostics.loss_at_init(course_cnn(), x, y)
    assert result.ok and result.problems == []
    assert result.expected == pytest.approx(math.log(10))
    assert 0.5 < result.ratio < 1.5
    assert "OK" in str(result) and "expected 2.303" in str(result)


def test_loss_at_init_flags_a_10x_logit_scale(seeded, digits_like):
    x, y = digits_like
    model = course_cnn()
    kernel = model.get_layer("predictions").kernel
    kernel.assign(kernel * 10.0)
    result = diagnostics.loss_at_init(model, x, y)
    assert not result.ok and result.ratio > 1.5
    assert any("logits too large" in p for p in result.problems)
    assert "PROBLEM" in str(result)


def test_loss_at_init_flags_a_double_softmax_and_says_keras_may_undo_it(seeded, digits_like):
    x, y = digits_like
    model = models.simple_cnn()
    model.compile("adam", SPARSE_LOGITS)
    result = diagnostics.loss_at_init(model, x, y)  # Keras's UserWarning is caught: the finding says it all
    assert not result.ok
    (problem,) = result.problems
    assert problem.startswith("Double softmax") and "from_logits=False" in problem
    assert "spots this particular case" in problem  # softmax is the last op: Keras on TF uses the logits below it


def test_a_keras_warning_while_measuring_becomes_a_finding_not_noise():
    def warning_loss(y, y_pred):
        warnings.warn("this loss looks\n  odd", UserWarning, stacklevel=2)
        return np.ones(3)

    assert sanity._measure(warning_loss, None, None) == (1.0, ["this loss looks odd"])


def test_loss_at_init_flags_hidden_and_repeated_softmax(seeded):
    x, y = np.random.default_rng(1).uniform(size=(30, 8, 8, 1)).astype(np.float32), np.arange(30) % 3
    base = tiny_cnn()
    hidden = keras.Model(base.input, keras.layers.Rescaling(1.0, name="after_softmax")(base.output))
    hidden.compile("adam", SPARSE_LOGITS)
    (problem,) = diagnostics.loss_at_init(hidden, x, y).problems
    assert "Nothing undoes it" in problem and f"{math.log(1 + 2 / math.e):.2f}" in problem  # the floor for K=3
    twice = keras.Model(base.input, keras.layers.Softmax(name="softmax_again")(base.output))
    twice.compile("adam", "sparse_categorical_crossentropy")
    (problem,) = diagnostics.loss_at_init(twice, x, y).problems
    assert "softmax twice (softmax_again after predictions)" in problem


def test_loss_at_init_checks_linear_outputs_against_from_logits(seeded):
    x, y = np.random.default_rng(1).uniform(size=(30, 8, 8, 1)).astype(np.float32), np.arange(30) % 3
    model = tiny_cnn()
    model.get_layer("predictions").activation = keras.activations.linear
    model.compile("adam", SPARSE_LOGITS)
    assert diagnostics.loss_at_init(model, x, y).ok  # logits with from_logits=True: right
    model.compile("adam", "sparse_categorical_crossentropy")
    result = diagnostics.loss_at_init(model, x, y)
    assert any("outputs logits" in p and "from_logits=True" in p for p in result.problems)


def test_loss_at_init_flags_labels_that_do_not_fit_the_loss(seeded):
    x, y = np.random.default_rng(1).uniform(size=(30, 8, 8, 1)).astype(np.float32), np.arange(30) % 3
    model = training.compile_classifier(tiny_cnn())
    result = diagnostics.loss_at_init(model, x, np.eye(3)[y])
    assert not result.ok and math.isnan(result.measured)
    assert "one-hot" in result.problems[0] and "np.argmax(y, axis=1)" in result.problems[0]
    model.compile("adam", "categorical_crossentropy")
    for labels in (y, y[:, None]):  # (n,) raises in Keras; (n, 1) would broadcast silently
        result = diagnostics.loss_at_init(model, x, labels)
        assert not result.ok and "SparseCategoricalCrossentropy" in result.problems[0]
    assert diagnostics.loss_at_init(model, x, np.eye(3)[y]).ok


def test_loss_at_init_leaves_the_model_as_it_was(seeded):
    x, y = np.random.default_rng(1).uniform(size=(30, 8, 8, 1)).astype(np.float32), np.arange(30) % 3
    model = tiny_cnn()  # not compiled: measured with the sparse cross-entropy its softmax output needs
    before = [v.numpy().copy() for v in model.variables]
    result = diagnostics.loss_at_init(model, x, y)  # training mode: BatchNorm statistics would move
    assert result.ok and result.loss == "sparse_categorical_crossentropy"
    for a, b in zip(before, model.variables):
        np.testing.assert_array_equal(a, b.numpy())
    with pytest.raises(ValueError, match="bounds"):
        diagnostics.loss_at_init(model, x, y, bounds=(1.2, 2))
    with pytest.raises(ValueError, match="equal length"):
        diagnostics.loss_at_init(model, x, y[:3])
    with pytest.raises(TypeError, match="Keras model"):
        diagnostics.loss_at_init(object(), x, y)
    broken = x.copy()
    broken[0, 0, 0, 0] = np.nan
    (problem,) = diagnostics.loss_at_init(training.compile_classifier(tiny_cnn()), broken, y).problems
    assert "NaN or infinity" in problem


def _prior_model(units: int, activation: str) -> keras.Model:
    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(units, activation=activation, kernel_initializer="zeros", name="out")(inputs)
    return keras.Model(inputs, outputs)


def test_output_bias_makes_a_fresh_model_predict_the_prior():
    counts = [80, 15, 5]
    bias = diagnostics.output_bias_for(counts)
    np.testing.assert_allclose(np.exp(bias), np.array(counts) / 100)
    model = _prior_model(3, "softmax")
    diagnostics.set_output_bias(model, counts)
    probs = model(np.ones((2, 4), np.float32)).numpy()
    np.testing.assert_allclose(probs, [[0.8, 0.15, 0.05]] * 2, rtol=1e-5)
    y = np.repeat([0, 1, 2], counts)
    result = diagnostics.loss_at_init(model, np.ones((100, 4), np.float32), y, class_counts=counts)
    assert result.ok and result.measured == pytest.approx(result.expected, rel=1e-4)
    binary = _prior_model(1, "sigmoid")
    (log_odds,) = diagnostics.set_output_bias(binary, [90, 10])
    assert log_odds == pytest.approx(math.log(10 / 90))
    assert float(binary(np.ones((1, 4), np.float32))[0, 0]) == pytest.approx(0.1, rel=1e-5)


def test_output_bias_errors():
    with pytest.raises(ValueError, match="no examples"):
        diagnostics.output_bias_for([3, 0])
    with pytest.raises(ValueError, match="has 3 units"):
        diagnostics.set_output_bias(_prior_model(3, "softmax"), [1, 2])
    inputs = keras.Input((4,))
    no_dense = keras.Model(inputs, keras.layers.Softmax()(inputs))
    with pytest.raises(ValueError, match="not a Dense layer"):
        diagnostics.set_output_bias(no_dense, [1, 1, 1, 1])


def test_first_batch_is_what_the_pipeline_feeds_after_augmentation(tiny):
    x, y = tiny.x_train, tiny.y_train
    plain = pipelines.to_tf_dataset(x, y, batch_size=8)
    xb, yb = diagnostics.first_batch(plain)
    assert isinstance(xb, np.ndarray) and xb.shape == (8, 8, 8, 1)
    np.testing.assert_array_equal(xb, x[:8])
    np.testing.assert_array_equal(yb, y[:8])
    augmented = pipelines.to_tf_dataset(x, y, batch_size=8, augment=augment.preset("digits", strength=3))
    xa, ya = diagnostics.first_batch(augmented)
    np.testing.assert_array_equal(ya, y[:8])
    assert xa.shape == xb.shape and np.abs(xa - x[:8]).max() > 0.05  # the images were transformed
    xs, ys = diagnostics.first_batch((x, y), batch_size=5)
    assert len(xs) == len(ys) == 5


def test_first_batch_errors_and_images_only():
    import tensorflow as tf

    images = np.zeros((4, 8, 8, 1), np.float32)
    x, y = diagnostics.first_batch(tf.data.Dataset.from_tensor_slices(images).batch(2))
    assert x.shape == (2, 8, 8, 1) and y is None
    with pytest.raises(TypeError, match="not the images alone"):
        diagnostics.first_batch(images)
    with pytest.raises(ValueError, match="empty"):
        diagnostics.first_batch(tf.data.Dataset.from_tensor_slices(images).take(0).batch(2))
    with pytest.raises(TypeError, match="tf.data.Dataset"):
        diagnostics.first_batch(42)


def test_output_chain_walks_back_to_the_last_layer_with_weights():
    base = tiny_cnn()
    assert sanity.output_chain(base) == [("predictions", "softmax")]
    assert sanity.output_activation(base) == "softmax"
    logits = keras.Model(base.input, base.get_layer("predictions").input)
    assert sanity.output_activation(logits) == "linear"
