"""helpers.plots.interpret: attribution maps over their images, in a grid or one column per method."""

import numpy as np
import pytest

from helpers import plots
from helpers.plots.interpret import _COLORBAR_LABEL, _scaled


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(5, 8, 8, 1))
    maps = rng.uniform(size=(5, 8, 8))
    return images, maps


def _panels(fig):
    """The image axes (the colour bar's axes excluded)."""
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


def _colorbar(fig):
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(bars) == 1
    return bars[0]


def test_one_array_draws_a_grid_of_overlays(batch):
    images, maps = batch
    fig = plots.plot_attribution_grid(images, maps, labels=[0, 1, 2, 1, 0], predictions=[0, 1, 1, 1, 0], cols=3)
    panels = _panels(fig)
    assert len(panels) == 6  # 2 rows x 3 columns, the last one empty
    assert [len(ax.images) for ax in panels] == [2, 2, 2, 2, 2, 0]  # image + map
    assert panels[2].get_title() == "1 (true 2)" and panels[2].title.get_color() == "red"
    assert panels[0].get_title() == "0 (true 0)" and panels[0].title.get_color() == "black"
    assert fig._suptitle.get_text() == "What the network looks at"
    assert _colorbar(fig).get_ylabel() == _COLORBAR_LABEL
    overlay = panels[0].images[1]
    assert overlay.get_alpha() == 0.5 and overlay.get_cmap().name == "jet"
    assert overlay.get_array().max() == pytest.approx(1.0)


def test_a_dict_of_methods_draws_one_column_per_method(batch):
    images, maps = batch
    fig = plots.plot_attribution_grid(
        images[:3],
        {"saliency": maps[:3], "grad_cam": maps[:3] ** 2, "custom": maps[:3]},
        labels=[3, 4, 5],
        class_names=[str(k) for k in range(10)],
        title="Three methods",
    )
    panels = _panels(fig)
    assert len(panels) == 3 * 4
    assert [ax.get_title() for ax in panels[:4]] == ["image", "gradient saliency", "Grad-CAM", "custom"]
    assert [len(ax.images) for ax in panels[:4]] == [1, 2, 2, 2]  # the first column is the image alone
    assert [panels[4 * i].get_ylabel() for i in range(3)] == ["3", "4", "5"]
    assert fig._suptitle.get_text() == "Three methods"


def test_colour_images_coarse_maps_and_titles():
    rng = np.random.default_rng(1)
    images = rng.uniform(size=(2, 12, 12, 3))
    grid = rng.uniform(size=(2, 5, 5))  # the occlusion grid: coarser than the image
    fig = plots.plot_attribution_grid(images, grid, titles=["first", "second"], cmap="inferno", alpha=0.3)
    panels = _panels(fig)
    assert [ax.get_title() for ax in panels] == ["first", "second"]
    image, overlay = panels[0].images
    assert image.get_array().shape == (12, 12, 3)
    assert overlay.get_extent() == image.get_extent()  # stretched over the whole image
    assert overlay.get_cmap().name == "inferno" and overlay.get_alpha() == 0.3


def test_maps_are_scaled_per_map_and_negative_values_are_not_drawn():
    m = np.array([[-2.0, 0.0], [1.0, 4.0]])
    np.testing.assert_allclose(_scaled(m), [[0.0, 0.0], [0.25, 1.0]])
    np.testing.assert_array_equal(_scaled(-np.ones((2, 2))), np.zeros((2, 2)))


def test_max_images_limits_the_grid(batch):
    images, maps = batch
    fig = plots.plot_attribution_grid(images, {"saliency": maps}, max_images=2)
    assert len(_panels(fig)) == 2 * 2


def test_bad_input_is_refused(batch):
    images, maps = batch
    with pytest.raises(ValueError, match="one map per image"):
        plots.plot_attribution_grid(images, maps[:3])
    with pytest.raises(ValueError, match=r"maps\['saliency'\] must have shape"):
        plots.plot_attribution_grid(images, {"saliency": maps[..., None]})
    with pytest.raises(ValueError, match="non-empty batch"):
        plots.plot_attribution_grid(images[..., 0][0], maps)
    with pytest.raises(ValueError, match="labels must have one entry per image"):
        plots.plot_attribution_grid(images, maps, labels=[1, 2])
    with pytest.raises(ValueError, match="cmap must be a matplotlib colour map"):
        plots.plot_attribution_grid(images, maps, cmap="rainbows")
    with pytest.raises(ValueError, match="alpha must be in"):
        plots.plot_attribution_grid(images, maps, alpha=1.5)
    with pytest.raises(ValueError, match="NaN"):
        plots.plot_attribution_grid(images, np.full_like(maps, np.nan))
    with pytest.raises(ValueError, match="maps is empty"):
        plots.plot_attribution_grid(images, {})
