"""The 06 self-checks pass on correct answers and explain the typical mistakes."""

import numpy as np
import pytest

from helpers import callbacks, checks, evaluation
from helpers.checks import _core, monitoring


def stub(*args):
    raise NotImplementedError


# ---------------------------------------------------------------- early stopping by hand


def good_es(values, patience):
    return callbacks.early_stopping_trace(values, patience)


def _es_variant(tie=False, reset=True, extra=0, zero_based=False, best_is_last=False, global_best=False):
    def fn(values, patience):
        result = monitoring._replay(values, patience, tie_improves=tie, reset=reset, extra=extra)
        if zero_based:
            return result[0] - 1, result[1] - 1
        if best_is_last:
            return result[1], result[1]
        if global_best:
            return 1 + int(np.argmin(values)), result[1]
        return result

    return fn


def test_early_stopping_check_passes_on_a_correct_answer():
    assert checks.early_stopping_epochs(good_es)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (stub, "Not started yet"),
        (lambda v, p: None, "Return a pair"),
        (lambda v, p: 3, "must return a pair"),
        (lambda v, p: ("a", "b"), "two whole numbers"),
        (_es_variant(zero_based=True), "0-based"),
        (_es_variant(tie=True), "tie as an improvement"),
        (_es_variant(reset=False), "reset the counter"),
        (_es_variant(extra=1), "one off"),
        (_es_variant(extra=-1), "one off"),
        (_es_variant(best_is_last=True), "not the last one trained"),
        (_es_variant(global_best=True), "stopped before reaching it"),
        (lambda v, p: (2, 7), "Walk the curve"),
        ("early_stopping_epochs", "Pass your function"),
    ],
)
def test_early_stopping_check_explains_mistakes(answer, hint):
    result = checks.early_stopping_epochs(answer)
    assert not result and hint in result.message


# ---------------------------------------------------------------- predict, then run: a majority-class baseline

# An imbalanced validation subset as the notebook builds it: class 0 whole, one in 30 of the others (10 classes).
Y_IMB = np.r_[np.zeros(75, dtype=int), np.repeat(np.arange(1, 10), 2)]
BASELINE = np.zeros_like(Y_IMB)  # always the commonest class
SHARE = 75 / 93
MACRO = 2 * SHARE / (1 + SHARE) / 10


def _baseline(predicted):
    return checks.majority_baseline(predicted, Y_IMB, BASELINE, 10)


def test_majority_baseline_passes_on_ranges_that_hold_both_scores():
    result = _baseline({"accuracy": (0.78, 0.84), "macro_f1": (0.06, 0.12)})
    assert result and "macro-F1 counts classes" in result.message and "0.806" in result.message
    # the notebook's solution: reasoned from the class counts, before the run
    counts = np.bincount(Y_IMB, minlength=10)
    share = counts.max() / counts.sum()
    macro = 2 * share / (1 + share) / 10
    assert _baseline({"accuracy": (share - 0.03, share + 0.03), "macro_f1": (max(0.0, macro - 0.03), macro + 0.03)})
    # the scores the check measures are the course's own (evaluation.classification_report)
    report = evaluation.classification_report(Y_IMB, BASELINE, [str(k) for k in range(10)])
    assert abs(report.loc["macro avg", "f1"] - MACRO) < 1e-12


