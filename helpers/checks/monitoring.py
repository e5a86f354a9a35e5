"""Checks for ``06_monitoring_evaluation``: early stopping by hand, a majority-class baseline on imbalanced
classes (predict, then run), a transposed confusion matrix (find the bug), per-class metrics from a
confusion matrix, and the expected calibration error."""

from __future__ import annotations

import warnings

import numpy as np

from helpers.checks._core import (
    Hint,
    exercise,
    predicted_range,
    require,
    require_array,
    require_callable,
    require_number,
)

__all__ = [
    "early_stopping_epochs",
    "majority_baseline",
    "confusion_matrix_fix",
    "per_class_metrics",
    "calibration_error",
]

# Curves chosen so that each typical mistake gives a different answer from the right one.
_ES_CASES = (
    ([0.90, 0.70, 0.60, 0.62, 0.61, 0.63, 0.64, 0.70], 3),  # stalls after epoch 3: stop at 6
    ([0.90, 0.80, 0.85, 0.84, 0.79, 0.83, 0.82, 0.81, 0.80], 3),  # late improvement resets the count
    ([1.00, 0.90, 0.80, 0.70, 0.60, 0.50], 2),  # always improves: runs to the end
    ([0.50, 0.60, 0.55, 0.70, 0.65, 0.80, 0.90], 1),  # patience 1: stops at the first stall
    ([0.80, 0.60, 0.60, 0.61, 0.59, 0.62, 0.63, 0.64, 0.65], 2),  # a tie is not an improvement
)


def _pair(result, what):
    if result is None or result is Ellipsis:
        raise Hint(f"{what} returned {result!r}. Return a pair: (best_epoch, stopped_epoch).")
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise Hint(f"{what} must return a pair (best_epoch, stopped_epoch). Received {result!r}.")
    try:
        return int(result[0]), int(result[1])
    except (TypeError, ValueError) as exc:
        raise Hint(f"{what} must return two whole numbers. Received {result!r}.") from exc


def _replay(values, patience, *, tie_improves=False, reset=True, extra=0):
    """EarlyStopping with one rule changed, to recognize a typical mistake (1-based answers)."""
    best, best_epoch, wait = None, 0, 0
    for epoch, value in enumerate(values):
        wait += 1
        if best is None or value < best or (tie_improves and value == best):
            best, best_epoch = value, epoch
            wait = 0 if reset else wait
            continue
        if wait >= patience + extra and epoch > 0:
            return best_epoch + 1, epoch + 1
    return best_epoch + 1, len(values)


def _early_stopping_epochs_reference():
    """The course's ``early_stopping_epochs(val_losses, patience)``, for the cells after the exercise:
    :func:`helpers.callbacks.early_stopping_trace`, Keras's own rule replayed on a finished curve."""
    from helpers.callbacks import early_stopping_trace

    return early_stopping_trace


@exercise("Exercise: replay EarlyStopping by hand", reference=_early_stopping_epochs_reference)
def early_stopping_epochs(fn) -> str:
    """``fn(val_losses, patience)`` returns ``(best_epoch, stopped_epoch)``, 1-based, as Keras does."""
    from helpers.callbacks import early_stopping_trace

    require_callable(fn, "early_stopping_epochs")
    for values, patience in _ES_CASES:
        expected = early_stopping_trace(values, patience)
        what = f"early_stopping_epochs({values}, patience={patience})"
        got = _pair(fn(list(values), patience), what)
        if got == expected:
            continue
        best, stopped = expected
        if got == (best - 1, stopped - 1):
            raise Hint(
                f"{what} gave {got}: those are 0-based. Count epochs from 1, as Keras prints "
                f"them ('Epoch 1/30'); the answer is {expected}."
            )
        if got == _replay(values, patience, tie_improves=True):
            raise Hint(
                f"{what} gave {got}: you counted a tie as an improvement. A value improves only when it "
                "is strictly lower than the best so far (min_delta=0)."
            )
        if got == _replay(values, patience, reset=False):
            raise Hint(
                f"{what} gave {got}: reset the counter of epochs without improvement to 0 whenever the "
                "loss beats the best so far; patience counts from the last improvement."
            )
        if got in (_replay(values, patience, extra=1), _replay(values, patience, extra=-1)):
            raise Hint(
                f"{what} gave {got}: the stopped epoch is one off. After the best epoch, training runs "
                "`patience` more epochs without improvement and stops at the end of the last one "
                "(best + patience when nothing improves in between)."
            )
        if got[0] == got[1] and got[0] != best:
            raise Hint(
                f"{what}: the best epoch is not the last one trained. It is the epoch with the lowest "
                "validation loss so far, the one restore_best_weights brings back."
            )
        if got[0] == 1 + int(np.argmin(values)) and got[0] > stopped:
            raise Hint(
                f"{what}: epoch {got[0]} has the lowest value of the whole curve, but training stopped "
                f"before reaching it. Only epochs up to the stop count (answer: {expected})."
            )
        raise Hint(
            f"{what} gave {got}; expected {expected}. Walk the curve epoch by epoch: keep the best "
            "value, count epochs without improvement, stop when the count reaches patience."
        )
    return "Your replay matches Keras's EarlyStopping on five curves, including a late improvement and a tie."


