"""Label-preserving augmentation presets built from Keras preprocessing layers.

A preset only holds transformations that keep the label true for its kind of data: a horizontally
flipped "2" is no longer a "2", so the digit preset never flips, while a flipped truck is still a
truck. Every preset expects pixels in ``[0, 1]`` (what ``helpers.data.load`` returns), checks that it
gets them (:class:`CheckValueRange`), and is a no-op at inference (``training=False``).

``02_data_preparation`` introduces the presets, :class:`RandomStrokeWidth` (a custom layer written
the way Keras writes its own), and the tools that inspect an augmenter: :func:`layer_settings`,
:func:`flip_modes`, :func:`flip_rate` and :func:`variants`. :func:`cutout` and :func:`mixup` are the
augmentations that may change, or do change, what a label means.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from helpers import _validate, config
from helpers.models import walk_layers

# Which preset fits which dataset (``folder:`` datasets default to "objects").
PRESET_FOR_DATASET = {
    "mnist5k": "digits",
    "digits": "digits",
    "mnist": "digits",
    "fashion_mnist": "clothing",
    "cifar10": "objects",
}
PRESETS = ("digits", "clothing", "objects")
VALUE_RANGE = (0.0, 1.0)  # the pixel range every preset expects


def preset(name: str, *, strength: float = 1.0, seed: int = config.DEFAULT_SEED) -> keras.Sequential:
    """A ``keras.Sequential`` named ``augment_<name>`` for a preset or a dataset name.

    The first step, :class:`CheckValueRange`, stops images that are not in ``[0, 1]`` (e.g. raw
    0..255 pixels) with a clear error instead of augmenting them wrongly.

    Args:
        name: ``"digits"``, ``"clothing"``, ``"objects"``, or a dataset name such as ``"mnist5k"``.
        strength: scales every range (1.0 default; 0.5 is gentler, 2.0 harsher).
        seed: seeds the random transformations.
    """
    kind = PRESET_FOR_DATASET.get(name, "objects" if name.startswith("folder:") else name)
    if kind not in PRESETS:
        raise ValueError(
            f"Unknown augmentation preset {name!r}. Use one of {', '.join(PRESETS)} or a dataset name "
            f"({', '.join(PRESET_FOR_DATASET)})."
        )
    if not _validate.is_number(strength) or not 0 < strength <= 3:
        raise ValueError(f"strength must be in (0, 3]. Received: strength={strength!r}")
    s = float(strength)
    if kind == "digits":  # small shifts, tilts and size changes; never flips
        steps = [
            layers.RandomRotation(0.03 * s, fill_mode="constant", seed=seed),
            layers.RandomTranslation(0.08 * s, 0.08 * s, fill_mode="constant", seed=seed + 1),
            layers.RandomZoom(0.08 * s, fill_mode="constant", seed=seed + 2),
        ]
    elif kind == "clothing":  # left/right flips keep clothes what they are; no vertical flips
        steps = [
            layers.RandomFlip("horizontal", seed=seed),
            layers.RandomTranslation(0.06 * s, 0.06 * s, fill_mode="constant", seed=seed + 1),
            layers.RandomZoom(0.06 * s, fill_mode="constant", seed=seed + 2),
        ]
    else:  # natural photos: flips, shifts, zoom, contrast
        steps = [
            layers.RandomFlip("horizontal", seed=seed),
            layers.RandomTranslation(0.1 * s, 0.1 * s, fill_mode="reflect", seed=seed + 1),
            layers.RandomZoom(0.1 * s, fill_mode="reflect", seed=seed + 2),
            layers.RandomContrast(0.2 * s, value_range=(0, 1), seed=seed + 3),
        ]
    check = CheckValueRange(VALUE_RANGE, name="check_value_range")
    return keras.Sequential([check, *steps], name=f"augment_{kind}")


# ----------------------------------------------------------------------------------------------
# Layers.


def _check_value_range_arg(value_range) -> tuple[float, float]:
    if (
        not isinstance(value_range, (tuple, list))
        or len(value_range) != 2
        or not all(_validate.is_number(v) and np.isfinite(v) for v in value_range)
        or not value_range[0] < value_range[1]
    ):
        raise ValueError(
            "The `value_range` argument should be a list of two finite numbers, lower < upper, e.g. "
            f"(0, 1). Received: value_range={value_range}"
        )
    return float(value_range[0]), float(value_range[1])


def value_range_problem(low: float, high: float, value_range=VALUE_RANGE, *, tolerance: float = 0.01) -> str | None:
    """Why pixels spanning ``[low, high]`` do not fit ``value_range`` (``None`` when they do).

    ``tolerance`` is a fraction of the range's width that may be exceeded (interpolation noise).
    """
    lo, hi = _check_value_range_arg(value_range)
    slack = tolerance * (hi - lo)
    if low >= lo - slack and high <= hi + slack:
        return None
    found = f"Received images with pixel values in [{low:.4g}, {high:.4g}]"
    expected = f"this augmentation expects pixels in [{lo:g}, {hi:g}]"
    if high > hi + slack and high > 2 * hi and high <= 255.0 + slack and low >= lo - slack:
        advice = (
            "They look like raw 0..255 pixels: divide by 255 first "
            "(helpers.data.load scales to [0, 1] unless scale=False)."
        )
    elif low < lo - slack:
        advice = (
            "Negative values look standardized (mean 0, std 1): augment the [0, 1] images "
            "first and normalize afterwards (e.g. with a Normalization layer in the model)."
        )
    else:
        advice = f"Rescale them to [{lo:g}, {hi:g}] first."
    return f"{found}, but {expected}. {advice}"


class _ShapePreservingLayer(layers.Layer):
    """A course layer whose output has its input's shape and whose config is ``_config_fields``
    (the arguments of its ``__init__``), as Keras's own preprocessing layers do it."""

    _config_fields: tuple[str, ...] = ()

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = {name: getattr(self, name) for name in self._config_fields}
        base_config = super().get_config()
        return {**base_config, **config}


