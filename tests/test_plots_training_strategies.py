"""Figures of 04_training_strategies: they draw what they are given, with titles and labels."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from helpers import loss_surfaces, plots, schedules


def test_plot_optimizer_paths():
    trajectories = loss_surfaces.compare_optimizers("ravine", ("gd", "adam"), steps=5)
    fig = plots.plot_optimizer_paths("ravine", trajectories)
    assert isinstance(fig, Figure)
    ax_map, ax_loss = fig.axes[0], fig.axes[-1]
    labels = [line.get_label() for line in ax_map.get_lines()]
    assert labels == ["gd (lr=0.45)", "adam (lr=0.2)", "start"]
    assert ax_loss.get_yscale() == "log" and ax_loss.get_xlabel() == "step"
    assert len(ax_loss.get_lines()[0].get_xdata()) == 6
    with pytest.raises(ValueError, match="trajectories is empty"):
        plots.plot_optimizer_paths("ravine", {})


GRID = pd.DataFrame(
    {
        "batch_size": [32, 32, 128, 128],
        "learning_rate": [0.01, 0.04, 0.04, 0.16],
        "val_accuracy": [0.9, 0.92, 0.91, 0.93],
        "loss": [0.3, 0.2, 0.31, 0.22],
        "seconds_per_epoch": [2.0, 2.1, 1.0, 1.1],
    }
)


def test_plot_batch_lr_grid_collapses_on_lr_over_batch():
    fig = plots.plot_batch_lr_grid(GRID)
    _, ax_loss, ax_time = fig.axes
    assert ax_loss.get_xlabel() == "learning rate / batch size" and ax_time.get_ylabel() == "seconds per epoch"
    x32, x128 = (line.get_xdata() for line in ax_loss.get_lines())
    np.testing.assert_allclose(x32, x128)  # the grid was built so that lr / batch lines up
    assert [p.get_height() for p in ax_time.patches] == [pytest.approx(2.05), pytest.approx(1.05)]


def test_plot_batch_lr_grid_needs_its_columns():
    with pytest.raises(ValueError, match="Missing: seconds_per_epoch"):
        plots.plot_batch_lr_grid(GRID.drop(columns="seconds_per_epoch"))


class FakeRange:
    learning_rates = np.geomspace(1e-4, 1.0, 20)
    losses = np.linspace(2.3, 0.5, 20) + 0.05
    smoothed_losses = np.concatenate([np.linspace(2.3, 0.5, 15), np.linspace(0.8, 3.0, 5)])


def test_plot_lr_range_test_marks_minimum_and_pick():
    fig = plots.plot_lr_range_test({"adam": FakeRange()}, picks={"adam": 0.01})
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    labels = [line.get_label() for line in ax.get_lines()]
    assert "adam: lowest loss at 0.089" in labels and "adam: picked 0.01" in labels
    assert isinstance(plots.plot_lr_range_test(FakeRange()), Figure)


def test_plot_lr_range_test_errors():
    with pytest.raises(TypeError, match="Pass the result of helpers.schedules.lr_range_test"):
        plots.plot_lr_range_test({"x": object()})
    with pytest.raises(ValueError, match="picks names curves that are not in results: sgd"):
        plots.plot_lr_range_test({"adam": FakeRange()}, picks={"sgd": 0.1})


def test_plot_schedules():
    total = 60
    lr_schedules = {name: schedules.make_schedule(name, 0.1, total) for name in schedules.SCHEDULES}
    fig = plots.plot_schedules(lr_schedules, total, steps_per_epoch=10)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "epoch" and [line.get_label() for line in ax.get_lines()] == list(schedules.SCHEDULES)
    assert ax.get_lines()[0].get_ydata().tolist() == [0.1] * total
    with pytest.raises(ValueError, match="steps_per_epoch must be a positive integer"):
        plots.plot_schedules(lr_schedules, total, steps_per_epoch=0)
