"""Gather the public names of per-topic modules into one package namespace.

``helpers.plots`` and ``helpers.checks`` keep one module per notebook topic but let a notebook call
``plots.<name>`` / ``checks.<name>`` without knowing which module defines it. A name defined twice
would silently shadow the other, so that is an import-time error instead.
"""

from __future__ import annotations

from types import ModuleType


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
