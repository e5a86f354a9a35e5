"""Overfit one small batch (``10_debugging_training``): the quickest test that training works at all.

A network that can fit thousands of images can certainly memorize 8 or 16 of them: trained on that
one batch, again and again, its loss must fall to about 0. Karpathy's recipe calls this "overfit one
batch"; CS231n asks for it before any real run. What the test can and cannot tell:

* **Failing means a systematic fault** in the model or the training step: no weight can change
  (every layer frozen, a learning rate of 0), the gradient cannot flow (dead ReLUs), the loss does
  not fit the output (a double softmax), or the input never reaches the model (all zeros, a
  constant image). Fix it before any longer run: a bigger model or more epochs will not help.
* **Passing proves little about the data.** A network that can memorize reaches the target on
  *random* labels too, so passing says nothing about labels matching their images, about leakage
  or about generalization. Those need the other checks (``first_batch``, ``baselines``,
  ``duplicates``).
* **Partly broken is not always a sure failure.** A network whose feature extractor is frozen
  (random features, a trainable head) memorizes slowly, more or less so with the learning rate:
  on 16 digits the course CNN with only its output layer trainable ended at a loss of 2.08 (Adam
  1e-3) and 1.73 (1e-2) after 300 steps, while a smaller CNN with its last two layers trainable
  reached 0.12 at 1e-2. Only a fully frozen network fails for certain; ``TrainingStats`` shows the
  rest (an update ratio of 0 in the frozen layers).
* **Keras may repair a fault for you.** On TensorFlow, a softmax output with
  ``from_logits=True`` trains normally when the softmax is the model's last operation (Keras
  computes the loss from the logits under it, with a warning); ``loss_at_init`` still flags it.
"""

from __future__ import annotations

import dataclasses
import math
import time

import keras
import numpy as np

from helpers import _validate
from helpers.diagnostics.sanity import check_model, model_loss
from helpers.models import walk_layers
from helpers.transfer.freezing import copy_model

__all__ = ["OverfitResult", "overfit_batch"]

DEFAULT_OVERFIT_LR = 1e-3
"""Adam's learning rate for :func:`overfit_batch` when the model is not compiled."""


@dataclasses.dataclass(frozen=True)
class OverfitResult:
    """The result of :func:`overfit_batch`.

    Attributes:
        passed: the training loss on the batch reached ``target_loss``.
        steps_to_target: the first step (1-based) whose loss was at most ``target_loss``, or None.
        final_loss: the loss of the last step that ran.
        losses: the loss of every step (training mode, before that step's update); training stops
            at the target, so a passing run has ``steps_to_target`` entries, and after
            ``FLAT_STEPS`` steps without any change (nothing is learning).
        target_loss, steps, n, learning_rate, optimizer: the settings of the run.
        label_entropy: the loss of the best model that ignores its input, on this batch's labels.
        hints: what the curve suggests is wrong (empty when it passed).
        seconds: wall time of the run.
    """

    passed: bool
    steps_to_target: int | None
    final_loss: float
    losses: np.ndarray
    target_loss: float
    steps: int
    n: int
    learning_rate: float
    optimizer: str
    label_entropy: float
    hints: list[str]
    seconds: float

    def __str__(self) -> str:
        if self.passed:
            head = (
                f"overfit {self.n} images: PASSED, loss {self.final_loss:.3g} <= {self.target_loss:g} after "
                f"{self.steps_to_target} steps ({self.optimizer}, learning rate {self.learning_rate:g}, "
                f"{self.seconds:.1f} s)"
            )
        else:
            head = (
                f"overfit {self.n} images: FAILED, loss {self.final_loss:.3g} after {len(self.losses)} steps, "
                f"target {self.target_loss:g} ({self.optimizer}, learning rate {self.learning_rate:g}). "
                "A model that cannot memorize a handful of images has a systematic fault."
            )
        return "\n".join([head, *(f"- {h}" for h in self.hints)])


FLAT_STEPS = 25
""":func:`overfit_batch` stops early when the loss has not changed at all for this many steps."""


def _flat(losses: list[float]) -> bool:
    """The loss has stopped moving: a frozen model, a zero learning rate, or only dead units left."""
    if len(losses) < FLAT_STEPS:
        return False
    recent = losses[-FLAT_STEPS:]
    return max(recent) - min(recent) <= 1e-7 * max(1.0, abs(recent[-1]))


def _optimizer_for(model, learning_rate):
    """A fresh optimizer: a copy of the compiled one (its rate replaced if given), else Adam."""
    compiled = getattr(model, "optimizer", None) if getattr(model, "compiled", False) else None
    if compiled is None:
        rate = DEFAULT_OVERFIT_LR if learning_rate is None else learning_rate
        return keras.optimizers.Adam(rate)
    fresh = type(compiled).from_config(compiled.get_config())
    if learning_rate is not None:
        fresh.learning_rate = learning_rate
    return fresh


def _class_ids(y: np.ndarray) -> np.ndarray:
    return np.argmax(y, axis=1) if y.ndim == 2 and y.shape[1] > 1 else y.reshape(len(y)).astype(np.int64)


