"""helpers.augment: presets, the value-range guard, RandomStrokeWidth (tested the way Keras tests its
own layers: output shape, inference identity, tf.data, config round-trip, bad arguments) and the
tools that inspect an augmenter."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import augment, pipelines


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((6, 28, 28, 1)).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Presets.


@pytest.mark.parametrize("name", ["digits", "clothing", "objects", "mnist5k", "cifar10", "folder:/x"])
def test_preset_keeps_shape_and_is_identity_at_inference(name, images):
    layer = augment.preset(name)
    x = np.repeat(images, 3, axis=-1) if name in ("objects", "cifar10", "folder:/x") else images
    out = np.asarray(layer(x, training=True))
    assert out.shape == x.shape and np.all(np.isfinite(out)) and not np.allclose(out, x)
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)


def test_preset_for_dataset_maps_every_known_dataset():
    assert augment.PRESET_FOR_DATASET["mnist5k"] == "digits"
    assert set(augment.PRESET_FOR_DATASET.values()) <= set(augment.PRESETS)
    assert augment.preset("fashion_mnist").name == "augment_clothing"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "sideways"}, "Unknown augmentation preset 'sideways'"),
        ({"name": "digits", "strength": 0}, r"strength must be in \(0, 3\]. Received: strength=0"),
        ({"name": "digits", "strength": True}, "Received: strength=True"),
    ],
)
def test_preset_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        augment.preset(**kwargs)


def test_digit_preset_never_flips_and_clothing_does():
    assert augment.flip_modes(augment.preset("digits")) == set()
    assert augment.flip_rate(augment.preset("digits")) == {"horizontal": 0.0, "vertical": 0.0}
    assert augment.flip_modes(augment.preset("clothing")) == {"horizontal"}
    rate = augment.flip_rate(augment.preset("clothing"))
    assert 0.3 < rate["horizontal"] < 0.7 and rate["vertical"] == 0.0


def test_preset_stops_raw_pixels_eagerly(images):
    with pytest.raises(ValueError, match=r"raw 0\.\.255 pixels: divide by 255"):
        augment.preset("digits")(images * 255, training=True)


def test_preset_stops_standardized_pixels(images):
    with pytest.raises(ValueError, match="look standardized"):
        augment.preset("digits")(images * 4 - 2, training=True)


def test_preset_stops_raw_pixels_inside_tf_data(images):
    pipeline = pipelines.to_tf_dataset(
        images * 255, np.zeros(len(images), int), batch_size=3, augment=augment.preset("digits")
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="pixel values outside"):
        list(pipeline)


def test_preset_ignores_the_range_at_inference(images):
    x = images * 255
    np.testing.assert_array_equal(np.asarray(augment.preset("digits")(x, training=False)), x)


# ----------------------------------------------------------------------------------------------
# CheckValueRange and value_range_problem.


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.0, 1.0, None),
        (-0.005, 1.005, None),
        (0.0, 255.0, "raw 0..255"),
        (-2.0, 3.0, "standardized"),
        (0.0, 1.8, "Rescale them to [0, 1]"),
    ],
)
def test_value_range_problem(low, high, expected):
    problem = augment.value_range_problem(low, high)
    assert problem is None if expected is None else expected in problem


def test_check_value_range_passes_good_input_through(images):
    layer = augment.CheckValueRange((0, 1))
    np.testing.assert_array_equal(np.asarray(layer(images, training=True)), images)
    assert layer.compute_output_shape((None, 28, 28, 1)) == (None, 28, 28, 1)


def test_check_value_range_accepts_other_ranges(images):
    layer = augment.CheckValueRange((0, 255))
    np.testing.assert_array_equal(np.asarray(layer(images * 255)), images * 255)
    with pytest.raises(ValueError, match=r"expects pixels in \[0, 255\]"):
        layer(images * 255 - 100)


def test_check_value_range_config_round_trip():
    layer = augment.CheckValueRange((0, 255), tolerance=0.1, name="guard")
    clone = augment.CheckValueRange.from_config(layer.get_config())
    assert clone.value_range == (0.0, 255.0) and clone.tolerance == 0.1 and clone.name == "guard"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"value_range": 1}, r"Received: value_range=1"),
        ({"value_range": (1, 0)}, r"lower < upper.*Received: value_range=\(1, 0\)"),
        ({"value_range": (0, float("nan"))}, "Received: value_range"),
        ({"tolerance": -0.1}, r"Received: tolerance=-0.1"),
    ],
)
def test_check_value_range_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        augment.CheckValueRange(**kwargs)


# ----------------------------------------------------------------------------------------------
# RandomStrokeWidth.


def _stroke_image():
    x = np.zeros((1, 12, 12, 1), np.float32)
    x[0, 3:9, 5:7] = 1.0  # a vertical bar two pixels wide
    return x


def test_stroke_width_output_shape_batched_and_unbatched(images):
    layer = augment.RandomStrokeWidth(0.5, seed=1)
    assert layer(images).shape == images.shape
    assert layer(images[0]).shape == images[0].shape
    assert layer.compute_output_shape((None, 28, 28, 1)) == (None, 28, 28, 1)


def test_stroke_width_is_identity_at_inference(images):
    layer = augment.RandomStrokeWidth(0.9, seed=1)
    np.testing.assert_array_equal(np.asarray(layer(images, training=False)), images)


def test_stroke_width_thickens_and_thins():
    x = _stroke_image()
    thick = np.asarray(augment.RandomStrokeWidth((1.0, 1.0))(x))
    thin = np.asarray(augment.RandomStrokeWidth((-1.0, -1.0))(x))
    assert thick.sum() > x.sum() > thin.sum()
    assert thick[0, 4, 4, 0] == 1.0 and thick[0, 4, 3, 0] == 0.0  # one pixel wider on each side
    np.testing.assert_array_equal(thin, np.zeros_like(x))  # a 2-pixel bar erodes away


def test_stroke_width_stays_in_the_input_range(images):
    out = np.asarray(augment.RandomStrokeWidth(1.0, seed=3)(images))
    assert out.min() >= images.min() - 1e-6 and out.max() <= images.max() + 1e-6


def test_stroke_width_is_seeded(images):
    a = np.asarray(augment.RandomStrokeWidth(0.8, seed=5)(images))
    b = np.asarray(augment.RandomStrokeWidth(0.8, seed=5)(images))
    np.testing.assert_array_equal(a, b)


def test_stroke_width_in_tf_data(images):
    layer = augment.RandomStrokeWidth(0.5, seed=1)
    unbatched = tf.data.Dataset.from_tensor_slices(images).map(layer).batch(6)
    assert next(iter(unbatched)).shape == images.shape
    batched = tf.data.Dataset.from_tensor_slices(images).batch(3).map(layer, num_parallel_calls=tf.data.AUTOTUNE)
    assert [tuple(b.shape) for b in batched] == [(3, 28, 28, 1)] * 2


def test_stroke_width_config_round_trip_and_saving(tmp_path, images):
    layer = augment.RandomStrokeWidth((-0.2, 0.6), seed=7, name="pen")
    config = layer.get_config()
    assert config["factor"] == (-0.2, 0.6) and config["seed"] == 7 and config["name"] == "pen"
    clone = augment.RandomStrokeWidth.from_config(config)
    assert clone.factor == layer.factor and clone.seed == 7
    model = keras.Sequential([keras.Input((28, 28, 1)), layer, keras.layers.Flatten(), keras.layers.Dense(2)])
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.layers[0], augment.RandomStrokeWidth)
    np.testing.assert_allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"factor": 1.5}, r"Received: factor=1.5"),
        ({"factor": -0.2}, r"Received: factor=-0.2"),
        ({"factor": (0.5, 0.1)}, r"lower <= upper <= 1. Received: factor=\(0.5, 0.1\)"),
        ({"factor": (0.1, 0.2, 0.3)}, "Received: factor="),
        ({"factor": "thick"}, "Received: factor=thick"),
        ({"factor": 0.5, "seed": 1.5}, r"Received: seed=1.5"),
    ],
)
def test_stroke_width_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        augment.RandomStrokeWidth(**kwargs)


def test_stroke_width_rejects_bad_rank():
    with pytest.raises(ValueError, match="rank 3 or 4"):
        augment.RandomStrokeWidth(0.5)(np.zeros((28, 28), np.float32))


# ----------------------------------------------------------------------------------------------
# Cutout and mixup.


def test_cutout_erases_one_black_square_of_the_stated_area():
    ones = np.ones((64, 28, 28, 1), np.float32)
    erased = np.asarray(augment.cutout(0.1, rate=1.0, seed=3)(ones, training=True))
    assert erased.shape == ones.shape
    black = (erased == 0).reshape(64, -1).sum(axis=1)
    assert np.all((black > 0.06 * 784) & (black < 0.14 * 784)), black  # 0.1 of 784 pixels, a square of ~9x9
    rows, cols = np.nonzero(erased[0, :, :, 0] == 0)
    assert rows.max() - rows.min() == cols.max() - cols.min()  # a square, inside the image
    assert set(np.unique(erased)) <= {0.0, 1.0}  # black, no noise


def test_cutout_rate_is_the_share_of_images_erased():
    ones = np.ones((2000, 8, 8, 1), np.float32)
    erased = np.asarray(augment.cutout(0.25, rate=0.5, seed=1)(ones, training=True))
    share = np.mean((erased == 0).reshape(2000, -1).any(axis=1))
    assert 0.45 < share < 0.55, share  # Keras's factor=0.5 alone would erase about a quarter


def test_cutout_is_identity_at_inference_seeded_and_works_in_tf_data(images):
    np.testing.assert_array_equal(np.asarray(augment.cutout()(images, training=False)), images)
    a = np.asarray(augment.cutout(0.2, rate=1.0, seed=5)(images, training=True))
    b = np.asarray(augment.cutout(0.2, rate=1.0, seed=5)(images, training=True))
    np.testing.assert_array_equal(a, b)
    batched = tf.data.Dataset.from_tensor_slices(images).batch(3).map(augment.cutout(rate=1.0))
    assert [tuple(x.shape) for x in batched] == [(3, 28, 28, 1)] * 2


def test_cutout_config_round_trip():
    layer = augment.cutout(0.2, rate=0.3, seed=9)
    clone = keras.layers.RandomErasing.from_config(layer.get_config())
    assert clone.factor == layer.factor and clone.scale == (0.2, 0.2) and clone.fill_value == 0.0 and clone.seed == 9


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"area": 0}, "area="), ({"area": 1.2}, "area="), ({"rate": -0.1}, "rate="), ({"seed": "x"}, "seed")],
)
def test_cutout_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        augment.cutout(**kwargs)


def _class_images(labels):
    """Images whose every pixel is their class number: a mixed image's pixels say its mixture."""
    return np.broadcast_to(labels[:, None, None, None], (len(labels), 4, 4, 1)).astype(np.float32)


