"""Coursework for a class: the exercises of a notebook, a student release, and grading submissions.

usage: python -m helpers.coursework student [--out build/student] [NOTEBOOK...]
       python -m helpers.coursework grade SUBMISSIONS [--out build/grades] [--timeout S] [--profile smoke|full]
       python -m helpers.coursework examples OUT      (two generated submissions: one complete, one untouched)

An exercise is a cell tagged ``exercise`` (the learner's stub), then its check cell
(``checks.<name>(...)``), then a collapsed solution cell. The solution sits between nbgrader's
``### BEGIN SOLUTION`` / ``### END SOLUTION`` markers in a cell nbgrader knows as a solution cell, so the
student release is made by nbgrader's own ``ClearSolutions`` and ``ClearOutput`` preprocessors.
Grading runs each submitted notebook with papermill in a fresh kernel (a timeout per notebook) and
reads what its checks answered from the grade file the checks append to (``COURSE_GRADE_FILE``).
Submissions are the learners' code: grade them on a machine you are willing to run it on.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from helpers import _io, config
from helpers.checks._core import GRADE_FILE_ENV

EXERCISE_TAG = "exercise"
SOLUTION_TAG = "solution"
KINDS = ("compute", "predict", "find-the-bug", "design")  # tag a kind as "kind:predict"; compute by default
GRADE_STATUSES = ("passed", "not yet", "error")
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUDENT_STUB = 'print("This version of the course has no solutions: your teacher has them.")'
_CHECK_CALL = re.compile(r"^\s*checks\.(\w+)\(", re.MULTILINE)


@dataclasses.dataclass(frozen=True)
class Exercise:
    """One exercise of a notebook: its check's name (the exercise's id), kind, and its cells' indices.

    ``cell`` is the learner's cell, ``check`` the cell calling ``checks.<name>(...)`` and ``solution``
    the collapsed solution right after it. The check follows the learner's cell at once, except in a
    *predict, then run* exercise, where the cells that run the experiment come in between. A check
    cell with several calls (name the fault, then fix it) is one exercise per call; a check that the
    notebook asks for several cases is named ``check[k]`` after the exercise cell's ``instance:k`` tag.
    """

    name: str
    kind: str
    cell: int
    check: int
    solution: int


def _read(path: Path):
    import nbformat

    return nbformat.read(path, as_version=4)


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def exercises(notebook) -> list[Exercise]:
    """The exercises of ``notebook`` (a path or a NotebookNode), in order; a malformed one is an error."""
    nb = _read(Path(notebook)) if isinstance(notebook, (str, Path)) else notebook
    out = []
    for i, cell in enumerate(nb.cells):
        if EXERCISE_TAG not in _tags(cell):
            continue
        kinds = [t.split(":", 1)[1] for t in _tags(cell) if t.startswith("kind:")]
        kind = kinds[0] if kinds else "compute"
        if kind not in KINDS:
            raise ValueError(f"cell {i} has kind {kind!r}; known kinds: {', '.join(KINDS)}")
        later = range(i + 1, len(nb.cells)) if kind == "predict" else range(i + 1, min(i + 2, len(nb.cells)))
        check = next(
            (j for j in later if nb.cells[j].cell_type == "code" and _CHECK_CALL.match(nb.cells[j].source)), None
        )
        if check is None:
            where = "a later cell" if kind == "predict" else "the next cell"
            raise ValueError(f"cell {i} is tagged {EXERCISE_TAG!r} but {where} calls no checks.<name>(...)")
        solution = check + 1
        if solution >= len(nb.cells) or SOLUTION_TAG not in _tags(nb.cells[solution]):
            raise ValueError(
                f"cell {solution} should be the solution (tagged {SOLUTION_TAG!r}) of the exercise in cell {i}"
            )
        instances = [t.split(":", 1)[1] for t in _tags(cell) if t.startswith("instance:")]
        suffix = f"[{instances[0]}]" if instances else ""
        for name in _CHECK_CALL.findall(nb.cells[check].source):
            out.append(Exercise(name + suffix, kind, i, check, solution))
    names = [ex.name for ex in out]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"exercises {repeated} are asked more than once: tag each exercise cell 'instance:<k>'")
    return out


def grade_id(name: str) -> str:
    """The nbgrader ``grade_id`` of the solution cell whose first exercise is ``name`` (letters, digits, ``_``)."""
    return name.replace("[", "_").replace("]", "")


def solution_body(cell) -> str:
    """The code between a solution cell's BEGIN/END SOLUTION markers, dedented (what a learner would write)."""
    source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])  # a cell as JSON too
    lines = source.split("\n")
    starts = [i for i, line in enumerate(lines) if BEGIN in line]
    ends = [i for i, line in enumerate(lines) if END in line]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise ValueError(f"a solution cell needs one {BEGIN!r} ... {END!r} region. Received:\n{source}")
    return textwrap.dedent("\n".join(lines[starts[0] + 1 : ends[0]])).strip("\n")


