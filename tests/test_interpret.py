"""helpers.interpret: every method on every kind of model the course builds, the properties the maps
must have (logits, completeness, occlusion on a model whose answer is known), and the sanity checks."""

import keras
import numpy as np
import pandas as pd
import pytest
from keras import layers

from helpers import config, interpret, models, training, transfer

N = 3


@pytest.fixture(scope="module")
def x16():
    return np.random.default_rng(0).uniform(size=(N, 16, 16, 1)).astype(np.float32)


def _sequential_called_once(x):
    model = keras.Sequential(
        [
            layers.Conv2D(4, 3, activation="relu", name="c1"),
            layers.Conv2D(4, 3, activation="relu", name="c2"),
            layers.Flatten(),
            layers.Dense(3, activation="softmax", name="out"),
        ],
        name="seq_no_input",
    )
    model(x)  # built by a call, never given a keras.Input: keras-io's Grad-CAM fails on this one
    return model


def _sequential_with_input():
    return keras.Sequential(
        [
            keras.Input((16, 16, 1)),
            layers.Conv2D(4, 3, activation="relu", name="c1"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(3, name="logits"),
            layers.Activation("softmax", name="softmax"),
        ],
        name="seq_input",
    )


def _source():
    return transfer.SourceSpec(name="interp_test", filters=(4, 8, 8)).build((16, 16, 1), 10)


def _transfer_model():
    """07's structure: the source CNN's base (frozen, nested) inside a new head."""
    return transfer.with_new_head(transfer.feature_extractor(_source()), 3)


def _sequential_transfer_model():
    """The same idea written as a Sequential: a (trainable) base model, then a softmax layer."""
    base = transfer.feature_extractor(_source(), name="seq_base")
    return keras.Sequential([keras.Input((16, 16, 1)), base, layers.Dense(3, activation="softmax")], name="seq_head")


@pytest.fixture(scope="module")
def model_kinds(x16):
    config.seed_everything(0)
    return {
        "lenet5": models.lenet5((28, 28, 1), 3),
        "simple_cnn": models.simple_cnn((16, 16, 1), 3, filters=(4, 8), dense_units=8),
        "small_resnet": models.small_resnet((16, 16, 1), 3, filters=(4, 8)),
        "sequential_no_input": _sequential_called_once(x16),
        "sequential_input": _sequential_with_input(),
        "nested_transfer": _transfer_model(),
        "nested_sequential": _sequential_transfer_model(),
    }


def _batch_for(model, x16):
    size = 28 if model.name == "lenet5" else 16
    return np.random.default_rng(1).uniform(size=(N, size, size, 1)).astype(np.float32)


KINDS = [
    "lenet5",
    "simple_cnn",
    "small_resnet",
    "sequential_no_input",
    "sequential_input",
    "nested_transfer",
    "nested_sequential",
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", interpret.METHODS)
def test_every_method_maps_every_kind_of_model(model_kinds, x16, kind, method):
    model = model_kinds[kind]
    x = _batch_for(model, x16)
    maps = interpret.explain(model, x, method)
    assert maps.shape == x.shape[:3] and maps.dtype == np.float32
    assert np.all(np.isfinite(maps))
    assert np.all(maps.reshape(N, -1).std(axis=1) > 0), "a constant map explains nothing"


def test_the_model_is_left_unchanged(model_kinds, x16):
    model = model_kinds["nested_transfer"]
    before = [w.copy() for w in model.get_weights()]
    flags = transfer.trainable_layers(model)
    out_before = np.asarray(model(x16))
    for method in interpret.METHODS:
        interpret.explain(model, x16, method)
    interpret.randomization_test(model, x16, methods=("saliency",))
    assert model.layers[-1].activation.__name__ == "softmax"
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    np.testing.assert_allclose(np.asarray(model(x16)), out_before, atol=1e-6)
    assert transfer.trainable_layers(model) == flags  # the frozen base stays frozen


def test_saliency_differentiates_the_logit_not_the_probability(x16):
    config.seed_everything(0)
    inputs = keras.Input((16, 16, 1))
    features = layers.Flatten()(layers.Conv2D(4, 3, activation="relu")(inputs))
    dense = layers.Dense(3, activation="softmax", name="predictions")
    model = keras.Model(inputs, dense(features))
    kernel, bias = dense.get_weights()
    dense.set_weights([kernel * 50, bias])  # a saturated softmax: d probability / d x is nearly 0
    import tensorflow as tf

    twin = layers.Dense(3)  # the same weights without the softmax: the logits, by hand
    logits_model = keras.Model(inputs, twin(features))
    twin.set_weights(dense.get_weights())
    classes = interpret.class_scores(model, x16).argmax(axis=1)
    xt = tf.constant(x16)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(xt)
        logit = tf.reduce_sum(tf.gather(logits_model(xt), classes, batch_dims=1))
        prob = tf.reduce_sum(tf.gather(model(xt), classes, batch_dims=1))
    expected = np.abs(np.asarray(tape.gradient(logit, xt)))[..., 0]
    np.testing.assert_allclose(interpret.saliency(model, x16), expected, rtol=1e-4, atol=1e-6)
    assert np.abs(np.asarray(tape.gradient(prob, xt))).max() < 1e-3 * expected.max()
    np.testing.assert_allclose(interpret.class_scores(model, x16, probabilities=True), model(x16), atol=1e-5)


def test_an_activation_softmax_layer_is_removed_too(model_kinds, x16):
    model = model_kinds["sequential_input"]
    logits = keras.Sequential(model.layers[:-1])
    np.testing.assert_allclose(interpret.class_scores(model, x16), logits(x16), atol=1e-5)


def test_colour_images_take_the_channel_maximum(x16):
    config.seed_everything(0)
    model = models.simple_cnn((16, 16, 3), 3, filters=(4,), dense_units=0)
    x = np.random.default_rng(2).uniform(size=(2, 16, 16, 3)).astype(np.float32)
    grads = interpret._gradients(model, x, interpret.class_scores(model, x).argmax(axis=1))
    np.testing.assert_allclose(interpret.saliency(model, x), np.abs(grads).max(axis=-1), rtol=1e-5)
    for method in interpret.METHODS:
        assert interpret.explain(model, x, method).shape == (2, 16, 16)


def test_class_index_none_int_or_one_per_image(model_kinds, x16):
    model = model_kinds["simple_cnn"]
    predicted = interpret.class_scores(model, x16).argmax(axis=1)
    np.testing.assert_array_equal(interpret.saliency(model, x16), interpret.saliency(model, x16, predicted))
    other = (predicted + 1) % 3
    assert not np.allclose(interpret.saliency(model, x16, other), interpret.saliency(model, x16))
    np.testing.assert_array_equal(interpret.saliency(model, x16, 2), interpret.saliency(model, x16, [2, 2, 2]))
    with pytest.raises(ValueError, match=r"lie in \[0, 2\]"):
        interpret.saliency(model, x16, 3)
    with pytest.raises(ValueError, match="one int per image"):
        interpret.grad_cam(model, x16, [0, 1])


def test_bad_input_is_refused(model_kinds, x16):
    model = model_kinds["simple_cnn"]
    with pytest.raises(ValueError, match=r"image\[None\]"):
        interpret.saliency(model, x16[0])
    with pytest.raises(ValueError, match="NaN"):
        interpret.saliency(model, np.full_like(x16, np.nan))
    with pytest.raises(TypeError, match="Keras model"):
        interpret.saliency("model", x16)
    with pytest.raises(ValueError, match="method must be one of"):
        interpret.explain(model, x16, "lime")
    with pytest.raises(ValueError, match="samples must be a positive integer"):
        interpret.smoothgrad(model, x16, samples=0)


# ---------------------------------------------------------------- Grad-CAM layers


def test_grad_cam_default_layer_is_the_last_spatial_conv_after_its_activation(model_kinds, x16):
    pick = {kind: interpret._default_layer(m, _batch_for(m, x16)) for kind, m in model_kinds.items()}
    assert pick["lenet5"] == "C3"  # C5 is 1x1
    assert pick["simple_cnn"] == "block2_relu2"
    assert pick["small_resnet"] == "stage2_block1_out"  # not the shortcut's projection
    assert pick["nested_transfer"] == "base/block3_relu1"
    assert pick["nested_sequential"] == "seq_base/block3_relu1"
    assert pick["sequential_no_input"] == "c2"


def test_grad_cam_addresses_nested_layers_and_names_the_choices(model_kinds, x16):
    model = model_kinds["nested_transfer"]
    assert interpret.conv_layers(model) == ["base/block1_conv1", "base/block2_conv1", "base/block3_conv1"]
    by_path = interpret.grad_cam(model, x16, layer="base/block2_conv1")
    np.testing.assert_array_equal(by_path, interpret.grad_cam(model, x16, layer="block2_conv1"))
    assert not np.allclose(by_path, interpret.grad_cam(model, x16))
    with pytest.raises(ValueError, match="Conv layers available: base/block1_conv1, base/block2_conv1"):
        interpret.grad_cam(model, x16, layer="conv9")
    with pytest.raises(ValueError, match="needs feature maps"):
        interpret.grad_cam(model, x16, layer="new_predictions")
    dense_only = keras.Sequential([keras.Input((16, 16, 1)), layers.Flatten(), layers.Dense(3, activation="softmax")])
    with pytest.raises(ValueError, match="no conv layers"):
        interpret.grad_cam(dense_only, x16)


def test_a_nested_model_on_a_branch_is_reported_not_mapped_wrongly(x16):
    inputs = keras.Input((16, 16, 1))
    inner_in = keras.Input((16, 16, 1))
    inner = keras.Model(inner_in, layers.Conv2D(4, 3, padding="same", name="inner_conv")(inner_in), name="inner")
    side = layers.Conv2D(4, 3, padding="same", name="side_conv")(inputs)
    merged = layers.Add(name="add")([inner(inputs), side])
    outputs = layers.Dense(3, activation="softmax")(layers.GlobalAveragePooling2D()(merged))
    model = keras.Model(inputs, outputs, name="branchy")
    assert interpret.grad_cam(model, x16, layer="add").shape == (N, 16, 16)  # a top-level layer: the graph is used
    with pytest.raises(ValueError, match="branches around a nested model"):
        interpret.grad_cam(model, x16, layer="inner/inner_conv")


# ---------------------------------------------------------------- properties of the maps


def test_integrated_gradients_add_up_to_the_score_difference(model_kinds, x16):
    model = model_kinds["simple_cnn"]
    classes = interpret.class_scores(model, x16).argmax(axis=1)
    for baseline, base_images in ((None, np.zeros_like(x16)), (0.5, np.full_like(x16, 0.5)), (x16[0], x16[[0] * N])):
        ig = interpret.integrated_gradients(model, x16, classes, steps=64, baseline=baseline)
        gap = interpret.class_scores(model, x16) - interpret.class_scores(model, base_images)
        np.testing.assert_allclose(ig.sum(axis=(1, 2)), gap[np.arange(N), classes], rtol=0.05, atol=1e-4)
    with pytest.raises(ValueError, match="baseline must be"):
        interpret.integrated_gradients(model, x16, baseline=np.zeros((4, 4)))


def test_smoothgrad_is_seeded_and_reduces_to_saliency_without_noise(model_kinds, x16):
    model = model_kinds["simple_cnn"]
    a = interpret.smoothgrad(model, x16, samples=4, seed=1)
    np.testing.assert_array_equal(a, interpret.smoothgrad(model, x16, samples=4, seed=1))
    assert not np.allclose(a, interpret.smoothgrad(model, x16, samples=4, seed=2))
    np.testing.assert_allclose(
        interpret.smoothgrad(model, x16, samples=2, noise=0.0), interpret.saliency(model, x16), rtol=1e-5
    )


@pytest.fixture(scope="module")
def corner_model():
    """Class 0's logit is the sum of the top-left 4x4 pixels, class 1's is 0: occlusion's answer is known."""
    model = keras.Sequential([keras.Input((8, 8, 1)), layers.Flatten(), layers.Dense(2, activation="softmax")])
    kernel = np.zeros((64, 2), dtype=np.float32)
    corner = np.zeros((8, 8), dtype=bool)
    corner[:4, :4] = True
    kernel[corner.ravel(), 0] = 1.0
    model.set_weights([kernel, np.zeros(2, dtype=np.float32)])
    return model, corner


def test_occlusion_finds_the_only_region_the_model_reads(corner_model):
    model, corner = corner_model
    x = np.full((2, 8, 8, 1), 0.25, dtype=np.float32)
    grid = interpret.occlusion(model, x, 0, patch=2, stride=2, fill=0.0, per_pixel=False)
    assert grid.shape == (2, 4, 4)
    p = 1 / (1 + np.exp(-4.0))  # 16 corner pixels of 0.25: logit 4 against 0
    expected = np.zeros((4, 4))
    expected[:2, :2] = p - 1 / (1 + np.exp(-3.0))  # hiding 4 of them: logit 3
    np.testing.assert_allclose(grid[0], expected, atol=1e-6)
    maps = interpret.occlusion(model, x, 0, patch=3, stride=2, fill=0.0)
    assert maps.shape == (2, 8, 8)
    assert np.all(maps[:, ~corner] <= maps[:, corner].min() + 1e-7) and np.all(maps[:, 6:, 6:] == 0)
    np.testing.assert_allclose(
        interpret.occlusion(model, x, 0, patch=2, stride=2, fill=0.0, score="logit", per_pixel=False)[0],
        (expected > 0) * 1.0,
        atol=1e-5,
    )


def test_occlusion_covers_every_pixel_and_defaults_to_the_mean_grey(corner_model):
    model, _ = corner_model
    x = np.random.default_rng(3).uniform(size=(1, 8, 8, 1)).astype(np.float32)
    assert interpret._positions(8, 3, 2) == [0, 2, 4, 5]  # 5 = 8 - 3: the far edge gets a patch too
    assert interpret.occlusion(model, x, 0, patch=3, stride=2, per_pixel=False).shape == (1, 4, 4)
    np.testing.assert_array_equal(
        interpret.occlusion(model, x, 0), interpret.occlusion(model, x, 0, fill=float(x.mean()))
    )
    with pytest.raises(ValueError, match="patch must fit"):
        interpret.occlusion(model, x, patch=9)
    with pytest.raises(ValueError, match="score must be one of"):
        interpret.occlusion(model, x, score="loss")
    with pytest.raises(ValueError, match="fill must be a number"):
        interpret.occlusion(model, x, fill="grey")


# ---------------------------------------------------------------- similarity, regions


def test_rank_correlation_per_image():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(3, 5, 5))
    np.testing.assert_allclose(interpret.rank_correlation(a, a * 2), 1.0)
    np.testing.assert_allclose(interpret.rank_correlation(np.abs(a), -np.abs(a), absolute=False), -1.0)
    np.testing.assert_allclose(interpret.rank_correlation(a, -a), 1.0)  # |a| = |-a|
    assert interpret.rank_correlation(a[0], a[0]).shape == (1,)
    flat = np.zeros((2, 5, 5))
    rho = interpret.rank_correlation(flat, np.stack([a[0], flat[0]]))
    assert rho[0] == 0.0 and np.isnan(rho[1])
    with pytest.raises(ValueError, match="same shape"):
        interpret.rank_correlation(a, a[:2])


def test_region_ratio_compares_stroke_and_background():
    images = np.zeros((2, 4, 4, 1))
    images[:, 1, :] = 1.0  # one bright row: the stroke
    maps = np.ones((2, 4, 4))
    maps[0, 1, :] = 3.0
    maps[1, 1, :] = 0.5
    np.testing.assert_allclose(interpret.region_ratio(maps, images), [3.0, 0.5])
    colour = np.repeat(images, 3, axis=-1)
    np.testing.assert_allclose(interpret.region_ratio(maps, colour), [3.0, 0.5])
    zero_background = maps * (images[..., 0] > 0.5)
    assert np.isinf(interpret.region_ratio(zero_background, images)).all()
    with pytest.raises(ValueError, match="no stroke"):
        interpret.region_ratio(maps, np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="same images"):
        interpret.region_ratio(maps, images[:1])


def _coloured_shapes():
    """Two 12x16 RGB images: a dark red square and a yellow bar on a noisy dark background."""
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 0.2, size=(2, 12, 16, 3))
    images[0, 3:8, 4:9] = (0.86, 0.16, 0.16)  # mean 0.39: below 0.5, the digits' stroke level
    images[1, 5:7, :] = (0.9, 0.82, 0.16)  # mean 0.63
    objects = np.zeros((2, 12, 16), dtype=bool)
    objects[0, 3:8, 4:9] = objects[1, 5:7, :] = True
    return images, objects


