"""helpers.diagnostics.overfit: a healthy model memorizes one batch; systematic faults cannot.

The failing cases are ones that fail by construction, whatever the number of steps: no weight can
move (frozen, learning rate 0), the images are identical (all zeros), the units pass no gradient (a
dead layer), or the loss has a floor above the target (a double softmax the backend cannot undo).
"""

import math

import keras
import numpy as np
import pytest

from helpers import diagnostics, models
from helpers.diagnostics import overfit

N = 12


@pytest.fixture(scope="module")
def batch(tiny):
    return tiny.x_train[:N], tiny.y_train[:N]


def tiny_cnn(**options):
    return models.simple_cnn((8, 8, 1), 3, filters=(8,), dense_units=16, **options)


def test_a_healthy_model_memorizes_the_batch_and_the_caller_keeps_its_weights(seeded, batch):
    x, y = batch
    model = tiny_cnn()
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    result = diagnostics.overfit_batch(model, x, y)
    assert result.passed and result.steps_to_target <= 300
    assert result.final_loss <= 0.05 and len(result.losses) == result.steps_to_target
    assert result.losses[0] > 0.5 and result.learning_rate == pytest.approx(3e-3)
    assert result.optimizer == "Adam" and result.n == N and result.hints == []
    assert "PASSED" in str(result)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(model.optimizer.iterations.numpy()) == 0  # its own optimizer, not the caller's
    assert model.get_layer("head_dropout").rate == pytest.approx(0.3)  # dropout is off in the copy only


def test_random_labels_pass_too_so_passing_proves_little(seeded, batch):
    x, _ = batch
    random_labels = np.random.default_rng(3).integers(0, 3, size=N)
    assert diagnostics.overfit_batch(tiny_cnn(), x, random_labels, learning_rate=3e-3).passed


def test_frozen_layers_and_a_zero_learning_rate_fail(seeded, batch):
    x, y = batch
    frozen = tiny_cnn()
    frozen.trainable = False
    result = diagnostics.overfit_batch(frozen, x, y)
    assert not result.passed and result.steps_to_target is None
    assert len(result.losses) == overfit.FLAT_STEPS  # a loss that never moves stops the run early
    assert any("trainable=False" in h for h in result.hints) and any("never moved" in h for h in result.hints)
    assert "FAILED" in str(result) and "systematic fault" in str(result)
    still = tiny_cnn()
    still.compile(keras.optimizers.Adam(0.0), "sparse_categorical_crossentropy")
    result = diagnostics.overfit_batch(still, x, y)
    assert not result.passed and any("learning rate is 0" in h for h in result.hints)
    assert np.ptp(result.losses) < 1e-6


def test_an_input_of_zeros_cannot_be_memorized(seeded, batch):
    x, y = batch
    result = diagnostics.overfit_batch(tiny_cnn(), np.zeros_like(x), y, learning_rate=3e-3, steps=150)
    assert not result.passed
    assert result.final_loss > 0.9 * result.label_entropy  # identical images: the prior is all it can learn
    assert any("same value (0)" in h for h in result.hints)


def test_a_dead_layer_cannot_learn(seeded, batch):
    x, y = batch
    model = tiny_cnn()
    bias = model.get_layer("head_dense").bias
    bias.assign(bias - 100.0)  # every unit of the Dense ReLU layer outputs 0: no gradient below it
    result = diagnostics.overfit_batch(model, x, y, learning_rate=3e-3, steps=150)
    assert not result.passed and result.final_loss > 0.9 * result.label_entropy


def test_a_real_double_softmax_has_a_floor_above_the_target(seeded, batch):
    x, y = batch
    base = tiny_cnn()
    hidden = keras.Model(base.input, keras.layers.Rescaling(1.0)(base.output))  # Keras cannot undo this one
    hidden.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    result = diagnostics.overfit_batch(hidden, x, y, steps=150)
    assert not result.passed and result.final_loss > math.log(1 + 2 / math.e) - 1e-3


def test_overfit_batch_arguments(batch):
    x, y = batch
    model = tiny_cnn()
    with pytest.raises(ValueError, match="n=20 is more"):
        diagnostics.overfit_batch(model, x, y, n=20)
    with pytest.raises(ValueError, match="steps"):
        diagnostics.overfit_batch(model, x, y, steps=0)
    with pytest.raises(ValueError, match="equal length"):
        diagnostics.overfit_batch(model, x, y[:3])
    result = diagnostics.overfit_batch(model, x, y, n=4, steps=3, target_loss=1e-9)
    assert result.n == 4 and len(result.losses) == 3 and result.learning_rate == pytest.approx(1e-3)
