"""How sure an accuracy is: its standard error, a confidence interval, and a paired test of two models.

An accuracy measured on ``n`` images is an estimate: with 1,000 test images, a model that is right
97 % of the time scores anywhere from about 96 % to 98 % depending on which 1,000 images were drawn
(one standard error is 0.5 points). A difference between two models smaller than that says nothing.
When both models are scored on the *same* images, the paired question "on the images where they
disagree, is one right more often?" is sharper than comparing two intervals: that is McNemar's test.

Introduced in notebook 01; every notebook that says one model is better uses it.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import stats

from helpers import _validate

__all__ = ["McNemar", "accuracy_interval", "binomial_se", "difference_is_clear", "format_accuracy", "mcnemar"]


def _accuracy(accuracy, n) -> tuple[float, int]:
    return _validate.fraction(accuracy, "accuracy", closed=True), _validate.positive_int(n, "n")


def binomial_se(accuracy: float, n: int) -> float:
    """The standard error ``sqrt(p (1 - p) / n)`` of an accuracy ``p`` measured on ``n`` images."""
    p, n = _accuracy(accuracy, n)
    return math.sqrt(p * (1.0 - p) / n)


def accuracy_interval(accuracy: float, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of an accuracy measured on ``n`` images.

    Wilson's interval, unlike ``p ± 1.96 SE``, stays inside [0, 1] and does not collapse to a point
    at 100 % accuracy, which small validation sets reach.
    """
    p, n = _accuracy(accuracy, n)
    confidence = _validate.open_fraction(confidence, "confidence")
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def format_accuracy(accuracy: float, n: int) -> str:
    """``accuracy`` with one standard error in percentage points, e.g. ``"97.3 % ± 0.5"``."""
    p, n = _accuracy(accuracy, n)
    return f"{100 * p:.1f} % ± {100 * binomial_se(p, n):.1f}"


@dataclasses.dataclass(frozen=True)
class McNemar:
    """The result of :func:`mcnemar`: how two models differ on the same images.

    Attributes:
        a_only: images model A classifies correctly and model B does not.
        b_only: images model B classifies correctly and model A does not.
        n: images compared.
        p_value: two-sided exact binomial test of ``a_only`` against ``b_only``: the chance of a
            split at least this uneven if both models were equally good.
        names: the two models' names, for the sentence ``str()`` gives.
    """

    a_only: int
    b_only: int
    n: int
    p_value: float
    names: tuple[str, str] = ("A", "B")

    @property
    def accuracy_difference(self) -> float:
        """Accuracy of A minus accuracy of B on the compared images."""
        return (self.a_only - self.b_only) / self.n

    def __str__(self) -> str:
        a, b = self.names
        verdict = "a clear difference" if self.p_value < 0.05 else "no clear difference (could be chance)"
        return (
            f"{a} vs {b} on the same {self.n} images: only {a} right on {self.a_only}, only {b} right on "
            f"{self.b_only} (difference {100 * self.accuracy_difference:+.1f} points); "
            f"McNemar p = {self.p_value:.3g}: {verdict} at the 5 % level."
        )


def _labels(values, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim == 2:  # probabilities or one-hot: take the class
        array = array.argmax(axis=-1)
    if array.ndim != 1 or len(array) == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of class labels. Received shape {np.shape(values)}")
    return array


def mcnemar(y_true, pred_a, pred_b, *, names: tuple[str, str] = ("A", "B")) -> McNemar:
    """McNemar's exact test of two classifiers scored on the same images.

    Only the images where exactly one model is right carry information; under "equally good" each
    of them is equally likely to favour either model, so the split is tested against Binomial(k, 1/2).

    Args:
        y_true: the true labels (``n``,).
        pred_a, pred_b: each model's predicted labels (``n``,), or its probabilities (``n``, classes).
        names: how the sentence of ``str(result)`` calls the two models.
    """
    y_true, pred_a, pred_b = (_labels(v, k) for v, k in ((y_true, "y_true"), (pred_a, "pred_a"), (pred_b, "pred_b")))
    if not len(y_true) == len(pred_a) == len(pred_b):
        raise ValueError(
            f"y_true, pred_a and pred_b must describe the same images. Received lengths "
            f"{len(y_true)}, {len(pred_a)} and {len(pred_b)}"
        )
    right_a, right_b = pred_a == y_true, pred_b == y_true
    a_only, b_only = int(np.sum(right_a & ~right_b)), int(np.sum(right_b & ~right_a))
    discordant = a_only + b_only
    p_value = 1.0 if discordant == 0 else float(stats.binomtest(a_only, discordant, 0.5).pvalue)
    return McNemar(a_only=a_only, b_only=b_only, n=len(y_true), p_value=min(1.0, p_value), names=tuple(names))


def difference_is_clear(result: McNemar, alpha: float = 0.05) -> bool:
    """Whether a :func:`mcnemar` result rejects "equally good" at level ``alpha``."""
    if not isinstance(result, McNemar):
        raise TypeError(f"difference_is_clear takes what mcnemar returns. Received: {type(result).__name__}")
    return result.p_value < _validate.open_fraction(alpha, "alpha")
