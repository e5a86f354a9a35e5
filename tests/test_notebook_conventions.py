"""Notebook hygiene: committed clean, and each one has what the course design promises."""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _cells(path):
    return json.loads(path.read_text())["cells"]


def _src(cell):
    return "".join(cell["source"])


def test_the_course_has_notebooks():
    assert [p.name[:2] for p in NOTEBOOKS][:2] == ["00", "01"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    for cell in _cells(path):
        if cell["cell_type"] == "code":
            assert not cell["outputs"] and cell["execution_count"] is None, "strip outputs before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_structure(path):
    cells = _cells(path)
    code = [c for c in cells if c["cell_type"] == "code"]
    markdown = " ".join(_src(c) for c in cells if c["cell_type"] == "markdown").lower()
    assert "install" in code[0]["metadata"].get("tags", []), "the first code cell installs the course on Colab"
    code = code[1:]  # tests/test_colab.py checks that cell
    assert "parameters" in code[0]["metadata"].get("tags", []), "the parameters cell comes next"
    assert "config.profile()" in _src(code[0]), "parameters derive from the profile"
    assert "learning goals" in markdown and "why this matters" in markdown
    assert "takeaway" in markdown and "where to go next" in markdown
    assert any(re.search(r"^\s*assert\b", _src(c), re.M) for c in code[-3:]), "end with assert cells"
    assert "config.setup(" in " ".join(_src(c) for c in code[:2]), "seed through config.setup"


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if not p.name.startswith("00")], ids=lambda p: p.name)
def test_exercises_have_stub_check_and_hidden_solution(path):
    cells = _cells(path)
    tags = lambda c: c.get("metadata", {}).get("tags", [])  # noqa: E731
    exercises = [i for i, c in enumerate(cells) if "exercise" in tags(c)]
    assert len(exercises) >= 2
    for i in exercises:
        check, solution = cells[i + 1], cells[i + 2]
        assert re.match(r"checks\.\w+\(", _src(check).strip()), f"cell {i + 1} should call a self-check"
        assert "solution" in tags(solution) and solution["metadata"]["jupyter"]["source_hidden"]
        name = re.match(r"checks\.(\w+)\(", _src(check).strip()).group(1)
        assert f"assert checks.{name}(" in _src(solution), "the solution cell proves the check passes"
