"""helpers.transfer.finetuning: per-layer learning rates and gradual unfreezing, on the budget of fine-tuning."""

import dataclasses

import keras
import numpy as np
import pytest

from helpers import data, transfer

PLAN = transfer.TransferPlan(steps_per_epoch=2, head_epochs=1, fine_epochs=2, fine_blocks=2, batch_size=8)


@pytest.fixture(scope="module")
def target():
    ds = data.load("digits", image_size=(16, 16), train_size=30)
    three = transfer.select_classes(ds, (0, 1, 2))
    return transfer.reframe(three, box=12, canvas=16)


def test_block_factors_decay_from_the_top_block(head_model):
    factors = transfer.block_factors(head_model, 2, 2.0)
    assert factors == {"block3_conv1": 1.0, "block3_bn1": 1.0, "block2_conv1": 0.5, "block2_bn1": 0.5}
    with pytest.raises(ValueError, match="base has 3 blocks"):
        transfer.block_factors(head_model, 4, 2.0)
    with pytest.raises(ValueError, match="decay must be a number > 1"):
        transfer.block_factors(head_model, 2, 1.0)


def test_layerwise_adam_scales_each_layers_step():
    """One Adam step moves a weight by about the learning rate: here 0.1 for 'a', 0.1 x 0.25 for 'b'."""
    inputs = keras.Input((1,))
    a = keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros", name="a")(inputs)
    b = keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros", name="b")(inputs)
    model = keras.Model(inputs, [a, b])
    optimizer = transfer.LayerwiseAdam(0.1, factors={"b": 0.25})
    grads = [keras.ops.ones((1, 1)), keras.ops.ones((1, 1))]
    optimizer.apply_gradients(zip(grads, model.trainable_weights))
    moved = [float(v.numpy()[0, 0]) for v in model.trainable_weights]
    assert moved == pytest.approx([-0.1, -0.025], rel=1e-3)
    again = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert isinstance(again, transfer.LayerwiseAdam) and again.factors == {"b": 0.25}
    with pytest.raises(ValueError, match="positive multipliers"):
        transfer.LayerwiseAdam(0.1, factors={"b": 0})


@pytest.mark.slow
def test_the_variants_share_the_budget_and_all_at_once_is_train_fine_tuning(source, target):
    head, _ = transfer.train_feature_extraction(source, target, PLAN, validate=False, verbose=0)
    plain, _ = transfer.train_fine_tuning(head, target, PLAN, validate=False, verbose=0)
    same, _ = transfer.train_fine_tuning_variant(head, target, PLAN, "all at once", validate=False, verbose=0)
    for a, b in zip(plain.weights, same.weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)
    gradual, history = transfer.train_fine_tuning_variant(head, target, PLAN, "gradual", validate=False, verbose=0)
    assert transfer.trainable_counts(gradual) == transfer.trainable_counts(plain)  # both end with 2 blocks open
    assert len(history.history["loss"]) == 1  # the last of two one-epoch stages
    disc, _ = transfer.train_fine_tuning_variant(head, target, PLAN, "discriminative", validate=False, verbose=0)
    assert isinstance(disc.optimizer, transfer.LayerwiseAdam) and disc.optimizer.factors["block2_conv1"] < 1
    assert transfer.batchnorm_drift(disc, target.x_train[:4]) == 0.0
    bn, _ = transfer.train_fine_tuning_variant(head, target, PLAN, "BatchNorm trainable", validate=False, verbose=0)
    assert transfer.batchnorm_drift(bn, target.x_train[:4]) > 0.0  # its statistics moved to the target's
    with pytest.raises(ValueError, match="variant must be one of"):
        transfer.train_fine_tuning_variant(head, target, PLAN, "sideways")
    with pytest.raises(ValueError, match="nothing to fine-tune"):
        transfer.train_fine_tuning_variant(head, target, dataclasses.replace(PLAN, fine_blocks=0))
