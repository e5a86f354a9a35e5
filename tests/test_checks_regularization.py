"""The self-checks of 05_regularization pass on correct answers and explain typical mistakes."""

import keras
import numpy as np
import pytest

from helpers import checks


def stub(*args):
    raise NotImplementedError


def ellipsis(*args): ...


# -- weight_penalty ---------------------------------------------------------------------------------


def good_penalty(w, l1, l2):
    return l1 * np.sum(np.abs(w)) + l2 * np.sum(w**2)


def test_weight_penalty_passes_on_a_correct_answer_and_on_keras_itself():
    assert checks.weight_penalty(good_penalty)
    assert checks.weight_penalty(lambda w, l1, l2: float(keras.regularizers.L1L2(l1, l2)(w)))


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (stub, "Not started yet"),
        (ellipsis, "forget to `return`"),
        ("penalty", "Pass your function"),
        (lambda w, l1, l2: l1 * np.sum(w) + l2 * np.sum(w**2), "absolute values"),
        (lambda w, l1, l2: l1 * np.sum(np.abs(w)) + l2 * np.sqrt(np.sum(w**2)), "no square root"),
        (lambda w, l1, l2: l1 * np.sum(np.abs(w)) + 0.5 * l2 * np.sum(w**2), "no 1/2 factor"),
        (lambda w, l1, l2: l1 * np.mean(np.abs(w)) + l2 * np.mean(w**2), "you averaged"),
        (lambda w, l1, l2: l2 * np.sum(np.abs(w)) + l1 * np.sum(w**2), "swapped the two strengths"),
        (lambda w, l1, l2: l1 * np.abs(w) + l2 * w**2, "sum everything into one number"),
        (lambda w, l1, l2: 2 * good_penalty(w, l1, l2), "expected"),
        (lambda w, l1, l2: "0.1", "returned"),
    ],
)
def test_weight_penalty_fails_with_a_hint(answer, hint):
    result = checks.weight_penalty(answer)
    assert not result and hint in result.message


# -- near_zero_weight_fraction ----------------------------------------------------------------------


def good_fraction(w, threshold):
    return np.mean(np.abs(w) < threshold)


def test_near_zero_weight_fraction_passes():
    assert checks.near_zero_weight_fraction(good_fraction)
    assert checks.near_zero_weight_fraction(lambda w, t: float(np.count_nonzero(np.abs(w) < t) / w.size))


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (stub, "Not started yet"),
        (ellipsis, "forget to `return`"),
        (lambda w, t: np.sum(np.abs(w) < t), "a count"),
        (lambda w, t: 100 * np.mean(np.abs(w) < t), "not a percentage"),
        (lambda w, t: np.mean(w < t), "absolute value"),
        (lambda w, t: np.mean(w == 0), "Exact zeros are rare"),
        (lambda w, t: np.mean(np.abs(w) > t), "counted the large weights"),
        (lambda w, t: np.abs(w) < t, "sum everything into one number"),
        (lambda w, t: np.mean(np.abs(w) < t / 2), "expected"),
    ],
)
def test_near_zero_weight_fraction_fails_with_a_hint(answer, hint):
    result = checks.near_zero_weight_fraction(answer)
    assert not result and hint in result.message


# -- inverted_dropout -------------------------------------------------------------------------------


def good_dropout(x, rate, rng):
    keep = rng.random(x.shape) >= rate
    return np.where(keep, x / (1 - rate), 0.0)


def test_inverted_dropout_passes():
    assert checks.inverted_dropout(good_dropout)
    # multiplying by a 0/1 mask is the same thing
    assert checks.inverted_dropout(lambda x, r, rng: x * (rng.random(x.shape) > r) / (1 - r))


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (stub, "Not started yet"),
        (ellipsis, "forget to `return`"),
        (lambda x, r, rng: np.where(rng.random(x.shape) >= r, x, 0.0), "Divide the kept entries by (1 - rate)"),
        (lambda x, r, rng: np.where(rng.random(x.shape) >= r, x * (1 - r), 0.0), "multiplying shrinks"),
        (lambda x, r, rng: np.where(rng.random(x.shape) < r, x / (1 - r), 0.0), "fraction *dropped*"),
        (lambda x, r, rng: x / (1 - r), "should be zero"),
        (lambda x, r, rng: good_dropout(x, r, rng)[:10], "keep the input's shape"),
        (lambda x, r, rng: np.where(rng.random(x.shape) >= r, x / (1 - r) ** 2, 0.0), "Kept entries should be"),
        (lambda x, r, rng: np.where(rng.random(x.shape) >= max(r, 0.2), x / (1 - max(r, 0.2)), 0.0), "rate=0.0"),
    ],
)
def test_inverted_dropout_fails_with_a_hint(answer, hint):
    result = checks.inverted_dropout(answer)
    assert not result and hint in result.message


def test_keras_dropout_is_inverted_dropout():
    """What the check teaches is what Keras does: zeros, survivors scaled by 1/(1 - rate)."""
    x = np.ones((100, 100), np.float32)
    out = np.asarray(keras.layers.Dropout(0.25, seed=1)(x, training=True))
    np.testing.assert_allclose(np.unique(out), [0.0, 1 / 0.75], rtol=1e-6)
    assert abs(np.mean(out == 0) - 0.25) < 0.03
    np.testing.assert_array_equal(np.asarray(keras.layers.Dropout(0.25)(x, training=False)), x)


# Reference answers: what the cells after an exercise use while the learner's answer does not pass.


def penalty_stub(w, l1, l2):
    # YOUR CODE HERE: l1 times the sum of |w|, plus l2 times the sum of w squared.
    ...


def fraction_stub(w, threshold):
    # YOUR CODE HERE
    raise NotImplementedError


def dropout_stub(x, rate, rng):
    # YOUR CODE HERE: draw rng.random(x.shape), keep the entries where it is >= rate.
    ...


@pytest.mark.parametrize(
    ("name", "stub_answer"),
    [
        ("weight_penalty", penalty_stub),
        ("near_zero_weight_fraction", fraction_stub),
        ("inverted_dropout", dropout_stub),
    ],
)
def test_the_reference_passes_and_replaces_the_untouched_stub(assert_reference_replaces_stub, name, stub_answer):
    assert_reference_replaces_stub(name, stub_answer)


def test_the_references_agree_with_keras(fresh_kernel):
    from helpers import regularization

    keras.utils.set_random_seed(0)
    reg = keras.regularizers.L1L2(l1=1e-4, l2=1e-3)
    model = keras.Sequential(
        [keras.Input((6, 6, 3)), keras.layers.Conv2D(4, 3, kernel_regularizer=reg), keras.layers.Flatten()]
        + [keras.layers.Dense(5, kernel_regularizer=reg)]
    )
    penalty = fresh_kernel.answer("weight_penalty", penalty_stub)
    by_hand = sum(penalty(w, 1e-4, 1e-3) for w in regularization.kernel_weights(model).values())
    np.testing.assert_allclose(by_hand, float(sum(model.losses)), rtol=1e-4)
    fraction = fresh_kernel.answer("near_zero_weight_fraction", fraction_stub)
    assert fraction(np.array([1e-4, -1e-4, 0.5, -0.5]), 1e-3) == 0.5
    ones = np.ones((1, 10_000), dtype="float32")
    out = fresh_kernel.answer("inverted_dropout", dropout_stub)(ones, 0.3, np.random.default_rng(0))
    assert abs(np.mean(out == 0) - 0.3) < 0.02 and np.allclose(np.unique(out[out > 0]), 1 / 0.7)