@pytest.mark.parametrize(
    ("predicted", "hint"),
    [
        ({"accuracy": ..., "macro_f1": ...}, "replace the `...` with your prediction, a range"),
        ({"accuracy": (0.78, 0.84)}, "Add your answer for macro_f1"),
        ({"accuracy": (0.78, 0.84), "macro_f1": ...}, "replace the `...` with your prediction, a range"),
        ([(0.78, 0.84), (0.06, 0.12)], "Pass a dict"),
        ({"accuracy": 0.8, "macro_f1": (0.06, 0.12)}, "give a range (low, high)"),
        ({"accuracy": (78, 84), "macro_f1": (6, 12)}, "fractions between 0 and 1"),
        ({"accuracy": (0.84, 0.78), "macro_f1": (0.06, 0.12)}, "reversed"),
        ({"accuracy": (0.5, 0.9), "macro_f1": (0.06, 0.12)}, "at most 10 points wide"),
        ({"accuracy": ("a", "b"), "macro_f1": (0.06, 0.12)}, "give a range of two numbers"),
        ({"accuracy": (0.05, 0.15), "macro_f1": (0.06, 0.12)}, "holds chance, 1/10"),
        ({"accuracy": (0.06, 0.12), "macro_f1": (0.78, 0.84)}, "look swapped"),
        ({"accuracy": (0.6, 0.7), "macro_f1": (0.06, 0.12)}, "count them in the class counts"),
        ({"accuracy": (0.78, 0.84), "macro_f1": (0.78, 0.84)}, "micro-F1 equals accuracy"),
        ({"accuracy": (0.78, 0.84), "macro_f1": (0.85, 0.93)}, "the F1 of the commonest class alone"),
        ({"accuracy": (0.78, 0.84), "macro_f1": (0.68, 0.76)}, "support-weighted F1"),
        ({"accuracy": (0.78, 0.84), "macro_f1": (0.0, 0.05)}, "It is not 0"),
        ({"accuracy": (0.78, 0.84), "macro_f1": (0.3, 0.4)}, "Work it out per class"),
    ],
)
def test_majority_baseline_explains_mistakes(predicted, hint):
    result = _baseline(predicted)
    assert not result and hint in result.message, result.message


def test_an_untouched_baseline_prediction_is_not_started():
    assert _baseline({"accuracy": ..., "macro_f1": ...}).status == "not started"
    assert _baseline({"accuracy": (0.78, 0.84), "macro_f1": ...}).status == "not yet"  # begun


# ---------------------------------------------------------------- find the bug: a transposed confusion matrix


def good_cm(y_true, y_pred, num_classes, normalize=False):
    cm = evaluation.confusion_matrix(y_true, y_pred, num_classes=num_classes).astype(float)
    if normalize:
        totals = cm.sum(axis=1, keepdims=True)
        cm = np.divide(cm, totals, out=np.zeros_like(cm), where=totals > 0)
    return cm


def buggy_cm(y_true, y_pred, num_classes, normalize=False):  # the notebook's buggy function
    cm = np.zeros((num_classes, num_classes))
    for true, pred in zip(y_true, y_pred):
        cm[pred, true] += 1
    if normalize:
        totals = cm.sum(axis=1, keepdims=True)
        cm = np.divide(cm, totals, out=np.zeros_like(cm), where=totals > 0)
    return cm


def wrong_axis(y_true, y_pred, num_classes, normalize=False):
    cm = good_cm(y_true, y_pred, num_classes)
    if normalize:
        totals = cm.sum(axis=0, keepdims=True)
        cm = np.divide(cm, totals, out=np.zeros_like(cm), where=totals > 0)
    return cm


def transposed_when_normalized(y_true, y_pred, num_classes, normalize=False):
    return good_cm(y_true, y_pred, num_classes, normalize).T if normalize else good_cm(y_true, y_pred, num_classes)


def unguarded(y_true, y_pred, num_classes, normalize=False):
    cm = good_cm(y_true, y_pred, num_classes)
    with np.errstate(invalid="ignore"):
        return cm / cm.sum(axis=1, keepdims=True) if normalize else cm


def by_total(y_true, y_pred, num_classes, normalize=False):
    cm = good_cm(y_true, y_pred, num_classes)
    return cm / cm.sum() if normalize else cm


def from_seen_labels(y_true, y_pred, num_classes, normalize=False):  # ignores num_classes
    k = int(max(np.max(y_true), np.max(y_pred))) + 1
    return good_cm(y_true, y_pred, k, normalize)


def test_confusion_matrix_fix_passes_on_the_fixed_function():
    result = checks.confusion_matrix_fix(good_cm)
    assert result and "Rows are true classes" in result.message

    def fixed(y_true, y_pred, num_classes, normalize=False):  # the notebook's solution, a loop
        cm = np.zeros((num_classes, num_classes))
        for true, pred in zip(y_true, y_pred):
            cm[true, pred] += 1
        if normalize:
            totals = cm.sum(axis=1, keepdims=True)
            cm = np.divide(cm, totals, out=np.zeros_like(cm), where=totals > 0)
        return cm

    assert checks.confusion_matrix_fix(fixed)


