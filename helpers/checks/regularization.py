"""Checks for ``05_regularization``: the L1/L2 penalty, the fraction of near-zero weights, and
inverted dropout."""

from __future__ import annotations

import numpy as np

from helpers.checks._core import Hint, exercise, require, require_array, require_callable

__all__ = ["weight_penalty", "near_zero_weight_fraction", "inverted_dropout"]


def _number(value, what: str) -> float:
    if value is None or value is Ellipsis:
        raise Hint(f"{what} is {value!r}. Did you forget to `return` it, or leave the `...` in place?")
    arr = np.asarray(value)
    if arr.ndim > 0 and arr.size > 1:
        raise Hint(f"{what} returned an array of shape {arr.shape}; sum everything into one number.")
    try:
        return float(arr)
    except (TypeError, ValueError) as exc:
        raise Hint(f"{what} must return a number. Received {type(value).__name__}.") from exc


def _weight_penalty_reference():
    """The course's ``weight_penalty``: ``regularization.l1_l2_penalty(w, l1, l2)``."""
    from helpers import regularization

    return regularization.l1_l2_penalty


@exercise("Exercise: the L1/L2 penalty Keras adds to the loss", reference=_weight_penalty_reference)
def weight_penalty(fn) -> str:
    """``fn(w, l1, l2)`` returns ``l1 * sum(|w|) + l2 * sum(w**2)`` for a weight array ``w``."""
    require_callable(fn, "weight_penalty")
    rng = np.random.default_rng(5)
    cases = [
        (rng.normal(0, 0.1, (3, 3, 1, 4)), 1e-3, 0.0),
        (rng.normal(0, 0.1, (20, 10)), 0.0, 1e-2),
        (rng.normal(0, 0.5, (4, 5)), 0.3, 0.2),
        (rng.normal(0, 2.0, (7,)), 0.05, 0.7),
    ]
    for w, l1, l2 in cases:
        what = f"weight_penalty(w of shape {w.shape}, l1={l1}, l2={l2})"
        got = _number(fn(w.copy(), l1, l2), what)
        expected = l1 * np.abs(w).sum() + l2 * np.square(w).sum()
        if np.isclose(got, expected, rtol=1e-6, atol=1e-12):
            continue

        def near(value, got=got):
            return np.isclose(got, value, rtol=1e-6, atol=1e-12)

        if l1 and near(l1 * w.sum() + l2 * np.square(w).sum()):
            raise Hint(
                "The L1 term sums the weights' absolute values |w|: negative weights are penalized too (np.abs)."
            )
        if l2 and near(l1 * np.abs(w).sum() + l2 * np.sqrt(np.square(w).sum())):
            raise Hint("The L2 term is the sum of squares, not the Euclidean norm: no square root.")
        if l2 and near(l1 * np.abs(w).sum() + 0.5 * l2 * np.square(w).sum()):
            raise Hint("Keras's L2 has no 1/2 factor: the term is l2 * sum(w**2).")
        if near(l1 * np.abs(w).mean() + l2 * np.square(w).mean()):
            raise Hint("Keras sums over the weights; you averaged. A bigger layer pays a bigger penalty.")
        if near(l2 * np.abs(w).sum() + l1 * np.square(w).sum()):
            raise Hint("You swapped the two strengths: l1 multiplies sum(|w|), l2 multiplies sum(w**2).")
        raise Hint(
            f"{what} returned {got:.6g}; expected {expected:.6g}. The penalty is "
            "l1 * sum(|w|) + l2 * sum(w**2) over every weight."
        )
    return "Your penalty matches the formula on four arrays; next it must match what Keras adds to the loss."


def _near_zero_weight_fraction_reference():
    """The course's ``near_zero_fraction``: ``regularization.near_zero_fraction(w, threshold)``."""
    from helpers import regularization

    return regularization.near_zero_fraction


