"""helpers.transfer.freezing: bases and blocks, freezing, new heads, copies, BatchNorm inference mode."""

import keras
import numpy as np
import pytest

from helpers import transfer


def _flags(model):
    return transfer.trainable_layers(model)


def test_base_of_finds_the_one_nested_base(source, head_model):
    assert transfer.base_of(head_model) is head_model.get_layer("base")
    assert transfer.base_of(source) is source  # a flat model is its own base
    with pytest.raises(TypeError, match="Expected a keras.Model"):
        transfer.base_of("model")


def test_blocks_are_found_in_order(source, head_model):
    assert transfer.blocks(source) == ["block1", "block2", "block3"]
    assert transfer.blocks(head_model) == ["block1", "block2", "block3"]  # through the nested base


def test_feature_extractor_is_an_independent_copy(source):
    base = transfer.feature_extractor(source)
    assert base.output_shape == (None, 8) and base.layers[-1].name == "head_gap"
    assert not {id(v) for v in base.weights} & {id(v) for v in source.weights}
    x = np.random.default_rng(0).random((2, 16, 16, 1), dtype=np.float32)
    np.testing.assert_allclose(base(x), keras.Model(source.input, source.get_layer("head_gap").output)(x), atol=1e-6)
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
    "n_blocks, open_blocks", [(0, []), (1, ["block3"]), (2, ["block2", "block3"]), (3, ["block1", "block2", "block3"])]
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
