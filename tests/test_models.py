import keras
import numpy as np
import pytest

from helpers import models


def test_lenet5_follows_the_1998_layout():
    model = models.lenet5()
    names = [layer.name for layer in model.layers]
    assert names == ["image", "C1", "S2", "C3", "S4", "C5", "flatten", "F6", "predictions"]
    shapes = {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers[1:]}
    assert shapes["C1"] == (28, 28, 6) and shapes["S2"] == (14, 14, 6)
    assert shapes["C3"] == (10, 10, 16) and shapes["S4"] == (5, 5, 16)
    assert shapes["C5"] == (1, 1, 120) and shapes["F6"] == (84,)
    counts = {layer.name: layer.count_params() for layer in model.layers}
    assert counts["C1"] == 156 and counts["C3"] == 2416 and counts["C5"] == 48120
    assert counts["F6"] == 10164 and counts["predictions"] == 850
    assert model.count_params() == 61706
    assert isinstance(model.get_layer("S2"), keras.layers.AveragePooling2D)


def test_lenet5_variants_and_limits():
    relu = models.lenet5(activation="relu", pooling="max")
    assert isinstance(relu.get_layer("S4"), keras.layers.MaxPooling2D)
    assert models.lenet5((32, 32, 3), 5).output_shape == (None, 5)
    with pytest.raises(ValueError, match="at least 20x20"):
        models.lenet5((8, 8, 1))
    with pytest.raises(ValueError, match="pooling must be"):
        models.lenet5(pooling="min")


@pytest.mark.parametrize("head", ["gap", "flatten"])
def test_simple_cnn_configurations(head):
    model = models.simple_cnn(
        (28, 28, 1),
        10,
        filters=(8, 16, 32),
        convs_per_block=1,
        head=head,
        batch_norm=False,
        dropout=0.0,
        dense_units=0,
    )
    assert model.output_shape == (None, 10)
    assert models.conv_layer_names(model) == ["block1_conv1", "block2_conv1", "block3_conv1"]
    assert f"head_{head}" in [layer.name for layer in model.layers]
    assert not any("bn" in layer.name or "dropout" in layer.name for layer in model.layers)
    out = model(np.zeros((2, 28, 28, 1), np.float32))
    np.testing.assert_allclose(np.sum(out, axis=1), 1.0, rtol=1e-5)


def test_simple_cnn_default_names_are_stable():
    names = [layer.name for layer in models.simple_cnn().layers]
    assert names[:6] == ["image", "block1_conv1", "block1_bn1", "block1_relu1", "block1_conv2", "block1_bn2"]
    assert names[-1] == "predictions"


def test_gap_head_has_far_fewer_parameters_than_flatten():
    gap = models.simple_cnn(head="gap", dense_units=0).count_params()
    flat = models.simple_cnn(head="flatten", dense_units=0).count_params()
    assert flat > gap + 7 * 7 * 64 * 10 - 64 * 10 - 1


def test_simple_cnn_l2_and_augmentation():
    aug = keras.layers.RandomTranslation(0.1, 0.1, name="augment")
    model = models.simple_cnn(l2=1e-3, augmentation=aug)
    assert model.layers[1].name == "augment"
    assert model.get_layer("block1_conv1").kernel_regularizer is not None
    sparse = models.simple_cnn(l1=1e-4, spatial_dropout=0.1)
    assert sparse.get_layer("block1_conv1").kernel_regularizer.l1 > 0
    assert "block2_spatial_dropout" in [layer.name for layer in sparse.layers]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"input_shape": (28, 28)}, "input_shape must be"),
        ({"num_classes": 1}, "num_classes must be"),
        ({"filters": ()}, "filters must be"),
        ({"kernel_size": 4}, "odd"),
        ({"dropout": 1.0}, "dropout must be"),
        ({"head": "dense"}, "head must be one of"),
        ({"l2": -1.0}, "l2 must be"),
        ({"l1": -1.0}, "l1 and l2 must be"),
        ({"spatial_dropout": 1.0}, "spatial_dropout must be"),
        ({"filters": (8,) * 6}, "shrink"),
        ({"convs_per_block": 0}, "convs_per_block"),
    ],
)
def test_simple_cnn_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.simple_cnn(**kwargs)
