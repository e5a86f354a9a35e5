"""Checks before training (``10_debugging_training``): the loss at initialization, the output bias
for imbalanced classes, and the batch exactly as the model receives it.

Karpathy's "A Recipe for Training Neural Networks" (2019) and CS231n start every run the same way:
*verify the loss at init* (a softmax classifier that knows nothing should score ``ln K``), *init the
output bias well* (log priors for imbalanced data), and *visualize just before the net* (look at the
batch that enters ``model(x)``, after every pipeline step, not at the files on disk).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import warnings

import keras
import numpy as np

from helpers import _validate

__all__ = ["InitLoss", "expected_init_loss", "loss_at_init", "output_bias_for", "set_output_bias", "first_batch"]

PROBABILITY_ACTIVATIONS = ("softmax", "sigmoid")
"""Output activations that already turn scores into probabilities."""


# ----------------------------------------------------------------------------------------------
# The loss a model that knows nothing should have.


def _class_counts(class_counts, name: str = "class_counts") -> np.ndarray:
    counts = np.asarray(class_counts, dtype=np.float64)
    if counts.ndim != 1 or len(counts) < 2:
        raise ValueError(
            f"{name} must be a 1-D sequence with one count per class (at least 2), e.g. "
            f"np.bincount(y_train). Received: {name}={class_counts!r}"
        )
    if not np.all(np.isfinite(counts)) or np.any(counts < 0) or counts.sum() <= 0:
        raise ValueError(f"{name} must hold counts >= 0 that are not all 0. Received: {name}={class_counts!r}")
    return counts


def expected_init_loss(num_classes: int, class_counts=None) -> float:
    """The cross-entropy of a classifier that ignores its input: what the loss at init should be.

    Without ``class_counts`` it is ``ln(num_classes)``, the loss of uniform predictions (``ln 10 =
    2.303`` for ten classes). A freshly initialized softmax classifier predicts nearly uniform
    probabilities, so its loss should be close to that. With ``class_counts`` it is the entropy of
    the class prior, ``-sum(p_k ln p_k)``: the best loss any input-independent model can reach, and
    the loss at init after :func:`set_output_bias`.

    Args:
        num_classes: the number of classes K (at least 2).
        class_counts: optional examples per class (length K), e.g. ``np.bincount(y_train)``.
    """
    num_classes = _validate.int_at_least(num_classes, "num_classes", 2)
    if class_counts is None:
        return math.log(num_classes)
    counts = _class_counts(class_counts)
    if len(counts) != num_classes:
        raise ValueError(f"class_counts has {len(counts)} entries but num_classes={num_classes}; give one per class.")
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


# ----------------------------------------------------------------------------------------------
# What the model's output layer and loss are.


def check_model(model) -> keras.Model:
    """``model`` if it is a Keras model, else a ``TypeError`` that says what to pass."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"Expected a Keras model (functional or Sequential). Received: {type(model).__name__}")
    return model


def _output_layer(model) -> keras.layers.Layer:
    """The layer that produces the model's (single) output."""
    check_model(model)
    outputs = getattr(model, "outputs", None)
    if outputs is not None and len(outputs) != 1:
        raise ValueError(f"Model {model.name!r} has {len(outputs)} outputs; these checks need one classifier output.")
    history = getattr(outputs[0], "_keras_history", None) if outputs else None
    if history is not None:
        return history.operation
    if model.layers:
        return model.layers[-1]
    raise ValueError(f"Model {model.name!r} has no layers.")


_PASS_THROUGH = (
    keras.layers.Rescaling,
    keras.layers.Identity,
    keras.layers.Dropout,
    keras.layers.Reshape,
    keras.layers.Flatten,
    keras.layers.ActivityRegularization,
)


def _activation_name(layer) -> str | None:
    """The activation ``layer`` applies (``"softmax"``, ``"linear"``, ...), or None for a layer that
    only passes values on (rescaling, dropout, reshaping) or is not known here."""
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    activation = getattr(layer, "activation", None)
    if activation is not None:
        return getattr(activation, "__name__", type(activation).__name__)
    return None


def _inbound_layer(layer):
    try:
        inputs = layer.input
    except (AttributeError, ValueError):
        return None
    if isinstance(inputs, (list, tuple)):
        return None
    history = getattr(inputs, "_keras_history", None)
    return None if history is None else history.operation


