"""Checks for the attribution-map exercises (``06_monitoring_evaluation``): occlusion by hand, and
predicting what a randomized model's saliency looks like (:mod:`helpers.interpret`).

Exercise stub for :func:`occlusion_by_hand` (copy it into the notebook as it is)::

    def occlusion_map(model, image, label, patch, stride, fill):
        \"\"\"How much hiding each region of ``image`` lowers the model's probability of class ``label``.

        Slide a ``patch`` x ``patch`` square of value ``fill`` over ``image`` (shape (H, W, C)): its
        top-left corner goes to rows ``range(0, H - patch + 1, stride)`` and the same columns. Return
        an array of shape (rows, cols) where ``out[i, j]`` is
        ``p(label | image) - p(label | image with the patch at (i * stride, j * stride))``,
        ``p`` the model's softmax output (``model.predict(batch, verbose=0)``). Put the pixels back
        before the next position: one patch at a time.
        \"\"\"
        ...  # your code here

    checks.occlusion_by_hand(occlusion_map)

The convention is the coarse grid of :func:`helpers.interpret.occlusion` with ``per_pixel=False``
(one value per patch position); the check uses sizes where the stride divides ``H - patch``, so
the grids agree exactly. Compare yours with the helper's afterwards:
``interpret.occlusion(model, image[None], [label], patch=4, stride=2, fill=fill, per_pixel=False)[0]``.

Exercise for :func:`randomized_saliency_prediction` (predict, then run)::

    # Before running the next cell: will the saliency map of a model with *random* weights look like
    # the trained model's? Commit to "similar" or "different", or a range for the rank correlation
    # between the two maps, e.g. (0.0, 0.3).
    my_prediction = ...
    table = interpret.randomization_test(model, x_val[:16], methods=("saliency",))
    checks.randomized_saliency_prediction(my_prediction, table)
"""

from __future__ import annotations

import numpy as np

from helpers import _validate
from helpers.checks._core import Hint, exercise, predicted_range, require, require_array, require_callable

__all__ = ["occlusion_by_hand", "randomized_saliency_prediction"]

_ATOL = 1e-4  # the learner's probabilities come from model.predict, the reference's from the same weights
# (patch, stride, fill) per case: the stride divides H - patch, fill is not 0 (so ignoring it shows)
_CASES = ((4, 2, 0.2), (3, 3, 0.5))
_SIZE = 12


def _check_model():
    """A small fixed CNN (12x12 grayscale, 3 classes) with weights drawn from a fixed generator:
    the same model on every machine, no training needed."""
    import keras
    from keras import layers

    inputs = keras.Input((_SIZE, _SIZE, 1), name="image")
    h = layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    h = layers.MaxPooling2D(2, name="pool")(h)
    h = layers.Flatten(name="flatten")(h)
    outputs = layers.Dense(3, activation="softmax", name="predictions")(h)
    model = keras.Model(inputs, outputs, name="occlusion_check")
    rng = np.random.default_rng(2018)
    scales = (0.6, 0.05, 0.35, 0.0)  # conv kernel, conv bias, dense kernel, dense bias
    model.set_weights([(rng.normal(size=w.shape) * s).astype(np.float32) for w, s in zip(model.get_weights(), scales)])
    return model


def _check_image() -> np.ndarray:
    """A "7": a bar across the top and a diagonal stroke, bright on black."""
    img = np.zeros((_SIZE, _SIZE, 1), dtype=np.float32)
    img[2:4, 2:10] = 1.0
    for r in range(4, 11):
        c = 9 - (r - 4) // 2
        img[r, c - 1 : c + 1] = 0.9
    return img


def _probabilities(model, batch: np.ndarray) -> np.ndarray:
    return np.asarray(model(batch, training=False), dtype=np.float64)


