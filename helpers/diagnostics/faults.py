"""A field guide of broken training runs, and mystery runs to diagnose (``10_debugging_training``).

Every run here is made of the same few ingredients, a :class:`TrainingSetup`: the data as it
arrives (8-bit pixels), the steps that prepare it, the augmentation, a small CNN with its output
activation and loss, Adam's learning rate, the batch size and epochs, and an optional warm-up phase
with the network's base frozen. The healthy run (:func:`healthy`) learns 1,000 ``mnist5k`` digits
in three epochs, in a few seconds on two CPU cores. Each fault of :data:`FAULTS` is that run with
one plausible mistake, the kind a learner really makes:

=============================== ================================================================
``unnormalized_inputs``         the pixels reach the network as 0..255
``shuffled_labels``             images and labels shuffled with two different permutations
``validation_leak``             the validation images added to the training set
``label_changing_augmentation`` flips and half-turn rotations of digits (a 6 becomes a 9)
``from_logits_mismatch``        a logits output trained with a loss that expects probabilities
``dead_relus``                  hidden biases that start at -1, so no ReLU ever fires
``learning_rate_too_high``      a learning rate 100x too high
``frozen_base``                 ``trainable`` set back to True after a warm-up, without recompiling
``batchnorm_statistics``        BatchNorm with Keras's default momentum over a run of ~100 steps
=============================== ================================================================

* :func:`field_guide` tabulates each fault's mistake, the symptom the learner sees, the diagnostic
  (from :mod:`helpers.diagnostics`) that exposes it and the fix.
* :func:`make` builds a broken setup, :func:`fix` repairs it, :func:`code` shows the faulty and the
  fixed code side by side, and :func:`demonstrate` trains both and measures the symptom.
* :func:`mystery` hands out a run whose fault is drawn by a seed (from the pool of one of the
  :data:`MYSTERIES`), for the diagnosis exercises checked by :mod:`helpers.checks.debugging`.
* A setup's methods give the diagnostics what they look at: ``setup.prepared()`` the arrays,
  ``setup.training_pipeline()`` the batches as the model sees them, ``setup.build_model()`` the
  untrained model and ``setup.train()`` the trained one (a :class:`TrainingResult`).

The steps a setup is made of (:func:`scale_pixels`, :func:`shuffle_training_set`, ...) are written
the way a learner writes them, with docstrings that say what they are meant to do, not what is
wrong with them: finding that out is the exercise.

Typical use::

    base = faults.healthy(data.load("mnist5k"))           # 1,000 training images, 3 epochs
    reference = base.train(seed=42)                        # the healthy run, ~90 % validation accuracy
    demo = faults.demonstrate("dead_relus", base, seed=42, reference=reference)
    faults.code("dead_relus")                              # the faulty and the fixed code
    case = faults.mystery(1, base, seed=SEED)              # an exercise: diagnose case.setup, then
    checks.mystery_diagnosis(case, "...")                  # name the fault
    checks.mystery_fix(case, fix)                          # and repair it: fix(setup) -> setup

Measured on this stack (Keras 3.15 on TensorFlow 2.21, CPU), and built into the choice of faults:

* A softmax output trained with ``from_logits=True`` (the classic "double softmax") does **not**
  break training here: Keras's TensorFlow backend sees that the output came from a softmax, warns,
  and uses the logits beneath it (the run was identical to the healthy one). The reverse, a logits
  output with the default ``from_logits=False``, is not rescued, so that is the fault shown.
* A learning rate too high never produced a NaN, with Adam (10x to 1000x) or with SGD and momentum
  (10x, 100x): the first steps blow the loss up, the ReLUs die and the loss then sits at ``ln K``, so
  ``keras.callbacks.TerminateOnNaN`` never fires. Gradient clipping (``clipnorm``) did not rescue
  it either (Adam's step size does not depend on the gradient's scale): the fix is the rate.
* Keras 3 keeps training the weights that were trainable when the model was compiled: setting
  ``layer.trainable = True`` afterwards changes ``model.trainable_weights`` but not what ``fit``
  updates, until ``compile`` is called again.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import textwrap
import time
from collections.abc import Callable, Sequence

import keras
import numpy as np
import pandas as pd
from keras import layers

from helpers import _internals, _validate, config, evaluation
from helpers.data import Dataset

__all__ = [
    "FAULTS",
    "MYSTERIES",
    "TrainingSetup",
    "TrainingResult",
    "Demonstration",
    "Mystery",
    "MysteryCase",
    "CodePair",
    "healthy",
    "make",
    "applicable",
    "fix",
    "code",
    "field_guide",
    "demonstrate",
    "demonstration_table",
    "mystery",
    "small_cnn",
    # The learner-style steps setups are made of.
    "scale_pixels",
    "to_float32",
    "shuffle_training_set",
    "shuffle_images_and_labels",
    "use_all_labelled_images",
    "standard_augmentation",
    "unfreeze_base",
    "unfreeze_and_recompile",
    # One function per fault that breaks a healthy setup, and one that repairs it.
    "unnormalized_inputs",
    "shuffled_labels",
    "validation_leak",
    "label_changing_augmentation",
    "from_logits_mismatch",
    "dead_relus",
    "learning_rate_too_high",
    "frozen_base",
    "batchnorm_statistics",
    "fix_unnormalized_inputs",
    "fix_shuffled_labels",
    "fix_validation_leak",
    "fix_label_changing_augmentation",
    "fix_from_logits_mismatch",
    "fix_dead_relus",
    "fix_learning_rate_too_high",
    "fix_frozen_base",
    "fix_batchnorm_statistics",
]

DEFAULT_TRAIN_SIZE = 1000
DEFAULT_EPOCHS = 3
DEFAULT_TARGET = 0.8
"""The validation accuracy a fixed mystery run must reach at the default sizes (1,000 images, 3 epochs).
The healthy run reached 0.90 to 0.93 on ``mnist5k`` over seven seeds (42 and 0 to 5), the fixed runs
0.87 or more; the broken runs stayed below 0.6, except unnormalized inputs (0.87) and the leak (0.98),
which the checks recognize by their evidence, not by accuracy."""
HEALTHY_LEARNING_RATE = 3e-3
HEALTHY_BATCH_SIZE = 32
MAX_LEARNING_RATE = 0.015
"""Adam rates above this count as too high for the field guide's CNN (10x the healthy 3e-3 killed it)."""


# ----------------------------------------------------------------------------------------------
# The steps a training setup is made of, written as a learner would write them.


def _map_images(data: Dataset, fn: Callable[[np.ndarray], np.ndarray]) -> Dataset:
    return dataclasses.replace(data, x_train=fn(data.x_train), x_val=fn(data.x_val), x_test=fn(data.x_test))


def scale_pixels(data: Dataset) -> Dataset:
    """Turn the 8-bit pixels into floats in [0, 1]."""
    return _map_images(data, lambda x: x.astype("float32") / 255.0)


def to_float32(data: Dataset) -> Dataset:
    """Turn the 8-bit pixels into float32, the type Keras trains in."""
    return _map_images(data, lambda x: x.astype("float32"))


def shuffle_training_set(data: Dataset) -> Dataset:
    """Shuffle the training examples, so that no batch holds one class only."""
    order = np.random.default_rng(0).permutation(len(data.x_train))
    return dataclasses.replace(data, x_train=data.x_train[order], y_train=data.y_train[order])


def shuffle_images_and_labels(data: Dataset) -> Dataset:
    """Shuffle the training images and their labels, so that no batch holds one class only."""
    rng = np.random.default_rng(0)
    x_train = data.x_train[rng.permutation(len(data.x_train))]
    y_train = data.y_train[rng.permutation(len(data.y_train))]
    return dataclasses.replace(data, x_train=x_train, y_train=y_train)


