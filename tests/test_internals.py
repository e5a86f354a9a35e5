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