def _by_hand(model, image, label, patch, stride, fill, *, accumulate=False, centred=None, logits=False):
    """The loop the exercise asks for, with one mistake switched on (to recognize it): patches that
    accumulate, a patch centred on the position (``"clip"``: cut at the image's edge; ``"wrap"``: a
    negative slice start, which Python turns into an empty slice), or the logit instead of ``p``."""
    from helpers import interpret

    h, w = image.shape[:2]
    rows, cols = range(0, h - patch + 1, stride), range(0, w - patch + 1, stride)

    def score(batch):
        return interpret.class_scores(model, batch) if logits else _probabilities(model, batch)

    base = score(image[None])[0, label]
    current = image.copy()
    out = np.zeros((len(rows), len(cols)))
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            occluded = current if accumulate else image.copy()
            if centred is None:
                occluded[r : r + patch, c : c + patch] = fill
            else:  # the patch centred on (r, c): clipped at the top/left edge, or (slicing) lost there
                r0, c0 = r - patch // 2, c - patch // 2
                if centred == "clip":
                    occluded[max(r0, 0) : r0 + patch, max(c0, 0) : c0 + patch] = fill
                else:
                    occluded[r0 : r0 + patch, c0 : c0 + patch] = fill
            out[i, j] = base - score(occluded[None])[0, label]
    return out


def _close(a, b) -> bool:
    return a.shape == b.shape and np.allclose(a, b, atol=_ATOL)