def use_all_labelled_images(data: Dataset) -> Dataset:
    """Train on every labelled image there is: more data, a better model."""
    x_train = np.concatenate([data.x_train, data.x_val])
    y_train = np.concatenate([data.y_train, data.y_val])
    return dataclasses.replace(data, x_train=x_train, y_train=y_train)


def standard_augmentation(seed: int) -> keras.Sequential:
    """Random flips and rotations, the usual augmentation of image classifiers."""
    return keras.Sequential(
        [
            layers.RandomFlip("horizontal_and_vertical", seed=seed),
            layers.RandomRotation(0.5, fill_mode="constant", seed=seed + 1),
        ],
        name="standard_augmentation",
    )


def unfreeze_base(model: keras.Model, recompile: Callable[[keras.Model], None]) -> None:
    """After the warm-up of the output layer, make every layer trainable for the rest of the run."""
    for layer in model.layers:
        layer.trainable = True


def unfreeze_and_recompile(model: keras.Model, recompile: Callable[[keras.Model], None]) -> None:
    """After the warm-up of the output layer, make every layer trainable and compile the model again."""
    for layer in model.layers:
        layer.trainable = True
    recompile(model)


def small_cnn(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    output_activation: str | None = "softmax",
    batch_norm: bool = False,
    bn_momentum: float = 0.9,
    bias_init: float = 0.0,
) -> keras.Model:
    """The field guide's CNN: two conv blocks (16 and 32 filters), a Dense(64) layer and the output.

    Each block is Conv 3x3 -> [BatchNorm] -> ReLU -> 2x2 max pooling. The ReLUs are separate
    ``Activation`` layers so that the diagnostics can tap them. Everything below the output layer
    ``predictions`` is the "base" that a warm-up phase freezes. Its own builder rather than
    :func:`helpers.models.simple_cnn`, because the faults live in settings ``simple_cnn`` fixes (a
    softmax output, zero biases), and they must be in the layers' configs, so that a copy of the
    model (``diagnostics.overfit_batch`` trains one) has the same fault.

    Args:
        output_activation: the last layer's activation (default ``"softmax"``; None for logits).
        batch_norm: BatchNormalization after every conv and the Dense(64) layer (default False).
        bn_momentum: BatchNorm's momentum for its moving statistics (default 0.9).
        bias_init: the constant every hidden layer's bias starts from (default 0.0).
    """
    bias = keras.initializers.Constant(float(bias_init))
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = inputs
    for i, filters in enumerate((16, 32), start=1):
        x = layers.Conv2D(filters, 3, padding="same", bias_initializer=bias, name=f"conv{i}")(x)
        if batch_norm:
            x = layers.BatchNormalization(momentum=bn_momentum, name=f"conv{i}_bn")(x)
        x = layers.Activation("relu", name=f"relu{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(64, bias_initializer=bias, name="dense")(x)
    if batch_norm:
        x = layers.BatchNormalization(momentum=bn_momentum, name="dense_bn")(x)
    x = layers.Activation("relu", name="relu3")(x)
    outputs = layers.Dense(num_classes, activation=output_activation, name="predictions", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="field_guide_cnn")


# ----------------------------------------------------------------------------------------------
# A training setup.


def _step_name(step) -> str:
    return getattr(step, "__name__", None) or type(step).__name__


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class TrainingSetup:
    """Everything a training run is made of: :meth:`train` runs it, ``dataclasses.replace`` changes it.

    Attributes:
        data: the data as it arrives, a :class:`helpers.data.Dataset` of 8-bit pixels (0..255);
            its test split holds held-out training images, never the real test split (see
            :func:`healthy`).
        prepare: the steps, in order, that turn ``data`` into the arrays training sees; each takes
            and returns a ``Dataset`` (default: :func:`scale_pixels`).
        augment: None (default) or ``augment(seed)`` returning a layer applied to every training
            batch in the ``tf.data`` pipeline.
        output_activation, batch_norm, bn_momentum, bias_init: the model (:func:`small_cnn`;
            defaults ``"softmax"``, False, 0.9, 0.0).
        from_logits: the ``from_logits`` of the sparse categorical cross-entropy (default False).
        learning_rate: Adam's learning rate (default 3e-3).
        clipnorm: clip each gradient to this norm (default None: no clipping).
        batch_size: examples per step (default 32).
        epochs: epochs in all (default 3).
        frozen_epochs: the first epochs train only the output layer, with the base frozen (a
            warm-up), then ``unfreeze`` runs; default 0 (no warm-up).
        unfreeze: ``unfreeze(model, recompile)``, run between the two phases (default
            :func:`unfreeze_and_recompile`); ``recompile(model)`` compiles it as the setup says.
    """

    data: Dataset
    prepare: tuple[Callable[[Dataset], Dataset], ...] = (scale_pixels,)
    augment: Callable[[int], keras.layers.Layer] | None = None
    output_activation: str | None = "softmax"
    batch_norm: bool = False
    bn_momentum: float = 0.9
    bias_init: float = 0.0
    from_logits: bool = False
    learning_rate: float = HEALTHY_LEARNING_RATE
    clipnorm: float | None = None
    batch_size: int = HEALTHY_BATCH_SIZE
    epochs: int = DEFAULT_EPOCHS
    frozen_epochs: int = 0
    unfreeze: Callable[[keras.Model, Callable], None] = unfreeze_and_recompile

    def __post_init__(self):
        if not isinstance(self.data, Dataset):
            raise TypeError(
                "data must be a helpers.data.Dataset; start from faults.healthy(data). "
                f"Received: {type(self.data).__name__}"
            )
        prepare = tuple(self.prepare) if isinstance(self.prepare, (list, tuple)) else (self.prepare,)
        for step in prepare:
            if not callable(step):
                raise TypeError(f"Every prepare step must be a function data -> data. Received: {step!r}")
        object.__setattr__(self, "prepare", prepare)
        if self.augment is not None and not callable(self.augment):
            raise TypeError(f"augment must be None or a function augment(seed) -> layer. Received: {self.augment!r}")
        if self.output_activation not in (None, "linear", "softmax", "sigmoid"):
            raise ValueError(
                "output_activation must be None (logits), 'linear', 'softmax' or 'sigmoid'. "
                f"Received: output_activation={self.output_activation!r}"
            )
        _validate.boolean(self.batch_norm, "batch_norm")
        _validate.fraction(self.bn_momentum, "bn_momentum")
        _validate.boolean(self.from_logits, "from_logits")
        if not _validate.is_number(self.bias_init) or not math.isfinite(self.bias_init):
            raise ValueError(f"bias_init must be a finite number. Received: bias_init={self.bias_init!r}")
        _validate.positive_number(self.learning_rate, "learning_rate")
        if self.clipnorm is not None:
            _validate.positive_number(self.clipnorm, "clipnorm")
        _validate.positive_int(self.batch_size, "batch_size")
        _validate.positive_int(self.epochs, "epochs")
        _validate.non_negative_int(self.frozen_epochs, "frozen_epochs")
        if not callable(self.unfreeze):
            raise TypeError(f"unfreeze must be a function unfreeze(model, recompile). Received: {self.unfreeze!r}")

    def differences(self, other: TrainingSetup) -> dict[str, tuple]:
        """``{field: (mine, other's)}`` for every field that differs (``data`` compared by identity)."""
        if not isinstance(other, TrainingSetup):
            raise TypeError(f"Compare with another TrainingSetup. Received: {type(other).__name__}")
        out = {}
        for f in dataclasses.fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if (mine is not theirs) if f.name == "data" else (mine != theirs):
                out[f.name] = (mine, theirs)
        return out

    def prepared(self) -> Dataset:
        """``data`` after the ``prepare`` steps: the arrays the run trains and validates on."""
        return _prepared(self)

    def training_pipeline(self, *, seed: int = config.DEFAULT_SEED):
        """The ``tf.data`` pipeline of training batches exactly as :meth:`train` feeds them (prepared,
        shuffled, batched and augmented): what ``diagnostics.first_batch`` takes."""
        return _training_pipeline(self, seed=seed)

    def build_model(self, *, seed: int = config.DEFAULT_SEED) -> keras.Model:
        """The run's compiled, untrained model, seeded as :meth:`train` seeds it: what the checks before
        training take (``diagnostics.loss_at_init``, ``diagnostics.overfit_batch``)."""
        return _build_model(self, seed=seed)

    def train(self, *, seed: int = config.DEFAULT_SEED, callbacks: Sequence = (), verbose=None) -> TrainingResult:
        """Run the setup: prepare the data, build and compile the model, train it, and measure it.

        With ``frozen_epochs`` the run has two phases: the base (every layer below the output)
        frozen for the first ``frozen_epochs`` epochs, then ``unfreeze(model, recompile)`` and the
        remaining epochs. ``callbacks`` then see two calls of ``fit``; one that resets itself in
        ``on_train_begin`` (as ``diagnostics.TrainingStats`` does) records the second phase.

        Args:
            seed: seeds the weights, the shuffling and the augmentation (default 42).
            callbacks: Keras callbacks, e.g. ``diagnostics.TrainingStats(x, y)``.
            verbose: Keras verbosity (default :func:`helpers.config.fit_verbose`).
        """
        return _train(self, seed=seed, callbacks=callbacks, verbose=verbose)

    def __repr__(self) -> str:
        d = self.data
        steps = ", ".join(_step_name(s) for s in self.prepare)
        augment = _step_name(self.augment) if self.augment is not None else None
        clip = f", clipnorm={self.clipnorm:g}" if self.clipnorm is not None else ""
        bn = f"batch_norm=True, bn_momentum={self.bn_momentum:g}" if self.batch_norm else "batch_norm=False"
        phases = (
            f", frozen_epochs={self.frozen_epochs}, unfreeze={_step_name(self.unfreeze)}" if self.frozen_epochs else ""
        )
        return (
            f"TrainingSetup(data={d.name!r} ({len(d.x_train)} train / {len(d.x_val)} val images of "
            f"{'x'.join(map(str, d.input_shape))}), prepare=({steps}), augment={augment}, "
            f"output_activation={self.output_activation!r}, {bn}, bias_init={self.bias_init:g}, "
            f"from_logits={self.from_logits}, learning_rate={self.learning_rate:g}{clip}, "
            f"batch_size={self.batch_size}, epochs={self.epochs}{phases})"
        )


def _pixels(x) -> np.ndarray:
    return np.round(np.asarray(x, dtype=np.float64) * 255.0).astype(np.uint8)


def healthy(
    data: Dataset,
    *,
    train_size: int = DEFAULT_TRAIN_SIZE,
    val_size: int | None = None,
    holdout_size: int | None = None,
    epochs: int = DEFAULT_EPOCHS,
    seed: int = 0,
) -> TrainingSetup:
    """The healthy run that every fault is a variation of, on a stratified subset of ``data``.

    The setup's ``data`` holds the images as 8-bit pixels (0..255, the way they are stored on
    disk); its :func:`scale_pixels` step turns them into [0, 1]. Its **test split is not the real
    test split**: it holds ``holdout_size`` training images that no run here trains on, the
    honest reference when validation accuracy itself is in doubt (a leak). The real test split is
    left alone, for the end of a notebook.

    At the default sizes the run reached 90 % validation accuracy on ``mnist5k`` (seed 42), in about
    3 s of training on two CPU cores.

    Args:
        data: a dataset from :func:`helpers.data.load` (pixels in [0, 1], grey or colour, any size
            from 4x4 up).
        train_size: training images (default 1,000; stratified).
        val_size: validation images (default None: the whole validation split).
        holdout_size: held-out images (default None: as many as validation images, or all the
            training images not used when there are fewer). ``train_size`` must leave at least
            one training image for it: on a small dataset pass e.g. ``len(data.y_train) - len(data.y_val)``.
        epochs: epochs to train (default 3).
        seed: seeds the subsets (default 0).
    """
    from helpers.data import stratified_split, subsample

    if isinstance(data, TrainingSetup):
        raise TypeError("healthy() takes the dataset from helpers.data.load, not a TrainingSetup.")
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a helpers.data.Dataset (from data.load). Received: {type(data).__name__}")
    train_size = _validate.positive_int(train_size, "train_size")
    val_size = _validate.positive_int(val_size, "val_size", allow_none=True)
    holdout_size = _validate.positive_int(holdout_size, "holdout_size", allow_none=True)
    low, high = float(data.x_train.min()), float(data.x_train.max())
    if low < 0 or high > 1:
        raise ValueError(
            f"healthy() takes images in [0, 1], as helpers.data.load returns them. Received pixels in "
            f"[{low:.3g}, {high:.3g}]; load the data with scale=True."
        )
    x_val, y_val = data.x_val, data.y_val
    if val_size is not None:
        x_val, y_val = subsample(x_val, y_val, val_size, seed=seed)
    x_rest, y_rest = data.x_train, data.y_train
    if train_size >= len(x_rest):
        suggestion = len(x_rest) - len(x_val)
        raise ValueError(
            f"train_size={train_size} leaves no training image for the held-out split: the training split has "
            f"{len(x_rest)} images. Pass a smaller train_size"
            + (f", e.g. {suggestion} (as many held out as there are validation images)." if suggestion > 0 else ".")
        )
    x_rest, y_rest, x_train, y_train = stratified_split(x_rest, y_rest, train_size / len(x_rest), seed=seed)
    x_rest, y_rest = subsample(x_rest, y_rest, holdout_size or len(x_val), seed=seed)
    raw = Dataset(
        name=data.name,
        x_train=_pixels(x_train),
        y_train=y_train,
        x_val=_pixels(x_val),
        y_val=y_val,
        x_test=_pixels(x_rest),
        y_test=y_rest,
        class_names=data.class_names,
        description=(
            f"{data.description}: 8-bit pixels; the 'test' split holds {len(x_rest)} held-out training images "
            "(the real test split is not used here)"
        ),
    )
    return TrainingSetup(data=raw, epochs=_validate.positive_int(epochs, "epochs"))


def _as_setup(setup_or_data, **sizes) -> TrainingSetup:
    if isinstance(setup_or_data, TrainingSetup):
        if sizes:
            raise TypeError(f"Sizes ({', '.join(sizes)}) go to faults.healthy(data), not with a ready TrainingSetup.")
        return setup_or_data
    if isinstance(setup_or_data, Dataset):
        return healthy(setup_or_data, **sizes)
    raise TypeError(
        "Pass a healthy TrainingSetup (faults.healthy(data)) or a dataset from helpers.data.load. "
        f"Received: {type(setup_or_data).__name__}"
    )


def _check_setup(setup) -> TrainingSetup:
    if not isinstance(setup, TrainingSetup):
        raise TypeError(f"Expected a faults.TrainingSetup. Received: {type(setup).__name__}")
    return setup


# ----------------------------------------------------------------------------------------------
# Running a setup.


def _prepared(setup: TrainingSetup) -> Dataset:
    """``setup.data`` after the ``prepare`` steps: the arrays the run trains and validates on."""
    _check_setup(setup)
    data = setup.data
    for step in setup.prepare:
        data = step(data)
        if not isinstance(data, Dataset):
            raise TypeError(
                f"The prepare step {_step_name(step)} must return a Dataset. Received: {type(data).__name__}"
            )
    return data


def _augmenter(setup: TrainingSetup, seed: int):
    return setup.augment(seed) if setup.augment is not None else None


def _training_pipeline(setup: TrainingSetup, *, seed: int = config.DEFAULT_SEED):
    """:meth:`TrainingSetup.training_pipeline`."""
    data = _prepared(setup)
    train_ds, _, _ = data.pipelines(setup.batch_size, augment=_augmenter(setup, seed), seed=seed)
    return train_ds


def _compile(model: keras.Model, setup: TrainingSetup) -> None:
    optimizer = keras.optimizers.Adam(setup.learning_rate, clipnorm=setup.clipnorm)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=setup.from_logits)
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    _internals.build_training_state(model)  # one trace of the training step instead of two


