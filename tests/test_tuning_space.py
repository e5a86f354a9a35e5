"""helpers.tuning without training: the search space, the hypermodel's build, budgets, the factory's errors."""

import json
import math
import sys

import keras
import keras_tuner as kt
import pytest

from helpers import tuning
from helpers.tuning import Range

SMALL = {
    "learning_rate": Range(1e-3, 1e-2, log=True),
    "filters": [8, 16],
    "blocks": 1,
    "convs_per_block": 1,
    "batch_norm": False,
    "head": "flatten",
    "dense_units": 0,
}


# ---------------------------------------------------------------------------------------------- Range


def test_range_validates_its_arguments():
    with pytest.raises(ValueError, match=r"low < high. Received: Range\(0.01, 0.0001\)"):
        Range(1e-2, 1e-4)
    with pytest.raises(ValueError, match="low < high.*single value"):
        Range(3, 3)
    with pytest.raises(ValueError, match="log-scale Range needs low > 0"):
        Range(0.0, 1e-2, log=True)
    with pytest.raises(ValueError, match=r"step must be in \(0, high - low\]"):
        Range(0.0, 0.5, step=0.7)
    with pytest.raises(ValueError, match="step multiplies and must be > 1"):
        Range(8, 64, step=1, log=True)
    with pytest.raises(ValueError, match="must be a finite number"):
        Range(0.0, float("inf"))
    with pytest.raises(ValueError, match="must be a finite number"):
        Range("a", 2)


def test_range_grid_values():
    assert Range(0.0, 0.5, step=0.1).grid_values() == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    assert Range(8, 64, step=2, log=True).grid_values() == [8, 16, 32, 64]
    assert Range(1, 3).grid_values() == [1, 2, 3]
    assert Range(1e-4, 1e-2, log=True).grid_values() is None
    assert Range(0.0, 1.0).grid_values() is None
    assert repr(Range(1e-4, 1e-2, log=True)) == "Range(0.0001, 0.01, log=True)"


# ---------------------------------------------------------------------------------------------- spaces


def test_validate_space_normalizes():
    space = tuning.validate_space({"dropout": [0, 0.5], "filters": [16], "head": "gap", "batch_norm": [True, False]})
    assert space["dropout"] == [0.0, 0.5] and all(isinstance(v, float) for v in space["dropout"])
    assert space["filters"] == 16  # one value: fixed
    assert space["head"] == "gap"


@pytest.mark.parametrize(
    "space, message",
    [
        (
            {"learning_rte": [1e-3, 1e-2]},
            r"Unknown hyperparameter 'learning_rte'. Did you mean 'learning_rate'\?",
        ),
        ({"filters": (8, 32)}, "a tuple is ambiguous"),
        ({"filters": []}, "filters: the list of values is empty"),
        ({"dropout": [0.1, 0.1]}, "lists the same value twice"),
        ({"head": Range(0, 1)}, r"head takes one of \['flatten', 'gap'\], not a numeric Range"),
        ({"filters": Range(8.0, 32.0)}, "filters takes integers"),
        ({"dropout": Range(0.0, 1.5)}, r"dropout must be in \[0, 1\). Received: dropout high=1.5"),
        ({"kernel_size": [3, 4]}, "kernel_size must be a positive odd integer. Received: kernel_size=4"),
        ({"optimizer": ["adam", "adamax"]}, "optimizer must be one of"),
        ({"batch_norm": ["yes", "no"]}, "batch_norm must be True or False"),
        ({"filters": [8, True]}, "filters must be an integer >= 1. Received: filters=True"),
        (
            {"blocks": [2, 3, 5]},
            r"contradicts the images: 5 pooling blocks halve a 28x28 image 5 times.*at most 4 blocks",
        ),
        (
            {"head": "gap", "filters": 16},
            "The search space is empty: no hyperparameter has more than one value",
        ),
        ({}, "The search space is empty"),
        ({"learning_rate": [1e-3]}, "The search space is empty"),
    ],
)
def test_validate_space_explains_mistakes(space, message):
    with pytest.raises(ValueError, match=message):
        tuning.validate_space(space)


def test_validate_space_uses_the_image_size():
    tuning.validate_space({"blocks": [1, 2, 3]}, (8, 8, 1))
    with pytest.raises(ValueError, match="8x8 image"):
        tuning.validate_space({"blocks": [1, 4]}, (8, 8, 1))
    with pytest.raises(TypeError, match="space must be a dict"):
        tuning.validate_space([("filters", [8, 16])])


def test_grid_size():
    assert tuning.grid_size({"filters": [8, 16, 32], "dropout": Range(0.0, 0.2, step=0.1), "head": "gap"}) == 9
    with pytest.raises(ValueError, match=r"grid search needs discrete values, but learning_rate=Range.* is continuous"):
        tuning.grid_size({"learning_rate": Range(1e-4, 1e-2, log=True)})


