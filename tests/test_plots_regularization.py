"""Figures of 05_regularization: titles, labels, what they mark, and clear errors."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from helpers import plots


def test_weight_histograms_one_panel_per_run_with_the_near_zero_share(make_run):
    rng = np.random.default_rng(0)
    sparse = np.where(np.arange(1000) % 2 == 0, 0.0, 0.01 + np.abs(rng.normal(0, 0.05, 1000)))
    fig = plots.plot_weight_histograms(
        {"dense": rng.normal(0, 0.05, 1000), "sparse": sparse, "run": make_run("r", 1, 1)}, threshold=1e-3
    )
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    assert [ax.get_title() for ax in fig.axes] == ["dense", "sparse", "run"]
    assert fig.axes[0].get_ylabel() == "count (log scale)" and fig.axes[1].get_xlabel() == "weight value"
    texts = [t.get_text() for t in fig.axes[1].texts]
    assert any("1,000 weights" in t and "50% with |w| < 0.001" in t for t in texts)
    assert fig._suptitle.get_text() == "Kernel weights after training"


def test_weight_histograms_without_band_and_bad_input():
    fig = plots.plot_weight_histograms({"a": np.linspace(-1, 1, 50)}, threshold=None, limit=2.0)
    assert not any("|w| <" in t.get_text() for t in fig.axes[0].texts)
    fig = plots.plot_weight_histograms({"a": np.linspace(-1, 1, 50)}, threshold=None, limit=0.5)
    counted = sum(p.get_height() for p in fig.axes[0].patches)
    assert counted == np.sum(np.abs(np.linspace(-1, 1, 50)) <= 0.5)  # outliers left out, not clipped
    assert any("beyond \u00b10.5" in t.get_text() for t in fig.axes[0].texts)
    with pytest.raises(ValueError, match="non-empty dict"):
        plots.plot_weight_histograms({})
    with pytest.raises(ValueError, match="bins must be an integer >= 3"):
        plots.plot_weight_histograms({"a": np.ones(3)}, bins=1)


def test_strength_sweep_has_three_log_panels_and_a_baseline(make_run):
    families = {
        "L2": {1e-4: make_run("a", 1.0, 0.9), 1e-2: make_run("b", 0.95, 0.92)},
        "L1": {1e-5: make_run("c", 1.0, 0.91)},
    }
    fig = plots.plot_strength_sweep(families, baseline=make_run("base", 1.0, 0.88))
    assert len(fig.axes) == 3 and all(ax.get_xscale() == "log" for ax in fig.axes)
    assert fig.axes[0].get_ylabel() == "train/val gap" and fig.axes[2].get_ylabel() == "fraction |w| < 0.001"
    gap_line = next(ln for ln in fig.axes[0].get_lines() if ln.get_label() == "L2")
    np.testing.assert_allclose(gap_line.get_ydata(), [0.1, 0.03])
    assert any(ln.get_label() == "no penalty" for ln in fig.axes[1].get_lines())
    low, high = fig.axes[1].get_ylim()
    assert high - low >= 0.05 - 1e-9  # small differences are not blown up
    assert fig.axes[2].get_ylim() == (-0.02, 1.02)


def test_strength_sweep_explains_bad_input(make_run):
    with pytest.raises(ValueError, match="non-empty dict"):
        plots.plot_strength_sweep({})
    with pytest.raises(ValueError, match="must map strengths to runs"):
        plots.plot_strength_sweep({"L2": {}})
    with pytest.raises(ValueError, match="positive numbers.*logarithmic"):
        plots.plot_strength_sweep({"L2": {0: make_run("a", 1, 1)}})
    with pytest.raises(TypeError, match="must hold Run objects"):
        plots.plot_strength_sweep({"L2": {1e-3: 0.9}})
