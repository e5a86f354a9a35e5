"""Measuring a trained model: accuracy on a split, predictions, and (in 06) richer reports and
temperature scaling.

The test split is for the end of a notebook: tune on validation, report test once.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from helpers import _validate
from helpers.data import Dataset, validate_images, validate_labels


def _images_for(model, x) -> np.ndarray:
    """``x`` checked as an image batch of the shape ``model`` takes."""
    x = validate_images(x)
    expected = tuple(model.input_shape[1:])
    if tuple(x.shape[1:]) != expected:
        raise ValueError(f"The model expects images of shape {expected}. Received shape={x.shape[1:]}")
    return x


def predict_classes(model, x: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """The predicted class id of every image (argmax of the model's output)."""
    x = _images_for(model, x)
    return np.argmax(model.predict(x, batch_size=batch_size, verbose=0), axis=1).astype(np.int32)


def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of images whose predicted class equals the label."""
    y = validate_labels(y, n=len(x))
    return float(np.mean(predict_classes(model, x) == y))


def evaluate(model, data: Dataset, split: str = "test") -> float:
    """Accuracy of ``model`` on one split of ``data`` (``"train"``, ``"val"`` or ``"test"``)."""
    splits = data.splits()
    if split not in splits:
        raise ValueError(f"split must be one of {', '.join(splits)}. Received: split={split!r}")
    return accuracy(model, *splits[split])


# ----------------------------------------------------------------------------------------------
# Metrics beyond accuracy (introduced in 06_monitoring_evaluation): per-class report, confusion
# matrix, most-confused pairs, calibration. Rows of a confusion matrix are true classes, columns
# are predictions (as in scikit-learn).


def predict_proba(model, x: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """The model's class probabilities, shape ``(N, num_classes)`` (rows sum to 1 for softmax)."""
    x = _images_for(model, x)
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float64)


def _num_classes(num_classes, *label_arrays) -> int:
    if num_classes is None:
        return int(max(int(a.max()) for a in label_arrays)) + 1
    return _validate.int_at_least(num_classes, "num_classes", 2)


def confusion_matrix(y_true, y_pred, *, num_classes: int | None = None) -> np.ndarray:
    """Counts of (true class, predicted class): ``cm[i, j]`` = images of class i predicted as j.

    The diagonal holds the correct predictions; each row sums to the class's number of images.

    Args:
        num_classes: the matrix size (default: the largest id seen + 1; pass it so a class that
            never appears still gets its row and column).
    """
    y_true = validate_labels(y_true, name="y_true")
    y_pred = validate_labels(y_pred, n=len(y_true), name="y_pred")
    k = _num_classes(num_classes, y_true, y_pred)
    for name, arr in (("y_true", y_true), ("y_pred", y_pred)):
        if arr.max() >= k:
            raise ValueError(f"{name} holds class id {arr.max()} but num_classes={k}.")
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def _check_cm(cm) -> np.ndarray:
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] < 2:
        raise ValueError(f"cm must be a square (num_classes, num_classes) matrix. Received shape={cm.shape}")
    if not np.issubdtype(cm.dtype, np.number) or np.any(cm < 0) or not np.all(np.isfinite(cm)):
        raise ValueError("cm must hold non-negative counts, e.g. from helpers.evaluation.confusion_matrix.")
    return cm


def precision_recall_f1(cm) -> dict[str, np.ndarray]:
    """Per-class precision, recall and F1 from a confusion matrix (0 where undefined).

    * precision of class c: of the images predicted as c, the share that are c (column c);
    * recall of class c: of the images of class c, the share predicted as c (row c);
    * F1: their harmonic mean ``2 P R / (P + R)``, high only when both are.

    A class that is never predicted (or never present) gets 0 instead of a division by zero, as
    scikit-learn's ``zero_division=0``.
    """
    cm = _check_cm(cm).astype(np.float64)
    tp = np.diag(cm)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": actual.astype(np.int64)}


