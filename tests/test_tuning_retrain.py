"""helpers.tuning.retrain: retrain a configuration over seeds, and on train + validation."""

import keras
import numpy as np
import pytest

from helpers import runs, tuning


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
