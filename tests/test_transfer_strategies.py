"""helpers.transfer.strategies: reframing, the plan, fit_small, the three strategies and label efficiency."""

import dataclasses

import numpy as np
import pytest

from helpers import data, transfer

SPEC = transfer.SourceSpec(name="freeze_test", filters=(4, 8, 8))


def test_reframe_centres_a_shrunken_image():
    x = np.ones((2, 8, 8, 1), np.float32)
    out = transfer.reframe(x, box=20, canvas=28)
    assert out.shape == (2, 28, 28, 1) and out.dtype == np.float32
    assert np.allclose(out[:, 4:24, 4:24], 1.0) and out[:, :4].sum() == 0 and out[:, 24:].sum() == 0
    assert transfer.reframe(np.ones((1, 28, 28, 1), np.float32), box=5, canvas=6).shape == (1, 6, 6, 1)
    with pytest.raises(ValueError, match="box must fit"):
        transfer.reframe(x, box=30, canvas=28)
    with pytest.raises(ValueError, match="box must be a positive integer"):
        transfer.reframe(x, box=0)


def test_reframe_a_dataset_keeps_labels_and_sizes():
    ds = data.load("digits", image_size=(28, 28), train_size=20)
    framed = transfer.reframe(ds)
    assert framed.input_shape == (28, 28, 1) and len(framed.x_train) == 20
    assert np.array_equal(framed.y_test, ds.y_test) and "reframed" in framed.description
    assert framed.x_train[:, :4].max() == 0.0 and framed.x_train[:, 4:24].max() > 0.5


def test_transfer_plan_defaults_and_validation():
    plan = transfer.TransferPlan()
    assert plan.scratch_epochs == plan.head_epochs + plan.fine_epochs  # same budget for both sides
    assert plan.fine_lr < plan.head_lr
    with pytest.raises(ValueError, match="fine_lr must be lower than head_lr"):
        transfer.TransferPlan(fine_lr=1e-2, head_lr=1e-2)
    with pytest.raises(ValueError, match="steps_per_epoch must be a positive integer"):
        transfer.TransferPlan(steps_per_epoch=0)


def test_fit_small_repeats_a_tiny_training_set(head_model):
    ds = transfer.reframe(data.load("digits", image_size=(16, 16), train_size=10), box=12, canvas=16)
    with pytest.raises(ValueError, match="Compile the model first"):
        transfer.fit_small(head_model, ds, epochs=1)
    head_model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    with pytest.raises(ValueError, match="expects inputs of shape"):
        transfer.fit_small(head_model, data.load("digits", image_size=(28, 28), train_size=10), epochs=1)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        transfer.fit_small(head_model, ds, epochs=0)


@pytest.mark.slow
def test_the_three_strategies_and_label_efficiency(source, monkeypatch):
    plan = transfer.TransferPlan(steps_per_epoch=2, head_epochs=1, fine_epochs=1, batch_size=8)

    drawn = []

    def load(n, seed=42):
        drawn.append((n, seed))
        ds = data.load("digits", image_size=(16, 16))
        x, y = data.subsample(ds.x_train, ds.y_train, n, seed=seed)
        return transfer.reframe(dataclasses.replace(ds, x_train=x, y_train=y), box=12, canvas=16)

    target = load(20)
    scratch, h = transfer.train_from_scratch(SPEC, target, plan)
    assert scratch.output_shape == (None, 10) and len(h.history["val_accuracy"]) == plan.scratch_epochs
    head, _ = transfer.train_feature_extraction(source, target, plan)
    assert transfer.trainable_counts(head)["trainable"] == 8 * 10 + 10
    fine, _ = transfer.train_fine_tuning(head, target, plan)
    assert transfer.trainable_counts(fine)["trainable"] > transfer.trainable_counts(head)["trainable"]
    assert transfer.batchnorm_drift(fine, target.x_train[:4]) == 0.0
    known = {20: {s: 0.5 for s in transfer.STRATEGIES}}
    curve = transfer.label_efficiency(source, load, [30, 20], plan, spec=SPEC, known=known, verbose=False)
    assert list(curve["name"]) == [*transfer.STRATEGIES] * 2 and list(curve["train_size"]) == [20] * 3 + [30] * 3
    assert (curve["val_accuracy"][:3] == 0.5).all() and curve["val_accuracy"][3:].between(0, 1).all()
    assert curve["train_accuracy"][3:].notna().all() and curve["train_accuracy"][:3].isna().all()  # known: no run
    drawn.clear()
    draws = transfer.label_efficiency(source, load, [20], plan, spec=SPEC, draws=(42, 7), known=known, verbose=False)
    assert drawn == [(20, 7)]  # the known draw is not trained again; the other draws its own labels
    assert list(draws["seed"]) == [42] * 3 + [7] * 3 and (draws["train_size"] == 20).all()
    with pytest.raises(ValueError, match="sizes must be a non-empty sequence of integers >= 1"):
        transfer.label_efficiency(source, load, [], plan, spec=SPEC)
    with pytest.raises(ValueError, match="draws"):
        transfer.label_efficiency(source, load, [20], plan, spec=SPEC, draws=())


