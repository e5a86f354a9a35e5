"""helpers.coursework: exercises of a notebook, the student release (nbgrader), grading submissions."""

import csv
import re

import nbformat
import pytest

from helpers import coursework

SETUP = """from helpers import checks
from helpers.checks import _core


@checks.exercise("Double it", reference=lambda: lambda x: 2 * x)
def double(fn):
    _core.require(fn(3) == 6, "double(3) should be 6")


checks.double = double  # a course check lives in helpers.checks; this toy one is attached for the test"""
STUB = "def my_double(x):\n    # YOUR CODE HERE\n    raise NotImplementedError"
SOLUTION = """# Solution
if checks.run_solution("double"):
    ### BEGIN SOLUTION
    def my_double(x):
        return 2 * x

    assert checks.double(my_double)
    ### END SOLUTION"""
LATER = 'f = checks.answer("double", my_double)\nassert f(21) == 42\nprint("the lesson ran to the end")'


def _course_notebook(path, stub=STUB, solution=SOLUTION, solution_metadata=True, kind=None):
    nb = nbformat.v4.new_notebook()
    tags = ["exercise"] + ([f"kind:{kind}"] if kind else [])
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A toy lesson"),
        nbformat.v4.new_code_cell(SETUP),
        nbformat.v4.new_code_cell(stub, metadata={"tags": tags}),
        nbformat.v4.new_code_cell("checks.double(my_double)"),
        nbformat.v4.new_code_cell(solution, metadata={"tags": ["solution"], "jupyter": {"source_hidden": True}}),
        nbformat.v4.new_code_cell(LATER),
    ]
    if solution_metadata:
        nb.cells[4].metadata["nbgrader"] = {"solution": True, "grade": False, "locked": False, "grade_id": "double"}
        nb.cells[4].metadata["nbgrader"]["schema_version"] = 3
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="an old output")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_exercises_lists_each_exercise_with_its_kind(tmp_path):
    path = _course_notebook(tmp_path / "01_toy.ipynb", kind="predict")
    assert coursework.exercises(path) == [coursework.Exercise("double", "predict", 2, 3, 4)]
    with pytest.raises(ValueError, match="known kinds"):
        coursework.exercises(_course_notebook(tmp_path / "02_toy.ipynb", kind="guess"))


def test_a_check_cell_with_several_calls_and_cases_is_one_exercise_each(tmp_path):
    """10's mysteries: one cell names the fault and fixes it; each case is its own exercise (instance tag)."""
    nb = nbformat.read(_course_notebook(tmp_path / "01_toy.ipynb"), as_version=4)
    nb.cells[2].metadata["tags"] += ["instance:3"]
    nb.cells[3].source = "checks.double(my_double)\nchecks.triple(my_double)"
    nb.cells[4].source = SOLUTION.replace(
        "    assert checks.double(my_double)", "    if True:\n        assert checks.triple(my_double)"
    )
    found = coursework.exercises(nb)
    assert [(e.name, e.cell, e.check) for e in found] == [("double[3]", 2, 3), ("triple[3]", 2, 3)]
    complete = coursework.complete_submission(nb)
    assert complete.cells[2].source == "def my_double(x):\n    return 2 * x\n\nif True:\n    pass"
    nb.cells[2].metadata["tags"].remove("instance:3")
    nb.cells[3].source = "checks.double(my_double)\nchecks.double(my_double)"
    with pytest.raises(ValueError, match="asked more than once"):
        coursework.exercises(nb)


def test_student_release_removes_solutions_and_outputs_with_nbgrader(tmp_path):
    path = _course_notebook(tmp_path / "01_toy.ipynb")
    (written,) = coursework.student_release([path], tmp_path / "student")
    nb = nbformat.read(written, as_version=4)
    solution = nb.cells[4].source
    assert "return 2 * x" not in solution and "BEGIN SOLUTION" not in solution
    assert coursework.STUDENT_STUB in solution and solution.startswith("# Solution\nif checks.run_solution")
    assert nb.cells[2].source == STUB and nb.cells[5].source == LATER  # everything else is as the course has it
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_a_solution_region_outside_a_solution_cell_is_refused(tmp_path):
    path = _course_notebook(tmp_path / "01_toy.ipynb", solution_metadata=False)
    with pytest.raises(RuntimeError, match="Solution region detected in a non-solution cell"):
        coursework.student_release([path], tmp_path / "student")


def test_complete_submission_puts_each_solution_in_its_exercise_cell(tmp_path):
    nb = coursework.complete_submission(nbformat.read(_course_notebook(tmp_path / "01_toy.ipynb"), as_version=4))
    assert nb.cells[2].source == "def my_double(x):\n    return 2 * x"


def test_solution_body_needs_one_region():
    with pytest.raises(ValueError, match="needs one"):
        coursework.solution_body(nbformat.v4.new_code_cell("x = 1"))


