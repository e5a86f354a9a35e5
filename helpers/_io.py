"""Files that are never half-written, and their checksums.

A training run can be killed at any moment (Ctrl-C, a closed laptop, an out-of-memory kill). Every
file the course writes for later (a download, a cached source model, a resume log, a backup's
commit record) is therefore written to a temporary file beside its destination, flushed to disk,
and only then moved over it with ``os.replace``, which is atomic on one file system: a reader sees
the old file or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

CHUNK = 1 << 20


def sha256sum(path: Path | str) -> str:
    """The SHA-256 of a file's bytes, as 64 hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: Path | str, *, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for a writer that wants a file name (``model.save``).

    On a normal exit the temporary file is flushed to disk and moved over ``path``; on an error it
    is deleted and ``path`` is left as it was. ``suffix`` keeps extensions that writers check
    (``.keras``, ``.weights.h5``).
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_write(path: Path | str, mode: str = "w", **open_kwargs) -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; on success it replaces ``path`` atomically.

    ``mode`` is ``"w"`` (text, UTF-8 unless ``encoding=`` says otherwise) or ``"wb"``.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb'. Received: mode={mode!r}")
    if mode == "w":
        open_kwargs.setdefault("encoding", "utf-8")
    with atomic_path(path) as tmp, open(tmp, mode, **open_kwargs) as fh:
        yield fh
        fh.flush()


def write_text_atomic(path: Path | str, text: str) -> None:
    """Replace ``path``'s content by ``text`` (UTF-8) atomically."""
    with atomic_write(path) as fh:
        fh.write(text)
