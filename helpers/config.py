"""Course-wide settings: the active profile, seeding, quiet logging and the project's paths.

Every notebook and test starts with :func:`setup`, so one seed gives the same numbers on a CPU
everywhere. The profile switch (``COURSE_PROFILE=smoke|full``) is read here and nowhere else:

* ``full`` (default) is what a learner runs: real epochs on the whole embedded dataset.
* ``smoke`` is what CI runs: small subsets and 1-3 epochs, so all notebooks finish in minutes.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import platform
import random
import re
import sys
import warnings
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from helpers import _validate

PROFILES = ("smoke", "full")
DEFAULT_PROFILE = "full"
DEFAULT_SEED = 42
DEFAULT_DATASET = "mnist5k"

T = TypeVar("T")

# The datasets on which the notebooks' outcome thresholds (accuracies, gains) were measured. On any
# other dataset a notebook still runs every cell and asserts what holds for any data (it learns, it
# beats chance); the thresholds measured on these it prints as "not checked on <name>".
CALIBRATED_DATASETS = ("mnist5k",)

# TensorFlow reads this once, when it is first imported; notebooks import helpers.config first, so
# setting it here keeps TF's C++ log lines out of every notebook (a user's own value wins; set
# TF_CPP_MIN_LOG_LEVEL=0 to see them all). "3" hides C++ ERROR lines too, because TF 2.21 prints two
# false alarms at that level on every CPU machine: "failed call to cuInit" (no GPU) and, with op
# determinism on, "NodeDef mentions attribute use_unbounded_threadpool" for each tf.data map it
# rewrites. A real failure still raises a Python exception with its message.
# Processes the course starts (notebook kernels, tuner workers) inherit it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Lines that TensorFlow's C++ start-up writes to stderr before its log level applies (absl's notice
# that logging is not initialized yet, the CUDA probe on a machine without a GPU, the CPU-feature
# note). No setting silences them; in JupyterLab they print in red under a notebook's first import.
_STARTUP_NOISE = re.compile(
    r"absl::InitializeLog|cudart_stub|Could not find cuda drivers|Unable to register cu(?:DNN|FFT|BLAS)"
    r"|cpu_feature_guard|To enable the following instructions|oneDNN custom operations|TF_ENABLE_ONEDNN_OPTS"
)


def startup_noise_removed(text: str) -> str:
    """``text`` (stderr of a TensorFlow import) without the start-up lines above; other lines kept."""
    return "".join(line for line in text.splitlines(keepends=True) if not _STARTUP_NOISE.search(line))


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with its C++ start-up lines filtered out of stderr (any other line is passed on).

    Done in notebook kernels only (``ipykernel`` loaded), where ``helpers.config`` is imported by the
    parameters cell, before the first ``import keras``; elsewhere TensorFlow loads when first used.
    """
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = startup_noise_removed(captured.read().decode(errors="replace"))
            if kept:
                sys.stderr.write(kept)


if "ipykernel" in sys.modules and "tensorflow" not in sys.modules:
    _import_tensorflow_quietly()

# Paths. ROOT is the repository (the folder holding helpers/ and pyproject.toml) in a checkout
# (`make setup`, `pip install -e .`). Installed from the repository instead (Colab's install cell),
# helpers/ lives in site-packages, so the course keeps its data and outputs in ./cnn-course under the
# working folder. COURSE_DATA_DIR moves the data.
_PACKAGE_PARENT = Path(__file__).resolve().parent.parent
IN_CHECKOUT = (_PACKAGE_PARENT / "pyproject.toml").is_file()
ROOT = _PACKAGE_PARENT if IN_CHECKOUT else Path.cwd() / "cnn-course"
DATA_DIR = Path(os.environ.get("COURSE_DATA_DIR", ROOT / "data")).resolve()
CACHE_DIR = DATA_DIR / "cache"  # downloaded datasets (ignored by git)
PRETRAINED_DIR = DATA_DIR / "pretrained"  # source models the course trains itself (ignored)
# COURSE_BUILD_DIR moves the generated files; the tests give each notebook its own, empty one.
BUILD_DIR = Path(
    os.environ.get("COURSE_BUILD_DIR", ROOT / "build")
).resolve()  # executed notebooks, logs, tuners (ignored)
LOG_DIR = BUILD_DIR / "logs"  # TensorBoard and CSV logs


@dataclasses.dataclass(frozen=True)
class Profile:
    """The active run profile; ``pick`` chooses a per-profile value in one readable line."""

    name: str

    @property
    def is_smoke(self) -> bool:
        return self.name == "smoke"

    def pick(self, *, smoke: T, full: T) -> T:
        """Return ``smoke`` or ``full`` for the active profile, e.g. ``P.pick(smoke=1, full=12)``."""
        return smoke if self.is_smoke else full