@pytest.mark.slow
def test_grade_writes_a_row_per_learner_and_exercise_and_survives_bad_submissions(tmp_path, capsys):
    source = _course_notebook(tmp_path / "01_toy.ipynb")
    submissions = tmp_path / "submissions"
    coursework.write_examples(submissions, [source])  # complete/ and stubs/
    wrong = nbformat.read(submissions / "complete" / source.name, as_version=4)
    wrong.cells[2].source = "def my_double(x):\n    return x + 2"
    (submissions / "wrong").mkdir()
    nbformat.write(wrong, submissions / "wrong" / source.name)
    (submissions / "broken").mkdir()
    (submissions / "broken" / source.name).write_text("{ this is not a notebook")
    slow = nbformat.read(submissions / "complete" / source.name, as_version=4)
    slow.cells[2].source = "import time\n\ntime.sleep(600)"
    (submissions / "slow").mkdir()
    nbformat.write(slow, submissions / "slow" / source.name)
    (submissions / "stray").mkdir()
    (submissions / "stray" / "notes.ipynb").write_text("{}")

    table = coursework.grade(
        submissions, tmp_path / "grades", timeout=45, sources=[source]
    )  # a loaded 2-core machine needs ~20 s per kernel
    with table.open(newline="") as file:  # closed at once: an open file left to the garbage collector warns
        rows = {(r["learner"], r["exercise"]): r for r in csv.DictReader(file)}
    assert rows["complete", "double"]["status"] == "passed"
    assert rows["stubs", "double"]["status"] == "not yet" and "Not started" in rows["stubs", "double"]["detail"]
    assert (
        rows["wrong", "double"]["status"] == "not yet" and "double(3) should be 6" in rows["wrong", "double"]["detail"]
    )
    assert rows["broken", "double"]["status"] == "error" and "malformed notebook" in rows["broken", "double"]["detail"]
    assert rows["slow", "double"]["status"] == "error" and "timed out after 45 s" in rows["slow", "double"]["detail"]
    assert rows["stray", "-"]["status"] == "error" and "not a course notebook" in rows["stray", "-"]["detail"]
    summary = (tmp_path / "grades" / "summary.md").read_text()
    assert (
        "| complete | 01_toy.ipynb | 1 of 1 | 0 | 0 |" in summary
        and "| stubs | 01_toy.ipynb | 0 of 1 | 1 | 0 |" in summary
    )


@pytest.mark.slow
def test_the_student_version_runs_to_the_end_on_the_reference_answer(tmp_path, monkeypatch):
    """Stubs untouched: the check says "not started" and the later cells use the reference, saying so."""
    import papermill

    monkeypatch.setenv("COURSE_SOLUTIONS", "0")  # a learner's kernel, whatever the test session runs under

    (student,) = coursework.student_release([_course_notebook(tmp_path / "01_toy.ipynb")], tmp_path / "student")
    out = papermill.execute_notebook(
        str(student), str(tmp_path / "out.ipynb"), kernel_name="python3", progress_bar=False
    )
    text = "\n".join(o.get("text", "") for c in out.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "not started" in text and "is kept: this solution did not run" in text
    assert "the cells below use the course's reference answer" in text and "the lesson ran to the end" in text


def test_grade_refuses_a_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="one sub-folder per learner"):
        coursework.grade(tmp_path / "nope", tmp_path / "out")
    assert coursework.main(["grade", str(tmp_path / "nope"), "--out", str(tmp_path / "out")]) == 2


COURSE = sorted((coursework.config.ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _kind_counts():
    counts = {}
    for path in COURSE:
        kinds = [e.kind for e in coursework.exercises(path)]
        counts[path.name[:2]] = [kinds.count(k) for k in coursework.KINDS]
    return counts


def test_the_course_has_exercises_of_every_kind():
    """Each notebook from 01 on asks for a prediction; the course has 5+ bugs to find and 3+ designs."""
    counts = _kind_counts()
    no_prediction = [n for n, c in counts.items() if n != "00" and c[coursework.KINDS.index("predict")] == 0]
    assert not no_prediction, f"notebooks without a predict, then run exercise: {no_prediction}"
    assert sum(c[coursework.KINDS.index("find-the-bug")] for c in counts.values()) >= 5
    assert sum(c[coursework.KINDS.index("design")] for c in counts.values()) >= 3


def test_the_readme_counts_the_exercises_by_kind_as_the_notebooks_have_them():
    readme = (coursework.config.ROOT / "README.md").read_text(encoding="utf-8")
    rows = {
        m[0]: [int(x) for x in m[1:]]
        for m in re.findall(r"^\| (\d\d) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|$", readme, re.M)
    }
    assert rows == {n: c for n, c in _kind_counts().items() if n != "00"}
