"""Cached, checksummed downloads (like d2l's ``DATA_HUB``): name -> (HTTPS url, SHA-256).

Files land in ``data/cache``. A cached file is used only if its SHA-256 matches the recorded one; a
truncated or corrupted file is reported and fetched again. Downloads stream into a temporary file
in the same folder and are renamed into place only after the checksum matched, so an interrupted
download never leaves a half-written file that looks valid. Offline, the error comes within seconds
and names the datasets that work without internet.
"""

from __future__ import annotations

import dataclasses
import hashlib
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from helpers import _io, config

DEFAULT_TIMEOUT_S = 15.0


class DownloadError(RuntimeError):
    """A download failed: no network, a server error, or a checksum that does not match."""


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """One downloadable file with the SHA-256 it must have."""

    name: str
    url: str
    sha256: str

    def __post_init__(self) -> None:
        if not self.url.startswith("https://"):
            raise ValueError(f"Downloads must use HTTPS. Received: url={self.url!r}")
        if len(self.sha256) != 64:
            raise ValueError(f"sha256 must be 64 hex characters. Received: sha256={self.sha256!r}")


_KERAS = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
# Checksums: mnist.npz from keras.datasets.mnist; Fashion-MNIST and CIFAR-10 from TensorFlow
# Datasets' url_checksums records (same files, same sizes).
REGISTRY: dict[str, RemoteFile] = {
    f.name: f
    for f in (
        RemoteFile(
            "mnist.npz", _KERAS + "mnist.npz", "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
        ),
        RemoteFile(
            "fashion-train-images-idx3-ubyte.gz",
            _KERAS + "train-images-idx3-ubyte.gz",
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        ),
        RemoteFile(
            "fashion-train-labels-idx1-ubyte.gz",
            _KERAS + "train-labels-idx1-ubyte.gz",
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        ),
        RemoteFile(
            "fashion-t10k-images-idx3-ubyte.gz",
            _KERAS + "t10k-images-idx3-ubyte.gz",
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        ),
        RemoteFile(
            "fashion-t10k-labels-idx1-ubyte.gz",
            _KERAS + "t10k-labels-idx1-ubyte.gz",
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        ),
        RemoteFile(
            "cifar-10-binary.tar.gz",
            "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
            "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
        ),
    )
}

Opener = Callable[..., BinaryIO]


def fetch(
    remote: RemoteFile | str,
    cache_dir: Path | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    opener: Opener | None = None,
    offline_hint: str = "",
) -> Path:
    """Return the path of a verified local copy of ``remote``, downloading it if needed.

    Args:
        remote: a :class:`RemoteFile` or the name of one in :data:`REGISTRY`.
        cache_dir: where files are kept. Defaults to ``data/cache``.
        timeout: seconds to wait for the server before giving up (default 15).
        opener: the function that opens the URL (default ``urllib.request.urlopen``).
        offline_hint: appended to the offline error, e.g. which datasets work offline.
    """
    if isinstance(remote, str):
        if remote not in REGISTRY:
            raise ValueError(f"Unknown file {remote!r}. Known files: {', '.join(sorted(REGISTRY))}")
        remote = REGISTRY[remote]
    cache_dir = config.ensure_dir(Path(cache_dir) if cache_dir else config.CACHE_DIR)
    path = cache_dir / remote.name
    if path.exists():
        actual = _io.sha256sum(path)
        if actual == remote.sha256:
            return path
        warnings.warn(
            f"Cached file {path} is corrupt or truncated (SHA-256 {actual[:12]}... != expected "
            f"{remote.sha256[:12]}...); fetching it again.",
            stacklevel=2,
        )
        path.unlink()
    _download(remote, path, timeout=timeout, opener=opener or urllib.request.urlopen, offline_hint=offline_hint)
    return path


def _download(remote: RemoteFile, path: Path, *, timeout: float, opener: Opener, offline_hint: str) -> None:
    """Stream ``remote`` into a temp file beside ``path``, hashing as it goes; only a file whose SHA-256
    matches is moved into place (:func:`helpers._io.atomic_path`), anything else is deleted."""
    digest = hashlib.sha256()
    with _io.atomic_path(path, suffix=".part") as tmp:
        with open(tmp, "wb") as out:
            try:
                with opener(remote.url, timeout=timeout) as response:
                    for block in iter(lambda: response.read(_io.CHUNK), b""):
                        digest.update(block)
                        out.write(block)
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                raise DownloadError(
                    f"Could not download {remote.url} ({exc}). You seem to be offline or the server "
                    f"is unreachable. Connect to the internet and try again, or copy the file to "
                    f"{path} by hand (SHA-256 {remote.sha256}).{offline_hint}"
                ) from exc
        if digest.hexdigest() != remote.sha256:
            raise DownloadError(
                f"Downloaded {remote.url} but its SHA-256 is {digest.hexdigest()}, expected "
                f"{remote.sha256}. The download was incomplete or the file changed upstream; "
                "nothing was kept. Try again later."
            )
