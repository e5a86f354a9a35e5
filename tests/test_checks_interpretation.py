"""The attribution-map self-checks pass on correct answers and explain the typical mistakes."""

import numpy as np
import pandas as pd
import pytest

from helpers import checks, config, interpret, models
from helpers.checks import _core, interpretation


def stub(*args):
    raise NotImplementedError


# ---------------------------------------------------------------- occlusion by hand


def _positions(image, patch, stride, end=None):
    h, w = image.shape[:2]
    last = (h - patch + 1) if end is None else end
    return range(0, last, stride), range(0, w - patch + 1 if end is None else end, stride)


def solution(model, image, label, patch, stride, fill):
    """The exercise's solution, as a learner writes it (model.predict, one position at a time)."""
    rows, cols = _positions(image, patch, stride)
    p = model.predict(image[None], verbose=0)[0, label]
    out = np.zeros((len(rows), len(cols)))
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            occluded = image.copy()
            occluded[r : r + patch, c : c + patch] = fill
            out[i, j] = p - model.predict(occluded[None], verbose=0)[0, label]
    return out


def learner(mistake=None):
    """The solution with one typical mistake, all positions predicted in one batch (fast)."""

    def fn(model, image, label, patch, stride, fill):
        rows, cols = _positions(image, patch, stride, end=image.shape[0] if mistake == "grid" else None)
        probs = np.asarray(model(image[None]))[0]
        cls = int(np.argmax(probs)) if mistake == "predicted" else label
        batch, current = [], image.copy()
        for r in rows:
            for c in cols:
                occluded = current if mistake == "accumulate" else image.copy()
                if mistake == "centred":
                    r0, c0 = r - patch // 2, c - patch // 2
                    occluded[max(r0, 0) : r0 + patch, max(c0, 0) : c0 + patch] = fill
                else:
                    occluded[r : r + patch, c : c + patch] = 0.0 if mistake == "black" else fill
                batch.append(occluded.copy())
        occluded_p = np.asarray(model(np.stack(batch)))[:, cls].reshape(len(rows), len(cols))
        drops = {"probability": occluded_p, "sign": occluded_p - probs[cls]}.get(mistake, probs[cls] - occluded_p)
        if mistake == "transposed":
            return drops.T
        if mistake == "batch_axis":
            return drops[None]
        return drops

    return fn


def per_pixel(model, image, label, patch, stride, fill):
    return interpret.occlusion(model, image[None], [label], patch=patch, stride=stride, fill=fill)[0]


def test_occlusion_check_passes_on_a_correct_answer():
    assert checks.occlusion_by_hand(learner())


@pytest.mark.slow
def test_occlusion_check_passes_on_the_solution_with_model_predict():
    assert checks.occlusion_by_hand(solution)  # ~80 model.predict calls