def output_chain(model) -> list[tuple[str, str]]:
    """The last steps of ``model``, from its output backwards: ``(layer name, activation)`` pairs.

    The walk goes back through activation layers and layers that only pass values on (Rescaling,
    Dropout, Reshape: activation ``"pass"``) and stops after the first layer with weights (its own
    activation is the last entry). ``[("predictions", "softmax")]`` is a softmax classifier;
    ``[("probs", "softmax"), ("predictions", "softmax")]`` applies softmax twice.
    """
    chain: list[tuple[str, str]] = []
    layer = _output_layer(model)
    for _ in range(16):
        if layer is None or isinstance(layer, keras.layers.InputLayer):
            break
        name = _activation_name(layer)
        if name is None and not isinstance(layer, _PASS_THROUGH):
            break
        chain.append((layer.name, name or "pass"))
        if getattr(layer, "kernel", None) is not None:
            break
        layer = _inbound_layer(layer)
    return chain


def output_activation(model) -> str:
    """``"softmax"`` or ``"sigmoid"`` when ``model`` ends with that activation (possibly followed by
    layers that only pass values on), else ``"linear"``: the model outputs logits."""
    for _, name in output_chain(model):
        if name in PROBABILITY_ACTIVATIONS:
            return name
    return "linear"


def _looks_like_probabilities(y_pred: np.ndarray) -> bool:
    """Rows of at least two values in [0, 1] that sum to 1: a softmax, whatever computed it."""
    if y_pred.ndim != 2 or y_pred.shape[1] < 2:
        return False
    return bool(y_pred.min() >= 0 and y_pred.max() <= 1 and np.allclose(y_pred.sum(axis=1), 1.0, atol=1e-3))


@dataclasses.dataclass(frozen=True)
class _LossInfo:
    kind: str  # "sparse", "categorical", "binary" or "other"
    from_logits: bool
    name: str
    fn: object


def _loss_info(loss) -> _LossInfo:
    fn = keras.losses.get(loss) if isinstance(loss, str) else loss
    inner = getattr(fn, "fn", fn)  # a LossFunctionWrapper (SparseCategoricalCrossentropy, ...) wraps a function
    name = getattr(inner, "__name__", type(inner).__name__)
    config = fn.get_config() if isinstance(fn, keras.losses.Loss) else {}
    from_logits = bool(config.get("from_logits", False))
    lowered = name.lower()
    if "sparse_categorical" in lowered:
        kind = "sparse"
    elif "categorical" in lowered:
        kind = "categorical"
    elif "binary" in lowered:
        kind = "binary"
    else:
        kind = "other"
    return _LossInfo(kind=kind, from_logits=from_logits, name=name, fn=fn)


def _default_loss(activation: str) -> keras.losses.Loss:
    """What an uncompiled model would be trained with: sparse cross-entropy matching its output."""
    return keras.losses.SparseCategoricalCrossentropy(from_logits=activation not in PROBABILITY_ACTIVATIONS)


def model_loss(model) -> tuple[object, bool]:
    """``(loss, compiled)``: the loss ``model`` was compiled with, else the sparse cross-entropy that
    matches its output layer (``from_logits`` when the output is linear)."""
    loss = getattr(model, "loss", None) if getattr(model, "compiled", False) else None
    if isinstance(loss, (dict, list, tuple)):
        raise ValueError("The model was compiled with several losses; these checks need one classifier loss.")
    if loss is None:
        return _default_loss(output_activation(model)), False
    return loss, True


# ----------------------------------------------------------------------------------------------
# The loss at init.


@dataclasses.dataclass(frozen=True)
class InitLoss:
    """The result of :func:`loss_at_init`.

    Attributes:
        measured: the mean loss of the model on the batch, before any training (NaN if the labels
            do not fit the loss, so it could not be computed).
        expected: what it should be (see :func:`expected_init_loss`).
        ok: True when nothing was flagged.
        problems: one sentence per finding, each saying what to change.
        loss: the name of the loss that was measured.
    """

    measured: float
    expected: float
    ok: bool
    problems: list[str]
    loss: str = ""

    @property
    def ratio(self) -> float:
        """``measured / expected`` (1.0 is ideal)."""
        return self.measured / self.expected if self.expected > 0 else math.nan

    def __str__(self) -> str:
        head = (
            f"loss at init: measured {self.measured:.3f}, expected {self.expected:.3f} "
            f"(ratio {self.ratio:.2f}, {self.loss}): {'OK' if self.ok else 'PROBLEM'}"
        )
        return "\n".join([head, *(f"- {p}" for p in self.problems)])