def _base_layers(model: keras.Model) -> list:
    return [layer for layer in model.layers if layer.name != "predictions"]


def _build_model(setup: TrainingSetup, *, seed: int = config.DEFAULT_SEED) -> keras.Model:
    """:meth:`TrainingSetup.build_model`."""
    _check_setup(setup)
    config.seed_everything(_validate.seed(seed))
    model = small_cnn(
        setup.data.input_shape,
        setup.data.num_classes,
        output_activation=setup.output_activation,
        batch_norm=setup.batch_norm,
        bn_momentum=setup.bn_momentum,
        bias_init=setup.bias_init,
    )
    _compile(model, setup)
    return model


@dataclasses.dataclass(frozen=True, repr=False)
class TrainingResult:
    """One trained :class:`TrainingSetup`.

    Attributes:
        setup: what was trained.
        model: the trained model.
        seed: the seed it was trained with.
        history: per epoch ``loss``, ``accuracy`` (training mode, averaged over the epoch),
            ``val_loss`` and ``val_accuracy``.
        train_accuracy, val_accuracy: accuracy after training, in inference mode, on the prepared
            training split (with its labels as fed) and on the validation split.
        epochs_run: epochs trained (fewer than ``setup.epochs`` when a callback stopped the run).
        seconds: wall time of the training.
    """

    setup: TrainingSetup
    model: keras.Model
    seed: int
    history: dict[str, list[float]]
    train_accuracy: float
    val_accuracy: float
    epochs_run: int
    seconds: float

    @property
    def final_loss(self) -> float:
        """The training loss of the last epoch (NaN when there was none, or training diverged)."""
        losses = self.history.get("loss", [])
        return float(losses[-1]) if losses else math.nan

    def __repr__(self) -> str:
        return (
            f"TrainingResult: train accuracy {self.train_accuracy:.1%}, val accuracy {self.val_accuracy:.1%}, "
            f"final training loss {self.final_loss:.3g}, {self.epochs_run} of {self.setup.epochs} epochs, "
            f"{self.seconds:.1f} s"
        )


