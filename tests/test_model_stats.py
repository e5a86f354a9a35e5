"""helpers.model_stats: FLOPs by the stated convention, receptive fields, summary tables."""

import keras
import numpy as np
import pandas as pd
import pytest
from keras import layers

from helpers import model_stats, models


def _model(*body, shape=(28, 28, 1)):
    inputs = keras.Input(shape=shape)
    x = inputs
    for layer in body:
        x = layer(x)
    return keras.Model(inputs, x)


def test_conv_flops_follow_the_documented_example():
    model = _model(layers.Conv2D(8, 3, padding="same"))
    assert model_stats.count_flops(model) == 2 * 28 * 28 * 3 * 3 * 1 * 8 + 28 * 28 * 8 == 119_168


def test_conv_without_bias_valid_padding_and_stride():
    conv = layers.Conv2D(4, 5, strides=2, use_bias=False)
    _model(layers.Conv2D(6, 3, padding="same", use_bias=False), conv)
    out = (28 - 5) // 2 + 1
    assert model_stats.layer_flops(conv) == 2 * out * out * 5 * 5 * 6 * 4


def test_grouped_depthwise_and_separable_convs():
    grouped = layers.Conv2D(8, 3, padding="same", groups=2, use_bias=False)
    depthwise = layers.DepthwiseConv2D(3, padding="same", use_bias=False)
    separable = layers.SeparableConv2D(16, 3, padding="same")
    _model(layers.Conv2D(4, 1), grouped, depthwise, separable, shape=(10, 10, 1))
    assert model_stats.layer_flops(grouped) == 2 * 100 * 9 * 2 * 8
    assert model_stats.layer_flops(depthwise) == 2 * 100 * 8 * 9
    assert model_stats.layer_flops(separable) == 2 * 100 * 8 * (9 + 16) + 100 * 16


def test_dense_batchnorm_pooling_and_merges():
    inputs = keras.Input(shape=(8, 8, 4))
    bn = layers.BatchNormalization()
    maxpool, avgpool = layers.MaxPooling2D(2), layers.AveragePooling2D(2)
    gap, gmp = layers.GlobalAveragePooling2D(), layers.GlobalMaxPooling2D()
    add, avg = layers.Add(), layers.Average()
    dense = layers.Dense(10)
    nobias = layers.Dense(3, use_bias=False)
    x = bn(inputs)
    s = add([x, inputs])
    a = avg([x, inputs, s])
    p = maxpool(a)
    q = avgpool(p)
    v = layers.Concatenate()([gap(q), gmp(q)])
    keras.Model(inputs, nobias(dense(v)))
    assert model_stats.layer_flops(bn) == 2 * 8 * 8 * 4
    assert model_stats.layer_flops(add) == 8 * 8 * 4
    assert model_stats.layer_flops(avg) == 3 * 8 * 8 * 4
    assert model_stats.layer_flops(maxpool) == 4 * 4 * 4 * 3
    assert model_stats.layer_flops(avgpool) == 2 * 2 * 4 * 4
    assert model_stats.layer_flops(gap) == 2 * 2 * 4
    assert model_stats.layer_flops(gmp) == 2 * 2 * 4 - 4
    assert model_stats.layer_flops(dense) == 2 * 8 * 10 + 10
    assert model_stats.layer_flops(nobias) == 2 * 10 * 3


def test_activation_dropout_flatten_count_zero_and_total_is_the_sum():
    model = models.simple_cnn(filters=(8, 16), convs_per_block=1, dropout=0.3, head="flatten")
    table = model_stats.layer_table(model)
    free = table[table["type"].isin(["Activation", "Dropout", "Flatten"])]
    assert len(free) >= 4 and (free["flops"] == 0).all()
    assert model_stats.count_flops(model) == table["flops"].sum()
    assert table["params"].sum() == model.count_params()


def test_lenet5_flops_by_hand():
    lenet = models.lenet5()
    c1 = 2 * 28 * 28 * 25 * 6 + 28 * 28 * 6
    s2 = 14 * 14 * 6 * 4
    c3 = 2 * 10 * 10 * 25 * 6 * 16 + 10 * 10 * 16
    s4 = 5 * 5 * 16 * 4
    c5 = 2 * 25 * 16 * 120 + 120
    f6 = 2 * 120 * 84 + 84
    out = 2 * 84 * 10 + 10
    assert model_stats.count_flops(lenet) == c1 + s2 + c3 + s4 + c5 + f6 + out


