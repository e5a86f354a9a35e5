"""helpers.tuning with real (tiny) searches: results table, failures, Hyperband's budget, retraining."""

import subprocess
import sys
import textwrap

import keras
import numpy as np
import pandas as pd
import pytest

from helpers import config, data, tuning
from helpers.tuning import Range

SPACE = {
    "learning_rate": Range(2e-3, 1e-2, log=True),
    "filters": [4, 8],
    "blocks": 1,
    "convs_per_block": 1,
    "batch_norm": False,
    "head": "flatten",
    "dense_units": 0,
    "dropout": 0.0,
}


@pytest.fixture(scope="module")
def ds():
    config.seed_everything()
    return data.load("mnist5k", train_size=150)


@pytest.fixture(scope="module")
def hm():
    return tuning.CNNHyperModel((28, 28, 1), 10, SPACE, patience=1)


@pytest.fixture(scope="module")
def random_search(ds, hm, tmp_path_factory):
    directory = tmp_path_factory.mktemp("tuner")
    tuner = tuning.make_tuner("random", hm, project_name="rs", directory=directory, max_trials=3, max_epochs=2)
    return tuner, tuning.search(tuner, ds)


class Boom(keras.callbacks.Callback):
    """Makes every trial fail, as a missing package or a bad configuration would."""

    def on_train_begin(self, logs=None):
        raise ValueError("boom from inside the trial")


def test_results_table(random_search, capsys):
    tuner, results = random_search
    assert list(results.columns) == [
        "trial",
        "filters",
        "learning_rate",
        "score",
        "best_epoch",
        "epochs",
        "seconds",
        "status",
        "run_by",
        "best_so_far",
        "cum_epochs",
        "cum_seconds",
    ]
    assert results["trial"].tolist() == [0, 1, 2]
    assert (results["status"] == "COMPLETED").all() and (results["run_by"] == "tuner0").all()
    assert results["score"].between(0, 1).all() and (results["epochs"] >= 1).all() and (results["epochs"] <= 2).all()
    assert (results["best_epoch"] <= results["epochs"]).all() and (results["seconds"] > 0).all()
    assert results["best_so_far"].is_monotonic_increasing
    assert results["best_so_far"].iloc[-1] == results["score"].max()
    assert results["cum_epochs"].iloc[-1] == results["epochs"].sum()
    assert results.attrs["hyperparameters"] == ["filters", "learning_rate"]
    assert results.attrs["fixed"]["head"] == "flatten" and results.attrs["objective"] == "val_accuracy"
    # the scores are KerasTuner's own
    best_trial = tuner.oracle.get_best_trials(1)[0]
    assert results["score"].max() == pytest.approx(best_trial.score)


def test_results_table_from_the_folder_matches(random_search):
    tuner, results = random_search
    from_disk = tuning.results_table(tuner.project_dir)
    pd.testing.assert_frame_equal(from_disk, results)
    with pytest.raises(ValueError, match="is not a KerasTuner project folder"):
        tuning.results_table(tuner.directory)


def test_best_values_and_compare(random_search):
    tuner, results = random_search
    best = tuning.best_values(tuner)
    row = results.loc[results["score"].idxmax()]
    assert best["filters"] == row["filters"] and best["learning_rate"] == pytest.approx(row["learning_rate"])
    assert best["head"] == "flatten" and best["blocks"] == 1 and best["batch_size"] == 64
    assert all(type(v) in (int, float, bool, str) for v in best.values())
    assert tuning.best_values(results) == best
    summary = tuning.compare_searches({"random": results})
    assert summary.loc["random", "trials"] == 3 and summary.loc["random", "epochs"] == results["epochs"].sum()
    assert summary.loc["random", "best trial"] == row["trial"]
    with pytest.raises(ValueError, match="runs is empty"):
        tuning.compare_searches({})


