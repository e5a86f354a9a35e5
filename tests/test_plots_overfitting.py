"""Figures of 08_overfitting: titled, labelled, one line per run and measurement, clear errors."""

import pandas as pd
import pytest

from helpers import plots

CURVE = pd.DataFrame(
    {
        "name": ["big"] * 4 + ["tiny"] * 4,
        "seed": [1, 2, 1, 2] * 2,
        "train_size": [250, 250, 1000, 1000] * 2,
        "train_accuracy": [1.0, 1.0, 1.0, 0.99, 0.6, 0.62, 0.61, 0.6],
        "val_accuracy": [0.85, 0.87, 0.94, 0.95, 0.58, 0.6, 0.6, 0.6],
    }
)


def test_training_size_curve_draws_train_and_val_per_model():
    fig = plots.plot_training_size_curve(CURVE)
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["big train", "big val", "tiny train", "tiny val"]
    assert ax.get_title() == "Training-set-size curve" and ax.get_xlabel() == "training examples"
    assert ax.get_ylabel() == "accuracy" and ax.get_xscale() == "log"
    big_val = ax.get_lines()[1]
    assert list(big_val.get_xdata()) == [250, 1000] and list(big_val.get_ydata()) == pytest.approx([0.86, 0.945])
    assert len(ax.collections) == 4  # a min-max band per curve (two seeds)


def test_training_size_curve_single_seed_has_no_band():
    fig = plots.plot_training_size_curve(CURVE[CURVE["seed"] == 1], log_x=False, title="One seed")
    ax = fig.axes[0]
    assert not ax.collections and ax.get_xscale() == "linear" and ax.get_title() == "One seed"


@pytest.mark.parametrize(
    ("fn", "table", "error", "match"),
    [
        (plots.plot_training_size_curve, CURVE.drop(columns="train_size"), ValueError, "no column 'train_size'"),
        (plots.plot_training_size_curve, CURVE.iloc[:0], ValueError, "empty"),
        (plots.plot_training_size_curve, "results", TypeError, "Run objects or row dicts"),
    ],
)
def test_figures_reject_bad_tables(fn, table, error, match):
    with pytest.raises(error, match=match):
        fn(table)
