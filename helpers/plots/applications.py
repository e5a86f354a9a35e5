"""The figure of 01's "Applications of CNNs": one convolutional backbone, a different head per task.

The tasks differ mostly in what the network must output, so what changes is the head (and the
shape of the input the backbone slides over); the stack of convolutions stays. Everything is drawn
with matplotlib patches from a few synthetic arrays: no image is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import patches

__all__ = ["TaskHead", "TASK_HEADS", "plot_task_heads"]


@dataclass(frozen=True)
class TaskHead:
    """One application: what goes in, what the backbone convolves over, the head and what comes out."""

    task: str
    input: str
    backbone: str
    head: str
    output: str


TASK_HEADS: tuple[TaskHead, ...] = (
    TaskHead("Image classification", "image", "2-D conv", "global pool\n+ dense", "one score per class"),
    TaskHead("Object detection", "image", "2-D conv", "1x1 conv at\nevery location", "boxes + class scores"),
    TaskHead("Semantic segmentation", "image", "2-D conv", "1x1 conv\n+ upsampling", "class scores per pixel"),
    TaskHead("Medical imaging", "scan", "2-D or 3-D\nconv", "decoder with\nskips (U-Net)", "mask of the lesion"),
    TaskHead("Video", "frames", "3-D conv\n(time too)", "global pool\n+ dense", "one action per clip"),
    TaskHead("Audio", "spectrogram", "2-D conv\n(time x freq.)", "global pool\n+ dense", "one sound class per clip"),
    TaskHead("Text", "word vectors", "1-D conv\n(over words)", "max over time\n+ dense", "one class per sentence"),
)

_BACKBONE, _HEAD, _OUT = "#9ecae1", "#fdae6b", "#a1d99b"


def _digit(size: int = 16) -> np.ndarray:
    """A synthetic '0': a ring of ink, so the figure needs no dataset."""
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    r = np.hypot(xx / 0.75, yy)
    return np.clip(1 - np.abs(r - size * 0.3) / 1.6, 0, 1)


def _scan(size: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic scan: a body outline and a bright lesion (both 0/1 masks)."""
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    body = (np.hypot(xx / 1.1, yy) < size * 0.42).astype(float)
    lesion = (np.hypot(xx - size / 6, yy + size / 8) < size / 8).astype(float)
    return body, lesion


def _draw_input(ax, kind: str, rng: np.random.Generator) -> None:
    """The input, in data coordinates x 0-2, y 0.5-3.5."""
    extent = (0.1, 1.9, 0.7, 3.3)
    if kind == "image":
        ax.imshow(_digit(), cmap="gray", extent=extent)
    elif kind == "scan":
        body, lesion = _scan()
        ax.imshow(0.6 * body + 0.4 * lesion, cmap="bone", extent=extent)
    elif kind == "frames":
        for k in reversed(range(3)):  # the back frame first, so the front one covers it
            x0, y0 = 0.1 + 0.3 * k, 0.7 + 0.4 * k
            ax.imshow(_digit(), cmap="gray", extent=(x0, x0 + 1.2, y0, y0 + 1.8))
            ax.add_patch(patches.Rectangle((x0, y0), 1.2, 1.8, fill=False, edgecolor="white", lw=1))
    elif kind == "spectrogram":
        freq = np.linspace(0, 1, 20)[:, None]
        spec = np.exp(-(((freq - 0.3 - 0.3 * np.sin(np.linspace(0, 3, 30))) / 0.08) ** 2))
        ax.imshow(spec + 0.2 * rng.random(spec.shape), cmap="magma", origin="lower", extent=extent, aspect="auto")
    elif kind == "word vectors":
        ax.imshow(rng.normal(size=(6, 5)), cmap="coolwarm", extent=extent, aspect="auto")
    else:
        raise ValueError(f"No drawing for input {kind!r}. Known: image, scan, frames, spectrogram, word vectors")


def _draw_output(ax, task: str, rng: np.random.Generator) -> None:
    """What the head produces, in data coordinates x 8-10, y 0.5-3.5."""
    extent = (8.1, 9.9, 0.7, 3.3)
    if task in ("Object detection", "Semantic segmentation"):
        ax.imshow(_digit(), cmap="gray", extent=extent)
    if task == "Object detection":
        ax.add_patch(patches.Rectangle((8.35, 0.9), 1.3, 2.2, fill=False, edgecolor="red", lw=2))
        ax.text(8.4, 3.05, "class '0'", color="red", fontsize=7, va="top", bbox={"fc": "white", "pad": 1, "lw": 0})
    elif task == "Semantic segmentation":
        ax.imshow(np.ma.masked_less(_digit(), 0.4), cmap="autumn", alpha=0.7, extent=extent)
    elif task == "Medical imaging":
        body, lesion = _scan()
        ax.imshow(0.6 * body, cmap="bone", vmin=0, vmax=1, extent=extent)
        ax.imshow(np.ma.masked_equal(lesion, 0), cmap="autumn", alpha=0.8, extent=extent)
    else:  # a bar per class: the probabilities a softmax gives
        scores = rng.random(5) ** 4
        scores[1] = 2.0
        scores /= scores.sum()
        ax.bar(8.3 + 0.35 * np.arange(5), 2.4 * scores, width=0.28, bottom=0.8, color=_OUT, edgecolor="gray")


def _box(ax, x: float, text: str, color: str, width: float = 1.9) -> None:
    ax.add_patch(patches.FancyBboxPatch((x, 1.0), width, 2.0, boxstyle="round,pad=0.05", fc=color, ec="gray"))
    ax.text(x + width / 2, 2.0, text, ha="center", va="center", fontsize=8)


def plot_task_heads(tasks: tuple[TaskHead, ...] = TASK_HEADS, *, title: str | None = None):
    """One panel per task: input -> convolutional backbone (blue) -> head (orange) -> output.

    The backbone box is the part the tasks share (its convolutions may be 1-D, 2-D or 3-D with the
    input); the head is what a task changes. Returns the ``Figure``; each panel's title is the task.

    Args:
        tasks: the :class:`TaskHead` rows to draw (default :data:`TASK_HEADS`, seven applications).
        title: the figure's title (default says what the figure shows).
    """
    if not tasks or not all(isinstance(t, TaskHead) for t in tasks):
        raise ValueError(f"tasks must be a non-empty sequence of TaskHead. Received: tasks={tasks!r}")
    rng = np.random.default_rng(0)
    cols = 2
    rows = -(-len(tasks) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(12, 2.1 * rows + 0.6), squeeze=False)
    for ax in axes.flat[len(tasks) :]:
        fig.delaxes(ax)
    for ax, task in zip(axes.flat, tasks, strict=False):
        _draw_input(ax, task.input, rng)
        _box(ax, 2.5, f"backbone\n{task.backbone}", _BACKBONE)
        _box(ax, 5.3, f"head\n{task.head}", _HEAD, width=2.2)
        _draw_output(ax, task.task, rng)
        for start, end in ((2.0, 2.45), (4.45, 5.25), (7.55, 8.05)):
            ax.annotate("", (end, 2.0), (start, 2.0), arrowprops={"arrowstyle": "->", "color": "gray"})
        ax.text(1.0, 0.2, task.input, ha="center", fontsize=8)
        ax.text(9.0, 0.2, task.output, ha="center", fontsize=8)
        ax.set_xlim(0, 10)
        ax.set_ylim(0, 3.6)
        ax.set_aspect("auto")
        ax.axis("off")
        ax.set_title(task.task, fontsize=10, loc="left")
    fig.suptitle(title or "Same convolutional backbone, a different head per task")
    fig.tight_layout()
    return fig
