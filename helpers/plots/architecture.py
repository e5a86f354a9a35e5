"""Figures for ``03_architecture``: the model drawn as feature extractor + head, receptive fields,
cost/accuracy trade-offs, the signal through depth (activations and gradients, e.g. Glorot vs He
initialization), and which choices mattered most."""

from __future__ import annotations

import math
from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle

from helpers.plots.basics import COLORS

__all__ = [
    "plot_architecture",
    "plot_receptive_fields",
    "plot_tradeoff",
    "plot_parameter_split",
    "plot_gradients_by_depth",
    "plot_signal_by_depth",
    "plot_sensitivity",
]

PART_COLORS = {"features": COLORS[0], "head": COLORS[1]}
_DRAWN = (
    "Conv2D",
    "DepthwiseConv2D",
    "SeparableConv2D",
    "MaxPooling2D",
    "AveragePooling2D",
    "Flatten",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling2D",
    "Dense",
    "Add",
)


def _fmt_count(n: float) -> str:
    n = float(n)
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:.0f}"


def plot_architecture(model, *, title: str | None = None):
    """The model as a row of boxes: conv/pool/dense layers, coloured by part (feature extractor or
    head). Box height grows with the map size, width with the number of channels; each box is
    labelled with its output shape, parameters and forward FLOPs."""
    from helpers import model_stats

    table = model_stats.layer_table(model)
    table = table[table["type"].isin(_DRAWN)].reset_index(drop=True)
    if table.empty:
        raise ValueError(f"Model {model.name!r} has no conv, pooling or dense layers to draw.")
    fig, ax = plt.subplots(figsize=(max(8.0, 1.25 * len(table)), 4.2))
    x, centers = 0.0, {}
    for _, row in table.iterrows():
        shape = row["output_shape"]
        height = 0.35 + 2.2 * math.sqrt(shape[0] / 28) if len(shape) == 3 else 0.35
        width = 0.25 + 0.12 * math.log2(max(shape[-1], 1))
        color = PART_COLORS.get(row["part"], "grey")
        alpha = 0.35 if "Pool" in row["type"] or row["type"] in ("Flatten", "Add") else 0.85
        ax.add_patch(Rectangle((x, -height / 2), width, height, facecolor=color, alpha=alpha, edgecolor="black"))
        ax.text(x + width / 2, height / 2 + 0.08, row["layer"], rotation=60, fontsize=7, ha="left", va="bottom")
        dims = "x".join(str(d) for d in shape)
        ax.text(
            x + width / 2,
            -height / 2 - 0.1,
            f"{dims}\n{_fmt_count(row['params'])} p\n{_fmt_count(row['flops'])} F",
            fontsize=6.5,
            ha="center",
            va="top",
        )
        centers[row["layer"]] = (x + width / 2, height / 2)
        x += width + 0.35
    drawn = list(centers)
    for src, dst in _drawn_edges(model, set(drawn)):
        if drawn.index(dst) - drawn.index(src) > 1:  # a branch that bypasses boxes: a skip connection
            (x0, y0), (x1, y1) = centers[src], centers[dst]
            ax.annotate(
                "",
                xy=(x1, y1),
                xytext=(x0, y0),
                arrowprops={"arrowstyle": "->", "color": "grey", "connectionstyle": "arc3,rad=-0.35"},
            )
    ax.set_xlim(-0.3, x)
    ax.set_ylim(-2.6, 3.4)
    ax.set_xticks([])
    ax.set_yticks([])
    handles = [Rectangle((0, 0), 1, 1, facecolor=c, alpha=0.85) for c in PART_COLORS.values()]
    ax.legend(handles, ["feature extractor", "classifier head"], loc="upper right", fontsize=8)
    ax.set_xlabel("layers, input to output (p = parameters, F = forward FLOPs per image)")
    ax.set_ylabel("feature-map size")
    total = f"{_fmt_count(model.count_params())} parameters, {_fmt_count(model_stats.count_flops(model))} FLOPs"
    ax.set_title(title or f"{model.name}: {total}")
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


