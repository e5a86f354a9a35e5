"""02_data_preparation's figures: each returns a Figure with a title and labelled axes, and rejects bad input."""

import numpy as np
import pytest

from helpers import augment, data, pipelines, plots


def _labelled(fig):
    assert fig._suptitle is not None or any(ax.get_title() for ax in fig.axes)
    return fig


def test_plot_pixel_histogram():
    x = np.random.default_rng(0).random((4, 8, 8, 1))
    fig = _labelled(plots.plot_pixel_histogram({"raw": x * 255, "scaled": x}, title="pixels"))
    assert fig._suptitle.get_text() == "pixels" and len(fig.axes) == 2
    assert fig.axes[0].get_xlabel() == "pixel value" and "log" in fig.axes[0].get_ylabel()
    assert "mean" in fig.axes[1].texts[0].get_text()


def test_plot_pixel_histogram_samples_a_large_colour_batch_but_keeps_its_statistics():
    x = np.random.default_rng(1).integers(0, 256, size=(40, 32, 24, 3)).astype(np.uint8)  # 92,160 pixels
    small = plots.plot_pixel_histogram({"all": x})
    large = plots.plot_pixel_histogram({"sampled": x}, max_values=10_000)
    exact = f"mean {x.mean():.3g}\nstd {x.std():.3g}\nrange [0, 255]"
    assert small.axes[0].texts[0].get_text() == exact == large.axes[0].texts[0].get_text()
    assert "sample of 10,000" in large.axes[0].get_ylabel() and "sample" not in small.axes[0].get_ylabel()
    counts = sum(patch.get_height() for patch in large.axes[0].patches)
    assert counts == 10_000 and sum(patch.get_height() for patch in small.axes[0].patches) == x.size
    with pytest.raises(ValueError, match="finite pixel values"):
        plots.plot_pixel_histogram({"x": np.r_[np.zeros(20), np.nan]}, max_values=5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"images_by_name": {}}, "is empty"),
        ({"images_by_name": {"x": np.array([np.nan])}}, "finite pixel values"),
        ({"images_by_name": {"x": np.ones(3)}, "bins": 1}, "Received: bins=1"),
    ],
)
def test_plot_pixel_histogram_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        plots.plot_pixel_histogram(**kwargs)


def test_plot_augmentations():
    x = np.random.default_rng(0).random((3, 28, 28, 1)).astype(np.float32)
    v = augment.variants(augment.preset("digits"), x, n=4)
    fig = _labelled(plots.plot_augmentations(x, v, [1, 2, 3], data.DIGIT_NAMES, title="aug"))
    assert len(fig.axes) == 3 * 5 and fig.axes[0].get_title() == "original"
    assert fig.axes[0].get_ylabel() == "1" and fig.axes[4].get_title() == "variant 4"


def test_plot_augmentations_rejects_mismatched_shapes():
    x = np.zeros((3, 28, 28, 1))
    with pytest.raises(ValueError, match="helpers.augment.variants"):
        plots.plot_augmentations(x, np.zeros((3, 28, 28, 1)))
    with pytest.raises(ValueError, match="do not match images"):
        plots.plot_augmentations(x, np.zeros((2, 4, 28, 28, 1)))


def test_plot_per_class_accuracy():
    y = np.array([0, 0, 1, 1, 2, 2])
    fig = plots.plot_per_class_accuracy({"a": (y, y), "b": (y, np.zeros(6))}, ["x", "y", "z"], title="acc")
    ax = fig.axes[0]
    assert ax.get_title() == "acc" and ax.get_ylabel() == "accuracy" and ax.get_xlabel() == "true class"
    heights = [p.get_height() for p in ax.patches]
    assert heights == [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    assert "overall 33%" in ax.get_legend().get_texts()[1].get_text()


def test_plot_per_class_accuracy_rejects_bad_input():
    with pytest.raises(ValueError, match="is empty"):
        plots.plot_per_class_accuracy({}, ["a"])
    with pytest.raises(ValueError, match="same length"):
        plots.plot_per_class_accuracy({"a": ([0, 1], [0])}, ["a", "b"])


def test_plot_throughput_accepts_floats_and_throughput_results():
    rates = {"naive": 1000.0, "cached": pipelines.Throughput(5000.0, (5000.0,), 64)}
    fig = plots.plot_throughput(rates, title="speed")
    ax = fig.axes[0]
    assert ax.get_title() == "speed" and ax.get_xlabel() == "images per second"
    assert {t.get_text() for t in ax.get_yticklabels()} == {"cached", "naive"}
    assert ax.patches[0].get_y() > ax.patches[1].get_y()  # the first entry is drawn on top
    assert sorted(p.get_width() for p in ax.patches) == [1000.0, 5000.0]


@pytest.mark.parametrize("rates", [{}, {"a": -1.0}, {"a": float("nan")}])
def test_plot_throughput_rejects_bad_rates(rates):
    with pytest.raises(ValueError):
        plots.plot_throughput(rates)