def test_the_cases_show_a_transpose_and_cover_empty_rows_and_columns():
    for y_true, y_pred, k in monitoring._cm_cases():
        cm = evaluation.confusion_matrix(y_true, y_pred, num_classes=k)
        assert not np.array_equal(cm, cm.T)
        assert not np.allclose(monitoring._normalized_rows(cm), monitoring._normalized_rows(cm.T).T)
    sums = [evaluation.confusion_matrix(t, p, num_classes=k) for t, p, k in monitoring._cm_cases()]
    assert any((cm.sum(axis=1) == 0).any() for cm in sums) and any((cm.sum(axis=0) == 0).any() for cm in sums)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (stub, "Not started yet"),
        (lambda t, p, k, normalize=False: None, "is None"),
        (buggy_cm, "is transposed: its row i counts the images *predicted* as i"),
        (lambda t, p, k, normalize=False: good_cm(t, p, k) + 1, "expected"),
        (from_seen_labels, "one row and column per class"),
        (wrong_axis, "normalized along the wrong axis"),
        (transposed_when_normalized, "With normalize=True the matrix is transposed"),
        (unguarded, "NaN"),
        (lambda t, p, k, normalize=False: good_cm(t, p, k), "come back unchanged"),
        (by_total, "the number of all images"),
        (lambda t, p, k, normalize=False: good_cm(t, p, k, normalize) * (0.9 if normalize else 1), "each row divided"),
        (lambda t, p, k: good_cm(t, p, k), "TypeError"),  # no normalize argument
        ("fixed_confusion_matrix", "Pass your function"),
    ],
)
def test_confusion_matrix_fix_explains_mistakes(answer, hint):
    result = checks.confusion_matrix_fix(answer)
    assert not result and hint in result.message, result.message


# ---------------------------------------------------------------- precision, recall, F1


def good_metrics(cm):
    s = evaluation.precision_recall_f1(cm)
    return s["precision"], s["recall"], s["f1"]


def naive_metrics(cm):  # divides by zero for a class never predicted
    tp = np.diag(cm).astype(float)
    p, r = tp / cm.sum(axis=0), tp / cm.sum(axis=1)
    return p, r, 2 * p * r / (p + r)


def swapped(cm):
    p, r, f = good_metrics(cm)
    return r, p, f


def arithmetic_f1(cm):
    p, r, _ = good_metrics(cm)
    return p, r, (p + r) / 2


def test_per_class_metrics_check_passes_on_a_correct_answer():
    assert checks.per_class_metrics(good_metrics)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (stub, "Not started yet"),
        (lambda cm: None, "returned nothing"),
        (lambda cm: np.zeros(3), "Return three arrays"),
        (lambda cm: (np.zeros(2), np.zeros(2), np.zeros(2)) if len(cm) > 2 else good_metrics(cm), "has shape (2,)"),
        (naive_metrics, "NaN"),
        (swapped, "swapped"),
        (lambda cm: (good_metrics(cm)[0] * 0.9, *good_metrics(cm)[1:]), "Precision differs"),
        (lambda cm: (good_metrics(cm)[0], good_metrics(cm)[1] * 0.9, good_metrics(cm)[2]), "Recall differs"),
        (arithmetic_f1, "harmonic mean"),
        (lambda cm: (*good_metrics(cm)[:2], good_metrics(cm)[2] * 0.9), "F1 differs"),
    ],
)
def test_per_class_metrics_check_explains_mistakes(answer, hint):
    result = checks.per_class_metrics(answer)
    assert not result and hint in result.message


# ---------------------------------------------------------------- expected calibration error


def good_ece(confidences, correct, n_bins):
    total = 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        in_bin = (confidences > lo) & (confidences <= hi)
        if in_bin.any():
            total += in_bin.mean() * abs(correct[in_bin].mean() - confidences[in_bin].mean())
    return total


def _gaps(confidences, correct, n_bins, *, signed=False, weighted=True, skip_empty=True):
    bins = np.clip(np.ceil(confidences * n_bins).astype(int) - 1, 0, n_bins - 1)
    out = []
    for b in range(n_bins):
        in_bin = bins == b
        if not in_bin.any() and skip_empty:
            continue
        gap = correct[in_bin].mean() - confidences[in_bin].mean()
        out.append((in_bin.mean() if weighted else 1.0) * (gap if signed else abs(gap)))
    return out


