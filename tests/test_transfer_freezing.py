"""Freezing, new heads, copies, BatchNorm inference mode, reframing and the three strategies."""

import keras
import numpy as np
import pytest

from helpers import data, transfer

RECIPE = transfer.SourceRecipe(name="freeze_test", filters=(4, 8, 8))


@pytest.fixture
def source(seeded):
    return RECIPE.build((16, 16, 1), 10)


@pytest.fixture
def head_model(source):
    return transfer.with_new_head(transfer.feature_extractor(source), 3)


def _flags(model):
    return transfer.trainable_layers(model)


def test_blocks_are_found_in_order(source, head_model):
    assert transfer.blocks(source) == ["block1", "block2", "block3"]
    assert transfer.blocks(head_model) == ["block1", "block2", "block3"]  # through the nested base


def test_feature_extractor_is_an_independent_copy(source):
    base = transfer.feature_extractor(source)
    assert base.output_shape == (None, 8) and base.layers[-1].name == "head_gap"
    assert not {id(v) for v in base.weights} & {id(v) for v in source.weights}
    x = np.random.default_rng(0).random((2, 16, 16, 1), dtype=np.float32)
    np.testing.assert_allclose(base(x), keras.Model(source.inputs, source.get_layer("head_gap").output)(x), atol=1e-6)
    assert transfer.feature_extractor(source, output="block2_pool").output_shape == (None, 4, 4, 8)
    with pytest.raises(ValueError, match="is not a layer"):
        transfer.feature_extractor(source, output="nope")
    with pytest.raises(TypeError, match="keras.Model"):
        transfer.feature_extractor("model")


def test_with_new_head_freezes_the_base_and_trains_only_the_head(head_model):
    assert transfer.trainable_counts(head_model)["trainable"] == 8 * 3 + 3
    flags = _flags(head_model)
    assert flags["new_predictions"] and not any(v for k, v in flags.items() if k.startswith("block"))
    probs = np.asarray(head_model(np.zeros((2, 16, 16, 1), np.float32)))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_with_new_head_adds_pooling_for_feature_maps_and_validates(source):
    maps = transfer.feature_extractor(source, output="block3_pool")
    model = transfer.with_new_head(maps, 4, dropout=0.5, freeze_base=False)
    names = [layer.name for layer in model.layers]
    assert "new_head_gap" in names and "new_head_dropout" in names
    assert transfer.trainable_counts(model)["trainable"] > 8 * 4 + 4
    with pytest.raises(ValueError, match="num_classes must be an integer >= 2"):
        transfer.with_new_head(maps, 1)
    with pytest.raises(ValueError, match="dropout must be in"):
        transfer.with_new_head(maps, 3, dropout=1.0)


@pytest.mark.parametrize(
    "n_blocks, open_blocks",
    [(0, []), (1, ["block3"]), (2, ["block2", "block3"]), (3, ["block1", "block2", "block3"])],
)
def test_unfreeze_top_opens_the_top_blocks_and_keeps_batchnorm_frozen(head_model, n_blocks, open_blocks):
    transfer.unfreeze_top(head_model, n_blocks)
    flags = _flags(head_model)
    for b in ("block1", "block2", "block3"):
        assert flags[f"{b}_conv1"] == (b in open_blocks)
        assert flags[f"{b}_bn1"] is False
    assert flags["new_predictions"]
    convs = {"block1": 9 * 4, "block2": 9 * 4 * 8, "block3": 9 * 8 * 8}
    assert transfer.trainable_counts(head_model)["trainable"] == 27 + sum(convs[b] for b in open_blocks)


def test_unfreeze_top_can_train_batchnorm_and_validates(head_model):
    transfer.unfreeze_top(head_model, 1, train_batchnorm=True)
    flags = _flags(head_model)
    assert flags["block3_bn1"] and not flags["block2_bn1"]
    for bad in (-1, 4, 1.5, True):
        with pytest.raises(ValueError, match=r"n_blocks must be an integer in \[0, 3\]"):
            transfer.unfreeze_top(head_model, bad)


def test_freeze_until_a_block_or_a_layer(head_model, source):
    transfer.freeze(head_model, until="block1")
    assert _flags(head_model)["block2_conv1"] and not _flags(head_model)["block1_conv1"]
    transfer.freeze(head_model, until="block2_conv1")
    flags = _flags(head_model)
    assert not flags["block2_conv1"] and flags["block3_conv1"] and not flags["block3_bn1"]
    transfer.freeze(head_model)
    assert transfer.trainable_counts(head_model)["trainable"] == 27
    transfer.freeze(source)  # a flat model: the whole model is its own base
    assert transfer.trainable_counts(source)["trainable"] == 0
    with pytest.raises(ValueError, match="neither a layer nor a block"):
        transfer.freeze(head_model, until="block9")
    with pytest.raises(TypeError, match="until must be"):
        transfer.freeze(head_model, until=2)


