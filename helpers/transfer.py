"""Transfer learning (``07_transfer_learning``): a cached source model, freezing, new heads, and
``keras.applications`` builders that behave well offline.

* :func:`source_model` pretrains the course's source CNN on ``mnist5k`` once (seeded through
  :mod:`helpers.config`) and caches it under ``data/pretrained/`` as ``.keras`` with a JSON
  metadata file beside it. The write is atomic (temp file in the same folder, verified by loading,
  then ``os.replace``); a corrupt or half-written file, or one built by a different recipe, is
  detected, reported with a :class:`SourceCacheWarning` and rebuilt.
* :func:`feature_extractor`, :func:`with_new_head`, :func:`freeze`, :func:`unfreeze_top` and
  :func:`trainable_counts` are the recipe: reuse the base, train a new head on it while it is frozen,
  then unfreeze the top blocks (BatchNormalization stays frozen) and recompile with a low rate.
* :func:`application` builds a ``keras.applications`` model (e.g. MobileNetV2) with the matching
  ``preprocess_input`` and input size; ``weights="imagenet"`` is attempted only when asked and fails
  fast offline with a message that says what to do.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import socket
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np
from keras import layers

from helpers import config, schedules

CACHE_FORMAT = 1  # bump when the way a source model is built or saved changes: old caches rebuild
_BLOCK = re.compile(r"^(block_?\d+)_")


class SourceCacheWarning(UserWarning):
    """A cached source model could not be used (corrupt, half-written, stale) or saved; it is rebuilt."""


class WeightsUnavailableError(RuntimeError):
    """Pretrained ``keras.applications`` weights could not be downloaded (usually: no internet)."""


# ----------------------------------------------------------------------------------------------
# The source model: recipe, cache, pretraining.


@dataclasses.dataclass(frozen=True)
class SourceRecipe:
    """How the course's source CNN is pretrained. Every field feeds the cache's recipe hash.

    The network is :func:`helpers.models.simple_cnn` with three one-conv blocks (32, 64, 128
    filters, BatchNorm, 2x2 pooling) and a global-average-pooling head: the 128 pooled features are
    what the target task reuses. BatchNorm uses ``bn_momentum=0.9`` (Keras's default 0.99 needs more
    steps than a few epochs on 3,500 images give for its moving statistics to settle).

    Args:
        name: file name stem in the cache folder; each profile has its own, so they never mix.
        dataset: the source dataset (default ``mnist5k``).
        train_size: keep only this many source training images (None: all 3,500).
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

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", self.name):
            raise ValueError(
                f"name must be a simple file name stem (letters, digits, _ . -). Received: name={self.name!r}"
            )
        for field in ("epochs", "batch_size", "convs_per_block"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{field} must be a positive integer. Received: {field}={value!r}")
        if not 0.0 < self.bn_momentum < 1.0:
            raise ValueError(f"bn_momentum must be in (0, 1). Received: bn_momentum={self.bn_momentum!r}")
        if self.peak_lr <= 0:
            raise ValueError(f"peak_lr must be positive. Received: peak_lr={self.peak_lr!r}")
        object.__setattr__(self, "filters", tuple(self.filters))

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["filters"] = list(self.filters)
        return out

    def fingerprint(self) -> str:
        """A hash of every field (and the cache format): a different recipe, a different hash."""
        payload = json.dumps({"cache_format": CACHE_FORMAT, **self.to_dict()}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def build(self, input_shape=(28, 28, 1), num_classes: int = 10) -> keras.Model:
        """The untrained source CNN (seeded by the caller)."""
        from helpers import models

        model = models.simple_cnn(
            input_shape,
            num_classes,
            filters=self.filters,
            convs_per_block=self.convs_per_block,
            head="gap",
            dense_units=0,
            dropout=self.dropout,
            name=self.name.replace(".", "_").replace("-", "_"),
        )
        for layer in model.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.momentum = self.bn_momentum
        return model


SOURCE_RECIPES = {
    "full": SourceRecipe(),
    "smoke": SourceRecipe(name="source_cnn_smoke", epochs=2, batch_size=32, train_size=1000),
}


def source_recipe(profile: str | None = None) -> SourceRecipe:
    """The recipe of the active profile (``smoke`` trains less and caches under its own name)."""
    name = profile or config.profile().name
    if name not in SOURCE_RECIPES:
        raise ValueError(f"profile must be one of {', '.join(SOURCE_RECIPES)}. Received: profile={name!r}")
    return SOURCE_RECIPES[name]


@dataclasses.dataclass(frozen=True)
class CachePaths:
    model: Path
    metadata: Path


def cache_paths(recipe: SourceRecipe | None = None, directory: Path | str | None = None) -> CachePaths:
    """Where ``recipe``'s model (``NAME.keras``) and metadata (``NAME.json``) are cached."""
    recipe = recipe or source_recipe()
    folder = Path(directory) if directory is not None else config.PRETRAINED_DIR
    return CachePaths(folder / f"{recipe.name}.keras", folder / f"{recipe.name}.json")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_metadata(recipe: SourceRecipe | None = None, directory: Path | str | None = None) -> dict:
    """The metadata stored beside a cached source model (seed, recipe, accuracy, hashes, versions)."""
    path = cache_paths(recipe, directory).metadata
    if not path.is_file():
        raise FileNotFoundError(f"No source model metadata at {path}. Call helpers.transfer.source_model() first.")
    return json.loads(path.read_text())


def _cache_problem(recipe: SourceRecipe, paths: CachePaths) -> tuple[keras.Model | None, str | None]:
    """Load the cached model if it is intact and was built by ``recipe``; else say why not."""
    if not paths.model.exists():
        return (
            None,
            None if not paths.metadata.exists() else "its metadata exists but the model file is missing.",
        )
    if not paths.metadata.is_file():
        return None, "it has no metadata file beside it (an interrupted or foreign write)."
    try:
        meta = json.loads(paths.metadata.read_text())
        cached_hash, file_hash = meta["recipe_hash"], meta["file_sha256"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"its metadata {paths.metadata.name} is unreadable ({type(exc).__name__}: {exc})."
    if cached_hash != recipe.fingerprint():
        return None, (f"the recipe changed (cached recipe hash {cached_hash}, current {recipe.fingerprint()}).")
    if _sha256(paths.model) != file_hash:
        return None, "the file is corrupt or half-written (its checksum does not match the metadata)."
    try:
        model = keras.saving.load_model(paths.model, compile=False)
    except Exception as exc:  # noqa: BLE001 - any failure to load means: do not use it
        return None, f"it cannot be loaded ({type(exc).__name__}: {str(exc)[:200]})."
    return model, None


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp.json")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_atomic(model: keras.Model, path: Path | str) -> str:
    """Save ``model`` to ``path`` so that ``path`` is never half-written; return the file's sha256.

    The model goes to a temporary file in the same folder, is loaded back and compared weight by
    weight, and only then moved into place with ``os.replace`` (atomic on one file system). If any
    step fails the temporary file is removed, ``path`` is left as it was, and the error propagates.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"path must end in .keras. Received: path={str(path)!r}")
    config.ensure_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp.keras")
    os.close(fd)
    try:
        model.save(tmp)
        loaded = keras.saving.load_model(tmp, compile=False)
        expected, got = model.get_weights(), loaded.get_weights()
        if len(expected) != len(got) or not all(np.array_equal(a, b) for a, b in zip(expected, got)):
            raise OSError(f"the model saved to {tmp} does not load back with the same weights.")
        digest = _sha256(Path(tmp))
        os.replace(tmp, path)
        return digest
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


STALE_AFTER_S = 600.0  # a temporary file this old belongs to a writer that died


def _remove_stale_temporaries(paths: CachePaths) -> None:
    """Delete temporary files left by interrupted writes (never read; younger ones may be in use)."""
    if not paths.model.parent.is_dir():
        return
    now = time.time()
    for pattern in (f".{paths.model.stem}.*.tmp.keras", f".{paths.metadata.stem}.*.tmp.json"):
        for tmp in paths.model.parent.glob(pattern):
            try:
                if now - tmp.stat().st_mtime > STALE_AFTER_S:
                    tmp.unlink()
            except OSError:
                pass


def pretrain(recipe: SourceRecipe, *, verbose=None) -> tuple[keras.Model, dict]:
    """Train ``recipe``'s source CNN from its seed; return the (uncompiled) model and its metrics."""
    from helpers import data, evaluation, training

    source = data.load(recipe.dataset, train_size=recipe.train_size, seed=recipe.seed)
    config.seed_everything(recipe.seed)
    model = recipe.build(source.input_shape, source.num_classes)
    steps = recipe.epochs * schedules.steps_per_epoch(len(source.x_train), recipe.batch_size)
    training.compile_classifier(model, learning_rate=schedules.warmup_cosine(recipe.peak_lr, steps))
    start = time.perf_counter()
    training.fit(model, source, epochs=recipe.epochs, batch_size=recipe.batch_size, seed=recipe.seed, verbose=verbose)
    seconds = time.perf_counter() - start
    clean = recipe.build(source.input_shape, source.num_classes)  # uncompiled: no optimizer state in the file
    clean.set_weights(model.get_weights())
    metrics = {
        "val_accuracy": evaluation.evaluate(clean, source, "val"),
        "test_accuracy": evaluation.evaluate(clean, source, "test"),
        "train_seconds": round(seconds, 1),
        "train_examples": len(source.x_train),
    }
    return clean, metrics


def source_model(
    recipe: SourceRecipe | None = None,
    *,
    directory: Path | str | None = None,
    rebuild: bool = False,
    verbose: bool = True,
) -> keras.Model:
    """The pretrained source CNN: loaded from the cache, or pretrained (and cached) on first use.

    Args:
        recipe: how to pretrain it (default: :func:`source_recipe` of the active profile).
        directory: the cache folder (default ``data/pretrained``, git-ignored).
        rebuild: pretrain again even if a valid cache exists.
        verbose: print one line saying whether it was loaded or built.

    A cache is used only if its metadata's recipe hash equals ``recipe.fingerprint()`` and its
    sha256 matches the file; anything else is reported with a :class:`SourceCacheWarning` and
    rebuilt. If the new model cannot be cached (read-only folder, full disk), a warning says so and
    the freshly trained model is returned anyway.
    """
    recipe = recipe or source_recipe()
    paths = cache_paths(recipe, directory)
    _remove_stale_temporaries(paths)
    if not rebuild:
        model, problem = _cache_problem(recipe, paths)
        if model is not None:
            if verbose:
                meta = json.loads(paths.metadata.read_text())
                print(
                    f"Loaded the cached source model {paths.model} "
                    f"(source val accuracy {meta.get('val_accuracy', float('nan')):.1%})."
                )
            return model
        if problem:
            warnings.warn(
                f"Not using the cached source model {paths.model}: {problem} Rebuilding it.",
                SourceCacheWarning,
                stacklevel=2,
            )
    if verbose:
        print(
            f"Pretraining the source model on {recipe.dataset} ({recipe.epochs} epochs, seed {recipe.seed}); "
            f"it is cached in {paths.model.parent} for next time."
        )
    model, metrics = pretrain(recipe)
    meta = {
        "cache_format": CACHE_FORMAT,
        "name": recipe.name,
        "seed": recipe.seed,
        "recipe": recipe.to_dict(),
        "recipe_hash": recipe.fingerprint(),
        **metrics,
        "profile": config.profile().name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "versions": config.package_versions(("tensorflow", "keras")),
    }
    try:
        meta["file_sha256"] = save_atomic(model, paths.model)
        _atomic_write_text(paths.metadata, json.dumps(meta, indent=2, sort_keys=True))
    except Exception as exc:  # noqa: BLE001 - a model we cannot cache is still a good model
        warnings.warn(
            f"Could not cache the source model in {paths.model.parent} ({type(exc).__name__}: {exc}). "
            "Using it from memory; it will be pretrained again next time.",
            SourceCacheWarning,
            stacklevel=2,
        )
        return model
    if verbose:
        print(
            f"Source model ready: val accuracy {metrics['val_accuracy']:.1%}, "
            f"pretrained in {metrics['train_seconds']:.0f} s."
        )
    return model


# ----------------------------------------------------------------------------------------------
# Freezing and new heads.


def _base_of(model: keras.Model) -> keras.Model:
    """The feature extractor inside ``model``: its one nested model, or ``model`` itself."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"Expected a keras.Model. Received: {type(model).__name__}")
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if len(nested) > 1:
        raise ValueError(
            f"{model.name!r} holds {len(nested)} nested models ({', '.join(m.name for m in nested)}); "
            "pass the base model itself."
        )
    return nested[0] if nested else model


def blocks(model: keras.Model) -> list[str]:
    """The base's block names in order (``block1``, ``block2``, ... or MobileNetV2's ``block_1``, ...)."""
    seen: list[str] = []
    for layer in _base_of(model).layers:
        match = _BLOCK.match(layer.name)
        if match and match.group(1) not in seen:
            seen.append(match.group(1))
    return seen


def _index_until(base: keras.Model, until: str) -> int:
    names = [layer.name for layer in base.layers]
    if until in names:
        return names.index(until)
    in_block = [i for i, n in enumerate(names) if n.startswith(until + "_")]
    if in_block:
        return in_block[-1]
    found = blocks(base)
    raise ValueError(
        f"until={until!r} is neither a layer nor a block of {base.name!r}. "
        f"Blocks: {', '.join(found) or 'none'}; layers: {', '.join(names[:6])}, ..."
    )


def freeze(model: keras.Model, until: str | None = None, *, train_batchnorm: bool = False) -> keras.Model:
    """Freeze the base of ``model`` up to and including ``until``; the base's later layers train.

    Args:
        model: a base model, or a model holding one nested base (the new head is never frozen).
        until: a block (``"block2"``) or a layer name; ``None`` freezes the whole base.
        train_batchnorm: let BatchNormalization layers after ``until`` train (default False: they
            stay frozen, which in Keras 3 also keeps them in inference mode, using the source's
            statistics; fine-tuning on a few hundred images would otherwise wreck them).

    Returns ``model``. Recompile it afterwards: ``trainable`` is read when the training step is built.
    """
    base = _base_of(model)
    if until is None:
        stop = len(base.layers) - 1
    elif isinstance(until, str):
        stop = _index_until(base, until)
    else:
        raise TypeError(f"until must be a block or layer name (str) or None. Received: until={until!r}")
    model.trainable = True
    base.trainable = True
    for i, layer in enumerate(base.layers):
        frozen = i <= stop or (isinstance(layer, layers.BatchNormalization) and not train_batchnorm)
        layer.trainable = not frozen
    return model


def unfreeze_top(model: keras.Model, n_blocks: int, *, train_batchnorm: bool = False) -> keras.Model:
    """Make the top ``n_blocks`` blocks of the base (and the layers after them) trainable.

    Lower blocks (and, unless ``train_batchnorm``, every BatchNormalization layer) stay frozen;
    ``n_blocks=0`` freezes the whole base. Layers before the first block (a stem) stay frozen.
    Recompile afterwards, with a learning rate about 10x lower than the head's.
    """
    names = blocks(model)
    if isinstance(n_blocks, bool) or not isinstance(n_blocks, int) or not 0 <= n_blocks <= len(names):
        raise ValueError(
            f"n_blocks must be an integer in [0, {len(names)}] (the base has blocks "
            f"{', '.join(names) or 'none'}). Received: n_blocks={n_blocks!r}"
        )
    base = _base_of(model)
    if n_blocks == 0:
        return freeze(model, None, train_batchnorm=train_batchnorm)
    if n_blocks == len(names):
        first = next(i for i, layer in enumerate(base.layers) if layer.name.startswith(names[0] + "_"))
        return freeze(model, base.layers[first - 1].name, train_batchnorm=train_batchnorm)
    return freeze(model, names[len(names) - n_blocks - 1], train_batchnorm=train_batchnorm)


def trainable_counts(model: keras.Model) -> dict[str, int]:
    """Numbers of trainable and non-trainable parameters (what ``summary()`` reports)."""

    def count(ws):
        return int(sum(int(np.prod(w.shape)) for w in ws))

    return {"trainable": count(model.trainable_weights), "non_trainable": count(model.non_trainable_weights)}


def trainable_layers(model: keras.Model) -> dict[str, bool]:
    """``{layer name: trains?}`` for every layer with weights, base first, then the head.

    A layer trains only if it and every model around it are ``trainable``.
    """
    base = _base_of(model)
    out = {}
    for layer in base.layers:
        if layer.weights:
            out[layer.name] = bool(layer.trainable and base.trainable and model.trainable)
    if base is not model:
        for layer in model.layers:
            if layer is not base and layer.weights:
                out[layer.name] = bool(layer.trainable and model.trainable)
    return out


def feature_extractor(source: keras.Model, *, output: str | None = None, name: str = "base") -> keras.Model:
    """A copy of ``source`` cut before its classifier head: images in, features out.

    Args:
        output: the last layer to keep (default: ``head_gap`` if present, else the last block layer).
        name: the new model's name.

    The copy owns its weights, so training it never changes ``source`` (each strategy you compare
    starts from the same pretrained weights).
    """
    if not isinstance(source, keras.Model):
        raise TypeError(f"source must be a keras.Model. Received: {type(source).__name__}")
    names = [layer.name for layer in source.layers]
    if output is None:
        if "head_gap" in names:
            output = "head_gap"
        else:
            in_blocks = [n for n in names if _BLOCK.match(n)]
            if not in_blocks:
                raise ValueError(f"{source.name!r} has no 'head_gap' or blockN_ layers; pass output=<layer name>.")
            output = in_blocks[-1]
    if output not in names:
        raise ValueError(f"output={output!r} is not a layer of {source.name!r}. Layers: {', '.join(names)}")
    copy = keras.models.clone_model(source)
    copy.set_weights(source.get_weights())
    return keras.Model(copy.inputs, copy.get_layer(output).output, name=name)


def with_new_head(
    base: keras.Model,
    num_classes: int,
    *,
    dropout: float = 0.0,
    freeze_base: bool = True,
    name: str = "transfer",
) -> keras.Model:
    """``base`` (frozen by default) followed by a new classifier: [GAP ->] [Dropout ->] Dense softmax.

    The new layers are named ``new_head_*`` and ``new_predictions``. Global average pooling is
    added only when the base outputs feature maps.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2. Received: num_classes={num_classes!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1). Received: dropout={dropout!r}")
    inputs = keras.Input(shape=base.input_shape[1:], name="image")
    x = base(inputs)
    if len(x.shape) == 4:
        x = layers.GlobalAveragePooling2D(name="new_head_gap")(x)
    elif len(x.shape) != 2:
        raise ValueError(f"The base must output features (N, D) or feature maps (N, H, W, C). Received {x.shape}")
    if dropout:
        x = layers.Dropout(dropout, name="new_head_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="new_predictions", dtype="float32")(x)
    model = keras.Model(inputs, outputs, name=name)
    if freeze_base:
        freeze(model)
    return model


def copy_model(model: keras.Model) -> keras.Model:
    """An independent copy of ``model`` (nested models too): same weights and ``trainable`` flags.

    Use it to branch an experiment, e.g. fine-tune a copy of the feature-extraction model and
    keep the original to compare with.
    """
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    for src, dst in zip(_walk(model), _walk(clone)):
        dst.trainable = src.trainable
    for src, dst in zip(_walk(model), _walk(clone)):  # parents first reset their children: set again
        if not isinstance(src, keras.Model):
            dst.trainable = src.trainable
    return clone


def _walk(model: keras.Model):
    yield model
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _walk(layer)
        else:
            yield layer


# ----------------------------------------------------------------------------------------------
# Target data and the three strategies.


def reframe(data, *, box: int = 20, canvas: int = 28):
    """Shrink images into a ``box`` x ``box`` square centred on a black ``canvas`` x ``canvas`` one.

    MNIST digits were size-normalized to 20x20 and centred in 28x28 (LeCun et al., 1998), while
    scikit-learn's 8x8 digits fill their frame. Giving the target the source's framing is the
    grayscale version of ``preprocess_input``: show a pretrained model inputs like the ones it
    learned from. Accepts a :class:`helpers.data.Dataset` (every split is reframed) or an image batch.
    """
    from helpers import data as data_mod

    for name, value in (("box", box), ("canvas", canvas)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer. Received: {name}={value!r}")
    if box > canvas:
        raise ValueError(f"box must fit in the canvas (box <= canvas). Received: box={box}, canvas={canvas}")
    if isinstance(data, data_mod.Dataset):
        return dataclasses.replace(
            data,
            x_train=reframe(data.x_train, box=box, canvas=canvas),
            x_val=reframe(data.x_val, box=box, canvas=canvas),
            x_test=reframe(data.x_test, box=box, canvas=canvas),
            description=f"{data.description}, reframed: {box}x{box} digit centred in {canvas}x{canvas}",
        )
    x = data_mod.resize_images(data_mod.validate_images(data), (int(box), int(box)), method="area")
    before = (canvas - box) // 2
    after = canvas - box - before
    return np.pad(x, ((0, 0), (before, after), (before, after), (0, 0))).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class TransferPlan:
    """Training budgets for the three strategies, in epochs of ``steps_per_epoch`` batches.

    Few-label training sets are smaller than a batch, so an epoch here is a fixed number of steps
    (the training set repeats): every strategy and every label count gets the same number of
    updates. Fine-tuning continues from the feature-extraction model, so from scratch gets
    ``head_epochs + fine_epochs`` epochs by default: the same budget.
    """

    steps_per_epoch: int = 10
    batch_size: int = 32
    head_epochs: int = 10
    head_lr: float = 1e-2
    fine_epochs: int = 15
    fine_lr: float = 1e-3
    fine_blocks: int = 2
    head_dropout: float = 0.2
    scratch_epochs: int | None = None
    scratch_lr: float = 3e-3

    def __post_init__(self) -> None:
        for field in ("steps_per_epoch", "batch_size", "head_epochs", "fine_epochs"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{field} must be a positive integer. Received: {field}={value!r}")
        if self.scratch_epochs is None:
            object.__setattr__(self, "scratch_epochs", self.head_epochs + self.fine_epochs)
        if self.fine_lr >= self.head_lr:
            raise ValueError(
                f"fine_lr must be lower than head_lr (fine-tuning takes small steps). "
                f"Received: fine_lr={self.fine_lr}, head_lr={self.head_lr}"
            )

    def schedule(self, peak_lr: float, epochs: int):
        """Warmup + cosine decay over ``epochs`` epochs of this plan."""

        return schedules.warmup_cosine(peak_lr, epochs * self.steps_per_epoch)


def fit_small(
    model: keras.Model,
    data,
    *,
    epochs: int,
    steps_per_epoch: int = 10,
    batch_size: int = 32,
    validate: bool = True,
    seed: int = config.DEFAULT_SEED,
    verbose=None,
):
    """Train a compiled ``model`` on a small training split for ``epochs`` x ``steps_per_epoch`` steps.

    The training set is shuffled and repeated, so 20 images train as long as 500 do; validation
    (if ``validate``) runs after every epoch. Returns the Keras ``History``.
    """
    import tensorflow as tf

    if getattr(model, "optimizer", None) is None:
        raise ValueError("Compile the model first, e.g. helpers.training.compile_classifier(model, learning_rate=...).")
    for name, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer. Received: {name}={value!r}")
    if tuple(model.input_shape[1:]) != data.input_shape:
        raise ValueError(
            f"The model expects inputs of shape {tuple(model.input_shape[1:])} but the "
            f"images have shape {data.input_shape}."
        )
    train = (
        tf.data.Dataset.from_tensor_slices((data.x_train.astype(np.float32), data.y_train))
        .cache()
        .shuffle(len(data.x_train), seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    return model.fit(
        train,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        shuffle=False,
        validation_data=(data.x_val, data.y_val) if validate else None,
        verbose=config.fit_verbose() if verbose is None else verbose,
    )


def train_from_scratch(
    recipe: SourceRecipe,
    target,
    plan: TransferPlan,
    *,
    seed: int = config.DEFAULT_SEED,
    validate: bool = True,
):
    """The source architecture, randomly initialized, trained on ``target`` alone: ``(model, history)``."""
    from helpers import training

    config.seed_everything(seed)
    model = recipe.build(target.input_shape, target.num_classes)
    training.compile_classifier(model, learning_rate=plan.schedule(plan.scratch_lr, plan.scratch_epochs))
    history = fit_small(
        model,
        target,
        epochs=plan.scratch_epochs,
        steps_per_epoch=plan.steps_per_epoch,
        batch_size=plan.batch_size,
        validate=validate,
        seed=seed,
    )
    return model, history


def train_feature_extraction(
    source: keras.Model, target, plan: TransferPlan, *, seed: int = config.DEFAULT_SEED, validate: bool = True
):
    """A new head on the frozen base of ``source``, trained on ``target``: ``(model, history)``."""
    from helpers import training

    config.seed_everything(seed)
    model = with_new_head(feature_extractor(source), target.num_classes, dropout=plan.head_dropout)
    training.compile_classifier(model, learning_rate=plan.schedule(plan.head_lr, plan.head_epochs))
    history = fit_small(
        model,
        target,
        epochs=plan.head_epochs,
        steps_per_epoch=plan.steps_per_epoch,
        batch_size=plan.batch_size,
        validate=validate,
        seed=seed,
    )
    return model, history


def train_fine_tuning(
    head_model: keras.Model,
    target,
    plan: TransferPlan,
    *,
    seed: int = config.DEFAULT_SEED,
    validate: bool = True,
):
    """Continue a copy of a trained feature-extraction model with the top ``plan.fine_blocks`` blocks
    unfrozen (BatchNorm stays frozen) at the low ``plan.fine_lr``: ``(model, history)``."""
    from helpers import training

    config.seed_everything(seed)
    model = unfreeze_top(copy_model(head_model), plan.fine_blocks)
    training.compile_classifier(model, learning_rate=plan.schedule(plan.fine_lr, plan.fine_epochs))  # recompile!
    history = fit_small(
        model,
        target,
        epochs=plan.fine_epochs,
        steps_per_epoch=plan.steps_per_epoch,
        batch_size=plan.batch_size,
        validate=validate,
        seed=seed,
    )
    return model, history


STRATEGIES = ("from scratch", "feature extraction", "fine-tuning")


def label_efficiency(
    source: keras.Model,
    load_target: Callable[[int], object],
    sizes: Sequence[int],
    plan: TransferPlan,
    *,
    recipe: SourceRecipe | None = None,
    split: str = "val",
    seed: int = config.DEFAULT_SEED,
    known: dict | None = None,
    verbose: bool = True,
) -> dict[str, dict[int, float]]:
    """Accuracy of the three strategies for each number of labelled target examples.

    Args:
        load_target: ``n -> Dataset`` with ``n`` training examples (same validation/test sets for all n).
        sizes: the numbers of labelled examples to try.
        split: where accuracy is measured (default ``"val"``: keep the test split for the end).
        known: results you already have, ``{n: {strategy: accuracy}}``; those sizes are not retrained.

    Returns ``{strategy: {n: accuracy}}`` with the strategies of :data:`STRATEGIES`.
    """
    from helpers import evaluation

    sizes = sorted({int(n) for n in sizes})
    if not sizes or sizes[0] < 1:
        raise ValueError(f"sizes must hold positive numbers of examples. Received: sizes={sizes!r}")
    recipe = recipe or source_recipe()
    known = known or {}
    results: dict[str, dict[int, float]] = {s: {} for s in STRATEGIES}
    for n in sizes:
        if n in known:
            for strategy in STRATEGIES:
                results[strategy][n] = float(known[n][strategy])
            continue
        target = load_target(n)
        scratch, _ = train_from_scratch(recipe, target, plan, seed=seed, validate=False)
        head, _ = train_feature_extraction(source, target, plan, seed=seed, validate=False)
        fine, _ = train_fine_tuning(head, target, plan, seed=seed, validate=False)
        for strategy, model in zip(STRATEGIES, (scratch, head, fine)):
            results[strategy][n] = evaluation.evaluate(model, target, split)
        if verbose:
            print(f"{n:>5} labelled: " + ", ".join(f"{s} {results[s][n]:.1%}" for s in STRATEGIES))
    return results


# ----------------------------------------------------------------------------------------------
# keras.applications: the same recipe with an ImageNet model.


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
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < spec.min_size:
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
    import urllib.error

    text = str(exc)
    network = (urllib.error.URLError, ConnectionError, TimeoutError, socket.gaierror, socket.timeout)
    return isinstance(exc, network) or "URL fetch failure" in text or "Incomplete or corrupted file" in text


def _offline_message(name: str, exc: BaseException) -> str:
    try:  # where keras.utils.get_file caches downloads (KERAS_HOME or ~/.keras)
        from keras.src.backend.config import keras_home

        home = Path(keras_home()) / "models"
    except Exception:  # noqa: BLE001 - a private accessor; fall back to the documented default
        home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"
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
    from helpers import data as data_mod

    x = data_mod.validate_images(x)
    if float(np.max(x)) > 1.0 + 1e-6 or float(np.min(x)) < -1e-6:
        raise ValueError(
            f"x must hold pixels in [0, 1] (the course's scaling). Received range "
            f"[{float(np.min(x)):.3g}, {float(np.max(x)):.3g}]."
        )
    size = application_input_size(name, input_size)
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    x = data_mod.resize_images(x, (size, size)) * 255.0
    return np.asarray(preprocess_function(name)(x.astype(np.float32)), dtype=np.float32)


def batchnorm_drift(model: keras.Model, x: np.ndarray) -> float:
    """How far one training-mode forward pass on ``x`` moves the BatchNorm moving statistics.

    Returns the largest absolute change of any moving mean or variance (0.0: every BatchNorm layer
    stayed in inference mode). The statistics are restored afterwards, so probing changes nothing.
    """
    bns = [layer for layer in _walk(model) if isinstance(layer, layers.BatchNormalization)]
    if not bns:
        raise ValueError(f"{model.name!r} has no BatchNormalization layers.")
    before = [(v, np.array(v.numpy())) for bn in bns for v in (bn.moving_mean, bn.moving_variance)]
    try:
        model(np.asarray(x, dtype=np.float32), training=True)
        return float(max(np.max(np.abs(v.numpy() - old)) for v, old in before))
    finally:
        for v, old in before:
            v.assign(old)