def test_describe_space_lists_every_dimension_once():
    table = tuning.describe_space(SMALL)
    assert list(table.index) == [d.name for d in tuning.DIMENSIONS]
    assert table.loc["learning_rate", "maps to"] == "compile_classifier(learning_rate=...)"
    assert table.loc["kernel_size", "this search"] == "fixed at 3"
    assert "this search" not in tuning.describe_space().columns


def test_every_dimension_maps_to_a_real_argument():
    import inspect

    from helpers import models, training

    cnn_args = set(inspect.signature(models.simple_cnn).parameters)
    compile_args = set(inspect.signature(training.compile_classifier).parameters)
    cnn, compile_kwargs, batch = tuning.model_arguments({})
    assert set(cnn) <= cnn_args and set(compile_kwargs) <= compile_args and batch == 64
    for d in tuning.DIMENSIONS:  # every suggested range is itself a valid space entry
        tuning.validate_space({d.name: d.suggested})


def test_model_arguments_maps_blocks_and_filters():
    cnn, comp, batch = tuning.model_arguments(
        {
            "blocks": 3,
            "filters": 8,
            "head": "flatten",
            "optimizer": "rmsprop",
            "learning_rate": 0.02,
            "batch_size": 32,
        }
    )
    assert cnn["filters"] == (8, 16, 32) and cnn["head"] == "flatten"
    assert comp == {"optimizer": "rmsprop", "learning_rate": 0.02} and batch == 32
    with pytest.raises(ValueError, match=r"Unknown hyperparameter\(s\) \['width'\]"):
        tuning.model_arguments({"width": 3})
    # Hyperband's bookkeeping values are ignored
    assert tuning.model_arguments({"tuner/epochs": 3})[2] == 64


