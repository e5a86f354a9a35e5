"""Measuring a trained model: accuracy on a split, predictions, and (in 06) richer reports.

The test split is for the end of a notebook: tune on validation, report test once.
"""

from __future__ import annotations

import numpy as np

from helpers.data import Dataset, validate_images, validate_labels


def predict_classes(model, x: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """The predicted class id of every image (argmax of the model's output)."""
    x = validate_images(x)
    expected = tuple(model.input_shape[1:])
    if tuple(x.shape[1:]) != expected:
        raise ValueError(f"The model expects images of shape {expected}. Received shape={x.shape[1:]}")
    return np.argmax(model.predict(x, batch_size=batch_size, verbose=0), axis=1).astype(np.int32)


def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of images whose predicted class equals the label."""
    y = validate_labels(y, n=len(x))
    return float(np.mean(predict_classes(model, x) == y))


def evaluate(model, data: Dataset, split: str = "test") -> float:
    """Accuracy of ``model`` on one split of ``data`` (``"train"``, ``"val"`` or ``"test"``)."""
    splits = data.splits()
    if split not in splits:
        raise ValueError(f"split must be one of {', '.join(splits)}. Received: split={split!r}")
    return accuracy(model, *splits[split])
