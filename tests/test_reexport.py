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