def test_build_model_builds_and_compiles(seeded):
    model = tuning.build_model(
        {
            "blocks": 2,
            "filters": 8,
            "head": "gap",
            "learning_rate": 0.005,
            "convs_per_block": 1,
            "batch_norm": False,
        }
    )
    convs = [layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs == [8, 16]
    assert math.isclose(float(model.optimizer.learning_rate), 0.005, rel_tol=1e-6)
    assert any(isinstance(layer, keras.layers.GlobalAveragePooling2D) for layer in model.layers)
    same = tuning.build_model({"blocks": 2, "filters": 8, "convs_per_block": 1}, seed=3)
    again = tuning.build_model({"blocks": 2, "filters": 8, "convs_per_block": 1}, seed=3)
    assert all((a == b).all() for a, b in zip(same.get_weights(), again.get_weights()))


# ---------------------------------------------------------------------------------------------- hypermodel


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


# ---------------------------------------------------------------------------------------------- budgets


def test_hyperband_schedule_matches_keras_tuner():
    schedule = tuning.hyperband_schedule(6, 3)
    assert schedule[["bracket", "round", "trials", "epochs"]].values.tolist() == [
        [1, 0, 5, 2],
        [1, 1, 2, 6],
        [0, 0, 3, 6],
    ]
    assert tuning.epoch_budget("hyperband", max_epochs=6) == 5 * 2 + 2 * 4 + 3 * 6
    assert tuning.epoch_budget("random", max_trials=4, max_epochs=3) == 12
    # KerasTuner's own oracle agrees on the brackets and the epochs of each round
    oracle = kt.oracles.HyperbandOracle(objective="val_accuracy", max_epochs=9, factor=3)
    assert oracle._get_num_brackets() == tuning.hyperband_schedule(9)["bracket"].max() + 1
    for row in tuning.hyperband_schedule(9).itertuples():
        assert oracle._get_size(row.bracket, row.round) == row.trials
        assert oracle._get_epochs(row.bracket, row.round) == row.epochs


def test_budget_errors():
    with pytest.raises(ValueError, match="max_epochs must be >= 1 and factor >= 2"):
        tuning.hyperband_schedule(0)
    with pytest.raises(ValueError, match="max_trials must be a positive integer"):
        tuning.epoch_budget("random", max_epochs=3)
    with pytest.raises(ValueError, match="Unknown tuner kind 'evolution'"):
        tuning.epoch_budget("evolution", max_epochs=3)


def test_budgets_per_profile(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "full")
    full = tuning.default_budget()
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    smoke = tuning.default_budget()
    assert smoke.max_trials < full.max_trials and smoke.max_epochs < full.max_epochs


# ---------------------------------------------------------------------------------------------- make_tuner


@pytest.fixture
def hm():
    return tuning.CNNHyperModel((28, 28, 1), 10, SMALL)


def test_make_tuner_kinds_and_defaults(tmp_path, hm):
    tuner = tuning.make_tuner("random", hm, project_name="r", directory=tmp_path)
    assert isinstance(tuner, kt.RandomSearch) and tuner.oracle.seed == 42
    assert (
        tuner.oracle.max_trials == tuning.default_budget().max_trials
        and tuner.max_epochs == tuning.default_budget().max_epochs
    )
    assert (tmp_path / "r" / tuning.FINGERPRINT_FILE).exists() and tuner.resumed_trials == 0
    bayes = tuning.make_tuner("bayesian", hm, project_name="b", directory=tmp_path, max_trials=9)
    assert bayes.oracle.num_initial_points == 3
    hb = tuning.make_tuner("hyperband", hm, project_name="h", directory=tmp_path, max_epochs=9)
    assert hb.oracle.max_epochs == 9 and hb.oracle.factor == 3
    grid_hm = tuning.CNNHyperModel((28, 28, 1), 10, {"filters": [8, 16], "dropout": [0.0, 0.2]})
    grid = tuning.make_tuner("grid", grid_hm, project_name="g", directory=tmp_path)
    assert isinstance(grid, kt.GridSearch) and grid.oracle.max_trials == 4


@pytest.mark.parametrize(
    "kind, kwargs, error, message",
    [
        (
            "evolution",
            {},
            ValueError,
            "Unknown tuner kind 'evolution'. Choose one of: random, hyperband, bayesian, grid",
        ),
        (
            "random",
            {"seed": 0},
            ValueError,
            "seed must be a positive integer \\(KerasTuner treats 0 as 'random'\\)",
        ),
        ("hyperband", {"max_trials": 5}, ValueError, "Hyperband sets its number of trials"),
        ("random", {"project_name": "../escape"}, ValueError, "project_name must be a folder name"),
        ("random", {"max_trials": 0}, ValueError, "max_trials must be a positive integer"),
        ("random", {"max_epochs": 2.5}, ValueError, "max_epochs must be a positive integer"),
        ("grid", {}, ValueError, "grid search needs discrete values, but learning_rate"),
    ],
)
def test_make_tuner_errors(tmp_path, hm, kind, kwargs, error, message):
    kwargs = {"project_name": "p", **kwargs}
    with pytest.raises(error, match=message):
        tuning.make_tuner(kind, hm, directory=tmp_path, **kwargs)


def test_make_tuner_needs_a_course_hypermodel(tmp_path):
    with pytest.raises(TypeError, match="hypermodel must be a tuning.CNNHyperModel"):
        tuning.make_tuner("random", lambda hp: None, project_name="p", directory=tmp_path)


def test_a_folder_with_a_different_search_is_refused(tmp_path, hm):
    tuning.make_tuner("random", hm, project_name="p", directory=tmp_path)
    tuning.make_tuner("random", hm, project_name="p", directory=tmp_path, max_trials=7)  # same search: fine
    with pytest.raises(ValueError, match=r"holds a different search \(kind: saved 'random', now 'bayesian'\)"):
        tuning.make_tuner("bayesian", hm, project_name="p", directory=tmp_path)
    other = tuning.CNNHyperModel((28, 28, 1), 10, {**SMALL, "filters": [8, 32]})
    with pytest.raises(ValueError, match="holds a different search \\(space: saved"):
        tuning.make_tuner("random", other, project_name="p", directory=tmp_path)
    with pytest.raises(ValueError, match="oracle_seed: saved 42, now 7"):
        tuning.make_tuner("random", hm, project_name="p", directory=tmp_path, seed=7)
    # overwrite=True deletes it and starts over
    fresh = tuning.make_tuner("bayesian", hm, project_name="p", directory=tmp_path, overwrite=True)
    assert isinstance(fresh, kt.BayesianOptimization)


def test_a_folder_that_is_not_a_course_search_is_refused(tmp_path, hm):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "oracle.json").write_text("{}")
    with pytest.raises(ValueError, match="already holds files that are not a helpers.tuning search \\(oracle.json\\)"):
        tuning.make_tuner("random", hm, project_name="p", directory=tmp_path)
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="is a file, not a tuner project folder"):
        tuning.make_tuner("random", hm, project_name="f", directory=tmp_path)
    (tmp_path / "empty").mkdir()
    tuning.make_tuner("random", hm, project_name="empty", directory=tmp_path)  # an empty folder is fine


def test_missing_tensorboard_is_caught_before_the_search(tmp_path, hm, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    with pytest.raises(ImportError, match="KerasTuner needs the `tensorboard` package"):
        tuning.make_tuner("random", hm, project_name="p", directory=tmp_path)


def test_roles_follow_the_environment(monkeypatch):
    for var in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        monkeypatch.delenv(var, raising=False)
    assert not tuning.is_chief() and not tuning.is_worker()
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "chief")
    assert tuning.is_chief() and not tuning.is_worker()
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner3")
    assert tuning.is_worker() and not tuning.is_chief()
    assert "helpers.tuning" in sys.modules
