"""Test settings: the smoke profile, quiet training and the solutions build unless the caller chose otherwise.

Notebook kernels started by nbval inherit this environment, so they run in the smoke profile, with
every solution cell running (``COURSE_SOLUTIONS=1``): the notebooks must reach their outcome asserts on
the course's answers. A learner's kernel has no such variable, and its solutions run only on request;
``test_notebooks_colour.py`` runs the student release, where no solution exists at all.
"""

import os
import shutil
from pathlib import Path

os.environ.setdefault("COURSE_PROFILE", "smoke")
os.environ.setdefault("COURSE_VERBOSE", "0")
os.environ.setdefault("COURSE_SOLUTIONS", "1")

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

    splits = (*make(n_train), *make(n_val), *make(n_test))  # x_train, y_train, x_val, ..., y_test
    return Dataset(name, *splits, class_names=("a", "b", "c"), description="tiny synthetic test data")


@pytest.fixture(scope="module")
def tiny():
    """The default tiny dataset: 60 training, 30 validation and 30 test images of 3 classes."""
    return _tiny_dataset()


# The tuning tests' fixtures: 150 training digits, a hypermodel over tuning_setup.SPACE, one real search.
# Module-scoped: each test file that uses them gets its own (a search is cheap: 3 trials of 2 epochs).
@pytest.fixture(scope="module")
def ds():
    from helpers import config, data

    config.seed_everything()
    return data.load("mnist5k", train_size=150)


@pytest.fixture(scope="module")
def hm():
    from tuning_setup import SPACE

    from helpers import tuning

    return tuning.CNNHyperModel((28, 28, 1), 10, SPACE, patience=1)


@pytest.fixture(scope="module")
def random_search(ds, hm, tmp_path_factory):
    from helpers import tuning

    directory = tmp_path_factory.mktemp("tuner")
    tuner = tuning.make_tuner("random", hm, project_name="rs", directory=directory, max_trials=3, max_epochs=2)
    return tuner, tuning.search(tuner, ds)


def _make_run(name, train, val, seed=0, val_loss=0.5):
    """A :class:`helpers.runs.Run` with the given accuracies and a tiny untrained model (no training)."""
    import keras

    from helpers import models, runs

    keras.utils.set_random_seed(seed)
    model = models.simple_cnn((8, 8, 1), 3, filters=(4,), dense_units=8)
    row = {
        "name": name, "seed": seed, "train_size": 60, "epochs_run": 1, "best_epoch": 1, "train_accuracy": train,
        "val_accuracy": val, "gap": train - val, "val_loss": val_loss, "params": model.count_params(), "seconds": 1.5,
    }  # fmt: skip
    return runs.Run(name=name, row=row, history={}, model=model)


@pytest.fixture(scope="session")
def make_run():
    """A factory of fake runs for tables and figures: ``make_run("base", train=1.0, val=0.9)``."""
    return _make_run


# The transfer tests' fixtures: a small source CNN on 16x16 images and a new 3-class head on its base.
@pytest.fixture
def source(seeded):
    from helpers import transfer

    return transfer.SourceSpec(name="freeze_test", filters=(4, 8, 8)).build((16, 16, 1), 10)


@pytest.fixture
def head_model(source):
    from helpers import transfer

    return transfer.with_new_head(transfer.feature_extractor(source), 3)


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


@pytest.fixture
def fresh_kernel():
    """The checks' record of results and solution requests, empty before and after the test."""
    from helpers.checks import _core

    _core.reset()
    yield _core
    _core.reset()


@pytest.fixture
def assert_reference_replaces_stub(fresh_kernel):
    """Assert that exercise ``name``'s reference passes its check, that the untouched ``stub`` reports
    "not started", and that ``checks.answer`` hands later cells the reference while the stub is unsolved."""

    def check_reference(name, stub):
        from helpers import checks

        check = getattr(checks, name)
        reference = fresh_kernel.answer(name, stub)  # not checked yet: the reference
        assert reference is not stub and check(reference)
        fresh_kernel.reset()
        assert check(stub).status == "not started"
        assert fresh_kernel.answer(name, stub) == reference

    return check_reference
