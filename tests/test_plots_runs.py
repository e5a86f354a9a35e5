"""The figure of a comparison of runs: one row per variant, dots per seed, the gap, clear errors."""

import numpy as np
import pandas as pd
import pytest

from helpers import plots

RESULTS = pd.DataFrame(
    {
        "name": ["baseline", "baseline", "both", "both"],
        "seed": [1, 2, 1, 2],
        "train_accuracy": [1.0, 1.0, 0.97, 0.98],
        "val_accuracy": [0.9, 0.91, 0.95, 0.96],
    }
)


def test_run_results_mark_each_seed_and_the_mean():
    fig = plots.plot_run_results(RESULTS, reference=0.905, show_gap=False, title="Fixes compared on the same seeds")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["both", "baseline"]  # first variant on top
    assert len(ax.collections) == 6  # per variant: the gap lines, train dots and val dots
    assert ax.get_title() == "Fixes compared on the same seeds" and "accuracy" in ax.get_xlabel()
    assert [t.get_text() for t in ax.texts] == ["90.5%", "95.5%"]
    assert any(line.get_label().startswith("reference") for line in ax.get_lines())


def test_run_results_accept_row_dicts_and_runs(make_run):
    fig = plots.plot_run_results(RESULTS.to_dict("records"))
    assert fig.axes[0].get_ylabel() == "variant"
    fig = plots.plot_run_results({"a": make_run("a", 1.0, 0.9)})
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["a"]


def test_run_results_gap_bars_and_test_crosses():
    table = RESULTS.assign(test_accuracy=[0.89, 0.9, 0.94, 0.95])
    fig = plots.plot_run_results(table)
    ax, ax_gap = fig.axes
    assert ax_gap.get_xlabel() == "train - val accuracy (mean)"
    labels = {t.get_text(): t.get_position()[1] for t in ax.get_yticklabels()}
    assert labels["baseline"] > labels["both"]  # the first variant is on top
    widths = sorted(round(p.get_width(), 6) for p in ax_gap.patches)
    assert widths == [0.02, 0.095]
    assert "test" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert ax_gap.get_title() == "Gap (dotted: baseline)"


def test_run_results_without_test():
    fig = plots.plot_run_results(RESULTS)
    assert "test" not in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


@pytest.mark.parametrize(
    ("table", "error", "match"),
    [
        (RESULTS.drop(columns="val_accuracy"), ValueError, "no column 'val_accuracy'"),
        (RESULTS.iloc[:0], ValueError, "empty"),
        ("results", TypeError, "Run objects or row dicts"),
        ([], ValueError, "at least one run"),
    ],
)
def test_run_results_reject_bad_tables(table, error, match):
    with pytest.raises(error, match=match):
        plots.plot_run_results(table)


def test_seed_comparison_from_scores():
    fig = plots.plot_seed_comparison({"sgd": [0.95, 0.96, 0.955], "adam": [0.97]}, metric="validation accuracy")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["sgd", "adam"]
    assert any("mean 0.955" in t.get_text() and "3 seed" in t.get_text() for t in ax.texts)
    assert ax.get_ylabel() == "validation accuracy"
    with pytest.raises(ValueError, match=r"scores\['adam'\] must be a non-empty list of finite numbers"):
        plots.plot_seed_comparison({"adam": [np.nan]})
    with pytest.raises(ValueError, match="scores is empty"):
        plots.plot_seed_comparison({})


def test_seed_comparison_from_a_runs_table():
    fig = plots.plot_seed_comparison(RESULTS, metric="train_accuracy", title="Train accuracy over seeds")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["baseline", "both"]
    assert any("mean 0.975" in t.get_text() for t in ax.texts)  # both: (0.97 + 0.98) / 2
    assert ax.get_ylabel() == "train accuracy" and ax.get_title() == "Train accuracy over seeds"
    with pytest.raises(ValueError, match="no column 'seconds'"):
        plots.plot_seed_comparison(RESULTS, metric="seconds")