def test_mixup_blends_images_and_labels_with_the_same_weight():
    labels = np.arange(64) % 4
    ds = tf.data.Dataset.from_tensor_slices((_class_images(labels), labels)).batch(16)
    for x, y in augment.mixup(ds, 4, alpha=0.4, seed=2):
        x, y = np.asarray(x), np.asarray(y)
        assert x.shape == (16, 4, 4, 1) and y.shape == (16, 4)
        np.testing.assert_allclose(y.sum(axis=1), 1.0, atol=1e-6)
        assert np.all((y > 1e-6).sum(axis=1) <= 2)  # a mixture of at most two classes
        np.testing.assert_allclose(x[:, 0, 0, 0], y @ np.arange(4), atol=1e-5)  # the image's weight = the label's
    mixed = np.concatenate([np.asarray(y) for _, y in augment.mixup(ds, 4, alpha=0.4, seed=2)])
    assert np.mean(mixed.max(axis=1) < 0.99) > 0.3  # most examples really are mixed


def test_mixup_is_seeded():
    labels = np.arange(32) % 4
    ds = tf.data.Dataset.from_tensor_slices((_class_images(labels), labels)).batch(8)
    a = [np.asarray(y) for _, y in augment.mixup(ds, 4, seed=7)]
    b = [np.asarray(y) for _, y in augment.mixup(ds, 4, seed=7)]
    np.testing.assert_array_equal(np.concatenate(a), np.concatenate(b))


