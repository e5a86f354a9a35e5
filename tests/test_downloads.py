import hashlib
import io
import time
import urllib.error

import pytest

from helpers import _io, downloads

PAYLOAD = b"course data " * 1000
REMOTE = downloads.RemoteFile("toy.bin", "https://example.org/toy.bin", hashlib.sha256(PAYLOAD).hexdigest())


def fake_opener(payload=PAYLOAD, calls=None):
    def opener(url, timeout):
        if calls is not None:
            calls.append(url)
        return io.BytesIO(payload)

    return opener


def test_downloads_once_then_uses_the_cache(tmp_path):
    calls = []
    path = downloads.fetch(REMOTE, tmp_path, opener=fake_opener(calls=calls))
    assert path.read_bytes() == PAYLOAD
    assert downloads.fetch(REMOTE, tmp_path, opener=fake_opener(calls=calls)) == path
    assert len(calls) == 1
    assert not list(tmp_path.glob("*.part")), "no temporary file may be left behind"


def test_a_fetched_file_has_the_registered_checksum_and_no_temporary_is_left(tmp_path):
    path = downloads.fetch(REMOTE, tmp_path, opener=fake_opener())
    assert _io.sha256sum(path) == REMOTE.sha256
    assert [p.name for p in tmp_path.iterdir()] == ["toy.bin"]


def test_corrupt_cache_is_detected_reported_and_refetched(tmp_path):
    (tmp_path / "toy.bin").write_bytes(PAYLOAD[:100])  # truncated
    calls = []
    with pytest.warns(UserWarning, match="corrupt or truncated"):
        path = downloads.fetch(REMOTE, tmp_path, opener=fake_opener(calls=calls))
    assert path.read_bytes() == PAYLOAD and len(calls) == 1


def test_checksum_mismatch_keeps_nothing(tmp_path):
    with pytest.raises(downloads.DownloadError, match="SHA-256 is .* expected"):
        downloads.fetch(REMOTE, tmp_path, opener=fake_opener(payload=b"tampered"))
    assert list(tmp_path.iterdir()) == []


def test_offline_error_is_fast_and_says_what_to_do(tmp_path):
    def offline(url, timeout):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    with pytest.raises(downloads.DownloadError, match=r"offline.*Use mnist5k"):
        downloads.fetch(REMOTE, tmp_path, opener=offline, offline_hint=" Use mnist5k.")
    assert list(tmp_path.iterdir()) == []


def test_unreachable_host_fails_within_seconds(tmp_path):
    """A real socket: `.invalid` never resolves (RFC 2606), with or without internet."""
    remote = downloads.RemoteFile("x.bin", "https://course-data.invalid/x.bin", "0" * 64)
    start = time.monotonic()
    with pytest.raises(downloads.DownloadError, match="Could not download"):
        downloads.fetch(remote, tmp_path, timeout=5)
    assert time.monotonic() - start < 30


def test_interrupted_download_leaves_no_file(tmp_path):
    class Broken(io.BytesIO):
        def read(self, n=-1):
            raise ConnectionResetError("connection reset by peer")

    with pytest.raises(downloads.DownloadError):
        downloads.fetch(REMOTE, tmp_path, opener=lambda url, timeout: Broken())
    assert list(tmp_path.iterdir()) == []


def test_registry_is_https_with_sha256():
    for remote in downloads.REGISTRY.values():
        assert remote.url.startswith("https://") and len(remote.sha256) == 64


@pytest.mark.parametrize(
    ("kwargs", "match"), [({"url": "http://example.org/x"}, "HTTPS"), ({"sha256": "abc"}, "64 hex")]
)
def test_remote_file_validation(kwargs, match):
    args = {"name": "x", "url": "https://example.org/x", "sha256": "0" * 64, **kwargs}
    with pytest.raises(ValueError, match=match):
        downloads.RemoteFile(**args)


def test_unknown_registry_name(tmp_path):
    with pytest.raises(ValueError, match="Unknown file 'nope'"):
        downloads.fetch("nope", tmp_path)
