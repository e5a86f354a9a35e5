"""Leakage between splits (``10_debugging_training``): the same image in training and validation.

A validation image that also sits in the training set is not a test of generalization: the model
has seen the answer. Duplicates creep in through scraped data, augmentation written to disk, or a
split made after oversampling. Accuracy on such a split is too good to be true, and every choice
made on it (an epoch, a model) is biased towards memorization.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers import _validate

__all__ = ["duplicates", "split_overlaps"]

DEFAULT_DECIMALS = 3
"""Pixels are compared after rounding to this many decimals (1/1000 of the [0, 1] range)."""


def _images(x, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype == object or not np.issubdtype(x.dtype, np.number):
        raise TypeError(f"{name} must be a numeric array of images. Received dtype={x.dtype}")
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"{name} must be a non-empty batch of images (N, ...). Received shape={x.shape}")
    return x


def _keys(x: np.ndarray, decimals: int) -> list[bytes]:
    """One hashable key per image: its pixels rounded, as bytes (-0.0 and 0.0 are the same key)."""
    rounded = np.round(x.astype(np.float64), decimals) + 0.0
    flat = np.ascontiguousarray(rounded.reshape(len(x), -1))
    return [row.tobytes() for row in flat]


def duplicates(x_a, x_b, *, decimals: int = DEFAULT_DECIMALS, pairs: bool = False):
    """How many images of ``x_b`` also occur in ``x_a``: exact copies, after rounding the pixels.

    The check for validation (or test) images leaking into training: ``duplicates(x_train, x_val)``
    should be 0. Rounding makes copies that went through a float conversion or a re-scaling match
    (pixels equal to 1/1000 of the [0, 1] range by default). It is a hash of the rounded pixels, so
    it is fast (a few hundredths of a second for MNIST-sized splits) but exact: a pixel nudged across
    a rounding boundary, and near-duplicates (a shifted, cropped or re-encoded copy), are missed.

    Args:
        x_a: the reference images, e.g. the training split.
        x_b: the images to look up, e.g. the validation split (same image shape as ``x_a``).
        decimals: pixels are rounded to this many decimals first (default 3).
        pairs: return the matches instead of their count (default False).

    Returns:
        The number of images of ``x_b`` with at least one copy in ``x_a``; with ``pairs=True``, an
        ``(m, 2)`` integer array of every matching ``(index_in_a, index_in_b)``.
    """
    x_a, x_b = _images(x_a, "x_a"), _images(x_b, "x_b")
    if x_a.shape[1:] != x_b.shape[1:]:
        raise ValueError(
            f"x_a and x_b must hold images of the same shape. Received {x_a.shape[1:]} and {x_b.shape[1:]}."
        )
    decimals = _validate.non_negative_int(decimals, "decimals")
    _validate.boolean(pairs, "pairs")
    index: dict[bytes, list[int]] = {}
    for i, key in enumerate(_keys(x_a, decimals)):
        index.setdefault(key, []).append(i)
    found = [(i, j) for j, key in enumerate(_keys(x_b, decimals)) for i in index.get(key, ())]
    if pairs:
        return np.array(found, dtype=np.int64).reshape(-1, 2)
    return len({j for _, j in found})


def split_overlaps(data, *, decimals: int = DEFAULT_DECIMALS) -> pd.DataFrame:
    """:func:`duplicates` between every pair of a dataset's splits, and within each split.

    A row per check: ``"val in train"``, ``"test in train"``, ``"test in val"``, then repeated images
    inside each split (``"train in train"`` counts images that appear more than once). Reading the
    test images to look for copies is not evaluating on them: no model is involved.

    Args:
        data: a :class:`helpers.data.Dataset`.
        decimals: as in :func:`duplicates` (default 3).

    Returns:
        A DataFrame with columns ``check, duplicates, of, share`` (``of``: images looked up).
    """
    splits = {"train": data.x_train, "val": data.x_val, "test": data.x_test}
    rows = []
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        n = duplicates(splits[a], splits[b], decimals=decimals)
        rows.append({"check": f"{b} in {a}", "duplicates": n, "of": len(splits[b])})
    for name, x in splits.items():
        keys = _keys(_images(x, name), decimals)
        repeated = len(keys) - len(set(keys))
        rows.append({"check": f"{name} in {name}", "duplicates": repeated, "of": len(keys)})
    table = pd.DataFrame(rows, columns=["check", "duplicates", "of"])
    table["share"] = table["duplicates"] / table["of"]
    return table