def test_calibration_error_check_passes_on_correct_answers():
    assert checks.calibration_error(good_ece)

    # the course's own implementation, fed the same inputs, agrees
    def via_helpers(conf, correct, n_bins):  # 10 classes: class 0 gets conf, the others share the rest
        probs = np.repeat(((1 - conf) / 9)[:, None], 10, axis=1)
        probs[:, 0] = conf
        return evaluation.expected_calibration_error(probs, np.where(correct > 0, 0, 1), n_bins=n_bins)

    assert checks.calibration_error(via_helpers)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (stub, "Not started yet"),
        (lambda c, k, n: None, "returned nothing"),
        (lambda c, k, n: "0.1", "Return one number"),
        (lambda c, k, n: sum(_gaps(c, k, n, skip_empty=False)), "NaN"),
        (lambda c, k, n: float(np.mean(_gaps(c, k, n, weighted=False))), "Weight each bin"),
        (lambda c, k, n: abs(k.mean() - c.mean()), "one bin"),
        (lambda c, k, n: sum(_gaps(c, k, n, signed=True)), "absolute gap"),
        (lambda c, k, n: good_ece(c, k, n) + 0.01, "expected"),
    ],
)
def test_calibration_error_check_explains_mistakes(answer, hint):
    result = checks.calibration_error(answer)
    assert not result and hint in result.message


# ---------------------------------------------------------------- reference answers, for the cells after an exercise
# The stubs exactly as the notebook's exercise cells hold them.


def nb_early_stopping_epochs(val_losses, patience):
    # YOUR CODE HERE: walk the curve epoch by epoch, as EarlyStopping(patience=patience) does.
    raise NotImplementedError


def nb_per_class_metrics(cm):
    # YOUR CODE HERE: the diagonal holds the true positives; sum columns or rows for the denominators.
    raise NotImplementedError


def nb_calibration_error(confidences, correct, n_bins=10):
    # confidences: the top probability per image; correct: 1.0 where the prediction was right, else 0.0.
    # YOUR CODE HERE
    raise NotImplementedError


def nb_fixed_confusion_matrix(y_true, y_pred, num_classes, normalize=False):
    # YOUR CODE HERE: the colleague's function, fixed (rows are true classes, as in evaluation.confusion_matrix).
    raise NotImplementedError


def test_the_untouched_find_the_bug_stub_is_not_started(fresh_kernel):
    assert checks.confusion_matrix_fix(nb_fixed_confusion_matrix).status == "not started"


NOTEBOOK_STUBS = [
    ("early_stopping_epochs", nb_early_stopping_epochs),
    ("per_class_metrics", nb_per_class_metrics),
    ("calibration_error", nb_calibration_error),
]


@pytest.mark.parametrize(("name", "stub_fn"), NOTEBOOK_STUBS)
def test_an_untouched_stub_is_not_started_and_the_reference_stands_in(fresh_kernel, name, stub_fn):
    check = getattr(checks, name)
    assert check(stub_fn).status == "not started"
    reference = _core.answer(name, stub_fn)
    assert reference is not stub_fn and check(reference), f"the reference of {name} fails its own check"


def test_the_references_agree_with_what_the_notebook_asserts():
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.full(5, 0.3), size=300)
    y = rng.integers(0, 5, size=300)
    cm = evaluation.confusion_matrix(y, probs.argmax(axis=1), num_classes=5)
    _, _, f1 = monitoring._per_class_metrics_reference()(cm)
    report = evaluation.classification_report(y, probs.argmax(axis=1), [str(k) for k in range(5)])
    np.testing.assert_allclose(f1, report["f1"].iloc[:-2], atol=1e-12)
    correct = (probs.argmax(axis=1) == y).astype(float)
    ece = monitoring._calibration_error_reference()(probs.max(axis=1), correct)  # n_bins defaults to 10
    assert abs(ece - evaluation.calibration(probs, y, n_bins=10).ece) < 1e-9 and ece > 0.05
    stop = monitoring._early_stopping_epochs_reference()
    assert stop([0.9, 0.7, 0.6, 0.62, 0.61, 0.63], 2) == (3, 5) and stop([0.9, 0.8], 1) == (2, 2)
