"""Fair comparisons: the same seeds, the same budget, exactly one change.

A *design the experiment* exercise asks the learner to write a :class:`Design`: named arms, each the
keyword arguments of :func:`helpers.runs.train` (the first arm is the baseline), the seeds every arm
trains with, and the validation metric that decides. :func:`problems` says what makes a design
unfair (the checks turn its first problem into a hint); :func:`compare` trains every arm on every
seed and pairs the arms by seed, so that a difference is read against the spread between seeds
rather than from a single run.

Why each rule: an arm with another seed differs in its initial weights and batch order, which on a
small dataset moves validation accuracy by as much as many of the changes the course measures; an
arm with more epochs wins because it trained longer; two changes at once cannot say which one
helped; and choosing on the test split spends the one unbiased estimate the course keeps for the end.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from helpers import _validate

# What fixes a run's cost: an arm that changes one of these trains for a different budget.
BUDGET = ("epochs", "patience")
VALIDATION_METRICS = ("val_accuracy", "val_loss", "gap")
MIN_SEEDS = 3
_LOWER_IS_BETTER = ("val_loss", "gap")


@dataclasses.dataclass(frozen=True)
class Design:
    """A comparison to run: ``arms`` maps a name to :func:`helpers.runs.train` keyword arguments
    (everything but ``name``, ``data`` and ``seed``; the first arm is the baseline), ``seeds`` are
    shared by every arm, and ``metric`` (a validation metric) decides."""

    arms: Mapping[str, Mapping[str, Any]]
    seeds: Sequence[int]
    metric: str = "val_accuracy"


def _flat(settings: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"model": {"dropout": 0.5}}`` as ``{"model.dropout": 0.5}``: a nested change names its setting."""
    out = {}
    for key, value in settings.items():
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _same(a, b) -> bool:
    try:
        return bool(np.all(a == b)) if not (callable(a) or callable(b)) else a is b
    except Exception:  # noqa: BLE001 - values that cannot be compared are different
        return False


def differences(baseline: Mapping[str, Any], arm: Mapping[str, Any]) -> list[str]:
    """The settings (dotted for nested ones, e.g. ``model.dropout``) in which ``arm`` differs from ``baseline``."""
    a, b = _flat(baseline), _flat(arm)
    return sorted(k for k in set(a) | set(b) if k not in a or k not in b or not _same(a[k], b[k]))


def _train_defaults() -> dict[str, Any]:
    """``runs.train``'s keyword arguments with their defaults (``inspect.Parameter.empty`` when required)."""
    from helpers import runs

    params = inspect.signature(runs.train).parameters
    return {k: p.default for k, p in params.items() if k not in {"name", "data", "seed"}}


def _train_arguments() -> set[str]:
    return set(_train_defaults())


def _with_defaults(arm: Mapping[str, Any]) -> dict[str, Any]:
    """``arm`` with ``runs.train``'s defaults filled in: leaving out ``schedule`` means its default."""
    defaults = {k: v for k, v in _train_defaults().items() if v is not inspect.Parameter.empty}
    return {**defaults, **arm}


def problems(design, *, change: str, min_seeds: int = MIN_SEEDS) -> list[str]:
    """What makes ``design`` an unfair test of ``change`` (a setting, dotted if nested): empty when fair.

    Fair means: at least two arms, each a valid set of training arguments with an ``epochs`` budget;
    at least ``min_seeds`` distinct seeds, shared by every arm (so no arm sets its own ``seed``); every
    variant differs from the baseline in ``change`` and in nothing else (not in its budget); and a
    validation metric decides.
    """
    if not isinstance(design, Design):
        return [f"Write your comparison as experiments.Design(arms=..., seeds=...). Received: {type(design).__name__}"]
    found = []
    arms = design.arms
    if not isinstance(arms, Mapping) or len(arms) < 2:
        return ["A comparison needs at least two arms: {'baseline': {...}, 'variant': {...}}."]
    bad = [name for name, arm in arms.items() if not isinstance(arm, Mapping)]
    if bad:
        return [f"Each arm is a dict of runs.train arguments; {bad[0]!r} is not."]
    known = _train_arguments()
    for name, arm in arms.items():
        if "seed" in arm:
            found.append(f"Arm {name!r} sets its own seed: every arm trains with the design's seeds, remove it.")
        unknown = sorted(set(arm) - known - {"seed"})
        if unknown:
            takes = ", ".join(sorted(known))
            found.append(f"Arm {name!r} has {', '.join(unknown)}, which runs.train does not take ({takes}).")
        if "epochs" not in arm:
            found.append(f"Arm {name!r} has no epochs: give every arm the same training budget.")
        if "model" not in arm:
            found.append(f"Arm {name!r} has no model: give it the model to train (a dict of simple_cnn arguments).")
    try:
        seeds = _validate.seeds(design.seeds, "seeds")
    except (TypeError, ValueError) as exc:
        found.append(f"seeds: {exc}")
    else:
        if len(seeds) < min_seeds:
            found.append(
                f"{len(seeds)} seed(s): use at least {min_seeds}, so that the difference can be read "
                "against the spread between seeds."
            )
    if design.metric not in VALIDATION_METRICS:
        why = " The test split is touched once, at the end." if "test" in str(design.metric) else ""
        found.append(f"Decide on a validation metric, one of {', '.join(VALIDATION_METRICS)}.{why}")
    (base_name, baseline), *variants = arms.items()
    for name, arm in variants:
        changed = [k for k in differences(_with_defaults(baseline), _with_defaults(arm)) if k != "seed"]
        budget = [k for k in changed if k.split(".")[0] in BUDGET and k != change]
        other = [k for k in changed if k != change and not k.startswith(change + ".") and k not in budget]
        if not changed:
            found.append(
                f"Arm {name!r} is the same as {base_name!r}: change {change} in it (where an arm leaves a setting "
                "out, runs.train's default is used)."
            )
        elif change not in changed and not any(k.startswith(change + ".") for k in changed):
            found.append(f"Arm {name!r} does not change {change}, the setting under test.")
        if budget:
            found.append(
                f"Arm {name!r} changes the budget ({', '.join(budget)}): train every arm for the same budget, "
                "or the longer run wins because it trained longer."
            )
        if other:
            found.append(
                f"Arm {name!r} also changes {', '.join(other)}: one change at a time, or you cannot tell which "
                "change made the difference."
            )
    return found


@dataclasses.dataclass(frozen=True, repr=False)
class Comparison:
    """A design's results: every run (``runs``), per-arm spread (``summary``) and, per variant, its
    difference from the baseline on each seed (``paired``, positive when the variant is better)."""

    design: Design
    runs: list
    summary: pd.DataFrame
    paired: pd.DataFrame

    def verdict(self, variant: str) -> str:
        """Better / worse on every seed, or no clear difference, in words with the paired differences."""
        if variant not in self.paired.columns:
            raise ValueError(f"No variant {variant!r}. Variants: {', '.join(self.paired.columns)}")
        diffs = self.paired[variant].to_numpy()
        base = next(iter(self.design.arms))
        scale = 100 if self.design.metric != "val_loss" else 1
        unit = " points" if scale == 100 else ""
        text = (
            f"{variant} vs {base}: {scale * diffs.mean():+.2f}{unit} {self.design.metric} on average "
            f"({scale * diffs.min():+.2f} to {scale * diffs.max():+.2f} over {len(diffs)} seeds)"
        )
        from helpers import runs as runs_module

        return f"{text}: {runs_module.seed_verdict(diffs)}."

    def __repr__(self) -> str:
        return "\n".join(self.verdict(v) for v in self.paired.columns)


def compare(design: Design, data, *, change: str, workers: int = 1, verbose=0) -> Comparison:
    """Train every arm of a fair ``design`` on every seed (on ``data``) and pair the arms by seed.

    Raises ValueError listing :func:`problems` when the design is not a fair test of ``change``.
    ``workers=2`` trains two seeds at once (:func:`helpers.runs.over_seeds`).
    """
    from helpers import runs

    found = problems(design, change=change)
    if found:
        raise ValueError("This comparison is not fair:\n- " + "\n- ".join(found))

    def experiment(seed):
        return [runs.train(name, data, seed=seed, verbose=verbose, **arm) for name, arm in design.arms.items()]

    trained = runs.over_seeds(experiment, design.seeds, workers=workers)
    frame = runs.table(trained)
    pivot = frame.pivot(index="seed", columns="name", values=design.metric)[list(design.arms)]
    sign = -1.0 if design.metric in _LOWER_IS_BETTER else 1.0
    base = next(iter(design.arms))
    paired = pd.DataFrame({v: sign * (pivot[v] - pivot[base]) for v in list(design.arms)[1:]})
    summary = runs.summarize(trained, metrics=(design.metric,))
    return Comparison(design=design, runs=trained, summary=summary, paired=paired)