def test_mixup_rejects_what_it_cannot_mix():
    labels = np.arange(8) % 4
    images = _class_images(labels)
    unbatched = tf.data.Dataset.from_tensor_slices((images, labels))
    with pytest.raises(ValueError, match="Call dataset.batch"):
        augment.mixup(unbatched, 4)
    one_hot = tf.data.Dataset.from_tensor_slices((images, np.eye(4)[labels])).batch(4)
    with pytest.raises(ValueError, match=r"labels of shape \(batch,\)"):
        augment.mixup(one_hot, 4)
    batched = unbatched.batch(4)
    with pytest.raises(ValueError, match="num_classes"):
        augment.mixup(batched, 1)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        augment.mixup(batched, 4, alpha=0)


# ----------------------------------------------------------------------------------------------
# Inspecting an augmenter.


def test_layer_settings_lists_every_layer():
    lines = augment.layer_settings(augment.preset("objects"))
    assert lines[0].startswith("CheckValueRange") and len(lines) == 5
    assert any("RandomFlip(mode='horizontal')" == line for line in lines)
    assert augment.layer_settings(keras.layers.RandomRotation(0.1)) == [
        "RandomRotation(factor=(-0.1, 0.1), fill_mode='reflect')"
    ]


def test_layer_settings_of_nested_augmenters_lists_the_leaves_in_order():
    inner = keras.Sequential([keras.layers.RandomFlip("horizontal"), keras.layers.RandomZoom(0.1)], name="inner")
    nested = keras.Sequential([keras.layers.RandomRotation(0.1), inner])
    lines = augment.layer_settings(nested)
    assert [line.split("(")[0] for line in lines] == ["RandomRotation", "RandomFlip", "RandomZoom"]


