"""Security basics: no pickle on downloaded data, HTTPS-only checksummed downloads."""

import ast
import os
import subprocess
from pathlib import Path

import pytest

from helpers import downloads

HELPERS = Path(__file__).resolve().parent.parent / "helpers"


def _sources():
    return {p: p.read_text() for p in HELPERS.rglob("*.py")}


def test_no_pickle_anywhere_in_helpers():
    for path, src in _sources().items():
        tree = ast.parse(src)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", "") or ""]
                assert not any(n.split(".")[0] in {"pickle", "dill", "cloudpickle"} for n in names), path
            if isinstance(node, ast.keyword) and node.arg == "allow_pickle":
                assert isinstance(node.value, ast.Constant) and node.value.value is False, path


def test_downloads_are_https_and_checksummed():
    assert downloads.REGISTRY
    for remote in downloads.REGISTRY.values():
        assert remote.url.startswith("https://")
        assert len(remote.sha256) == 64 and int(remote.sha256, 16) >= 0


def test_models_are_loaded_in_safe_mode():
    for path, src in _sources().items():
        tree = ast.parse(src)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "load_model":
                flags = {k.arg: k.value for k in node.keywords}
                assert "safe_mode" not in flags or getattr(flags["safe_mode"], "value", True) is not False, path


def test_every_default_write_location_is_a_git_ignored_folder_of_the_repo():
    """Helpers write only where git ignores it: datasets, source models, logs, models, tuners, resume state."""
    from helpers import config, persistence
    from helpers.tuning import distributed

    if "COURSE_DATA_DIR" in os.environ or "COURSE_BUILD_DIR" in os.environ:
        pytest.skip("the data or build folder was moved on purpose")
    places = [
        config.CACHE_DIR,
        config.PRETRAINED_DIR,
        config.BUILD_DIR,
        config.LOG_DIR,
        persistence.MODELS_DIR,
        config.BUILD_DIR / "tuner",
        config.BUILD_DIR / "checkpoints",
        config.BUILD_DIR / "resume",
        distributed.SearchSpec.directory,
    ]
    for place in places:
        probe = os.path.relpath(os.path.join(place, "probe.file"), config.ROOT)
        assert not probe.startswith(".."), f"{place} is outside the repository"
        ignored = subprocess.run(["git", "check-ignore", "-q", probe], cwd=config.ROOT).returncode == 0
        assert ignored, f"{place} is not ignored by git: add it to .gitignore"