def classification_report(y_true, y_pred, class_names=None, *, num_classes: int | None = None, averages: bool = True):
    """Precision, recall, F1 and support per class as a pandas DataFrame (one row per class).

    With ``averages=True`` (default) two rows follow: ``macro avg`` (every class counts the same)
    and ``weighted avg`` (classes weighted by support). Sort it, e.g.
    ``report.iloc[:-2].sort_values("f1")``, to find the weakest classes.
    """
    import pandas as pd

    if class_names is not None and num_classes is None:
        num_classes = len(class_names)
    cm = confusion_matrix(y_true, y_pred, num_classes=num_classes)
    k = cm.shape[0]
    if class_names is None:
        class_names = [str(i) for i in range(k)]
    if len(class_names) != k:
        raise ValueError(f"class_names has {len(class_names)} names but there are {k} classes.")
    scores = precision_recall_f1(cm)
    report = pd.DataFrame(scores, index=pd.Index([str(c) for c in class_names], name="class"))
    if averages:
        support = scores["support"]
        weights = support / support.sum()
        rows = {
            "macro avg": {m: float(np.mean(scores[m])) for m in ("precision", "recall", "f1")},
            "weighted avg": {m: float(np.sum(scores[m] * weights)) for m in ("precision", "recall", "f1")},
        }
        for name, row in rows.items():
            report.loc[name] = {**row, "support": int(support.sum())}
    report["support"] = report["support"].astype(int)
    return report


def most_confused_pairs(cm, *, k: int = 5, class_names=None):
    """The ``k`` largest off-diagonal cells: which true class is most often taken for which.

    Returns a pandas DataFrame sorted by ``count`` (ties: larger share first) with columns
    ``true`` and ``predicted`` (class ids), ``true_name`` and ``predicted_name``, ``count`` and
    ``share`` (count / images of the true class). Cells with a count of 0 are left out, so a
    perfect model gives an empty frame.
    """
    import pandas as pd

    cm = _check_cm(cm)
    k = _validate.positive_int(k, "k")
    names = [str(c) for c in class_names] if class_names is not None else [str(i) for i in range(len(cm))]
    if len(names) != len(cm):
        raise ValueError(f"class_names has {len(names)} names but cm has {len(cm)} classes.")
    rows_total = cm.sum(axis=1)
    records = [
        {
            "true": i,
            "predicted": j,
            "true_name": names[i],
            "predicted_name": names[j],
            "count": int(cm[i, j]),
            "share": float(cm[i, j] / rows_total[i]),
        }
        for i in range(len(cm))
        for j in range(len(cm))
        if i != j and cm[i, j] > 0
    ]
    columns = ["true", "predicted", "true_name", "predicted_name", "count", "share"]
    frame = pd.DataFrame(records, columns=columns)
    frame = frame.sort_values(["count", "share", "true", "predicted"], ascending=[False, False, True, True])
    return frame.head(k).reset_index(drop=True)


def confusion_examples(y_true, y_pred, true_class: int, predicted_class: int, *, n: int = 4) -> np.ndarray:
    """Indices of up to ``n`` images of ``true_class`` that were predicted as ``predicted_class``."""
    y_true = validate_labels(y_true, name="y_true")
    y_pred = validate_labels(y_pred, n=len(y_true), name="y_pred")
    n = _validate.positive_int(n, "n")
    return np.flatnonzero((y_true == int(true_class)) & (y_pred == int(predicted_class)))[:n]


@dataclasses.dataclass(frozen=True)
class Calibration:
    """How well confidence matches accuracy, per confidence bin (see :func:`calibration`).

    Attributes:
        bin_edges: ``n_bins + 1`` edges from 0 to 1; bin b holds confidences in
            ``(edges[b], edges[b + 1]]`` (the first bin includes 0).
        confidence: mean confidence of each bin (NaN for an empty bin).
        accuracy: accuracy of each bin (NaN for an empty bin).
        count: images per bin.
        ece: expected calibration error: the count-weighted mean of ``|accuracy - confidence|``.
        mce: maximum calibration error: the largest gap over non-empty bins.
        mean_confidence, overall_accuracy: over all images (overconfident when the first is larger).
    """

    bin_edges: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    count: np.ndarray
    ece: float
    mce: float
    mean_confidence: float
    overall_accuracy: float

    @property
    def n_bins(self) -> int:
        return len(self.count)

    def to_frame(self):
        """One row per non-empty bin: range, count, mean confidence, accuracy and gap."""
        import pandas as pd

        lo, hi = self.bin_edges[:-1], self.bin_edges[1:]
        frame = pd.DataFrame(
            {
                "from": lo,
                "to": hi,
                "count": self.count,
                "confidence": self.confidence,
                "accuracy": self.accuracy,
                "gap": self.accuracy - self.confidence,
            }
        )
        return frame[frame["count"] > 0].reset_index(drop=True)

    def __str__(self) -> str:
        return (
            f"ECE {self.ece:.2%}, MCE {self.mce:.2%} over {int(self.count.sum())} images in "
            f"{self.n_bins} bins; mean confidence {self.mean_confidence:.2%} vs accuracy "
            f"{self.overall_accuracy:.2%}"
        )


