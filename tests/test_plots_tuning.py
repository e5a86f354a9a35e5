"""Figures of 09_hyperparameter_search, on results tables shaped like tuning.results_table's."""

import matplotlib
import numpy as np
import pandas as pd
import pytest

from helpers import plots


def _results(n=6, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "trial": range(n),
            "filters": rng.choice([8, 16, 32], n),
            "batch_norm": rng.choice([True, False], n),
            "head": rng.choice(["flatten", "gap"], n),
            "learning_rate": 10 ** rng.uniform(-4, -2, n),
            "score": rng.uniform(0.5, 0.95, n),
            "epochs": rng.integers(1, 6, n).astype(float),
            "seconds": rng.uniform(1, 5, n),
            "status": "COMPLETED",
        }
    )
    df.loc[2, ["score", "epochs", "seconds"]] = np.nan
    df.loc[2, "status"] = "FAILED"
    df["best_so_far"] = df["score"].cummax().ffill()
    df["cum_epochs"] = df["epochs"].fillna(0).cumsum()
    df["cum_seconds"] = df["seconds"].fillna(0).cumsum()
    df.attrs.update(
        hyperparameters=["filters", "batch_norm", "head", "learning_rate"], objective="val_accuracy", direction="max"
    )
    return df


def _titled(fig):
    assert isinstance(fig, matplotlib.figure.Figure)
    titles = [ax.get_title() for ax in fig.axes] + [fig._suptitle.get_text() if fig._suptitle else ""]
    assert any(titles)
    labelled = [ax for ax in fig.axes if ax.get_xlabel() or ax.get_ylabel()]
    assert labelled
    return fig


def test_plot_trial_scores_marks_the_best_and_the_failed():
    fig = _titled(plots.plot_trial_scores(_results(), title="scores"))
    ax = fig.axes[0]
    assert ax.get_title() == "scores" and ax.get_ylabel() == "val_accuracy" and ax.get_xlabel() == "trial"
    assert "failed" in [t.get_text() for t in ax.texts]
    assert len(ax.patches) == 6


def test_plot_best_so_far_has_three_compute_axes():
    fig = _titled(plots.plot_best_so_far({"random": _results(), "bayesian": _results(seed=1)}))
    assert [ax.get_xlabel() for ax in fig.axes] == [
        "trials finished",
        "epochs trained (cumulative)",
        "training seconds (cumulative)",
    ]
    assert fig.axes[0].get_ylabel() == "best val_accuracy so far"
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["random", "bayesian"]
    with pytest.raises(ValueError, match="runs is empty"):
        plots.plot_best_so_far({})


def test_plot_parallel_coordinates_and_effects():
    fig = _titled(plots.plot_parallel_coordinates(_results(8)))
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == ["filters", "batch_norm", "head", "learning_rate (log)", "val_accuracy"]
    fig = _titled(plots.plot_hyperparameter_effects(_results(8)))
    assert [ax.get_xlabel() for ax in fig.axes[:4]] == ["filters", "batch_norm", "head", "learning_rate"]
    assert fig.axes[3].get_xscale() == "log"


def test_plots_reject_bad_input():
    with pytest.raises(TypeError, match="must be a table from tuning.results_table"):
        plots.plot_trial_scores({"score": [1]})
    with pytest.raises(ValueError, match="is empty"):
        plots.plot_trial_scores(_results().iloc[:0])
    bare = _results()
    bare.attrs = {}
    with pytest.raises(ValueError, match="no hyperparameter columns"):
        plots.plot_parallel_coordinates(bare)
    with pytest.raises(ValueError, match="no hyperparameter columns"):
        plots.plot_hyperparameter_effects(bare)