@keras.saving.register_keras_serializable(package="cnn_course")
class CheckValueRange(_ShapePreservingLayer):
    """Stop images outside ``value_range`` before they are augmented (training only).

    Augmentation layers silently assume a pixel range: ``RandomContrast`` clips to its
    ``value_range`` and a constant fill paints the background with 0. Raw 0..255 pixels fed to a
    preset built for ``[0, 1]`` would train on garbage without any error; this layer raises one.
    Called eagerly (a NumPy batch in a notebook) it raises ``ValueError``; inside ``model.fit`` or a
    ``tf.data`` pipeline it raises TensorFlow's ``InvalidArgumentError`` with the same message.
    At inference (``training=False``) it passes the input through without looking at it.

    Args:
        value_range: ``(lower, upper)`` of the expected pixel values. Defaults to ``(0, 1)``.
        tolerance: fraction of the range's width that may be exceeded. Defaults to 0.01.
    """

    def __init__(self, value_range=VALUE_RANGE, tolerance: float = 0.01, **kwargs):
        super().__init__(**kwargs)
        self.value_range = _check_value_range_arg(value_range)
        self.tolerance = _validate.fraction(tolerance, "tolerance")

    def call(self, inputs, training=True):
        if not training:
            return inputs
        import tensorflow as tf

        values = tf.cast(inputs, tf.float32)
        low, high = tf.reduce_min(values), tf.reduce_max(values)
        if tf.executing_eagerly():
            problem = value_range_problem(float(low), float(high), self.value_range, tolerance=self.tolerance)
            if problem:
                raise ValueError(problem)
            return inputs
        lo, hi = self.value_range
        slack = self.tolerance * (hi - lo)
        message = (
            f"{self.name}: pixel values outside [{lo:g}, {hi:g}], the range this augmentation "
            "expects. Raw 0..255 pixels? Divide by 255 first. Standardized? Augment before normalizing."
        )
        ok = tf.logical_and(low >= lo - slack, high <= hi + slack)
        with tf.control_dependencies([tf.debugging.Assert(ok, [message, "min:", low, "max:", high])]):
            return tf.identity(inputs)

    _config_fields = ("value_range", "tolerance")


