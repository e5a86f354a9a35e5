"""helpers.evaluation: accuracy on a split, predictions, and the reports of 06 (per-class metrics,
confusion matrix, confused pairs, calibration)."""

import numpy as np
import pytest
from sklearn import metrics as skm

from helpers import data, evaluation, models, regularization

rng = np.random.default_rng(0)
Y_TRUE = rng.integers(0, 5, size=300)
Y_PRED = np.where(rng.uniform(size=300) < 0.7, Y_TRUE, rng.integers(0, 5, size=300))


@pytest.fixture(scope="module")
def tiny():
    return data.load("digits", image_size=(28, 28))


def test_accuracy_of_an_untrained_model_is_a_fraction(tiny, seeded):
    model = models.lenet5()
    acc = evaluation.evaluate(model, tiny, "val")
    assert 0.0 <= acc <= 1.0
    preds = evaluation.predict_classes(model, tiny.x_val)
    assert preds.shape == tiny.y_val.shape and preds.dtype == np.int32
    assert acc == pytest.approx(np.mean(preds == tiny.y_val))


def test_evaluation_errors(tiny):
    model = models.lenet5()
    with pytest.raises(ValueError, match="split must be one of train, val, test"):
        evaluation.evaluate(model, tiny, "holdout")
    with pytest.raises(ValueError, match=r"expects images of shape \(28, 28, 1\)"):
        evaluation.predict_classes(model, np.zeros((2, 8, 8, 1)))


# ----------------------------------------------------------------------------------------------
# Reports beyond accuracy (06_monitoring_evaluation).


def test_confusion_matrix_matches_sklearn():
    cm = evaluation.confusion_matrix(Y_TRUE, Y_PRED)
    np.testing.assert_array_equal(cm, skm.confusion_matrix(Y_TRUE, Y_PRED))
    assert cm.sum() == 300 and cm.dtype == np.int64
    np.testing.assert_array_equal(cm.sum(axis=1), np.bincount(Y_TRUE))


def test_confusion_matrix_keeps_absent_classes_when_told():
    cm = evaluation.confusion_matrix([0, 1, 1], [0, 1, 0], num_classes=4)
    assert cm.shape == (4, 4) and cm[3].sum() == 0 and cm[1, 0] == 1


