"""07's transfer task on any dataset: which images the source CNN is pretrained on, and which target
it is adapted to (:func:`transfer_task`).

* ``mnist5k`` (the default): the source is pretrained on MNIST's digits 0-4 and adapted to the
  *other* digits, 5-9, of another collection: scikit-learn's ``digits`` (other writers, scanned at
  8x8), resized to 28x28 and reframed like MNIST (:func:`helpers.transfer.reframe`). New classes and
  a new domain: the source's head names none of the target's classes, and its features were learnt
  on other images. ``same_classes=True`` keeps all ten digits on both sides (the domain changes, the
  classes do not), where the source model can classify the target as it is.
* Any other dataset (``digits``, ``cifar10``, your own ``folder:PATH``, ...) has no second
  collection of the same classes here, so its classes are split in two (:func:`split_classes`):
  the source is pretrained on the first half of them (rounded up) and the target is the *other*
  classes, with few labels. That is the transfer you meet with your own images: plenty of labelled
  examples of some categories, a handful of the new ones. The source's features carry over; its head
  cannot, since it names other classes. Source and target never share an image or a class.

A source pretrained on a ``folder:`` dataset is cached in ``build/pretrained/`` (git-ignored: it is
yours, not the course's), and its spec carries a signature of the folder's files
(:func:`folder_signature`): add, remove or edit an image and the source is pretrained again.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np

from helpers import _validate, config, data
from helpers.data import Dataset
from helpers.transfer.spec import SourceSpec, source_spec

__all__ = [
    "COLLECTION_PAIRS",
    "MIN_CLASSES",
    "TransferTask",
    "folder_signature",
    "select_classes",
    "split_classes",
    "transfer_task",
]

COLLECTION_PAIRS = {"mnist5k": "digits"}
"""Source datasets with a second collection of the same classes, the target 07 adapts them to."""
MIN_CLASSES = 4
"""A dataset split by class needs two classes for the source task and two for the target task."""


def select_classes(dataset: Dataset, classes: Sequence[int]) -> Dataset:
    """``dataset`` with only the images of ``classes`` in every split, relabelled 0, 1, ... in that order.

    Args:
        dataset: a dataset from :func:`helpers.data.load`.
        classes: at least two different class ids of ``dataset``.
    """
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be a helpers.data.Dataset (from data.load). Received: {type(dataset).__name__}")
    classes = tuple(classes) if isinstance(classes, (list, tuple, range)) else ()
    valid = all(_validate.is_int(c) and 0 <= c < dataset.num_classes for c in classes)
    if len(classes) < 2 or len(set(classes)) != len(classes) or not valid:
        raise ValueError(
            f"classes must be at least two different class ids from 0 to {dataset.num_classes - 1}. "
            f"Received: classes={classes!r}"
        )
    relabel = np.full(dataset.num_classes, -1, dtype=np.int32)
    relabel[list(classes)] = np.arange(len(classes))
    parts = {}
    for split, (x, y) in dataset.splits().items():
        keep = relabel[y] >= 0
        parts[f"x_{split}"], parts[f"y_{split}"] = x[keep], relabel[y[keep]]
    names = tuple(dataset.class_names[c] for c in classes)
    return dataclasses.replace(
        dataset, **parts, class_names=names, description=f"{dataset.description}; classes {', '.join(names)} only"
    )


def split_classes(num_classes: int, n_source: int | None = None) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``(source classes, target classes)``: the first ``n_source`` class ids and the rest.

    Args:
        num_classes: the dataset's number of classes (at least :data:`MIN_CLASSES`).
        n_source: how many go to the source (default: half, rounded up: pretraining gains from variety).
    """
    num_classes = _validate.positive_int(num_classes, "num_classes")
    if num_classes < MIN_CLASSES:
        raise ValueError(
            f"Splitting classes into a source and a target task needs at least {MIN_CLASSES} classes (two for "
            f"each). Received: num_classes={num_classes}"
        )
    n_source = math.ceil(num_classes / 2) if n_source is None else _validate.positive_int(n_source, "n_source")
    if not 2 <= n_source <= num_classes - 2:
        raise ValueError(
            f"n_source must leave at least two classes on each side: from 2 to {num_classes - 2}. "
            f"Received: n_source={n_source}"
        )
    return tuple(range(n_source)), tuple(range(n_source, num_classes))