@keras.saving.register_keras_serializable(package="cnn_course")
class RandomStrokeWidth(_ShapePreservingLayer):
    """Randomly thicken or thin the strokes of light-on-dark drawings such as digits (training only).

    People write with different pens: thickening (grey-scale dilation) or thinning (erosion) the
    strokes keeps a digit's label while changing its look. Each image draws ``t`` uniformly from
    ``factor``; ``t > 0`` blends it towards its dilation (each pixel becomes the maximum of itself
    and its 4 neighbours), ``t < 0`` towards its erosion (the minimum). ``t = 1`` thickens every stroke
    by about one pixel on each side. The output stays within the input's value range, so no
    ``value_range`` is needed. At inference (``training=False``) the input is returned unchanged.

    **Note:** this layer is safe to use inside a ``tf.data`` pipeline (``dataset.map(layer)``).

    Args:
        factor: a float in ``[0, 1]`` or a tuple of two floats ``(lower, upper)`` with
            ``-1 <= lower <= upper <= 1``. A float ``f`` means ``(-f, f)``: thin or thicken by up to
            ``f``. ``(0, 0.5)`` only thickens.
        seed: optional integer, for fixed random behaviour.

    Inputs: a 3-D ``(height, width, channels)`` or 4-D ``(batch, height, width, channels)`` tensor.
    Output: the same shape, float.
    """

    _FACTOR_VALIDATION_ERROR = (
        "The `factor` argument should be a number in [0, 1] or a tuple of two numbers "
        "(lower, upper) with -1 <= lower <= upper <= 1. "
    )

    def __init__(self, factor, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.factor = self._parse_factor(factor)
        self.seed = None if seed is None else _validate.seed(seed)
        self.generator = keras.random.SeedGenerator(self.seed)

    def _parse_factor(self, factor) -> tuple[float, float]:
        def number(v):
            return _validate.is_number(v) and np.isfinite(v)

        if number(factor) and 0 <= factor <= 1:
            return (-float(factor), float(factor))
        if (
            isinstance(factor, (tuple, list))
            and len(factor) == 2
            and all(number(v) for v in factor)
            and -1 <= factor[0] <= factor[1] <= 1
        ):
            return (float(factor[0]), float(factor[1]))
        raise ValueError(self._FACTOR_VALIDATION_ERROR + f"Received: factor={factor}")

    def call(self, inputs, training=True):
        if not training:
            return inputs
        images = ops.cast(inputs, self.compute_dtype)
        rank = len(images.shape)
        if rank not in (3, 4):
            raise ValueError(f"Expected the input image to be rank 3 or 4. Received inputs.shape={images.shape}")
        if rank == 3:
            images = ops.expand_dims(images, 0)
        padded = ops.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="symmetric")
        neighbours = [padded[:, :-2, 1:-1], padded[:, 2:, 1:-1], padded[:, 1:-1, :-2], padded[:, 1:-1, 2:]]
        dilated, eroded = images, images
        for n in neighbours:
            dilated, eroded = ops.maximum(dilated, n), ops.minimum(eroded, n)
        t = keras.random.uniform(
            (ops.shape(images)[0], 1, 1, 1),
            minval=self.factor[0],
            maxval=self.factor[1],
            seed=self.generator,
            dtype=self.compute_dtype,
        )
        target = ops.where(t > 0, dilated, eroded)
        outputs = images + ops.abs(t) * (target - images)
        return outputs[0] if rank == 3 else outputs

    _config_fields = ("factor", "seed")


# ----------------------------------------------------------------------------------------------
# Erasing and mixing: augmentations that change what a label means, or may.


