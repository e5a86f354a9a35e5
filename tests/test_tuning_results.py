"""helpers.tuning.results: the results table of a real (tiny) search, best values, comparisons, importance."""

import pandas as pd
import pytest

from helpers import tuning
from helpers.tuning import results


def test_results_table(random_search):
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


def test_best_row_follows_the_direction():
    table = pd.DataFrame({"trial": [0, 1, 2], "score": [0.5, float("nan"), 0.2]})
    table.attrs["direction"] = "max"
    assert results.best_row(table)["trial"] == 0
    table.attrs["direction"] = "min"
    assert results.best_row(table)["trial"] == 2
    assert results.best_row(table.iloc[[1]]) is None