def _label_problems(y: np.ndarray, info: _LossInfo, units: int) -> list[str]:
    one_hot = y.ndim == 2 and y.shape[1] > 1
    problems = []
    if info.kind == "sparse" and one_hot:
        problems.append(
            f"The labels are one-hot (shape {y.shape}) but the loss ({info.name}) is sparse and expects "
            "integer class ids. Fix: pass np.argmax(y, axis=1), or use keras.losses.CategoricalCrossentropy."
        )
    if info.kind == "categorical" and not (one_hot and y.shape[1] == units):
        problems.append(
            f"The labels are integer class ids (shape {y.shape}) but the loss ({info.name}) is categorical and "
            "expects one-hot rows. Fix: use keras.losses.SparseCategoricalCrossentropy (the course's choice), "
            "or keras.utils.to_categorical(y, num_classes)."
        )
    if info.kind == "binary" and units > 1:
        problems.append(
            f"The loss is {info.name} but the model has {units} outputs: binary cross-entropy treats each "
            "output as a separate yes/no question. Fix: SparseCategoricalCrossentropy for one label per image."
        )
    if info.kind == "sparse" and not one_hot and y.size and int(np.max(y)) >= units:
        problems.append(
            f"The labels go up to {int(np.max(y))} but the model has {units} outputs. Fix: one output per class "
            "(Dense(num_classes))."
        )
    return problems


def _double_softmax_floor(units: int) -> float:
    """The lowest loss a double softmax can reach: softmax of a one-hot row, ``ln(1 + (K-1)/e)``."""
    return math.log(1 + (units - 1) / math.e)


def _pairing_problems(chain: list[tuple[str, str]], probabilities: bool, info: _LossInfo, units: int) -> list[str]:
    problems = []
    softmaxes = [name for name, activation in chain if activation == "softmax"]
    floor = f"{_double_softmax_floor(units):.2f}" if units > 1 else "about 0.3"
    if len(softmaxes) > 1:
        problems.append(
            f"The model applies softmax twice ({' after '.join(softmaxes)}): the second one squashes probabilities "
            f"that are already in [0, 1], so the loss cannot fall below {floor} and the model barely learns. "
            "Fix: keep one softmax (activation=None on the Dense layer, or drop the extra Softmax layer)."
        )
    if info.kind == "other":
        return problems
    if probabilities and info.from_logits and len(softmaxes) < 2:
        found = [a for _, a in chain if a in PROBABILITY_ACTIVATIONS]
        activation = found[0] if found else "softmax"  # else: rows that sum to 1, computed some other way
        if chain and chain[0][1] == activation:
            caught = (
                f"Keras 3 on TensorFlow spots this particular case ({activation} is the model's last operation) and "
                f"computes the loss from the logits underneath, with a warning; a layer after the {activation}, or "
                f"another backend, makes it real: the loss cannot fall below {floor} and the model barely learns."
            )
        else:
            caught = f"Nothing undoes it here: the loss cannot fall below {floor} and the model barely learns."
        problems.append(
            f"Double {activation}: the model outputs probabilities ({activation}) and the loss applies {activation} "
            f"again (from_logits=True). {caught} Fix: from_logits=False, or a linear output layer "
            "(activation=None) with from_logits=True."
        )
    if not probabilities and not info.from_logits:
        problems.append(
            "The output layer is linear (it outputs logits) but the loss expects probabilities "
            "(from_logits=False). Fix: from_logits=True, or activation='softmax' on the output layer."
        )
    return problems


@contextlib.contextmanager
def preserved_state(model):
    """Run a block that calls ``model(x, training=True)`` without changing the model.

    A training-mode call updates BatchNorm's moving statistics and advances the random state of
    dropout and augmentation layers; a diagnostic must not. Every non-trainable variable is saved
    on entry and restored on exit.
    """
    variables = list(model.non_trainable_variables)
    saved = [np.array(v.numpy()) for v in variables]
    try:
        yield
    finally:
        for variable, value in zip(variables, saved):
            variable.assign(value)


