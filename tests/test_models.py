"""helpers.models: LeNet-5, the course CNN and its options, residual blocks and networks, layer walking."""

import keras
import numpy as np
import pytest
from keras import layers

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
    with pytest.raises(ValueError, match="at least 28x28"):
        models.lenet5((8, 8, 1))
    with pytest.raises(ValueError, match="at least 28x28"):  # C5 would get 4x4 maps for its 5x5 kernels
        models.lenet5((27, 40, 3))
    assert models.lenet5((28, 36, 3), 5).get_layer("C5").output.shape[1:3] == (1, 3)
    with pytest.raises(ValueError, match="pooling must be"):
        models.lenet5(pooling="min")


@pytest.mark.parametrize("head", ["gap", "flatten"])
def test_simple_cnn_configurations(head):
    model = models.simple_cnn(
        (28, 28, 1), 10, filters=(8, 16, 32), convs_per_block=1, head=head, batch_norm=False, dropout=0.0, dense_units=0
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


def test_max_norm_caps_each_filter_and_unit_after_every_step(tiny):
    from helpers import training

    model = models.simple_cnn(
        tiny.input_shape, tiny.num_classes, filters=(4,), dense_units=8, dropout=0.0, batch_norm=False, max_norm=0.05
    )
    capped = ["block1_conv1", "block1_conv2", "head_dense", "predictions"]
    assert all(model.get_layer(name).kernel_constraint.max_value == 0.05 for name in capped)
    training.compile_classifier(model, learning_rate=0.05)
    training.fit(model, tiny, epochs=1, batch_size=16, verbose=0)
    conv = model.get_layer("block1_conv1").kernel.numpy()  # (3, 3, in, filters): one norm per filter
    assert np.sqrt((conv**2).sum(axis=(0, 1, 2))).max() <= 0.05 + 1e-6
    dense = model.get_layer("head_dense").kernel.numpy()  # (inputs, units): one norm per unit's column
    assert np.sqrt((dense**2).sum(axis=0)).max() <= 0.05 + 1e-6
    assert models.simple_cnn(tiny.input_shape, tiny.num_classes).get_layer("head_dense").kernel_constraint is None


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
        ({"l1": -1.0}, r"l1 must be .*>= 0. Received: l1=-1.0"),
        ({"spatial_dropout": 1.0}, "spatial_dropout must be"),
        ({"filters": (8,) * 6}, "shrink"),
        ({"convs_per_block": 0}, "convs_per_block"),
        ({"max_norm": -1.0}, r"max_norm must be .*>= 0"),
    ],
)
def test_simple_cnn_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.simple_cnn(**kwargs)


def test_simple_cnn_options_are_its_keyword_arguments():
    assert "filters" in models.SIMPLE_CNN_OPTIONS and "head" in models.SIMPLE_CNN_OPTIONS
    assert "input_shape" not in models.SIMPLE_CNN_OPTIONS and "num_classes" not in models.SIMPLE_CNN_OPTIONS
    options = {"filters": (8,), "dropout": 0.1}
    checked = models.check_simple_cnn_options(options)
    assert checked == options and checked is not options  # a copy: the caller's dict stays as it was
    assert models.check_simple_cnn_options([]) == {}


def test_check_simple_cnn_options_names_what_is_unknown():
    with pytest.raises(TypeError, match=r"Unknown model option\(s\) dropuot, widht\. Choose from: .*filters"):
        models.check_simple_cnn_options({"widht": 2, "dropuot": 0.1, "filters": (8,)})
    with pytest.raises(TypeError, match=r"Unknown model option\(s\) head\. Choose from: dropout, filters\."):
        models.check_simple_cnn_options({"head": "gap"}, allowed=("filters", "dropout"))


def _nested_model():
    base = keras.Sequential(
        [keras.Input((8, 8, 1)), layers.Conv2D(2, 3, name="conv"), layers.ReLU(name="relu")], name="base"
    )
    inputs = keras.Input((8, 8, 1), name="image")
    x = layers.Flatten(name="flat")(base(inputs))
    return keras.Model(inputs, layers.Dense(2, name="out")(x), name="outer")