def profile() -> Profile:
    """Read ``COURSE_PROFILE`` (default ``full``); anything else is a clear error."""
    raw = os.environ.get("COURSE_PROFILE", "").strip().lower() or DEFAULT_PROFILE
    if raw not in PROFILES:
        raise ValueError(
            f"COURSE_PROFILE must be one of {', '.join(PROFILES)}. "
            f"Received: COURSE_PROFILE={os.environ.get('COURSE_PROFILE')!r}. "
            "Unset it for the full course, or set COURSE_PROFILE=smoke for a quick run."
        )
    return Profile(raw)


def fit_verbose() -> int | str:
    """The ``verbose`` for ``model.fit``: a quiet display in CI, Keras's progress bar for learners.

    ``COURSE_VERBOSE`` (0, 1, 2 or auto) wins; otherwise ``CI=true`` gives 0 and a learner gets
    ``"auto"``.
    """
    raw = os.environ.get("COURSE_VERBOSE", "").strip().lower()
    if raw:
        if raw == "auto":
            return "auto"
        if raw in {"0", "1", "2"}:
            return int(raw)
        raise ValueError(f"COURSE_VERBOSE must be 0, 1, 2 or auto. Received: COURSE_VERBOSE={raw!r}")
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        return 0
    return "auto"


def seed_everything(seed: int = DEFAULT_SEED) -> None:
    """Seed Python, NumPy and Keras/TensorFlow, and make TF ops deterministic on the CPU."""
    seed = _validate.seed(seed)
    import keras
    import tensorflow as tf

    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    try:
        tf.config.experimental.enable_op_determinism()
    except Exception:  # noqa: BLE001 - an older TF without it is still usable, just less exact
        warnings.warn("TensorFlow op determinism is unavailable; results may vary slightly.", stacklevel=2)


def quiet_logging() -> None:
    """Silence TensorFlow's Python chatter and absl warnings that hide the lesson (its C++ log level
    is set when this module is imported, before TensorFlow loads).

    Keras's own warnings stay visible: they tell a learner something about their code (a layer given
    an ``input_shape``, a model saved before it was built), so the course fixes their causes instead.
    """
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)


@dataclasses.dataclass(frozen=True)
class SetupInfo:
    """What :func:`setup` configured, printed at the top of every notebook."""

    profile: Profile
    seed: int
    dataset: str
    versions: dict[str, str]

    def __str__(self) -> str:
        vers = ", ".join(f"{k} {v}" for k, v in self.versions.items())
        return f"profile={self.profile.name} seed={self.seed} dataset={self.dataset}\nversions: {vers}"


def package_versions(names: tuple[str, ...] = ("tensorflow", "keras", "numpy")) -> dict[str, str]:
    """Installed versions of ``names`` (``"missing"`` for what is not installed), plus Python."""
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = importlib.import_module(name).__version__
        except ImportError:
            out[name] = "missing"
    return out


def setup(seed: int = DEFAULT_SEED, dataset: str = DEFAULT_DATASET, *, show: bool = True) -> SetupInfo:
    """Prepare a notebook or test: quiet logs, seeds everything, and reports profile and versions.

    Call it once at the top (and again with the same seed to restart from identical weights).
    """
    prof = profile()
    quiet_logging()
    seed_everything(seed)
    info = SetupInfo(profile=prof, seed=int(seed), dataset=dataset, versions=package_versions())
    if show:
        print(info)
    return info


def solutions_build() -> bool:
    """Whether this is the solutions build (``COURSE_SOLUTIONS=1``, set by the tests and ``make course``).

    There every exercise's solution cell runs, so the notebooks reach their outcome asserts on the
    course's answers. Everywhere else a solution runs only when the learner asks for it
    (``checks.use_solution``), so running a whole notebook never replaces the learner's work.
    """
    raw = os.environ.get("COURSE_SOLUTIONS", "").strip().lower()
    if raw not in {"", "0", "1", "false", "true", "no", "yes"}:
        raise ValueError(f"COURSE_SOLUTIONS must be 1 or 0. Received: COURSE_SOLUTIONS={raw!r}")
    return raw in {"1", "true", "yes"}


def calibrated(dataset: str) -> bool:
    """Whether the notebooks' measured outcome thresholds apply to ``dataset`` (see CALIBRATED_DATASETS)."""
    return dataset in CALIBRATED_DATASETS


def ensure_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if missing and return it."""
    path.mkdir(parents=True, exist_ok=True)
    return path


def display_path(path) -> str:
    """``path`` as a reader should see it: relative to the repository root when it lies inside it.

    Files the course writes usually live under ``build/`` in the repository, but
    ``COURSE_BUILD_DIR``/``COURSE_DATA_DIR`` may move them anywhere; those keep their absolute path.
    """
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(ROOT).as_posix()
    except ValueError:
        return resolved.as_posix()


def describe() -> dict[str, Any]:
    """A dict of the settings, for logs and benchmark results."""
    return {"profile": profile().name, "data_dir": str(DATA_DIR), "build_dir": str(BUILD_DIR), **package_versions()}
