"""``keras.applications`` models (MobileNetV2, ResNet50, EfficientNetB0) for the same transfer recipe:
the matching input size and ``preprocess_input``, and ImageNet weights that are downloaded only when
asked for and fail fast offline with a message that says what to do.
"""

from __future__ import annotations

import dataclasses
import socket
import urllib.error
from collections.abc import Callable

import keras
import numpy as np

from helpers import _internals, _validate
from helpers.data import resize_images, validate_images
from helpers.transfer.freezing import with_new_head

__all__ = [
    "APPLICATIONS",
    "ApplicationSpec",
    "WeightsUnavailableError",
    "application",
    "application_input_size",
    "preprocess_function",
    "to_application_input",
]


class WeightsUnavailableError(RuntimeError):
    """Pretrained ``keras.applications`` weights could not be downloaded (usually: no internet)."""


@dataclasses.dataclass(frozen=True)
class ApplicationSpec:
    """What a ``keras.applications`` family expects as input."""

    constructor: str
    module: str
    default_size: int
    imagenet_sizes: tuple[int, ...] | None  # None: any size >= min_size loads the same weights
    min_size: int
    input_contract: str


APPLICATIONS = {
    "MobileNetV2": ApplicationSpec(
        "MobileNetV2",
        "mobilenet_v2",
        96,
        (96, 128, 160, 192, 224),
        32,
        "RGB, pixels 0..255; preprocess_input scales them to [-1, 1] (x / 127.5 - 1).",
    ),
    "ResNet50": ApplicationSpec(
        "ResNet50",
        "resnet50",
        224,
        None,
        32,
        "RGB, pixels 0..255; preprocess_input converts to BGR and subtracts the ImageNet channel means "
        "(no scaling: values stay around -124..151).",
    ),
    "EfficientNetB0": ApplicationSpec(
        "EfficientNetB0",
        "efficientnet",
        224,
        None,
        32,
        "RGB, pixels 0..255; the model rescales inside, so preprocess_input is the identity.",
    ),
}


def _spec(name: str) -> ApplicationSpec:
    if name not in APPLICATIONS:
        raise ValueError(
            f"Unknown application {name!r}. Known: {', '.join(APPLICATIONS)} "
            "(any other keras.applications model works the same way by hand)."
        )
    return APPLICATIONS[name]


def preprocess_function(name: str = "MobileNetV2") -> Callable:
    """The ``preprocess_input`` that matches ``name``'s pretrained weights (expects pixels 0..255)."""
    spec = _spec(name)
    return getattr(keras.applications, spec.module).preprocess_input


def application_input_size(name: str = "MobileNetV2", input_size: int | None = None, *, weights=None) -> int:
    """The square input size to build ``name`` with (validated; ImageNet weights need listed sizes)."""
    spec = _spec(name)
    size = spec.default_size if input_size is None else input_size
    if not _validate.is_int(size) or size < spec.min_size:
        raise ValueError(
            f"input_size must be an integer >= {spec.min_size} for {name}. Received: input_size={input_size!r}"
        )
    if weights == "imagenet" and spec.imagenet_sizes and size not in spec.imagenet_sizes:
        raise ValueError(
            f"{name}'s ImageNet weights exist for input sizes {spec.imagenet_sizes}. "
            f"Received: input_size={size}. Pick one of them (the smallest is the cheapest)."
        )
    return int(size)


def application(
    name: str = "MobileNetV2",
    *,
    num_classes: int | None = None,
    input_size: int | None = None,
    weights: str | None = None,
    dropout: float = 0.2,
    download_timeout: float = 30.0,
    **kwargs,
) -> keras.Model:
    """A ``keras.applications`` base (``include_top=False``, global average pooling), and a new
    frozen-base classifier around it when ``num_classes`` is given.

    Args:
        weights: ``None`` (default: random initialization, works offline) or ``"imagenet"``
            (downloaded once into ``~/.keras/models``; attempted only when you ask for it).
        input_size: square input size (default: the spec's, 96 for MobileNetV2).
        download_timeout: seconds a stalled download may hang before it counts as offline.
        kwargs: passed to the constructor (e.g. ``alpha=0.35`` for a slimmer MobileNetV2).

    Raises:
        WeightsUnavailableError: ``weights="imagenet"`` could not be downloaded; the message says
            what to do.
    """
    spec = _spec(name)
    if weights not in (None, "imagenet"):
        raise ValueError(f"weights must be None or 'imagenet'. Received: weights={weights!r}")
    size = application_input_size(name, input_size, weights=weights)
    constructor = getattr(keras.applications, spec.constructor)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(download_timeout)
    try:
        base = constructor(include_top=False, weights=weights, input_shape=(size, size, 3), pooling="avg", **kwargs)
    except Exception as exc:
        if weights == "imagenet" and _is_download_error(exc):
            raise WeightsUnavailableError(_offline_message(name, exc)) from exc
        raise
    finally:
        socket.setdefaulttimeout(previous)
    if num_classes is None:
        return base
    return with_new_head(base, num_classes, dropout=dropout, name=f"{spec.module}_transfer")


def _is_download_error(exc: BaseException) -> bool:
    text = str(exc)
    network = (urllib.error.URLError, ConnectionError, TimeoutError, socket.gaierror, socket.timeout)
    return isinstance(exc, network) or "URL fetch failure" in text or "Incomplete or corrupted file" in text


def _offline_message(name: str, exc: BaseException) -> str:
    home = _internals.keras_download_dir()
    return (
        f"Could not download the ImageNet weights for {name} ({type(exc).__name__}: {str(exc)[:300]}). "
        "This machine looks offline. To use them: run this once on a machine with internet access "
        f"(Keras caches the file in {home} and then works offline), or copy the weights file into that "
        "folder. To continue offline now, build the same model with weights=None (random initialization): "
        "you can inspect and train it, but it has learned nothing yet."
    )


def to_application_input(x: np.ndarray, name: str = "MobileNetV2", *, input_size: int | None = None) -> np.ndarray:
    """Turn course images (grayscale or RGB, floats in [0, 1]) into what ``name`` expects.

    Steps: 1 channel -> 3 (repeat), resize to ``input_size`` (default: the spec's), scale to
    0..255, then the family's ``preprocess_input``.
    """
    x = validate_images(x)
    if float(np.max(x)) > 1.0 + 1e-6 or float(np.min(x)) < -1e-6:
        raise ValueError(
            f"x must hold pixels in [0, 1] (the course's scaling). Received range "
            f"[{float(np.min(x)):.3g}, {float(np.max(x)):.3g}]."
        )
    size = application_input_size(name, input_size)
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    x = resize_images(x, (size, size)) * 255.0
    return np.asarray(preprocess_function(name)(x.astype(np.float32)), dtype=np.float32)
