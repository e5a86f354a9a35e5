"""Retraining the winner of a search: on the training split with other seeds to measure the noise
floor between trials, then on train + validation for the final models, which are tested once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np
import pandas as pd

from helpers import _validate, config, evaluation, runs, significance
from helpers.data import Dataset
from helpers.pipelines import to_tf_dataset
from helpers.tuning.hypermodel import CNNHyperModel, build_model
from helpers.tuning.space import model_arguments

__all__ = ["fit_train_val", "rerun_with_seeds", "fit_final", "evaluate_finals", "paired_tests"]


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
    hypermodel: CNNHyperModel,
    values: Mapping[str, Any],
    ds: Dataset,
    *,
    seeds: Sequence[int],
    epochs: int,
    name: str = "rerun",
) -> pd.DataFrame:
    """Train one configuration again with other seeds, exactly as a trial is trained.

    Returns a :func:`helpers.runs.table` (one row per seed, named ``name``) with one more column,
    ``score``: what the search compares, the objective at the trial's best epoch. That maximum over
    epochs is optimistic; the row's ``val_accuracy`` is the same model measured on its final weights.
    The spread of the scores over seeds is the noise floor: differences between trials smaller than
    that are luck.
    """
    seeds = _validate.seeds(seeds)
    name = _validate.non_empty_str(name, "name")
    _, _, batch_size = model_arguments(values)
    rows = []
    for seed in seeds:
        model = build_model(values, hypermodel.input_shape, hypermodel.num_classes, seed=seed)
        m = hypermodel.train(
            model, ds.x_train, ds.y_train, validation_data=(ds.x_val, ds.y_val), epochs=int(epochs),
            batch_size=batch_size,
        )  # fmt: skip
        run = runs.measure(
            name, model, ds, seed=seed, seconds=m["train_seconds"], best_epoch=int(m["best_epoch"]),
            epochs_run=int(m["epochs_trained"]),
        )  # fmt: skip
        rows.append({**run.row, "score": m[hypermodel.objective]})
    return runs.table(rows)


def fit_final(
    values: Mapping[str, Any], ds: Dataset, *, seeds: Sequence[int], epochs: int, verbose=None
) -> dict[int, keras.Model]:
    """One final model of a configuration per seed, each trained on train + validation
    (:func:`fit_train_val`) with the configuration's batch size for ``epochs`` epochs.

    Several seeds, because one final model is one draw: the spread over seeds says how much of a
    difference between two configurations' test accuracies is theirs. Returns ``{seed: model}``.
    """
    seeds = _validate.seeds(seeds)
    _, _, batch_size = model_arguments(values)
    finals = {}
    for seed in seeds:
        model = build_model(values, ds.input_shape, ds.num_classes, seed=seed, name=f"final_seed{seed}")
        fit_train_val(model, ds, epochs=epochs, batch_size=batch_size, seed=seed, verbose=verbose)
        finals[seed] = model
    return finals


def evaluate_finals(finals: Mapping[str, Mapping[int, keras.Model]], ds: Dataset) -> pd.DataFrame:
    """The one look at the test split: the test accuracy of every final model.

    ``finals`` maps a configuration's name to what :func:`fit_final` returned. Returns one row per
    model (``name``, ``seed``, ``test_accuracy``, ``test_se``: its binomial standard error,
    ``params``), which :func:`helpers.runs.spread_text` reads with ``metric="test_accuracy"``;
    ``attrs["predictions"]`` holds ``{(name, seed): predicted classes}`` for :func:`paired_tests`.
    Call it once, after every choice is made.
    """
    if not isinstance(finals, Mapping) or not finals:
        raise ValueError("finals must be a non-empty {name: {seed: model}} dict, e.g. from tuning.fit_final.")
    rows, predictions = [], {}
    n = len(ds.y_test)
    for name, models_by_seed in finals.items():
        if not isinstance(models_by_seed, Mapping) or not models_by_seed:
            raise ValueError(f"finals[{name!r}] must be a non-empty {{seed: model}} dict (what fit_final returns).")
        for seed, model in models_by_seed.items():
            predicted = evaluation.predict_classes(model, ds.x_test)
            accuracy = float(np.mean(predicted == ds.y_test))
            predictions[(name, int(seed))] = predicted
            rows.append(
                {
                    "name": name,
                    "seed": int(seed),
                    "test_accuracy": accuracy,
                    "test_se": significance.binomial_se(accuracy, n),
                    "params": int(model.count_params()),
                }
            )
    table = pd.DataFrame(rows)
    table.attrs["predictions"] = predictions
    table.attrs["n"] = n
    return table


def paired_tests(test: pd.DataFrame, ds: Dataset, a: str, b: str) -> dict[int, significance.McNemar]:
    """McNemar's paired test of configuration ``a`` against ``b`` on the same test images, one per
    seed both were trained with (seed s of ``a`` against seed s of ``b``): ``{seed: result}``.
    ``test``: what :func:`evaluate_finals` returned."""
    predictions = test.attrs.get("predictions")
    if not predictions:
        raise ValueError("test has no predictions; pass the table that tuning.evaluate_finals returned.")
    seeds = [s for (name, s) in predictions if name == a and (b, s) in predictions]
    if not seeds:
        known = sorted({name for name, _ in predictions})
        raise ValueError(f"No seed was trained for both {a!r} and {b!r}. Configurations: {known}")
    return {s: significance.mcnemar(ds.y_test, predictions[(a, s)], predictions[(b, s)], names=(a, b)) for s in seeds}
