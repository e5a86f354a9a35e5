"""helpers.experiments: what makes a comparison unfair, and a fair one trained and paired by seed."""

import re

import pytest

from helpers import experiments

MODEL = {"filters": (4,), "convs_per_block": 1, "batch_norm": False, "dropout": 0.0, "dense_units": 8}
BASE = {"model": MODEL, "epochs": 2, "learning_rate": 3e-3}


def _design(variant=None, seeds=(0, 1, 2), metric="val_accuracy", base=None):
    variant = {**BASE, "learning_rate": 1e-2} if variant is None else variant
    return experiments.Design(arms={"base": base or BASE, "variant": variant}, seeds=seeds, metric=metric)


def test_a_fair_design_has_no_problems():
    assert experiments.problems(_design(), change="learning_rate") == []
    nested = _design({**BASE, "model": {**MODEL, "dropout": 0.5}})
    assert experiments.problems(nested, change="model.dropout") == []
    assert experiments.problems(nested, change="model") == []  # the whole model spec is the change


@pytest.mark.parametrize(
    ("design", "match"),
    [
        (_design({**BASE, "learning_rate": 1e-2, "epochs": 4}), "changes the budget \\(epochs\\)"),
        (_design({**BASE, "learning_rate": 1e-2, "batch_size": 32}), "also changes batch_size"),
        (_design({**BASE}), "is the same as 'base'"),
        (_design({**BASE, "batch_size": 32}), "does not change learning_rate"),
        (_design({**BASE, "learning_rate": 1e-2, "seed": 1}), "sets its own seed"),
        (_design(seeds=(0, 1)), "2 seed\\(s\\): use at least 3"),
        (_design(seeds=(0, 0, 1)), "seeds must not repeat"),
        (_design(metric="test_accuracy"), "validation metric.*test split is touched once"),
        (_design({**BASE, "learning_rate": 1e-2, "lr": 1}), "has lr, which runs.train does not take"),
        (_design({"model": MODEL, "learning_rate": 1e-2}, base={"model": MODEL, "learning_rate": 3e-3}), "no epochs"),
    ],
)
def test_each_unfairness_is_named(design, match):
    found = experiments.problems(design, change="learning_rate")
    assert any(re.search(match, p) for p in found), found


def test_not_a_design_or_one_arm_is_refused():
    assert "experiments.Design" in experiments.problems({"a": BASE}, change="epochs")[0]
    one = experiments.Design(arms={"base": BASE}, seeds=(0, 1, 2))
    assert "at least two arms" in experiments.problems(one, change="epochs")[0]


def test_a_left_out_setting_means_its_default():
    """Leaving out schedule is runs.train's warmup_cosine: spelling it out in the variant changes nothing."""
    same = _design({**BASE, "schedule": "warmup_cosine"})
    assert any("is the same as 'base'" in p for p in experiments.problems(same, change="schedule"))
    other = _design({**BASE, "schedule": "constant"})
    assert experiments.problems(other, change="schedule") == []


def test_an_arm_without_a_model_is_named():
    design = _design({"epochs": 2, "learning_rate": 1e-2}, base={"epochs": 2, "learning_rate": 3e-3})
    assert any("has no model" in p for p in experiments.problems(design, change="learning_rate"))


def test_differences_names_nested_settings():
    assert experiments.differences(BASE, {**BASE, "model": {**MODEL, "dropout": 0.3}}) == ["model.dropout"]
    assert experiments.differences(BASE, {**BASE, "augment": "digits"}) == ["augment"]


def test_compare_trains_every_arm_on_every_seed_and_pairs_them(tiny):
    design = experiments.Design(
        arms={"slow": {**BASE, "learning_rate": 1e-5}, "fast": {**BASE, "learning_rate": 3e-2}}, seeds=(0, 1, 2)
    )
    result = experiments.compare(design, tiny, change="learning_rate")
    assert len(result.runs) == 6 and list(result.paired.columns) == ["fast"]
    assert list(result.paired.index) == [0, 1, 2]
    table = {(r.name, r.row["seed"]): r.row["val_accuracy"] for r in result.runs}
    assert result.paired.loc[1, "fast"] == pytest.approx(table[("fast", 1)] - table[("slow", 1)])
    assert result.summary["seeds"].tolist() == [3, 3]
    assert result.verdict("fast").startswith("fast vs slow:") and "over 3 seeds" in result.verdict("fast")
    again = experiments.compare(design, tiny, change="learning_rate")  # the same seeds give the same numbers
    assert again.paired.equals(result.paired)


def test_compare_refuses_an_unfair_design(tiny):
    with pytest.raises(ValueError, match="not fair:\n- Arm 'variant' changes the budget"):
        experiments.compare(_design({**BASE, "learning_rate": 1e-2, "epochs": 3}), tiny, change="learning_rate")
