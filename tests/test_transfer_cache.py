"""helpers.transfer.cache: atomic writes; corrupt, half-written or foreign entries are detected and rebuilt."""

import json
import os
import time
import warnings

import keras
import numpy as np
import pytest

from helpers import _io, config, transfer
from helpers.transfer import source as source_module
from helpers.transfer.cache import HASH_KEY, SPEC_KEY

TINY = transfer.SourceSpec(name="tiny_source", filters=(4, 8, 8), epochs=1, batch_size=32, train_size=100)


def _same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    return len(wa) == len(wb) and all(np.array_equal(x, y) for x, y in zip(wa, wb))


class _CountingPretrain:
    """Replaces the pretrain that source_model calls and counts how often the source model is trained.

    By default it returns a copy of ``reference`` instantly (the cache logic is what is tested);
    without a reference, or with ``real=True``, it trains for real.
    """

    def __init__(self, monkeypatch, reference=None, real=False):
        self.calls = 0
        self._real = source_module.pretrain
        self._reference = reference
        self._use_real = real or reference is None
        monkeypatch.setattr(source_module, "pretrain", self)

    def __call__(self, spec, **kwargs):
        self.calls += 1
        if self._use_real:
            return self._real(spec, **kwargs)
        model = spec.build()
        model.set_weights(self._reference.get_weights())
        return model, {"val_accuracy": 0.5, "test_accuracy": 0.5, "train_seconds": 0.0, "train_examples": 100}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One tiny source model, stored once; tests copy its files into their own folder.

    It is left untrained: the cache is what is tested here (test_transfer_source.py trains one).
    """
    folder = tmp_path_factory.mktemp("pretrained")
    config.seed_everything(TINY.seed)
    model = TINY.build()
    paths = transfer.cache_paths(TINY, folder)
    meta = transfer.store(model, {SPEC_KEY: TINY.to_dict(), HASH_KEY: TINY.fingerprint()}, paths)
    assert meta["file_sha256"] == _io.sha256sum(paths.model)
    return model, paths.model.read_bytes(), paths.metadata.read_text()


@pytest.fixture
def cache(built, tmp_path):
    model, keras_bytes, meta_text = built
    paths = transfer.cache_paths(TINY, tmp_path)
    paths.model.write_bytes(keras_bytes)
    paths.metadata.write_text(meta_text)
    return model, paths


def _no_temporaries(folder):
    return not [p.name for p in folder.iterdir() if ".tmp" in p.name]


@pytest.mark.parametrize("damage", ["truncate", "empty", "flip_byte"])
def test_corrupt_file_is_detected_reported_and_rebuilt(cache, monkeypatch, damage):
    model, paths = cache
    raw = paths.model.read_bytes()
    if damage == "truncate":
        paths.model.write_bytes(raw[: len(raw) // 2])
    elif damage == "empty":
        paths.model.write_bytes(b"")
    else:
        paths.model.write_bytes(raw[:100] + bytes([raw[100] ^ 0xFF]) + raw[101:])
    counter = _CountingPretrain(monkeypatch, model)
    with pytest.warns(transfer.SourceCacheWarning, match="corrupt or half-written"):
        rebuilt = transfer.source_model(TINY, directory=paths.model.parent, verbose=False)
    assert counter.calls == 1 and _same_weights(model, rebuilt)
    meta = json.loads(paths.metadata.read_text())
    assert meta["file_sha256"] == _io.sha256sum(paths.model)  # the cache is whole again


def test_unloadable_file_with_matching_checksum_is_rebuilt(cache, monkeypatch):
    model, paths = cache
    paths.model.write_bytes(b"not a zip file at all")
    meta = json.loads(paths.metadata.read_text())
    meta["file_sha256"] = _io.sha256sum(paths.model)
    paths.metadata.write_text(json.dumps(meta))
    counter = _CountingPretrain(monkeypatch, model)
    with pytest.warns(transfer.SourceCacheWarning, match="cannot be loaded"):
        transfer.source_model(TINY, directory=paths.model.parent, verbose=False)
    assert counter.calls == 1


def test_changed_spec_triggers_a_rebuild(cache, monkeypatch):
    model, paths = cache
    changed = transfer.SourceSpec(**{**TINY.to_dict(), "filters": (4, 8, 8), "dropout": 0.1})
    assert changed.name == TINY.name and changed.fingerprint() != TINY.fingerprint()
    counter = _CountingPretrain(monkeypatch, model)
    with pytest.warns(transfer.SourceCacheWarning, match="source spec changed"):
        transfer.source_model(changed, directory=paths.model.parent, verbose=False)
    assert counter.calls == 1
    assert json.loads(paths.metadata.read_text())["recipe_hash"] == changed.fingerprint()
    with warnings.catch_warnings():  # the rebuilt cache now matches: no warning, no training
        warnings.simplefilter("error", transfer.SourceCacheWarning)
        transfer.source_model(changed, directory=paths.model.parent, verbose=False)
    assert counter.calls == 1


@pytest.mark.parametrize(
    "problem, match", [("missing", "no metadata"), ("garbage", "unreadable"), ("no_hash", "unreadable")]
)
def test_bad_metadata_is_reported_and_rebuilt(cache, monkeypatch, problem, match):
    model, paths = cache
    if problem == "missing":
        paths.metadata.unlink()
    elif problem == "garbage":
        paths.metadata.write_text("{half a json")
    else:
        paths.metadata.write_text(json.dumps({"seed": 42}))
    counter = _CountingPretrain(monkeypatch, model)
    with pytest.warns(transfer.SourceCacheWarning, match=match):
        transfer.source_model(TINY, directory=paths.model.parent, verbose=False)
    assert counter.calls == 1 and paths.metadata.is_file()


def test_metadata_without_model_is_reported(cache, monkeypatch):
    model, paths = cache
    paths.model.unlink()
    _CountingPretrain(monkeypatch, model)
    with pytest.warns(transfer.SourceCacheWarning, match="model file is missing"):
        transfer.source_model(TINY, directory=paths.model.parent, verbose=False)
    assert paths.model.is_file()


def test_a_truncated_temporary_file_is_never_used(built, tmp_path, monkeypatch):
    model, keras_bytes, _ = built
    stale = tmp_path / ".tiny_source.abc123.tmp.keras"  # what an interrupted writer leaves behind
    stale.write_bytes(keras_bytes[: len(keras_bytes) // 3])
    fresh = tmp_path / ".tiny_source.def456.tmp.keras"  # possibly another writer, still busy
    fresh.write_bytes(keras_bytes[:10])
    stale_io = [tmp_path / ".tiny_source.keras.ghi789.tmp.keras", tmp_path / ".tiny_source.json.jkl012.tmp"]
    for path in stale_io:  # the names helpers._io.atomic_path gives the model and the metadata
        path.write_bytes(keras_bytes[:10])
    old = time.time() - transfer.STALE_AFTER_S - 60
    for path in (stale, *stale_io):
        os.utime(path, (old, old))
    loads = []
    real_load = keras.saving.load_model
    monkeypatch.setattr(keras.saving, "load_model", lambda path, **kw: loads.append(str(path)) or real_load(path, **kw))
    counter = _CountingPretrain(monkeypatch, model)
    transfer.source_model(TINY, directory=tmp_path, verbose=False)
    assert counter.calls == 1  # the temporary file did not count as a cache
    assert not any(str(stale) == p or str(fresh) == p for p in loads)
    assert not stale.exists() and fresh.exists()  # stale leftovers are cleaned, young ones left alone
    assert not any(path.exists() for path in stale_io)


def test_a_failed_write_never_replaces_the_cache(cache, monkeypatch):
    model, paths = cache
    before = paths.model.read_bytes(), paths.metadata.read_text()

    def half_write(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as fh:  # the process "dies" half way through the file
            fh.write(before[0][:200])

    _CountingPretrain(monkeypatch, model)
    monkeypatch.setattr(keras.Model, "save", half_write)
    with pytest.warns(transfer.SourceCacheWarning, match="Could not cache"):
        returned = transfer.source_model(TINY, directory=paths.model.parent, rebuild=True, verbose=False)
    assert _same_weights(model, returned)  # the freshly trained model is still usable
    assert (paths.model.read_bytes(), paths.metadata.read_text()) == before
    assert _no_temporaries(paths.model.parent)


def test_save_atomic_verifies_and_cleans_up(built, tmp_path, monkeypatch):
    model, _, _ = built
    target = tmp_path / "sub" / "m.keras"
    digest = transfer.save_atomic(model, target)
    assert digest == _io.sha256sum(target) and _no_temporaries(target.parent)
    with pytest.raises(ValueError, match="must end in .keras"):
        transfer.save_atomic(model, tmp_path / "m.h5")
    monkeypatch.setattr(keras.saving, "load_model", lambda *a, **k: (_ for _ in ()).throw(OSError("boom")))
    with pytest.raises(OSError, match="boom"):
        transfer.save_atomic(model, tmp_path / "other.keras")
    assert not (tmp_path / "other.keras").exists() and _no_temporaries(tmp_path)


def test_profiles_cache_under_different_names():
    smoke, full = transfer.source_spec("smoke"), transfer.source_spec("full")
    assert transfer.cache_paths(smoke).model != transfer.cache_paths(full).model
    assert transfer.cache_paths(full).model.parent == config.PRETRAINED_DIR
    assert transfer.cache_paths().model.name == "source_cnn_smoke.keras"  # tests run in the smoke profile


def test_cached_model_says_why_not(cache, tmp_path):
    model, paths = cache
    loaded, problem = transfer.cached_model(TINY, paths)
    assert problem is None and _same_weights(model, loaded)
    assert transfer.cached_model(TINY, transfer.cache_paths(TINY, tmp_path / "empty")) == (None, None)  # no entry yet
    other = transfer.SourceSpec(**{**TINY.to_dict(), "epochs": 2})
    assert transfer.cached_model(other, paths)[1].startswith("the source spec changed")


def test_read_metadata_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="source_model"):
        transfer.read_metadata(TINY, tmp_path)
