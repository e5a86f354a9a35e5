"""The source-model cache of helpers.transfer: atomic writes, corruption and recipe changes rebuild."""

import json
import os
import time
import warnings

import numpy as np
import pytest

from helpers import transfer

TINY = transfer.SourceRecipe(name="tiny_source", filters=(4, 8, 8), epochs=1, batch_size=32, train_size=100)


def _same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    return len(wa) == len(wb) and all(np.array_equal(x, y) for x, y in zip(wa, wb))


class _CountingPretrain:
    """Replaces transfer.pretrain and counts how often the source model is trained.

    By default it returns the module's tiny model instantly (the cache logic is what is tested);
    ``real=True`` trains for real.
    """

    def __init__(self, monkeypatch, reference=None, real=False):
        self.calls = 0
        self._real = transfer.pretrain
        self._reference = reference
        self._use_real = real or reference is None
        monkeypatch.setattr(transfer, "pretrain", self)

    def __call__(self, recipe, **kwargs):
        self.calls += 1
        if self._use_real:
            return self._real(recipe, **kwargs)
        model = recipe.build()
        model.set_weights(self._reference.get_weights())
        return model, {"val_accuracy": 0.5, "test_accuracy": 0.5, "train_seconds": 0.0, "train_examples": 100}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One tiny source model, built once; tests copy its files into their own folder."""
    folder = tmp_path_factory.mktemp("pretrained")
    model = transfer.source_model(TINY, directory=folder, verbose=False)
    paths = transfer.cache_paths(TINY, folder)
    return model, paths.model.read_bytes(), paths.metadata.read_text()


@pytest.fixture
def cache(built, tmp_path):
    model, keras_bytes, meta_text = built
    paths = transfer.cache_paths(TINY, tmp_path)
    paths.model.write_bytes(keras_bytes)
    paths.metadata.write_text(meta_text)
    return model, paths


def _no_temporaries(folder):
    return not [p.name for p in folder.iterdir() if ".tmp." in p.name]


@pytest.mark.slow
def test_first_use_builds_and_caches_with_metadata(tmp_path, monkeypatch):
    counter = _CountingPretrain(monkeypatch)
    model = transfer.source_model(TINY, directory=tmp_path, verbose=False)
    assert counter.calls == 1
    paths = transfer.cache_paths(TINY, tmp_path)
    assert paths.model.name == "tiny_source.keras" and paths.metadata.name == "tiny_source.json"
    meta = json.loads(paths.metadata.read_text())
    assert meta["seed"] == TINY.seed and meta["recipe"] == TINY.to_dict()
    assert meta["recipe_hash"] == TINY.fingerprint()
    assert 0.0 <= meta["val_accuracy"] <= 1.0 and 0.0 <= meta["test_accuracy"] <= 1.0
    assert meta["file_sha256"] == transfer._sha256(paths.model)
    assert meta["versions"]["keras"]
    assert _no_temporaries(tmp_path)
    assert model.output_shape == (None, 10) and getattr(model, "optimizer", None) is None  # no optimizer state


@pytest.mark.slow
def test_valid_cache_is_loaded_without_training(cache, monkeypatch, capsys):
    model, paths = cache
    counter = _CountingPretrain(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error", transfer.SourceCacheWarning)
        loaded = transfer.source_model(TINY, directory=paths.model.parent)
    assert counter.calls == 0 and _same_weights(model, loaded)
    assert "Loaded the cached source model" in capsys.readouterr().out


@pytest.mark.slow
def test_pretraining_is_reproducible(built, tmp_path):
    model, _, _ = built
    again = transfer.source_model(TINY, directory=tmp_path, verbose=False)
    assert _same_weights(model, again)


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
    assert meta["file_sha256"] == transfer._sha256(paths.model)  # the cache is whole again


def test_unloadable_file_with_matching_checksum_is_rebuilt(cache, monkeypatch):
    model, paths = cache
    paths.model.write_bytes(b"not a zip file at all")
    meta = json.loads(paths.metadata.read_text())
    meta["file_sha256"] = transfer._sha256(paths.model)
    paths.metadata.write_text(json.dumps(meta))
    counter = _CountingPretrain(monkeypatch, model)
    with pytest.warns(transfer.SourceCacheWarning, match="cannot be loaded"):
        transfer.source_model(TINY, directory=paths.model.parent, verbose=False)
    assert counter.calls == 1


def test_changed_recipe_triggers_a_rebuild(cache, monkeypatch):
    model, paths = cache
    changed = transfer.SourceRecipe(**{**TINY.to_dict(), "filters": (4, 8, 8), "dropout": 0.1})
    assert changed.name == TINY.name and changed.fingerprint() != TINY.fingerprint()
    counter = _CountingPretrain(monkeypatch, model)
    with pytest.warns(transfer.SourceCacheWarning, match="recipe changed"):
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
    old = time.time() - transfer.STALE_AFTER_S - 60
    os.utime(stale, (old, old))
    loads = []
    real_load = transfer.keras.saving.load_model
    monkeypatch.setattr(
        transfer.keras.saving,
        "load_model",
        lambda path, **kw: loads.append(str(path)) or real_load(path, **kw),
    )
    counter = _CountingPretrain(monkeypatch, model)
    transfer.source_model(TINY, directory=tmp_path, verbose=False)
    assert counter.calls == 1  # the temporary file did not count as a cache
    assert not any(str(stale) == p or str(fresh) == p for p in loads)
    assert not stale.exists() and fresh.exists()  # stale leftovers are cleaned, young ones left alone


def test_a_failed_write_never_replaces_the_cache(cache, monkeypatch):
    model, paths = cache
    before = paths.model.read_bytes(), paths.metadata.read_text()

    def half_write(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as fh:  # the process "dies" half way through the file
            fh.write(before[0][:200])

    _CountingPretrain(monkeypatch, model)
    monkeypatch.setattr(transfer.keras.Model, "save", half_write)
    with pytest.warns(transfer.SourceCacheWarning, match="Could not cache"):
        returned = transfer.source_model(TINY, directory=paths.model.parent, rebuild=True, verbose=False)
    assert _same_weights(model, returned)  # the freshly trained model is still usable
    assert (paths.model.read_bytes(), paths.metadata.read_text()) == before
    assert _no_temporaries(paths.model.parent)


def test_save_atomic_verifies_and_cleans_up(built, tmp_path, monkeypatch):
    model, _, _ = built
    target = tmp_path / "sub" / "m.keras"
    digest = transfer.save_atomic(model, target)
    assert digest == transfer._sha256(target) and _no_temporaries(target.parent)
    with pytest.raises(ValueError, match="must end in .keras"):
        transfer.save_atomic(model, tmp_path / "m.h5")
    monkeypatch.setattr(transfer.keras.saving, "load_model", lambda *a, **k: (_ for _ in ()).throw(OSError("boom")))
    with pytest.raises(OSError, match="boom"):
        transfer.save_atomic(model, tmp_path / "other.keras")
    assert not (tmp_path / "other.keras").exists() and _no_temporaries(tmp_path)


def test_profiles_cache_under_different_names():
    smoke, full = transfer.source_recipe("smoke"), transfer.source_recipe("full")
    assert transfer.cache_paths(smoke).model != transfer.cache_paths(full).model
    assert transfer.cache_paths(full).model.parent == transfer.config.PRETRAINED_DIR
    assert smoke.fingerprint() != full.fingerprint()
    assert transfer.source_recipe().name == "source_cnn_smoke"  # tests run in the smoke profile
    with pytest.raises(ValueError, match="profile must be one of"):
        transfer.source_recipe("fast")


def test_recipe_fingerprint_and_validation():
    assert TINY.fingerprint() == transfer.SourceRecipe(**TINY.to_dict()).fingerprint()
    for field, value in [
        ("epochs", 2),
        ("seed", 1),
        ("peak_lr", 1e-3),
        ("train_size", 200),
        ("bn_momentum", 0.8),
    ]:
        assert transfer.SourceRecipe(**{**TINY.to_dict(), field: value}).fingerprint() != TINY.fingerprint()
    with pytest.raises(ValueError, match="name must be a simple file name"):
        transfer.SourceRecipe(name="../escape")
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        transfer.SourceRecipe(epochs=0)
    with pytest.raises(ValueError, match="bn_momentum must be in"):
        transfer.SourceRecipe(bn_momentum=1.0)
    with pytest.raises(ValueError, match="peak_lr must be positive"):
        transfer.SourceRecipe(peak_lr=0)


def test_read_metadata_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="source_model"):
        transfer.read_metadata(TINY, tmp_path)