def cutout(area: float = 0.1, *, rate: float = 0.5, seed: int = config.DEFAULT_SEED) -> layers.RandomErasing:
    """Cutout (DeVries & Taylor, 2017): black out one square covering ``area`` of the image, with probability ``rate``.

    A ``keras.layers.RandomErasing`` whose settings are pinned so that they mean what they say here.
    Keras's own defaults would not: a single ``factor=p`` draws each image's probability from
    ``[0, p]`` (so ``0.5`` erases a quarter of the images, not half), ``scale`` draws the height and the
    width fractions separately (a rectangle), and ``fill_value=None`` with ``value_range=(0, 255)``
    fills with clipped noise. Here ``factor=(rate, rate)``, ``scale=(area, area)`` (each side
    ``sqrt(area)`` of the image's: a square), ``fill_value=0`` (black, the background of the
    course's digits) and ``value_range=(0, 1)``. Unlike the paper, whose square may hang over the
    border, Keras keeps the square inside the image. Labels pass through unchanged, which is only true
    while the square cannot hide what tells the classes apart: on 28x28 digits ``area=0.1`` is a 9x9
    square, enough to erase the bar that makes a 7 out of a 1. At inference the layer is the identity.
    In a parallel ``tf.data`` map, the same seed gives the same erasures only under
    ``helpers.config.setup`` (TensorFlow's op determinism): otherwise parallel calls race on the seed state.

    Args:
        area: the fraction of the image erased, in ``(0, 1)``.
        rate: the probability that an image is erased, in ``[0, 1]``.
        seed: seeds which images are erased and where.
    """
    if not _validate.is_number(area) or not 0 < area < 1:
        raise ValueError(f"area is the fraction of the image erased, in (0, 1). Received: area={area!r}")
    if not _validate.is_number(rate) or not 0 <= rate <= 1:
        raise ValueError(f"rate is the probability that an image is erased, in [0, 1]. Received: rate={rate!r}")
    return layers.RandomErasing(
        factor=(float(rate), float(rate)),
        scale=(float(area), float(area)),
        fill_value=0.0,
        value_range=VALUE_RANGE,
        seed=_validate.seed(seed),
    )


def mixup(dataset, num_classes: int, *, alpha: float = 0.2, seed: int = config.DEFAULT_SEED):
    """Mixup (Zhang et al., 2018) on a batched ``tf.data`` dataset of ``(images, integer labels)``.

    Each image is blended with another of its batch, ``lam * x_i + (1 - lam) * x_j``, and its label
    with the same weight, so the labels become one-hot mixtures: compile with
    ``keras.losses.CategoricalCrossentropy`` (not the sparse one), and keep the validation and test
    data unmixed. ``lam`` is drawn per example from ``Beta(alpha, alpha)`` (Keras's ``MixUp`` layer;
    the paper's reference code draws one per batch); a small ``alpha`` keeps most images close to one
    of the two. Mixing two digits gives an image that is neither, so mixup does not preserve labels:
    it changes them on purpose.

    Args:
        dataset: batched, yielding ``(images, labels)`` with images ``(batch, height, width, channels)``
            and integer labels ``(batch,)``.
        num_classes: the number of classes, for the one-hot labels.
        alpha: the Beta distribution's parameter, ``> 0``.
        seed: seeds the pairs and the weights.
    """
    import tensorflow as tf

    spec = dataset.element_spec
    if not (isinstance(spec, tuple) and len(spec) == 2 and spec[0].shape.rank == 4 and spec[1].shape.rank == 1):
        raise ValueError(
            "mixup needs a batched dataset of (images, integer labels) with images of shape (batch, height, "
            f"width, channels) and labels of shape (batch,). Received: element_spec={spec}. Call "
            "dataset.batch(n) first, and keep the labels as class numbers (mixup makes them one-hot)."
        )
    if not spec[1].dtype.is_integer:
        raise ValueError(f"mixup needs integer class labels; received labels of dtype {spec[1].dtype.name}.")
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2. Received: num_classes={num_classes!r}")
    if not _validate.is_number(alpha) or not alpha > 0:
        raise ValueError(f"alpha must be > 0 (0.2 is a common choice). Received: alpha={alpha!r}")
    layer = layers.MixUp(alpha=float(alpha), seed=_validate.seed(seed))

    def mix(images, labels):
        one_hot = tf.one_hot(tf.cast(labels, tf.int32), num_classes)
        mixed = layer({"images": tf.cast(images, tf.float32), "labels": one_hot}, training=True)
        return mixed["images"], mixed["labels"]

    # One batch at a time: parallel calls race on the layer's seed state unless op determinism is on.
    return dataset.map(mix)


# ----------------------------------------------------------------------------------------------
# Looking at an augmenter.


def _check_augmenter(augmenter) -> None:
    if not isinstance(augmenter, layers.Layer):
        raise TypeError(
            "Pass a Keras layer or keras.Sequential of preprocessing layers, e.g. "
            f"helpers.augment.preset('digits'). Received: {type(augmenter).__name__}"
        )


def _transformations(augmenter) -> list:
    """The leaf layers of an augmenter, in order: the layer itself, or those of a (nested) Sequential."""
    _check_augmenter(augmenter)
    if not hasattr(augmenter, "layers"):
        return [augmenter]
    return list(walk_layers(augmenter, leaves_only=True))


