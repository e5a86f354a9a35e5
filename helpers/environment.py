"""Environment check for ``00_welcome``: is every package the course needs installed, in range?"""

from __future__ import annotations

import dataclasses
import importlib.metadata as md

from packaging.requirements import Requirement

from helpers import config

DISTRIBUTION = "cnn-course"
FIX = "Run `make setup` (or `pip install -e '.[test]'`) in the course folder, then restart the kernel."
INSTALL_TAG = "install"  # the tag of each notebook's first code cell, the one install_cell() writes


def install_cell(repository: str) -> str:
    """The source of every notebook's first code cell: install the course where it is missing.

    On Colab (or any Python without the course) ``helpers`` is not importable, so the cell installs the
    package from ``repository`` with ``%pip``. Wherever the course is installed (``make setup``,
    ``make lab``, ``make course``, the tests) it does nothing. It cannot import ``helpers`` itself, so
    it lives here as text and ``tests/test_colab.py`` checks that every notebook holds exactly this.
    """
    return (
        "# On Colab, or wherever the course is not installed, install it from its repository first\n"
        "# (a no-op after `make setup`). If Colab then asks to restart the session, do so and run on.\n"
        "import importlib.util\n"
        "\n"
        'if importlib.util.find_spec("helpers") is None:\n'
        f'    %pip install --quiet "{DISTRIBUTION} @ git+{repository}"'
    )


@dataclasses.dataclass(frozen=True)
class PackageStatus:
    name: str
    required: str
    installed: str | None

    @property
    def ok(self) -> bool:
        return self.installed is not None and Requirement(f"{self.name}{self.required}").specifier.contains(
            self.installed, prereleases=True
        )

    @property
    def verdict(self) -> str:
        if self.installed is None:
            return "MISSING"
        return "ok" if self.ok else "WRONG VERSION"


def requirements(extras: tuple[str, ...] = ("test",)) -> list[Requirement]:
    """The course's requirements as declared in pyproject.toml (the installed metadata)."""
    try:
        raw = md.requires(DISTRIBUTION) or []
    except md.PackageNotFoundError as exc:
        raise RuntimeError(f"The course package is not installed. {FIX}") from exc
    out = []
    for req in map(Requirement, raw):
        wanted = req.marker is None or any(req.marker.evaluate({"extra": e}) for e in extras)
        if wanted and req.name != DISTRIBUTION:
            out.append(req)
    return out


def check(extras: tuple[str, ...] | None = None) -> list[PackageStatus]:
    """One :class:`PackageStatus` per requirement, with the installed version (None if missing).

    Args:
        extras: optional dependency groups to check too. Default: ``("test",)`` in a checkout, where
            ``make setup`` installs them, and none where the course was installed without them (Colab).
    """
    if extras is None:
        extras = ("test",) if config.IN_CHECKOUT else ()
    statuses = []
    for req in requirements(extras):
        try:
            installed = md.version(req.name)
        except md.PackageNotFoundError:
            installed = None
        statuses.append(PackageStatus(req.name, str(req.specifier), installed))
    return statuses


def report(statuses: list[PackageStatus]) -> str:
    """A table of the statuses, with the fix when something is missing or out of range."""
    lines = [f"{'package':<16}{'required':<20}{'installed':<14}status"]
    lines += [f"{s.name:<16}{s.required:<20}{s.installed or '-':<14}{s.verdict}" for s in statuses]
    bad = [s.name for s in statuses if not s.ok]
    lines.append(f"Problems with: {', '.join(bad)}. {FIX}" if bad else "Everything the course needs is installed.")
    return "\n".join(lines)
