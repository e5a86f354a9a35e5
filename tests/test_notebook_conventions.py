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
def test_exercises_have_stub_check_and_a_solution_that_runs_only_when_asked(path):
    """Stub, check, then a collapsed solution that nbgrader can strip and that never overwrites the learner's work."""
    from helpers import coursework

    cells = _cells(path)
    exercises = coursework.exercises(path)  # refuses an exercise without its check or solution cell
    assert len(exercises) >= 2
    for ex in exercises:
        solution = cells[ex.solution]
        first = next(e.name for e in exercises if e.cell == ex.cell)  # a cell may hold two (name it, then fix it)
        assert solution["metadata"]["jupyter"]["source_hidden"], f"cell {ex.solution}: solutions render collapsed"
        assert solution["metadata"]["nbgrader"] == {
            "grade": False, "grade_id": coursework.grade_id(first), "locked": False, "schema_version": 3,
            "solution": True,
        }  # fmt: skip
        assert f'if checks.run_solution("{first}"):' in _src(solution), "a solution runs only when asked"
        body = coursework.solution_body(solution)
        assert f"assert checks.{ex.name.split('[')[0]}(" in body, "the solution cell proves the check passes"
