"""Save and load trained models safely (introduced in 06_monitoring_evaluation).

A ``.keras`` file is a zip archive with the architecture (JSON), the weights and the compile
settings. Loading one runs no Python code from the file, as long as ``safe_mode`` stays on: a
``Lambda`` layer (a Python function stored as bytecode) is then refused instead of executed.
:func:`load_model` always loads in safe mode and turns Keras's low-level errors into messages
that say what to do.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import keras

from helpers import config

SUFFIX = ".keras"
MODELS_DIR = config.BUILD_DIR / "models"  # where the notebooks keep their models (ignored by git)


class UnsafeModelError(ValueError):
    """The file would run Python code when loaded (e.g. a ``Lambda`` layer); refused in safe mode."""


def _as_path(path) -> Path:
    if isinstance(path, bool) or not isinstance(path, (str, Path)) or not str(path):
        raise TypeError(f"path must be a file path (str or pathlib.Path). Received: {path!r}")
    return Path(path)


def default_path(name: str) -> Path:
    """``build/models/<name>.keras``: where the course keeps a model called ``name``."""
    if not isinstance(name, str) or not name or any(c in name for c in "/\\") or name in {".", ".."}:
        raise ValueError(f"name must be a plain file name without folders. Received: name={name!r}")
    return MODELS_DIR / f"{name}{SUFFIX}"


def save_model(model: keras.Model, path=None, *, overwrite: bool = True) -> Path:
    """Save ``model`` (architecture, weights, optimizer state) as one ``.keras`` file; return its path.

    Args:
        path: the file, ending in ``.keras`` (default ``build/models/<model.name>.keras``); its
            folder is created.
        overwrite: replace an existing file (default True); False raises ``FileExistsError``.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a Keras model. Received: {type(model).__name__}")
    path = default_path(model.name) if path is None else _as_path(path)
    if path.suffix != SUFFIX:
        hint = (
            " Weights alone go in model.save_weights('name.weights.h5'); a whole model is a .keras file."
            if path.name.endswith((".h5", ".hdf5"))
            else ""
        )
        raise ValueError(f"Save models with the {SUFFIX} extension (Keras 3's format). Received: {path.name!r}.{hint}")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it.")
    config.ensure_dir(path.parent)
    model.save(path, overwrite=True)
    return path


def register_course_objects() -> None:
    """Import every module that registers Keras objects (layers, losses, schedules, optimizers,
    callbacks), so that a model saved with any of them loads in a kernel that never imported it."""
    import helpers.augment  # noqa: F401
    import helpers.averaging  # noqa: F401
    import helpers.losses  # noqa: F401
    import helpers.schedules  # noqa: F401
    import helpers.transfer.finetuning  # noqa: F401


def load_model(path, *, compile: bool = True, custom_objects: dict | None = None) -> keras.Model:
    """Load a ``.keras`` model in safe mode (no code from the file runs), with clear errors.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a Keras 3 model (e.g. a weights file, a legacy ``.h5``, or
            anything else), or it does not match the layers this session knows.
        UnsafeModelError: the model contains a ``Lambda`` layer (Python bytecode), which safe mode
            refuses. Replace the lambda with a registered custom layer and save again.

    Args:
        compile: restore the optimizer, loss and metrics too (default True); False is enough for
            predicting.
        custom_objects: extra classes by name, for custom layers that are not registered with
            ``keras.saving.register_keras_serializable`` (the course's are registered).
    """
    path = _as_path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"No model file at {path}. Train and save it first, e.g. helpers.persistence.save_model(model, "
            f"{str(path)!r}), or check the folder (the course saves models under {MODELS_DIR})."
        )
    if path.is_dir():
        raise ValueError(
            f"{path} is a folder. A Keras 3 model is one .keras file; a SavedModel folder "
            "(model.export()) is for serving, not for load_model."
        )
    if path.name.endswith(".weights.h5"):
        raise ValueError(
            f"{path.name} holds weights only, not a model. Build the same architecture, then "
            "call model.load_weights(path); or save the whole model as .keras next time."
        )
    if path.suffix != SUFFIX or not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path} is not a Keras model file: expected a .keras archive (a zip written by model.save or "
            "helpers.persistence.save_model). Legacy .h5 models need keras.saving.load_model from an older "
            "Keras; re-save them as .keras."
        )
    with zipfile.ZipFile(path) as archive:
        if "config.json" not in archive.namelist():
            raise ValueError(f"{path} is a zip file but not a Keras model (it has no config.json).")
    register_course_objects()

    try:
        return keras.saving.load_model(path, custom_objects=custom_objects, compile=compile, safe_mode=True)
    except (ValueError, TypeError) as exc:
        text = str(exc)
        if "safe_mode" in text:
            raise UnsafeModelError(
                f"Refused to load {path.name}: it contains a Lambda layer, i.e. Python code that would run "
                "on load, and this loader keeps Keras's safe_mode on. Only a file you created yourself can "
                "be trusted; rebuild the model with a registered custom layer instead of the lambda and "
                "save it again."
            ) from exc
        unknown = re.search(r"Could not locate (?:class|function) '([^']+)'", text)
        if unknown:
            raise ValueError(
                f"Could not load {path.name}: it uses {unknown.group(1)!r}, which this session does not know. "
                "Import the module that defines it (registered with keras.saving.register_keras_serializable) "
                f"or pass custom_objects={{{unknown.group(1)!r}: TheClass}}."
            ) from exc
        raise ValueError(f"Could not load {path}: {text.splitlines()[0] if text else type(exc).__name__}") from exc
