"""helpers.averaging: weight averaging (SWA, and EMA through Keras), BatchNorm re-estimation, ensembles, TTA."""

import keras
import numpy as np
import pytest

from helpers import averaging, config, evaluation, models, training


def small_cnn(ds, **options):
    config.seed_everything()
    model = models.simple_cnn(ds.input_shape, ds.num_classes, filters=(4,), dense_units=0, dropout=0.0, **options)
    return training.compile_classifier(model, learning_rate=1e-2)


class WeightRecorder(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([v.numpy().copy() for v in self.model.trainable_weights])


def test_weight_averaging_ends_on_the_mean_of_the_last_epochs(tiny):
    model = small_cnn(tiny, batch_norm=False)
    recorder, swa = WeightRecorder(), averaging.WeightAveraging(start_epoch=2)
    training.fit(model, tiny, epochs=4, batch_size=16, callbacks=[recorder, swa], verbose=0)
    assert swa.averaged_epochs == [2, 3, 4]
    for i, variable in enumerate(model.trainable_weights):
        expected = np.mean([epoch[i] for epoch in recorder.weights[1:]], axis=0)
        np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-5, atol=1e-7)
    assert not np.allclose(model.trainable_weights[0].numpy(), recorder.weights[-1][0])  # not the last weights


def test_weight_averaging_says_when_it_averaged_nothing(tiny):
    model = small_cnn(tiny, batch_norm=False)
    with pytest.raises(RuntimeError, match=r"averaged nothing: training ended before epoch 5"):
        training.fit(model, tiny, epochs=2, batch_size=16, callbacks=[averaging.WeightAveraging(5)], verbose=0)
    with pytest.raises(ValueError, match="start_epoch must be a positive integer"):
        averaging.WeightAveraging(0)
    assert averaging.WeightAveraging(3).get_config() == {"start_epoch": 3}


def test_recompute_batchnorm_measures_the_statistics_of_the_images(tiny):
    model = small_cnn(tiny)
    bn = averaging.batchnorm_layers(model)
    assert [layer.name for layer in bn] == ["block1_bn1", "block1_bn2"] and bn[0].momentum == 0.99
    x = tiny.x_train[:48]
    before = [v.numpy().copy() for v in model.trainable_weights]
    assert averaging.recompute_batchnorm(model, x, batch_size=16) == 3
    # block 1's first BatchNorm sees the first conv's outputs: its mean is their mean over the 3 batches
    conv = keras.Model(model.input, model.get_layer("block1_conv1").output)
    batch_means = [conv(x[i : i + 16]).numpy().mean(axis=(0, 1, 2)) for i in (0, 16, 32)]
    np.testing.assert_allclose(bn[0].moving_mean.numpy(), np.mean(batch_means, axis=0), rtol=1e-4, atol=1e-6)
    assert bn[0].momentum == 0.99  # put back
    for a, b in zip(before, model.trainable_weights, strict=True):
        np.testing.assert_array_equal(a, b.numpy())
    assert averaging.recompute_batchnorm(small_cnn(tiny, batch_norm=False), x) == 0


def test_ema_through_compile_ends_on_the_average(tiny):
    model = small_cnn(tiny, batch_norm=False)
    training.compile_classifier(model, learning_rate=1e-2, ema=0.9)
    assert model.optimizer.use_ema and model.optimizer.ema_momentum == 0.9
    training.fit(model, tiny, epochs=2, batch_size=16, verbose=0)
    averages = model.optimizer._model_variables_moving_average
    np.testing.assert_allclose(model.trainable_weights[0].numpy(), averages[0].numpy())
    with pytest.raises(ValueError, match="ema= applies to an optimizer given by name"):
        training.compile_classifier(model, optimizer=keras.optimizers.Adam(), ema=0.9)
    with pytest.raises(ValueError, match=r"ema must be in \(0, 1\)"):
        training.compile_classifier(model, ema=1.0)


def test_ensemble_averages_the_members_probabilities(tiny):
    a, b = small_cnn(tiny, batch_norm=False), small_cnn(tiny, batch_norm=False, kernel_size=5)
    expected = (evaluation.predict_proba(a, tiny.x_val) + evaluation.predict_proba(b, tiny.x_val)) / 2
    np.testing.assert_allclose(averaging.ensemble_proba([a, b], tiny.x_val), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="non-empty list of trained models"):
        averaging.ensemble_proba(a, tiny.x_val)
    with pytest.raises(ValueError, match="non-empty list"):
        averaging.ensemble_proba([], tiny.x_val)


def test_shift_and_tta():
    x = np.zeros((2, 5, 5, 1), dtype="float32")
    x[:, 2, 2, 0] = 1.0
    down = averaging.shift_images(x, 1, 0)
    left = averaging.shift_images(x, 0, -2)
    assert down[0, 3, 2, 0] == 1.0 and down.sum() == 2 and left[0, 2, 0, 0] == 1.0 and left.sum() == 2
    edge = np.ones((1, 5, 5, 1), dtype="float32")
    assert averaging.shift_images(edge, 0, 1)[0, :, 0, 0].sum() == 0  # the uncovered column is background
    with pytest.raises(ValueError, match="out of view"):
        averaging.shift_images(x, 5, 0)

    def row_three(images):  # "probabilities" that reveal which views the model saw
        row = keras.ops.sum(images[:, 3, :, 0], axis=-1, keepdims=True)
        return keras.ops.concatenate([row, 1 - row], axis=-1)

    inputs = keras.Input((5, 5, 1))
    probe = keras.Model(inputs, keras.layers.Lambda(row_three)(inputs))
    probs = averaging.tta_proba(probe, x, shifts=((0, 0), (1, 0)))
    np.testing.assert_allclose(probs[:, 0], [0.5, 0.5])  # the pixel is in row 3 in one of the two views
    with pytest.raises(ValueError, match="at least one"):
        averaging.tta_proba(probe, x, shifts=())
