"""The 06 figures: titles, labels and the errors they raise on bad input."""

import numpy as np
import pytest

from helpers import evaluation, plots

HISTORY = {"loss": [1.0, 0.6, 0.4, 0.3, 0.25, 0.2], "val_loss": [0.9, 0.6, 0.5, 0.55, 0.56, 0.6]}


def test_plot_early_stopping_marks_best_patience_and_stop():
    fig = plots.plot_early_stopping(HISTORY, patience=3)
    ax = fig.axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert "best epoch 3 (weights restored)" in labels and "stopped after epoch 6" in labels
    assert any("patience: 3 epochs" in label for label in labels)
    assert "EarlyStopping" in ax.get_title() and ax.get_xlabel() == "epoch"


def test_plot_early_stopping_on_a_curve_that_never_stalls_and_errors():
    fig = plots.plot_early_stopping({"val_accuracy": [0.5, 0.6, 0.7]}, patience=2, monitor="val_accuracy")
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "best epoch 3 (weights restored)" in labels and not any("stopped" in label for label in labels)
    with pytest.raises(ValueError, match="no 'val_auc'"):
        plots.plot_early_stopping(HISTORY, patience=2, monitor="val_auc")


def test_plot_confusion_matrix_counts_and_normalized():
    cm = np.array([[8, 2, 0], [1, 9, 0], [0, 0, 10]])
    fig = plots.plot_confusion_matrix(cm, ["a", "b", "c"])
    ax = fig.axes[0]
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert "8" in [t.get_text() for t in ax.texts]
    fig = plots.plot_confusion_matrix(cm, normalize=True)
    assert "80%" in [t.get_text() for t in fig.axes[0].texts] and "row-normalized" in fig.axes[0].get_title()


def test_plot_confusion_matrix_errors():
    with pytest.raises(ValueError, match="square"):
        plots.plot_confusion_matrix(np.ones((2, 3)))
    with pytest.raises(ValueError, match="class_names has 1 names"):
        plots.plot_confusion_matrix(np.eye(2), ["x"])


def test_plot_most_confused_rows_and_errors():
    x = np.random.default_rng(0).uniform(size=(6, 8, 8, 1))
    y_true = np.array([1, 1, 1, 2, 0, 2])
    y_pred = np.array([0, 0, 1, 1, 0, 2])
    pairs = evaluation.most_confused_pairs(evaluation.confusion_matrix(y_true, y_pred), k=5)
    fig = plots.plot_most_confused(x, y_true, y_pred, pairs, ["zero", "one", "two"], per_pair=3)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "true one\n-> predicted zero\n2 images" in texts and len(fig.axes) == 2 * 4
    assert "true two\n-> predicted one\n1 image" in texts
    fig = plots.plot_most_confused(x, y_true, y_pred, [(2, 1)], per_pair=2)
    assert len(fig.axes) == 3
    with pytest.raises(ValueError, match="no mistakes"):
        plots.plot_most_confused(x, y_true, y_true, evaluation.most_confused_pairs(np.eye(3)))
    with pytest.raises(ValueError, match="same images"):
        plots.plot_most_confused(x[:2], y_true, y_pred, pairs)


def test_plot_most_confused_shows_colour_images_in_colour():
    """5 classes of non-square RGB images, as a colour folder gives them."""
    x = np.random.default_rng(1).uniform(size=(10, 12, 10, 3))
    y_true = np.arange(10) % 5
    y_pred = y_true.copy()
    y_pred[[0, 5]] = 4  # two images of class 0 taken for class 4
    pairs = evaluation.most_confused_pairs(evaluation.confusion_matrix(y_true, y_pred, num_classes=5), k=2)
    fig = plots.plot_most_confused(x, y_true, y_pred, pairs, [f"c{k}" for k in range(5)], per_pair=2)
    shown = [im.get_array() for ax in fig.axes for im in ax.images]
    assert shown and all(a.shape == (12, 10, 3) for a in shown)
    assert "true c0\n-> predicted c4\n2 images" in [t.get_text() for ax in fig.axes for t in ax.texts]


def test_plot_reliability_diagram_single_and_compared():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), size=200)
    y = rng.integers(0, 3, size=200)
    cal = evaluation.calibration(probs, y)
    fig = plots.plot_reliability_diagram(cal)
    top, bottom = fig.axes
    assert top.get_title() == "Reliability diagram" and bottom.get_xlabel().startswith("confidence")
    assert any(label.startswith("model: ECE") for label in top.get_legend_handles_labels()[1])
    fig = plots.plot_reliability_diagram({"a": cal, "b": cal}, title="Compare")
    assert sum(label.endswith(f"ECE {cal.ece:.1%}") for label in fig.axes[0].get_legend_handles_labels()[1]) == 2
    with pytest.raises(ValueError, match="non-empty dict"):
        plots.plot_reliability_diagram({})
    with pytest.raises(TypeError, match="evaluation.calibration"):
        plots.plot_reliability_diagram({"a": 0.1})