def _drawn_edges(model, drawn: set[str]) -> list[tuple[str, str]]:
    """Edges between drawn layers of ``model``'s top-level graph, skipping the layers in between."""
    import keras

    producer, parents = {}, {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        ins = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
        parents[layer.name] = [producer[id(t)] for t in ins if id(t) in producer]
        outs = layer.output if isinstance(layer.output, (list, tuple)) else [layer.output]
        for t in outs:
            producer[id(t)] = layer.name

    def drawn_ancestors(name: str) -> set[str]:
        found = set()
        for parent in parents.get(name, []):
            found |= {parent} if parent in drawn else drawn_ancestors(parent)
        return found

    return [(src, name) for name in parents if name in drawn for src in sorted(drawn_ancestors(name))]


def plot_receptive_fields(
    rf_table: pd.DataFrame,
    image: np.ndarray | None = None,
    *,
    image_size: int | None = None,
    title: str = "Receptive field per layer",
):
    """Left: each conv/pool layer's receptive field against the image size (its larger side).
    Right (with ``image``, grayscale or colour): the field of every pooling layer (or of every
    layer, without pooling) drawn on the image."""
    if not isinstance(rf_table, pd.DataFrame) or "receptive_field" not in rf_table or rf_table.empty:
        raise ValueError("rf_table must be the non-empty DataFrame from model_stats.receptive_fields(model).")
    fields = [rf if np.isscalar(rf) else max(rf) for rf in rf_table["receptive_field"]]
    if image is not None:
        image = np.asarray(image, dtype=np.float32)
        if image.ndim == 3 and image.shape[-1] == 1:
            image = image[..., 0]
        if not (image.ndim == 2 or (image.ndim == 3 and image.shape[-1] == 3)):
            raise ValueError(
                "image must be one grayscale image (H, W) or (H, W, 1), or one colour image (H, W, 3). "
                f"Received shape={image.shape}"
            )
        image_size = image_size or max(image.shape[:2])
    ncols = 2 if image is not None else 1
    fig, axes = plt.subplots(1, ncols, figsize=(5.5 * ncols + 1, 3.8), squeeze=False)
    ax = axes[0, 0]
    pos = np.arange(len(fields))
    colors = [COLORS[1] if "Pool" in t else COLORS[0] for t in rf_table["type"]]
    ax.bar(pos, fields, color=colors)
    ax.set_xticks(pos, rf_table["layer"], rotation=60, ha="right", fontsize=7)
    if image_size:
        ax.axhline(image_size, color="black", linestyle="--", linewidth=1)
        ax.text(-0.4, image_size, f"image: {image_size} px", ha="left", va="bottom", fontsize=8)
    ax.set_ylim(0, 1.15 * max(max(fields), image_size or 0))
    ax.set(title="Field size (pooling layers in orange)", xlabel="layer", ylabel="receptive field (pixels per side)")
    ax.grid(alpha=0.3, axis="y")
    if image is not None:
        ax = axes[0, 1]
        if image.ndim == 2:
            ax.imshow(image, cmap="gray")
        else:  # colour, shown with its own range
            ax.imshow((image - image.min()) / (np.ptp(image) + 1e-8))
        pools = [i for i, t in enumerate(rf_table["type"]) if "Pool" in t] or list(range(len(fields)))
        cy, cx = (image.shape[0] - 1) / 2, (image.shape[1] - 1) / 2
        for k, i in enumerate(pools):
            r = fields[i]
            ax.add_patch(
                Rectangle(
                    (cx - r / 2, cy - r / 2),
                    r,
                    r,
                    fill=False,
                    linewidth=2,
                    edgecolor=COLORS[(k + 2) % len(COLORS)],
                    label=f"{rf_table['layer'].iloc[i]}: {r}px",
                )
            )
        ax.set_xlim(min(-0.5, cx - max(fields) / 2 - 1), max(image.shape[1] - 0.5, cx + max(fields) / 2 + 1))
        ax.set_ylim(max(image.shape[0] - 0.5, cy + max(fields) / 2 + 1), min(-0.5, cy - max(fields) / 2 - 1))
        ax.legend(fontsize=7, loc="lower right")
        ax.set(title="What one output of each stage sees", xlabel="x (pixels)", ylabel="y (pixels)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_tradeoff(
    table: pd.DataFrame, *, metric: str = "val_accuracy", title: str = "Accuracy against model size and compute"
):
    """``metric`` against parameters (left) and forward MFLOPs (right), one labelled point per model
    (the rows of ``model_stats.compare_models`` with a metric column)."""
    missing = [c for c in ("params", "mflops", metric) if c not in getattr(table, "columns", ())]
    if missing:
        raise ValueError(
            f"table needs columns params, mflops and {metric!r}; missing {missing}. "
            "Build it with model_stats.compare_models(models, metrics)."
        )
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.9), sharey=True)
    for ax, col, label in ((axes[0], "params", "parameters"), (axes[1], "mflops", "forward MFLOPs per image")):
        for i, (name, row) in enumerate(table.iterrows()):
            ax.scatter(row[col], row[metric], s=60, color=COLORS[i % len(COLORS)], zorder=3)
            ax.annotate(str(name), (row[col], row[metric]), textcoords="offset points", xytext=(6, 4), fontsize=8)
        ax.set_xscale("log")
        ax.set(xlabel=f"{label} (log scale)", title=f"{metric.replace('_', ' ')} vs {label}")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(metric.replace("_", " "))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_parameter_split(table: pd.DataFrame, *, title: str = "Where the parameters are"):
    """Stacked bars: feature-extractor and head parameters per model (from ``model_stats.compare_models``)."""
    missing = [c for c in ("feature_params", "head_params") if c not in getattr(table, "columns", ())]
    if missing:
        raise ValueError(
            f"table needs columns feature_params and head_params; missing {missing}. "
            "Build it with model_stats.compare_models(models)."
        )
    fig, ax = plt.subplots(figsize=(8, 0.8 + 0.6 * len(table)))
    names = [str(n) for n in table.index]
    ax.barh(names, table["feature_params"], color=PART_COLORS["features"], label="feature extractor")
    ax.barh(names, table["head_params"], left=table["feature_params"], color=PART_COLORS["head"], label="head")
    for i, total in enumerate(table["feature_params"] + table["head_params"]):
        ax.text(total, i, f" {total:,}", va="center", fontsize=8)
    ax.set(xlabel="parameters", ylabel="model", title=title)
    ax.set_xlim(0, 1.18 * float((table["feature_params"] + table["head_params"]).max()))
    ax.invert_yaxis()
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def _layer_order(series_by_name: Mapping[str, pd.Series], what: str) -> list[str]:
    """Layer names of all series, in network order (a layer only some series have slots in place)."""
    if not series_by_name:
        raise ValueError(f"{what} is empty; pass e.g. {{'plain': series_a, 'residual': series_b}}.")
    order: list[str] = []
    for name, series in series_by_name.items():
        if len(series) == 0:
            raise ValueError(f"{what}[{name!r}] is empty.")
        at = 0
        for layer in map(str, series.index):
            if layer in order:
                at = order.index(layer) + 1
            else:
                order.insert(at, layer)
                at += 1
    return order


