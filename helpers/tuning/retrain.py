"""Retraining the winner of a search: on train + validation for the final model, or on the training
split with other seeds to measure the noise floor between trials."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np
import pandas as pd

from helpers import _validate, config, runs
from helpers.data import Dataset
from helpers.pipelines import to_tf_dataset
from helpers.tuning.hypermodel import CNNHyperModel, build_model
from helpers.tuning.space import model_arguments

__all__ = ["fit_train_val", "rerun_with_seeds"]


def fit_train_val(
    model: keras.Model, ds: Dataset, *, epochs: int, batch_size: int = 64, seed: int = config.DEFAULT_SEED, verbose=None
) -> keras.callbacks.History:
    """Train a compiled ``model`` on the training *and* validation splits together.

    Once the hyperparameters are chosen, the validation split has done its job; training on it too
    gives the final model more data. There is nothing left to validate on, so the number of epochs
    must come from the search. Evaluate the result once, on the test split.
    """
    epochs = _validate.positive_int(epochs, "epochs")
    if getattr(model, "optimizer", None) is None:
        raise ValueError("Compile the model first, e.g. tuning.build_model(values) or training.compile_classifier.")
    x = np.concatenate([ds.x_train, ds.x_val])
    y = np.concatenate([ds.y_train, ds.y_val])
    pipeline = to_tf_dataset(x, y, batch_size=batch_size, shuffle=True, seed=seed)
    return model.fit(
        pipeline, epochs=epochs, shuffle=False, verbose=config.fit_verbose() if verbose is None else verbose
    )


def rerun_with_seeds(
    hypermodel: CNNHyperModel, values: Mapping[str, Any], ds: Dataset, *, seeds: Sequence[int], epochs: int
) -> pd.DataFrame:
    """Train one configuration again with other seeds, exactly as a trial is trained.

    Returns a :func:`helpers.runs.table` (one row per seed, named ``"rerun"``) with one more column,
    ``score``: what the search compares, the objective at the trial's best epoch. That maximum over
    epochs is optimistic; the row's ``val_accuracy`` is the same model measured on its final weights.
    The spread of the scores over seeds is the noise floor: differences between trials smaller than
    that are luck.
    """
    seeds = _validate.seeds(seeds)
    _, _, batch_size = model_arguments(values)
    rows = []
    for seed in seeds:
        model = build_model(values, hypermodel.input_shape, hypermodel.num_classes, seed=seed)
        m = hypermodel.train(
            model, ds.x_train, ds.y_train, validation_data=(ds.x_val, ds.y_val), epochs=int(epochs),
            batch_size=batch_size,
        )  # fmt: skip
        run = runs.measure(
            "rerun", model, ds, seed=seed, seconds=m["train_seconds"], best_epoch=int(m["best_epoch"]),
            epochs_run=int(m["epochs_trained"]),
        )  # fmt: skip
        rows.append({**run.row, "score": m[hypermodel.objective]})
    return runs.table(rows)
