"""Gather the public names of per-topic modules into one package namespace.

``helpers.plots`` and ``helpers.checks`` keep one module per notebook topic but let a notebook call
``plots.<name>`` / ``checks.<name>`` without knowing which module defines it. A name defined twice
would silently shadow the other, so that is an import-time error instead.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from types import ModuleType


def submodules(package: str, path: Iterable[str], *, skip: tuple[str, ...] = ()) -> tuple[ModuleType, ...]:
    """Import every public module of a package (``__name__``, ``__path__``), in name order.

    Modules whose name starts with ``_`` (the mechanism, not a topic) and those in ``skip`` (e.g. a
    ``python -m`` entry point that must not be imported by its package) are left out.
    """
    names = sorted(m.name for m in pkgutil.iter_modules(path) if not m.name.startswith("_") and m.name not in skip)
    return tuple(importlib.import_module(f"{package}.{name}") for name in names)


def reexport(namespace: dict, modules: tuple[ModuleType, ...], what: str) -> list[str]:
    """Copy each module's ``__all__`` names into ``namespace``; return the names in order."""
    names: list[str] = []
    for module in modules:
        for name in module.__all__:
            if name in namespace:
                raise ImportError(f"Two {what} modules define {name!r} ({module.__name__} is the second); rename one.")
            namespace[name] = getattr(module, name)
            names.append(name)
    return names