BASELINE_RANGE_WIDTH = 0.1  # a predicted range wider than this says too little to be checked


def _baseline_scores(y_true, y_pred, num_classes: int) -> dict:
    """Accuracy, macro-F1 and the figures that explain them, for ``y_pred`` against ``y_true``."""
    from helpers.evaluation import confusion_matrix, precision_recall_f1

    cm = confusion_matrix(y_true, y_pred, num_classes=num_classes)
    scores = precision_recall_f1(cm)
    support = scores["support"]
    return {
        "accuracy": float(np.trace(cm) / cm.sum()),
        "macro_f1": float(np.mean(scores["f1"])),
        "weighted_f1": float(np.sum(scores["f1"] * support) / support.sum()),
        "best_f1": float(scores["f1"].max()),
        "support": support,
    }


@exercise("Exercise: predict a majority-class baseline's accuracy and macro-F1")
def majority_baseline(predicted: dict, y_true, y_pred, num_classes: int) -> str:
    """``predicted`` holds the learner's ``(low, high)`` for ``"accuracy"`` and ``"macro_f1"`` of the
    classifier whose predictions are ``y_pred`` (the notebook's: always the commonest class of ``y_true``),
    made before the cell computed them. Each range must hold the measured value and be at most
    :data:`BASELINE_RANGE_WIDTH` wide."""
    require(
        isinstance(predicted, dict),
        f"Pass a dict like {{'accuracy': (low, high), 'macro_f1': (low, high)}}. Received {type(predicted).__name__}.",
    )
    missing = [key for key in ("accuracy", "macro_f1") if key not in predicted]
    require(not missing, f"Add your answer for {', '.join(missing)}.")
    ranges = {
        key: predicted_range(predicted[key], f'predicted["{key}"]', BASELINE_RANGE_WIDTH)
        for key in ("accuracy", "macro_f1")
    }
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    s = _baseline_scores(y_true, y_pred, num_classes)
    k, n = int(num_classes), len(y_true)
    majority = int(np.bincount(y_true, minlength=k).argmax())
    share = float(np.mean(y_true == majority))
    acc, macro = s["accuracy"], s["macro_f1"]

    def holds(key, value):
        low, high = ranges[key]
        return low - 1e-9 <= value <= high + 1e-9

    said = {key: f"your range ({ranges[key][0]:g}, {ranges[key][1]:g})" for key in ranges}
    if not holds("accuracy", acc):
        if holds("accuracy", macro) and holds("macro_f1", acc):
            raise Hint("Your two ranges look swapped: which of the two scores does the commonest class dominate?")
        if holds("accuracy", 1 / k):
            raise Hint(
                f"Accuracy: {said['accuracy']} holds chance, 1/{k}, which is what guessing at random gives. This "
                "classifier never guesses: it always answers the commonest class, so it is right on every image "
                "of that class and wrong on all the others. Read that class's share from the class counts."
            )
        raise Hint(
            f"Accuracy: {said['accuracy']} does not hold the measured {acc:.3f}. The classifier is right exactly "
            f"on the images of the class it always answers: count them in the class counts and divide by all {n}."
        )
    if not holds("macro_f1", macro):
        if holds("macro_f1", acc):
            raise Hint(
                f"Macro-F1: {said['macro_f1']} holds about the accuracy. That is what micro-averaging gives (for one "
                "label per image, micro-F1 equals accuracy). Macro-F1 is the plain mean of the per-class F1: "
                "what is the F1 of a class that is never predicted?"
            )
        if holds("macro_f1", s["best_f1"]):
            raise Hint(
                f"Macro-F1: {said['macro_f1']} holds the F1 of the commonest class alone. Macro-F1 averages the F1 "
                f"of all {k} classes, each counting the same, and every class it never predicts scores 0."
            )
        if holds("macro_f1", s["weighted_f1"]):
            raise Hint(
                f"Macro-F1: {said['macro_f1']} holds the support-weighted F1 (the report's 'weighted avg' row), in "
                "which the commonest class counts in proportion to its images. Macro-F1 gives every class the "
                "same weight."
            )
        if macro > ranges["macro_f1"][1]:
            raise Hint(
                f"Macro-F1: {said['macro_f1']} is below the measured {macro:.3f}. It is not 0: the class the "
                "classifier always answers has recall 1 and precision equal to its share, so its F1 is well "
                "above 0, even if every other class scores 0."
            )
        raise Hint(
            f"Macro-F1: {said['macro_f1']} does not hold the measured {macro:.3f}. Work it out per class: the "
            "commonest class has recall 1 and precision = its share; every other class is never predicted "
            f"(F1 = 0); macro-F1 is the mean over the {k} classes."
        )
    f1_majority = 2 * share / (1 + share)
    return (
        f"Both ranges hold the measurement: accuracy {acc:.3f}, macro-F1 {macro:.3f}. The classifier is right "
        f"exactly on the commonest class, {share:.1%} of these {n} images, which is its accuracy. That class "
        f"has recall 1 and precision {share:.3f}, so F1 = 2PR / (P + R) = {f1_majority:.3f}; the other {k - 1} "
        f"classes are never predicted and score 0, and macro-F1 averages all {k}: {f1_majority:.3f} / {k}. "
        "Accuracy counts images, so the commonest class dominates it and a model that ignores the rare classes "
        "can still look fine; macro-F1 counts classes, so each ignored class costs 1/k of it. On imbalanced "
        "data, report per-class or macro scores beside accuracy, and compare with this baseline."
    )


