"""helpers._internals: every private Keras / KerasTuner name the course relies on still exists.

If an upgrade moves one of them, this test fails and names it, instead of resumption or a resumed
search breaking quietly.
"""

import tempfile

import keras
import keras_tuner as kt
import pytest

from helpers import _internals


def _instances():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    backup = keras.callbacks.BackupAndRestore(tempfile.mkdtemp())
    oracle = kt.oracles.RandomSearchOracle(objective="val_loss", max_trials=1, seed=1)
    from keras.src.backend import config as keras_config

    return {
        "keras.Model": model,
        "keras.callbacks.BackupAndRestore": backup,
        "keras_tuner.Oracle": oracle,
        "keras.src.backend.config": keras_config,
    }


@pytest.mark.parametrize(
    ("owner", "name"), [(owner, name) for owner, names in _internals.PRIVATE_API.items() for name in names]
)
def test_every_private_name_still_exists(owner, name):
    instance = _instances()[owner]
    assert hasattr(instance, name), f"{owner} no longer has {name}: update helpers/_internals.py"


def test_restored_epoch_round_trip():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    _internals.set_restored_epoch(model, 3)
    assert model._initial_epoch == 3
    _internals.forget_restored_epoch(model)
    assert model._initial_epoch is None


def test_drop_stale_retries_keeps_only_unfinished_trials():
    oracle = kt.oracles.RandomSearchOracle(objective="val_loss", max_trials=3, seed=1)
    done = kt.engine.trial.Trial(oracle.get_space(), trial_id="done", status=kt.engine.trial.TrialStatus.COMPLETED)
    failed = kt.engine.trial.Trial(oracle.get_space(), trial_id="failed", status=kt.engine.trial.TrialStatus.FAILED)
    oracle.trials = {"done": done, "failed": failed}
    oracle._retry_queue = ["done", "failed", "unknown"]
    _internals.drop_stale_retries(oracle)
    assert oracle._retry_queue == ["failed", "unknown"]


def test_keras_download_dir_follows_keras_home(monkeypatch, tmp_path):
    from keras.src.backend import config as keras_config

    monkeypatch.setattr(keras_config, "keras_home", lambda: str(tmp_path))
    assert _internals.keras_download_dir() == tmp_path / "models"
    monkeypatch.delattr(keras_config, "keras_home")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    assert _internals.keras_download_dir() == tmp_path / "home" / "models"


def _count_train_traces(model, x, y):
    """Fit two epochs and count how often Keras traced the training step (a Python call per trace)."""
    traces = []
    step = model.train_step
    model.train_step = lambda data: traces.append(1) or step(data)
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    return len(traces), history.history["loss"]


def test_compile_classifier_builds_the_training_state_so_the_step_is_traced_once():
    import keras
    import numpy as np

    from helpers import config, models, training

    x = np.random.default_rng(0).random((64, 8, 8, 1), dtype=np.float32)
    y = np.arange(64) % 3
    config.seed_everything(3)
    lazy = models.simple_cnn((8, 8, 1), 3, filters=(4,))
    lazy.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    lazy_traces, lazy_loss = _count_train_traces(lazy, x, y)
    config.seed_everything(3)
    built = training.compile_classifier(models.simple_cnn((8, 8, 1), 3, filters=(4,)))
    assert built.optimizer.built  # before any fit
    built_traces, built_loss = _count_train_traces(built, x, y)
    assert lazy_traces == 2 and built_traces == 1  # variables created in a trace make TensorFlow trace twice
    assert built_loss == lazy_loss  # the same numbers


def test_build_training_state_leaves_a_model_without_input_shape_alone():
    import keras

    from helpers import _internals

    model = keras.Sequential([keras.layers.Dense(2)])
    model.compile("adam", "mse")
    assert _internals.build_training_state(model) is False and not model.optimizer.built