def test_flip_modes_of_nested_augmenters():
    nested = keras.Sequential([keras.Sequential([keras.layers.RandomFlip("horizontal_and_vertical")])])
    assert augment.flip_modes(nested) == {"horizontal", "vertical"}
    assert augment.flip_modes(keras.layers.RandomFlip("vertical")) == {"vertical"}


@pytest.mark.parametrize("fn", [augment.layer_settings, augment.flip_modes, augment.flip_rate])
def test_inspectors_reject_non_layers(fn):
    with pytest.raises(TypeError, match="Pass a Keras layer"):
        fn(lambda x: x)


def test_variants_shape_and_validation(images):
    out = augment.variants(augment.preset("digits"), images[:2], n=3)
    assert out.shape == (2, 3, 28, 28, 1)
    assert not np.allclose(out[:, 0], out[:, 1])
    with pytest.raises(ValueError, match="Received: n=0"):
        augment.variants(augment.preset("digits"), images, n=0)
    with pytest.raises(ValueError, match="channel axis"):
        augment.variants(augment.preset("digits"), images[..., 0])


def test_flip_rate_measures_flips():
    assert augment.flip_rate(keras.layers.RandomFlip("vertical", seed=1))["horizontal"] == 0.0
    rate = augment.flip_rate(keras.layers.RandomFlip("horizontal_and_vertical", seed=1), n=400)
    assert 0.35 < rate["horizontal"] < 0.65 and 0.35 < rate["vertical"] < 0.65
    assert augment.flip_rate(keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant")) == {
        "horizontal": 0.0,
        "vertical": 0.0,
    }


def test_asymmetric_probe():
    probe = augment.asymmetric_probe((32, 32, 3))
    assert probe.shape == (32, 32, 3) and probe[:16, :16].sum() == probe.sum() > 0
    with pytest.raises(ValueError, match=r"at least 8x8 .*Received: image_shape=\(4, 4, 1\)"):
        augment.asymmetric_probe((4, 4, 1))
    with pytest.raises(ValueError, match=r"twice as long as wide.*Received: image_shape=\(28, 8, 1\)"):
        augment.asymmetric_probe((28, 8, 1))  # a small rotation would carry the ink across the midline