def test_otsu_threshold_separates_a_coloured_object_from_its_background():
    images, objects = _coloured_shapes()
    for img, obj in zip(images.mean(axis=-1), objects):
        level = interpret.otsu_threshold(img)
        np.testing.assert_array_equal(img > level, obj)
    bimodal = np.r_[np.full(30, 0.1), np.full(10, 0.9)]
    assert 0.1 <= interpret.otsu_threshold(bimodal) < 0.9
    with pytest.raises(ValueError, match="uniform"):
        interpret.otsu_threshold(np.full((4, 4), 0.5))
    with pytest.raises(ValueError, match="bins"):
        interpret.otsu_threshold(bimodal, bins=1)


def test_region_ratio_with_otsu_finds_coloured_objects_that_0_5_misses():
    images, objects = _coloured_shapes()
    maps = np.where(objects, 4.0, 1.0)
    np.testing.assert_allclose(interpret.region_ratio(maps, images, threshold="otsu"), [4.0, 4.0])
    with pytest.raises(ValueError, match='Image 0 has no stroke at threshold=0.5.*threshold="otsu"'):
        interpret.region_ratio(maps, images)  # the red square is darker than 0.5 on average
    digits = np.zeros((1, 4, 4, 1))
    digits[0, 1] = 1.0
    np.testing.assert_allclose(
        interpret.region_ratio(np.where(digits[..., 0] > 0, 2.0, 1.0), digits, threshold="otsu"), [2.0]
    )
    with pytest.raises(ValueError, match='a number or "otsu"'):
        interpret.region_ratio(maps, images, threshold="mean")


