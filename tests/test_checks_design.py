"""The rules every design-the-experiment check shares (helpers.checks._design)."""

import keras
import pytest

from helpers import experiments
from helpers.checks._core import Hint, NotStarted
from helpers.checks._design import two_arm_design

MODEL = {"filters": (8,), "dense_units": 16}
EPOCHS, SEEDS = 2, (0, 1, 2)
BASE = {"model": MODEL, "epochs": EPOCHS}
VARIANT = {**BASE, "model": {**MODEL, "dropout": 0.5}}
ADAM, COSINE = keras.optimizers.Adam(), keras.optimizers.schedules.CosineDecay(1e-3, 10)  # one object, both arms


def check(arms=None, seeds=SEEDS, metric="val_accuracy"):
    arms = {"baseline": BASE, "variant": VARIANT} if arms is None else arms
    design = experiments.Design(arms=arms, seeds=seeds, metric=metric)
    return two_arm_design(
        design,
        "model.dropout",
        model=MODEL,
        epochs=EPOCHS,
        seeds=SEEDS,
        what="dropout",
        model_name="DESIGN_MODEL",
        epochs_name="DESIGN_EPOCHS",
    )


def test_a_fair_design_gives_its_baseline_and_its_variant():
    assert check() == (("baseline", BASE), ("variant", VARIANT))
    assert check(seeds=(7, 8, 9), metric="val_loss")[1][0] == "variant"  # any seeds within the budget
    # A baseline that makes the change itself is left to the check, which says to put it second.
    assert check({"dropout": VARIANT, "none": BASE})[0][0] == "dropout"


@pytest.mark.parametrize(
    ("arms", "seeds", "metric", "hint"),
    [
        ({"baseline": BASE, "variant": {**VARIANT, "epochs": 3}}, SEEDS, "val_accuracy", "changes the budget"),
        (
            {"a": BASE, "b": VARIANT, "c": {**VARIANT, "model": {**MODEL, "dropout": 0.2}}},
            SEEDS,
            "val_accuracy",
            "3 arms ('a', 'b', 'c'). Two answer the question: the baseline, and the same run with dropout",
        ),
        (
            {"baseline": {**BASE, "optimizer": ADAM}, "variant": {**VARIANT, "optimizer": ADAM}},
            SEEDS,
            "val_accuracy",
            "pass the optimizer by name",
        ),
        (
            {"baseline": {**BASE, "learning_rate": COSINE}, "variant": {**VARIANT, "learning_rate": COSINE}},
            SEEDS,
            "val_accuracy",
            "passes a ready schedule",
        ),
        (
            {
                "baseline": {**BASE, "model": {**MODEL, "filters": (4,)}},
                "variant": {**VARIANT, "model": {**MODEL, "filters": (4,), "dropout": 0.5}},
            },
            SEEDS,
            "val_accuracy",
            "model.filters differ from DESIGN_MODEL's",
        ),
        (
            {"baseline": {**BASE, "epochs": 5}, "variant": {**VARIANT, "epochs": 5}},
            SEEDS,
            "val_accuracy",
            "train for 5 epochs. Give both the profile's budget, DESIGN_EPOCHS = 2",
        ),
        (None, (0, 1, 2, 3), "val_accuracy", "4 seeds train 8 runs: this profile's budget is 3 seeds"),
        (None, SEEDS, "gap", "not on the gap"),
        (None, SEEDS, "test_accuracy", "test split is touched once"),
        (None, (0, 1), "val_accuracy", "use at least 3"),
    ],
)
def test_each_shared_rule_has_its_hint(arms, seeds, metric, hint):
    with pytest.raises(Hint) as caught:
        check(arms, seeds, metric)
    assert hint in str(caught.value), str(caught.value)
    assert not isinstance(caught.value, NotStarted)


def test_a_model_that_is_no_dict_of_options_is_refused():
    arms = {"baseline": {**BASE, "model": "cnn"}, "augmented": {**BASE, "model": "cnn", "augment": "digits"}}
    design = experiments.Design(arms=arms, seeds=SEEDS)
    with pytest.raises(Hint, match="as a dict of simple_cnn options"):
        two_arm_design(
            design, "augment", model=MODEL, epochs=EPOCHS, seeds=SEEDS, what="x", model_name="M", epochs_name="E"
        )


def test_the_stub_is_not_started():
    with pytest.raises(NotStarted):
        two_arm_design(..., "augment", model=MODEL, epochs=1, seeds=SEEDS, what="x", model_name="M", epochs_name="E")
