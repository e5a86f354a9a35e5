"""Watch a training run from the inside (``10_debugging_training``): per-layer statistics while it
trains (:class:`TrainingStats`) and dead ReLU units after it (:func:`dead_units`).

CS231n's "babysitting the learning process": a loss curve says *that* a run is going badly; the
layers say *where*. Per layer with weights, every few steps:

* **gradient norm**: a layer whose gradient is ~0 has stopped learning (vanishing gradients, dead
  ReLUs, a frozen or disconnected layer); one that explodes makes training unstable.
* **activation mean and std** (after the layer's ReLU when it has one): the signal should keep a
  steady scale; a std collapsing to 0 or blowing up shows a bad initialization or input scale.
* **dead fraction**: the share of ReLU units (channels) that are 0 for every probe image. A unit
  that is 0 everywhere passes no gradient and never comes back.
* **update ratio**: the norm of one step's change of the kernel divided by the kernel's norm.
  CS231n's rule of thumb is about ``1e-3`` per step. Read it as an order of magnitude: with Adam,
  the small CNNs of the debugging notebook ran at 5e-3 to 2e-2 per step in their first epochs on
  1,000 digits and learned well, while a 100x too large rate gave about 2e-1 in the first steps and
  then killed every ReLU. Far above 1e-2 means the learning rate is too high; 0 that the layer does
  not move (frozen, or no gradient reaches it).
"""

from __future__ import annotations

import math

import keras
import numpy as np
import pandas as pd

from helpers import _validate
from helpers.diagnostics.sanity import preserved_state
from helpers.model_stats import _check_model, _is_relu, _model_input

__all__ = ["TrainingStats", "dead_units", "STATISTICS", "HEALTHY_UPDATE_RATIO"]

STATISTICS = ("gradient_norm", "activation_mean", "activation_std", "dead_fraction", "update_ratio")
"""The statistics :class:`TrainingStats` records, in the order its table and figure show them."""

HEALTHY_UPDATE_RATIO = 1e-3
"""The update-to-weight ratio per step that CS231n calls healthy (an order of magnitude, not a bound)."""

_NORMALIZATIONS = (keras.layers.BatchNormalization, keras.layers.LayerNormalization, keras.layers.GroupNormalization)


def _as_list(tensors) -> list:
    return list(tensors) if isinstance(tensors, (list, tuple)) else [tensors]


def _outputs_relu(layer) -> bool:
    """True when ``layer``'s output has been through a ReLU (a ReLU layer or ``activation='relu'``)."""
    return _is_relu(layer) or getattr(getattr(layer, "activation", None), "__name__", "") == "relu"


def _has_kernel(layer) -> bool:
    return getattr(layer, "kernel", None) is not None and not isinstance(layer, keras.Model)


def _consumers(model, tensor) -> list:
    out = []
    for layer in model.layers:
        try:
            inputs = _as_list(layer.input)
        except (AttributeError, ValueError):
            continue
        if any(t is tensor for t in inputs):
            out.append(layer)
    return out


def _activation_of(model, layer):
    """``(tensor, is_relu)``: the output of ``layer``'s ReLU when one follows it directly (through
    normalization layers, as in Conv -> BatchNorm -> ReLU), else the layer's own output."""
    tensor = layer.output
    if _outputs_relu(layer):
        return tensor, True
    for _ in range(4):
        consumers = _consumers(model, tensor)
        if len(consumers) != 1:
            break
        (nxt,) = consumers
        if _outputs_relu(nxt):
            return nxt.output, True
        if not isinstance(nxt, _NORMALIZATIONS):
            break
        tensor = nxt.output
    return layer.output, False


def _dead_fraction(values: np.ndarray) -> float:
    """Share of units (last axis) that are <= 0 for every example and position."""
    flat = values.reshape(-1, values.shape[-1])
    return float(np.mean(np.all(flat <= 0, axis=0)))


