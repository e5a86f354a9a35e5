"""helpers.diagnostics.stats: TrainingStats and dead_units see dead layers and too-large steps, and
report a healthy run as healthy."""

import keras
import numpy as np
import pytest

from helpers import config, diagnostics, models, training


def tiny_cnn(learning_rate=1e-3):
    model = models.simple_cnn((8, 8, 1), 3, filters=(4, 8), dense_units=8)
    return training.compile_classifier(model, learning_rate=learning_rate)


def kill(model, layer="head_dense"):
    bias = model.get_layer(layer).bias
    bias.assign(bias - 100.0)  # every unit's input is far below 0: the ReLU outputs 0 for every image
    return model


def drive(stats, model, steps):
    """Call the callback as fit would, for ``steps`` steps, without training (cheap)."""
    stats.set_model(model)
    stats.on_train_begin()
    for step in range(steps):
        stats.on_train_batch_begin(step)
        stats.on_train_batch_end(step)


def run(tiny, model, *, every=2, epochs=2, **options):
    stats = diagnostics.TrainingStats(tiny.x_train[:32], tiny.y_train[:32], every=every, **options)
    training.fit(model, tiny, epochs=epochs, batch_size=16, callbacks=[stats], verbose=0)
    return stats


@pytest.mark.slow
def test_a_healthy_run_records_every_statistic_per_layer(seeded, tiny):
    stats = run(tiny, tiny_cnn())
    table = stats.table()
    assert list(table.columns) == ["step", "layer", "statistic", "value"]
    assert stats.steps == [2, 4, 6, 8]  # 60 images, batch 16: 4 steps per epoch, 2 epochs
    kernels = ["block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2", "head_dense", "predictions"]
    assert list(dict.fromkeys(table["layer"])) == kernels
    latest = stats.latest()
    assert list(latest.index) == kernels and list(latest.columns) == list(diagnostics.STATISTICS)
    relus = latest["dead_fraction"].dropna()
    assert list(relus.index) == kernels[:-1]  # the convs through BatchNorm -> ReLU, and head_dense's own ReLU
    assert relus.max() < 0.3
    assert (latest["gradient_norm"] > 0).all() and (latest["activation_std"] > 0).all()
    assert latest["update_ratio"].between(1e-5, 1e-1).all()
    assert stats.problems() == []


def test_dead_units_show_in_the_stats_and_in_dead_units(seeded, tiny):
    x = tiny.x_train[:32]
    healthy = tiny_cnn()
    assert diagnostics.dead_units(healthy, x).max() < 0.3
    dead = diagnostics.dead_units(kill(tiny_cnn()), x)
    assert dead["head_dense"] == 1.0 and dead.drop("head_dense").max() < 0.3
    assert list(dead.index) == ["block1_relu1", "block1_relu2", "block2_relu1", "block2_relu2", "head_dense"]
    stats = diagnostics.TrainingStats(x, tiny.y_train[:32], every=1)
    drive(stats, healthy, 1)
    assert stats.latest()["dead_fraction"].max() < 0.3 and (stats.latest()["gradient_norm"] > 0).all()
    assert stats.problems(ratio_range=(0, 1)) == []
    drive(stats, kill(tiny_cnn()), 1)
    latest = stats.latest()
    assert latest.loc["head_dense", "dead_fraction"] == 1.0
    assert latest.loc["block1_conv1", "gradient_norm"] == 0.0  # no gradient passes the dead layer
    problems = stats.problems(ratio_range=(0, 1))  # no training step here: leave the update ratio out
    assert any(p.startswith("head_dense: 100% of its ReLU units are dead") for p in problems)
    assert any(p.startswith("block1_conv1: gradient norm 0.0e+00") for p in problems)


@pytest.mark.slow
def test_a_100x_learning_rate_gives_far_larger_update_ratios(tiny):
    def median_ratio(rate):
        config.seed_everything(config.DEFAULT_SEED)
        table = run(tiny, tiny_cnn(rate)).table()
        return table.loc[table["statistic"] == "update_ratio", "value"].median()

    low, high = median_ratio(1e-3), median_ratio(1e-1)
    assert 3e-4 < low < 1e-2  # near the healthy 1e-3 per step
    assert high / low > 10  # measured: about 20x for Adam (its steps are ~lr, the weights grow as well)


@pytest.mark.slow
def test_the_probe_leaves_training_unchanged(tiny):
    def trained(callbacks):
        config.seed_everything(config.DEFAULT_SEED)
        model = tiny_cnn()
        training.fit(model, tiny, epochs=1, batch_size=16, callbacks=callbacks, verbose=0)
        return model.get_weights()

    stats = diagnostics.TrainingStats(tiny.x_train[:32], tiny.y_train[:32], every=1)
    for a, b in zip(trained([]), trained([stats])):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)  # BatchNorm statistics and dropout state restored
    assert stats.steps == [1, 2, 3, 4]


def test_state_resets_and_without_labels_there_are_no_gradient_norms(seeded, tiny):
    model = tiny_cnn()
    stats = diagnostics.TrainingStats(tiny.x_train[:16], every=2)
    drive(stats, model, 4)
    assert stats.steps == [2, 4]
    recorded = set(stats.table()["statistic"])
    assert "gradient_norm" not in recorded and {"activation_std", "dead_fraction", "update_ratio"} <= recorded
    assert (stats.latest()["update_ratio"] == 0).all()  # no training step between the two kernel copies
    drive(stats, model, 1)
    assert stats.steps == [] and stats.table().empty  # reset in on_train_begin


def test_arguments_are_checked(tiny):
    x, y = tiny.x_train[:8], tiny.y_train[:8]
    with pytest.raises(ValueError, match="every"):
        diagnostics.TrainingStats(x, y, every=0)
    with pytest.raises(ValueError, match="one label per probe image"):
        diagnostics.TrainingStats(x, y[:3])
    with pytest.raises(ValueError, match="Nothing recorded"):
        diagnostics.TrainingStats(x, y).latest()
    inputs = keras.Input((8, 8, 1))
    no_relu = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)))
    with pytest.raises(ValueError, match="no ReLU layers"):
        diagnostics.dead_units(no_relu, x)