def test_nested_models_are_expanded():
    inner = keras.Sequential([layers.Conv2D(4, 3, padding="same", name="inner_conv")], name="backbone")
    inputs = keras.Input(shape=(6, 6, 1))
    outputs = layers.Dense(2, name="out")(layers.Flatten(name="flat")(inner(inputs)))
    model = keras.Model(inputs, outputs)
    table = model_stats.layer_table(model)
    assert list(table["layer"]) == ["backbone/inner_conv", "flat", "out"]
    assert model_stats.count_flops(model) == (2 * 36 * 9 * 4 + 36 * 4) + (2 * 144 * 2 + 2)


def test_unknown_layers_with_weights_raise_unless_ignored():
    norm = layers.LayerNormalization(name="ln")
    model = _model(layers.Conv2D(2, 3), norm, shape=(5, 5, 1))
    with pytest.raises(ValueError, match="no rule for layer 'ln' \\(LayerNormalization\\)"):
        model_stats.count_flops(model)
    assert model_stats.count_flops(model, unknown="ignore") == 2 * 9 * 9 * 2 + 9 * 2
    with pytest.raises(ValueError, match="unknown must be 'raise' or 'ignore'"):
        model_stats.layer_flops(norm, unknown="skip")


def test_bad_models_are_refused():
    with pytest.raises(TypeError, match="Expected a Keras model"):
        model_stats.count_flops("lenet")
    unbuilt = keras.Sequential([layers.Dense(3)])
    with pytest.raises(ValueError, match="no defined input shape"):
        model_stats.count_flops(unbuilt)


def test_layer_table_splits_features_and_head():
    table = model_stats.layer_table(models.simple_cnn(filters=(8, 16), convs_per_block=1, head="gap"))
    assert list(table.columns) == ["layer", "type", "part", "output_shape", "params", "flops"]
    first_head = table.index[table["part"] == "head"][0]
    assert table.loc[first_head, "layer"] == "head_gap"
    assert (table.loc[: first_head - 1, "part"] == "features").all()
    assert table.loc[table["layer"] == "block1_conv1", "output_shape"].item() == (28, 28, 8)


def test_receptive_fields_grow_as_the_formula_says():
    model = models.simple_cnn(filters=(8, 16, 32), convs_per_block=2, head="gap")
    rf = model_stats.receptive_fields(model).set_index("layer")
    # 3x3 convs add 2 * jump; 2x2 pools add 1 * jump and double the jump.
    assert list(rf["receptive_field"]) == [3, 5, 6, 10, 14, 16, 24, 32, 36]
    assert list(rf["jump"]) == [1, 1, 2, 2, 2, 4, 4, 4, 8]
    assert rf.loc["block2_pool", "output_size"] == "7x7"
    assert list(rf.columns) == ["type", "kernel", "stride", "jump", "receptive_field", "output_size"]


def test_receptive_fields_dilation_non_square_nested_and_residual():
    inner = keras.Sequential([layers.Conv2D(2, 3, dilation_rate=2, padding="same", name="dil")], name="inner")
    inputs = keras.Input(shape=(16, 16, 1))
    x = layers.Conv2D(2, (3, 5), padding="same", name="rect")(inputs)
    x = inner(x)
    y = layers.Conv2D(2, 3, padding="same", name="branch")(x)
    x = layers.Add(name="add")([x, y])
    x = layers.MaxPooling2D(2, name="pool")(x)
    model = keras.Model(inputs, layers.GlobalAveragePooling2D()(x))
    rf = model_stats.receptive_fields(model).set_index("layer")
    assert rf.loc["rect", "receptive_field"] == (3, 5)
    assert rf.loc["inner/dil", "kernel"] == 5 and rf.loc["inner/dil", "receptive_field"] == (7, 9)
    assert rf.loc["pool", "receptive_field"] == (10, 12)  # the larger branch (through 'branch') counts


def test_small_resnet_receptive_field_counts_the_longest_path():
    model = models.small_resnet(filters=(8, 16), blocks_per_stage=1)
    rf = model_stats.receptive_fields(model).set_index("layer")
    assert rf.loc["stem_conv", "receptive_field"] == 3
    assert rf.loc["stage1_block1_conv2", "receptive_field"] == 7
    assert rf.loc["stage2_block1_conv1", "receptive_field"] == 9  # stride 2 from here on
    assert rf.loc["stage2_block1_conv2", "receptive_field"] == 13
    assert rf.loc["stage2_block1_proj", "receptive_field"] == 7