def test_the_check_model_gets_its_image_wrong_and_the_reference_matches_the_loop():
    model, image = interpretation._check_model(), interpretation._check_image()
    probs = np.asarray(model(image[None]))[0]
    label = int(np.argsort(probs)[-2])
    assert int(np.argmax(probs)) != label  # "predicted instead of true class" shows
    for patch, stride, fill in interpretation._CASES:
        assert (image.shape[0] - patch) % stride == 0  # the stub's grid and the helper's agree
        reference = interpret.occlusion(
            model, image[None], [label], patch=patch, stride=stride, fill=fill, per_pixel=False
        )
        loop = interpretation._by_hand(model, image, label, patch, stride, fill)
        np.testing.assert_allclose(reference[0], loop, atol=1e-6)
        assert np.abs(loop).max() > 0.04  # drops large enough to tell the mistakes apart


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (stub, "Not started yet"),
        (lambda *a: None, "forget to `return`"),
        ("occlusion_map", "Pass your function"),
        (learner("probability"), "probability of the occluded image"),
        (learner("sign"), "wrong sign"),
        (learner("predicted"), "predicted class"),
        (learner("accumulate"), "patches accumulate"),
        (learner("centred"), "centred"),
        (learner("black"), "not `fill`"),
        (learner("transposed"), "Rows and columns are swapped"),
        (learner("grid"), "The patch must fit inside the image"),
        (learner("batch_axis"), "drop the batch axis"),
        (per_pixel, "one value per pixel"),
        (lambda m, img, label, p, s, f: learner()(m, img, label, p, s, f) + 0.01, "differs from the reference"),
        (lambda m, img, label, p, s, f: np.full((5, 5), np.nan) if p == 4 else None, "NaN"),
        (lambda *a: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_occlusion_check_explains_mistakes(answer, hint):
    result = checks.occlusion_by_hand(answer)
    assert not result and hint in result.message, result.message


# ---------------------------------------------------------------- predict, then run


def _table(value, method="saliency"):
    table = pd.DataFrame([{"method": method, "rank_correlation": value, "passes": value < 0.5}])
    table.attrs["bound"] = 0.5
    return table


@pytest.mark.parametrize(
    ("prediction", "measured", "words"),
    [
        ("different", 0.12, "passes this sanity check"),
        (" Similar ", 0.9, "fails the sanity check"),
        ("similar", 0.62, "partly alike"),
        ((0.3, 0.6), 0.4, "mostly different"),
        ((0.0, 0.3), 0.12, "holds it"),
        ((0.6, 1.0), _table(0.8), "holds it"),
        ("different", np.array([0.1, 0.2, 0.3]), "0.20"),
        ("different", 0.53, "close call"),
        ("similar", 0.47, "close call"),
    ],
)
def test_prediction_check_passes_and_explains(prediction, measured, words):
    result = checks.randomized_saliency_prediction(prediction, measured)
    assert result and words in result.message, result.message


@pytest.mark.parametrize(
    ("prediction", "measured", "hint"),
    [
        (..., 0.1, "Not started yet"),
        ("similar", 0.1, "but the maps are different"),
        ("different", _table(0.95), "fails the sanity check"),
        ((0.5, 0.9), 0.12, "below your range"),
        ((0.0, 0.2), 0.7, "above your range"),
        ((0.0, 0.3), 0.53, "partly alike"),
        ((-1.0, 1.0), 0.2, "is 2 wide; commit to one at most 0.6 wide"),
        ((0.3, 0.1), 0.2, "reversed"),
        ("maybe", 0.2, "Predict 'similar' or 'different'"),
        (0.3, 0.2, "or a range"),
        ("similar", _table(0.2, method="grad_cam"), "no 'saliency' row"),
        ("similar", None, "Pass the measurement"),
    ],
)
def test_prediction_check_says_what_went_wrong(prediction, measured, hint):
    result = checks.randomized_saliency_prediction(prediction, measured)
    assert not result and hint in result.message, result.message


def test_prediction_check_reads_a_real_randomization_table():
    config.seed_everything(0)
    model = models.simple_cnn((8, 8, 1), 3, filters=(4,), dense_units=0)
    x = np.random.default_rng(0).uniform(size=(3, 8, 8, 1)).astype(np.float32)
    table = interpret.randomization_test(model, x, methods=("saliency", "grad_cam"))
    value = table.set_index("method").loc["grad_cam", "rank_correlation"]
    verdict = "similar" if value >= interpret.SANITY_BOUND else "different"
    result = checks.randomized_saliency_prediction(verdict, table, method="grad_cam")
    assert result and f"{value:.2f}" in result.message


# ---------------------------------------------------------------- reference answers, for the cells after an exercise


def nb_occlusion_map(model, image, label, patch, stride, fill):
    """How much hiding each region of ``image`` lowers the model's probability of class ``label``.

    Slide a ``patch`` x ``patch`` square of value ``fill`` over ``image`` (shape (H, W, C)): its
    top-left corner goes to rows ``range(0, H - patch + 1, stride)`` and the same columns. Return
    an array of shape (rows, cols) where ``out[i, j]`` is
    ``p(label | image) - p(label | image with the patch at (i * stride, j * stride))``,
    ``p`` the model's softmax output (``model.predict(batch, verbose=0)``). Put the pixels back
    before the next position: one patch at a time.
    """
    # YOUR CODE HERE
    raise NotImplementedError


def test_the_occlusion_stub_is_not_started_and_the_reference_stands_in(fresh_kernel):
    assert checks.occlusion_by_hand(nb_occlusion_map).status == "not started"
    reference = _core.answer("occlusion_by_hand", nb_occlusion_map)
    assert reference is not nb_occlusion_map and checks.occlusion_by_hand(reference)


def test_the_occlusion_reference_keeps_the_exercise_grid_where_the_stride_does_not_tile():
    model, image = interpretation._check_model(), interpretation._check_image()
    reference = interpretation._occlusion_by_hand_reference()
    patch, stride, fill = 5, 3, 0.3  # positions 0, 3, 6: interpret.occlusion adds 7, flush with the edge
    helper = interpret.occlusion(model, image[None], [1], patch=patch, stride=stride, fill=fill, per_pixel=False)[0]
    got = reference(model, image, 1, patch, stride, fill)
    assert helper.shape == (4, 4) and got.shape == (3, 3)
    np.testing.assert_allclose(got, interpretation._by_hand(model, image, 1, patch, stride, fill), atol=1e-6)
    with pytest.raises(ValueError, match="one image of shape"):
        reference(model, image[None], 1, patch, stride, fill)


def test_the_untouched_prediction_is_not_started():
    assert checks.randomized_saliency_prediction(..., _table(0.8), method="saliency").status == "not started"


def test_the_occlusion_reference_works_on_colour_images(seeded):
    model = models.simple_cnn((10, 10, 3), 5, filters=(4,), dense_units=0)
    image = np.random.default_rng(1).uniform(size=(10, 10, 3)).astype(np.float32)
    got = interpretation._occlusion_map(model, image, 4, 4, 3, 0.5)  # positions 0 and 3, then 6: (3, 3)
    assert got.shape == (3, 3)
    np.testing.assert_allclose(got, interpretation._by_hand(model, image, 4, 4, 3, 0.5), atol=1e-6)