def _confidence_bins(confidences: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin index of each confidence with right-closed bins ``(lo, hi]``; 0 goes to the first bin."""
    return np.clip(np.ceil(confidences * n_bins).astype(np.int64) - 1, 0, n_bins - 1)


def calibration(probs, y_true, *, n_bins: int = 10) -> Calibration:
    """Bin predictions by confidence (the top probability) and compare with accuracy per bin.

    A calibrated model is right 90 % of the time when it says 90 %. The expected calibration error
    (ECE, Guo et al., 2017) summarizes the reliability diagram: ``sum_b n_b / N * |acc_b - conf_b|``.

    Args:
        probs: class probabilities, shape ``(N, num_classes)``, e.g. :func:`predict_proba`.
        y_true: the integer labels.
        n_bins: equal-width confidence bins over [0, 1] (default 10).
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] < 2 or len(probs) == 0:
        raise ValueError(f"probs must have shape (N, num_classes) with N >= 1. Received shape={probs.shape}")
    if not np.all(np.isfinite(probs)) or probs.min() < 0 or probs.max() > 1 + 1e-6:
        raise ValueError("probs must be probabilities in [0, 1]: pass the softmax output, not logits.")
    if not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError(
            "Each row of probs must sum to 1 (a softmax output). Received row sums like "
            f"{np.round(probs.sum(axis=1)[:3], 3)}; apply keras.ops.softmax to logits first."
        )
    y_true = validate_labels(y_true, num_classes=probs.shape[1], n=len(probs), name="y_true")
    n_bins = _validate.positive_int(n_bins, "n_bins")
    confidences = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y_true).astype(np.float64)
    bins = _confidence_bins(confidences, n_bins)
    count = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.where(count > 0, np.bincount(bins, confidences, minlength=n_bins) / count, np.nan)
        acc = np.where(count > 0, np.bincount(bins, correct, minlength=n_bins) / count, np.nan)
    gaps = np.abs(acc - conf)
    filled = count > 0
    return Calibration(
        bin_edges=np.linspace(0.0, 1.0, n_bins + 1),
        confidence=conf,
        accuracy=acc,
        count=count,
        ece=float(np.sum(gaps[filled] * count[filled]) / len(probs)),
        mce=float(np.max(gaps[filled])),
        mean_confidence=float(confidences.mean()),
        overall_accuracy=float(correct.mean()),
    )


def expected_calibration_error(probs, y_true, *, n_bins: int = 10) -> float:
    """The expected calibration error of ``probs`` (see :func:`calibration`), a number in [0, 1]."""
    return calibration(probs, y_true, n_bins=n_bins).ece


def cross_entropy(model, x, y, *, batch_size: int = 256) -> float:
    """Mean cross-entropy of ``model``'s predictions (inference mode) on ``(x, y)``, without any
    weight penalty: the data term alone, comparable across regularized and plain models."""
    x = validate_images(x)
    y = validate_labels(y, n=len(x))
    probs = np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float64)
    if probs.ndim != 2 or y.max() >= probs.shape[1]:
        raise ValueError(
            f"The model outputs shape {probs.shape}; expected one probability per class (labels go up to {y.max()})."
        )
    return negative_log_likelihood(probs, y, floor=1e-7)  # Keras's epsilon, like the loss it reports


# ----------------------------------------------------------------------------------------------
# Temperature scaling (Guo et al., 2017, "On Calibration of Modern Neural Networks"), shown in 06:
# one scalar T > 0 divides the logits, fitted on validation by minimizing the negative log-likelihood.
# Dividing every logit of an image by the same T > 0 keeps their order, so the predicted class (and
# the accuracy) cannot change: only the confidence does. T > 1 softens overconfident predictions.

TEMPERATURE_BOUNDS = (0.05, 20.0)