_DESCRIBED = ("factor", "height_factor", "width_factor", "mode", "fill_mode", "value_range")


def layer_settings(augmenter) -> list[str]:
    """One line per transformation, e.g. ``RandomRotation(factor=(-0.03, 0.03), fill_mode='constant')``."""
    lines = []
    for layer in _transformations(augmenter):
        cfg = layer.get_config()
        args = ", ".join(f"{k}={cfg[k]!r}" for k in _DESCRIBED if k in cfg and cfg[k] is not None)
        lines.append(f"{type(layer).__name__}({args})")
    return lines


def flip_modes(augmenter) -> set[str]:
    """The flips an augmenter can make: a subset of ``{"horizontal", "vertical"}`` (empty: none)."""
    modes: set[str] = set()
    for layer in _transformations(augmenter):
        if isinstance(layer, layers.RandomFlip):
            mode = layer.get_config()["mode"]
            modes |= {"horizontal", "vertical"} if mode == "horizontal_and_vertical" else {mode}
    return modes


def variants(augmenter, images: np.ndarray, n: int = 6) -> np.ndarray:
    """``n`` augmented versions of each image, shape ``(len(images), n, H, W, C)``."""
    from helpers.data import validate_images

    _check_augmenter(augmenter)
    images = validate_images(images, name="images").astype(np.float32)
    n = _validate.positive_int(n, "n")
    repeated = np.repeat(images, n, axis=0)
    out = np.asarray(augmenter(repeated, training=True))
    return out.reshape(len(images), n, *images.shape[1:])


def asymmetric_probe(image_shape: tuple[int, int, int] = (28, 28, 1)) -> np.ndarray:
    """A test image whose ink sits in the top-left quarter: any flip moves it to another quarter.

    The image must be at least 8x8 and at most twice as long as it is wide: in a long, narrow image
    a small rotation about the centre already carries the ink across the midline, which would be
    counted as a flip.
    """
    if (
        not isinstance(image_shape, (tuple, list))
        or len(image_shape) != 3
        or not all(_validate.is_int(d) and d > 0 for d in image_shape)
        or min(image_shape[:2]) < 8
        or max(image_shape[:2]) > 2 * min(image_shape[:2])
    ):
        raise ValueError(
            "image_shape must be (height, width, channels), at least 8x8 and at most twice as long as "
            f"wide, e.g. (28, 28, 1). Received: image_shape={image_shape!r}"
        )
    h, w, c = (int(d) for d in image_shape)
    probe = np.zeros((h, w, c), np.float32)
    probe[h // 8 : 3 * h // 8, w // 8 : 3 * w // 8] = 1.0
    return probe


def flip_rate(augmenter, *, n: int = 256, image_shape: tuple[int, int, int] = (28, 28, 1)) -> dict[str, float]:
    """How often ``augmenter`` mirrors an image, measured rather than read from its layers.

    Runs ``n`` copies of :func:`asymmetric_probe` through the augmenter (``training=True``) and
    counts the outputs whose centre of ink crossed the vertical midline (``"horizontal"`` flips)
    or the horizontal one (``"vertical"`` flips). Shifts, small rotations and zooms never move the
    probe's ink that far, so a digit-safe augmenter scores 0 on both; ``RandomFlip("horizontal")``
    scores about 0.5.
    """
    _check_augmenter(augmenter)
    n = _validate.positive_int(n, "n")
    probe = asymmetric_probe(image_shape)
    out = np.asarray(augmenter(np.repeat(probe[None], n, axis=0), training=True), dtype=np.float64)
    ink = out.sum(axis=-1).clip(min=0)
    total = ink.sum(axis=(1, 2)) + 1e-12
    rows, cols = np.arange(image_shape[0]), np.arange(image_shape[1])
    centre_row = (ink.sum(axis=2) * rows).sum(axis=1) / total
    centre_col = (ink.sum(axis=1) * cols).sum(axis=1) / total
    return {
        "horizontal": float(np.mean(centre_col > (image_shape[1] - 1) / 2)),
        "vertical": float(np.mean(centre_row > (image_shape[0] - 1) / 2)),
    }