def _normalized_rows(cm: np.ndarray) -> np.ndarray:
    totals = cm.sum(axis=1, keepdims=True)
    return np.divide(cm, totals, out=np.zeros_like(cm, dtype=np.float64), where=totals > 0)


def _cm_cases():
    """(y_true, y_pred, num_classes) pairs whose confusion matrices are not symmetric, so a transpose shows;
    the first has a class that appears nowhere (only ``num_classes`` gives it its row and column), the third
    one that never occurs (an empty row), the fourth one that is never predicted (an empty column)."""
    rng = np.random.default_rng(18)
    y_true = rng.integers(0, 4, size=60)
    y_pred = np.where(rng.uniform(size=60) < 0.6, y_true, (y_true + 1) % 4)  # mistakes go to the next class
    return [
        (np.array([0, 0, 0, 1, 2, 2]), np.array([0, 1, 1, 1, 0, 2]), 4),  # class 3: never seen at all
        (y_true, y_pred, 4),
        (np.array([0, 0, 1, 1, 1, 2]), np.array([0, 3, 1, 3, 2, 2]), 4),  # class 3: predicted, never true
        (np.array([0, 1, 1, 2, 2, 2, 2]), np.array([0, 0, 1, 1, 1, 0, 0]), 3),  # class 2 never predicted
    ]


