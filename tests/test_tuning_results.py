"""helpers.tuning.results: the results table of a real (tiny) search, best values, comparisons, importance."""

import numpy as np
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


def _fake_search():
    """Six trials of a space with a log range, a stepped range, a geometric list and a switch."""
    table = pd.DataFrame(
        {
            "trial": range(6),
            "learning_rate": [1e-4, 3e-4, 1e-3, 3e-3, 8e-3, 1e-2],
            "dropout": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5],
            "filters": [8, 8, 16, 8, 16, 8],
            "head": ["gap", "flatten", "flatten", "gap", "flatten", "gap"],
            "score": [0.5, 0.7, 0.8, float("nan"), 0.9, 0.6],
            "status": ["COMPLETED"] * 3 + ["FAILED"] + ["COMPLETED"] * 2,
        }
    )
    table.attrs.update(hyperparameters=["learning_rate", "dropout", "filters", "head"], direction="max")
    space = {
        "learning_rate": tuning.Range(1e-4, 1e-2, log=True),
        "dropout": tuning.Range(0.0, 0.5, step=0.1),
        "filters": [8, 16, 32],
        "head": ["flatten", "gap"],
        "blocks": 1,
    }
    return table, space


def test_by_value_counts_draws_and_the_best_score_per_value():
    table, space = _fake_search()
    draws = tuning.by_value(table, space)
    assert draws[["hyperparameter", "value"]].values.tolist() == [
        ["filters", 8], ["filters", 16], ["filters", 32], ["head", "flatten"], ["head", "gap"],
    ]  # fmt: skip
    assert draws["trials"].tolist() == [4, 2, 0, 3, 3]  # a failed trial was drawn too
    assert draws["best"].tolist()[:2] == [0.7, 0.9] and draws.loc[4, "best"] == 0.6
    assert draws.loc[4, "mean"] == pytest.approx(0.55)  # the failed trial has no score
    assert np.isnan(draws.loc[2, "best"])  # never drawn: not tested
    switches = pd.DataFrame({"trial": [0, 1], "blocks": [1, 2], "batch_norm": [True, False], "score": [0.5, 0.6]})
    switches.attrs.update(hyperparameters=["blocks", "batch_norm"], direction="max")
    values = tuning.by_value(switches, {"blocks": [1, 2], "batch_norm": [True, False]})["value"].tolist()
    assert values == [1, 2, True, False] and isinstance(values[2], bool)  # True is not merged with 1
    with pytest.raises(ValueError, match="no searched choice"):
        tuning.by_value(table, {"learning_rate": space["learning_rate"]})


def test_edge_of_space_flags_a_best_value_at_an_end_and_proposes_a_wider_range():
    table, space = _fake_search()
    edges = tuning.edge_of_space(table, space)  # best trial: lr 8e-3, dropout 0.4, filters 16
    assert list(edges.index) == ["learning_rate", "dropout", "filters"]  # head and fixed blocks are skipped
    assert edges.loc["learning_rate", "position"] == pytest.approx(np.log(80) / np.log(100), abs=1e-3)
    assert edges.loc["learning_rate", "edge"] == "high"  # within 10 % of the top on the log scale
    assert edges.loc["learning_rate", "widen"] == "Range(0.0001, 0.1, log=True)"  # half as wide again: x10
    assert edges.loc["dropout", "edge"] == "" and edges.loc["dropout", "widen"] == ""
    assert edges.loc["filters", "edge"] == "" and edges.loc["filters", "position"] == 0.5
    assert edges.attrs["at_edge"] == ["learning_rate"]
    assert tuning.edge_of_space(table, space, margin=0.01).attrs["at_edge"] == []


def test_edge_of_space_at_the_low_end_and_at_a_dimension_limit():
    table, space = _fake_search()
    table.loc[0, "score"] = 0.99  # lr 1e-4, dropout 0.0, filters 8 becomes the best
    edges = tuning.edge_of_space(table, space)
    assert edges.attrs["at_edge"] == ["learning_rate", "dropout", "filters"]
    assert (edges["edge"] == "low").all()
    assert edges.loc["learning_rate", "widen"] == "Range(1e-05, 0.01, log=True)"
    assert edges.loc["dropout", "widen"] == "at its limit"  # no dropout below 0
    assert edges.loc["filters", "widen"] == "[4, 8, 16, 32]"  # the doubling continues
    blocks = pd.DataFrame({"trial": [0, 1], "blocks": [1, 2], "score": [0.5, 0.9]})
    blocks.attrs.update(hyperparameters=["blocks"], direction="max")
    widened = tuning.edge_of_space(blocks, {"blocks": [1, 2]})
    assert widened.loc["blocks", "edge"] == "high" and widened.loc["blocks", "widen"] == "[1, 2, 3]"
    blocks["score"] = [0.9, 0.5]
    assert tuning.edge_of_space(blocks, {"blocks": [1, 2]}).loc["blocks", "widen"] == "at its limit"


def test_edge_of_space_refuses_what_it_cannot_place(random_search):
    _, results = random_search
    edges = tuning.edge_of_space(results, {"learning_rate": tuning.Range(2e-3, 1e-2, log=True), "filters": [4, 8]})
    assert list(edges.index) == ["learning_rate", "filters"] and edges["position"].between(0, 1).all()
    with pytest.raises(ValueError, match="no column 'dropout'"):
        tuning.edge_of_space(results, {"dropout": tuning.Range(0.0, 0.5)})
    with pytest.raises(ValueError, match="no numeric hyperparameter"):
        tuning.edge_of_space(results, {"head": ["flatten", "gap"]})
    with pytest.raises(ValueError, match="margin must be below 0.5"):
        tuning.edge_of_space(results, {"filters": [4, 8]}, margin=0.5)
    failed = results.assign(score=float("nan"))
    with pytest.raises(tuning.TuningError, match="No trial completed"):
        tuning.edge_of_space(failed, {"filters": [4, 8]})
