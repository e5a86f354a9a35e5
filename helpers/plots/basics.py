"""Basic figures (00, 01 and everywhere): image grids, learning curves, kernels, feature maps.

Comparison plots follow ``tensorflow_docs.plots.HistoryPlotter``: one colour per run, training
solid and validation dashed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from helpers import config

__all__ = [
    "show_images",
    "plot_history",
    "plot_histories",
    "plot_kernels_applied",
    "plot_feature_maps",
    "plot_filters",
    "plot_class_balance",
    "save_fig",
    "COLORS",
]

COLORS = plt.rcParams["axes.prop_cycle"].by_key()["color"]


def _history_dict(history) -> dict[str, list[float]]:
    """Accept a Keras ``History``, its ``.history`` dict, or a DataFrame-like with ``to_dict``."""
    if hasattr(history, "history"):
        history = history.history
    if hasattr(history, "to_dict") and not isinstance(history, dict):
        history = {k: list(v.values()) for k, v in history.to_dict().items()}
    if not isinstance(history, Mapping) or not history:
        raise TypeError(f"Expected a Keras History or a dict of metric lists. Received: {type(history).__name__}")
    return dict(history)


def _image_for_display(img: np.ndarray) -> tuple[np.ndarray, str | None]:
    img = np.asarray(img, dtype=np.float32)
    if img.ndim == 3 and img.shape[-1] == 1:
        return img[..., 0], "gray"
    if img.ndim == 2:
        return img, "gray"
    lo, hi = float(img.min()), float(img.max())
    return (img - lo) / (hi - lo + 1e-8), None  # colour images shown with their own range


def show_images(
    x: np.ndarray,
    y: Sequence[int] | None = None,
    class_names: Sequence[str] | None = None,
    *,
    predictions: Sequence[int] | None = None,
    n: int = 16,
    cols: int = 8,
    title: str = "Sample images",
):
    """A grid of images with their labels (and predictions: red where wrong)."""
    x = np.asarray(x)
    if x.ndim not in (3, 4) or len(x) == 0:
        raise ValueError(f"x must be a non-empty batch of images (N, H, W[, C]). Received shape={x.shape}")
    n = min(n, len(x))
    cols = max(1, min(cols, n))
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.4 * cols, 1.6 * rows), squeeze=False, layout="constrained")
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        img, cmap = _image_for_display(x[i])
        ax.imshow(img, cmap=cmap)
        label = lambda k: class_names[k] if class_names is not None else str(k)  # noqa: E731
        if y is not None:
            text = label(int(y[i]))
            color = "black"
            if predictions is not None:
                text = f"{label(int(predictions[i]))} ({text})"
                color = "black" if int(predictions[i]) == int(y[i]) else "red"
            ax.set_title(text, fontsize=9, color=color)
    fig.suptitle(title if predictions is None else f"{title}: prediction (true label)")
    return fig  # constrained layout: tight_layout let a row's titles slide under the row above


def plot_history(history, metric: str = "accuracy", *, title: str = "Learning curves"):
    """Loss and ``metric`` per epoch, training vs validation, side by side."""
    return plot_histories({"model": history}, metric=metric, title=title)


def plot_histories(histories: Mapping[str, object], metric: str = "accuracy", *, title: str = "Learning curves"):
    """Compare runs: loss (left) and ``metric`` (right); a colour per run, validation dashed."""
    if not histories:
        raise ValueError("histories is empty; pass e.g. {'baseline': history}.")
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(11, 3.8))
    for i, (name, history) in enumerate(histories.items()):
        h = _history_dict(history)
        if "loss" not in h or metric not in h:
            raise ValueError(
                f"Run {name!r} has no {metric!r} or 'loss' history. Available: {', '.join(h)}. "
                "Pass metric= one of them."
            )
        color = COLORS[i % len(COLORS)]
        epochs = np.arange(1, len(h["loss"]) + 1)
        for ax, key in ((ax_loss, "loss"), (ax_metric, metric)):
            ax.plot(epochs, h[key], color=color, label=f"{name} train")
            if f"val_{key}" in h:
                ax.plot(epochs, h[f"val_{key}"], color=color, linestyle="--", label=f"{name} val")
    ax_loss.set(title="Loss", xlabel="epoch", ylabel="loss")
    ax_metric.set(title=metric.replace("_", " ").capitalize(), xlabel="epoch", ylabel=metric)
    for ax in (ax_loss, ax_metric):
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    ax_metric.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_kernels_applied(image: np.ndarray, results: Mapping[str, np.ndarray], *, title: str = "Kernels applied"):
    """An image and the outputs of several kernels on it (e.g. edge detectors), side by side."""
    panels = {"input": np.asarray(image), **{k: np.asarray(v) for k, v in results.items()}}
    fig, axes = plt.subplots(1, len(panels), figsize=(2.4 * len(panels), 2.7), squeeze=False)
    for ax, (name, img) in zip(axes.flat, panels.items()):
        img = np.squeeze(img)
        ax.imshow(
            img,
            cmap="gray" if name == "input" else "RdBu_r",
            **({} if name == "input" else {"vmin": -np.abs(img).max(), "vmax": np.abs(img).max()}),
        )
        ax.set_title(name, fontsize=10)
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_feature_maps(model, layer_name: str, image: np.ndarray, *, max_maps: int = 16, cols: int = 8):
    """The activations of ``layer_name`` for one image: what that layer 'sees'."""
    import keras

    image = np.asarray(image, dtype=np.float32)
    expected = tuple(model.input_shape[1:])
    if image.shape != expected:
        raise ValueError(f"image must have the model's input shape {expected}. Received shape={image.shape}")
    try:
        layer = model.get_layer(layer_name)
    except ValueError as exc:
        names = [lay.name for lay in model.layers]
        raise ValueError(f"No layer {layer_name!r} in {model.name}. Layers: {', '.join(names)}") from exc
    probe = keras.Model(model.input, layer.output)
    maps = np.asarray(probe(image[None], training=False))[0]
    if maps.ndim != 3:
        raise ValueError(f"Layer {layer_name!r} outputs shape {maps.shape}; pick a conv or pooling layer.")
    n = min(max_maps, maps.shape[-1])
    cols = min(cols, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.5 * cols, 1.6 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(maps[..., i], cmap="viridis")
            ax.set_title(f"map {i}", fontsize=8)
    fig.suptitle(f"Feature maps of {layer_name} ({maps.shape[0]}x{maps.shape[1]}, {maps.shape[-1]} maps)")
    fig.tight_layout()
    return fig


def plot_filters(model, layer_name: str, *, max_filters: int = 16, cols: int = 8):
    """The learned kernels of a Conv2D layer.

    A kernel over three input channels (a first layer on colour images) is drawn as a colour image:
    grey is zero, and each channel's weight brightens (positive) or darkens (negative) its colour, on
    one scale for all filters. Otherwise the first input channel is drawn, blue negative, red positive.
    """
    layer = model.get_layer(layer_name)
    weights = getattr(layer, "kernel", None)
    if weights is None or len(weights.shape) != 4:
        raise ValueError(f"Layer {layer_name!r} is not a Conv2D layer; pick one of its conv layers.")
    weights = np.asarray(weights)
    rgb = weights.shape[2] == 3
    kernels = weights if rgb else weights[:, :, 0, :]
    n = min(max_filters, kernels.shape[-1])
    cols = min(cols, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.4 * rows), squeeze=False)
    vmax = np.abs(kernels).max() + 1e-12
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            if rgb:
                ax.imshow(0.5 + 0.5 * kernels[..., i] / vmax)
            else:
                ax.imshow(kernels[..., i], cmap="RdBu_r", vmin=-vmax, vmax=vmax)
            ax.set_title(f"filter {i}", fontsize=8)
    kind = ", RGB: grey is 0" if rgb else ""
    fig.suptitle(f"Filters of {layer_name} ({kernels.shape[0]}x{kernels.shape[1]}{kind})")
    fig.tight_layout()
    return fig


def plot_class_balance(
    y_by_split: Mapping[str, np.ndarray], class_names: Sequence[str], *, title: str = "Examples per class"
):
    """Bar chart of examples per class for each split (a missing class stands out as a gap)."""
    fig, ax = plt.subplots(figsize=(9, 3.2))
    k = len(class_names)
    width = 0.8 / max(1, len(y_by_split))
    for i, (split, y) in enumerate(y_by_split.items()):
        counts = np.bincount(np.asarray(y, dtype=int), minlength=k)
        ax.bar(np.arange(k) + i * width, counts, width=width, label=split)
    ax.set_xticks(np.arange(k) + width * (len(y_by_split) - 1) / 2, class_names)
    ax.set(title=title, xlabel="class", ylabel="examples")
    ax.legend()
    fig.tight_layout()
    return fig


def save_fig(fig, name: str, *, folder: Path | None = None, dpi: int = 120) -> Path:
    """Save ``fig`` as ``build/figures/<name>.png`` (for slides or reports) and return the path."""
    folder = config.ensure_dir(folder or config.BUILD_DIR / "figures")
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path
