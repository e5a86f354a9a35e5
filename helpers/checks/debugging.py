"""Checks for ``10_debugging_training``: the diagnosis exercises.

Each exercise is a :class:`helpers.diagnostics.faults.MysteryCase`, a run with a fault drawn by a
seed. The learner diagnoses it with :mod:`helpers.diagnostics`, then answers twice:

* :func:`mystery_diagnosis` ``(case, name)``: the fault's name, one of ``case.pool``. A wrong name
  gets a hint that says which diagnostic would show the named fault, and which one exposes this
  run's fault, never the answer itself.
* :func:`mystery_fix` ``(case, fix)``: a function ``fix(setup) -> setup`` (written with
  ``dataclasses.replace``). It passes when the fixed setup keeps the data, changes only what is
  broken, no longer has the fault (nor another one of the field guide), and its run, trained with
  the case's seed, reaches ``case.target`` validation accuracy. It trains once: a few seconds.
"""

from __future__ import annotations

import numpy as np

from helpers.checks._core import Hint, exercise, require, require_callable

__all__ = ["mystery_diagnosis", "mystery_fix"]


def _faults():
    from helpers.diagnostics import faults

    return faults


def _require_case(case):
    faults = _faults()
    require(
        isinstance(case, faults.MysteryCase),
        "Pass the case itself, as faults.mystery(...) returned it, e.g. checks.mystery_diagnosis(case, 'name'). "
        f"Received: {type(case).__name__}",
    )
    return case


def _normalize(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").split())


def _case_number(case, *args, **kwargs) -> int:
    return case.number


@exercise("Mystery: name the fault", instance=_case_number)
def mystery_diagnosis(case, name) -> str:
    """``name`` is the fault hidden in ``case``: one of ``case.pool`` (``faults.FAULTS`` spells them)."""
    faults = _faults()
    case = _require_case(case)
    if name is Ellipsis or name is None:
        raise NotImplementedError
    require(
        isinstance(name, str),
        f"Answer with the fault's name as a string, e.g. {case.pool[0]!r}. Received: {type(name).__name__}",
    )
    answer = _normalize(name)
    candidates = ", ".join(case.pool)
    require(answer in faults.FAULTS, f"{name!r} is not the name of a fault. This case is one of: {candidates}.")
    require(answer in case.pool, f"{answer} is not among this case's candidates: {candidates}.")
    truth = case.reveal()
    clues = faults.MYSTERIES[case.number - 1].clues
    if answer != truth:
        raise Hint(
            f"Not {answer}. That fault would show in {clues[answer]}: run it on this case and see that it does not. "
            f"What exposes this run's fault: {clues[truth]}."
        )
    return (
        f"Right: mystery {case.number} is {truth}. What shows it: {clues[truth]}. Now repair the run: "
        "checks.mystery_fix(case, fix)."
    )


def _fingerprint(data) -> tuple:
    return tuple(
        (a.shape, float(np.sum(a, dtype=np.float64)))
        for a in (data.x_train, data.y_train, data.x_val, data.y_val, data.x_test, data.y_test)
    )


@exercise("Mystery: fix the run", instance=_case_number)
def mystery_fix(case, fix) -> str:
    """``fix(case.setup)`` returns the repaired setup; its run reaches ``case.target`` validation accuracy."""
    faults = _faults()
    case = _require_case(case)
    require_callable(fix, "fix")
    before = _fingerprint(case.setup.data)
    fixed = fix(case.setup)
    if fixed is Ellipsis:
        raise NotImplementedError
    require(
        fixed is not None,
        "Your fix returned None. Did you forget `return`? Return the repaired setup, e.g. "
        "`return dataclasses.replace(setup, field=value)`.",
    )
    require(
        isinstance(fixed, faults.TrainingSetup),
        "Return a TrainingSetup: `dataclasses.replace(setup, field=value)` makes a copy with one field changed. "
        f"Received: {type(fixed).__name__}",
    )
    require(
        _fingerprint(case.setup.data) == before,
        "Your fix changed the data's arrays in place. Leave case.setup.data alone (reload the case with "
        "faults.mystery) and repair the steps or settings that use it.",
    )
    changed = fixed.differences(case.setup)
    require(changed, "Your fix returns the setup unchanged. Change the field that your diagnosis points to.")
    require(
        "data" not in changed,
        "Keep `data` as it is (the same Dataset object): the fault is in what the run does with the data. Repair "
        "that instead (the prepare steps, the augmentation, the model, the loss or the optimizer).",
    )
    truth = case.reveal()
    allowed = faults._fault(truth).fields
    clue = faults.MYSTERIES[case.number - 1].clues[truth]
    require(
        set(changed) & allowed,
        f"Your fix changes {', '.join(sorted(changed))}, but this run's fault is elsewhere. To see where, use: {clue}.",
    )
    extra = sorted(set(changed) - allowed)
    require(
        not extra,
        f"Your fix also changes {', '.join(extra)}. Undo that: a fix changes only what is broken, so that you know "
        "what repaired the run.",
    )
    found = faults._findings(fixed)
    if truth in found:
        raise Hint(f"The run still has its fault: {found[truth]}.")
    if found:
        raise Hint(f"Your fix brings in another problem: {next(iter(found.values()))}.")
    result = fixed.train(seed=case.seed, verbose=0)
    require(
        result.val_accuracy >= case.target,
        f"The fixed run reaches {result.val_accuracy:.1%} validation accuracy (training accuracy "
        f"{result.train_accuracy:.1%}); the target is {case.target:.0%}. The fault is gone, but the new setting "
        "does not train well: compare it with faults.healthy(...).",
    )
    return (
        f"Fixed: the run reaches {result.val_accuracy:.1%} validation accuracy (target {case.target:.0%}), "
        f"changing only {', '.join(sorted(changed))}."
    )
