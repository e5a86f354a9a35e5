"""Retraining the winner of a search: on train + validation for the final model, or on the training
split with other seeds to measure the noise floor between trials."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np
import pandas as pd

from helpers import _validate, config
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
    """Train one configuration again with other seeds, exactly as a trial is trained, and return
    one row per seed (``seed``, ``score``, ``best_epoch``, ``epochs``). The spread of the scores is
    the noise floor: differences between trials smaller than that are luck."""
    if not seeds:
        raise ValueError("seeds is empty; pass e.g. seeds=(1, 2, 3).")
    _, _, batch_size = model_arguments(values)
    rows = []
    for seed in seeds:
        model = build_model(values, hypermodel.input_shape, hypermodel.num_classes, seed=int(seed))
        m = hypermodel.train(
            model,
            ds.x_train,
            ds.y_train,
            validation_data=(ds.x_val, ds.y_val),
            epochs=int(epochs),
            batch_size=batch_size,
        )
        rows.append(
            {
                "seed": int(seed),
                "score": m[hypermodel.objective],
                "best_epoch": int(m["best_epoch"]),
                "epochs": int(m["epochs_trained"]),
            }
        )
    return pd.DataFrame(rows)