# ---------------------------------------------------------------- sanity checks on a trained model


@pytest.fixture(scope="module")
def trained(tiny):
    """A small CNN that learned the tiny dataset's bright bands (accuracy 1 on validation)."""
    config.seed_everything(0)
    model = models.simple_cnn(
        (8, 8, 1), 3, filters=(8,), convs_per_block=1, batch_norm=False, dropout=0.0, dense_units=0, head="flatten"
    )
    training.compile_classifier(model, learning_rate=1e-2)
    model.fit(tiny.x_train, tiny.y_train, epochs=15, batch_size=20, verbose=0)
    assert (model.predict(tiny.x_val, verbose=0).argmax(axis=1) == tiny.y_val).mean() > 0.9
    return model, tiny.x_val[:6], tiny.y_val[:6]


def test_maps_of_the_trained_model_light_up_the_band(trained):
    model, x, y = trained
    for method in ("saliency", "occlusion", "integrated_gradients"):
        ratio = interpret.region_ratio(np.abs(interpret.explain(model, x, method, y)), x)
        assert np.all(ratio > 1.3), (method, ratio)


def test_randomized_copy_is_fresh_seeded_and_leaves_the_original(trained, model_kinds):
    model, x, _ = trained
    before = [w.copy() for w in model.get_weights()]
    copy = interpret.randomized_copy(model, 1)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert all(not np.allclose(a, b) for a, b in zip(model.get_weights(), copy.get_weights()) if a.std() > 0)
    again = interpret.randomized_copy(model, 1)
    assert all(np.array_equal(a, b) for a, b in zip(copy.get_weights(), again.get_weights()))
    partial = interpret.randomized_copy(model, 1, layers=["predictions"])
    same = [np.array_equal(a, b) for a, b in zip(model.get_weights(), partial.get_weights())]
    assert same == [True, True, False, False]  # conv kernel and bias kept, the output layer's redrawn
    nested = interpret.randomized_copy(model_kinds["nested_transfer"], 1, layers=["block1_conv1"])
    assert interpret.saliency(nested, np.zeros((1, 16, 16, 1), np.float32)).shape == (1, 16, 16)
    unbuilt = keras.Sequential([layers.Dense(2)])
    with pytest.raises(ValueError, match="no weights yet"):
        interpret.randomized_copy(unbuilt)
    seq = interpret.randomized_copy(model_kinds["sequential_no_input"], 0)
    assert seq(np.zeros((1, 16, 16, 1), np.float32)).shape == (1, 3)


