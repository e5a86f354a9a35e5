"""Figures for ``02_data_preparation``: pixel histograms, augmented samples, per-class accuracy, throughput."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from helpers import _validate
from helpers.plots.basics import COLORS, _image_for_display

__all__ = ["plot_augmentations", "plot_per_class_accuracy", "plot_pixel_histogram", "plot_throughput"]


def _pixel_values(flat: np.ndarray, name: str, max_values: int, chunk: int = 1 << 22):
    """``(values to histogram, mean, std, min, max)``, without a float64 copy of a large batch.

    Up to ``max_values`` pixels are used as they are; above that the statistics are summed chunk by
    chunk over every pixel, and the histogram draws a seeded random sample of ``max_values`` pixels.
    """
    if flat.size <= max_values:
        values = flat.astype(np.float64)
        if values.size == 0 or not np.all(np.isfinite(values)):
            raise ValueError(f"{name!r} must hold finite pixel values (received {values.size} values).")
        return values, values.mean(), values.std(), values.min(), values.max()
    total = square = 0.0
    low, high = np.inf, -np.inf
    for start in range(0, flat.size, chunk):
        part = flat[start : start + chunk].astype(np.float64)
        if not np.all(np.isfinite(part)):
            raise ValueError(f"{name!r} must hold finite pixel values.")
        total, square = total + part.sum(), square + np.square(part).sum()
        low, high = min(low, part.min()), max(high, part.max())
    mean = total / flat.size
    sample = flat[np.random.default_rng(0).integers(0, flat.size, max_values)].astype(np.float64)
    return sample, mean, np.sqrt(max(square / flat.size - mean**2, 0.0)), low, high


def plot_pixel_histogram(
    images_by_name: Mapping[str, np.ndarray],
    *,
    bins: int = 50,
    log: bool = True,
    title: str = "Pixel values",
    max_values: int = 5_000_000,
):
    """One histogram of pixel values per entry (e.g. raw, rescaled, standardized), side by side.

    Each panel has its own x axis, so the *shape* stays comparable while the range changes; the
    mean and standard deviation are written in each panel. ``log`` (default True) puts counts on a
    log scale, since most pixels of a digit are background. A batch of more than ``max_values``
    pixels (a large colour dataset) keeps its exact statistics, and its histogram counts a seeded
    random sample of that many pixels, as the axis label says.
    """
    if not images_by_name:
        raise ValueError("images_by_name is empty; pass e.g. {'raw': x_train}.")
    bins = _validate.int_at_least(bins, "bins", 2)
    max_values = _validate.int_at_least(max_values, "max_values", 1)
    k = len(images_by_name)
    fig, axes = plt.subplots(1, k, figsize=(3.8 * k, 3.2), squeeze=False)
    for i, (ax, (name, images)) in enumerate(zip(axes.flat, images_by_name.items())):
        flat = np.asarray(images).ravel()
        values, mean, std, low, high = _pixel_values(flat, name, max_values)
        sampled = flat.size > max_values
        ax.hist(values, bins=bins, color=COLORS[i % len(COLORS)], log=log)
        counted = f"pixels{f' (a sample of {max_values:,})' if sampled else ''}"
        ax.set(title=name, xlabel="pixel value", ylabel=counted + (" (log scale)" if log else ""))
        ax.text(
            0.97,
            0.95,
            f"mean {mean:.3g}\nstd {std:.3g}\nrange [{low:.3g}, {high:.3g}]",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=8,
            bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"},
        )
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_augmentations(
    images: np.ndarray,
    variants: np.ndarray,
    labels: Sequence[int] | None = None,
    class_names: Sequence[str] | None = None,
    *,
    title: str = "Augmented samples",
):
    """One row per image: the original, then its augmented versions.

    ``variants`` has shape ``(len(images), n, H, W, C)``, as returned by ``helpers.augment.variants``.
    """
    images, variants = np.asarray(images), np.asarray(variants)
    if images.ndim != 4 or variants.ndim != 5 or len(images) == 0:
        raise ValueError(
            "images must be (N, H, W, C) and variants (N, n, H, W, C), e.g. from helpers.augment.variants. "
            f"Received shapes {images.shape} and {variants.shape}"
        )
    if variants.shape[0] != images.shape[0] or variants.shape[2:] != images.shape[1:]:
        raise ValueError(
            f"variants {variants.shape} do not match images {images.shape}: expected "
            f"({images.shape[0]}, n, {', '.join(map(str, images.shape[1:]))})."
        )
    rows, cols = len(images), variants.shape[1] + 1
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.35 * rows + 0.5), squeeze=False)
    for r in range(rows):
        for c in range(cols):
            ax = axes[r, c]
            img, cmap = _image_for_display(images[r] if c == 0 else variants[r, c - 1])
            ax.imshow(img, cmap=cmap, vmin=0 if cmap else None, vmax=1 if cmap else None)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title("original" if c == 0 else f"variant {c}", fontsize=8)
        if labels is not None:
            label = int(labels[r])
            axes[r, 0].set_ylabel(class_names[label] if class_names is not None else str(label), fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_per_class_accuracy(
    results: Mapping[str, tuple[np.ndarray, np.ndarray]],
    class_names: Sequence[str],
    *,
    title: str = "Accuracy per class",
):
    """Grouped bars of accuracy per class; ``results`` maps a name to ``(y_true, y_pred)``."""
    if not results:
        raise ValueError("results is empty; pass e.g. {'original': (y_true, y_pred)}.")
    k = len(class_names)
    width = 0.8 / len(results)
    fig, ax = plt.subplots(figsize=(9, 3.4))
    for i, (name, (y_true, y_pred)) in enumerate(results.items()):
        y_true, y_pred = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
        if y_true.shape != y_pred.shape or y_true.ndim != 1 or len(y_true) == 0:
            raise ValueError(
                f"{name!r}: y_true and y_pred must be 1-D arrays of the same length. "
                f"Received shapes {y_true.shape} and {y_pred.shape}"
            )
        correct = np.bincount(y_true, weights=(y_true == y_pred), minlength=k)
        total = np.bincount(y_true, minlength=k)
        acc = np.divide(correct, total, out=np.full(k, np.nan), where=total > 0)
        ax.bar(
            np.arange(k) + i * width,
            acc,
            width=width,
            color=COLORS[i % len(COLORS)],
            label=f"{name} (overall {np.mean(y_true == y_pred):.0%})",
        )
    ax.set_xticks(np.arange(k) + width * (len(results) - 1) / 2, class_names)
    ax.set(title=title, xlabel="true class", ylabel="accuracy", ylim=(0, 1.05))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def plot_throughput(rates: Mapping[str, float], *, title: str = "Throughput", xlabel: str = "images per second"):
    """Horizontal bars of images/s (floats or ``helpers.data.Throughput``), the value printed on each bar."""
    if not rates:
        raise ValueError("rates is empty; pass e.g. {'naive': 1200.0, 'cached': 9000.0}.")
    names = list(rates)
    values = [float(v) for v in rates.values()]
    if any(not np.isfinite(v) or v < 0 for v in values):
        raise ValueError(f"rates must be finite and >= 0. Received: {dict(zip(names, values))}")
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(names) + 1.4))
    y = np.arange(len(names))[::-1]
    ax.barh(y, values, color=[COLORS[i % len(COLORS)] for i in range(len(names))])
    for yi, v in zip(y, values):
        ax.text(v, yi, f" {v:,.0f}", va="center", fontsize=9)
    ax.set_yticks(y, names)
    ax.set(title=title, xlabel=xlabel, xlim=(0, max(values) * 1.2 or 1))
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig
