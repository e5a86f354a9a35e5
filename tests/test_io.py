"""helpers._io: atomic writes leave the old file or the new one, never a mix; sha256sum is hashlib's."""

import hashlib

import pytest

from helpers import _io


def test_sha256sum_matches_hashlib(tmp_path):
    path = tmp_path / "blob.bin"
    payload = bytes(range(256)) * 5000  # more than one read chunk
    path.write_bytes(payload)
    assert _io.sha256sum(path) == hashlib.sha256(payload).hexdigest()
    assert _io.sha256sum(str(path)) == _io.sha256sum(path)


def test_write_text_atomic_replaces_the_content(tmp_path):
    path = tmp_path / "meta.json"
    path.write_text("old")
    _io.write_text_atomic(path, "new ü")
    assert path.read_text(encoding="utf-8") == "new ü"
    assert [p.name for p in tmp_path.iterdir()] == ["meta.json"]  # no temporary file left


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("epoch\n0\n")
    with pytest.raises(RuntimeError, match="killed"):
        with _io.atomic_write(path, newline="") as fh:
            fh.write("epoch\n")
            raise RuntimeError("killed mid-write")
    assert path.read_text() == "epoch\n0\n"
    assert [p.name for p in tmp_path.iterdir()] == ["log.csv"]


def test_atomic_path_gives_writers_a_name_with_their_suffix(tmp_path):
    path = tmp_path / "model.keras"
    with _io.atomic_path(path, suffix=".tmp.keras") as tmp:
        assert tmp.parent == tmp_path and tmp.name.endswith(".tmp.keras") and tmp != path
        tmp.write_bytes(b"weights")
        assert not path.exists()  # nothing is published before the writer is done
    assert path.read_bytes() == b"weights" and not tmp.exists()


def test_atomic_write_binary_and_bad_mode(tmp_path):
    path = tmp_path / "data.bin"
    with _io.atomic_write(path, "wb") as fh:
        fh.write(b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    with pytest.raises(ValueError, match="mode must be 'w' or 'wb'"):
        with _io.atomic_write(path, "a"):
            pass