@exercise("Exercise: find the bug in a confusion matrix")
def confusion_matrix_fix(fn) -> str:
    """``fn(y_true, y_pred, num_classes, normalize=False)`` returns the course's confusion matrix: rows are
    true classes, columns predictions (:func:`helpers.evaluation.confusion_matrix`); with
    ``normalize=True`` each row is divided by its total (0 for a class with no image)."""
    from helpers.evaluation import confusion_matrix

    require_callable(fn, "fixed_confusion_matrix")
    for y_true, y_pred, k in _cm_cases():
        counts = confusion_matrix(y_true, y_pred, num_classes=k).astype(np.float64)
        what = f"fixed_confusion_matrix(y_true={y_true.tolist()}, y_pred={y_pred.tolist()}, num_classes={k})"
        got = require_array(fn(y_true.copy(), y_pred.copy(), k), what=what)
        require(
            got.shape == (k, k), f"{what} has shape {got.shape}; expected ({k}, {k}): one row and column per class."
        )
        if not np.allclose(got, counts):
            rows = counts.sum(axis=1).astype(int).tolist()
            if np.allclose(got, counts.T):
                raise Hint(
                    f"{what} is transposed: its row i counts the images *predicted* as i. By the course's convention "
                    f"(evaluation.confusion_matrix) row i is the true class i, so each row sums to the number of "
                    f"images of that class, here {rows}."
                )
            raise Hint(
                f"{what} gave {got.astype(int).tolist() if np.allclose(got, np.round(got)) else got.tolist()}; "
                f"expected {counts.astype(int).tolist()} (cm[i, j] = images of true class i predicted as j)."
            )
        normed = fn(y_true.copy(), y_pred.copy(), k, normalize=True)
        got = require_array(normed, what=f"{what[:-1]}, normalize=True)")
        require(got.shape == (k, k), f"With normalize=True the shape is {got.shape}; expected ({k}, {k}).")
        expected = _normalized_rows(counts)
        if np.allclose(got, expected):
            continue
        if np.any(np.isnan(got)):
            raise Hint(
                "With normalize=True some values are NaN: a class with no image has a row total of 0. Leave its "
                "row at 0 (np.divide(..., out=np.zeros_like(cm), where=totals > 0))."
            )
        if np.allclose(got, counts):
            raise Hint("With normalize=True the counts come back unchanged: divide each row by its total.")
        if np.allclose(got, _normalized_rows(counts.T).T):
            raise Hint(
                "With normalize=True each *column* sums to 1: you normalized along the wrong axis. The diagonal "
                "then reads as precision. Divide each row by its own total (the class's number of images), so "
                "the diagonal is each class's recall."
            )
        if np.allclose(got, _normalized_rows(counts.T)) or np.allclose(got, _normalized_rows(counts).T):
            raise Hint(
                "With normalize=True the matrix is transposed: row i must be the true class i, divided by the "
                "number of images of class i."
            )
        if np.allclose(got, counts / counts.sum()):
            raise Hint(
                "With normalize=True you divided by the number of all images. Divide each row by its own total, "
                "so each row (each true class) sums to 1."
            )
        raise Hint(
            f"With normalize=True, expected {np.round(expected, 3).tolist()}, received {np.round(got, 3).tolist()}: "
            "each row divided by its own total."
        )
    return (
        "Rows are true classes again, on four label sets, including a class that never occurs (its row stays 0) "
        "and one that is never predicted. A transposed matrix looks just as plausible: check a row sum against "
        "the class counts before reading recall off a diagonal."
    )


def _reference_metrics(cm):
    from helpers.evaluation import precision_recall_f1

    scores = precision_recall_f1(cm)
    return scores["precision"], scores["recall"], scores["f1"]


def _test_matrices():
    rng = np.random.default_rng(6)
    cm = rng.integers(0, 6, size=(4, 4)) + np.diag(rng.integers(20, 40, size=4))
    empty_column = cm.copy()
    empty_column[:, 2] = 0  # class 2 is never predicted: precision 0/0
    empty_column[2, 0] += 7
    return [np.array([[8, 2], [1, 9]]), cm, empty_column]


def _per_class_metrics_reference():
    """The course's ``per_class_metrics(cm)`` -> ``(precision, recall, f1)``, for the cells after the
    exercise (:func:`helpers.evaluation.precision_recall_f1`, 0 where a class is never predicted)."""
    return _reference_metrics


@exercise("Exercise: precision, recall and F1 from a confusion matrix", reference=_per_class_metrics_reference)
def per_class_metrics(fn) -> str:
    """``fn(cm)`` returns ``(precision, recall, f1)`` arrays, one value per class (rows = true)."""
    require_callable(fn, "per_class_metrics")
    for cm in _test_matrices():
        k = len(cm)
        p_ref, r_ref, f_ref = _reference_metrics(cm)
        with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a 0/0 is reported as a hint below
            result = fn(cm.copy())
        if result is None or result is Ellipsis:
            raise Hint("Your function returned nothing. Return (precision, recall, f1).")
        if not isinstance(result, (tuple, list)) or len(result) != 3:
            raise Hint(f"Return three arrays: (precision, recall, f1). Received {type(result).__name__}.")
        p, r, f = (
            require_array(v, shape=(k,), what=f"{name} for a {k}x{k} matrix")
            for v, name in zip(result, ("precision", "recall", "f1"))
        )
        if np.any(np.isnan(p)) or np.any(np.isnan(r)) or np.any(np.isnan(f)):
            raise Hint(
                "Some values are NaN: a class that is never predicted has no precision (0 / 0). "
                "Use 0 there, e.g. np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)."
            )
        if np.allclose(p, r_ref) and np.allclose(r, p_ref) and not np.allclose(p, p_ref):
            raise Hint(
                "Precision and recall are swapped. Rows are true classes: recall divides the diagonal by "
                "the row sums (cm.sum(axis=1)), precision by the column sums (cm.sum(axis=0))."
            )
        require(
            np.allclose(p, p_ref, atol=1e-9),
            f"Precision differs (yours {np.round(p, 3)}, expected {np.round(p_ref, 3)}). Precision of class c "
            "= cm[c, c] / (everything predicted as c) = cm[c, c] / column sum c.",
        )
        require(
            np.allclose(r, r_ref, atol=1e-9),
            f"Recall differs (yours {np.round(r, 3)}, expected {np.round(r_ref, 3)}). Recall of class c = "
            "cm[c, c] / (all images of class c) = cm[c, c] / row sum c.",
        )
        if np.allclose(f, (p_ref + r_ref) / 2) and not np.allclose(f, f_ref):
            raise Hint(
                "F1 is not the arithmetic mean of precision and recall but their harmonic mean: 2 * P * R / (P + R)."
            )
        require(
            np.allclose(f, f_ref, atol=1e-9),
            f"F1 differs (yours {np.round(f, 3)}, expected {np.round(f_ref, 3)}). F1 = 2 * P * R / (P + R), "
            "and 0 where P + R = 0.",
        )
    return (
        "Precision, recall and F1 match on three matrices, including a class that is never predicted. "
        "Compare with evaluation.classification_report."
    )