def folder_signature(path: str | Path) -> str:
    """A short hash of a folder's image files (relative path, size and modification time of each).

    Cheap (no image is read) and enough to notice an added, removed, renamed or edited image.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise ValueError(f"{path} is not a folder. Pass the folder of a folder:PATH dataset.")
    digest = hashlib.sha256()
    files = sorted(f for f in root.rglob("*") if f.is_file() and f.suffix.lower() in data.IMAGE_EXTENSIONS)
    for f in files:
        stat = f.stat()
        digest.update(f"{f.relative_to(root).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class TransferTask:
    """One transfer experiment of 07: the source's spec and the target it is adapted to.

    Build it with :func:`transfer_task`. ``target_classes`` is None when the target has the source's
    classes; otherwise it lists the classes the target keeps (the source's are ``spec.classes``).
    ``collection`` names the other collection the target's images come from (:data:`COLLECTION_PAIRS`),
    None when they come from ``dataset`` itself. ``directory`` is the source's cache folder (None: the
    course's ``data/pretrained``).
    """

    dataset: str
    spec: SourceSpec
    class_names: tuple[str, ...]
    target_classes: tuple[int, ...] | None = None
    directory: Path | None = None
    collection: str | None = None

    @property
    def same_classes(self) -> bool:
        """Whether the source's head names the target's classes (then it can classify the target as it is)."""
        return self.target_classes is None

    @property
    def target_dataset(self) -> str:
        """The dataset the target images come from."""
        return self.collection or self.dataset

    @property
    def source_names(self) -> tuple[str, ...]:
        """The names of the classes the source is pretrained on."""
        return self.class_names if self.spec.classes is None else tuple(self.class_names[c] for c in self.spec.classes)

    @property
    def target_names(self) -> tuple[str, ...]:
        """The names of the target's classes."""
        return self.class_names if self.same_classes else tuple(self.class_names[c] for c in self.target_classes)

    def source_model(self, *, rebuild: bool = False, verbose: bool = True) -> keras.Model:
        """The pretrained source CNN (:func:`helpers.transfer.source_model` with this task's spec and cache)."""
        from helpers.transfer.source import source_model

        return source_model(self.spec, directory=self.directory, rebuild=rebuild, verbose=verbose)

    def read_metadata(self) -> dict:
        """The metadata of the cached source (:func:`helpers.transfer.read_metadata`)."""
        from helpers.transfer.cache import read_metadata

        return read_metadata(self.spec, self.directory)

    def prepare(self, target: Dataset) -> Dataset:
        """Make target images look like the source's: MNIST's framing for the digits; others stay as they are."""
        if self.collection is None:
            return target
        from helpers.transfer.strategies import reframe

        return reframe(target)

    def load_target(
        self, train_size: int | None = None, *, prepared: bool = True, seed: int = config.DEFAULT_SEED
    ) -> Dataset:
        """The target with ``train_size`` labelled training images (stratified; None: all of them).

        Validation and test sets stay whole, whatever ``train_size`` and ``seed``. ``seed`` draws which
        training images are labelled (07 repeats its label-efficiency curve over several draws).
        ``prepared=False`` gives the images before :meth:`prepare`.
        """
        if self.same_classes:
            target = data.load(self.target_dataset, image_size=(28, 28))
        else:
            whole = data.load(self.collection, image_size=(28, 28)) if self.collection else _whole(self.dataset)
            target = select_classes(whole, self.target_classes)
        if train_size is not None:
            x, y = data.subsample(target.x_train, target.y_train, train_size, seed=_validate.seed(seed))
            target = dataclasses.replace(target, x_train=x, y_train=y)
        return self.prepare(target) if prepared else target

    def __str__(self) -> str:
        if self.same_classes:
            return (
                f"source: {self.spec.dataset}, all {len(self.class_names)} classes; target: {self.target_dataset}, "
                f"the same classes from another collection"
            )
        if self.collection:
            return (
                f"source: {self.dataset}, classes {', '.join(self.source_names)}; target: {self.collection}, "
                f"the other classes ({', '.join(self.target_names)}) from another collection"
            )
        return (
            f"source: {self.dataset}, {len(self.source_names)} of its {len(self.class_names)} classes "
            f"({', '.join(self.source_names)}); target: the other {len(self.target_names)} "
            f"({', '.join(self.target_names)})"
        )


def _whole(dataset: str) -> Dataset:
    """``data.load(dataset)``, kept for the next call: 07 asks for its target at several label counts.

    A ``folder:`` dataset is loaded again when its files changed (:func:`folder_signature`).
    """
    signature = folder_signature(dataset[len("folder:") :]) if dataset.startswith("folder:") else None
    return _load_whole(dataset, signature)


@functools.lru_cache(maxsize=1)
def _load_whole(dataset: str, signature: str | None) -> Dataset:
    return data.load(dataset)


def _slug(dataset: str) -> str:
    """A file-name-safe tag for ``dataset``: its name, or ``folder_<hash of the path>``."""
    if dataset.startswith("folder:"):
        resolved = str(Path(dataset[len("folder:") :]).expanduser().resolve())
        return "folder_" + hashlib.sha256(resolved.encode()).hexdigest()[:10]
    return "".join(c if c.isalnum() or c in "_.-" else "_" for c in dataset)


def transfer_task(
    dataset: str = config.DEFAULT_DATASET,
    *,
    profile: str | None = None,
    n_source: int | None = None,
    same_classes: bool = False,
):
    """07's transfer task for ``dataset`` (see the module docstring for the kinds).

    Args:
        dataset: a name for :func:`helpers.data.load`; ``mnist5k`` keeps the course's pairing with
            scikit-learn's digits, any other dataset is split by class.
        profile: whose source budget to use (default: the active profile; see :func:`source_spec`).
        n_source: how many classes the source gets (default: half, rounded up).
        same_classes: ``mnist5k`` only: all ten digits on both sides instead of new classes.
    """
    if not isinstance(dataset, str) or not dataset:
        raise ValueError(f"dataset must be a dataset name for helpers.data.load. Received: {dataset!r}")
    base = source_spec(profile)
    paired = dataset in COLLECTION_PAIRS and base.dataset == dataset
    if same_classes:
        if not paired:
            raise ValueError(
                f"same_classes=True needs a second collection of the same classes, which only "
                f"{', '.join(COLLECTION_PAIRS)} has here; {dataset} is split by class instead."
            )
        if n_source is not None:
            raise ValueError("With same_classes=True the source has every class: n_source does not apply.")
        return TransferTask(dataset, base, data.DIGIT_NAMES, collection=COLLECTION_PAIRS[dataset])
    if paired:
        source_classes, target_classes = split_classes(len(data.DIGIT_NAMES), n_source)
        spec = dataclasses.replace(
            base, name=f"{base.name}_{source_classes[0]}to{source_classes[-1]}", classes=source_classes
        )
        return TransferTask(dataset, spec, data.DIGIT_NAMES, target_classes, collection=COLLECTION_PAIRS[dataset])
    names = _whole(dataset).class_names
    if len(names) < MIN_CLASSES:
        raise ValueError(
            f"07 adapts a source pretrained on some classes of {dataset} to its other classes, which needs at "
            f"least {MIN_CLASSES} classes; {dataset} has {len(names)}. Add classes, or run 07 on mnist5k."
        )
    source_classes, target_classes = split_classes(len(names), n_source)
    folder = dataset.startswith("folder:")
    spec = dataclasses.replace(
        base,
        name=f"{base.name}_{_slug(dataset)}",
        dataset=dataset,
        classes=source_classes,
        data_signature=folder_signature(dataset[len("folder:") :]) if folder else None,
    )
    directory = config.BUILD_DIR / "pretrained" if folder else None
    return TransferTask(dataset, spec, tuple(names), target_classes, directory)