def _measure(fn, y, y_pred) -> tuple[float, list[str]]:
    """The mean loss, and what Keras warned while computing it (e.g. a softmax output with from_logits=True)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = float(np.mean(keras.ops.convert_to_numpy(fn(y, y_pred))))
    return value, [" ".join(str(w.message).split()) for w in caught]


def loss_at_init(
    model, x, y, *, class_counts=None, bounds: tuple[float, float] = (0.5, 1.5), training: bool = True
) -> InitLoss:
    """Measure the loss of an untrained model and check it, and its loss, for the usual bugs.

    The loss is the model's compiled loss (without weight penalties) on ``(x, y)`` in training
    mode, the first loss a training run reports (the model's BatchNorm statistics and random state
    are restored afterwards); an uncompiled model is measured with the sparse cross-entropy that
    matches its output layer. Two kinds of problem are flagged:

    * **By measurement**: a loss outside ``bounds`` times the expected value. Far above ``ln K``
      means the initial logits are too large (the network is confidently wrong before it learnt
      anything, e.g. inputs in 0..255 or a large init of the last layer); far below means the task
      is too easy at init (labels leaking into the inputs, or a loss that does not measure what you
      think).
    * **By inspection** (they can hide behind a normal-looking number): a softmax/sigmoid output with
      ``from_logits=True`` (double softmax), a linear output with ``from_logits=False``, one-hot
      labels with a sparse loss, integer labels with a categorical loss, binary cross-entropy on
      several outputs. Each finding says which fix to make.

    Args:
        model: a built Keras classifier (compiled or not), before training.
        x, y: a batch of images and labels (a few hundred examples are plenty).
        class_counts: optional examples per class; the expected value becomes the entropy of the
            class prior (use it after :func:`set_output_bias`). Default None: ``ln K``.
        bounds: the accepted range of ``measured / expected`` (default ``(0.5, 1.5)``).
        training: measure in training mode (default True: dropout on, BatchNorm on batch
            statistics, as in the first training step). False measures as ``evaluate`` does; at
            init BatchNorm's moving statistics are still 0 and 1 there, which hides a bad scale.
    """
    training = _validate.boolean(training, "training")
    low, high = bounds if isinstance(bounds, (tuple, list)) and len(bounds) == 2 else (None, None)
    if not (_validate.is_number(low) and _validate.is_number(high) and 0 <= low < 1 < high):
        raise ValueError(f"bounds must be (low, high) with 0 <= low < 1 < high. Received: bounds={bounds!r}")
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    if len(x) == 0 or len(x) != len(y):
        raise ValueError(f"x and y must be non-empty and of equal length. Received: {len(x)} and {len(y)}")
    loss, _ = model_loss(model)
    info = _loss_info(loss)
    chain = output_chain(model)
    with preserved_state(model):
        y_pred = model(x, training=training)
    units = int(y_pred.shape[-1])
    probabilities = output_activation(model) != "linear" or _looks_like_probabilities(
        keras.ops.convert_to_numpy(y_pred)
    )
    num_classes = max(units, 2)
    expected = expected_init_loss(num_classes, class_counts)
    problems = _pairing_problems(chain, probabilities, info, units) + _label_problems(y, info, units)
    try:
        measured, keras_warnings = _measure(info.fn, y, y_pred)
        if not problems:  # Keras's own warnings become findings, unless the inspection already made one
            problems += [f"Keras warned: {w}" for w in keras_warnings]
    except (ValueError, TypeError) as exc:  # the labels do not fit the loss: Keras refuses them
        if not problems:
            raise
        problems.append(f"Keras could not compute the loss on these labels: {str(exc).splitlines()[0]}")
        measured = None
    if measured is None:
        measured = math.nan
    elif not math.isfinite(measured):
        problems.append(
            f"The loss at init is {measured}: the forward pass produces NaN or infinity. Check the inputs for NaN "
            "and their scale, and the initialization."
        )
    else:
        ratio = measured / expected
        if ratio > high:
            problems.append(
                f"The loss at init is {measured:.3g}, {ratio:.1f}x the expected {expected:.3g}: the initial "
                "predictions are confidently wrong (logits too large). Check the input scale (pixels in 0..1?) "
                "and the initialization of the last layer (keep its weights small)."
            )
        elif ratio < low:
            problems.append(
                f"The loss at init is {measured:.3g}, only {ratio:.2f}x the expected {expected:.3g}: an untrained "
                "model should not do this well. Check for labels leaking into the inputs, pass class_counts if "
                "the classes are imbalanced, and check that the loss matches the labels."
            )
    return InitLoss(
        measured=measured, expected=float(expected), ok=not problems, problems=problems, loss=str(info.name)
    )


# ----------------------------------------------------------------------------------------------
# The output bias for imbalanced classes.


def output_bias_for(class_counts) -> np.ndarray:
    """The log priors ``ln(n_k / n)``: the last Dense layer's bias that makes a fresh softmax
    classifier predict the class frequencies instead of uniform probabilities.

    With imbalanced classes the network otherwise spends its first steps learning the prior
    (a "hockey stick" in the loss curve); ``softmax(ln p) = p``, so this bias starts it there.
    Every class needs at least one example.
    """
    counts = _class_counts(class_counts)
    if np.any(counts == 0):
        raise ValueError(
            f"class_counts has classes with no examples ({np.flatnonzero(counts == 0).tolist()}); their log prior "
            "is -infinity. Drop those classes or add examples."
        )
    return np.log(counts / counts.sum())


def set_output_bias(model, class_counts) -> np.ndarray:
    """Set the bias of ``model``'s output Dense layer to :func:`output_bias_for` ``(class_counts)``.

    A single sigmoid output (binary classification, two counts) gets the log odds
    ``ln(n_1 / n_0)`` instead. Returns the bias that was set; the model is changed in place.
    """
    layer = _output_layer(model)
    if not isinstance(layer, keras.layers.Dense) or getattr(layer, "bias", None) is None:
        raise ValueError(
            f"The output layer {layer.name!r} ({type(layer).__name__}) is not a Dense layer with a bias. "
            "End the model with Dense(num_classes, activation='softmax') (use_bias=True)."
        )
    counts = _class_counts(class_counts)
    units = int(layer.units)
    if units == 1 and len(counts) == 2:
        if np.any(counts == 0):
            raise ValueError("Both classes need examples to set the log odds of a sigmoid output.")
        bias = np.array([math.log(counts[1] / counts[0])])
    elif units == len(counts):
        bias = output_bias_for(counts)
    else:
        raise ValueError(f"The output layer has {units} units but class_counts has {len(counts)} entries.")
    layer.bias.assign(bias.astype(layer.bias.dtype))
    return bias


# ----------------------------------------------------------------------------------------------
# The batch that enters model(x).


def _to_numpy(value):
    if value is None:
        return None
    if isinstance(value, dict):
        return {k: _to_numpy(v) for k, v in value.items()}
    return np.asarray(keras.ops.convert_to_numpy(value))


def first_batch(pipeline_or_arrays, *, batch_size: int | None = None):
    """The first batch ``(x, y)`` that a training loop would feed to ``model(x)``, as NumPy arrays.

    Look at the batch *as the model sees it* (``plots.plot_batch``), after every step of the final
    pipeline: decoding, scaling, augmentation mapped in ``tf.data``, batching. Bugs there (images
    scaled twice, labels shuffled apart from their images, augmentation that destroys the digit)
    are invisible in the raw arrays. Augmentation layers *inside* the model run in ``model(x)``
    itself: to see them, call those layers on this batch with ``training=True``.

    Args:
        pipeline_or_arrays: a ``tf.data.Dataset`` of ``(images, labels)`` batches (e.g. from
            ``helpers.pipelines.to_tf_dataset`` or ``Dataset.pipelines()``), a
            ``keras.utils.PyDataset``, any iterable of batches, or an ``(x, y)`` pair of arrays.
            A pipeline that yields images only gives ``y=None``.
        batch_size: for an ``(x, y)`` pair, the batch is its first ``batch_size`` examples
            (default None: all of them, as ``model.fit(x, y)`` would not batch them for you here).

    Returns:
        ``(x, y)``: NumPy arrays (``y`` may be None).
    """
    if isinstance(pipeline_or_arrays, (tuple, list)) and len(pipeline_or_arrays) == 2:
        x, y = (np.asarray(a) if a is not None else None for a in pipeline_or_arrays)
        if x.ndim >= 1 and (y is None or len(y) == len(x)):
            n = _validate.positive_int(batch_size, "batch_size", allow_none=True) or len(x)
            return x[:n], (y[:n] if y is not None else None)
        raise ValueError(f"x and y must have the same length. Received: {len(x)} and {len(y)}")
    if isinstance(pipeline_or_arrays, np.ndarray):
        raise TypeError("Pass (x, y), a pair of arrays, or a tf.data pipeline; not the images alone.")
    if isinstance(pipeline_or_arrays, keras.utils.PyDataset):
        batch = pipeline_or_arrays[0]
    else:
        try:
            batch = next(iter(pipeline_or_arrays))
        except TypeError as exc:
            raise TypeError(
                "pipeline_or_arrays must be a tf.data.Dataset, a keras.utils.PyDataset, an iterable of batches or "
                f"an (x, y) pair of arrays. Received: {type(pipeline_or_arrays).__name__}"
            ) from exc
        except StopIteration:
            raise ValueError("The pipeline is empty: it yielded no batch.") from None
    if isinstance(batch, (tuple, list)):
        x, y = batch[0], (batch[1] if len(batch) > 1 else None)
    else:
        x, y = batch, None
    return _to_numpy(x), _to_numpy(y)
