"""A cross-entropy and an accuracy that take class numbers or soft labels (``05_regularization``).

The course compiles its classifiers with ``sparse_categorical_crossentropy``: labels are class
numbers. Two techniques of 05 need more than that loss offers:

* **Label smoothing** (Szegedy et al., 2016) trains towards ``(1 - eps)`` on the true class and
  ``eps / K`` on each of the ``K`` classes, instead of 1 and 0. Keras's
  ``SparseCategoricalCrossentropy`` has no ``label_smoothing`` argument (only the one-hot
  ``CategoricalCrossentropy`` has), so the pipelines would have to switch to one-hot labels.
* **Mixup** (:func:`helpers.augment.mixup`) turns training labels into mixtures of two classes, while
  the validation labels stay class numbers.

:class:`CrossEntropy` accepts either kind of label in the same model, so neither technique changes the
pipelines, and :func:`accuracy_metric` reads the class of a soft label as its largest entry. Both are
registered for ``keras.saving``: a model compiled with them saves and loads.
"""

from __future__ import annotations

import keras
from keras import ops

from helpers import _validate


def _soft_labels(y_true, y_pred):
    """``y_true`` as a distribution over the classes of ``y_pred``: one-hot when it holds class numbers."""
    true_rank, pred_rank = len(y_true.shape), len(y_pred.shape)
    if true_rank == pred_rank and y_true.shape[-1] == y_pred.shape[-1] and y_pred.shape[-1] != 1:
        return ops.cast(y_true, y_pred.dtype)  # already one distribution per example
    if true_rank == pred_rank:  # class numbers of shape (batch, 1)
        y_true = ops.squeeze(y_true, axis=-1)
    return ops.one_hot(ops.cast(y_true, "int32"), y_pred.shape[-1], dtype=y_pred.dtype)


@keras.saving.register_keras_serializable(package="cnn_course")
class CrossEntropy(keras.losses.Loss):
    """Cross-entropy of predicted probabilities against class numbers or soft labels, with label smoothing.

    With class numbers it equals ``SparseCategoricalCrossentropy``; with ``label_smoothing=eps`` it
    equals ``CategoricalCrossentropy(label_smoothing=eps)`` on one-hot labels (each target becomes
    ``(1 - eps) * one_hot + eps / K``). Soft labels (e.g. mixup's) are smoothed the same way.

    Args:
        label_smoothing: the share ``eps`` of each target spread evenly over all classes, in ``[0, 1)``.
    """

    def __init__(self, label_smoothing: float = 0.0, name: str = "crossentropy", **kwargs):
        if not _validate.is_number(label_smoothing) or not 0 <= label_smoothing < 1:
            raise ValueError(
                "label_smoothing is the share of each target spread over all classes, in [0, 1) (0.1 is common). "
                f"Received: label_smoothing={label_smoothing!r}"
            )
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        return keras.losses.categorical_crossentropy(
            _soft_labels(y_true, y_pred), y_pred, label_smoothing=self.label_smoothing
        )

    def get_config(self) -> dict:
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


@keras.saving.register_keras_serializable(package="cnn_course")
def label_accuracy(y_true, y_pred):
    """1.0 where the predicted class is the label's class (a soft label's class is its largest entry)."""
    true_class = ops.argmax(_soft_labels(y_true, y_pred), axis=-1)
    return ops.cast(ops.equal(true_class, ops.argmax(y_pred, axis=-1)), "float32")


def accuracy_metric() -> keras.metrics.Metric:
    """An ``"accuracy"`` metric for :class:`CrossEntropy` models (its logs keep the names ``accuracy``,
    ``val_accuracy``). On mixup's training batches it counts the class with the larger share."""
    return keras.metrics.MeanMetricWrapper(label_accuracy, name="accuracy")