def student_notebook(nb):
    """``nb`` without solutions or outputs, made by nbgrader's own preprocessors."""
    import copy

    from nbgrader.preprocessors import ClearOutput, ClearSolutions

    nb = copy.deepcopy(nb)
    resources: dict = {}
    nb, resources = ClearSolutions(code_stub={"python": STUDENT_STUB}, enforce_metadata=True).preprocess(nb, resources)
    nb, resources = ClearOutput().preprocess(nb, resources)
    return nb


def student_release(paths: list[Path], out_dir: Path) -> list[Path]:
    """Write the student version of each notebook to ``out_dir``; return the written paths."""
    import nbformat

    config.ensure_dir(out_dir)
    written = []
    for path in paths:
        nb = student_notebook(_read(path))
        left = [i for i, c in enumerate(nb.cells) if BEGIN in c.source or END in c.source]
        if left:
            raise RuntimeError(f"{path.name}: solution markers left in cells {left} after ClearSolutions")
        target = out_dir / path.name
        _io.write_text_atomic(target, nbformat.writes(nb))
        written.append(target)
    return written


def complete_submission(nb):
    """``nb`` as a learner who solved every exercise would hand it in: each exercise cell holds the solution."""
    import copy

    nb = copy.deepcopy(nb)
    found = exercises(nb)
    for ex in found:
        body = solution_body(nb.cells[ex.solution])
        checks_here = "|".join(e.name.split("[", 1)[0] for e in found if e.cell == ex.cell)
        # The solution's own asserts of its check go (the check cell runs them); `pass` keeps an `if` valid.
        body = re.sub(rf"^assert checks\.({checks_here})\(.*\n?", "", body, flags=re.MULTILINE)
        body = re.sub(rf"^(\s+)assert checks\.({checks_here})\(.*$", r"\1pass", body, flags=re.MULTILINE)
        nb.cells[ex.cell].source = body.strip("\n")
    return nb


# Grading


@dataclasses.dataclass(frozen=True)
class Grade:
    """One CSV row: a learner's result on one exercise."""

    learner: str
    notebook: str
    exercise: str
    kind: str
    status: str
    detail: str


def _submissions(root: Path) -> list[tuple[str, Path]]:
    """(learner, notebook path) pairs: ``root/<learner>/**/*.ipynb``, or ``root/<learner>.ipynb``."""
    if not root.is_dir():
        raise ValueError(f"SUBMISSIONS must be a folder with one sub-folder per learner. Received: {root}")
    pairs = []
    for path in sorted(root.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        rel = path.relative_to(root)
        pairs.append((rel.parts[0] if len(rel.parts) > 1 else rel.stem, path))
    if not pairs:
        raise ValueError(f"No notebooks (*.ipynb) under {root}: expected {root}/<learner>/<notebook>.ipynb")
    return pairs


def _last_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if re.match(r"^[A-Za-z_.]+(Error|Exception|Interrupt)\b", line)]
    return (errors or lines or ["no output"])[-1][:300]


def checked(grade_file: Path) -> dict[str, dict]:
    """What each check of a run answered, by exercise, read from its grade file (none if it never ran).

    The first answer counts: the learner's, not one from a solution they asked for later.
    """
    answered: dict[str, dict] = {}
    if Path(grade_file).is_file():
        for line in Path(grade_file).read_text().splitlines():
            record = json.loads(line)
            answered.setdefault(record["exercise"], record)
    return answered


