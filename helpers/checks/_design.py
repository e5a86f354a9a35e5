"""What every design-the-experiment exercise asks of a design, whatever it tests.

04 (a schedule), 05 (dropout) and 08 (augmentation) each ask for an ``experiments.Design`` that answers
one question fairly. The rules they share live here, so a learner meets the same rules in the same
words in each notebook: fair in the sense of :func:`helpers.experiments.problems`; two arms, the
baseline first; the notebook's model, its epoch budget and at most its number of seeds, so the run
fits the profile; a ready optimizer or schedule object is refused, since one object would be shared,
with its state, by every run; and the verdict is read on a validation score, not on the gap. Each
check then adds what is particular to its question (what the variant must change).
"""

from __future__ import annotations

from collections.abc import Mapping

from helpers import _validate
from helpers.checks._core import Hint, NotStarted, require

__all__ = ["two_arm_design"]


def two_arm_design(
    design, change: str, *, model: Mapping, epochs: int, seeds, what: str, model_name: str, epochs_name: str
) -> tuple[tuple[str, dict], tuple[str, dict]]:
    """``((baseline name, arm), (variant name, arm))`` of ``design``, or the Hint for its first problem.

    ``change`` is the setting the variant may change (``experiments.problems``' ``change``); ``what``
    names it for the learner ("dropout"); ``model``, ``epochs`` and ``seeds`` are the notebook's budget,
    which the learner knows as ``model_name`` and ``epochs_name`` (and ``DESIGN_SEEDS``).
    """
    import keras

    from helpers import experiments

    if design is Ellipsis or design is None:
        raise NotStarted("Replace the `...` with your experiments.Design(arms=..., seeds=..., metric=...).")
    found = experiments.problems(design, change=change)
    if found:
        more = f" ({len(found) - 1} more problem(s) after this one.)" if len(found) > 1 else ""
        raise Hint(found[0] + more)
    arms = list(design.arms.items())
    require(
        len(arms) == 2,
        f"Your design has {len(arms)} arms ({', '.join(repr(name) for name, _ in arms)}). Two answer the "
        f"question: the baseline, and the same run with {what}; every further arm costs a run per seed.",
    )
    (base_name, base), variant = arms
    for name, arm in arms:
        require(
            isinstance(arm.get("model"), Mapping),
            f"Arm {name!r}: give the model as a dict of simple_cnn options (model={model_name}, or a copy with "
            "one option changed), so that the check can see what differs.",
        )
        require(
            not isinstance(arm.get("learning_rate"), keras.optimizers.schedules.LearningRateSchedule),
            f"Arm {name!r} passes a ready schedule as learning_rate, built for another run length. Give the peak "
            "rate as a number (and the schedule by name, schedule=...): runs.train shapes it over each run.",
        )
        require(
            isinstance(arm.get("optimizer", "adam"), str),
            f"Arm {name!r}: pass the optimizer by name (e.g. optimizer='adam'). One optimizer object would be "
            "shared, with its state, by every run of the design.",
        )
    changed = [  # the change itself is the variant's; a baseline that makes it is the check's own hint
        key for key in experiments.differences({"model": dict(model)}, {"model": dict(base["model"])}) if key != change
    ]
    require(
        not changed,
        f"Arm {base_name!r} trains another model ({', '.join(changed)} differ from {model_name}'s). Test the "
        f"notebook's model: model={model_name} in the baseline.",
    )
    epochs = _validate.positive_int(epochs, "epochs")
    require(
        base["epochs"] == epochs,
        f"Your arms train for {base['epochs']} epochs. Give both the profile's budget, {epochs_name} = {epochs}.",
    )
    budget = _validate.seeds(seeds)
    n = len(set(design.seeds))
    require(
        n <= len(budget),
        f"{n} seeds train {2 * n} runs: this profile's budget is {len(budget)} seeds, DESIGN_SEEDS = {budget}.",
    )
    require(
        design.metric != "gap",
        "Decide on validation accuracy or loss, not on the gap: the gap measures overfitting, and a smaller gap "
        "is not a better model (a model that fits nothing has no gap at all).",
    )
    return (base_name, base), variant