def _plot_by_depth(ax, series_by_name: Mapping[str, pd.Series], order: list[str], ylabel: str, xlabel: str) -> None:
    for i, (name, series) in enumerate(series_by_name.items()):
        pos = [order.index(str(layer)) for layer in series.index]
        ax.plot(
            pos,
            np.maximum(np.asarray(series, dtype=float), 1e-12),
            marker="o",
            color=COLORS[i % len(COLORS)],
            label=name,
        )
    ax.set_yscale("log")
    ax.set_xticks(range(len(order)), order, rotation=60, ha="right", fontsize=7)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def plot_gradients_by_depth(norms: Mapping[str, pd.Series], *, title: str = "Gradient reaching each layer"):
    """The gradient norm of every kernel, input to output (log scale), one line per model
    (values from ``model_stats.gradient_norms``)."""
    order = _layer_order(norms, "norms")
    fig, ax = plt.subplots(figsize=(max(8.0, 0.45 * len(order)), 4.4))
    _plot_by_depth(ax, norms, order, "gradient norm (log scale)", "layer with weights, input to output")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_signal_by_depth(
    activations: Mapping[str, pd.Series],
    gradients: Mapping[str, pd.Series],
    *,
    title: str = "Signal through depth at initialization",
):
    """Two panels, one line per model, log scale: the RMS of each ReLU layer's output (left, from
    ``model_stats.activation_scales``: the forward signal) and the gradient norm of each kernel
    (right, from ``model_stats.gradient_norms``: the backward signal). Same model names, same
    colours, so an initialization or a shortcut can be read in both directions at once."""
    act_order = _layer_order(activations, "activations")
    grad_order = _layer_order(gradients, "gradients")
    if list(activations) != list(gradients):
        raise ValueError(
            "activations and gradients must name the same models in the same order. "
            f"Received: {list(activations)} and {list(gradients)}"
        )
    width = max(11.0, 0.3 * (len(act_order) + len(grad_order)))
    fig, axes = plt.subplots(1, 2, figsize=(width, 4.6))
    _plot_by_depth(axes[0], activations, act_order, "activation RMS (log scale)", "ReLU layer, input to output")
    axes[0].set_title("Forward: scale of each layer's output")
    _plot_by_depth(axes[1], gradients, grad_order, "gradient norm (log scale)", "layer with weights, input to output")
    axes[1].set_title("Backward: gradient reaching each layer")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_sensitivity(
    effects: Mapping[str, float],
    *,
    xlabel: str = "validation accuracy: best - worst setting",
    title: str = "Which choices mattered most (this notebook's runs)",
):
    """Horizontal bars, largest first: how much the validation metric moved when each choice changed."""
    if not effects:
        raise ValueError("effects is empty; pass e.g. {'head': 0.02, 'depth': 0.05}.")
    items = sorted(effects.items(), key=lambda kv: kv[1], reverse=True)
    fig, ax = plt.subplots(figsize=(8, 0.8 + 0.5 * len(items)))
    names, values = zip(*items)
    ax.barh(names, values, color=[COLORS[i % len(COLORS)] for i in range(len(items))])
    for i, v in enumerate(values):
        ax.text(v, i, f" {v:.3f}", va="center", fontsize=8)
    ax.set_xlim(0, 1.2 * max(max(values), 1e-9))
    ax.invert_yaxis()
    ax.set(xlabel=xlabel, ylabel="choice", title=title)
    fig.tight_layout()
    return fig