def _label_entropy(y: np.ndarray) -> float:
    counts = np.bincount(_class_ids(y))
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def _hints(losses: np.ndarray, x: np.ndarray, n_trainable: int, learning_rate: float, entropy: float) -> list[str]:
    hints = []
    if n_trainable == 0:
        hints.append("The model has no trainable weights: every layer is frozen (trainable=False).")
    elif learning_rate == 0:
        hints.append("The learning rate is 0: no weight can move.")
    if float(np.ptp(x)) == 0.0:
        hints.append(f"Every pixel of the batch has the same value ({float(x.flat[0]):g}): the input carries nothing.")
    elif np.allclose(x, x[:1]):
        hints.append("All images of the batch are identical: the model cannot tell them apart.")
    finite = losses[np.isfinite(losses)]
    if len(finite) < len(losses):
        hints.append("The loss became NaN or infinite: lower the learning rate, check the inputs and the loss.")
    if len(finite) >= 2 and abs(float(finite[-1]) - float(finite[0])) < 1e-6 * max(1.0, abs(float(finite[0]))):
        hints.append("The loss never moved: no weight changes, or the gradients are all zero (dead ReLUs).")
    elif len(finite) and entropy > 0 and abs(float(finite[-1]) - entropy) < 0.1 * entropy:
        hints.append(
            f"The loss settled near {entropy:.3g}, the loss of a model that ignores its input on these labels: "
            "only the output bias learns (dead units, an input that does not reach the model)."
        )
    elif len(finite) and float(finite[-1]) > 0.5 * float(finite[0]):
        hints.append(
            "The loss fell only a little: check that the loss matches the output layer (a softmax output with "
            "from_logits=True cannot go much below 1), the learning rate, and gradients per layer."
        )
    return hints


def overfit_batch(
    model,
    x,
    y,
    *,
    steps: int = 300,
    learning_rate: float | None = None,
    target_loss: float = 0.05,
    n: int | None = None,
    dropout: bool = False,
) -> OverfitResult:
    """Train a copy of ``model`` on one small batch until its loss reaches ``target_loss``.

    Passing (``result.passed``) means the network and its training step *can* learn: it memorized
    the batch. Failing means something systematic is broken: see the module's docstring, and the
    ``hints`` of the result, for what. Passing does not show that the labels are right: random
    labels pass too.

    The caller's model is left untouched: the run uses a copy (same weights and ``trainable``
    flags) with a fresh optimizer. The loss is the compiled one (the sparse cross-entropy matching
    the output layer for an uncompiled model), without weight penalties, in training mode
    (BatchNorm on batch statistics): the loss the optimizer sees. Dropout is switched off in the
    copy, as the recipe does for this test: its noise keeps even a memorized batch's loss from
    settling near 0 (the course CNN needed about 100 steps with it and 40 without, on 16 digits).

    Args:
        model: a built Keras classifier, compiled or not.
        x, y: images and labels; the first ``n`` are used.
        steps: the most training steps (default 300; a healthy small CNN needs well under that).
        learning_rate: default None: the compiled optimizer's own settings (a fresh copy of it),
            or Adam at 1e-3 for an uncompiled model. A number replaces the rate of that optimizer.
        target_loss: the loss that counts as memorized (default 0.05).
        n: how many examples to memorize (default None: all of ``x``; 8 to 16 is the usual size).
        dropout: keep the model's Dropout layers active (default False: their rate is set to 0
            in the copy).
    """
    import tensorflow as tf

    check_model(model)
    steps = _validate.positive_int(steps, "steps")
    target_loss = _validate.positive_number(target_loss, "target_loss")
    if learning_rate is not None:
        learning_rate = _validate.non_negative_number(learning_rate, "learning_rate")
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    if len(x) == 0 or len(x) != len(y):
        raise ValueError(f"x and y must be non-empty and of equal length. Received: {len(x)} and {len(y)}")
    n = _validate.positive_int(n, "n", allow_none=True) or len(x)
    if n > len(x):
        raise ValueError(f"n={n} is more than the {len(x)} examples given.")
    dropout = _validate.boolean(dropout, "dropout")
    x, y = x[:n], y[:n]
    loss, _ = model_loss(model)
    loss_fn = keras.losses.get(loss) if isinstance(loss, str) else loss
    clone = copy_model(model)
    if not dropout:
        for layer in walk_layers(clone, leaves_only=True):
            if isinstance(layer, keras.layers.Dropout):  # SpatialDropout2D too
                layer.rate = 0.0
    optimizer = _optimizer_for(model, learning_rate)
    variables = clone.trainable_variables
    rate = optimizer.learning_rate
    rate = float(rate.numpy() if hasattr(rate, "numpy") else rate)
    x_t, y_t = tf.constant(x), tf.constant(y)

    if variables:
        optimizer.build(variables)

        @tf.function
        def step():
            with tf.GradientTape() as tape:
                value = tf.reduce_mean(loss_fn(y_t, clone(x_t, training=True)))
            grads = tape.gradient(value, variables)
            optimizer.apply_gradients([(g if g is not None else tf.zeros_like(v), v) for g, v in zip(grads, variables)])
            return value
    else:

        @tf.function
        def step():
            return tf.reduce_mean(loss_fn(y_t, clone(x_t, training=True)))

    start = time.perf_counter()
    losses, reached = [], None
    for i in range(1, steps + 1):
        value = float(step())
        losses.append(value)
        if value <= target_loss:
            reached = i
            break
        if not math.isfinite(value) or _flat(losses):
            break
    losses = np.asarray(losses)
    seconds = time.perf_counter() - start
    entropy = _label_entropy(y)
    hints = [] if reached else _hints(losses, x, len(variables), rate, entropy)
    return OverfitResult(
        passed=reached is not None,
        steps_to_target=reached,
        final_loss=float(losses[-1]),
        losses=losses,
        target_loss=target_loss,
        steps=steps,
        n=n,
        learning_rate=rate,
        optimizer=type(optimizer).__name__,
        label_entropy=entropy,
        hints=hints,
        seconds=seconds,
    )