def test_two_nested_models_are_ambiguous(source):
    a, b = transfer.feature_extractor(source, name="a"), transfer.feature_extractor(source, name="b")
    inputs = keras.Input((16, 16, 1))
    both = keras.Model(inputs, keras.layers.Concatenate()([a(inputs), b(inputs)]))
    with pytest.raises(ValueError, match="nested models"):
        transfer.blocks(both)


def test_a_layer_inside_a_frozen_model_does_not_train(head_model):
    transfer.unfreeze_top(head_model, 2)
    head_model.get_layer("base").trainable = False  # hides the inner flags
    assert transfer.trainable_counts(head_model)["trainable"] == 27
    assert not _flags(head_model)["block3_conv1"]


def test_changing_trainable_needs_a_recompile(head_model):
    """Keras builds the training step at the first fit after compile (the notebook's rule 2)."""
    x = np.random.default_rng(0).random((16, 16, 16, 1), dtype=np.float32)
    y = np.arange(16) % 3
    head_model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    head_model.fit(x, y, epochs=1, verbose=0)
    transfer.unfreeze_top(head_model, 1)

    def kernel():
        return head_model.get_layer("base").get_layer("block3_conv1").kernel.numpy().copy()

    before = kernel()
    head_model.fit(x, y, epochs=1, verbose=0)
    assert np.array_equal(before, kernel())
    head_model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    head_model.fit(x, y, epochs=1, verbose=0)
    assert not np.array_equal(before, kernel())


def test_batchnorm_drift_measures_inference_mode_and_restores(head_model, source):
    x = np.random.default_rng(1).random((8, 16, 16, 1), dtype=np.float32) * 3
    transfer.unfreeze_top(head_model, 3)
    assert transfer.batchnorm_drift(head_model, x) == 0.0
    transfer.unfreeze_top(head_model, 3, train_batchnorm=True)
    bn = head_model.get_layer("base").get_layer("block1_bn1")
    before = bn.moving_mean.numpy().copy()
    assert transfer.batchnorm_drift(head_model, x) > 0.0
    np.testing.assert_array_equal(before, bn.moving_mean.numpy())  # restored
    # Keras 3: training=False recorded in a functional call is overridden by the outer training=True
    base = transfer.feature_extractor(source)
    inputs = keras.Input((16, 16, 1))
    assert transfer.batchnorm_drift(keras.Model(inputs, base(inputs, training=False)), x) > 0.0
    with pytest.raises(ValueError, match="no BatchNormalization"):
        transfer.batchnorm_drift(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]), np.zeros((1, 2)))


def test_copy_model_keeps_weights_and_flags_but_not_variables(head_model):
    transfer.unfreeze_top(head_model, 1)
    copy = transfer.copy_model(head_model)
    assert _flags(copy) == _flags(head_model)
    assert transfer.trainable_counts(copy) == transfer.trainable_counts(head_model)
    assert all(np.array_equal(a, b) for a, b in zip(copy.get_weights(), head_model.get_weights()))
    assert not {id(v) for v in copy.weights} & {id(v) for v in head_model.weights}


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

    def load(n):
        return transfer.reframe(data.load("digits", image_size=(16, 16), train_size=n), box=12, canvas=16)

    target = load(20)
    scratch, h = transfer.train_from_scratch(RECIPE, target, plan)
    assert scratch.output_shape == (None, 10) and len(h.history["val_accuracy"]) == plan.scratch_epochs
    head, _ = transfer.train_feature_extraction(source, target, plan)
    assert transfer.trainable_counts(head)["trainable"] == 8 * 10 + 10
    fine, _ = transfer.train_fine_tuning(head, target, plan)
    assert transfer.trainable_counts(fine)["trainable"] > transfer.trainable_counts(head)["trainable"]
    assert transfer.batchnorm_drift(fine, target.x_train[:4]) == 0.0
    known = {20: {s: 0.5 for s in transfer.STRATEGIES}}
    curve = transfer.label_efficiency(source, load, [30, 20], plan, recipe=RECIPE, known=known, verbose=False)
    assert set(curve) == set(transfer.STRATEGIES)
    assert all(sorted(v) == [20, 30] and v[20] == 0.5 and 0 <= v[30] <= 1 for v in curve.values())
    with pytest.raises(ValueError, match="sizes must hold positive numbers"):
        transfer.label_efficiency(source, load, [], plan, recipe=RECIPE)