def _reference_ece(confidences, correct, n_bins=10):
    """The ECE of ``confidences`` (top probability per image) and ``correct`` (1.0 right, 0.0 wrong) in
    ``n_bins`` right-closed equal-width bins: the binning of :func:`helpers.evaluation.calibration`."""
    from helpers.evaluation import _confidence_bins

    confidences = np.asarray(confidences, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    bins = _confidence_bins(confidences, n_bins)
    total = 0.0
    for b in range(n_bins):
        in_bin = bins == b
        if in_bin.any():
            total += in_bin.mean() * abs(correct[in_bin].mean() - confidences[in_bin].mean())
    return total


def _calibration_error_reference():
    """The course's ``calibration_error(confidences, correct, n_bins=10)``, for the cells after the exercise."""
    return _reference_ece


@exercise("Exercise: expected calibration error", reference=_calibration_error_reference)
def calibration_error(fn) -> str:
    """``fn(confidences, correct, n_bins)`` returns the ECE with equal-width bins over [0, 1]."""
    require_callable(fn, "calibration_error")
    rng = np.random.default_rng(60)
    for n, n_bins in ((400, 10), (257, 5), (60, 15)):
        confidences = rng.uniform(0.2, 1.0, size=n)
        correct = (rng.uniform(size=n) < confidences**2).astype(float)  # overconfident on purpose
        expected = _reference_ece(confidences, correct, n_bins)
        with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an empty bin's mean is reported as a hint below
            got = fn(confidences.copy(), correct.copy(), n_bins)
        got = require_number(got, returns="one number: the ECE")
        if np.isnan(got):
            raise Hint("Your ECE is NaN: an empty bin has no mean. Skip bins that hold no example.")
        if abs(got - expected) < 1e-9:
            continue
        bins = np.clip(np.ceil(confidences * n_bins).astype(int) - 1, 0, n_bins - 1)
        filled = [b for b in range(n_bins) if np.any(bins == b)]
        gaps = [abs(correct[bins == b].mean() - confidences[bins == b].mean()) for b in filled]
        signed = sum(np.mean(bins == b) * (correct[bins == b].mean() - confidences[bins == b].mean()) for b in filled)
        if abs(got - np.mean(gaps)) < 1e-9:
            raise Hint(
                "You averaged the bins' gaps equally. Weight each bin by its share of examples "
                "(n_b / N): a bin with 3 predictions must count less than one with 300."
            )
        if abs(got - abs(correct.mean() - confidences.mean())) < 1e-9:
            raise Hint(
                "That is the gap over all examples at once (one bin), where over- and under-confidence "
                "cancel out. Compute the gap inside each confidence bin, then take the weighted mean."
            )
        if abs(got - signed) < 1e-9 or abs(got + signed) < 1e-9:
            raise Hint(
                "Take the absolute gap |accuracy - confidence| in each bin, so bins that are over- and "
                "underconfident do not cancel."
            )
        raise Hint(
            f"ECE is {got:.4f}; expected {expected:.4f} for {n} predictions in {n_bins} bins. Bin b holds "
            f"confidences in (b/n_bins, (b+1)/n_bins]; ECE = sum over bins of n_b/N * |acc_b - conf_b|."
        )
    return "Your ECE matches the reference on three sets of predictions. Compare with evaluation.calibration."
