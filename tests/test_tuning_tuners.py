"""helpers.tuning.tuners: budgets, make_tuner's kinds and errors, the course tuners' state, resuming."""

import json
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import keras_tuner as kt
import pytest
from tuning_setup import SMALL

from helpers import config, data, tuning
from helpers.tuning import Range, distributed, tuners

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
        ("random", {"seed": 0}, ValueError, "seed must be a positive integer \\(KerasTuner treats 0 as 'random'\\)"),
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


# ---------------------------------------------------------------------------------------------- the tuner classes


def test_a_tuner_is_complete_when_constructed(tmp_path, hm):
    """The course's state is set by the tuner's own __init__, not bolted on afterwards."""
    common = dict(
        hypermodel=hm, objective=kt.Objective("val_accuracy", "max"), seed=5, directory=str(tmp_path), overwrite=False
    )
    random = tuners.RandomSearch(project_name="r", max_trials=3, max_epochs=4, **common)
    assert (random.kind, random.max_epochs, random.factor, random.resumed_trials) == ("random", 4, 3, 0)
    assert random.course_failures == [] and random.course_trials_run == []
    assert random.oracle.max_trials == 3
    hb = tuners.Hyperband(project_name="h", max_epochs=9, factor=2, **common)
    assert hb.max_epochs == 9 and hb.factor == 2 and hb.oracle.max_epochs == 9 and hb.oracle.factor == 2
    with pytest.raises(TypeError, match="max_epochs"):
        tuners.RandomSearch(project_name="x", max_trials=1, **common)  # the budget is not optional
    with pytest.raises(ValueError, match="max_epochs must be a positive integer. Received: max_epochs=0"):
        tuners.RandomSearch(project_name="x", max_trials=1, max_epochs=0, **common)
    with pytest.raises(ValueError, match="factor must be an integer >= 2"):
        tuners.Hyperband(project_name="x", max_epochs=3, factor=1, **common)


def test_make_tuner_returns_complete_course_tuners(tmp_path, hm):
    for kind in ("random", "bayesian", "hyperband"):
        tuner = tuning.make_tuner(kind, hm, project_name=kind, directory=tmp_path, max_epochs=3, factor=3)
        assert isinstance(tuner, tuners.CourseTuner) and tuner.kind == kind
        assert tuner.max_epochs == 3 and tuner.factor == 3 and tuner.resumed_trials == 0


# ---------------------------------------------------------------------------------------------- resuming


@pytest.fixture(scope="module")
def finished_search(tmp_path_factory):
    """A finished 3-trial random search on a tiny subset of mnist5k."""
    config.seed_everything()
    ds = data.load("mnist5k", train_size=150)
    hm = tuning.CNNHyperModel((28, 28, 1), 10, {**SMALL, "filters": [4, 8], "dropout": 0.0}, patience=1)
    directory = tmp_path_factory.mktemp("tuner")
    tuner = tuning.make_tuner("random", hm, project_name="rs", directory=directory, max_trials=3, max_epochs=2)
    return tuner, tuning.search(tuner, ds), ds


def test_resume_does_not_rerun_a_finished_trial_left_as_ongoing(finished_search, tmp_path):
    """A distributed chief's oracle.json still lists the last finished trial as ongoing."""
    tuner, results, ds = finished_search
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


RESUME_SPACE = {**distributed.demo_space(), "learning_rate": Range(2e-3, 1e-2, log=True), "filters": [4, 8]}
MAX_TRIALS = 5

SCRIPT = textwrap.dedent("""
    import pathlib, sys, time
    import keras
    from helpers import config, data, tuning
    from helpers.tuning import Range

    directory, markers = sys.argv[1], pathlib.Path(sys.argv[2])

    class Marker(keras.callbacks.Callback):
        # Touches a file when a trial starts training: all of KerasTuner's files for it are written.
        def on_train_begin(self, logs=None):
            (markers / f"start_{time.time_ns()}").touch()

    config.setup(show=False)
    ds = data.load("mnist5k", train_size=150)
    hm = tuning.CNNHyperModel(ds.input_shape, ds.num_classes, RESUME_SPACE, patience=5)
    tuner = tuning.make_tuner("random", hm, project_name="resume", directory=directory, max_trials=MAX_TRIALS,
                              max_epochs=EPOCHS)
    tuning.search(tuner, ds, callbacks=[Marker()])
""")


def _statuses(project):
    return {p.parent.name: json.loads(p.read_text())["status"] for p in project.glob("trial_*/trial.json")}


@pytest.mark.slow
def test_a_killed_search_resumes_with_its_finished_trials(tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    script = tmp_path / "search.py"
    script.write_text(
        SCRIPT.replace("RESUME_SPACE", repr(RESUME_SPACE)).replace("MAX_TRIALS", str(MAX_TRIALS)).replace("EPOCHS", "4")
    )
    with subprocess.Popen(  # the with block closes the output pipe (no ResourceWarning) and reaps the process
        [sys.executable, str(script), str(tmp_path / "tuner"), str(markers)],
        cwd=config.ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    ) as proc:
        try:
            deadline = time.monotonic() + 120
            while len(list(markers.iterdir())) < 3:  # the third trial has started training
                assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
                assert time.monotonic() < deadline, "the search did not reach its third trial in time"
                time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    project = tmp_path / "tuner" / "resume"
    before = _statuses(project)
    finished = sorted(t for t, status in before.items() if status == "COMPLETED")
    interrupted = sorted(t.split("_")[1] for t, status in before.items() if status == "RUNNING")
    # normally trials 0 and 1 finished and 2 was killed mid-way (a starved test process may see one more)
    assert len(finished) >= 2 and len(interrupted) <= 1 and len(finished) + len(interrupted) == len(before), before
    scores = {t: json.loads((project / t / "trial.json").read_text())["score"] for t in finished}

    config.setup(show=False)
    ds = data.load("mnist5k", train_size=150)
    hm = tuning.CNNHyperModel(ds.input_shape, ds.num_classes, RESUME_SPACE, patience=5)
    tuner = tuning.make_tuner(
        "random", hm, project_name="resume", directory=tmp_path / "tuner", max_trials=MAX_TRIALS, max_epochs=1
    )
    assert tuner.resumed_trials == len(before)
    results = tuning.search(tuner, ds)
    new = [str(i) for i in range(len(before), MAX_TRIALS)]
    assert tuner.course_trials_run == interrupted + new  # the killed trial again first, then the rest
    assert results["trial"].tolist() == list(range(MAX_TRIALS)) and (results["status"] == "COMPLETED").all()
    for t, score in scores.items():  # finished trials kept as they were
        assert results.loc[int(t.split("_")[1]), "score"] == pytest.approx(score)
    assert results["learning_rate"].nunique() == MAX_TRIALS  # no configuration was repeated