class TrainingStats(keras.callbacks.Callback):
    """Record per-layer statistics every ``every`` training steps: a look inside a run.

    For every layer with a kernel (Conv2D, Dense, ...) of the model's top level, it records the
    gradient norm of the loss on a fixed probe batch, the mean and std of the layer's activation
    (after its ReLU when one follows, through BatchNorm), the fraction of dead ReLU units, and the
    update-to-weight ratio of the step just taken (see the module's docstring for what healthy
    values look like). Read them with :meth:`table` (long format) or :meth:`latest`, plot them
    with ``plots.plot_training_stats``.

    Cheap by design: one forward and backward pass of the probe batch every ``every`` steps (about
    one training step's work), and one copy of the kernels the step before. The probe pass runs in
    training mode, like the step it describes, and leaves the model as it found it (BatchNorm's
    moving statistics and the random state of dropout are restored). Layers inside nested models
    are not tapped. Not serializable (it holds data); TensorFlow backend.

    Args:
        x_probe: a fixed batch of training images (64 to 256 are plenty).
        y_probe: their labels (default None: then no gradient norms, which need the loss).
        every: record every this many training steps (default 10), counted over the whole run,
            starting with step ``every``.
        training: run the probe pass in training mode (default True).

    Attributes:
        steps: the global steps recorded so far (reset in ``on_train_begin``).
    """

    def __init__(self, x_probe, y_probe=None, *, every: int = 10, training: bool = True):
        super().__init__()
        self.x_probe = np.asarray(x_probe, dtype=np.float32)
        if self.x_probe.ndim < 2 or len(self.x_probe) == 0:
            raise ValueError(f"x_probe must be a non-empty batch of images. Received shape={self.x_probe.shape}")
        self.y_probe = None if y_probe is None else np.asarray(y_probe)
        if self.y_probe is not None and len(self.y_probe) != len(self.x_probe):
            raise ValueError(
                f"y_probe must hold one label per probe image. Received {len(self.y_probe)} labels for "
                f"{len(self.x_probe)} images."
            )
        self.every = _validate.positive_int(every, "every")
        self.training = _validate.boolean(training, "training")
        self.steps: list[int] = []
        self._rows: list[tuple] = []
        self._step = 0
        self._before: list[np.ndarray] | None = None
        self._layers: list = []
        self._relu: list[bool] = []
        self._probe = None
        self._pass = None

    # -- the Keras callback interface ------------------------------------------------------------

    def on_train_begin(self, logs=None):
        model = _check_model(self.model)
        self.steps, self._rows, self._step, self._before = [], [], 0, None
        self._layers = [layer for layer in model.layers if _has_kernel(layer)]
        if not self._layers:
            raise ValueError(f"Model {model.name!r} has no layers with a kernel (Conv2D, Dense) to watch.")
        taps = [_activation_of(model, layer) for layer in self._layers]
        self._relu = [is_relu for _, is_relu in taps]
        self._probe = keras.Model(_model_input(model), [model.outputs[0], *(t for t, _ in taps)])
        self._pass = None

    def on_train_batch_begin(self, batch, logs=None):
        if (self._step + 1) % self.every == 0:
            self._before = [np.array(layer.kernel.numpy()) for layer in self._layers]

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self._step % self.every == 0:
            self._record(self._step)
            self._before = None

    # -- recording -------------------------------------------------------------------------------

    def _build_pass(self):
        """The probe's forward and backward pass as one compiled TensorFlow function (traced once,
        then about as cheap as one training step; eager execution was about 10x slower)."""
        import tensorflow as tf

        kernels = [getattr(layer.kernel, "value", layer.kernel) for layer in self._layers]  # the tf.Variables
        x = tf.constant(self.x_probe)
        y = None if self.y_probe is None else tf.constant(self.y_probe)

        @tf.function
        def probe_pass():
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                for k in kernels:
                    tape.watch(k)
                outputs = self._probe(x, training=self.training)
                y_pred, activations = outputs[0], outputs[1:]
                if y is None:
                    return [], activations
                loss = self.model.compute_loss(x=x, y=y, y_pred=y_pred, training=True)
            grads = tape.gradient(loss, kernels)
            return [g if g is not None else tf.zeros_like(k) for g, k in zip(grads, kernels)], activations

        return probe_pass

    def _probe_pass(self):
        if self._pass is None:
            self._pass = self._build_pass()
        with preserved_state(self.model):
            grads, activations = self._pass()
        return (grads or None), activations

    def _record(self, step: int) -> None:
        grads, activations = self._probe_pass()
        for i, layer in enumerate(self._layers):
            values = keras.ops.convert_to_numpy(activations[i])
            row = {"activation_mean": float(values.mean()), "activation_std": float(values.std())}
            if grads is not None:
                row["gradient_norm"] = float(np.linalg.norm(keras.ops.convert_to_numpy(grads[i])))
            if self._relu[i]:
                row["dead_fraction"] = _dead_fraction(values)
            if self._before is not None:
                after = layer.kernel.numpy()
                norm = float(np.linalg.norm(after))
                change = float(np.linalg.norm(after - self._before[i]))
                row["update_ratio"] = change / norm if norm > 0 else math.nan
            for statistic in STATISTICS:
                if statistic in row:
                    self._rows.append((step, layer.name, statistic, row[statistic]))
        self.steps.append(step)

    # -- reading ---------------------------------------------------------------------------------

    def table(self) -> pd.DataFrame:
        """Everything recorded, one row per (step, layer, statistic): columns ``step, layer,
        statistic, value``. Layers keep the model's order."""
        return pd.DataFrame(self._rows, columns=["step", "layer", "statistic", "value"])

    def latest(self) -> pd.DataFrame:
        """The last record as a table: one row per layer (model order), one column per statistic."""
        table = self.table()
        if table.empty:
            raise ValueError("Nothing recorded yet: train with this callback for at least `every` steps.")
        last = table[table["step"] == table["step"].max()]
        wide = last.pivot(index="layer", columns="statistic", values="value")
        order = [layer.name for layer in self._layers if layer.name in wide.index]
        return wide.loc[order, [s for s in STATISTICS if s in wide.columns]]

    def problems(
        self, *, dead: float = 0.5, ratio_range: tuple[float, float] = (1e-5, 5e-2), tiny_gradient: float = 1e-7
    ) -> list[str]:
        """What the last record shows to be wrong, one sentence per layer and finding.

        Args:
            dead: flag a ReLU layer with more than this fraction of dead units (default 0.5).
            ratio_range: flag update ratios outside this range (default ``(1e-5, 5e-2)``: Adam's
                healthy early steps reach 2e-2, see the module's docstring).
            tiny_gradient: flag gradient norms below this (default ``1e-7``).
        """
        latest = self.latest()
        low, high = ratio_range
        found = []
        for name, row in latest.iterrows():
            frac = row.get("dead_fraction", math.nan)
            if frac > dead:
                found.append(f"{name}: {frac:.0%} of its ReLU units are dead (0 for every probe image).")
            ratio = row.get("update_ratio", math.nan)
            if ratio > high:
                found.append(
                    f"{name}: update ratio {ratio:.1e} per step (healthy ~1e-3): the learning rate is too high."
                )
            elif ratio < low:
                found.append(f"{name}: update ratio {ratio:.1e} per step (healthy ~1e-3): the layer barely moves.")
            grad = row.get("gradient_norm", math.nan)
            if grad < tiny_gradient:
                found.append(f"{name}: gradient norm {grad:.1e}: no learning signal reaches this layer.")
        return found


