"""Figures of 07_transfer_learning: titles, labels, one line per strategy, clear errors."""

import keras
import numpy as np
import pandas as pd
import pytest

from helpers import plots, transfer


def _history(values):
    h = keras.callbacks.History()
    h.history = {"loss": list(1 - np.asarray(values)), "val_accuracy": list(values)}
    return h


def test_plot_label_efficiency():
    results = {"from scratch": {20: 0.7, 50: 0.9}, "fine-tuning": {20: 0.85, 50: 0.92}}
    fig = plots.plot_label_efficiency(results, highlight=20)
    ax = fig.axes[0]
    assert ax.get_title() and "labelled" in ax.get_xlabel() and ax.get_ylabel() == "validation accuracy"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["20", "50"]
    assert {line.get_label() for line in ax.get_lines()} >= {"from scratch", "fine-tuning", "20 labels"}
    table = pd.DataFrame(
        {"name": ["a", "a", "b"], "seed": 1, "train_size": [20, 50, 20], "val_accuracy": [0.7, 0.9, 0.8]}
    )
    lines = {
        line.get_label(): list(line.get_ydata()) for line in plots.plot_label_efficiency(table).axes[0].get_lines()
    }
    assert lines == {"a": [0.7, 0.9], "b": [0.8]}
    with pytest.raises(ValueError, match="non-empty"):
        plots.plot_label_efficiency({"a": {}})


def test_plot_label_efficiency_draws_the_mean_and_the_range_over_draws():
    table = pd.DataFrame(
        {
            "name": ["a"] * 4 + ["b"] * 2,
            "seed": [1, 2, 1, 2, 1, 2],
            "train_size": [20, 20, 50, 50, 20, 20],
            "val_accuracy": [0.6, 0.8, 0.9, 0.9, 0.5, 0.5],
        }
    )
    ax = plots.plot_label_efficiency(table).axes[0]
    lines = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}
    assert lines["a"] == pytest.approx([0.7, 0.9]) and lines["b"] == [0.5]
    (band,) = ax.collections  # only "a" varies between draws
    lows, highs = band.get_paths()[0].vertices[:, 1].min(), band.get_paths()[0].vertices[:, 1].max()
    assert (lows, highs) == pytest.approx((0.6, 0.9))
    assert "range over draws" in ax.get_ylabel()
    with pytest.raises(ValueError, match="non-empty"):
        plots.plot_label_efficiency({})


def test_plot_trainable_colours_frozen_layers(seeded):
    source = transfer.SourceSpec(name="plot", filters=(4, 8, 8)).build((16, 16, 1), 10)
    model = transfer.with_new_head(transfer.feature_extractor(source), 3)
    fig = plots.plot_trainable(model)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "block1_conv1" and labels[-1] == "new_predictions"
    colours = [bar.get_facecolor() for bar in ax.patches]
    assert colours[-1] != colours[0]  # the head trains, the base does not
    assert "27 trainable" in ax.get_title() and ax.get_xlabel()


def test_plot_transfer_curves_concatenates_stages():
    fig = plots.plot_transfer_curves(
        {"scratch": _history([0.1, 0.2, 0.3]), "fine-tuning": [_history([0.4, 0.5]), _history([0.6, 0.7, 0.8])]}
    )
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert len(lines["fine-tuning"].get_xdata()) == 5 and len(lines["scratch"].get_xdata()) == 3
    assert ax.get_title() and ax.get_xlabel() == "epoch" and ax.get_ylabel() == "val accuracy"
    with pytest.raises(ValueError, match="has no 'accuracy'"):
        plots.plot_transfer_curves({"a": _history([0.1])}, metric="accuracy")
    with pytest.raises(ValueError, match="runs is empty"):
        plots.plot_transfer_curves({})
