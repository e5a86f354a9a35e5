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