def grade_notebook(learner: str, path: Path, source: Path | None, *, timeout: int, profile: str) -> list[Grade]:
    """Run one submission in a fresh kernel and grade each exercise of its course notebook."""
    if source is None:
        return [Grade(learner, path.name, "-", "-", "error", "not a course notebook: check its file name")]
    expected = exercises(source)
    try:
        _read(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets its reason
        reason = f"malformed notebook: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        return [Grade(learner, path.name, e.name, e.kind, "error", reason) for e in expected]
    with tempfile.TemporaryDirectory(prefix="grade-") as tmp:
        grade_file = Path(tmp) / "grades.jsonl"
        env = {**os.environ, GRADE_FILE_ENV: str(grade_file), "COURSE_PROFILE": profile}
        env.update({"COURSE_BUILD_DIR": str(Path(tmp) / "build"), "COURSE_SOLUTIONS": "0", "COURSE_VERBOSE": "0"})
        cmd = [sys.executable, "-m", "papermill", str(path), str(Path(tmp) / "out.ipynb"), "--cwd", str(path.parent)]
        cmd += ["-k", "python3", "--no-progress-bar", "--no-log-output"]
        stopped = ""
        try:
            run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
            if run.returncode != 0:
                stopped = f"the notebook stopped before this check: {_last_error(run.stderr)}"
        except subprocess.TimeoutExpired:
            stopped = f"timed out after {timeout} s before this check"
        answered = checked(grade_file)
    rows = []
    for ex in expected:
        record = answered.get(ex.name)
        if record is None:
            rows.append(Grade(learner, path.name, ex.name, ex.kind, "error", stopped or "the check never ran"))
            continue
        status = {"passed": "passed", "error": "error"}.get(record["status"], "not yet")
        rows.append(Grade(learner, path.name, ex.name, ex.kind, status, record["message"][:300]))
    return rows


def grade(submissions: Path, out_dir: Path, *, timeout: int = 900, profile: str = "smoke", sources=None) -> Path:
    """Grade every submission under ``submissions``; write ``grades.csv`` and ``summary.md``; return the CSV."""
    sources = {p.name: p for p in (sources or sorted((config.ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")))}
    rows: list[Grade] = []
    for learner, path in _submissions(Path(submissions)):
        print(f"  grading {learner}/{path.name} ...", flush=True)
        rows += grade_notebook(learner, path, sources.get(path.name), timeout=timeout, profile=profile)
    config.ensure_dir(out_dir)
    table = out_dir / "grades.csv"
    with open(table, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([field.name for field in dataclasses.fields(Grade)])
        writer.writerows(dataclasses.astuple(r) for r in rows)
    summary = summary_table(rows)
    (out_dir / "summary.md").write_text(summary + "\n", encoding="utf-8")
    print(summary)
    return table


def summary_table(rows: list[Grade]) -> str:
    """A markdown table: per learner and notebook, how many exercises passed, are not yet done, or errored."""
    keys = sorted({(r.learner, r.notebook) for r in rows})
    lines = ["| learner | notebook | passed | not yet | error |", "|---|---|---|---|---|"]
    for learner, notebook in keys:
        mine = [r.status for r in rows if (r.learner, r.notebook) == (learner, notebook)]
        counts = [mine.count(s) for s in GRADE_STATUSES]
        lines.append(f"| {learner} | {notebook} | {counts[0]} of {len(mine)} | {counts[1]} | {counts[2]} |")
    return "\n".join(lines)


def write_examples(out: Path, notebooks: list[Path]) -> list[Path]:
    """Two generated submissions of ``notebooks``: ``complete/`` (every exercise solved) and ``stubs/``."""
    import nbformat

    written = []
    for learner, make in (("complete", complete_submission), ("stubs", student_notebook)):
        folder = config.ensure_dir(Path(out) / learner)
        for path in notebooks:
            target = folder / path.name
            _io.write_text_atomic(target, nbformat.writes(make(_read(path))))
            written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    student = sub.add_parser("student", help="write the student release (no solutions, no outputs)")
    student.add_argument("notebooks", nargs="*", type=Path)
    student.add_argument("--out", type=Path, default=config.BUILD_DIR / "student")
    grading = sub.add_parser("grade", help="grade a folder of submissions: one CSV row per learner and exercise")
    grading.add_argument("submissions", type=Path)
    grading.add_argument("--out", type=Path, default=config.BUILD_DIR / "grades")
    grading.add_argument("--timeout", type=int, default=900, help="seconds per notebook (default 900)")
    grading.add_argument("--profile", choices=config.PROFILES, default="smoke", help="profile the notebooks run in")
    examples = sub.add_parser("examples", help="two generated submissions: complete/ and stubs/")
    examples.add_argument("out", type=Path)
    examples.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    default = sorted((config.ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    try:
        if args.command == "student":
            paths = student_release(args.notebooks or default, args.out)
            print(f"Student release: {len(paths)} notebooks in {config.display_path(args.out)}/")
        elif args.command == "grade":
            table = grade(args.submissions, args.out, timeout=args.timeout, profile=args.profile)
            print(f"One row per learner and exercise: {config.display_path(table)}")
        else:
            paths = write_examples(args.out, args.notebooks or default)
            print(f"Wrote {len(paths)} example submissions under {args.out}/ (complete/ and stubs/)")
    except (ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
