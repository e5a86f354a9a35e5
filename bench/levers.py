"""The speed levers the course's profile points to, each measured against today's setting in one run.

1. The feed: NumPy arrays passed to ``fit`` vs a ``tf.data`` pipeline, batch 64 (the batch the
   notebooks teach), training images/s.
2. ``steps_per_execution`` 1 vs 16 at batch 64 (fewer Python round trips per step).
3. The batch size of ``predict`` / ``evaluate``: Keras's default 32 vs 256 vs 1,024 (inference has no
   lesson riding on its batch size, so a larger one is free to take).
4. Threads: training images/s with 1 TensorFlow thread vs the machine's default, in separate
   processes (the thread count is fixed when TensorFlow starts).
5. Seeds in parallel: the same three-seed experiment run one seed after the other in this process vs
   ``runs.over_seeds(..., workers=2)`` (two one-thread worker processes).

Epochs of the contenders in 1-3 are interleaved (warm-up first, then one epoch of each in turn per
repeat) so a slow moment of the machine hits all of them alike; the figure is the median.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

from bench import throughput
from helpers import config, data, pipelines, recipes, runs

BATCH = 64


def _model(ds, **compile_kwargs):
    """The throughput benchmark's model (no augmentation), recompiled with ``compile_kwargs`` if given."""
    model = throughput._model(ds, with_augmentation=False)
    if compile_kwargs:
        model.compile(optimizer=model.optimizer, loss=model.loss, metrics=["accuracy"], **compile_kwargs)
    return model


def _interleaved(contenders: dict, repeats: int) -> dict:
    """Median seconds of each ``contenders[name]()`` call, after one warm-up call each, interleaved."""
    for fn in contenders.values():
        fn()
    seconds = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            start = time.perf_counter()
            fn()
            seconds[name].append(time.perf_counter() - start)
    return {name: statistics.median(s) for name, s in seconds.items()}


def _fit_once(model, feed, y=None):
    return lambda: model.fit(feed, y, batch_size=BATCH if y is not None else None, epochs=1, verbose=0)


def training_feeds(ds, n_images: int, repeats: int) -> dict:
    """Images/s of one training epoch: NumPy vs tf.data, and steps_per_execution 1 vs 16."""
    x, y = ds.x_train[:n_images], ds.y_train[:n_images]
    pipeline = pipelines.to_tf_dataset(x, y, batch_size=BATCH, shuffle=True)
    contenders = {
        "NumPy arrays to fit (today in most cells)": _fit_once(_model(ds), x, y),
        "tf.data pipeline": _fit_once(_model(ds), pipeline),
        "tf.data + steps_per_execution=16": _fit_once(_model(ds, steps_per_execution=16), pipeline),
    }
    seconds = _interleaved(contenders, repeats)
    return {name: round(len(x) / s, 1) for name, s in seconds.items()}


def prediction_batches(ds, repeats: int) -> dict:
    """Images/s of ``predict`` on the validation split at three batch sizes."""
    model = _model(ds)
    x = ds.x_val
    sizes = (32, 256, 1024)
    contenders = {f"predict batch {b}": (lambda b=b: model.predict(x, batch_size=b, verbose=0)) for b in sizes}
    seconds = _interleaved(contenders, repeats)
    return {name: round(len(x) / s, 1) for name, s in seconds.items()}


def _throughput_in_subprocess(threads: int | None, n_images: int, repeats: int) -> float:
    args = [sys.executable, "-m", "bench.levers", "--throughput", str(n_images), str(repeats)]
    if threads:
        args += ["--threads", str(threads)]
    proc = subprocess.run(args, cwd=config.ROOT, capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)["images_per_second"]
    raise RuntimeError(f"the throughput subprocess failed:\n{proc.stderr[-2000:]}")


def thread_settings(n_images: int, repeats: int) -> dict:
    """Training images/s (tf.data, batch 64) with 1 thread vs TensorFlow's default, each in a fresh process."""
    return {
        "1 thread": round(_throughput_in_subprocess(1, n_images, repeats), 1),
        "default threads": round(_throughput_in_subprocess(None, n_images, repeats), 1),
    }


def seeds_in_parallel(ds, *, seeds=(42, 43, 44), epochs: int = 3, train_size: int | None = None) -> dict:
    """Seconds of a three-seed comparison (like 05's or 08's): serial in this process vs two one-thread
    workers, whose start (a fresh process importing TensorFlow) is counted."""
    small = ds if train_size is None else data.load(ds.name, train_size=train_size)

    def experiment(seed):
        return runs.train("cnn", small, dict(filters=recipes.FAST.filters), epochs=epochs, seed=seed)

    out = {}
    for label, workers in (("serial, one process", 1), ("2 worker processes", 2)):
        start = time.perf_counter()
        result = runs.over_seeds(experiment, seeds, workers=workers)
        out[label] = {
            "seconds": round(time.perf_counter() - start, 1),
            "val_accuracy": [round(r.val_accuracy, 4) for r in result],
        }
    return out


def run(ds, *, n_images: int = 2048, repeats: int = 3, quick: bool = False, log=print) -> dict:
    """All five levers; ``quick`` shrinks them to check that the code runs."""
    results = {
        "training_images_per_second": training_feeds(ds, n_images, repeats),
        "prediction_images_per_second": prediction_batches(ds, repeats),
        "threads_images_per_second": thread_settings(n_images, repeats),
        "seeds_in_parallel": seeds_in_parallel(ds, epochs=1, train_size=200) if quick else seeds_in_parallel(ds),
        "batch_size": BATCH,
    }
    for group in ("training_images_per_second", "prediction_images_per_second", "threads_images_per_second"):
        for name, rate in results[group].items():
            log(f"    {name:<44} {rate:>9.1f} images/s")
    for name, r in results["seeds_in_parallel"].items():
        log(f"    3 seeds, {name:<35} {r['seconds']:>9.1f} s")
    return results


def _main(argv: list[str]) -> None:
    """``python -m bench.levers --throughput N REPEATS [--threads T]``: one JSON line (a subprocess of run)."""
    n_images, repeats = int(argv[argv.index("--throughput") + 1]), int(argv[argv.index("--throughput") + 2])
    if "--threads" in argv:
        import tensorflow as tf

        threads = int(argv[argv.index("--threads") + 1])
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    ds = data.load("mnist5k")
    model = _model(ds)
    x, y = ds.x_train[:n_images], ds.y_train[:n_images]
    seconds = _interleaved({"tf.data": _fit_once(model, pipelines.to_tf_dataset(x, y, batch_size=BATCH))}, repeats)
    print(json.dumps({"images_per_second": len(x) / seconds["tf.data"]}))


if __name__ == "__main__":
    _main(sys.argv[1:])