def test_walk_layers_names_nested_paths_and_skips_input_layers():
    model = _nested_model()
    assert [path for path, _ in models.walk_layers(model, with_paths=True)] == [
        "base",
        "base/conv",
        "base/relu",
        "flat",
        "out",
    ]
    assert [layer.name for layer in models.walk_layers(model)] == ["base", "conv", "relu", "flat", "out"]
    assert not any(isinstance(layer, layers.InputLayer) for layer in models.walk_layers(model))
    pairs = list(models.walk_layers(model, with_paths=True))
    assert all(layer.name == path.rsplit("/", 1)[-1] for path, layer in pairs)


def test_walk_layers_leaves_only_drops_the_nested_models():
    model = _nested_model()
    leaves = list(models.walk_layers(model, leaves_only=True, with_paths=True))
    assert [path for path, _ in leaves] == ["base/conv", "base/relu", "flat", "out"]
    assert not any(isinstance(layer, keras.Model) for _, layer in leaves)
    flat_model = models.simple_cnn(filters=(8,), convs_per_block=1)
    assert list(models.walk_layers(flat_model, leaves_only=True)) == flat_model.layers[1:]


@pytest.mark.parametrize("not_a_model", [object(), layers.Dense(2), None])
def test_walk_layers_refuses_what_is_not_a_model(not_a_model):
    with pytest.raises(TypeError, match="Expected a Keras model or Sequential"):
        list(models.walk_layers(not_a_model))


# ----------------------------------------------------------------------------------------------
# Residual blocks and networks (03_architecture).


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


def test_kernel_initializer_reaches_every_conv_of_a_block_and_a_resnet():
    block = _block_model((8, 8, 4), 6, stride=2, kernel_initializer="he_normal", name="b")
    for name in ("b_conv1", "b_conv2", "b_proj"):
        assert isinstance(block.get_layer(name).kernel_initializer, keras.initializers.HeNormal)
    net = models.small_resnet(filters=(8, 16), kernel_initializer="he_uniform")
    convs = [layer for layer in net.layers if isinstance(layer, layers.Conv2D)]
    assert convs[0].name == "stem_conv" and len(convs) == 6  # the stem, 2 + 2 block convs and the projection
    assert all(isinstance(conv.kernel_initializer, keras.initializers.HeUniform) for conv in convs)
    assert isinstance(net.get_layer("predictions").kernel_initializer, keras.initializers.GlorotUniform)
    default = models.small_resnet(filters=(8,))
    assert isinstance(default.get_layer("stem_conv").kernel_initializer, keras.initializers.GlorotUniform)


def test_he_initialization_has_variance_two_over_fan_in(seeded):
    net = models.small_resnet(filters=(64,), kernel_initializer="he_normal", batch_norm=False)
    kernel = np.asarray(net.get_layer("stage1_block1_conv2").kernel)  # 3x3x64 -> 64
    np.testing.assert_allclose(kernel.var(), 2 / (3 * 3 * 64), rtol=0.05)
    glorot = models.small_resnet(filters=(64,), batch_norm=False)
    kernel = np.asarray(glorot.get_layer("stage1_block1_conv2").kernel)
    np.testing.assert_allclose(kernel.var(), 2 / (3 * 3 * 64 + 3 * 3 * 64), rtol=0.05)  # half of He's


@pytest.mark.parametrize("bad", ["he_nromal", 3, None, 0.5])
def test_kernel_initializer_is_validated(bad):
    with pytest.raises(ValueError, match=r"kernel_initializer must be a Keras initializer or its name.*Received"):
        models.small_resnet(kernel_initializer=bad)
    with pytest.raises(ValueError, match="kernel_initializer must be"):
        models.residual_block(keras.Input(shape=(8, 8, 4)), 4, kernel_initializer=bad)
    assert models.small_resnet(filters=(4,), kernel_initializer=keras.initializers.HeNormal()).count_params() > 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"filters": 0}, "filters must be a positive integer"),
        ({"filters": 4, "stride": 3}, "stride must be 1 or 2"),
        ({"filters": 4, "kernel_size": 2}, "kernel_size must be a positive odd integer"),
        ({"filters": 4, "l2": -1.0}, r"l2 must be .*>= 0. Received: l2=-1.0"),
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
