"""How the course's source CNN is built and pretrained: :class:`SourceSpec`, one per profile.

A spec is the whole description of a source model: architecture, data, training budget and seed.
Its :meth:`SourceSpec.fingerprint` names the cache entry's content, so a cached model is reused
only by the spec that built it (see :mod:`helpers.transfer.cache`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re

import keras

from helpers import _validate, config, models

__all__ = ["CACHE_FORMAT", "SOURCE_SPECS", "SourceSpec", "source_spec"]

CACHE_FORMAT = 1  # bump when the way a source model is built or saved changes: old caches rebuild
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclasses.dataclass(frozen=True)
class SourceSpec:
    """How the course's source CNN is pretrained. Every field feeds :meth:`fingerprint`.

    The network is :func:`helpers.models.simple_cnn` with three one-conv blocks (32, 64, 128
    filters, BatchNorm, 2x2 pooling) and a global-average-pooling head: the 128 pooled features are
    what the target task reuses. BatchNorm uses ``bn_momentum=0.9`` (Keras's default 0.99 needs more
    steps than a few epochs on 3,500 images give for its moving statistics to settle).

    Args:
        name: file name stem in the cache folder; each profile has its own, so they never mix.
        dataset: the source dataset (default ``mnist5k``).
        train_size: keep only this many source training images (None: all 3,500).
        classes: pretrain on these classes of ``dataset`` only, relabelled 0, 1, ... in this order
            (None, the default: every class). 07 uses it to split a dataset's classes into a source
            and a target task (:func:`helpers.transfer.transfer_task`).
        data_signature: a signature of the images behind ``dataset`` (None for the built-in
            datasets): for a ``folder:`` dataset, changing its files changes the fingerprint, so a
            stale cached source is rebuilt.

    ``classes`` and ``data_signature`` enter :meth:`to_dict` (and so the fingerprint) only when set:
    the course's specs keep the fingerprints of their existing caches.
    """

    name: str = "source_cnn"
    dataset: str = "mnist5k"
    filters: tuple[int, ...] = (32, 64, 128)
    convs_per_block: int = 1
    dropout: float = 0.2
    bn_momentum: float = 0.9
    epochs: int = 6
    batch_size: int = 64
    peak_lr: float = 3e-3
    train_size: int | None = None
    seed: int = config.DEFAULT_SEED
    classes: tuple[int, ...] | None = None
    data_signature: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ValueError(
                f"name must be a simple file name stem (letters, digits, _ . -). Received: name={self.name!r}"
            )
        for field in ("epochs", "batch_size", "convs_per_block"):
            _validate.positive_int(getattr(self, field), field)
        _validate.positive_int(self.train_size, "train_size", allow_none=True)
        _validate.open_fraction(self.bn_momentum, "bn_momentum")
        _validate.positive_number(self.peak_lr, "peak_lr")
        _validate.seed(self.seed)
        object.__setattr__(self, "filters", tuple(self.filters))
        if self.classes is not None:
            classes = tuple(self.classes) if isinstance(self.classes, (list, tuple)) else ()
            if (
                len(classes) < 2
                or len(set(classes)) != len(classes)
                or not all(_validate.is_int(c) and c >= 0 for c in classes)
            ):
                raise ValueError(
                    "classes must be None or at least two different class ids (integers >= 0). "
                    f"Received: classes={self.classes!r}"
                )
            object.__setattr__(self, "classes", tuple(int(c) for c in classes))
        if self.data_signature is not None and (not isinstance(self.data_signature, str) or not self.data_signature):
            raise ValueError(f"data_signature must be None or a non-empty string. Received: {self.data_signature!r}")

    def to_dict(self) -> dict:
        """Every field, JSON-ready (``filters`` and ``classes`` as lists): what the cache's metadata records.

        ``classes`` and ``data_signature`` are left out while they are None (see the class docstring).
        """
        out = dataclasses.asdict(self)
        out["filters"] = list(self.filters)
        for field in ("classes", "data_signature"):
            if out[field] is None:
                del out[field]
        if "classes" in out:
            out["classes"] = list(out["classes"])
        return out

    def fingerprint(self) -> str:
        """A hash of every field and :data:`CACHE_FORMAT`: a different spec, a different hash.

        The hashed text holds the field values only (never the class name), so renaming the class
        keeps every existing cache valid.
        """
        payload = json.dumps({"cache_format": CACHE_FORMAT, **self.to_dict()}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def build(self, input_shape=(28, 28, 1), num_classes: int = 10) -> keras.Model:
        """The untrained source CNN (seeded by the caller)."""
        return models.simple_cnn(
            input_shape,
            num_classes,
            filters=self.filters,
            convs_per_block=self.convs_per_block,
            bn_momentum=self.bn_momentum,
            head="gap",
            dense_units=0,
            dropout=self.dropout,
            name=self.name.replace(".", "_").replace("-", "_"),
        )


SOURCE_SPECS = {
    "full": SourceSpec(),
    "smoke": SourceSpec(name="source_cnn_smoke", epochs=2, batch_size=32, train_size=1000),
}


def source_spec(profile: str | None = None) -> SourceSpec:
    """The spec of ``profile`` (default: the active one; ``smoke`` trains less and caches under its own name)."""
    name = profile or config.profile().name
    return SOURCE_SPECS[_validate.one_of(name, "profile", SOURCE_SPECS)]