def test_hyperparameter_importance(random_search):
    _, results = random_search
    table = tuning.hyperparameter_importance(results)
    assert set(table.index) <= {"filters", "learning_rate"} and (table["spread"] >= 0).all()
    fake = pd.DataFrame(
        {
            "trial": range(6),
            "lr": [1e-4, 2e-4, 1e-3, 2e-3, 1e-2, 2e-2],
            "head": ["a", "b"] * 3,
            "score": [0.1, 0.2, 0.8, 0.85, 0.9, 0.95],
        }
    )
    fake.attrs.update(hyperparameters=["lr", "head"], direction="max")
    ranked = tuning.hyperparameter_importance(fake)
    assert ranked.index[0] == "lr" and ranked.loc["lr", "spread"] == pytest.approx(0.925 - 0.15)
    with pytest.raises(ValueError, match="Need at least 3 completed trials"):
        tuning.hyperparameter_importance(fake.iloc[:2])
    with pytest.raises(ValueError, match="no hyperparameter columns"):
        tuning.hyperparameter_importance(pd.DataFrame({"score": [1.0]}))


def test_search_continues_when_called_again(random_search, ds):
    tuner, _ = random_search
    assert tuner.remaining_trials == 0
    again = tuning.search(tuner, ds)  # budget spent: nothing new runs
    assert len(again) == 3


def test_resume_does_not_rerun_a_finished_trial_left_as_ongoing(random_search, ds, tmp_path):
    """A distributed chief's oracle.json still lists the last finished trial as ongoing."""
    import json
    import shutil

    tuner, results = random_search
    copy = tmp_path / "rs"
    shutil.copytree(tuner.project_dir, copy)
    state = json.loads((copy / "oracle.json").read_text())
    state["ongoing_trials"] = {"tuner1": "2"}
    (copy / "oracle.json").write_text(json.dumps(state))
    resumed = tuning.make_tuner(
        "random", tuner.hypermodel, project_name="rs", directory=tmp_path, max_trials=3, max_epochs=2
    )
    assert resumed.resumed_trials == 3 and resumed.oracle._retry_queue == []
    again = tuning.search(resumed, ds)
    assert resumed.course_trials_run == [] and again["score"].tolist() == results["score"].tolist()


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
    assert sorted(zip(results["filters"], results["learning_rate"])) == [
        (4, 3e-3),
        (4, 1e-2),
        (8, 3e-3),
        (8, 1e-2),
    ]
    hm = tuning.CNNHyperModel((28, 28, 1), 10, SPACE, patience=1)
    bayes = tuning.make_tuner("bayesian", hm, project_name="b", directory=tmp_path, max_trials=3, max_epochs=1)
    assert len(tuning.search(bayes, ds)) == 3


def test_same_seed_same_search(ds, hm, tmp_path, random_search):
    _, first = random_search
    tuner = tuning.make_tuner("random", hm, project_name="again", directory=tmp_path, max_trials=2, max_epochs=2)
    again = tuning.search(tuner, ds)
    pd.testing.assert_series_equal(again["learning_rate"], first["learning_rate"].iloc[:2])
    np.testing.assert_allclose(again["score"], first["score"].iloc[:2])


def test_rerun_with_seeds_and_fit_train_val(ds, hm, random_search):
    tuner, _ = random_search
    best = tuning.best_values(tuner)
    reruns = tuning.rerun_with_seeds(hm, best, ds, seeds=(1, 2), epochs=1)
    assert reruns["seed"].tolist() == [1, 2] and reruns["score"].between(0, 1).all()
    with pytest.raises(ValueError, match="seeds is empty"):
        tuning.rerun_with_seeds(hm, best, ds, seeds=(), epochs=1)
    model = tuning.build_model(best)
    history = tuning.fit_train_val(model, ds, epochs=1, batch_size=64, verbose=0)
    assert set(history.history) == {"loss", "accuracy"}  # no validation left
    assert history.params["steps"] == int(np.ceil((len(ds.x_train) + len(ds.x_val)) / 64))
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        tuning.fit_train_val(model, ds, epochs=0)
    with pytest.raises(ValueError, match="Compile the model first"):
        tuning.fit_train_val(keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten()]), ds, epochs=1)


def test_objective_missing_from_the_logs(hm, ds):
    model = tuning.build_model({"blocks": 1, "filters": 4, "convs_per_block": 1})
    with pytest.raises(ValueError, match="objective 'val_accuracy' is not among the logged metrics"):
        hm.train(model, ds.x_train, ds.y_train, epochs=1, batch_size=64)


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
