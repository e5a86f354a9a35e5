"""Averaging to generalize better (``08_overfitting``): over weights, over models, over views.

* **Over weights.** :class:`WeightAveraging` is stochastic weight averaging (SWA; Izmailov et al.,
  2018): the mean of the weights at the end of the last epochs. An exponential moving average of the
  weights needs no helper: Keras's optimizers keep one with ``use_ema=True``
  (``helpers.training.compile_classifier(..., ema=0.99)``). Averaged weights were never trained as
  such, so the BatchNorm statistics do not belong to them: :func:`recompute_batchnorm` measures them
  again on training images.
* **Over models.** :func:`ensemble_proba` averages the predicted probabilities of several models
  (e.g. the same recipe trained from 3 seeds): the cost is a training and a prediction per member.
* **Over views.** :func:`tta_proba` is test-time augmentation: the mean prediction over a few
  label-preserving views of each image (:func:`shifted_views`: the image moved by a pixel), at one
  prediction per view.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from helpers import _validate, evaluation, models
from helpers.data import validate_images


@keras.saving.register_keras_serializable(package="cnn_course")
class WeightAveraging(keras.callbacks.Callback):
    """Stochastic weight averaging: end training on the mean of the weights of the last epochs.

    From epoch ``start_epoch`` (1-based) on, the trainable weights at the end of every epoch are added
    to a running mean; when training ends the model gets that mean. With a schedule that stays away
    from 0 in those epochs the weights wander around a wide minimum, and their mean lies nearer its
    centre (the paper's argument); with a schedule that has already annealed to 0 they hardly move and
    the mean changes little. The validation metrics Keras logs per epoch are the raw weights'.

    Pass ``bn_images`` (training images, a few hundred or more) to re-measure the BatchNorm statistics
    for the averaged weights with :func:`recompute_batchnorm`; without it a model with BatchNorm keeps
    the statistics of its last raw weights. The images are not part of the callback's config: a
    reloaded callback averages without re-measuring until it is given images again.

    Args:
        start_epoch: the first epoch (counted from 1) whose weights enter the mean.
        bn_images: images for :func:`recompute_batchnorm`, or None.

    Attributes:
        averaged_epochs: the 1-based epochs in the mean of the last training.
    """

    def __init__(self, start_epoch: int, bn_images=None):
        super().__init__()
        self.start_epoch = _validate.positive_int(start_epoch, "start_epoch")
        self.bn_images = None if bn_images is None else validate_images(bn_images, name="bn_images")
        self.averaged_epochs: list[int] = []
        self._sum: list[np.ndarray] | None = None

    def on_train_begin(self, logs=None):
        self.averaged_epochs, self._sum = [], None

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 < self.start_epoch:
            return
        values = [v.astype(np.float64) for v in _trainable_values(self.model)]
        self._sum = values if self._sum is None else [s + v for s, v in zip(self._sum, values, strict=True)]
        self.averaged_epochs.append(epoch + 1)

    def on_train_end(self, logs=None):
        if not self.averaged_epochs:
            raise RuntimeError(
                f"WeightAveraging(start_epoch={self.start_epoch}) averaged nothing: training ended before epoch "
                f"{self.start_epoch}. Start the average at an epoch the run reaches."
            )
        n = len(self.averaged_epochs)
        for variable, total in zip(self.model.trainable_weights, self._sum, strict=True):
            variable.assign((total / n).astype(variable.dtype))
        if self.bn_images is not None:
            recompute_batchnorm(self.model, self.bn_images)

    def get_config(self) -> dict:
        return {"start_epoch": self.start_epoch}


def _trainable_values(model) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(v) for v in model.trainable_weights]


def batchnorm_layers(model) -> list[keras.layers.BatchNormalization]:
    """Every BatchNormalization layer of ``model``, nested models included."""
    leaves = models.walk_layers(model, leaves_only=True)
    return [layer for layer in leaves if isinstance(layer, keras.layers.BatchNormalization)]


def recompute_batchnorm(model, images, *, batch_size: int = 256) -> int:
    """Measure every BatchNorm layer's moving mean and variance again, on ``images``; returns the batches used.

    The statistics become the average of the per-batch statistics over ``images`` (as
    ``torch.optim.swa_utils.update_bn`` does): each batch runs through the model in training mode with
    the layers' momentum set so that the moving values are a plain running mean. Only the statistics
    change (a call is not a training step); the layers' momentum is put back afterwards. Dropout is active during these
    passes (training mode), as in PyTorch's version.
    """
    images = validate_images(images, name="images")
    batch_size = _validate.positive_int(batch_size, "batch_size")
    layers = batchnorm_layers(model)
    if not layers:
        return 0
    momenta = [layer.momentum for layer in layers]
    try:
        for k, start in enumerate(range(0, len(images), batch_size), start=1):
            for layer in layers:
                layer.momentum = (k - 1) / k  # moving = mean of the k batch statistics so far
            model(images[start : start + batch_size], training=True)
    finally:
        for layer, momentum in zip(layers, momenta, strict=True):
            layer.momentum = momentum
    return k


def ensemble_proba(members: Sequence[keras.Model], x, *, batch_size: int = 256) -> np.ndarray:
    """The mean of the members' predicted class probabilities for ``x`` (each member predicts once)."""
    if isinstance(members, keras.Model) or not members:
        raise ValueError("members must be a non-empty list of trained models (e.g. one per seed).")
    probs = [evaluation.predict_proba(m, x, batch_size=batch_size) for m in members]
    shapes = {p.shape for p in probs}
    if len(shapes) != 1:
        raise ValueError(f"The members predict different shapes {sorted(shapes)}: they must classify the same classes.")
    return np.mean(probs, axis=0)


DIGIT_SHIFTS: tuple[tuple[int, int], ...] = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))
"""The image itself and its four one-pixel moves: views that keep a digit's label."""


def shift_images(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``x`` moved ``dy`` pixels down and ``dx`` right, filling the uncovered border with 0 (background)."""
    x = validate_images(x)
    out = np.zeros_like(x)
    h, w = x.shape[1:3]
    if abs(dy) >= h or abs(dx) >= w:
        raise ValueError(f"A shift of ({dy}, {dx}) moves a {h}x{w} image out of view.")
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[:, yd, xd] = x[:, ys, xs]
    return out


def tta_proba(model, x, *, shifts: Sequence[tuple[int, int]] = DIGIT_SHIFTS, batch_size: int = 256) -> np.ndarray:
    """Test-time augmentation: the mean predicted probabilities over ``x`` moved by each of ``shifts``.

    Each view costs one prediction over ``x``. Use views that keep the label: a pixel's move does for
    digits; a flip would not (a mirrored 2 is no 2).
    """
    x = validate_images(x)
    if not shifts:
        raise ValueError("shifts must list at least one (dy, dx) view, e.g. helpers.averaging.DIGIT_SHIFTS.")
    views = [shift_images(x, int(dy), int(dx)) for dy, dx in shifts]
    return np.mean([evaluation.predict_proba(model, v, batch_size=batch_size) for v in views], axis=0)