def test_transfer_plan_rejects_bad_rates_blocks_and_dropout():
    with pytest.raises(ValueError, match="head_lr must be a positive number"):
        transfer.TransferPlan(head_lr=0)
    with pytest.raises(ValueError, match="fine_blocks must be an integer >= 0"):
        transfer.TransferPlan(fine_blocks=-1)
    with pytest.raises(ValueError, match="head_dropout must be in"):
        transfer.TransferPlan(head_dropout=1.0)
    with pytest.raises(ValueError, match="scratch_epochs must be a positive integer or None"):
        transfer.TransferPlan(scratch_epochs=0)
    assert transfer.TransferPlan(scratch_epochs=3).scratch_epochs == 3


@pytest.mark.slow
def test_tune_learning_rates_picks_each_strategy_on_validation(source):
    plan = transfer.TransferPlan(steps_per_epoch=2, head_epochs=1, fine_epochs=1, batch_size=8)
    target = transfer.reframe(data.load("digits", image_size=(16, 16), train_size=20), box=12, canvas=16)
    rates = {"from scratch": (1e-3, 1e-2), "feature extraction": (1e-2, 3e-2), "fine-tuning": (1e-3, 5e-2)}
    tuned, table = transfer.tune_learning_rates(source, target, plan, rates=rates, spec=SPEC)
    assert list(table["name"]) == ["from scratch"] * 2 + ["feature extraction"] * 2 + ["fine-tuning"]  # 5e-2 > head
    for strategy, field in (
        ("from scratch", "scratch_lr"),
        ("feature extraction", "head_lr"),
        ("fine-tuning", "fine_lr"),
    ):
        rows = table[table["name"] == strategy]
        assert getattr(tuned, field) == rows.loc[rows["val_accuracy"].idxmax(), "learning_rate"]
    assert tuned.fine_lr < tuned.head_lr and tuned.steps_per_epoch == plan.steps_per_epoch
    only, table = transfer.tune_learning_rates(source, target, plan, rates={"from scratch": (3e-3,)}, spec=SPEC)
    assert (only.scratch_lr, only.head_lr, only.fine_lr) == (3e-3, plan.head_lr, plan.fine_lr) and len(table) == 1


@pytest.mark.parametrize(
    ("rates", "match"),
    [
        ({"scratch": (1e-3,)}, "unknown strategies"),
        ({"from scratch": ()}, "non-empty list of positive numbers"),
        ({"from scratch": (0,)}, "non-empty list of positive numbers"),
        ({"feature extraction": (1e-3,), "fine-tuning": (1e-2,)}, "No fine-tuning rate is below"),
    ],
)
def test_tune_learning_rates_rejects_bad_candidates(source, rates, match):
    plan = transfer.TransferPlan(steps_per_epoch=1, head_epochs=1, fine_epochs=1, batch_size=8)
    target = transfer.reframe(data.load("digits", image_size=(16, 16), train_size=10), box=12, canvas=16)
    with pytest.raises(ValueError, match=match):
        transfer.tune_learning_rates(source, target, plan, rates=rates, spec=SPEC)