def _as_logits(scores, kind: str) -> np.ndarray:
    """``scores`` as a float64 ``(N, num_classes)`` array of logits.

    Probabilities become their logarithms: ``softmax(log p / T)`` is exactly temperature scaling of
    the logits the probabilities came from, because a softmax forgets a shift shared by a row.
    """
    _validate.one_of(kind, "kind", ("auto", "probs", "logits"))
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[1] < 2 or len(scores) == 0:
        raise ValueError(f"scores must have shape (N, num_classes) with N >= 1. Received shape={scores.shape}")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores must be finite: found NaN or infinity.")
    looks_like_probs = scores.min() >= 0 and scores.max() <= 1 + 1e-6 and np.allclose(scores.sum(axis=1), 1, atol=1e-3)
    if kind == "probs" and not looks_like_probs:
        raise ValueError("kind='probs' but the rows are not probabilities (in [0, 1], summing to 1).")
    if kind == "probs" or (kind == "auto" and looks_like_probs):
        return np.log(np.clip(scores, 1e-12, 1.0))
    return scores


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _nll(logits: np.ndarray, y: np.ndarray, temperature: float) -> float:
    """Mean negative log-likelihood of the labels under ``softmax(logits / temperature)``."""
    z = logits / temperature
    top = z.max(axis=1)
    log_norm = top + np.log(np.exp(z - top[:, None]).sum(axis=1))
    return float(np.mean(log_norm - z[np.arange(len(y)), y]))


def fit_temperature(scores, y_true, *, kind: str = "auto", bounds: tuple[float, float] = TEMPERATURE_BOUNDS) -> float:
    """The temperature ``T`` that minimizes the validation NLL of ``softmax(logits / T)``.

    Fit it on the **validation** split (never on the test split you report), then apply it with
    :func:`apply_temperature` to any later predictions. The NLL is convex in ``1 / T``, so it has one
    minimum, found by a golden-section search on ``log T`` within ``bounds`` (NumPy only).

    Args:
        scores: the model's logits or softmax probabilities, shape ``(N, num_classes)``.
        y_true: the integer labels of the same images.
        kind: ``"logits"``, ``"probs"`` or ``"auto"`` (default: probabilities when every row lies in
            [0, 1] and sums to 1).
        bounds: the search interval for ``T`` (default 0.05 to 20). A result on a bound means the
            interval was too narrow (or the scores are degenerate, e.g. every prediction right).

    Returns:
        ``T`` as a float: above 1 when the model was overconfident, below 1 when underconfident.
    """
    logits = _as_logits(scores, kind)
    y = validate_labels(y_true, num_classes=logits.shape[1], n=len(logits), name="y_true")
    if not (isinstance(bounds, tuple | list) and len(bounds) == 2):
        raise ValueError(f"bounds must be a pair (low, high). Received: bounds={bounds!r}")
    low, high = (_validate.positive_number(b, "bounds") for b in bounds)
    if not low < high:
        raise ValueError(f"bounds must satisfy 0 < low < high. Received: bounds={bounds!r}")
    a, b = np.log(low), np.log(high)
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = _nll(logits, y, np.exp(c)), _nll(logits, y, np.exp(d))
    while b - a > 1e-6:
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = _nll(logits, y, np.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = _nll(logits, y, np.exp(d))
    return float(np.exp((a + b) / 2.0))


def apply_temperature(scores, temperature: float, *, kind: str = "auto") -> np.ndarray:
    """Calibrated probabilities ``softmax(logits / temperature)``, shape ``(N, num_classes)``.

    ``temperature=1`` returns the model's own probabilities; the argmax (the predicted class) is the
    same for every ``temperature > 0``. ``scores`` and ``kind`` are as in :func:`fit_temperature`.
    """
    temperature = _validate.positive_number(temperature, "temperature")
    return _softmax(_as_logits(scores, kind) / temperature)


def negative_log_likelihood(probs, y_true, *, floor: float = 1e-12) -> float:
    """Mean negative log-likelihood (cross-entropy) of the labels under ``probs``, ``(N, classes)``.

    A probability below ``floor`` counts as ``floor``, so one confident mistake costs at most
    ``-log(floor)`` instead of infinity.
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or len(probs) == 0:
        raise ValueError(f"probs must have shape (N, num_classes). Received shape={probs.shape}")
    y = validate_labels(y_true, num_classes=probs.shape[1], n=len(probs), name="y_true")
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], floor, 1.0))))
