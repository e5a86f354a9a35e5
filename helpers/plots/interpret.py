"""Figures for attribution maps (``06_monitoring_evaluation``, ``07_transfer_learning``): what the
network looks at, drawn over the images (the maps come from :mod:`helpers.interpret`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize

from helpers import _validate
from helpers.plots.basics import _image_for_display

__all__ = ["plot_attribution_grid"]

_COLORBAR_LABEL = "importance (per map, 1 = its largest)"


def _scaled(m: np.ndarray) -> np.ndarray:
    """The positive part of a map divided by its maximum: 0 (no evidence for the class) to 1."""
    pos = np.maximum(np.asarray(m, dtype=np.float64), 0.0)
    top = pos.max()
    return pos / top if top > 0 else pos


def _check_maps(maps, n: int) -> dict[str, np.ndarray]:
    as_dict = dict(maps) if isinstance(maps, Mapping) else {"": maps}
    if not as_dict:
        raise ValueError("maps is empty: pass an array (n, height, width) or a dict method -> array.")
    out = {}
    for name, m in as_dict.items():
        arr = np.asarray(m, dtype=np.float64)
        what = f"maps[{name!r}]" if name else "maps"
        if arr.ndim != 3 or len(arr) != n:
            raise ValueError(
                f"{what} must have shape (n, height, width) with n={n} (one map per image). Received {arr.shape}"
            )
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{what} holds NaN or infinite values.")
        out[name] = arr
    return out


def _check_per_image(values, n: int, name: str):
    if values is None:
        return None
    if isinstance(values, str) or len(values) != n:
        raise ValueError(f"{name} must have one entry per image ({n}). Received: {name}={values!r}")
    return list(values)


def _caption(i: int, labels, predictions, class_names, titles) -> tuple[str, str]:
    """The text and colour under image ``i``: red where the prediction is wrong."""
    if titles is not None:
        return str(titles[i]), "black"

    def name(k):
        return str(class_names[int(k)]) if class_names is not None else str(int(k))

    if predictions is not None and labels is not None:
        wrong = int(predictions[i]) != int(labels[i])
        return f"{name(predictions[i])} (true {name(labels[i])})", "red" if wrong else "black"
    if predictions is not None:
        return f"predicted {name(predictions[i])}", "black"
    if labels is not None:
        return name(labels[i]), "black"
    return "", "black"


def _draw(ax, img: np.ndarray, m: np.ndarray | None, *, cmap: str, alpha: float) -> None:
    shown, gray = _image_for_display(img)
    h, w = shown.shape[:2]
    extent = (-0.5, w - 0.5, h - 0.5, -0.5)
    ax.imshow(shown, cmap=gray, extent=extent)
    if m is not None:  # a coarse map (e.g. the occlusion grid) is stretched over the whole image
        ax.imshow(_scaled(m), cmap=cmap, alpha=alpha, vmin=0, vmax=1, extent=extent, interpolation="bilinear")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_attribution_grid(
    images,
    maps,
    *,
    labels: Sequence[int] | None = None,
    predictions: Sequence[int] | None = None,
    class_names: Sequence[str] | None = None,
    titles: Sequence[str] | None = None,
    alpha: float = 0.5,
    cmap: str = "jet",
    max_images: int = 16,
    cols: int = 8,
    title: str = "What the network looks at",
):
    """Attribution maps drawn over their images, grayscale or colour.

    ``maps`` is one array ``(n, height, width)`` (a grid of ``cols`` images, each with its map on
    top) or a dict ``{method: array}`` (one row per image: the image, then one column per method,
    e.g. ``{"saliency": s, "grad_cam": g, "occlusion": o}``; :data:`helpers.interpret.METHOD_TITLES`
    names the columns). Each map is scaled to its own largest value, so the colours compare regions
    within a map, not maps with each other; negative values (evidence against the class, in
    integrated gradients or occlusion) are not drawn: pass ``np.abs(m)`` to show their magnitude.
    A map coarser than the image (the occlusion grid) is stretched over it.

    Args:
        labels, predictions: class per image; with both, the caption is "predicted (true label)",
            red where they differ.
        class_names: names for the class numbers.
        titles: one caption per image instead of the labels.
        alpha: opacity of the map over the image (default 0.5).
        cmap: colour map of the maps (default ``"jet"``, as the papers draw them).
        max_images: draw at most this many images (default 16).
        cols: images per row when ``maps`` is one array (default 8).
    """
    from helpers.interpret import METHOD_TITLES

    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or len(images) == 0 or images.shape[-1] not in (1, 3):
        raise ValueError(
            f"images must be a non-empty batch (n, height, width[, 1 or 3 channels]). Received shape={images.shape}"
        )
    n_all = len(images)
    by_method = _check_maps(maps, n_all)
    labels = _check_per_image(labels, n_all, "labels")
    predictions = _check_per_image(predictions, n_all, "predictions")
    titles = _check_per_image(titles, n_all, "titles")
    alpha = _validate.fraction(alpha, "alpha", closed=True)
    if cmap not in plt.colormaps():
        raise ValueError(
            f"cmap must be a matplotlib colour map name such as 'jet' or 'inferno'. Received: cmap={cmap!r}"
        )
    n = min(_validate.positive_int(max_images, "max_images"), n_all)
    cols = _validate.positive_int(cols, "cols")

    if "" in by_method:  # one array: a grid of overlays
        cols = min(cols, n)
        rows = int(np.ceil(n / cols))
        fig, axes = plt.subplots(
            rows, cols, figsize=(1.6 * cols + 1.0, 1.8 * rows), squeeze=False, layout="constrained"
        )
        for i, ax in enumerate(axes.flat):
            if i >= n:
                ax.axis("off")
                continue
            _draw(ax, images[i], by_method[""][i], cmap=cmap, alpha=alpha)
            text, color = _caption(i, labels, predictions, class_names, titles)
            ax.set_title(text, fontsize=9, color=color)
    else:  # one row per image: the image, then each method
        names = list(by_method)
        fig, axes = plt.subplots(
            n, len(names) + 1, figsize=(1.7 * (len(names) + 1) + 1.0, 1.7 * n), squeeze=False, layout="constrained"
        )
        for i, row in enumerate(axes):
            _draw(row[0], images[i], None, cmap=cmap, alpha=alpha)
            text, color = _caption(i, labels, predictions, class_names, titles)
            row[0].set_ylabel(text, fontsize=9, color=color)
            for ax, method in zip(row[1:], names):
                _draw(ax, images[i], by_method[method][i], cmap=cmap, alpha=alpha)
        for ax, heading in zip(axes[0], ["image", *(METHOD_TITLES.get(m, m) for m in names)]):
            ax.set_title(heading, fontsize=10)
    fig.colorbar(ScalarMappable(Normalize(0, 1), cmap=cmap), ax=axes, shrink=0.8, label=_COLORBAR_LABEL)
    fig.suptitle(title)
    return fig
