"""Fraction of the hardware limit: training FLOP/s of the course CNN / fp32 matmul FLOP/s, same run.

Training FLOPs per image = 3 x forward FLOPs (forward, plus about twice that for the backward pass),
forward FLOPs counted from the layers by ``helpers.model_stats.count_flops``.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from helpers import data, model_stats, pipelines, recipes


def matmul_flops_per_second(n: int = 2048, repeats: int = 5) -> float:
    import tensorflow as tf

    a = tf.random.normal((n, n), dtype=tf.float32)
    b = tf.random.normal((n, n), dtype=tf.float32)
    tf.linalg.matmul(a, b).numpy()  # warm-up
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        tf.linalg.matmul(a, b).numpy()
        rates.append(2 * n**3 / (time.perf_counter() - start))
    return statistics.median(rates)


def run(ds: data.Dataset, *, n_images: int, repeats: int, batch_size: int = 64, log=print) -> dict:
    model = recipes.FAST.build(ds)  # the course CNN, compiled with its schedule
    forward = model_stats.count_flops(model)
    x, y = ds.x_train[:n_images], ds.y_train[:n_images]
    feed = pipelines.to_tf_dataset(x, y, batch_size=batch_size, shuffle=True)
    model.fit(feed, epochs=1, verbose=0)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(feed, epochs=1, verbose=0)
        rates.append(len(x) / (time.perf_counter() - start))
    images_per_s = statistics.median(rates)
    achieved = 3 * forward * images_per_s
    peak = matmul_flops_per_second()
    log(
        f"    forward {forward / 1e6:.1f} MFLOP/image, {images_per_s:.0f} images/s -> {achieved / 1e9:.1f} GFLOP/s; "
        f"matmul {peak / 1e9:.1f} GFLOP/s"
    )
    return {
        "forward_mflops_per_image": round(forward / 1e6, 2),
        "training_images_per_second": round(images_per_s, 1),
        "achieved_gflops": round(achieved / 1e9, 2),
        "matmul_gflops": round(peak / 1e9, 2),
        "fraction_of_matmul": round(achieved / peak, 3),
        "batch_size": batch_size,
        "matmul_size": 2048,
        "dtype": str(np.float32.__name__),
    }