def test_randomization_test_passes_a_map_that_depends_on_the_weights_and_flags_one_that_does_not(trained, monkeypatch):
    model, x, _ = trained

    def input_echo(model, x, class_index=None):  # "explains" with the image itself: blind to the weights
        return x[..., 0] + 0.01 * np.arange(x.shape[2])

    monkeypatch.setattr(interpret, "METHODS", (*interpret.METHODS, "echo"))
    monkeypatch.setitem(interpret._FUNCTIONS, "echo", input_echo)
    table = interpret.randomization_test(model, x, methods=("saliency", "echo"), seed=3)
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == ["method", "rank_correlation", "spread", "min", "max", "passes"]
    row = table.set_index("method")
    assert row.loc["saliency", "rank_correlation"] < 0.5 and row.loc["saliency", "passes"]
    assert row.loc["echo", "rank_correlation"] == pytest.approx(1.0) and not row.loc["echo", "passes"]
    assert table.attrs["per_image"]["saliency"].shape == (len(x),)
    strict = interpret.randomization_test(model, x, methods=("saliency",), seed=3, bound=-0.5)
    assert not strict["passes"].iloc[0]
    with pytest.raises(ValueError, match="methods must be one of"):
        interpret.randomization_test(model, x, methods=("lime",))
    with pytest.raises(ValueError, match="options must map method names"):
        interpret.randomization_test(model, x, methods=("saliency",), options={"lime": {}})