def _train(
    setup: TrainingSetup, *, seed: int = config.DEFAULT_SEED, callbacks: Sequence = (), verbose=None
) -> TrainingResult:
    """:meth:`TrainingSetup.train`."""
    from helpers import training

    seed = _validate.seed(seed)
    data = _prepared(setup)
    model = _build_model(setup, seed=seed)
    augment = _augmenter(setup, seed)
    callbacks = list(callbacks)
    first = min(setup.frozen_epochs, setup.epochs)
    phases = [first, setup.epochs - first] if setup.frozen_epochs else [setup.epochs]
    if setup.frozen_epochs:
        for layer in _base_layers(model):
            layer.trainable = False
        _compile(model, setup)
    histories: list[dict] = []
    start = time.perf_counter()
    for phase, epochs in enumerate(phases):
        if phase == 1:
            setup.unfreeze(model, lambda m: _compile(m, setup))
        if epochs == 0 or getattr(model, "stop_training", False):
            continue
        hist = training.fit(
            model, data, epochs=epochs, batch_size=setup.batch_size, augment=augment, callbacks=callbacks, seed=seed,
            verbose=verbose,
        )  # fmt: skip
        histories.append(hist.history)
    seconds = time.perf_counter() - start
    keys = histories[0] if histories else {}
    history = {k: [float(v) for h in histories for v in h.get(k, [])] for k in keys}
    return TrainingResult(
        setup=setup,
        model=model,
        seed=seed,
        history=history,
        train_accuracy=evaluation.accuracy(model, data.x_train, data.y_train),
        val_accuracy=evaluation.accuracy(model, data.x_val, data.y_val),
        epochs_run=len(history.get("loss", [])),
        seconds=seconds,
    )


# ----------------------------------------------------------------------------------------------
# The faults: one function that breaks a healthy setup, one that repairs it.


def unnormalized_inputs(setup: TrainingSetup) -> TrainingSetup:
    """The images go in as float32 pixels 0..255, never scaled to [0, 1]."""
    return dataclasses.replace(setup, prepare=(to_float32,))


def fix_unnormalized_inputs(setup: TrainingSetup) -> TrainingSetup:
    return dataclasses.replace(setup, prepare=(scale_pixels,))


def shuffled_labels(setup: TrainingSetup) -> TrainingSetup:
    """Images and labels shuffled with two different permutations: the labels no longer fit."""
    return dataclasses.replace(setup, prepare=(*setup.prepare, shuffle_images_and_labels))


def fix_shuffled_labels(setup: TrainingSetup) -> TrainingSetup:
    steps = tuple(shuffle_training_set if step is shuffle_images_and_labels else step for step in setup.prepare)
    return dataclasses.replace(setup, prepare=steps)


def validation_leak(setup: TrainingSetup) -> TrainingSetup:
    """The validation images are added to the training set, and validation still uses them."""
    return dataclasses.replace(setup, prepare=(*setup.prepare, use_all_labelled_images))


def fix_validation_leak(setup: TrainingSetup) -> TrainingSetup:
    steps = tuple(step for step in setup.prepare if step is not use_all_labelled_images)
    return dataclasses.replace(setup, prepare=steps)


def label_changing_augmentation(setup: TrainingSetup) -> TrainingSetup:
    """Flips and rotations up to a half turn, on digits: a flipped 2 is no 2, a turned 6 is a 9."""
    return dataclasses.replace(setup, augment=standard_augmentation)


def fix_label_changing_augmentation(setup: TrainingSetup) -> TrainingSetup:
    return dataclasses.replace(setup, augment=None)  # or a label-preserving one: augment.preset("digits")


def from_logits_mismatch(setup: TrainingSetup) -> TrainingSetup:
    """The output layer returns logits (no softmax) while the loss expects probabilities."""
    return dataclasses.replace(setup, output_activation=None, from_logits=False)


def fix_from_logits_mismatch(setup: TrainingSetup) -> TrainingSetup:
    return dataclasses.replace(setup, output_activation="softmax")  # or keep the logits, with from_logits=True


def dead_relus(setup: TrainingSetup) -> TrainingSetup:
    """Every hidden bias starts at -1 (copied from gated layers: highway networks start their gates'
    biases at -1 to -3): no ReLU is ever positive, so no gradient flows."""
    return dataclasses.replace(setup, bias_init=-1.0)


def fix_dead_relus(setup: TrainingSetup) -> TrainingSetup:
    return dataclasses.replace(setup, bias_init=0.0)


def learning_rate_too_high(setup: TrainingSetup) -> TrainingSetup:
    """Adam at 100x the healthy learning rate."""
    return dataclasses.replace(setup, learning_rate=100 * setup.learning_rate)


def fix_learning_rate_too_high(setup: TrainingSetup) -> TrainingSetup:
    return dataclasses.replace(setup, learning_rate=3e-3)