@exercise("Exercise: the fraction of near-zero weights", reference=_near_zero_weight_fraction_reference)
def near_zero_weight_fraction(fn) -> str:
    """``fn(w, threshold)`` returns the fraction of entries of ``w`` with ``|w| < threshold``."""
    require_callable(fn, "near_zero_fraction")
    rng = np.random.default_rng(7)
    dense = rng.normal(0, 0.05, (40, 30))
    sparse = np.where(
        rng.random((6, 6, 2, 8)) < 0.6, rng.normal(0, 2e-4, (6, 6, 2, 8)), rng.normal(0, 0.05, (6, 6, 2, 8))
    )
    cases = [
        (np.array([-0.5, -5e-4, 0.0, 2e-4, 0.3, -0.02, 0.01, 8e-4]), 1e-3),
        (dense, 1e-3),
        (sparse, 1e-3),
        (dense, 0.05),
    ]
    for w, threshold in cases:
        what = f"near_zero_fraction(w of shape {w.shape}, threshold={threshold})"
        got = _number(fn(w.copy(), threshold), what)
        expected = float(np.mean(np.abs(w) < threshold))
        if np.isclose(got, expected, atol=1e-9):
            continue
        if np.isclose(got, np.sum(np.abs(w) < threshold)) and w.size > 1:
            raise Hint(
                f"{what} returned {got:g}, a count. Divide by the number of weights ({w.size}) "
                "for a fraction between 0 and 1."
            )
        if np.isclose(got, 100 * expected):
            raise Hint("Return a fraction between 0 and 1, not a percentage.")
        if np.isclose(got, np.mean(w < threshold)):
            raise Hint("Negative weights count too: compare the absolute value |w| (np.abs) with the threshold.")
        if np.isclose(got, np.mean(w == 0)):
            raise Hint("Exact zeros are rare in floating point; count every weight with |w| < threshold.")
        if np.isclose(got, np.mean(np.abs(w) > threshold)) or np.isclose(got, np.mean(np.abs(w) >= threshold)):
            raise Hint("You counted the large weights; count those *below* the threshold.")
        raise Hint(f"{what} returned {got:.4f}; expected {expected:.4f}: the mean of |w| < threshold.")
    return "Your measure works on 1-D and 4-D arrays and any threshold."


def _inverted_dropout(x, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Zero each entry of ``x`` with probability ``rate``, divide the others by ``1 - rate``."""
    keep = rng.random(np.shape(x)) >= rate
    return np.where(keep, np.asarray(x) / (1 - rate), 0.0)


def _inverted_dropout_reference():
    """The course's ``inverted_dropout``, for the cells after the exercise while yours does not pass."""
    return _inverted_dropout


@exercise("Exercise: inverted dropout", reference=_inverted_dropout_reference)
def inverted_dropout(fn) -> str:
    """``fn(x, rate, rng)`` zeroes each entry with probability ``rate`` and scales the rest by ``1/(1-rate)``."""
    require_callable(fn, "inverted_dropout")
    x = np.random.default_rng(11).uniform(0.5, 1.5, (200, 100))
    for rate in (0.2, 0.5, 0.75):
        what = f"inverted_dropout(x, rate={rate}, rng)"
        out = require_array(fn(x.copy(), rate, np.random.default_rng(3)), what=what)
        require(out.shape == x.shape, f"{what} has shape {out.shape}; it must keep the input's shape {x.shape}.")
        dropped = np.isclose(out, 0.0)
        frac = float(dropped.mean())
        kept = ~dropped
        if abs(frac - (1 - rate)) < 0.03 and abs(rate - 0.5) > 0.1:
            raise Hint(
                f"With rate={rate} you dropped {frac:.0%} of the entries: `rate` is the fraction "
                f"*dropped*, so keep each entry with probability 1 - rate = {1 - rate:g}."
            )
        require(
            abs(frac - rate) < 0.03,
            f"With rate={rate} you zeroed {frac:.0%} of the entries; about {rate:.0%} should be zero. "
            "Draw one uniform number per entry (rng.random(x.shape)) and drop where it is below rate.",
        )
        ratio = out[kept] / x[kept]
        if np.allclose(ratio, 1.0):
            raise Hint(
                f"The kept entries are unchanged, so the mean activation shrinks to {1 - rate:g} of "
                "its value in training but not at inference. Divide the kept entries by (1 - rate)."
            )
        if np.allclose(ratio, 1 - rate):
            raise Hint("Divide the kept entries by (1 - rate); multiplying shrinks them further.")
        require(
            np.allclose(ratio, 1 / (1 - rate)),
            f"Kept entries should be x / (1 - rate) = x * {1 / (1 - rate):.3g}; yours are x * "
            f"{np.median(ratio):.3g} (median).",
        )
    same = require_array(fn(x.copy(), 0.0, np.random.default_rng(3)), what="inverted_dropout(x, rate=0.0, rng)")
    require(np.allclose(same, x), "With rate=0.0 nothing should be dropped or scaled: the output must equal x.")
    return (
        "Right: zero a `rate` fraction, scale the rest by 1/(1 - rate), so the expected activation "
        "is the same in training and at inference."
    )
