"""The training-set-size curve, which tells variance from bias (introduced in ``08_overfitting``).

:func:`learning_curve_by_size` trains the same variant (:func:`helpers.runs.train`) on growing,
nested, stratified subsets of the training split (:func:`nested_subset_indices`,
:func:`with_train_subset`), for several seeds; small subsets get enough updates
(:func:`epochs_for_size`) so that they do not look worse only because they trained less.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from helpers import _validate, config, runs, schedules
from helpers.data import Dataset, validate_labels
from helpers.runs import ModelSpec


def nested_subset_indices(y, sizes: Sequence[int], *, seed: int = config.DEFAULT_SEED) -> dict[int, np.ndarray]:
    """Indices of nested, stratified subsets: the one of each size contains every smaller one.

    Each class is shuffled (seeded) and the classes are interleaved in proportion to their counts,
    so every prefix keeps the class shares (within one example per class). Nested subsets make a
    training-set-size curve smoother: a larger subset only *adds* examples.

    Args:
        y: the integer labels of the training split.
        sizes: subset sizes, each between the number of classes and ``len(y)``.
        seed: seeds the order (default 42).
    """
    y = validate_labels(y)
    seed = _validate.seed(seed)
    try:
        sizes = [int(s) if not isinstance(s, bool) and float(s) == int(s) else None for s in sizes]
    except (TypeError, ValueError):
        raise ValueError(f"sizes must be a sequence of whole numbers. Received: sizes={sizes!r}") from None
    classes = np.unique(y)
    if not sizes or any(s is None or not len(classes) <= s <= len(y) for s in sizes):
        raise ValueError(
            f"Every size must be a whole number from {len(classes)} (one example per class) to {len(y)} "
            f"(the whole training split). Received: sizes={sizes!r}"
        )
    rng = np.random.default_rng(seed)
    keys = np.empty(len(y), dtype=np.float64)
    for c in classes:
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        keys[idx] = (np.arange(len(idx)) + 0.5) / len(idx)  # the k-th of n examples sits at (k + 0.5) / n
    order = np.lexsort((y, keys))  # ties broken by class, deterministically
    return {s: np.sort(order[:s]) for s in sizes}


def sizes_within(sizes: Sequence[int], n_train: int) -> tuple[int, ...]:
    """``sizes`` made to fit a training split of ``n_train`` examples: larger ones become ``n_train``.

    A notebook's sizes are chosen for its default dataset (e.g. up to mnist5k's 3,500 training
    digits); on a smaller dataset the largest point of the curve is then the whole training split.
    Sizes that already fit are kept as they are, in order, and duplicates are dropped.

    Args:
        sizes: the wished-for subset sizes (positive whole numbers).
        n_train: the number of training examples available.
    """
    n_train = _validate.positive_int(n_train, "n_train")
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Iterable):
        raise ValueError(f"sizes must be a sequence of positive whole numbers. Received: sizes={sizes!r}")
    fitted = [min(_validate.positive_int(s, "each size"), n_train) for s in sizes]
    if not fitted:
        raise ValueError("sizes is empty; pass at least one training-set size.")
    return tuple(dict.fromkeys(fitted))


def with_train_subset(data: Dataset, indices) -> Dataset:
    """``data`` with only ``indices`` of its training split kept (validation and test unchanged)."""
    indices = np.asarray(indices)
    if indices.ndim != 1 or len(indices) == 0 or not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(
            f"indices must be a non-empty 1-D array of integers. Received shape={indices.shape}, dtype={indices.dtype}"
        )
    if indices.min() < 0 or indices.max() >= len(data.x_train):
        raise ValueError(
            f"indices must lie in [0, {len(data.x_train)}). Received min={indices.min()}, max={indices.max()}"
        )
    return dataclasses.replace(data, x_train=data.x_train[indices], y_train=data.y_train[indices])


def epochs_for_size(n_examples: int, *, epochs: int, min_steps: int = 0, batch_size: int = 64) -> int:
    """``epochs``, raised so that a small training set still gets at least ``min_steps`` updates.

    With a fixed number of epochs, 250 examples get 14x fewer updates than 3,500: the small run would
    look worse because it trained less, not because it had less data.
    """

    epochs = _validate.positive_int(epochs, "epochs")
    min_steps = _validate.non_negative_int(min_steps, "min_steps")
    per_epoch = schedules.steps_per_epoch(n_examples, batch_size)
    return max(epochs, math.ceil(min_steps / per_epoch))


def learning_curve_by_size(
    name: str,
    data: Dataset,
    model: ModelSpec,
    sizes: Sequence[int],
    *,
    epochs: int,
    seeds: Iterable[int] = (config.DEFAULT_SEED,),
    min_steps: int = 0,
    augment=None,
    patience: int | None = None,
    batch_size: int = 64,
    learning_rate: float = 3e-3,
    verbose: int | str | None = None,
):
    """The training-set-size curve: the same recipe trained on growing subsets, for each seed.

    For every seed, the subsets are nested and stratified (:func:`nested_subset_indices`), so a seed's
    larger subset only adds examples; the validation split is always the whole one. Small subsets get
    extra epochs up to ``min_steps`` updates (:func:`epochs_for_size`).

    Returns a tidy ``pandas.DataFrame``: one :func:`helpers.runs.train` row per (size, seed), columns
    ``runs.ROW_COLUMNS``. Reading it: a training accuracy far above validation that closes as the size
    grows is **variance** (more data or regularization helps); both low and close together is
    **bias** (a bigger model or longer training helps, more data does not).

    Args:
        name: the recipe's name (the ``name`` column).
        sizes: training-set sizes, e.g. ``(250, 500, 1000, 2000, 3500)``.
        epochs: epochs per run (the minimum; see ``min_steps``).
        seeds: one run per seed and size (default ``(42,)``).
        min_steps: the fewest updates any run gets (default 0: exactly ``epochs`` epochs).
        augment, patience, batch_size, learning_rate, verbose: as in :func:`helpers.runs.train`.
    """
    seeds = _validate.seeds(seeds)
    rows = []
    for seed in seeds:
        subsets = nested_subset_indices(data.y_train, sizes, seed=seed)
        for size in sorted(subsets):
            subset = with_train_subset(data, subsets[size])
            epochs_here = epochs_for_size(size, epochs=epochs, min_steps=min_steps, batch_size=batch_size)
            run = runs.train(
                name, subset, model, epochs=epochs_here, augment=augment, patience=patience, batch_size=batch_size,
                learning_rate=learning_rate, seed=seed, verbose=verbose,
            )  # fmt: skip
            rows.append(run.row)
    return pd.DataFrame(rows, columns=list(runs.ROW_COLUMNS)).sort_values(["train_size", "seed"], ignore_index=True)