def _relu_taps(model) -> list:
    """``(name, tensor)`` for every ReLU output of the model's top level, in order."""
    taps = []
    for layer in model.layers:
        if _outputs_relu(layer) and not isinstance(layer, keras.Model):
            taps.append((layer.name, layer.output))
    return taps


def dead_units(model, x, *, training: bool = False, batch_size: int = 256) -> pd.Series:
    """Per ReLU layer, the fraction of its units (channels, for conv layers) that are 0 for every
    image of ``x`` and every position: units that pass no signal and, in training, no gradient.

    Every top-level layer whose output has been through a ReLU counts: ``Activation("relu")``,
    ``ReLU`` and layers built with ``activation="relu"``. A few percent of dead units are normal;
    a layer that is mostly dead (a too-high learning rate, very negative biases) has lost its
    capacity for good.

    Args:
        model: a functional or Sequential Keras model.
        x: images (a few hundred are enough).
        training: run in training mode (default False, as after training; the model's state is
            restored either way).
        batch_size: images per forward pass (default 256).
    """
    _check_model(model)
    training = _validate.boolean(training, "training")
    batch_size = _validate.positive_int(batch_size, "batch_size")
    x = np.asarray(x, dtype=np.float32)
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"x must be a non-empty batch of images. Received shape={x.shape}")
    taps = _relu_taps(model)
    if not taps:
        raise ValueError(f"Model {model.name!r} has no ReLU layers at its top level.")
    probe = keras.Model(_model_input(model), [t for _, t in taps])
    alive = [None] * len(taps)
    with preserved_state(model):
        for start in range(0, len(x), batch_size):
            outputs = _as_list(probe(x[start : start + batch_size], training=training))
            for i, out in enumerate(outputs):
                values = keras.ops.convert_to_numpy(out)
                now = np.any(values.reshape(-1, values.shape[-1]) > 0, axis=0)
                alive[i] = now if alive[i] is None else alive[i] | now
    return pd.Series({name: float(1.0 - a.mean()) for (name, _), a in zip(taps, alive)}, name="dead_fraction")
