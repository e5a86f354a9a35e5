"""Run one experiment per seed in worker processes at once, results in seed order.

A comparison over three seeds costs three trainings. The course's CNNs are small: one training step
does not keep two cores busy, so two processes with one thread each can finish two seeds in less time
than one process with two threads finishes them one after the other. Whether they do depends on the
machine and the model, so ``bench`` measures it (the ``seeds in parallel`` lever) and the notebooks
use ``workers=2`` only where that measurement says so.

Workers are joblib's ``loky`` processes: they start fresh (no TensorFlow state is forked), receive the
experiment with ``cloudpickle`` (so a function defined in a notebook cell works) and stop when
:func:`map_seeds` returns, so no process holding a copy of TensorFlow and the data outlives the call
(the import of TensorFlow, a few seconds, is paid per call; ``bench`` counts it in). Each call is
seeded with :func:`helpers.config.seed_everything`, exactly as a serial run is, so a seed gives the
same numbers whichever worker runs it, on every run. They can differ in the last digits from a serial
run in a two-thread process: how TensorFlow splits a reduction depends on its thread count. Keras
models in the results travel as ``.keras`` archives.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from helpers import _validate, config


@dataclasses.dataclass(frozen=True)
class _PackedModel:
    """A Keras model as the bytes of its ``.keras`` archive, to cross a process boundary."""

    archive: bytes


def _is_model(obj) -> bool:
    import keras

    return isinstance(obj, keras.Model)


def _model_to_bytes(model) -> _PackedModel:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.keras"
        model.save(path)
        return _PackedModel(path.read_bytes())


def _model_from_bytes(packed: _PackedModel):
    import keras

    from helpers import persistence

    persistence.register_course_objects()  # a worker's model may use a loss or layer this process never imported
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.keras"
        path.write_bytes(packed.archive)
        return keras.saving.load_model(path)


def _convert(obj, leaf: Callable[[Any], bool], fn: Callable[[Any], Any]):
    """``obj`` with every part for which ``leaf`` holds replaced by ``fn(part)``, in lists, dicts, dataclasses."""
    if leaf(obj):
        return fn(obj)
    if isinstance(obj, dict):
        return {k: _convert(v, leaf, fn) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_convert(v, leaf, fn) for v in obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {f.name: _convert(getattr(obj, f.name), leaf, fn) for f in dataclasses.fields(obj) if f.init}
        return dataclasses.replace(obj, **changes)
    return obj


def _seeded_call(experiment: Callable[[int], Any], seed: int) -> Any:
    config.seed_everything(seed)
    return experiment(seed)


def _worker_call(experiment: Callable[[int], Any], seed: int, threads: int) -> Any:
    """What a worker runs: limit TensorFlow's threads, seed, run, pack the models."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # a worker given a second seed: TensorFlow already runs with these threads
        pass
    return _convert(_seeded_call(experiment, seed), _is_model, _model_to_bytes)


def default_threads(workers: int) -> int:
    """Threads per worker so that the workers together use the machine's cores once."""
    return max(1, (os.cpu_count() or 1) // workers)


def map_seeds(experiment: Callable[[int], Any], seeds: Iterable[int], *, workers: int = 1) -> list:
    """``[experiment(seed) for seed in seeds]``, each call seeded first; ``workers > 1`` runs them at once.

    Args:
        experiment: called with one seed; what it returns must pickle (Keras models may be inside
            lists, dicts or dataclasses such as :class:`helpers.runs.Run`: they are moved as
            ``.keras`` archives).
        seeds: distinct non-negative integers.
        workers: processes to use (default 1: in this process, one seed after the other). With more,
            each worker gets ``cpu_count // workers`` TensorFlow threads.
    """
    seeds = _validate.seeds(seeds, "seeds")
    workers = _validate.positive_int(workers, "workers")
    if workers == 1 or len(seeds) == 1:
        return [_seeded_call(experiment, seed) for seed in seeds]
    from joblib.externals.loky import ProcessPoolExecutor

    threads = default_threads(workers)
    with ProcessPoolExecutor(max_workers=min(workers, len(seeds))) as pool:  # workers stop on leaving
        results = list(pool.map(_worker_call, [experiment] * len(seeds), seeds, [threads] * len(seeds)))
    return [_convert(r, lambda o: isinstance(o, _PackedModel), _model_from_bytes) for r in results]
