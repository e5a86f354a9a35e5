"""Running a search: :func:`search` fits every trial on the training split, scores it on the
validation split (the test split is never touched), and fails loudly when a trial failed.

KerasTuner's own ``search()`` returns even when every trial raised (a missing package, a bad
configuration), and ``get_best_hyperparameters()`` still answers; here a failed trial is a
:class:`~helpers.tuning.tuners.TuningError` with the trial's own error message.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence

import pandas as pd

from helpers.data import Dataset
from helpers.tuning.hypermodel import CNNHyperModel
from helpers.tuning.results import best_row, results_table
from helpers.tuning.roles import is_chief, is_worker
from helpers.tuning.tuners import CourseTuner, TuningError

__all__ = ["search"]


def _failure_message(failures: list[tuple[str, str]]) -> str:
    trial_id, message = failures[0]
    lines = [ln for ln in message.strip().splitlines() if ln.strip()]
    last = "\n".join(lines[-6:])
    return (
        f"{len(failures)} trial(s) failed (first: trial {trial_id}). KerasTuner's search() returns anyway, "
        f"so we stop here. The trial's error:\n{last}"
    )


def _ignore_convergence_warnings() -> None:
    try:
        from sklearn.exceptions import ConvergenceWarning
    except ImportError:  # scikit-learn is only needed by Bayesian optimization
        return
    warnings.filterwarnings("ignore", category=ConvergenceWarning)


def search(
    tuner: CourseTuner,
    ds: Dataset | None,
    *,
    epochs: int | None = None,
    callbacks: Sequence = (),
    allow_failed_trials: bool = False,
) -> pd.DataFrame | None:
    """Run ``tuner``'s search on ``ds``: fit on the training split, score on the validation split.

    Quiet (``verbose=0``: KerasTuner's display clears the notebook output). Prints one summary line
    and returns :func:`~helpers.tuning.results.results_table`. Raises :class:`TuningError` with the
    trial's error message if any trial failed (unless ``allow_failed_trials``). In a distributed
    chief, serves the oracle until the workers are done (``ds`` may be None there) and returns None;
    a distributed worker returns None too (read the project folder for the results).

    Args:
        tuner: a tuner from :func:`~helpers.tuning.tuners.make_tuner`.
        epochs: epochs per trial (default the tuner's ``max_epochs``; Hyperband sets its own).
        callbacks: extra Keras callbacks for every trial (they must be deep-copyable).
    """
    if not isinstance(tuner, CourseTuner):
        raise TypeError(f"Pass a tuner made by tuning.make_tuner. Received: {type(tuner).__name__}")
    hm: CNNHyperModel = tuner.hypermodel
    epochs = tuner.max_epochs if epochs is None else epochs
    if is_chief():
        tuner.search(verbose=0)
        tuner.oracle.save()  # KerasTuner's last save still lists the last trial as ongoing
        return None
    if not isinstance(ds, Dataset):
        raise TypeError(f"ds must be a helpers.data.Dataset (from data.load). Received: {type(ds).__name__}")
    if ds.input_shape != hm.input_shape or ds.num_classes != hm.num_classes:
        raise ValueError(
            f"The hypermodel was made for images {hm.input_shape} and {hm.num_classes} classes, but "
            f"{ds.name!r} has {ds.input_shape} and {ds.num_classes}. Build it with "
            "CNNHyperModel(ds.input_shape, ds.num_classes, ...)."
        )
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():  # the Gaussian process's fit warnings are noise in a notebook
            _ignore_convergence_warnings()
            tuner.search(
                ds.x_train,
                ds.y_train,
                validation_data=(ds.x_val, ds.y_val),
                epochs=int(epochs),
                callbacks=list(callbacks),
                verbose=0,
            )
    except RuntimeError as exc:
        if "consecutive failures" in str(exc):
            raise TuningError(f"The search stopped: {exc}") from exc
        raise
    if tuner.course_failures and not allow_failed_trials:
        raise TuningError(_failure_message(tuner.course_failures))
    if is_worker():
        return None
    results = results_table(tuner)
    done = results[results["status"] == "COMPLETED"]
    best = best_row(results)
    kept = f", {tuner.resumed_trials} kept from before" if tuner.resumed_trials else ""
    verdict = (
        f"best {hm.objective} {best['score']:.4f} (trial {best['trial']})" if best is not None else "none completed"
    )
    print(
        f"{tuner.kind}: {len(tuner.course_trials_run)} trials run in {time.perf_counter() - start:.0f} s{kept}; "
        f"{len(done)} completed, {int(done['epochs'].sum())} epochs in all; {verdict}"
    )
    return results
