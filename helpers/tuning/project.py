"""A search's project folder (``<directory>/<project_name>``): its name, and the course's records in it.

KerasTuner keeps its own state there (``oracle.json``, ``trial_*/trial.json``). The course adds
two records: :data:`FINGERPRINT_FILE`, what identifies the search, so that resuming a folder with a
different search (tuner kind, space, objective, seed) is refused instead of silently mixing two
searches; and :data:`TRIAL_RECORD_FILE` in each trial's folder, which process ran it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from helpers import _io, config

__all__ = ["FINGERPRINT_FILE", "TRIAL_RECORD_FILE"]

FINGERPRINT_FILE = "course_search.json"
TRIAL_RECORD_FILE = "course_trial.json"
_PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def check_project_name(project_name) -> str:
    """``project_name`` if it is a plain folder name (no path, so the project stays in its directory)."""
    if not isinstance(project_name, str) or not _PROJECT_NAME.match(project_name):
        raise ValueError(
            "project_name must be a folder name made of letters, digits, '_', '.' or '-'. "
            f"Received: project_name={project_name!r}"
        )
    return project_name


def check_project(project_dir: Path, fingerprint: dict) -> int:
    """Refuse a folder that holds a different search; return how many trial folders it has."""
    if not project_dir.exists():
        return 0
    if not project_dir.is_dir():
        raise ValueError(f"{project_dir} is a file, not a tuner project folder. Choose another project_name.")
    saved_file = project_dir / FINGERPRINT_FILE
    contents = [p.name for p in project_dir.iterdir()]
    if not saved_file.exists():
        if not contents:
            return 0
        raise ValueError(
            f"{project_dir} already holds files that are not a helpers.tuning search "
            f"({', '.join(sorted(contents)[:5])}{'...' if len(contents) > 5 else ''}). Choose another "
            "project_name, or pass overwrite=True to delete it and start over."
        )
    saved = json.loads(saved_file.read_text())
    current = json.loads(json.dumps(fingerprint))
    differ = sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
    if differ:
        detail = "; ".join(f"{k}: saved {saved.get(k)!r}, now {current.get(k)!r}" for k in differ)
        raise ValueError(
            f"{project_dir} holds a different search ({detail}). Resuming it with these settings would mix "
            "two searches. Choose another project_name, or pass overwrite=True to delete it and start over."
        )
    return sum(1 for name in contents if name.startswith("trial_"))


def write_fingerprint(project_dir: Path, fingerprint: dict) -> None:
    """Create ``project_dir`` if needed and record which search it holds."""
    config.ensure_dir(project_dir)
    _io.write_text_atomic(project_dir / FINGERPRINT_FILE, json.dumps(fingerprint, indent=1))


def read_fingerprint(project_dir: Path) -> dict | None:
    """The recorded search of ``project_dir``, or None for a folder without one."""
    path = project_dir / FINGERPRINT_FILE
    return json.loads(path.read_text()) if path.exists() else None


def write_trial_record(trial_dir: str | Path, record: dict) -> None:
    """Record the course's facts about one trial (who ran it, its status) in its folder."""
    _io.write_text_atomic(Path(trial_dir, TRIAL_RECORD_FILE), json.dumps(record))


def read_trial_record(trial_dir: Path) -> dict:
    """What :func:`write_trial_record` wrote for a trial, or ``{}`` if nothing was."""
    path = trial_dir / TRIAL_RECORD_FILE
    return json.loads(path.read_text()) if path.exists() else {}
