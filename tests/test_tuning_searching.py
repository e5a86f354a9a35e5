"""helpers.tuning.searching: search() on real (tiny) searches: summaries, failures, every tuner kind."""

import subprocess
import sys
import textwrap

import keras
import numpy as np
import pandas as pd
import pytest
from tuning_setup import SPACE

from helpers import config, data, tuning


class Boom(keras.callbacks.Callback):
    """Makes every trial fail, as a missing package or a bad configuration would."""

    def on_train_begin(self, logs=None):
        raise ValueError("boom from inside the trial")


def test_search_continues_when_called_again(random_search, ds):
    tuner, _ = random_search
    assert tuner.remaining_trials == 0
    again = tuning.search(tuner, ds)  # budget spent: nothing new runs
    assert len(again) == 3


def test_a_failed_trial_fails_loudly(ds, hm, tmp_path):
    tuner = tuning.make_tuner("random", hm, project_name="f", directory=tmp_path, max_trials=2, max_epochs=1)
    with pytest.raises(tuning.TuningError, match="(?s)2 trial\\(s\\) failed.*boom from inside the trial"):
        tuning.search(tuner, ds, callbacks=[Boom()])
    results = tuning.search(tuner, ds, allow_failed_trials=True)
    assert results["status"].tolist() == ["FAILED", "FAILED"] and results["score"].isna().all()
    with pytest.raises(tuning.TuningError, match="No trial completed"):
        tuning.best_values(results)


def test_consecutive_failures_stop_the_search(ds, hm, tmp_path):
    tuner = tuning.make_tuner("random", hm, project_name="c", directory=tmp_path, max_trials=5, max_epochs=1)
    with pytest.raises(tuning.TuningError, match="(?s)The search stopped.*consecutive failures.*boom"):
        tuning.search(tuner, ds, callbacks=[Boom()])


def test_missing_tensorboard_inside_trials_fails_loudly(ds, hm, tmp_path, monkeypatch):
    """The real pitfall: KerasTuner imports tensorboard's hparams plugin in every trial."""
    tuner = tuning.make_tuner("random", hm, project_name="tb", directory=tmp_path, max_trials=1, max_epochs=1)
    monkeypatch.setitem(sys.modules, "tensorboard.plugins.hparams", None)
    with pytest.raises(tuning.TuningError, match="(?s)1 trial\\(s\\) failed.*(ModuleNotFoundError|ImportError)"):
        tuning.search(tuner, ds)


def test_search_checks_its_inputs(random_search, ds):
    tuner, _ = random_search
    with pytest.raises(TypeError, match="ds must be a helpers.data.Dataset"):
        tuning.search(tuner, (ds.x_train, ds.y_train))
    digits = data.load("digits")
    with pytest.raises(ValueError, match=r"made for images \(28, 28, 1\) and 10 classes, but 'digits' has \(8, 8, 1\)"):
        tuning.search(tuner, digits)
    with pytest.raises(TypeError, match="Pass a tuner made by tuning.make_tuner"):
        tuning.search(object(), ds)


@pytest.mark.slow
def test_hyperband_trains_its_schedule(ds, tmp_path):
    hm = tuning.CNNHyperModel((28, 28, 1), 10, SPACE, patience=10)  # no early stop: the full schedule
    tuner = tuning.make_tuner("hyperband", hm, project_name="hb", directory=tmp_path, max_epochs=3)
    results = tuning.search(tuner, ds)
    schedule = tuning.hyperband_schedule(3)
    assert len(results) == schedule["trials"].sum()
    assert results["epochs"].sum() == tuning.epoch_budget("hyperband", max_epochs=3) == schedule["new_epochs"].sum()


@pytest.mark.slow
def test_grid_and_bayesian_searches(ds, tmp_path):
    grid_hm = tuning.CNNHyperModel((28, 28, 1), 10, {**SPACE, "learning_rate": [3e-3, 1e-2]}, patience=1)
    grid = tuning.make_tuner("grid", grid_hm, project_name="g", directory=tmp_path, max_epochs=1)
    results = tuning.search(grid, ds)
    assert sorted(zip(results["filters"], results["learning_rate"])) == [(4, 3e-3), (4, 1e-2), (8, 3e-3), (8, 1e-2)]
    hm = tuning.CNNHyperModel((28, 28, 1), 10, SPACE, patience=1)
    bayes = tuning.make_tuner("bayesian", hm, project_name="b", directory=tmp_path, max_trials=3, max_epochs=1)
    assert len(tuning.search(bayes, ds)) == 3


def test_same_seed_same_search(ds, hm, tmp_path, random_search):
    _, first = random_search
    tuner = tuning.make_tuner("random", hm, project_name="again", directory=tmp_path, max_trials=2, max_epochs=2)
    again = tuning.search(tuner, ds)
    pd.testing.assert_series_equal(again["learning_rate"], first["learning_rate"].iloc[:2])
    np.testing.assert_allclose(again["score"], first["score"].iloc[:2])


@pytest.mark.slow
def test_mirrored_strategy_trials(tmp_path):
    """distribution_strategy reaches every trial: two logical CPUs stand in for two GPUs."""
    script = textwrap.dedent(f"""
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from helpers import config, data, tuning
        config.setup(show=False)
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        ds = data.load("mnist5k", train_size=100)
        hm = tuning.CNNHyperModel((28, 28, 1), 10, dict(
            learning_rate=tuning.Range(2e-3, 1e-2, log=True), filters=[4, 8], blocks=1, convs_per_block=1,
            batch_norm=False, head="flatten", dense_units=0))
        tuner = tuning.make_tuner("random", hm, project_name="ms", directory={str(tmp_path)!r}, max_trials=1,
                                  max_epochs=1, distribution_strategy=strategy)
        results = tuning.search(tuner, ds)
        assert results["status"].tolist() == ["COMPLETED"], results
        print("replicas", strategy.num_replicas_in_sync)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=config.ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "replicas 2" in out.stdout


def test_search_prints_one_summary_line(ds, hm, tmp_path, capsys):
    tuner = tuning.make_tuner("random", hm, project_name="s", directory=tmp_path, max_trials=1, max_epochs=1)
    tuning.search(tuner, ds)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("random: 1 trials run in ") and "1 completed" in line and "best val_accuracy" in line