def frozen_base(setup: TrainingSetup) -> TrainingSetup:
    """A warm-up epoch trains the output layer alone; then the base is made trainable, but the
    model is not recompiled, so training keeps updating the output layer only."""
    if setup.epochs < 2:
        raise ValueError(
            f"frozen_base needs a run of at least 2 epochs (a warm-up epoch, then the rest). Received: "
            f"epochs={setup.epochs}; use faults.healthy(data, epochs=2) or more."
        )
    return dataclasses.replace(setup, frozen_epochs=1, unfreeze=unfreeze_base)


def fix_frozen_base(setup: TrainingSetup) -> TrainingSetup:
    return dataclasses.replace(setup, unfreeze=unfreeze_and_recompile)


def batchnorm_statistics(setup: TrainingSetup) -> TrainingSetup:
    """BatchNorm with Keras's default momentum 0.99: over a run of ~100 steps its moving statistics,
    which inference uses, never get near the data's."""
    return dataclasses.replace(setup, batch_norm=True, bn_momentum=0.99)


def fix_batchnorm_statistics(setup: TrainingSetup) -> TrainingSetup:
    return dataclasses.replace(setup, bn_momentum=0.9)


# ----------------------------------------------------------------------------------------------
# What gives each fault away: evidence found in a setup (the answer key of the checks).


class _Evidence:
    """Lazily computed views of one setup, shared by the findings."""

    def __init__(self, setup: TrainingSetup):
        self.setup = setup
        self._data = None

    @property
    def prepared(self) -> Dataset:
        if self._data is None:
            self._data = _prepared(self.setup)
        return self._data


