"""Test settings: the smoke profile and quiet training unless the caller chose otherwise.

Notebook kernels started by nbval inherit this environment, so they run in the smoke profile too.
"""

import os
import shutil
from pathlib import Path

os.environ.setdefault("COURSE_PROFILE", "smoke")
os.environ.setdefault("COURSE_VERBOSE", "0")

import matplotlib  # noqa: E402

import helpers.config  # noqa: E402,F401 - sets TensorFlow's C++ log level before any test imports TensorFlow

matplotlib.use("Agg")

import pytest  # noqa: E402


@pytest.fixture
def seeded():
    """Seed everything through the course's one seeding helper."""
    from helpers import config

    config.seed_everything(config.DEFAULT_SEED)
    return config.DEFAULT_SEED


def _tiny_dataset(n_train=60, n_val=30, n_test=30, name="tiny", seed=0):
    """Three classes of 8x8 images (a bright row band per class plus noise): learnable in a few steps."""
    import numpy as np

    from helpers.data import Dataset

    rng = np.random.default_rng(seed)

    def make(n):
        y = np.arange(n) % 3
        x = rng.uniform(0, 0.3, size=(n, 8, 8, 1)).astype(np.float32)
        for k in range(3):
            x[y == k, 2 * k + 1 : 2 * k + 3, :, 0] += 0.7
        return np.clip(x, 0, 1), y.astype(np.int32)

    x_tr, y_tr = make(n_train)
    x_va, y_va = make(n_val)
    x_te, y_te = make(n_test)
    return Dataset(
        name=name,
        x_train=x_tr,
        y_train=y_tr,
        x_val=x_va,
        y_val=y_va,
        x_test=x_te,
        y_test=y_te,
        class_names=("a", "b", "c"),
        description="tiny synthetic test data",
    )


@pytest.fixture(scope="session")
def make_tiny_dataset():
    """A factory of tiny synthetic :class:`helpers.data.Dataset` objects for fast training tests."""
    return _tiny_dataset


@pytest.fixture(scope="module")
def tiny():
    """The default tiny dataset: 60 training, 30 validation and 30 test images of 3 classes."""
    return _tiny_dataset()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


# Nothing may be written outside the repository's git-ignored folders (build/, data/cache, ...):
# a test run that leaves new untracked files behind fails.
def _untracked_files():
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=root, capture_output=True, text=True
    )
    if out.returncode != 0:
        return None
    return {line[3:] for line in out.stdout.splitlines() if line.startswith("??")}


def pytest_sessionstart(session):
    session.config.stash[_BEFORE] = _untracked_files()


def pytest_sessionfinish(session, exitstatus):
    before = session.config.stash.get(_BEFORE, None)
    after = _untracked_files()
    if before is None or after is None:
        return
    new = sorted(after - before)
    if new:
        print(f"\nThe tests wrote files outside the git-ignored folders: {', '.join(new[:10])}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_BEFORE = pytest.StashKey()


# Notebooks must not depend on each other's leftovers: each notebook's kernel gets its own empty build
# folder (COURSE_BUILD_DIR, read by helpers.config when the kernel imports it), so a checkpoint, log or
# tuner folder written by another notebook, or by an earlier run, is never there to be found.
NOTEBOOK_BUILD_ROOT = Path(__file__).resolve().parent.parent / "build" / "nbval"
_emptied: set = set()


def notebook_build_dir(path) -> Path:
    """The build folder the kernel of notebook ``path`` sees during the tests."""
    return NOTEBOOK_BUILD_ROOT / Path(path).stem


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item):
    if Path(str(item.path)).suffix != ".ipynb":
        return (yield)
    folder = notebook_build_dir(item.path)
    if folder not in _emptied:  # once per notebook per run, before its kernel starts
        shutil.rmtree(folder, ignore_errors=True)
        _emptied.add(folder)
    previous = os.environ.get("COURSE_BUILD_DIR")
    os.environ["COURSE_BUILD_DIR"] = str(folder)
    try:
        return (yield)
    finally:
        if previous is None:
            os.environ.pop("COURSE_BUILD_DIR", None)
        else:
            os.environ["COURSE_BUILD_DIR"] = previous
