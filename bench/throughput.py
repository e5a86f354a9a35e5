"""Input-pipeline throughput: training images/s of one model fed four ways, same augmentations.

1. tf.data pipeline, no augmentation (the ceiling);
2. tf.data pipeline + augmentation layers inside the model (run as part of the training step);
3. tf.data pipeline + augmentation in ``Dataset.map`` with parallel calls;
4. a naive ``keras.utils.PyDataset`` that augments every image with NumPy/SciPy in Python.
"""

from __future__ import annotations

import math
import statistics
import time

import keras
import numpy as np

from helpers import augment, config, data, models, pipelines, recipes, training

DIGITS = augment.PRESET_FOR_DATASET["mnist5k"]


class NaiveAugmentingSequence(keras.utils.PyDataset):
    """The way many tutorials still do it: per-image affine warps in Python, one batch at a time.

    Same family of transformations as ``augment.preset("digits")``: rotation up to 0.03 turns,
    shifts up to 8 %, zoom up to 8 %, constant (zero) fill.
    """

    def __init__(self, x, y, batch_size, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.rng = np.random.default_rng(seed)

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def _warp(self, img):
        from scipy import ndimage

        h, w = img.shape[:2]
        angle = self.rng.uniform(-0.03, 0.03) * 2 * np.pi
        zoom = 1 + self.rng.uniform(-0.08, 0.08)
        shift = self.rng.uniform(-0.08, 0.08, size=2) * (h, w)
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) / zoom
        center = np.array([h, w]) / 2
        offset = center - rot @ center - shift
        return ndimage.affine_transform(img[..., 0], rot, offset=offset, order=1, cval=0.0)[..., None]

    def __getitem__(self, index):
        sl = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return np.stack([self._warp(img) for img in self.x[sl]]).astype(np.float32), self.y[sl]


def _model(ds, with_augmentation):
    config.seed_everything()
    aug = augment.preset(DIGITS) if with_augmentation else None
    model = models.simple_cnn(
        ds.input_shape,
        ds.num_classes,
        filters=recipes.FAST.filters,
        convs_per_block=recipes.FAST.convs_per_block,
        head=recipes.FAST.head,
        augmentation=aug,
    )
    return training.compile_classifier(model, learning_rate=1e-3)


def _epoch_seconds(model, feed) -> float:
    start = time.perf_counter()
    model.fit(feed, epochs=1, verbose=0)
    return time.perf_counter() - start


def run(ds: data.Dataset, *, n_images: int, repeats: int, batch_size: int = 64, log=print) -> dict:
    """Training images/s per feed (median over ``repeats`` epochs, feeds timed in turn so that a slow
    moment of the machine hits all of them alike) and what each feed's input side delivers alone."""
    x, y = ds.x_train[:n_images], ds.y_train[:n_images]
    n = len(x)
    feeds = {
        "tf.data, no augmentation": (False, lambda: pipelines.to_tf_dataset(x, y, batch_size=batch_size, shuffle=True)),
        "tf.data + augmentation in the model": (
            True,
            lambda: pipelines.to_tf_dataset(x, y, batch_size=batch_size, shuffle=True),
        ),
        "tf.data + augmentation in map (parallel)": (
            False,
            lambda: pipelines.to_tf_dataset(x, y, batch_size=batch_size, shuffle=True, augment=augment.preset(DIGITS)),
        ),
        "naive PyDataset (NumPy/SciPy per image)": (False, lambda: NaiveAugmentingSequence(x, y, batch_size)),
    }
    setups = {name: (_model(ds, in_model), make_feed()) for name, (in_model, make_feed) in feeds.items()}
    for model, feed in setups.values():
        _epoch_seconds(model, feed)  # warm-up: tracing, caches, thread pools
    seconds = {name: [] for name in setups}
    for _ in range(repeats):
        for name, (model, feed) in setups.items():
            seconds[name].append(_epoch_seconds(model, feed))
    rates, input_rates = {}, {}
    for name, (_, feed) in setups.items():
        rates[name] = round(n / statistics.median(seconds[name]), 1)
        # Augmentation inside the model runs in the training step: its feed alone is the plain one.
        input_rates[name] = (
            None if feeds[name][0] else round(pipelines.pipeline_throughput(feed, repeats=repeats).images_per_second, 1)
        )
        alone = "" if input_rates[name] is None else f"   (input alone {input_rates[name]:>9.1f})"
        log(f"    {name:<44} {rates[name]:>9.1f} images/s{alone}")
    naive = rates["naive PyDataset (NumPy/SciPy per image)"]
    best_aug = max(rates["tf.data + augmentation in the model"], rates["tf.data + augmentation in map (parallel)"])
    naive_input = input_rates["naive PyDataset (NumPy/SciPy per image)"]
    return {
        "images_per_second": rates,
        "input_only_images_per_second": input_rates,
        "images": n,
        "batch_size": batch_size,
        "repeats": repeats,
        "ratio_best_tfdata_augmented_vs_naive": round(best_aug / naive, 2),
        "ratio_tfdata_map_vs_naive_input_only": round(
            input_rates["tf.data + augmentation in map (parallel)"] / naive_input, 2
        ),
    }
