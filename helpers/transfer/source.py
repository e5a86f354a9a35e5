"""The source model the course pretrains itself: :func:`pretrain` trains a :class:`SourceSpec` from
its seed, and :func:`source_model` returns it from the cache (pretraining and caching it on first use).
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from pathlib import Path

import keras

from helpers import config, data, evaluation, schedules, training
from helpers.transfer.cache import (
    HASH_KEY,
    SPEC_KEY,
    SourceCacheWarning,
    cache_paths,
    cached_model,
    read_metadata,
    remove_stale_temporaries,
    store,
)
from helpers.transfer.spec import CACHE_FORMAT, SourceSpec, source_spec

__all__ = ["pretrain", "source_model"]


def pretrain(spec: SourceSpec, *, verbose=None) -> tuple[keras.Model, dict]:
    """Train ``spec``'s source CNN from its seed; return the (uncompiled) model and its metrics."""
    source = _source_data(spec)
    config.seed_everything(spec.seed)
    model = spec.build(source.input_shape, source.num_classes)
    steps = spec.epochs * schedules.steps_per_epoch(len(source.x_train), spec.batch_size)
    training.compile_classifier(model, learning_rate=schedules.warmup_cosine(spec.peak_lr, steps))
    start = time.perf_counter()
    training.fit(model, source, epochs=spec.epochs, batch_size=spec.batch_size, seed=spec.seed, verbose=verbose)
    seconds = time.perf_counter() - start
    clean = spec.build(source.input_shape, source.num_classes)  # uncompiled: no optimizer state in the file
    clean.set_weights(model.get_weights())
    metrics = {
        "val_accuracy": evaluation.evaluate(clean, source, "val"),
        "test_accuracy": evaluation.evaluate(clean, source, "test"),
        "train_seconds": round(seconds, 1),
        "train_examples": len(source.x_train),
    }
    return clean, metrics


def _source_data(spec: SourceSpec) -> data.Dataset:
    """The images ``spec`` pretrains on: its dataset, or only its ``classes`` of it (then subsampled)."""
    if spec.classes is None:
        return data.load(spec.dataset, train_size=spec.train_size, seed=spec.seed)
    from helpers.transfer.tasks import select_classes

    source = select_classes(data.load(spec.dataset, seed=spec.seed), spec.classes)
    if spec.train_size is None:
        return source
    x, y = data.subsample(source.x_train, source.y_train, spec.train_size, seed=spec.seed)
    return dataclasses.replace(source, x_train=x, y_train=y)


def source_model(
    spec: SourceSpec | None = None, *, directory: Path | str | None = None, rebuild: bool = False, verbose: bool = True
) -> keras.Model:
    """The pretrained source CNN: loaded from the cache, or pretrained (and cached) on first use.

    Args:
        spec: how to pretrain it (default: :func:`source_spec` of the active profile).
        directory: the cache folder (default ``data/pretrained``, git-ignored).
        rebuild: pretrain again even if a valid cache exists.
        verbose: print one line saying whether it was loaded or built.

    A cache is used only if its metadata's hash equals ``spec.fingerprint()`` and its sha256
    matches the file; anything else is reported with a :class:`SourceCacheWarning` and rebuilt. If
    the new model cannot be cached (read-only folder, full disk), a warning says so and the freshly
    trained model is returned anyway.
    """
    spec = spec or source_spec()
    paths = cache_paths(spec, directory)
    remove_stale_temporaries(paths)
    if not rebuild:
        model, problem = cached_model(spec, paths)
        if model is not None:
            if verbose:
                meta = read_metadata(spec, directory)
                print(
                    f"Loaded the cached source model {paths.model} "
                    f"(source val accuracy {meta.get('val_accuracy', float('nan')):.1%})."
                )
            return model
        if problem:
            warnings.warn(
                f"Not using the cached source model {paths.model}: {problem} Rebuilding it.",
                SourceCacheWarning,
                stacklevel=2,
            )
    if verbose:
        print(
            f"Pretraining the source model on {spec.dataset} ({spec.epochs} epochs, seed {spec.seed}); "
            f"it is cached in {paths.model.parent} for next time."
        )
    model, metrics = pretrain(spec)
    meta = {
        "cache_format": CACHE_FORMAT,
        "name": spec.name,
        "seed": spec.seed,
        SPEC_KEY: spec.to_dict(),
        HASH_KEY: spec.fingerprint(),
        **metrics,
        "profile": config.profile().name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "versions": config.package_versions(("tensorflow", "keras")),
    }
    try:
        store(model, meta, paths)
    except Exception as exc:  # noqa: BLE001 - a model we cannot cache is still a good model
        warnings.warn(
            f"Could not cache the source model in {paths.model.parent} ({type(exc).__name__}: {exc}). "
            "Using it from memory; it will be pretrained again next time.",
            SourceCacheWarning,
            stacklevel=2,
        )
        return model
    if verbose:
        print(
            f"Source model ready: val accuracy {metrics['val_accuracy']:.1%}, "
            f"pretrained in {metrics['train_seconds']:.0f} s."
        )
    return model
