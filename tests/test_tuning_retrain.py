"""helpers.tuning.retrain: retrain a configuration over seeds, and on train + validation."""

import keras
import numpy as np
import pandas as pd
import pytest

from helpers import evaluation, runs, tuning


def test_rerun_with_seeds_and_fit_train_val(ds, hm):
    best = {**tuning.DEFAULTS, **hm.fixed, "filters": 8, "learning_rate": 5e-3}  # as best_values returns it
    reruns = tuning.rerun_with_seeds(hm, best, ds, seeds=(1, 2), epochs=1)
    assert reruns["seed"].tolist() == [1, 2] and reruns["score"].between(0, 1).all()
    with pytest.raises(ValueError, match="seeds must be a non-empty sequence"):
        tuning.rerun_with_seeds(hm, best, ds, seeds=(), epochs=1)
    model = tuning.build_model(best)
    history = tuning.fit_train_val(model, ds, epochs=1, batch_size=64, verbose=0)
    assert set(history.history) == {"loss", "accuracy"}  # no validation left
    assert history.params["steps"] == int(np.ceil((len(ds.x_train) + len(ds.x_val)) / 64))
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        tuning.fit_train_val(model, ds, epochs=0)
    with pytest.raises(ValueError, match="Compile the model first"):
        tuning.fit_train_val(keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten()]), ds, epochs=1)


def test_rerun_with_seeds_repeats_a_seed_exactly(ds, hm):
    """A seed's score is reproducible, so the spread across seeds is the seeds' doing."""
    values = {**hm.fixed, "filters": 4, "learning_rate": 5e-3}
    first = tuning.rerun_with_seeds(hm, values, ds, seeds=(3,), epochs=1)
    again = tuning.rerun_with_seeds(hm, values, ds, seeds=(3,), epochs=1)
    assert list(first.columns) == [*runs.ROW_COLUMNS, "score"] and (first["name"] == "rerun").all()
    assert (first["val_accuracy"] <= first["score"] + 1e-9).all()  # final weights vs the best epoch's score
    assert first["score"].tolist() == pytest.approx(again["score"].tolist())


def test_fit_final_evaluate_finals_and_paired_tests(ds, hm):
    """One final model per seed on train + validation, tested once, compared pairwise per seed."""
    a = {**hm.fixed, "filters": 4, "learning_rate": 5e-3}
    b = {**hm.fixed, "filters": 8, "learning_rate": 2e-3}
    finals = {"a": tuning.fit_final(a, ds, seeds=(1, 2), epochs=1, verbose=0)}
    finals["b"] = tuning.fit_final(b, ds, seeds=(2,), epochs=1, verbose=0)
    assert list(finals["a"]) == [1, 2] and all(m.optimizer is not None for m in finals["a"].values())
    test = tuning.evaluate_finals(finals, ds)
    assert list(test.columns) == ["name", "seed", "test_accuracy", "test_se", "params"]
    assert test[["name", "seed"]].values.tolist() == [["a", 1], ["a", 2], ["b", 2]]
    expected = evaluation.evaluate(finals["b"][2], ds, "test")
    assert test.loc[2, "test_accuracy"] == pytest.approx(expected)
    assert test.loc[2, "test_se"] == pytest.approx(np.sqrt(expected * (1 - expected) / len(ds.y_test)))
    assert "1 seed" in runs.spread_text(test, "b", "test_accuracy")
    paired = tuning.paired_tests(test, ds, "a", "b")
    assert list(paired) == [2]  # only seed 2 was trained for both
    result = paired[2]
    assert result.names == ("a", "b") and result.n == len(ds.y_test)
    assert result.accuracy_difference == pytest.approx(test.loc[1, "test_accuracy"] - test.loc[2, "test_accuracy"])
    with pytest.raises(ValueError, match="No seed was trained for both 'a' and 'c'"):
        tuning.paired_tests(test, ds, "a", "c")
    with pytest.raises(ValueError, match="no predictions"):
        tuning.paired_tests(pd.DataFrame(test.to_dict("list")), ds, "a", "b")
    with pytest.raises(ValueError, match="non-empty"):
        tuning.evaluate_finals({}, ds)
    with pytest.raises(ValueError, match=r"finals\['a'\] must be a non-empty"):
        tuning.evaluate_finals({"a": {}}, ds)


def test_rerun_with_seeds_names_its_rows(ds, hm):
    values = {**hm.fixed, "filters": 4, "learning_rate": 5e-3}
    reruns = tuning.rerun_with_seeds(hm, values, ds, seeds=(1,), epochs=1, name="baseline")
    assert reruns["name"].tolist() == ["baseline"]
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        tuning.rerun_with_seeds(hm, values, ds, seeds=(1,), epochs=1, name="")
