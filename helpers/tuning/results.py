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
from helpers.tuning.space import DEFAULTS, DIMENSION_BY_NAME, DIMENSIONS, Range, validate_space
from helpers.tuning.tuners import CourseTuner, TuningError

__all__ = ["results_table", "best_values", "compare_searches", "hyperparameter_importance", "by_value", "edge_of_space"]


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


def _table(source) -> pd.DataFrame:
    return source if isinstance(source, pd.DataFrame) else results_table(source)


def by_value(source, space: Mapping[str, Any]) -> pd.DataFrame:
    """For every searched *choice* (a list in ``space``), how many trials drew each value and the
    best and mean score among them: one row per (``hyperparameter``, ``value``) with ``trials``,
    ``best`` and ``mean``; a value no trial drew has 0 trials and NaN scores.

    The best score per value is the playbook's fair comparison of a scientific hyperparameter: the
    other (nuisance) hyperparameters are optimized away, as far as the trials sampled them. The
    counts show what the search did not test: a value drawn once or never says nothing.
    ``source``: a tuner, a project folder or a :func:`results_table`.
    """
    results = _table(source)
    space = validate_space(space)
    done = results.dropna(subset=["score"])
    maximize = results.attrs.get("direction", "max") == "max"
    rows = []
    for name, spec in space.items():
        if not isinstance(spec, list) or name not in results.columns:
            continue
        for value in spec:
            scores = done.loc[done[name] == value, "score"]
            drawn = int((results[name] == value).sum())
            best = (scores.max() if maximize else scores.min()) if len(scores) else float("nan")
            rows.append(
                {"hyperparameter": name, "value": value, "trials": drawn, "best": float(best), "mean": scores.mean()}
            )
    if not rows:
        raise ValueError("space has no searched choice (a list of values) that the results table holds.")
    return pd.DataFrame(rows)  # not indexed by value: an index would merge True with 1


def _position(value: float, low: float, high: float, log: bool) -> float:
    if log:
        value, low, high = np.log(value), np.log(low), np.log(high)
    return float((value - low) / (high - low))


def _widened(name: str, spec, edge: str):
    """``spec`` extended past ``edge`` ("low" or "high"), or None when the dimension allows no more."""
    dim = DIMENSION_BY_NAME[name]
    if isinstance(spec, Range):
        low, high = spec.low, spec.high
        if spec.log:
            factor = (high / low) ** 0.5
            low, high = (low / factor, high) if edge == "low" else (low, high * factor)
        else:
            width = (high - low) / 2
            if spec.step is not None:
                width = max(spec.step, round(width / spec.step) * spec.step)
            low, high = (low - width, high) if edge == "low" else (low, high + width)
        if spec.is_int:
            low, high = int(round(low)), int(round(high))
        bound = low if edge == "low" else high
        if not (_validate.is_number(bound) and dim.valid(bound)):
            return None
        return Range(low, high, step=spec.step, log=spec.log)
    values = sorted(spec)
    if len(values) >= 3 and all(v > 0 for v in values) and len({b / a for a, b in zip(values, values[1:])}) == 1:
        ratio = values[1] / values[0]  # geometric, e.g. 8, 16, 32: continue the doubling (two values: a step)
        new = values[0] / ratio if edge == "low" else values[-1] * ratio
    else:
        step = values[1] - values[0] if len(values) >= 2 else 1
        new = values[0] - step if edge == "low" else values[-1] + step
    new = dim.kind(new) if dim.kind is int and float(new).is_integer() else new
    if dim.kind is int and not _validate.is_int(new):
        return None
    if not dim.valid(new):
        return None
    return [new, *values] if edge == "low" else [*values, new]


def edge_of_space(source, space: Mapping[str, Any], *, margin: float = 0.1) -> pd.DataFrame:
    """Where the best trial's value of each *numeric* searched hyperparameter lies in its range, and
    whether it sits at an edge (then the next study should widen the space that way).

    The tuning playbook (Godbole et al., 2023) calls a search space suspicious when its best point
    is close to the boundary: a better point may lie just outside. For a range, ``position`` runs
    from 0 (the low end) to 1 (the high end), on a log scale for ``log=True``; the value is at the
    edge within ``margin`` of an end (default 0.1). For a list of numbers the edge is its smallest
    or largest value. Booleans and strings have no edge and are skipped.

    Returns one row per numeric dimension: ``best``, ``low``, ``high``, ``position``, ``edge``
    (``"low"``, ``"high"`` or ``""``) and ``widen`` (the spec to try next, ``"at its limit"``
    when the dimension allows nothing beyond, ``""`` when not at an edge). ``attrs["at_edge"]``
    lists the names at an edge. ``source``: a tuner, a project folder or a :func:`results_table`.
    """
    margin = _validate.number_above(margin, "margin", 0.0)
    if margin >= 0.5:
        raise ValueError(f"margin must be below 0.5 (half the range). Received: margin={margin!r}")
    results = _table(source)
    space = validate_space(space)
    best = best_row(results)
    if best is None:
        raise TuningError("No trial completed, so there is no best value to place. Run search() first.")
    rows = []
    for name, spec in space.items():
        if isinstance(spec, list) and not all(_validate.is_number(v) for v in spec):
            continue
        if not isinstance(spec, (list, Range)):
            continue
        if name not in results.columns:
            raise ValueError(f"The results table has no column {name!r}: was it searched with this space?")
        value = best[name]
        value = value.item() if isinstance(value, np.generic) else value
        if isinstance(spec, Range):
            low, high = spec.low, spec.high
            position = _position(value, low, high, spec.log)
            edge = "low" if position <= margin else "high" if position >= 1 - margin else ""
        else:
            low, high = min(spec), max(spec)
            position = sorted(spec).index(value) / (len(spec) - 1)
            edge = "low" if value == low else "high" if value == high else ""
        widened = _widened(name, spec, edge) if edge else ""
        rows.append(
            {
                "hyperparameter": name,
                "best": value,
                "low": low,
                "high": high,
                "position": round(position, 3),
                "edge": edge,
                "widen": "at its limit" if widened is None else repr(widened) if widened else "",
            }
        )
    if not rows:
        raise ValueError("space searches no numeric hyperparameter (a Range or a list of numbers).")
    table = pd.DataFrame(rows).set_index("hyperparameter")
    table.attrs["at_edge"] = [name for name in table.index if table.loc[name, "edge"]]
    return table
