"""tf.data input pipelines over a dataset's arrays, and how fast they deliver (``02_data_preparation``).

* :func:`to_tf_dataset` builds the course's one pipeline (cache, shuffle, repeat, batch, augment,
  prefetch); :meth:`helpers.data.Dataset.pipelines` uses it for the three splits.
* :func:`pipeline_throughput` and :func:`training_throughput` measure images per second of a feed
  alone and of training on it (the benchmarks use them too); :func:`encode_png` makes realistic
  encoded inputs for such measurements without writing files.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np

from helpers import _validate, config
from helpers.data import validate_images, validate_labels


def to_tf_dataset(
    x: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int = 128,
    shuffle: bool = False,
    repeat: bool = False,
    augment: Callable | None = None,
    seed: int = config.DEFAULT_SEED,
    cache: bool = True,
    prefetch: bool = True,
    num_parallel_calls: int | None = None,
):
    """A batched tf.data pipeline over ``(x, y)``: cache -> shuffle -> [repeat] -> batch -> augment -> prefetch.

    Args:
        batch_size: examples per batch (default 128).
        shuffle: reshuffle every epoch (use for training only; default False).
        repeat: repeat forever, for a fixed number of steps (``fit(..., steps_per_epoch=n)``) that
            may exceed one pass (default False). Repeating before batching keeps every batch full
            and reshuffles at each pass over the data.
        augment: a callable (e.g. a ``helpers.augment`` preset) applied to each image batch with
            ``training=True``, in parallel; the labels pass through unchanged.
        seed: seeds the shuffle order.
        cache: keep decoded examples in memory after the first epoch (default True).
        prefetch: overlap input preparation with training (default True).
        num_parallel_calls: parallelism of ``augment`` (default ``tf.data.AUTOTUNE``).
    """
    import tensorflow as tf

    x = validate_images(x)
    y = validate_labels(y, n=len(x))
    batch_size = _validate.positive_int(batch_size, "batch_size")
    ds = tf.data.Dataset.from_tensor_slices((x.astype(np.float32), y))
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size)
    if augment is not None:
        parallel = tf.data.AUTOTUNE if num_parallel_calls is None else num_parallel_calls
        ds = ds.map(lambda xb, yb: (_call_augment(augment, xb), yb), num_parallel_calls=parallel)
    if prefetch:
        ds = ds.prefetch(tf.data.AUTOTUNE)
    return ds


def _call_augment(augment: Callable, images):
    try:
        return augment(images, training=True)
    except TypeError:
        return augment(images)


# ----------------------------------------------------------------------------------------------
# Input-pipeline measurements (introduced in 02_data_preparation; the benchmarks use them too).


@dataclasses.dataclass(frozen=True)
class Throughput:
    """Images per second of one pipeline or training setup: the median of ``rates`` (one per pass)."""

    images_per_second: float
    rates: tuple[float, ...]
    images: int

    @property
    def best(self) -> float:
        """Images per second of the fastest pass.

        Other work on the machine can only slow a pass down, never speed it up, so the fastest pass
        is the least disturbed estimate of what the pipeline can do; the ratio of two pipelines'
        ``best`` is the robust way to say one is faster on a shared or busy machine.
        """
        return float(max(self.rates))

    def __float__(self) -> float:
        return float(self.images_per_second)

    def __str__(self) -> str:
        return (
            f"{self.images_per_second:,.0f} images/s (median of {len(self.rates)} passes over {self.images:,} images)"
        )


def _batches(pipeline):
    """Iterate the batches of a tf.data pipeline, a ``keras.utils.PyDataset`` or any iterable."""
    import keras

    if isinstance(pipeline, keras.utils.PyDataset):
        return (pipeline[i] for i in range(len(pipeline)))
    try:
        return iter(pipeline)
    except TypeError as exc:
        raise TypeError(
            "pipeline must be a tf.data.Dataset, a keras.utils.PyDataset or an iterable of batches. "
            f"Received: {type(pipeline).__name__}"
        ) from exc


def _batch_size(batch) -> int:
    images = batch[0] if isinstance(batch, (tuple, list)) else batch
    shape = getattr(images, "shape", None)
    if not shape:
        raise TypeError(
            "Each batch must be images or an (images, labels) pair with a batch axis. "
            f"Received a batch of type {type(images).__name__}"
        )
    return int(shape[0])


def _one_pass(pipeline) -> tuple[int, float]:
    start, n = time.perf_counter(), 0
    for batch in _batches(pipeline):
        n += _batch_size(batch)
    return n, time.perf_counter() - start


def _throughput(images: int, seconds: list[float]) -> Throughput:
    rates = tuple(images / max(s, 1e-9) for s in seconds)
    return Throughput(images_per_second=float(np.median(rates)), rates=rates, images=images)


def pipeline_throughput(pipeline, *, repeats: int = 3, warmup: int = 1) -> Throughput:
    """Images per second of iterating ``pipeline`` once (what the input side alone can deliver).

    Args:
        pipeline: a ``tf.data.Dataset``, a ``keras.utils.PyDataset`` or any re-iterable of batches
            (``images`` or ``(images, labels)``).
        repeats: timed passes; the median is reported (default 3).
        warmup: untimed passes first (default 1). They fill a ``cache()`` and start thread pools,
            so the timed passes show the steady state a training run sees from its second epoch.
            ``warmup=0`` times the first pass too.
    """
    repeats = _validate.int_at_least(repeats, "repeats", 1)
    warmup = _validate.non_negative_int(warmup, "warmup")
    for _ in range(warmup):
        _one_pass(pipeline)
    counts, seconds = zip(*(_one_pass(pipeline) for _ in range(repeats)))
    if counts[0] == 0:
        raise ValueError("pipeline yielded no images; check its size and batch_size.")
    return _throughput(counts[0], list(seconds))


def training_throughput(model, pipeline, *, repeats: int = 2, warmup: int = 1) -> Throughput:
    """Images per second of training ``model`` for one epoch over ``pipeline`` (input + step together).

    The warm-up epochs (default 1) pay for graph tracing, so the timed ones measure the steady
    state. The model is trained by this call: measure on a throw-away model.

    Args:
        model: a compiled Keras model.
        pipeline: what ``model.fit`` accepts as ``x``: a tf.data pipeline or PyDataset of
            ``(images, labels)`` batches.
        repeats: timed epochs; the median is reported (default 2).
        warmup: untimed epochs first (default 1, at least 1).
    """
    repeats = _validate.int_at_least(repeats, "repeats", 1)
    warmup = _validate.int_at_least(warmup, "warmup", 1)
    if getattr(model, "optimizer", None) is None or not hasattr(model, "fit"):
        raise ValueError("model must be a compiled Keras model, e.g. helpers.training.compile_classifier(model).")
    images, _ = _one_pass(pipeline)
    if images == 0:
        raise ValueError("pipeline yielded no images; check its size and batch_size.")
    model.fit(pipeline, epochs=warmup, verbose=0, shuffle=False)  # the pipeline shuffles itself
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(pipeline, epochs=1, verbose=0, shuffle=False)
        seconds.append(time.perf_counter() - start)
    return _throughput(images, seconds)


def encode_png(x: np.ndarray) -> list[bytes]:
    """Encode each image of ``x`` (whole numbers 0..255) as PNG bytes, as if read from image files.

    ``02_data_preparation`` uses this to time a realistic input pipeline (decode on every epoch)
    without writing files.
    """
    import tensorflow as tf

    x = validate_images(x)
    if x.min() < 0 or x.max() > 255:
        raise ValueError(f"PNG stores whole numbers 0..255. Received pixel values in [{x.min():.3g}, {x.max():.3g}].")
    if np.issubdtype(x.dtype, np.floating):
        if x.max() <= 1.0 and x.max() > 0 and not np.all(x == np.round(x)):
            raise ValueError(
                "x looks scaled to [0, 1]; PNG stores 0..255. Pass x * 255, or load the data with scale=False."
            )
        x = np.round(x)
    return [tf.io.encode_png(img).numpy() for img in x.astype(np.uint8)]
