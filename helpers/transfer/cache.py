"""The cache of pretrained source models under ``data/pretrained/``: paths, metadata, atomic saving,
checking, and clean-up of temporary files left by interrupted writes.

Each entry is ``NAME.keras`` with ``NAME.json`` beside it. The metadata records the spec, its
fingerprint and the model file's sha256; an entry is used only if both match (:func:`cached_model`),
and it is written so that neither file is ever half-written (:func:`store`).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import keras
import numpy as np

from helpers import _io, config
from helpers.transfer.spec import SourceSpec, source_spec

__all__ = [
    "STALE_AFTER_S",
    "CachePaths",
    "SourceCacheWarning",
    "cache_paths",
    "cached_model",
    "read_metadata",
    "remove_stale_temporaries",
    "save_atomic",
    "store",
]

STALE_AFTER_S = 600.0  # a temporary file this old belongs to a writer that died

# The metadata keys "recipe" and "recipe_hash" predate the name SourceSpec. They are kept: they are
# the stored format, and renaming them would make every existing cache look foreign and rebuild.
SPEC_KEY, HASH_KEY = "recipe", "recipe_hash"


class SourceCacheWarning(UserWarning):
    """A cached source model could not be used (corrupt, half-written, stale) or saved; it is rebuilt."""


@dataclasses.dataclass(frozen=True)
class CachePaths:
    """The two files of one cache entry."""

    model: Path
    metadata: Path


def cache_paths(spec: SourceSpec | None = None, directory: Path | str | None = None) -> CachePaths:
    """Where ``spec``'s model (``NAME.keras``) and metadata (``NAME.json``) are cached."""
    spec = spec or source_spec()
    folder = Path(directory) if directory is not None else config.PRETRAINED_DIR
    return CachePaths(folder / f"{spec.name}.keras", folder / f"{spec.name}.json")


def read_metadata(spec: SourceSpec | None = None, directory: Path | str | None = None) -> dict:
    """The metadata stored beside a cached source model (seed, spec, accuracy, hashes, versions)."""
    path = cache_paths(spec, directory).metadata
    if not path.is_file():
        raise FileNotFoundError(f"No source model metadata at {path}. Call helpers.transfer.source_model() first.")
    return json.loads(path.read_text())


def cached_model(spec: SourceSpec, paths: CachePaths) -> tuple[keras.Model | None, str | None]:
    """``(model, None)`` if the entry at ``paths`` is intact and was built by ``spec``, else ``(None, why)``.

    ``why`` is None when there is simply no entry yet (nothing to warn about).
    """
    if not paths.model.exists():
        return (None, None if not paths.metadata.exists() else "its metadata exists but the model file is missing.")
    if not paths.metadata.is_file():
        return None, "it has no metadata file beside it (an interrupted or foreign write)."
    try:
        meta = json.loads(paths.metadata.read_text())
        cached_hash, file_hash = meta[HASH_KEY], meta["file_sha256"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"its metadata {paths.metadata.name} is unreadable ({type(exc).__name__}: {exc})."
    if cached_hash != spec.fingerprint():
        return None, f"the source spec changed (cached spec hash {cached_hash}, current {spec.fingerprint()})."
    if _io.sha256sum(paths.model) != file_hash:
        return None, "the file is corrupt or half-written (its checksum does not match the metadata)."
    try:
        model = keras.saving.load_model(paths.model, compile=False)
    except Exception as exc:  # noqa: BLE001 - any failure to load means: do not use it
        return None, f"it cannot be loaded ({type(exc).__name__}: {str(exc)[:200]})."
    return model, None


def save_atomic(model: keras.Model, path: Path | str) -> str:
    """Save ``model`` to ``path`` so that ``path`` is never half-written; return the file's sha256.

    The model goes to a temporary file in the same folder, is loaded back and compared weight by
    weight, and only then moved into place with ``os.replace`` (atomic on one file system). If any
    step fails the temporary file is removed, ``path`` is left as it was, and the error propagates.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"path must end in .keras. Received: path={str(path)!r}")
    config.ensure_dir(path.parent)
    with _io.atomic_path(path, suffix=".tmp.keras") as tmp:
        model.save(tmp)
        loaded = keras.saving.load_model(tmp, compile=False)
        expected, got = model.get_weights(), loaded.get_weights()
        if len(expected) != len(got) or not all(np.array_equal(a, b) for a, b in zip(expected, got)):
            raise OSError(f"the model saved to {tmp} does not load back with the same weights.")
        return _io.sha256sum(tmp)


def store(model: keras.Model, meta: dict, paths: CachePaths) -> dict:
    """Write ``model`` and then its metadata (``meta`` plus the file's sha256) atomically; return the metadata.

    The model goes first: a crash between the two writes leaves a model whose checksum the old
    metadata does not match, which :func:`cached_model` reports and rebuilds.
    """
    meta = {**meta, "file_sha256": save_atomic(model, paths.model)}
    _io.write_text_atomic(paths.metadata, json.dumps(meta, indent=2, sort_keys=True))
    return meta


def remove_stale_temporaries(paths: CachePaths) -> None:
    """Delete temporary files left by interrupted writes (never read; younger ones may be in use)."""
    if not paths.model.parent.is_dir():
        return
    now = time.time()
    stem = paths.model.stem
    # .NAME.keras.*.tmp.keras and .NAME.json.*.tmp come from helpers._io; the first pattern and
    # .NAME.*.tmp.json also match what earlier versions of this module left behind.
    for pattern in (f".{stem}.*.tmp.keras", f".{paths.metadata.name}.*.tmp", f".{stem}.*.tmp.json"):
        for tmp in paths.model.parent.glob(pattern):
            try:
                if now - tmp.stat().st_mtime > STALE_AFTER_S:
                    tmp.unlink()
            except OSError:
                pass