def _image_keys(x: np.ndarray) -> list[bytes]:
    """One key per image, equal for copies of it at any positive scale (0..255 or 0..1)."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    peak = np.abs(x).max(axis=1, keepdims=True)
    return [row.tobytes() for row in np.round(255.0 * x / np.where(peak > 0, peak, 1.0)).astype(np.int16)]


def _find_unnormalized(e: _Evidence) -> str | None:
    peak = float(np.max(np.abs(e.prepared.x_train)))
    if peak > 10:
        return f"the training images reach the model with values up to {peak:.0f}, not in [0, 1]"
    return None


def _label_mismatch(e: _Evidence) -> float:
    """The share of prepared training images whose label is not the one that image arrived with."""
    original = dict(zip(_image_keys(e.setup.data.x_train), e.setup.data.y_train.tolist()))
    found = [
        (original[k], label)
        for k, label in zip(_image_keys(e.prepared.x_train), e.prepared.y_train.tolist())
        if k in original
    ]
    return float(np.mean([a != b for a, b in found])) if found else 0.0


def _find_shuffled(e: _Evidence) -> str | None:
    share = _label_mismatch(e)
    if share > 0.2:
        return f"{share:.0%} of the training images carry the label of another image"
    return None


def _leaked(e: _Evidence) -> int:
    from helpers.diagnostics.leakage import duplicates

    return int(duplicates(e.prepared.x_train, e.prepared.x_val))


def _find_leak(e: _Evidence) -> str | None:
    n = _leaked(e)
    if n:
        return f"{n} of the {len(e.prepared.x_val)} validation images are also in the training set"
    return None


def _is_digits(data: Dataset) -> bool:
    from helpers.augment import PRESET_FOR_DATASET

    return PRESET_FOR_DATASET.get(data.name) == "digits"


def _find_augmentation(e: _Evidence) -> str | None:
    from helpers import augment

    setup = e.setup
    if setup.augment is None or not _is_digits(setup.data) or min(setup.data.input_shape[:2]) < 8:
        return None
    rates = augment.flip_rate(setup.augment(0), image_shape=setup.data.input_shape)
    share = max(rates.values())
    if share > 0.05:
        return f"the augmentation mirrors or turns over {share:.0%} of the images (digits change their label)"
    return None


def _find_from_logits(e: _Evidence) -> str | None:
    setup = e.setup
    if setup.output_activation in (None, "linear") and not setup.from_logits:
        return "the output layer returns logits, but the loss is told they are probabilities (from_logits=False)"
    if setup.output_activation in ("softmax", "sigmoid") and setup.from_logits:
        return (
            f"the output layer applies a {setup.output_activation}, and the loss applies a softmax again "
            "(from_logits=True)"
        )
    return None


def _dead_share(setup: TrainingSetup, x: np.ndarray, seed: int = 0) -> float:
    from helpers.diagnostics.stats import dead_units

    # Training mode: what the optimizer sees (BatchNorm normalizes with the batch's statistics).
    return float(dead_units(_build_model(setup, seed=seed), x[:256], training=True).max())


def _find_dead(e: _Evidence) -> str | None:
    share = _dead_share(e.setup, e.prepared.x_train)
    if share > 0.9:
        return f"before any training, {share:.0%} of a layer's ReLU units output 0 for every image"
    return None


def _find_learning_rate(e: _Evidence) -> str | None:
    rate = e.setup.learning_rate
    if rate > MAX_LEARNING_RATE:
        return f"Adam's learning rate is {rate:g}, {rate / HEALTHY_LEARNING_RATE:.0f}x the 3e-3 this CNN trains with"
    return None


def _unfreeze_check(setup: TrainingSetup) -> str | None:
    """What is wrong with the setup's ``unfreeze`` step, found on a small copy of its model without
    training: does it make the base trainable, and does it compile the model again?"""
    shape = (8, 8, setup.data.input_shape[-1])
    model = small_cnn(shape, setup.data.num_classes, output_activation=setup.output_activation)
    for layer in _base_layers(model):
        layer.trainable = False
    _compile(model, setup)
    optimizer, calls = model.optimizer, []
    setup.unfreeze(model, lambda m: (calls.append(m), _compile(m, setup)))
    if not all(layer.trainable for layer in _base_layers(model)):
        return "after the warm-up, the base stays frozen"
    if not calls and model.optimizer is optimizer:
        return (
            "after the warm-up, the base is made trainable but the model is not compiled again, so fit keeps "
            "updating the output layer only (model.trainable_weights lists every layer all the same)"
        )
    return None


def _find_frozen(e: _Evidence) -> str | None:
    setup = e.setup
    if not setup.frozen_epochs:
        return None
    if setup.frozen_epochs >= setup.epochs:
        return f"the base is frozen for all {setup.epochs} epochs"
    return _unfreeze_check(setup)


def _find_batchnorm(e: _Evidence) -> str | None:
    setup = e.setup
    if not setup.batch_norm:
        return None
    if setup.batch_size < 8:
        return f"BatchNorm normalizes batches of only {setup.batch_size} images"
    steps = setup.epochs * math.ceil(len(e.prepared.x_train) / setup.batch_size)
    left = setup.bn_momentum**steps
    if left > 0.01:
        return (
            f"after the run's {steps} steps, BatchNorm's moving statistics (used at inference) still hold "
            f"{left:.0%} of their initial values (momentum {setup.bn_momentum:g})"
        )
    return None


# ----------------------------------------------------------------------------------------------
# The field guide.


@dataclasses.dataclass(frozen=True)
class _Fault:
    name: str
    mistake: str
    symptom: str
    diagnostic: str
    cure: str
    breaks: Callable[[TrainingSetup], TrainingSetup]
    repairs: Callable[[TrainingSetup], TrainingSetup]
    find: Callable[[_Evidence], str | None]
    fields: frozenset[str]
    faulty_steps: tuple = ()
    fixed_steps: tuple = ()


_GUIDE = (
    _Fault(
        "unnormalized_inputs",
        "The pixels reach the network as 0..255 (converted to float32, never divided by 255).",
        "The loss at init is many times ln K and the first epoch's loss is huge; Adam recovers, but the run "
        "ends below the healthy one, with many of the dense layer's ReLUs dead.",
        "diagnostics.loss_at_init (measured >> expected); diagnostics.first_batch (the batch's value range)",
        "Scale the pixels to [0, 1] in the pipeline (or with a Rescaling(1/255) layer).",
        unnormalized_inputs,
        fix_unnormalized_inputs,
        _find_unnormalized,
        frozenset({"prepare"}),
        (to_float32,),
        (scale_pixels,),
    ),
    _Fault(
        "shuffled_labels",
        "Images and labels were shuffled with two different permutations.",
        "The loss stays near ln K and both training and validation accuracy stay near chance. Baselines fit "
        "on the same prepared arrays are at chance too (logistic regression, k-NN): the labels are broken, "
        "not the network. Overfitting one batch still passes (random labels can be memorized).",
        "plots.plot_batch(*diagnostics.first_batch(...)) (the labels do not match the images); "
        "diagnostics.baselines on the prepared arrays",
        "Shuffle images and labels with one permutation (or let the tf.data pipeline shuffle the pairs).",
        shuffled_labels,
        fix_shuffled_labels,
        _find_shuffled,
        frozenset({"prepare"}),
        (shuffle_images_and_labels,),
        (shuffle_training_set,),
    ),
    _Fault(
        "validation_leak",
        "The validation images were added to the training set (more data!) and validation still uses them.",
        "Validation accuracy is too good: as high as training accuracy, above what images the run never saw "
        "(a held-out split) get.",
        "diagnostics.duplicates(x_train, x_val) (finds every validation image in the training set)",
        "Keep the validation images out of training; to use them, retrain at the end and report on the test split.",
        validation_leak,
        fix_validation_leak,
        _find_leak,
        frozenset({"prepare"}),
        (use_all_labelled_images,),
        (),
    ),
    _Fault(
        "label_changing_augmentation",
        "Flips and rotations up to 180 degrees, copied from a recipe for photos, applied to digits.",
        "Training and validation accuracy are both far below the healthy run; the errors concentrate on "
        "pairs that a flip or a half turn maps onto each other (6 and 9 above all).",
        "plots.plot_batch(*diagnostics.first_batch(pipeline)) (look after augmentation); augment.flip_rate; "
        "evaluation.most_confused_pairs",
        "Augment only with transformations that keep the label: augment.preset('digits') (small shifts, "
        "rotations, zooms), or none.",
        label_changing_augmentation,
        fix_label_changing_augmentation,
        _find_augmentation,
        frozenset({"augment"}),
        (standard_augmentation,),
        (),
    ),
    _Fault(
        "from_logits_mismatch",
        "The output layer returns logits (no softmax) and the loss keeps its default from_logits=False.",
        "The loss at init is far above ln K, then sits near ln K: the loss clips the 'probabilities' and "
        "passes almost no gradient, so accuracy stays near chance, far below the fixed run's. (The other way "
        "round, a softmax with from_logits=True, Keras on TensorFlow notices, warns and corrects.)",
        "diagnostics.loss_at_init (inspects the output layer and the loss, and says which to change); "
        "diagnostics.overfit_batch fails",
        "Pair them: logits with from_logits=True, or a softmax output with from_logits=False.",
        from_logits_mismatch,
        fix_from_logits_mismatch,
        _find_from_logits,
        frozenset({"output_activation", "from_logits"}),
    ),
    _Fault(
        "dead_relus",
        "Every hidden bias starts at -1, so every ReLU outputs 0 for every image.",
        "The loss sits at exactly ln K from the first step and accuracy at chance; nothing changes.",
        "diagnostics.dead_units(model, x) on the untrained model (~100 % dead before any step); "
        "diagnostics.TrainingStats (gradient norms and updates 0); diagnostics.overfit_batch fails",
        "Start biases at 0 (Keras's default) and use He initialization for ReLU layers.",
        dead_relus,
        fix_dead_relus,
        _find_dead,
        frozenset({"bias_init", "batch_norm", "bn_momentum"}),
    ),
    _Fault(
        "learning_rate_too_high",
        "Adam at 100x the learning rate this network trains with.",
        "The loss explodes in the first steps, then the network dies: loss ln K, accuracy at chance, no NaN "
        "(so TerminateOnNaN never fires). Gradient clipping does not rescue it.",
        "diagnostics.TrainingStats with a small `every` (e.g. 5): in the first steps the update/weight ratio is "
        "about 10x the healthy run's and every ReLU dies, though diagnostics.dead_units found them alive before "
        "training; diagnostics.overfit_batch fails",
        "Lower the rate (an LR range test, schedules.lr_range_test, finds the edge).",
        learning_rate_too_high,
        fix_learning_rate_too_high,
        _find_learning_rate,
        frozenset({"learning_rate", "clipnorm"}),
    ),
    _Fault(
        "frozen_base",
        "After a warm-up of the output layer, the base is set trainable again, but the model is not recompiled.",
        "Accuracy climbs slowly and stays far below the healthy run: only the output layer learns, on random "
        "features. model.trainable_weights lists every layer, so the model looks fine.",
        "diagnostics.TrainingStats (update/weight ratio exactly 0 for every layer but the output). "
        "diagnostics.overfit_batch passes: it copies the model and cannot see the unfreezing step",
        "Call model.compile(...) after changing trainable; Keras trains what was trainable at compile time.",
        frozen_base,
        fix_frozen_base,
        _find_frozen,
        frozenset({"unfreeze", "frozen_epochs"}),
        (unfreeze_base,),
        (unfreeze_and_recompile,),
    ),
    _Fault(
        "batchnorm_statistics",
        "BatchNorm with Keras's default momentum 0.99, in a run of only ~100 steps.",
        "Training accuracy in the history is excellent, but validation accuracy is at chance, and so is the "
        "accuracy on the training images themselves in inference mode: it is not overfitting.",
        "evaluation.accuracy on the training images (inference mode) against the history's training accuracy "
        "(TrainingStats and overfit_batch run in training mode and see nothing wrong)",
        "A lower momentum (0.9) or more steps, so that the moving statistics catch up; or no BatchNorm.",
        batchnorm_statistics,
        fix_batchnorm_statistics,
        _find_batchnorm,
        frozenset({"batch_norm", "bn_momentum", "batch_size"}),
    ),
)

_BY_NAME = {f.name: f for f in _GUIDE}
FAULTS: tuple[str, ...] = tuple(_BY_NAME)
"""The names of the faults, the vocabulary a diagnosis answers with, in the order of Karpathy's
recipe: the data first, then the model and its loss, then the optimization."""


def _fault(name) -> _Fault:
    if not isinstance(name, str) or name not in _BY_NAME:
        raise ValueError(f"Unknown fault {name!r}. Faults: {', '.join(FAULTS)}")
    return _BY_NAME[name]


def field_guide() -> pd.DataFrame:
    """One row per fault: the mistake, the symptom the learner sees, the diagnostic that exposes it,
    and the fix (columns ``fault``, ``mistake``, ``symptom``, ``diagnostic``, ``fix``)."""
    rows = [
        {"fault": f.name, "mistake": f.mistake, "symptom": f.symptom, "diagnostic": f.diagnostic, "fix": f.cure}
        for f in _GUIDE
    ]
    return pd.DataFrame(rows).set_index("fault")


def applicable(data: Dataset | TrainingSetup) -> tuple[str, ...]:
    """The faults of :data:`FAULTS` that break a run on ``data``, in their order.

    ``label_changing_augmentation`` is a fault on digits only: a flip or a half turn changes a digit's
    label (a 6 becomes a 9), while the shapes and photos of other datasets mostly keep theirs, and
    its diagnostic (the share of images the augmentation mirrors) looks for it on digits only.

    Args:
        data: a dataset from :func:`helpers.data.load`, or a setup (:func:`healthy`) built on one.
    """
    if isinstance(data, TrainingSetup):
        data = data.data
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a helpers.data.Dataset or a TrainingSetup. Received: {type(data).__name__}")
    digits = _is_digits(data) and min(data.input_shape[:2]) >= 8
    return tuple(name for name in FAULTS if digits or name != "label_changing_augmentation")


def make(name: str, setup_or_data, **sizes) -> TrainingSetup:
    """The healthy setup with fault ``name``.

    Args:
        name: one of :data:`FAULTS`.
        setup_or_data: a healthy setup (:func:`healthy`), or a dataset from ``helpers.data.load``
            (then ``sizes`` go to :func:`healthy`). Passing the same healthy setup to every fault
            makes :func:`demonstrate` reuse one healthy run for every fix that restores it.
    """
    return _fault(name).breaks(_as_setup(setup_or_data, **sizes))


def fix(name: str, setup: TrainingSetup) -> TrainingSetup:
    """``setup`` with fault ``name`` repaired (the field guide's fix, ``fix_<name>``)."""
    return _fault(name).repairs(_check_setup(setup))


@dataclasses.dataclass(frozen=True)
class CodePair:
    """A fault's faulty code and its fix, shown side by side in a notebook (as text elsewhere)."""

    name: str
    faulty: str
    fixed: str

    def __str__(self) -> str:
        return f"# --- {self.name}: faulty ---\n{self.faulty}\n# --- {self.name}: fixed ---\n{self.fixed}"

    def _repr_html_(self) -> str:
        import html

        cell = '<td style="vertical-align:top;text-align:left"><pre>{}</pre></td>'
        return (
            f"<table><tr><th>{html.escape(self.name)}: faulty</th><th>fixed</th></tr><tr>"
            f"{cell.format(html.escape(self.faulty))}{cell.format(html.escape(self.fixed))}</tr></table>"
        )


def _sources(functions) -> str:
    return "\n\n".join(textwrap.dedent(inspect.getsource(fn)).rstrip() for fn in functions)


def code(name: str) -> CodePair:
    """The code of fault ``name`` and of its fix: the function that breaks the healthy setup and the
    faulty step it brings in, against the function that repairs it and the correct step."""
    f = _fault(name)
    return CodePair(name, _sources((f.breaks, *f.faulty_steps)), _sources((f.repairs, *f.fixed_steps)))


def _findings(setup: TrainingSetup, names=FAULTS) -> dict[str, str]:
    """``{fault: evidence}`` for every fault of ``names`` found in ``setup``."""
    evidence = _Evidence(_check_setup(setup))
    out = {}
    for name in names:
        found = _fault(name).find(evidence)
        if found:
            out[name] = found
    return out


# ----------------------------------------------------------------------------------------------
# Demonstrations: the broken run against the fixed one, with the symptom measured.


@dataclasses.dataclass(frozen=True, repr=False)
class Demonstration:
    """Fault ``name`` trained broken and fixed, with what the diagnostics measured on each.

    ``figures`` holds the numbers (``init_loss``, ``final_loss``, ``val_accuracy``, ... and
    ``<figure>_fixed`` for the fixed run, plus the fault's own symptom figures); ``row`` is the
    line of :func:`demonstration_table`.
    """

    name: str
    broken: TrainingResult
    fixed: TrainingResult
    figures: dict[str, float]
    evidence: str

    @property
    def row(self) -> dict:
        keys = ("init_loss", "final_loss", "train_accuracy", "val_accuracy")
        out = {"fault": self.name}
        for k in keys:
            out[k] = self.figures[k]
            out[f"{k}_fixed"] = self.figures[f"{k}_fixed"]
        out["symptom"] = self.evidence
        out["seconds"] = self.broken.seconds
        out["seconds_fixed"] = self.fixed.seconds
        return out

    def __repr__(self) -> str:
        f = self.figures
        return (
            f"{self.name}: broken val accuracy {f['val_accuracy']:.1%} (loss at init {f['init_loss']:.3g}, final "
            f"{f['final_loss']:.3g}); fixed {f['val_accuracy_fixed']:.1%} (loss at init {f['init_loss_fixed']:.3g}, "
            f"final {f['final_loss_fixed']:.3g}). Symptom: {self.evidence}."
        )


def _init_loss(setup: TrainingSetup, seed: int) -> float:
    from helpers.diagnostics.sanity import loss_at_init

    data = _prepared(setup)
    return float(loss_at_init(_build_model(setup, seed=seed), data.x_train[:256], data.y_train[:256]).measured)


def _mismatched_labels(result: TrainingResult) -> dict[str, float]:
    return {"labels_mismatched": _label_mismatch(_Evidence(result.setup))}


def _leak_figures(result: TrainingResult) -> dict[str, float]:
    data = result.setup.prepared()
    out = {"duplicates": float(_leaked(_Evidence(result.setup)))}
    if len(data.x_test):  # the held-out training images (see healthy)
        out["holdout_accuracy"] = evaluation.accuracy(result.model, data.x_test, data.y_test)
    return out


def _top_confusion(result: TrainingResult) -> dict[str, float]:
    data = result.setup.prepared()
    predicted = evaluation.predict_classes(result.model, data.x_val)
    top = evaluation.most_confused_pairs(
        evaluation.confusion_matrix(data.y_val, predicted, num_classes=data.num_classes), k=1
    )
    return {"top_confusion_share": float(top["share"].iloc[0]) if len(top) else 0.0}


def _dead_figures(result: TrainingResult) -> dict[str, float]:
    from helpers.diagnostics.stats import dead_units

    x = result.setup.prepared().x_train
    losses = result.history.get("loss") or [math.nan]
    return {
        "dead_at_init": _dead_share(result.setup, x, seed=result.seed),
        "dead_after": float(dead_units(result.model, x[:256]).max()),
        "first_epoch_loss": float(losses[0]),
    }


def _base_change(result: TrainingResult) -> dict[str, float]:
    start = result.setup.build_model(seed=result.seed).get_layer("conv1").kernel.numpy()
    end = result.model.get_layer("conv1").kernel.numpy()
    return {"base_change": float(np.linalg.norm(end - start) / np.linalg.norm(start))}


def _history_accuracy(result: TrainingResult) -> dict[str, float]:
    accuracy = result.history.get("accuracy") or [math.nan]
    return {"history_train_accuracy": float(accuracy[-1])}


_SYMPTOM_FIGURES: dict[str, Callable[[TrainingResult], dict[str, float]]] = {
    "shuffled_labels": _mismatched_labels,
    "validation_leak": _leak_figures,
    "label_changing_augmentation": _top_confusion,
    "dead_relus": _dead_figures,
    "learning_rate_too_high": _dead_figures,
    "frozen_base": _base_change,
    "batchnorm_statistics": _history_accuracy,
}
"""The measurements beyond loss and accuracy that show each fault, taken on a trained run."""


def demonstrate(
    name: str,
    setup: TrainingSetup,
    *,
    seed: int = config.DEFAULT_SEED,
    reference: TrainingResult | None = None,
    verbose=0,
) -> Demonstration:
    """Train fault ``name`` broken (``make(name, setup)``) and fixed, and measure the symptom.

    Args:
        name: one of :data:`FAULTS`.
        setup: the healthy setup (:func:`healthy`).
        seed: the seed of both runs (default 42).
        reference: the healthy setup's run with the same seed; a fix that restores the healthy
            setup exactly reuses it instead of training again (default None: always train).
        verbose: Keras verbosity (default 0: silent, there are many runs).
    """
    setup = _check_setup(setup)
    broken_setup = make(name, setup)
    fixed_setup = fix(name, broken_setup)
    broken = _train(broken_setup, seed=seed, verbose=verbose)
    reusable = (
        reference is not None
        and reference.seed == seed
        and not fixed_setup.differences(reference.setup)
        and not reference.setup.differences(setup)
    )
    fixed = reference if reusable else _train(fixed_setup, seed=seed, verbose=verbose)
    figures = {
        "init_loss": _init_loss(broken_setup, seed),
        "init_loss_fixed": _init_loss(fixed_setup, seed),
        "final_loss": broken.final_loss,
        "final_loss_fixed": fixed.final_loss,
        "train_accuracy": broken.train_accuracy,
        "train_accuracy_fixed": fixed.train_accuracy,
        "val_accuracy": broken.val_accuracy,
        "val_accuracy_fixed": fixed.val_accuracy,
    }
    measure = _SYMPTOM_FIGURES.get(name)
    if measure is not None:
        figures.update(measure(broken))
        figures.update({f"{k}_fixed": v for k, v in measure(fixed).items()})
    evidence = _findings(broken_setup, (name,)).get(name, "not found in this setup")
    return Demonstration(name=name, broken=broken, fixed=fixed, figures=figures, evidence=evidence)


def demonstration_table(demonstrations: Sequence[Demonstration]) -> pd.DataFrame:
    """One row per :class:`Demonstration`: the broken and fixed runs' figures and the symptom found."""
    demonstrations = list(demonstrations)
    if not demonstrations or not all(isinstance(d, Demonstration) for d in demonstrations):
        raise TypeError("Pass a list of faults.demonstrate(...) results.")
    return pd.DataFrame([d.row for d in demonstrations]).set_index("fault")


# ----------------------------------------------------------------------------------------------
# Mysteries: runs with a hidden fault, drawn by a seed.


@dataclasses.dataclass(frozen=True)
class Mystery:
    """One diagnosis exercise: its story, the pool its hidden fault is drawn from, and which
    diagnostic tells each candidate apart (``clues``)."""

    number: int
    title: str
    story: str
    pool: tuple[str, ...]
    clues: dict[str, str]


MYSTERIES: tuple[Mystery, ...] = (
    Mystery(
        1,
        "Wrong from the first step",
        "The loss curve looks wrong from the very first epoch.",
        ("unnormalized_inputs", "from_logits_mismatch", "dead_relus"),
        {
            "unnormalized_inputs": "diagnostics.loss_at_init (far above ln K) and diagnostics.first_batch (range)",
            "from_logits_mismatch": "diagnostics.loss_at_init (its inspection of the output layer and the loss)",
            "dead_relus": "diagnostics.dead_units on the untrained model (case.setup.build_model())",
        },
    ),
    Mystery(
        2,
        "Validation at chance",
        "After training, validation accuracy is no better than guessing.",
        ("shuffled_labels", "learning_rate_too_high", "batchnorm_statistics"),
        {
            "shuffled_labels": "plots.plot_batch of diagnostics.first_batch (do the labels fit the images?)",
            "learning_rate_too_high": "diagnostics.TrainingStats with every=5 (the update/weight ratio and dead "
            "ReLUs of the first steps)",
            "batchnorm_statistics": "the history's training accuracy against evaluation.accuracy on the training "
            "images",
        },
    ),
    Mystery(
        3,
        "It learns, but not enough",
        "The run learns something, but ends below what this network reaches.",
        ("label_changing_augmentation", "frozen_base", "unnormalized_inputs"),
        {
            "label_changing_augmentation": "plots.plot_batch of diagnostics.first_batch after augmentation; "
            "evaluation.most_confused_pairs",
            "frozen_base": "diagnostics.TrainingStats (which layers' weights move: the update/weight ratio)",
            "unnormalized_inputs": "diagnostics.first_batch (value range) and diagnostics.loss_at_init",
        },
    ),
    Mystery(
        4,
        "Anything can be wrong",
        "Someone else's run, and a result that does not look right. Work through the recipe in order.",
        FAULTS,
        {name: _BY_NAME[name].diagnostic for name in FAULTS},
    ),
)
"""The diagnosis exercises of ``10_debugging_training``, numbered from 1."""


def _mystery_spec(number) -> Mystery:
    if not _validate.is_int(number) or not 1 <= number <= len(MYSTERIES):
        raise ValueError(f"number must be a mystery number from 1 to {len(MYSTERIES)}. Received: number={number!r}")
    return MYSTERIES[int(number) - 1]


def _draw(number: int, seed: int) -> str:
    pool = _mystery_spec(number).pool
    return pool[int(np.random.default_rng([int(number), int(seed)]).integers(len(pool)))]


@dataclasses.dataclass(frozen=True, repr=False)
class MysteryCase:
    """A run with a hidden fault. Diagnose it with :mod:`helpers.diagnostics`, name the fault
    (one of ``pool``) and write ``fix(setup) -> setup``; ``checks.mystery_diagnosis`` and
    ``checks.mystery_fix`` check both.

    Attributes:
        number: which of :data:`MYSTERIES`.
        seed: drew the fault; also the seed the run trains with.
        setup: the broken setup (change it with ``dataclasses.replace``).
        pool: the faults it may be.
        target: the validation accuracy the fixed run must reach.
    """

    number: int
    seed: int
    setup: TrainingSetup
    pool: tuple[str, ...]
    target: float
    _answer: str = dataclasses.field(repr=False)

    @property
    def title(self) -> str:
        return _mystery_spec(self.number).title

    def train(self, *, callbacks: Sequence = (), verbose=None) -> TrainingResult:
        """Train the broken run as the check does (with this case's seed)."""
        return _train(self.setup, seed=self.seed, callbacks=callbacks, verbose=verbose)

    def reveal(self) -> str:
        """The hidden fault's name. A spoiler: for solution cells and tests."""
        return self._answer

    def __repr__(self) -> str:
        spec = _mystery_spec(self.number)
        return (
            f"Mystery {self.number} (seed {self.seed}): {spec.title}. {spec.story}\n"
            f"  It is one of: {', '.join(self.pool)}.\n"
            f"  Fix it so that the run reaches {self.target:.0%} validation accuracy.\n"
            "  case.setup is the run: diagnose it with the tools before you read its fields."
        )


def mystery(number: int, setup_or_data, *, seed: int, target: float = DEFAULT_TARGET, **sizes) -> MysteryCase:
    """Mystery ``number`` (1 to ``len(MYSTERIES)``): a broken run whose fault ``seed`` draws from the
    mystery's pool. Different seeds give different faults; every fault of the pool comes up for
    some seed.

    Args:
        setup_or_data: the healthy setup (:func:`healthy`) or a dataset from ``helpers.data.load``
            (then ``sizes`` go to :func:`healthy`).
        seed: draws the fault, and seeds the run.
        target: the validation accuracy a fixed run must reach (default 0.8, for the default
            sizes: see :data:`DEFAULT_TARGET`). Lower it for smaller runs.
        **sizes: for :func:`healthy`, when ``setup_or_data`` is a dataset (at least 2 epochs).
    """
    seed = _validate.seed(seed)
    spec = _mystery_spec(number)
    target = _validate.fraction(target, "target")
    base = _as_setup(setup_or_data, **sizes)
    if base.epochs < 2:
        raise ValueError(
            f"A mystery needs a run of at least 2 epochs (some faults show only after the first). Received: "
            f"epochs={base.epochs}; use faults.healthy(data, epochs=2) or more."
        )
    answer = _draw(spec.number, seed)
    return MysteryCase(
        number=spec.number, seed=seed, setup=make(answer, base), pool=spec.pool, target=target, _answer=answer
    )
