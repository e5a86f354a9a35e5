"""helpers.losses: one cross-entropy (and accuracy) for class numbers and soft labels, with label smoothing."""

import keras
import numpy as np
import pytest

from helpers import losses, models, training

RNG = np.random.default_rng(0)
PROBS = keras.ops.softmax(RNG.normal(size=(8, 4)).astype("float32")).numpy()
LABELS = np.array([0, 1, 2, 3, 3, 2, 1, 0], dtype="int32")
ONE_HOT = np.eye(4, dtype="float32")[LABELS]


def test_without_smoothing_it_is_the_sparse_cross_entropy():
    expected = keras.losses.SparseCategoricalCrossentropy()(LABELS, PROBS)
    np.testing.assert_allclose(losses.CrossEntropy()(LABELS, PROBS), expected, rtol=1e-6)
    np.testing.assert_allclose(losses.CrossEntropy()(LABELS[:, None], PROBS), expected, rtol=1e-6)  # (batch, 1)
    np.testing.assert_allclose(losses.CrossEntropy()(ONE_HOT, PROBS), expected, rtol=1e-6)


@pytest.mark.parametrize("eps", [0.05, 0.1, 0.3])
def test_smoothing_equals_keras_categorical_smoothing_on_one_hot_labels(eps):
    expected = keras.losses.CategoricalCrossentropy(label_smoothing=eps)(ONE_HOT, PROBS)
    np.testing.assert_allclose(losses.CrossEntropy(eps)(LABELS, PROBS), expected, rtol=1e-6)
    # by hand: the target is (1 - eps) on the class and eps / K on each of the K classes
    target = (1 - eps) * ONE_HOT + eps / 4
    by_hand = -(target * np.log(PROBS)).sum(axis=1).mean()
    np.testing.assert_allclose(losses.CrossEntropy(eps)(LABELS, PROBS), by_hand, rtol=1e-5)
    assert float(losses.CrossEntropy(eps)(LABELS, PROBS)) > float(losses.CrossEntropy()(LABELS, PROBS)) - 1.0


def test_soft_labels_and_accuracy():
    soft = 0.7 * ONE_HOT + 0.3 * np.roll(ONE_HOT, 1, axis=0)  # mixup-like: 70 % of one class
    expected = -(soft * np.log(PROBS)).sum(axis=1).mean()
    np.testing.assert_allclose(losses.CrossEntropy()(soft, PROBS), expected, rtol=1e-5)
    right = (PROBS.argmax(1) == LABELS).astype("float32")
    np.testing.assert_array_equal(losses.label_accuracy(LABELS, PROBS), right)
    np.testing.assert_array_equal(losses.label_accuracy(soft, PROBS), right)  # the larger share is the class
    metric = losses.accuracy_metric()
    metric.update_state(LABELS, PROBS)
    assert metric.name == "accuracy" and float(metric.result()) == pytest.approx(right.mean())


@pytest.mark.parametrize("eps", [-0.1, 1.0, "0.1", None])
def test_bad_smoothing_is_explained(eps):
    with pytest.raises(ValueError, match=r"label_smoothing is the share .* in \[0, 1\)"):
        losses.CrossEntropy(eps)


def test_a_smoothed_model_trains_saves_and_loads(tiny, tmp_path):
    model = models.simple_cnn(tiny.input_shape, tiny.num_classes, filters=(4,), dense_units=0, dropout=0.0)
    training.compile_classifier(model, label_smoothing=0.1)
    assert isinstance(model.loss, losses.CrossEntropy) and model.loss.label_smoothing == 0.1
    history = training.fit(model, tiny, epochs=1, batch_size=16, verbose=0)
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(history.history)
    model.save(tmp_path / "smoothed.keras")
    loaded = keras.saving.load_model(tmp_path / "smoothed.keras")
    assert loaded.loss.label_smoothing == 0.1
    np.testing.assert_allclose(loaded.predict(tiny.x_val, verbose=0), model.predict(tiny.x_val, verbose=0), atol=1e-6)


def test_compile_without_smoothing_keeps_the_sparse_loss(tiny):
    model = models.simple_cnn(tiny.input_shape, tiny.num_classes, filters=(4,), dense_units=0)
    training.compile_classifier(model)
    assert model.loss == "sparse_categorical_crossentropy"
