"""helpers.tuning.hypermodel: build_model, and CNNHyperModel's space, build and one trial's training."""

import json
import math

import keras
import keras_tuner as kt
import pytest
from tuning_setup import SMALL

from helpers import tuning
from helpers.tuning import Range, hypermodel


@pytest.fixture(scope="module")
def hm():
    return tuning.CNNHyperModel((28, 28, 1), 10, {**SMALL, "filters": [4, 8]}, patience=1)


def test_build_model_builds_and_compiles(seeded):
    model = tuning.build_model(
        {"blocks": 2, "filters": 8, "head": "gap", "learning_rate": 0.005, "convs_per_block": 1, "batch_norm": False}
    )
    convs = [layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs == [8, 16]
    assert math.isclose(float(model.optimizer.learning_rate), 0.005, rel_tol=1e-6)
    assert any(isinstance(layer, keras.layers.GlobalAveragePooling2D) for layer in model.layers)
    same = tuning.build_model({"blocks": 2, "filters": 8, "convs_per_block": 1}, seed=3)
    again = tuning.build_model({"blocks": 2, "filters": 8, "convs_per_block": 1}, seed=3)
    assert all((a == b).all() for a, b in zip(same.get_weights(), again.get_weights()))


def test_hypermodel_declares_the_space():
    hm = tuning.CNNHyperModel(
        (28, 28, 1),
        10,
        {**SMALL, "dropout": Range(0.0, 0.3, step=0.1), "batch_norm": [True, False], "blocks": Range(1, 2)},
    )
    assert hm.searched == ["blocks", "filters", "batch_norm", "dropout", "learning_rate"]
    assert hm.fixed["head"] == "flatten" and hm.fixed["kernel_size"] == 3
    hp = kt.HyperParameters()
    values = hm.declare(hp)
    space = {p.name: p for p in hp.space}
    assert space["learning_rate"].sampling == "log" and isinstance(
        space["learning_rate"], kt.engine.hyperparameters.Float
    )
    assert isinstance(space["batch_norm"], kt.engine.hyperparameters.Boolean)
    assert isinstance(space["blocks"], kt.engine.hyperparameters.Int)
    assert list(space["filters"].values) == [8, 16]
    assert set(values) == {d.name for d in tuning.DIMENSIONS}
    hp.values.update(filters=16, learning_rate=0.004)
    model = hm.build(hp)
    assert [layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv2D)][0] == 16
    assert math.isclose(float(model.optimizer.learning_rate), 0.004, rel_tol=1e-6)


def test_hypermodel_defaults_and_config():
    hm = tuning.CNNHyperModel()
    assert set(hm.searched) == set(tuning.DEFAULT_SPACE)
    cfg = hm.get_config()
    assert cfg["objective"] == "val_accuracy" and cfg["input_shape"] == [28, 28, 1]
    assert cfg["space"]["learning_rate"]["type"] == "Range"
    json.dumps(cfg)
    assert tuning.CNNHyperModel(objective="val_loss").direction == "min"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"input_shape": (28, 28)}, "input_shape must be"),
        ({"num_classes": 1}, "num_classes must be an integer >= 2"),
        ({"objective": "accuracy"}, "objective must be a validation metric"),
        ({"patience": 0}, "patience must be an integer >= 1"),
        ({"seed": -1}, "seed must be a non-negative integer"),
    ],
)
def test_hypermodel_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tuning.CNNHyperModel(**kwargs)


def test_objective_missing_from_the_logs(hm, ds):
    model = tuning.build_model({"blocks": 1, "filters": 4, "convs_per_block": 1})
    with (
        pytest.raises(ValueError, match="objective 'val_accuracy' is not among the logged metrics"),
        pytest.warns(UserWarning, match="Early stopping conditioned on metric `val_accuracy` which is not available"),
    ):
        hm.train(model, ds.x_train, ds.y_train, epochs=1, batch_size=64)


def test_objective_direction():
    assert hypermodel.objective_direction("val_loss") == "min"
    assert hypermodel.objective_direction("val_error_rate") == "min"
    assert hypermodel.objective_direction("val_accuracy") == "max"


def test_a_trial_reports_its_best_epoch(hm, ds):
    model = tuning.build_model({"blocks": 1, "filters": 4, "convs_per_block": 1, "dense_units": 0}, seed=1)
    m = hm.train(model, ds.x_train, ds.y_train, validation_data=(ds.x_val, ds.y_val), epochs=2, batch_size=64)
    assert 1 <= m["best_epoch"] <= m["epochs_trained"] <= 2 and m["train_seconds"] > 0
    assert 0 <= m["val_accuracy"] <= 1 and "loss" in m
