"""helpers._reexport: per-topic modules gathered into one namespace, duplicates refused."""

from types import ModuleType

import pytest

from helpers import checks, plots
from helpers._reexport import reexport


def _module(name, **attrs):
    module = ModuleType(name)
    module.__dict__.update(attrs)
    module.__all__ = list(attrs)
    return module


def test_names_are_copied_in_order():
    namespace = {}
    names = reexport(namespace, (_module("a", f=1, g=2), _module("b", h=3)), "plot")
    assert names == ["f", "g", "h"]
    assert namespace == {"f": 1, "g": 2, "h": 3}


def test_a_name_defined_twice_is_an_import_error_naming_it():
    with pytest.raises(ImportError, match=r"Two check modules define 'f' \(b is the second\)"):
        reexport({}, (_module("a", f=1), _module("b", f=2)), "check")


def test_a_name_already_in_the_package_is_not_shadowed():
    with pytest.raises(ImportError, match="'exercise'"):
        reexport({"exercise": object()}, (_module("a", exercise=1),), "check")


@pytest.mark.parametrize("package", [checks, plots])
def test_packages_export_every_topic_function(package):
    for module in package._MODULES:
        for name in module.__all__:
            assert getattr(package, name) is getattr(module, name)
            assert name in package.__all__


def test_submodules_imports_every_public_module_in_name_order():
    from helpers import plots, tuning
    from helpers._reexport import submodules

    found = submodules("helpers.checks", __import__("helpers.checks").checks.__path__)
    assert [m.__name__.rsplit(".", 1)[1] for m in found] == sorted(m.__name__.rsplit(".", 1)[1] for m in found)
    assert "helpers.checks._core" not in {m.__name__ for m in found}  # the mechanism is not a topic
    assert {m.__name__ for m in submodules("helpers.plots", plots.__path__)} >= {"helpers.plots.runs"}
    names = {m.__name__ for m in submodules("helpers.tuning", tuning.__path__, skip=("distributed",))}
    assert "helpers.tuning.space" in names and "helpers.tuning.distributed" not in names
