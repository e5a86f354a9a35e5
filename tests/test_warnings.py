"""The test run has no unexplained warning (issue 19).

``pyproject.toml``'s ``filterwarnings`` starts with ``"error"``, so a warning nobody has looked at fails
the test that raised it. The few known, harmless ones from libraries are ignored there, each precisely
(message or module, category) and with a comment saying why. These tests check that contract, that each
filter still hides something real (an upgrade that fixes the library should drop its filter), and that
the warnings fixed at their source stay fixed.
"""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
_ENTRY = re.compile(r'^\s*"(?P<entry>(?:[^"\\]|\\.)*)",?\s*(?:#.*)?$')


def _filters(config) -> list[str]:
    """The filterwarnings that pytest read from pyproject.toml, in order."""
    return list(config.getini("filterwarnings"))


def _explained_entries() -> dict[int, bool]:
    """Per filter (by position), whether a comment explains it: a comment line just above it, or above
    the group of filters it belongs to (no blank line or other text in between)."""
    text = PYPROJECT.read_text().split("\n[tool.pytest.ini_options]", 1)[1]
    block = text.split("filterwarnings = [", 1)[1].split("\n]", 1)[0]
    explained, index, commented = {}, 0, False
    for line in block.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            commented = True
        elif _ENTRY.match(line):
            explained[index] = commented
            index += 1
        else:
            commented = False
    return explained


@pytest.fixture
def recorded():
    """Every warning raised inside the ``with`` block, whatever the filters say."""
    with warnings.catch_warnings(record=True) as log:
        warnings.simplefilter("always")
        yield log


def test_an_unknown_warning_fails_the_test_that_raised_it(request):
    assert _filters(request.config)[0] == "error", "filterwarnings must start with error (later entries win)"
    if request.config.getoption("pythonwarnings"):
        pytest.skip("-W on the command line overrides the filterwarnings of pyproject.toml")
    with pytest.raises(UserWarning, match="a kind of warning nobody has seen"):
        warnings.warn("a kind of warning nobody has seen", UserWarning, stacklevel=1)
    with pytest.raises(DeprecationWarning):  # even the categories Python hides by default
        warnings.warn("a deprecated call of our own", DeprecationWarning, stacklevel=1)


def test_every_filter_is_precise_and_explained(pytestconfig):
    filters = _filters(pytestconfig)
    explained = _explained_entries()
    assert len(explained) == len(filters), "could not read the filterwarnings list of pyproject.toml"
    for index, entry in enumerate(filters[1:], start=1):
        action, message, category, module = [*entry.split(":"), "", "", ""][:4]
        assert action == "ignore", f"{entry!r}: only 'ignore' filters follow 'error'"
        assert category and category != "Warning", f"{entry!r}: name the warning's category"
        assert module, f"{entry!r}: name the module the warning comes from (never ignore a category everywhere)"
        assert explained[index], f"{entry!r}: add a comment above it saying where it comes from and why it is harmless"
        re.compile(message)


def _matches(log, category, pattern: str) -> bool:
    return any(issubclass(w.category, category) and re.search(pattern, str(w.message)) for w in log)


def test_the_keras_array_copy_filter_still_hides_a_real_warning(recorded, tmp_path):
    """Keras 3.15's model.save() converts each Variable with np.array(); NumPy 2 warns. When an upgrade
    stops this, remove the filter from pyproject.toml."""
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.save(tmp_path / "tiny.keras")
    assert _matches(recorded, DeprecationWarning, "__array__ implementation doesn't accept a copy keyword")


def test_a_filter_holds_for_a_warning_that_pytest_warns_re_emits(tmp_path):
    """pytest.warns re-emits what it did not expect under the file's path instead of the module's name;
    the filters' module patterns must match that too (a test expecting a warning around model.save())."""
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.warns(UserWarning, match="the warning this block expects"):
        model.save(tmp_path / "tiny.keras")  # raises the filtered Keras DeprecationWarning, re-emitted at exit
        warnings.warn("the warning this block expects", UserWarning, stacklevel=1)


def test_the_keras_tuner_thread_name_filters_still_hide_real_warnings(recorded, tmp_path, capsys):
    """KerasTuner 1.4.8's Oracle asks threading.currentThread().getName() in every synchronized call.
    When an upgrade stops this, remove the two filters from pyproject.toml."""
    import keras_tuner as kt

    hp = kt.HyperParameters()
    hp.Choice("units", [1, 2])
    oracle = kt.oracles.RandomSearchOracle(objective=kt.Objective("score", "max"), max_trials=1, hyperparameters=hp)
    oracle._set_project_dir(tmp_path, "project")  # what a tuner does before its first trial
    oracle.create_trial("tuner0")
    capsys.readouterr()  # the trial's table, printed by KerasTuner
    assert _matches(recorded, DeprecationWarning, r"currentThread\(\) is deprecated")
    assert _matches(recorded, DeprecationWarning, r"getName\(\) is deprecated")


def test_a_feature_extractor_takes_a_plain_array_without_a_structure_warning(source, recorded):
    """It keeps its source's single input as a tensor, not a one-element list, so calling it on a NumPy
    batch raises no Keras "structure of `inputs`" warning (fixed in helpers.transfer.freezing)."""
    from helpers import transfer

    base = transfer.feature_extractor(source)
    features = base(np.zeros((2, 16, 16, 1), np.float32))
    assert features.shape == (2, 8)
    assert not _matches(recorded, UserWarning, "structure of `inputs`"), [str(w.message) for w in recorded]