def test_compare_models_columns_and_errors():
    gap = models.simple_cnn(filters=(8, 16), convs_per_block=1, head="gap", dense_units=32)
    flat = models.simple_cnn(filters=(8, 16), convs_per_block=1, head="flatten", dense_units=32)
    table = model_stats.compare_models({"gap": gap, "flatten": flat}, {"gap": {"val_accuracy": 0.9}})
    assert list(table.columns) == ["params", "feature_params", "head_params", "mflops", "val_accuracy"]
    assert table.loc["gap", "params"] == gap.count_params()
    assert table.loc["flatten", "head_params"] == (7 * 7 * 16 + 1) * 32 + 33 * 10
    assert table.loc["gap", "feature_params"] == table.loc["flatten", "feature_params"]
    assert np.isclose(table.loc["gap", "mflops"], model_stats.count_flops(gap) / 1e6)
    assert np.isnan(table.loc["flatten", "val_accuracy"])
    assert table.index.name == "model"
    with pytest.raises(ValueError, match="non-empty dict"):
        model_stats.compare_models({})
    with pytest.raises(ValueError, match="not in models"):
        model_stats.compare_models({"gap": gap}, {"gpa": {"val_accuracy": 1.0}})


def test_gradient_norms_per_kernel(seeded):
    model = models.simple_cnn(filters=(4, 8), convs_per_block=1, dense_units=0, dropout=0.0)
    x = np.random.default_rng(0).random((8, 28, 28, 1), dtype=np.float32)
    norms = model_stats.gradient_norms(model, x, np.arange(8) % 10)
    assert isinstance(norms, pd.Series)
    assert list(norms.index) == ["block1_conv1", "block2_conv1", "predictions"]
    assert (norms > 0).all()
    with pytest.raises(ValueError, match="equal length"):
        model_stats.gradient_norms(model, x, np.zeros(3))


def test_activation_scales_is_the_rms_of_every_relu_output():
    inputs = keras.Input((4, 4, 1))
    x = layers.Conv2D(2, 1, kernel_initializer="ones", bias_initializer="zeros", name="conv")(inputs)
    x = layers.Activation("relu", name="relu_a")(x)
    x = layers.Activation("tanh", name="not_relu")(x)
    x = layers.ReLU(name="relu_b")(layers.Flatten()(x))
    model = keras.Model(inputs, x)
    image = np.full((1, 4, 4, 1), 2.0, np.float32)
    scales = model_stats.activation_scales(model, np.concatenate([image, -image]))
    assert list(scales.index) == ["relu_a", "relu_b"] and scales.name == "activation_rms"
    # half the batch is 2 (kept), half -2 (zeroed): RMS = sqrt(4 / 2); then tanh(2) survives the second ReLU
    np.testing.assert_allclose(scales["relu_a"], np.sqrt(2.0), rtol=1e-6)
    np.testing.assert_allclose(scales["relu_b"], np.tanh(2.0) / np.sqrt(2.0), rtol=1e-6)


def test_activation_scales_shows_glorot_fading_and_he_keeping_the_scale(seeded):
    x = np.random.default_rng(0).random((16, 28, 28, 1), dtype=np.float32)

    def fade(init, skip=False):
        from helpers import config

        config.seed_everything(0)
        net = models.small_resnet(
            filters=(8,), blocks_per_stage=3, batch_norm=False, skip=skip, kernel_initializer=init
        )
        scales = model_stats.activation_scales(net, x)
        assert len(scales) == 1 + 2 * 3  # the stem's ReLU and two per block
        return scales.iloc[-1] / scales.iloc[0]

    # Glorot halves the mean square per equal-width ReLU layer: about (1/sqrt(2))^6 = 0.125 over six layers
    assert fade("glorot_uniform") < 0.3 < fade("he_normal")
    assert fade("glorot_uniform", skip=True) > 3 * fade("glorot_uniform")  # the shortcut carries the input on


def test_activation_scales_refuses_what_it_cannot_measure():
    fused = _model(layers.Conv2D(2, 3, activation="relu"), layers.Flatten(), layers.Dense(2), shape=(5, 5, 1))
    with pytest.raises(ValueError, match="has no ReLU layers of its own"):
        model_stats.activation_scales(fused, np.zeros((2, 5, 5, 1)))
    with pytest.raises(ValueError, match="at least one example"):
        model_stats.activation_scales(_model(layers.ReLU(), shape=(3,)), np.zeros((0, 3)))
    with pytest.raises(TypeError, match="Expected a Keras model"):
        model_stats.activation_scales(layers.ReLU(), np.zeros((1, 3)))


def test_count_flops_matches_the_course_recipe_used_by_bench():
    model = models.simple_cnn(filters=(32, 64), convs_per_block=2, head="flatten")
    flops = model_stats.count_flops(model)
    convs = 2 * 28 * 28 * 9 * (1 * 32 + 32 * 32) + 2 * 14 * 14 * 9 * (32 * 64 + 64 * 64)
    assert convs < flops < 1.05 * convs  # convolutions dominate; BN, pooling and the head are small