def test_confusion_matrix_errors():
    with pytest.raises(ValueError, match="y_pred has 2 labels but there are 3 images"):
        evaluation.confusion_matrix([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="y_true holds class id 3 but num_classes=3"):
        evaluation.confusion_matrix([0, 1, 3], [0, 1, 2], num_classes=3)
    with pytest.raises(ValueError, match="looks one-hot"):
        evaluation.confusion_matrix(np.eye(3), [0, 1, 2])
    with pytest.raises(ValueError, match="num_classes must be an integer >= 2"):
        evaluation.confusion_matrix([0, 1], [0, 1], num_classes=1)


def test_classification_report_matches_sklearn():
    names = ["a", "b", "c", "d", "e"]
    report = evaluation.classification_report(Y_TRUE, Y_PRED, names)
    p, r, f, s = skm.precision_recall_fscore_support(Y_TRUE, Y_PRED, zero_division=0)
    np.testing.assert_allclose(report.loc[names, "precision"], p)
    np.testing.assert_allclose(report.loc[names, "recall"], r)
    np.testing.assert_allclose(report.loc[names, "f1"], f)
    np.testing.assert_array_equal(report.loc[names, "support"], s)
    assert report.loc["macro avg", "f1"] == pytest.approx(skm.f1_score(Y_TRUE, Y_PRED, average="macro"))
    assert report.loc["weighted avg", "recall"] == pytest.approx(skm.recall_score(Y_TRUE, Y_PRED, average="weighted"))
    assert report.loc["macro avg", "support"] == 300
    assert list(report.columns) == ["precision", "recall", "f1", "support"] and report.index.name == "class"


def test_classification_report_without_averages_and_without_names():
    report = evaluation.classification_report([0, 1, 1, 2], [0, 1, 2, 2], averages=False)
    assert list(report.index) == ["0", "1", "2"]


def test_a_class_never_predicted_scores_zero_not_nan():
    scores = evaluation.precision_recall_f1(evaluation.confusion_matrix([0, 1, 2, 2], [0, 1, 1, 1], num_classes=3))
    assert scores["precision"][2] == 0 and scores["recall"][2] == 0 and scores["f1"][2] == 0
    assert not np.any(np.isnan(scores["precision"]))


def test_report_and_metric_errors():
    with pytest.raises(ValueError, match="class_names has 2 names but there are 3 classes"):
        evaluation.classification_report([0, 1, 2], [0, 1, 2], ["a", "b"], num_classes=3)
    with pytest.raises(ValueError, match="square"):
        evaluation.precision_recall_f1(np.ones((2, 3)))
    with pytest.raises(ValueError, match="non-negative counts"):
        evaluation.precision_recall_f1(np.array([[1, -1], [0, 2]]))


def test_most_confused_pairs_sorted_and_named():
    cm = np.array([[50, 3, 0], [7, 40, 3], [0, 3, 10]])
    pairs = evaluation.most_confused_pairs(cm, k=3, class_names=["cat", "dog", "fox"])
    assert list(pairs.columns) == ["true", "predicted", "true_name", "predicted_name", "count", "share"]
    assert pairs.iloc[0][["true", "predicted", "count"]].tolist() == [1, 0, 7]
    # ties on count: the larger share (3 of 13 fox images) comes first
    assert pairs.iloc[1][["true_name", "predicted_name"]].tolist() == ["fox", "dog"]
    assert pairs.iloc[1]["share"] == pytest.approx(3 / 13)
    assert len(evaluation.most_confused_pairs(cm, k=10)) == 4  # only non-zero off-diagonal cells
    assert evaluation.most_confused_pairs(np.diag([5, 5]), k=3).empty


def test_most_confused_pairs_errors():
    with pytest.raises(ValueError, match="k must be a positive integer. Received: k=0"):
        evaluation.most_confused_pairs(np.eye(2), k=0)
    with pytest.raises(ValueError, match="class_names has 1 names but cm has 2 classes"):
        evaluation.most_confused_pairs(np.eye(2), class_names=["x"])


def test_confusion_examples():
    idx = evaluation.confusion_examples([1, 0, 1, 1, 1], [0, 0, 0, 1, 0], 1, 0, n=2)
    np.testing.assert_array_equal(idx, [0, 2])
    with pytest.raises(ValueError, match="n must be a positive integer. Received: n=0"):
        evaluation.confusion_examples([1], [0], 1, 0, n=0)


def _brute_force_ece(probs, y, n_bins):
    conf, correct = probs.max(1), probs.argmax(1) == y
    edges = np.linspace(0, 1, n_bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = (conf > lo) & (conf <= hi) if lo > 0 else (conf >= lo) & (conf <= hi)
        if in_bin.any():
            total += in_bin.sum() / len(y) * abs(correct[in_bin].mean() - conf[in_bin].mean())
    return total


def test_calibration_bins_and_ece():
    probs = rng.dirichlet(np.ones(4) * 0.5, size=400)
    y = rng.integers(0, 4, size=400)
    cal = evaluation.calibration(probs, y, n_bins=10)
    assert cal.n_bins == 10 and cal.count.sum() == 400 and len(cal.bin_edges) == 11
    assert cal.ece == pytest.approx(_brute_force_ece(probs, y, 10))
    assert evaluation.expected_calibration_error(probs, y, n_bins=10) == pytest.approx(cal.ece)
    assert cal.mean_confidence == pytest.approx(probs.max(1).mean())
    assert cal.overall_accuracy == pytest.approx(np.mean(probs.argmax(1) == y))
    assert cal.mce >= cal.ece
    empty = cal.count == 0
    assert np.all(np.isnan(cal.accuracy[empty])) and not np.any(np.isnan(cal.accuracy[~empty]))
    frame = cal.to_frame()
    assert len(frame) == (~empty).sum() and set(frame.columns) >= {"count", "confidence", "accuracy", "gap"}
    assert "ECE" in str(cal)


def test_a_perfectly_calibrated_toy_has_zero_ece_and_an_overconfident_one_does_not():
    # Two bins: 0.95 confidence with 95 % right, 0.65 with 65 % right.
    probs = np.array([[0.95, 0.05]] * 20 + [[0.65, 0.35]] * 20)
    y = np.array([0] * 19 + [1] + [0] * 13 + [1] * 7)
    assert evaluation.calibration(probs, y).ece == pytest.approx(0.0, abs=1e-12)
    overconfident = np.array([0] * 10 + [1] * 10 + [0] * 13 + [1] * 7)  # 50 % right at 95 %
    assert evaluation.calibration(probs, overconfident).ece == pytest.approx(0.5 * 0.45, abs=1e-12)


def test_confidence_exactly_on_a_bin_edge_goes_to_the_lower_bin():
    cal = evaluation.calibration(np.array([[0.5, 0.5], [1.0, 0.0]]), [0, 0], n_bins=2)
    np.testing.assert_array_equal(cal.count, [1, 1])


def test_calibration_errors():
    with pytest.raises(ValueError, match="softmax output, not logits"):
        evaluation.calibration(np.array([[2.0, -1.0]]), [0])
    with pytest.raises(ValueError, match="must sum to 1"):
        evaluation.calibration(np.array([[0.2, 0.2]]), [0])
    with pytest.raises(ValueError, match=r"shape \(N, num_classes\)"):
        evaluation.calibration(np.array([0.2, 0.8]), [0])
    with pytest.raises(ValueError, match="n_bins must be a positive integer. Received: n_bins=0"):
        evaluation.calibration(np.array([[0.2, 0.8]]), [0], n_bins=0)
    with pytest.raises(ValueError, match=r"class ids in \[0, 2\)"):
        evaluation.calibration(np.array([[0.2, 0.8]]), [2])


def test_predict_proba_shape_and_errors(seeded):
    model = models.simple_cnn((8, 8, 1), 3, filters=(4,), dense_units=0, batch_norm=False)
    probs = evaluation.predict_proba(model, np.zeros((5, 8, 8, 1), np.float32))
    assert probs.shape == (5, 3) and np.allclose(probs.sum(1), 1, atol=1e-5)
    with pytest.raises(ValueError, match=r"expects images of shape \(8, 8, 1\)"):
        evaluation.predict_proba(model, np.zeros((2, 28, 28, 1)))


def test_cross_entropy_is_the_data_term_without_the_penalty(tiny):
    ds = tiny
    # a huge penalty: Keras's evaluate() loss would include it
    model = regularization.overfitting_cnn(ds.input_shape, ds.num_classes, filters=(4,), dense_units=8, l2=10.0)
    model.compile(loss="sparse_categorical_crossentropy")
    probs = model.predict(ds.x_val, verbose=0)
    expected = -np.mean(np.log(probs[np.arange(len(ds.y_val)), ds.y_val]))
    assert evaluation.cross_entropy(model, ds.x_val, ds.y_val) == pytest.approx(expected, rel=1e-5)
    assert model.evaluate(ds.x_val, ds.y_val, verbose=0) > expected + 1.0
    with pytest.raises(ValueError, match="one probability per class"):
        evaluation.cross_entropy(model, ds.x_val, np.full(len(ds.y_val), ds.num_classes + 4))  # no such class
    with pytest.raises(ValueError, match="labels but there are"):
        evaluation.cross_entropy(model, ds.x_val, ds.y_val[:3])


# -- dropout at training and inference time -------------------------------------------------------


# ----------------------------------------------------------------------------------------------
# Temperature scaling (06_monitoring_evaluation).


def _synthetic_logits(n=20_000, k=10, seed=1):
    """Logits whose softmax is the true label distribution: labels drawn from it are calibrated."""
    gen = np.random.default_rng(seed)
    logits = gen.normal(0.0, 2.5, size=(n, k))
    probs = evaluation.apply_temperature(logits, 1.0, kind="logits")
    y = (probs.cumsum(axis=1) > gen.uniform(size=(n, 1))).argmax(axis=1)
    return logits, y


@pytest.mark.parametrize("true_t", [0.5, 1.0, 2.0, 3.0])
def test_fit_temperature_recovers_a_known_temperature(true_t):
    logits, y = _synthetic_logits()
    # The model's logits are the calibrated ones times true_t: dividing by true_t calibrates them.
    fitted = evaluation.fit_temperature(logits * true_t, y, kind="logits")
    assert fitted == pytest.approx(true_t, rel=0.05)


def test_fit_temperature_on_probabilities_equals_the_fit_on_their_logits():
    logits, y = _synthetic_logits(n=5_000)
    probs = evaluation.apply_temperature(logits * 2.0, 1.0, kind="logits")
    from_probs = evaluation.fit_temperature(probs, y)  # auto: rows are probabilities
    assert from_probs == pytest.approx(evaluation.fit_temperature(logits * 2.0, y, kind="logits"), rel=1e-3)


def test_fitted_temperature_lowers_the_nll_and_the_ece_of_an_overconfident_model():
    logits, y = _synthetic_logits()
    before = evaluation.apply_temperature(logits * 3.0, 1.0, kind="logits")
    t = evaluation.fit_temperature(before, y)
    after = evaluation.apply_temperature(before, t)
    assert evaluation.negative_log_likelihood(after, y) < evaluation.negative_log_likelihood(before, y)
    assert evaluation.expected_calibration_error(after, y) < evaluation.expected_calibration_error(before, y) / 3


def test_temperature_one_is_the_identity_and_no_temperature_changes_the_argmax():
    logits, _ = _synthetic_logits(n=500)
    probs = evaluation.apply_temperature(logits, 1.0, kind="logits")
    np.testing.assert_allclose(evaluation.apply_temperature(probs, 1.0), probs, atol=1e-12)
    for t in (0.1, 0.7, 4.0, 19.0):
        scaled = evaluation.apply_temperature(probs, t)
        np.testing.assert_allclose(scaled.sum(axis=1), 1.0)
        np.testing.assert_array_equal(scaled.argmax(axis=1), probs.argmax(axis=1))
    assert evaluation.apply_temperature(probs, 4.0).max(axis=1).mean() < probs.max(axis=1).mean()


def test_negative_log_likelihood():
    probs = np.array([[0.5, 0.5], [0.9, 0.1]])
    assert evaluation.negative_log_likelihood(probs, [0, 0]) == pytest.approx(-(np.log(0.5) + np.log(0.9)) / 2)


def test_temperature_errors():
    logits, y = _synthetic_logits(n=50)
    with pytest.raises(ValueError, match="temperature must be a positive number"):
        evaluation.apply_temperature(logits, 0.0, kind="logits")
    with pytest.raises(ValueError, match="temperature must be a positive number"):
        evaluation.apply_temperature(logits, float("nan"), kind="logits")
    with pytest.raises(ValueError, match=r"shape \(N, num_classes\)"):
        evaluation.fit_temperature(logits[:, 0], y)
    with pytest.raises(ValueError, match="must be finite"):
        evaluation.fit_temperature(np.full((3, 2), np.nan), [0, 1, 0])
    with pytest.raises(ValueError, match="y_true has 49 labels but there are 50 images"):
        evaluation.fit_temperature(logits, y[:-1], kind="logits")
    with pytest.raises(ValueError, match="y_true must be class ids"):
        evaluation.fit_temperature(logits, np.full(50, 10), kind="logits")
    with pytest.raises(ValueError, match="kind='probs' but the rows are not probabilities"):
        evaluation.fit_temperature(logits, y, kind="probs")
    with pytest.raises(ValueError, match="kind must be one of"):
        evaluation.fit_temperature(logits, y, kind="softmax")
    with pytest.raises(ValueError, match="0 < low < high"):
        evaluation.fit_temperature(logits, y, kind="logits", bounds=(2.0, 1.0))
