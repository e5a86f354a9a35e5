"""Reading a search: a tidy table of its trials, the best configuration, comparisons between searches,
and a rough ranking of which hyperparameters mattered.

Everything here reads a tuner *or* its project folder (``build/tuner/<project_name>``), so a search
that ran in another process (a distributed run, yesterday's session) reads the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers import _validate
from helpers.tuning import project
from helpers.tuning.hypermodel import objective_direction
from helpers.tuning.space import DEFAULTS, DIMENSION_BY_NAME, DIMENSIONS
from helpers.tuning.tuners import CourseTuner, TuningError

__all__ = ["results_table", "best_values", "compare_searches", "hyperparameter_importance"]


def best_row(results: pd.DataFrame) -> pd.Series | None:
    """The row of the best completed trial of a :func:`results_table`, or None if none completed."""
    done = results.dropna(subset=["score"])
    if done.empty:
        return None
    idx = done["score"].idxmax() if results.attrs.get("direction", "max") == "max" else done["score"].idxmin()
    return done.loc[idx]


def _last_value(metric_config: dict) -> float:
    observations = metric_config.get("observations") or []
    if not observations:
        return float("nan")
    value = observations[-1]["value"]
    return float(value[0] if isinstance(value, list) else value)


def _trial_states(source) -> tuple[list[dict], dict, str]:
    """Trial states (dicts) and (fixed values, objective) from a tuner or a project folder."""
    if isinstance(source, CourseTuner):
        if not hasattr(source.oracle, "trials"):
            raise ValueError("A distributed worker cannot list the trials; read the project folder instead.")
        states = [t.get_state() for t in source.oracle.trials.values()]
        project_dir = Path(source.project_dir)
    else:
        project_dir = Path(source)
        if not (project_dir / "oracle.json").exists():
            raise ValueError(f"{project_dir} is not a KerasTuner project folder (no oracle.json).")
        states = [json.loads(p.read_text()) for p in sorted(project_dir.glob("trial_*/trial.json"))]
    fixed, objective = {}, "val_accuracy"
    saved = project.read_fingerprint(project_dir)
    if saved is not None:
        objective = saved.get("objective", objective)
        space = saved.get("space", {})
        fixed = {
            d.name: space.get(d.name, d.default) for d in DIMENSIONS if not isinstance(space.get(d.name), (list, dict))
        }
    for state in states:
        state["_record"] = project.read_trial_record(project_dir / f"trial_{state['trial_id']}")
    return states, fixed, objective


def _trial_number(trial_id):
    return int(trial_id) if str(trial_id).isdigit() else trial_id


def results_table(source) -> pd.DataFrame:
    """A tidy table of a search, one row per trial in the order they were created.

    ``source`` is a tuner or a project folder (``build/tuner/<project_name>``). Columns: ``trial``,
    one column per searched hyperparameter, ``score`` (the objective; NaN if the trial failed),
    ``best_epoch``, ``epochs`` (trained in that trial), ``seconds``, ``status``, ``run_by`` (the
    tuner id), and the running ``best_so_far``, ``cum_epochs``, ``cum_seconds``.
    ``df.attrs`` holds ``hyperparameters`` (the searched names), ``fixed`` values and ``objective``.
    """
    states, fixed, objective = _trial_states(source)
    direction = objective_direction(objective)
    hp_names: list[str] = []
    rows = []
    for state in sorted(states, key=lambda s: int(s["trial_id"]) if str(s["trial_id"]).isdigit() else 0):
        values = state["hyperparameters"]["values"]
        for name in values:
            if name in DIMENSION_BY_NAME and name not in hp_names:
                hp_names.append(name)
        metrics = state["metrics"]["metrics"]
        status = state.get("status")
        completed = status == "COMPLETED"
        rows.append(
            {
                "trial": _trial_number(state["trial_id"]),
                **{k: v for k, v in values.items() if k in DIMENSION_BY_NAME},
                "score": float(state["score"]) if completed and state.get("score") is not None else float("nan"),
                "best_epoch": _last_value(metrics.get("best_epoch", {})),
                "epochs": _last_value(metrics.get("epochs_trained", {})),
                "seconds": _last_value(metrics.get("train_seconds", {})),
                "status": status,
                "run_by": state["_record"].get("tuner_id"),
            }
        )
    hp_names = [d.name for d in DIMENSIONS if d.name in hp_names]
    columns = ["trial", *hp_names, "score", "best_epoch", "epochs", "seconds", "status", "run_by"]
    df = pd.DataFrame(rows, columns=columns)
    scores = df["score"].astype(float)
    running = scores.cummax() if direction == "max" else scores.cummin()
    df["best_so_far"] = running.ffill()
    df["cum_epochs"] = df["epochs"].fillna(0).cumsum()
    df["cum_seconds"] = df["seconds"].fillna(0).cumsum()
    df.attrs.update(
        hyperparameters=hp_names,
        fixed={k: v for k, v in fixed.items() if k not in hp_names},
        objective=objective,
        direction=direction,
    )
    return df


def best_values(source) -> dict[str, Any]:
    """The best completed trial's full configuration (searched values plus the fixed ones), ready
    for :func:`~helpers.tuning.hypermodel.build_model`. ``source``: a tuner, a project folder or a
    :func:`results_table`."""
    results = source if isinstance(source, pd.DataFrame) else results_table(source)
    best = best_row(results)
    if best is None:
        raise TuningError("No trial completed, so there is no best configuration. Run search() first.")
    values = {**DEFAULTS, **results.attrs.get("fixed", {})}
    for name in results.attrs["hyperparameters"]:
        v = best[name]
        values[name] = v.item() if isinstance(v, np.generic) else v
    return {k: DIMENSION_BY_NAME[k].kind(v) for k, v in values.items()}


def compare_searches(runs: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per search: trials, completed, epochs and seconds used, best score and its trial."""
    if not runs:
        raise ValueError("runs is empty; pass e.g. {'random': random_results, 'hyperband': hb_results}.")
    rows = {}
    for name, df in runs.items():
        best = best_row(df)
        rows[name] = {
            "trials": len(df),
            "completed": int((df["status"] == "COMPLETED").sum()),
            "epochs": int(df["epochs"].fillna(0).sum()),
            "seconds": round(float(df["seconds"].fillna(0).sum()), 1),
            "best score": None if best is None else round(float(best["score"]), 4),
            "best trial": None if best is None else best["trial"],
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def hyperparameter_importance(results: pd.DataFrame, *, bins: int = 3) -> pd.DataFrame:
    """A rough answer to "which hyperparameters mattered": for each one, the spread (max - min) of
    the mean score across its values (numbers with many values are cut into ``bins`` quantile bins).

    Meaningful on a *random* search (an unbiased sample of the space); with a few dozen trials
    it ranks the big effects and is noise for the small ones.
    """
    names = results.attrs.get("hyperparameters")
    if not names:
        raise ValueError("results has no hyperparameter columns; pass a table from tuning.results_table.")
    done = results.dropna(subset=["score"])
    if len(done) < 3:
        raise ValueError(f"Need at least 3 completed trials to compare values; got {len(done)}.")
    rows = []
    for name in names:
        col = done[name]
        if col.nunique() < 2:
            continue
        binned = _validate.is_number(col.iloc[0]) and col.nunique() > bins
        groups = pd.qcut(col.rank(method="first"), bins, labels=False) if binned else col.astype(str)
        means = done.groupby(groups)["score"].mean()
        best_group = means.idxmax() if results.attrs.get("direction", "max") == "max" else means.idxmin()
        in_best = col[groups == best_group]
        best_desc = f"{in_best.min():.3g}-{in_best.max():.3g}" if binned else str(in_best.iloc[0])
        rows.append(
            {"hyperparameter": name, "spread": float(means.max() - means.min()), "best": best_desc, "trials": len(done)}
        )
    return pd.DataFrame(rows).sort_values("spread", ascending=False).set_index("hyperparameter")