def _diagnose_shape(got: np.ndarray, expected_shape: tuple, patch: int, stride: int) -> None:
    size = _SIZE
    rows = expected_shape[0]
    if got.shape == (size, size) or got.shape[:2] == (size, size):
        raise Hint(
            f"Your map has shape {got.shape}, one value per pixel. Return one value per patch position: "
            f"shape {expected_shape} for patch={patch}, stride={stride}."
        )
    if got.ndim == 3 and got.shape[0] == 1:
        raise Hint(f"Your map has shape {got.shape}: drop the batch axis (e.g. out[0]) to return {expected_shape}.")
    if got.ndim == 2 and got.shape[0] == got.shape[1]:
        n = got.shape[0]
        if n in (size // stride, (size - patch) // stride, rows + 1, size - patch + 1):
            raise Hint(
                f"Your grid is {n}x{n}; expected {rows}x{rows} for a {size}x{size} image, patch={patch}, "
                f"stride={stride}. The patch must fit inside the image: its top-left corner goes to "
                f"range(0, H - patch + 1, stride) = {list(range(0, size - patch + 1, stride))}."
            )
    raise Hint(f"Your map has shape {got.shape}; expected {expected_shape} (rows, cols) of patch positions.")


def _diagnose_values(model, image, label, predicted, patch, stride, fill, got, expected) -> None:
    where = f"(patch={patch}, stride={stride}, fill={fill})"
    p = _probabilities(model, image[None])[0, label]
    if _close(got, -expected):
        raise Hint(
            f"Your drops have the wrong sign {where}. The drop is p(original) - p(occluded): positive where "
            "hiding the region hurts the class."
        )
    if _close(got, p - expected):
        raise Hint(
            f"You returned the probability of the occluded image {where}, not the drop. Subtract it from the "
            "probability of the untouched image: out[i, j] = p(original) - p(occluded)."
        )
    if _close(got, _by_hand(model, image, predicted, patch, stride, fill)):
        raise Hint(
            f"You explained the predicted class ({predicted}) instead of `label` ({label}) {where}. The model "
            "gets this image wrong on purpose: read the probability of the true class, p[label]."
        )
    if _close(got, _by_hand(model, image, label, patch, stride, fill, accumulate=True)):
        raise Hint(
            f"Your patches accumulate {where}: each occluded image still carries the earlier patches. Start "
            "every position from a fresh copy of the image (image.copy()), so only one patch is hidden at a time."
        )
    if any(_close(got, _by_hand(model, image, label, patch, stride, fill, centred=how)) for how in ("clip", "wrap")):
        raise Hint(
            f"Your patch is centred on (i * stride, j * stride) {where}. The convention puts its top-left "
            "corner there: occluded[r:r + patch, c:c + patch] = fill with r = i * stride, c = j * stride."
        )
    if _close(got, _by_hand(model, image, label, patch, stride, fill, logits=True)):
        raise Hint(
            f"You measured the drop in the score before the softmax (the logit) {where}. Use the "
            "probabilities the model outputs: model.predict(batch, verbose=0)[0, label]."
        )
    if fill != 0 and _close(got, _by_hand(model, image, label, patch, stride, 0.0)):
        raise Hint(f"Your patch is black (0), not `fill` {where}: set the occluded pixels to the `fill` argument.")
    if _close(got, expected.T):
        raise Hint(
            f"Rows and columns are swapped {where}: out[i, j] is the patch at row i * stride, column j * stride."
        )
    worst = np.unravel_index(np.argmax(np.abs(got - expected)), expected.shape)
    raise Hint(
        f"Your map differs from the reference {where}: at position {tuple(int(k) for k in worst)} you have "
        f"{got[worst]:.4f}, expected {expected[worst]:.4f}. Check the patch's place, its value and the class you read."
    )


def _occlusion_map(model, image, label, patch, stride, fill) -> np.ndarray:
    """The course's ``occlusion_map``: :func:`helpers.interpret.occlusion`'s coarse grid (``per_pixel=False``)
    at exactly the exercise's positions, ``range(0, H - patch + 1, stride)`` (the helper adds a row and a
    column flush with the far edge where the stride does not reach it: they are cut off)."""
    from helpers import interpret

    image = np.asarray(image)
    if image.ndim != 3:
        raise ValueError(f"image must be one image of shape (H, W, C). Received shape={image.shape}")
    h, w = image.shape[:2]
    rows, cols = len(range(0, h - patch + 1, stride)), len(range(0, w - patch + 1, stride))
    grid = interpret.occlusion(model, image[None], [label], patch=patch, stride=stride, fill=fill, per_pixel=False)
    return grid[0, :rows, :cols]


def _occlusion_by_hand_reference():
    """The course's ``occlusion_map(model, image, label, patch, stride, fill)``, for the cells after the exercise."""
    return _occlusion_map


@exercise("Exercise: occlusion sensitivity by hand", reference=_occlusion_by_hand_reference)
def occlusion_by_hand(fn) -> str:
    """``fn(model, image, label, patch, stride, fill)`` returns the grid of drops in ``p[label]``.

    The check builds a small fixed CNN and a 12x12 image of a "7" that the CNN gets wrong (so the
    true and the predicted class differ), and compares ``fn`` with
    :func:`helpers.interpret.occlusion` (``per_pixel=False``) for two patch sizes and strides.
    """
    from helpers import interpret

    require_callable(fn, "occlusion_map")
    model, image = _check_model(), _check_image()
    probs = _probabilities(model, image[None])[0]
    predicted = int(np.argmax(probs))
    label = int(np.argsort(probs)[-2])  # the runner-up: the model is wrong about this image
    for patch, stride, fill in _CASES:
        expected = interpret.occlusion(
            model, image[None], [label], patch=patch, stride=stride, fill=fill, per_pixel=False
        )[0]
        result = fn(model, image.copy(), label, patch, stride, fill)
        got = require_array(result, what="Your occlusion map")
        if got.shape != expected.shape:
            _diagnose_shape(got, expected.shape, patch, stride)
        require(np.all(np.isfinite(got)), "Your map holds NaN or infinite values.")
        if not _close(got, expected):
            _diagnose_values(model, image, label, predicted, patch, stride, fill, got, expected)
    return (
        "Your occlusion map matches interpret.occlusion for two patch sizes. The largest drops mark the regions "
        "the model needs for that class; interpret.occlusion does the same with every patch in one batch."
    )


# ---------------------------------------------------------------- predict, then run: randomized saliency

_VERDICTS = ("similar", "different")
_MAX_WIDTH = 0.6  # a range wider than this commits to nothing
_BORDERLINE = 0.05  # a measurement this close to the line between "similar" and "different" supports both


def _measured_value(measured, method: str) -> tuple[float, float]:
    """``(rank correlation, bound)`` from a number, per-image values or a ``randomization_test`` table."""
    from helpers.interpret import SANITY_BOUND

    if hasattr(measured, "columns"):
        require(
            "method" in measured.columns and method in set(measured["method"]),
            f"The table has no {method!r} row. Run interpret.randomization_test(model, x, methods=({method!r},)).",
        )
        value = float(measured.loc[measured["method"] == method, "rank_correlation"].iloc[0])
        return value, float(measured.attrs.get("bound", SANITY_BOUND))
    if measured is None or measured is Ellipsis:
        raise Hint("Pass the measurement too: the table from interpret.randomization_test (or its correlation).")
    arr = np.asarray(measured, dtype=np.float64)
    require(arr.size > 0 and np.any(np.isfinite(arr)), f"The measurement must hold numbers. Received {measured!r}.")
    return float(np.nanmean(arr)), SANITY_BOUND


def _meaning(value: float, bound: float) -> str:
    """What a rank correlation between the trained and the randomized model's maps says, in four bands."""
    if value < bound - 0.2:
        return (
            "The trained and the randomized model rank the pixels differently, so the map depends on the learned "
            "weights: it passes this sanity check (Adebayo et al., 2018). It can be explaining the model."
        )
    if value < bound:
        return (
            "The maps are mostly different: the map depends on the learned weights and passes this sanity check "
            "(Adebayo et al., 2018), though some of its ranking survives random weights (the digit's outline)."
        )
    if value < bound + 0.2:
        return (
            "The maps are partly alike: a good part of the ranking survives random weights, so part of the map "
            "comes from the input and the architecture (the digit's outline), not from what the model learned. "
            "It does not pass the test's bound; SmoothGrad or occlusion usually change more."
        )
    return (
        "The maps of the trained and of a randomly initialized model rank the pixels alike, so the map comes "
        "mostly from the input and the architecture (the digit's outline), not from what the model learned: as "
        "an explanation of this model it fails the sanity check (Adebayo et al., 2018). A map that looks "
        "plausible is not evidence that it explains the model."
    )


def _parse_prediction(prediction):
    if prediction is Ellipsis or prediction is None:
        raise NotImplementedError
    if isinstance(prediction, str):
        verdict = prediction.strip().lower()
        require(verdict in _VERDICTS, f"Predict 'similar' or 'different' (or a range). Received {prediction!r}.")
        return verdict
    if isinstance(prediction, (tuple, list)) and len(prediction) == 2 and all(map(_validate.is_number, prediction)):
        return predicted_range(prediction, "Your range of rank correlations", _MAX_WIDTH, bounds=(-1.0, 1.0))
    raise Hint(f"Predict 'similar', 'different', or a range (low, high) of rank correlations. Received {prediction!r}.")


@exercise("Predict, then run: an attribution map of a randomized model")
def randomized_saliency_prediction(prediction, measured, *, method: str = "saliency") -> str:
    """Compare the learner's prediction (``"similar"``/``"different"`` or a range ``(low, high)``)
    with the measured rank correlation between the trained and the randomized model's maps.

    ``measured`` is the table from :func:`helpers.interpret.randomization_test` (its ``method`` row),
    per-image correlations, or one number. "similar" means a correlation of at least the test's
    bound (0.5); within 0.05 of the bound either verdict is accepted, with a note that it is a close
    call. Either way the message says what the measurement means.
    """
    verdict = _parse_prediction(prediction)
    value, bound = _measured_value(measured, method)
    actual = "similar" if value >= bound else "different"
    meaning = _meaning(value, bound)
    measured_text = (
        f"The measured rank correlation of |map| is {value:.2f} (line between similar and different: {bound})."
    )
    if isinstance(verdict, tuple):
        low, high = verdict
        if low <= value <= high:
            return f"Your range ({low}, {high}) holds it. {measured_text} {meaning}"
        side = "above" if value > high else "below"
        raise Hint(
            f"{measured_text} That is {side} your range ({low}, {high}). {meaning} "
            "Keep the surprise in mind: it is the point of the exercise."
        )
    if verdict == actual:
        return f"You predicted {verdict!r}, and so it is. {measured_text} {meaning}"
    if abs(value - bound) <= _BORDERLINE:
        return (
            f"You predicted {verdict!r}; the measurement is a close call. {measured_text} Within {_BORDERLINE} of the "
            "line, rerun with other seeds (interpret.randomization_test(..., seed=...)) before drawing a conclusion."
        )
    raise Hint(
        f"You predicted {verdict!r}, but the maps are {actual}. {measured_text} {meaning} "
        "Keep the surprise in mind: it is the point of the exercise."
    )
