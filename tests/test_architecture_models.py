"""helpers.models additions from 03_architecture: residual_block and small_resnet."""

import keras
import numpy as np
import pytest
from keras import layers

from helpers import models


def _block_model(shape, filters, **kwargs):
    inputs = keras.Input(shape=shape)
    return keras.Model(inputs, models.residual_block(inputs, filters, **kwargs))


def test_identity_block_names_and_shapes():
    model = _block_model((8, 8, 4), 4, name="b")
    names = [layer.name for layer in model.layers[1:]]
    assert names == ["b_conv1", "b_bn1", "b_relu1", "b_conv2", "b_bn2", "b_add", "b_out"]
    assert model.output_shape == (None, 8, 8, 4)
    assert not model.get_layer("b_conv1").use_bias  # BN follows: a bias would be redundant


def test_identity_block_passes_its_input_through_when_the_convs_are_zero():
    model = _block_model((5, 5, 3), 3, batch_norm=False, name="b")
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    x = np.random.default_rng(0).normal(size=(2, 5, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(model(x)), np.maximum(x, 0), atol=1e-6)


def test_projection_shortcut_when_shape_changes():
    model = _block_model((8, 8, 4), 6, stride=2, name="down")
    assert model.output_shape == (None, 4, 4, 6)
    proj = model.get_layer("down_proj")
    assert proj.kernel_size == (1, 1) and proj.strides == (2, 2)
    assert "down_proj_bn" in [layer.name for layer in model.layers]
    no_bn = _block_model((8, 8, 4), 6, batch_norm=False, name="n")
    assert "n_proj_bn" not in [layer.name for layer in no_bn.layers]
    assert no_bn.get_layer("n_conv1").use_bias


def test_plain_twin_has_the_same_convolutions_and_no_shortcut():
    res = _block_model((8, 8, 4), 8, name="b")
    plain = _block_model((8, 8, 4), 8, skip=False, name="b")
    plain_names = [layer.name for layer in plain.layers]
    assert "b_add" not in plain_names and "b_proj" not in plain_names
    assert (
        res.count_params() - plain.count_params()
        == res.get_layer("b_proj").count_params() + res.get_layer("b_proj_bn").count_params()
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"filters": 0}, "filters must be a positive integer"),
        ({"filters": 4, "stride": 3}, "stride must be 1 or 2"),
        ({"filters": 4, "kernel_size": 2}, "kernel_size must be a positive odd integer"),
        ({"filters": 4, "l2": -1.0}, "l2 must be >= 0"),
    ],
)
def test_residual_block_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.residual_block(keras.Input(shape=(8, 8, 4)), **kwargs)


def test_residual_block_needs_a_4d_tensor():
    with pytest.raises(ValueError, match="x must be a 4-D tensor"):
        models.residual_block(keras.Input(shape=(16,)), 4)


def test_small_resnet_layout_and_names():
    model = models.small_resnet((28, 28, 1), 10, filters=(8, 16), blocks_per_stage=2, dropout=0.2)
    names = [layer.name for layer in model.layers]
    assert names[:4] == ["image", "stem_conv", "stem_bn", "stem_relu"]
    assert names[-3:] == ["head_gap", "head_dropout", "predictions"]
    convs = models.conv_layer_names(model)
    assert len([n for n in convs if not n.endswith("_proj")]) == 1 + 2 * 2 * 2
    assert [n for n in convs if n.endswith("_proj")] == ["stage2_block1_proj"]
    assert model.get_layer("stage2_block1_out").output.shape[1:] == (14, 14, 16)
    assert model.output_shape == (None, 10)
    out = model(np.zeros((2, 28, 28, 1), np.float32))
    np.testing.assert_allclose(np.sum(out, axis=1), 1.0, rtol=1e-5)


def test_small_resnet_plain_twin_and_no_batch_norm():
    plain = models.small_resnet(filters=(8, 16), skip=False, batch_norm=False, name="plain")
    names = [layer.name for layer in plain.layers]
    assert not any(n.endswith(("_add", "_proj", "_bn", "_bn1", "_bn2")) for n in names)
    assert plain.name == "plain"
    assert models.small_resnet(filters=(8,)).get_layer("stage1_block1_out").output.shape[1:] == (28, 28, 8)


def test_small_resnet_trains_a_step(seeded):
    model = models.small_resnet((12, 12, 1), 3, filters=(4, 8))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).random((8, 12, 12, 1), dtype=np.float32)
    history = model.fit(x, np.arange(8) % 3, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"filters": ()}, "filters must be a non-empty sequence"),
        ({"filters": (8, -1)}, "filters must be a non-empty sequence"),
        ({"blocks_per_stage": 0}, "blocks_per_stage must be an integer >= 1"),
        ({"dropout": 1.0}, "dropout must be in"),
        ({"input_shape": (28, 28)}, "input_shape must be"),
        ({"num_classes": 1}, "num_classes must be"),
        ({"input_shape": (4, 4, 1), "filters": (4, 4, 4, 4)}, "stride-2 stages need images of at least 8"),
    ],
)
def test_small_resnet_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.small_resnet(**kwargs)
