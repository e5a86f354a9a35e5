"""The 10 figures: titles, labels, the artists that carry the message, and bad input refused."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

from helpers import diagnostics, plots


def _title(fig) -> str:
    return fig._suptitle.get_text() if fig._suptitle is not None else fig.axes[0].get_title()


def test_plot_batch_shows_labels_and_the_value_range():
    x = np.random.default_rng(0).uniform(0, 255, size=(10, 8, 8, 1)).astype(np.float32)
    x[0, 0, 0, 0], x[1, 0, 0, 0] = 0.0, 255.0
    fig = plots.plot_batch(x, np.arange(10) % 3, ["cat", "dog", "eel"], n=6, cols=3)
    assert len(fig.axes) == 6 and [ax.get_title() for ax in fig.axes[:3]] == ["cat", "dog", "eel"]
    assert "values in [0, 255]" in _title(fig) and "10 images 8x8x1" in _title(fig)
    image = fig.axes[1].images[0]
    assert image.get_clim() == (0.0, 255.0)  # one shared scale for the whole batch, not per image


def test_plot_batch_colour_one_hot_labels_and_no_labels():
    x = np.random.default_rng(1).normal(size=(4, 6, 6, 3)).astype(np.float32)  # standardized: around 0
    fig = plots.plot_batch(x, np.eye(3)[[2, 0, 1, 2]], n=16)
    assert len(fig.axes) == 4 and [ax.get_title() for ax in fig.axes] == ["2", "0", "1", "2"]
    rgb = fig.axes[0].images[0].get_array()
    assert rgb.shape == (6, 6, 3) and rgb.min() >= 0 and rgb.max() <= 1
    assert f"[{x.min():.3g}, {x.max():.3g}]" in _title(fig)
    fig = plots.plot_batch(x[..., :1], title="Mine")
    assert _title(fig) == "Mine" and all(ax.get_title() == "" for ax in fig.axes)


def test_plot_batch_errors():
    with pytest.raises(ValueError, match="1 or 3 channels"):
        plots.plot_batch(np.zeros((2, 4, 4, 2)))
    with pytest.raises(ValueError, match="non-empty"):
        plots.plot_batch(np.zeros((0, 4, 4, 1)))
    with pytest.raises(ValueError, match="one label per image"):
        plots.plot_batch(np.zeros((4, 4, 4, 1)), [0, 1])


def _stats_table():
    rows = []
    for step in (10, 20, 30):
        for layer, scale in (("conv1", 1.0), ("dense", 2.0)):
            rows += [
                (step, layer, "gradient_norm", 0.1 * scale),
                (step, layer, "activation_mean", 0.3),
                (step, layer, "activation_std", 0.5),
                (step, layer, "dead_fraction", 0.05 * scale),
                (step, layer, "update_ratio", 1e-3 * scale),
            ]
    return pd.DataFrame(rows, columns=["step", "layer", "statistic", "value"])


def test_plot_training_stats_draws_a_panel_per_statistic_and_a_line_per_layer():
    fig = plots.plot_training_stats(_stats_table())
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == [s.replace("_", " ") for s in diagnostics.STATISTICS]
    ratio = panels[-1]
    assert ratio.get_yscale() == "log" and panels[0].get_yscale() == "log" and panels[1].get_yscale() == "linear"
    assert [line.get_label() for line in ratio.lines] == ["conv1", "dense", "healthy ~1e-3"]
    assert ratio.lines[-1].get_ydata()[0] == pytest.approx(1e-3)
    assert all(ax.get_xlabel() == "training step" and ax.get_ylabel() for ax in panels)
    colours = {to_hex(ax.lines[1].get_color()) for ax in panels}
    assert len(colours) == 1  # the same colour for a layer in every panel
    assert _title(fig) == "Inside the training run"
    fig = plots.plot_training_stats(_stats_table(), statistics=["update_ratio"], title="t")
    assert len(fig.axes) == 1 and _title(fig) == "t"


def test_plot_training_stats_takes_the_callback_and_refuses_bad_input():
    class Recorded:
        def table(self):
            return _stats_table()

    assert len(plots.plot_training_stats(Recorded()).axes) == 6  # 5 panels and one blank
    with pytest.raises(TypeError, match="TrainingStats"):
        plots.plot_training_stats({"loss": [1, 2]})
    with pytest.raises(ValueError, match="Nothing was recorded"):
        plots.plot_training_stats(_stats_table().iloc[:0])
    with pytest.raises(ValueError, match="No records of"):
        plots.plot_training_stats(_stats_table(), statistics=["loss"])


def test_plot_baselines_bars_and_model_scores():
    table = pd.DataFrame(
        {"baseline": ["majority class", "logistic regression"], "val_accuracy": [0.1, 0.88], "how": ["", ""]}
    )
    fig = plots.plot_baselines(table, model_scores={"course CNN": 0.97})
    ax = fig.axes[0]
    assert len(ax.patches) == 3 and ax.get_xlabel() == "validation accuracy" and ax.get_title() == "Dumb baselines"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["majority class", "logistic regression", "course CNN"]
    assert {t.get_text() for t in ax.texts} == {"10.0%", "88.0%", "97.0%"}
    assert ax.patches[2].get_facecolor() != ax.patches[0].get_facecolor()
    with pytest.raises(ValueError, match="diagnostics.baselines"):
        plots.plot_baselines(pd.DataFrame({"x": [1]}))


def _result(losses, passed):
    losses = np.asarray(losses, dtype=float)
    return diagnostics.OverfitResult(
        passed=passed, steps_to_target=len(losses) if passed else None, final_loss=float(losses[-1]),
        losses=losses, target_loss=0.05, steps=300, n=16, learning_rate=1e-3, optimizer="Adam",
        label_entropy=2.2, hints=[], seconds=1.0,
    )  # fmt: skip


def test_plot_overfit_compares_runs_against_the_target():
    runs = {"healthy": _result([2.3, 0.5, 0.04], True), "frozen": _result([2.3] * 5, False)}
    fig = plots.plot_overfit(runs)
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.lines]
    assert labels == ["healthy: passed in 3 steps", "frozen: failed", "target loss 0.05"]
    assert ax.get_yscale() == "log" and ax.get_xlabel() and ax.get_ylabel() and ax.get_title() == "Overfit one batch"
    assert len(plots.plot_overfit(runs["healthy"]).axes[0].lines) == 2
    with pytest.raises(TypeError, match="OverfitResult"):
        plots.plot_overfit({"x": [1, 2]})
    with pytest.raises(ValueError, match="non-empty"):
        plots.plot_overfit({})
