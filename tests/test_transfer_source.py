"""helpers.transfer.source: pretraining the source model from its spec, and source_model's cache use."""

import json
import warnings

import numpy as np
import pytest

from helpers import _io, transfer
from helpers.transfer import source as source_module

TINY = transfer.SourceSpec(name="tiny_source", filters=(4, 8, 8), epochs=1, batch_size=32, train_size=100)


def _same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    return len(wa) == len(wb) and all(np.array_equal(x, y) for x, y in zip(wa, wb))


def _count_pretraining(monkeypatch) -> list:
    """Let source_model pretrain for real, recording each call in the returned list."""
    calls, real = [], source_module.pretrain
    monkeypatch.setattr(source_module, "pretrain", lambda spec, **kw: calls.append(spec) or real(spec, **kw))
    return calls


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One tiny source model, pretrained and cached once; tests copy its files into their own folder."""
    folder = tmp_path_factory.mktemp("pretrained")
    model = transfer.source_model(TINY, directory=folder, verbose=False)
    paths = transfer.cache_paths(TINY, folder)
    return model, paths.model.read_bytes(), paths.metadata.read_text()


@pytest.mark.slow
def test_first_use_builds_and_caches_with_metadata(tmp_path, monkeypatch):
    calls = _count_pretraining(monkeypatch)
    model = transfer.source_model(TINY, directory=tmp_path, verbose=False)
    assert calls == [TINY]
    paths = transfer.cache_paths(TINY, tmp_path)
    assert paths.model.name == "tiny_source.keras" and paths.metadata.name == "tiny_source.json"
    meta = json.loads(paths.metadata.read_text())
    assert meta["seed"] == TINY.seed and meta["recipe"] == TINY.to_dict()  # stored keys kept: old caches stay valid
    assert meta["recipe_hash"] == TINY.fingerprint() == transfer.read_metadata(TINY, tmp_path)["recipe_hash"]
    assert 0.0 <= meta["val_accuracy"] <= 1.0 and 0.0 <= meta["test_accuracy"] <= 1.0
    assert meta["file_sha256"] == _io.sha256sum(paths.model)
    assert meta["versions"]["keras"]
    assert not [p.name for p in tmp_path.iterdir() if ".tmp" in p.name]
    assert model.output_shape == (None, 10) and getattr(model, "optimizer", None) is None  # no optimizer state


@pytest.mark.slow
def test_valid_cache_is_loaded_without_training(built, tmp_path, monkeypatch, capsys):
    model, keras_bytes, meta_text = built
    paths = transfer.cache_paths(TINY, tmp_path)
    paths.model.write_bytes(keras_bytes)
    paths.metadata.write_text(meta_text)
    calls = _count_pretraining(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error", transfer.SourceCacheWarning)
        loaded = transfer.source_model(TINY, directory=tmp_path)
    assert calls == [] and _same_weights(model, loaded)
    assert "Loaded the cached source model" in capsys.readouterr().out


@pytest.mark.slow
def test_pretraining_is_reproducible(built, tmp_path):
    model, _, _ = built
    again = transfer.source_model(TINY, directory=tmp_path, verbose=False)
    assert _same_weights(model, again)