def test_randomization_test_runs_every_method_with_options(trained):
    model, x, y = trained
    table = interpret.randomization_test(model, x, class_index=y, options={"occlusion": {"patch": 2, "stride": 1}})
    assert list(table["method"]) == list(interpret.METHODS)
    assert table["passes"].tolist() == (table["rank_correlation"] < interpret.SANITY_BOUND).tolist()


def test_cascading_randomization_goes_top_down_and_ends_fully_random(trained):
    model, x, _ = trained
    table = interpret.cascading_randomization(model, x, "saliency", seed=3)
    assert table["randomized_down_to"].tolist() == ["predictions", "block1_conv1"]
    assert table["layers_randomized"].tolist() == [1, 2]
    full = interpret.randomization_test(model, x, methods=("saliency",), seed=3)
    assert table["rank_correlation"].iloc[-1] == pytest.approx(full["rank_correlation"].iloc[0])


def test_compiled_plans_follow_new_weights_and_do_not_keep_models_alive(x16):
    import gc

    config.seed_everything(0)
    model = models.simple_cnn((16, 16, 1), 3, filters=(4, 8), dense_units=8, name="cached_cnn")
    before = interpret.saliency(model, x16)
    other = interpret.randomized_copy(model, 5)
    model.set_weights(other.get_weights())  # as if trained further after the first map
    after = interpret.saliency(model, x16)
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, interpret.saliency(other, x16), rtol=1e-5)
    cached = len(interpret._SCORERS)
    del model, other
    gc.collect()
    assert len(interpret._SCORERS) <= cached - 2
