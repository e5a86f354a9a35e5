"""Colab: every notebook's first cell installs the course where it is missing, and is a no-op here.

The cell is IPython (``%pip``), so it is run the way a kernel runs it: IPython's transformer turns the
magic into ``get_ipython().run_line_magic(...)``, and a stand-in shell records what would be installed.
Nothing is installed and nothing is downloaded.
"""

import importlib.util
import json
import re
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement

from helpers import environment

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
REPOSITORY = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]


def _install_cell(path: Path) -> str:
    code = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    assert environment.INSTALL_TAG in code[0]["metadata"].get("tags", []), "the first code cell installs the course"
    return "".join(code[0]["source"])


class _Shell:
    """Records the magics a cell would run, instead of running them."""

    def __init__(self):
        self.magics = []

    def run_line_magic(self, name, line, *args):
        self.magics.append((name, line))


def _run(source: str, monkeypatch, *, helpers_importable: bool) -> list:
    from IPython.core.inputtransformer2 import TransformerManager

    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args):
        if name == "helpers" and not helpers_importable:
            return None  # what a fresh Colab runtime answers
        return real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    shell = _Shell()
    exec(TransformerManager().transform_cell(source), {"get_ipython": lambda: shell})  # noqa: S102
    return shell.magics


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_starts_with_the_same_install_cell(path):
    assert _install_cell(path) == environment.install_cell(REPOSITORY)


def test_the_cell_is_a_no_op_where_the_course_is_installed(monkeypatch):
    assert _run(environment.install_cell(REPOSITORY), monkeypatch, helpers_importable=True) == []


def test_the_cell_installs_the_course_from_its_repository_on_colab(monkeypatch):
    magics = _run(environment.install_cell(REPOSITORY), monkeypatch, helpers_importable=False)
    assert len(magics) == 1 and magics[0][0] == "pip"
    spec = re.fullmatch(r'install --quiet "(.+)"', magics[0][1]).group(1)
    req = Requirement(spec)  # pip accepts it: a direct reference to the repository
    assert req.name == environment.DISTRIBUTION and req.url == f"git+{REPOSITORY}"


def test_readme_map_opens_every_notebook_in_colab():
    readme = (ROOT / "README.md").read_text()
    colab = REPOSITORY.replace("https://github.com/", "https://colab.research.google.com/github/")
    for path in NOTEBOOKS:
        assert f"{colab}/blob/main/notebooks/{path.name}" in readme, f"no Colab link for {path.name}"


def test_an_installed_copy_keeps_its_files_in_the_working_folder(tmp_path, monkeypatch):
    """Outside a checkout (site-packages on Colab) data and outputs go under ./cnn-course, not site-packages."""
    import shutil
    import subprocess
    import sys

    shutil.copytree(ROOT / "helpers", tmp_path / "site" / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    code = "from helpers import config, environment; print(config.IN_CHECKOUT, config.ROOT, config.DATA_DIR)"
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("COURSE_")}
    env["PYTHONPATH"] = str(tmp_path / "site")
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", str(tmp_path / "cnn-course"), str(tmp_path / "cnn-course" / "data")]
