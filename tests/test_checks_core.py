"""The self-check mechanism: pass and fail reports, learner errors, every exported check is an exercise."""

import json

import pytest

from helpers import checks
from helpers.checks import _core


def stub(*args):
    raise NotImplementedError


def test_mechanism_reports_pass_and_fail(capsys):
    @checks.exercise("Toy")
    def toy(x):
        _core.require(x == 1, "x should be 1")
        return "nice"

    ok, bad = toy(1), toy(2)
    out = capsys.readouterr().out
    assert ok and ok.message == "nice" and "\u2705 Toy: passed. nice" in out
    assert not bad and "\u274c Toy: not yet. x should be 1" in out


def test_mechanism_reports_learner_exceptions():
    @checks.exercise("Toy")
    def toy(fn):
        return fn()

    result = toy(lambda: 1 / 0)
    assert not result and "ZeroDivisionError" in result.message and "Fix that error" in result.message
    assert not toy(stub) and "Not started yet" in toy(stub).message


def test_every_exported_check_is_an_exercise():
    for name in checks.__all__:
        obj = getattr(checks, name)
        if name not in checks.MECHANISM:
            assert getattr(obj, "is_exercise_check", False), name


# Statuses, the kernel's record of results, the grade file, solutions that keep the learner's work.


@pytest.fixture
def toy():
    _core.reset()

    @checks.exercise("Toy", reference=lambda factor=2: lambda x: factor * x)
    def toy_exercise(fn):
        _core.require(fn(2) == 4, "double it")

    yield toy_exercise
    _core.reset()


def _body_is_ellipsis(x): ...


def _body_is_pass(x):
    """A docstring does not make it started."""
    pass


def test_statuses_tell_not_started_from_wrong_and_from_errors(toy):
    assert toy(lambda x: 2 * x).status == "passed"
    assert toy(lambda x: x).status == "not yet"
    assert toy(stub).status == "not started"
    assert toy(_body_is_ellipsis).status == "not started" and toy(_body_is_pass).status == "not started"
    assert toy(lambda x: 1 / 0).status == "error"
    assert toy(...).status == "not started"
    with pytest.raises(ValueError, match="status must be one of"):
        _core.CheckResult("t", True, "m", "not yet")


def test_a_dict_answered_in_part_is_not_yet_rather_than_not_started():
    @_core.exercise("Exercise: two predictions")
    def two(predicted):
        for key in ("a", "b"):
            if predicted[key] is Ellipsis:
                raise _core.NotStarted(f"{key}: replace the `...`.")
        return "ok"

    assert two({"a": ..., "b": ...}).status == "not started"
    partly = two({"a": 1, "b": ...})
    assert partly.status == "not yet" and "b: replace the `...`" in partly.message
    assert two({"a": 1, "b": 2}).status == "passed"


def test_results_keep_the_latest_answer_per_exercise(toy):
    toy(stub)
    assert _core.results()["toy_exercise"].status == "not started"
    toy(lambda x: 2 * x)
    assert _core.results()["toy_exercise"].passed


def test_every_check_is_appended_to_the_grade_file(toy, tmp_path, monkeypatch):
    grades = tmp_path / "grades.jsonl"
    monkeypatch.setenv(_core.GRADE_FILE_ENV, str(grades))
    toy(stub)
    toy(lambda x: 2 * x)
    lines = [json.loads(line) for line in grades.read_text().splitlines()]
    assert [(g["exercise"], g["status"]) for g in lines] == [
        ("toy_exercise", "not started"),
        ("toy_exercise", "passed"),
    ]


def test_a_solution_runs_only_in_the_solutions_build_or_when_asked(toy, monkeypatch, capsys):
    monkeypatch.delenv("COURSE_SOLUTIONS", raising=False)
    assert not _core.run_solution("toy_exercise") and "is kept" in capsys.readouterr().out
    monkeypatch.setenv("COURSE_SOLUTIONS", "1")
    assert _core.run_solution("toy_exercise")
    monkeypatch.setenv("COURSE_SOLUTIONS", "0")
    _core.use_solution("toy_exercise")
    assert _core.run_solution("toy_exercise") and "replaces your answer" in capsys.readouterr().out
    with pytest.raises(ValueError, match="No exercise named 'nope'"):
        _core.run_solution("nope")
    monkeypatch.setenv("COURSE_SOLUTIONS", "maybe")
    with pytest.raises(ValueError, match="COURSE_SOLUTIONS must be 1 or 0"):
        _core.run_solution("toy_exercise")


def test_answer_uses_the_reference_until_the_learner_passes(toy, capsys):
    def mine(x):
        return 2 * x

    assert _core.answer("toy_exercise", mine)(5) == 10 and _core.answer("toy_exercise", mine) is not mine
    assert "not checked yet: the cells below use the course's reference" in capsys.readouterr().out
    toy(stub)
    assert _core.answer("toy_exercise", stub, 3)(5) == 15 and "not started" in capsys.readouterr().out
    toy(mine)
    assert _core.answer("toy_exercise", mine) is mine
    with pytest.raises(ValueError, match="has no reference answer"):
        _core.answer("conv2d_nope", mine)


def test_progress_lists_each_exercise_with_its_status(toy, capsys):
    toy(lambda x: 2 * x)
    rows = _core.progress(["toy_exercise", "conv2d"])
    assert rows == [("toy_exercise", "passed"), ("conv2d", "not run yet")]
    assert "1 of 2 exercises pass." in capsys.readouterr().out


def test_progress_by_default_lists_the_current_notebooks_exercises(capsys):
    """One check of 03 ran: progress shows all of 03's exercises (the others not run yet), none of 01's."""
    from helpers.checks import architecture

    _core.reset()
    try:
        checks.receptive_field_growth(...)
        rows = dict(_core.progress())
    finally:
        _core.reset()
    assert set(rows) == set(architecture.__all__)
    assert rows["receptive_field_growth"] == "not started"
    assert {rows[n] for n in rows if n != "receptive_field_growth"} == {"not run yet"}
    assert f"0 of {len(rows)} exercises pass." in capsys.readouterr().out


def test_progress_follows_the_notebooks_order_when_it_uses_two_modules(capsys):
    """06 runs monitoring's checks, then interpretation's: progress lists them in that order, as the cells do."""
    from helpers import coursework

    _core.reset()
    try:
        checks.early_stopping_epochs(...)
        checks.occlusion_by_hand(...)
        rows = [name for name, _ in _core.progress()]
    finally:
        _core.reset()
    capsys.readouterr()
    notebook = coursework.exercises(
        coursework._read(coursework.config.ROOT / "notebooks/06_monitoring_evaluation.ipynb")
    )
    assert rows == list(dict.fromkeys(e.name.split("[")[0] for e in notebook))


def test_a_check_asked_for_several_cases_is_one_exercise_per_case(monkeypatch, capsys):
    """mystery_diagnosis(case_k, ...) records as mystery_diagnosis[k]; use_solution can ask for one case."""

    class Case:
        def __init__(self, number):
            self.number = number

    @checks.exercise("Cased", instance=lambda case, answer: case.number)
    def cased(case, answer):
        _core.require(answer == case.number, "answer the case's number")

    _core.reset()
    try:
        cased(Case(2), 2)
        cased(Case(1), 0)
        assert {n: r.status for n, r in _core.results().items()} == {"cased[2]": "passed", "cased[1]": "not yet"}
        rows = [row for row in _core.progress() if row[0].startswith("cased")]
        assert rows == [("cased[1]", "not yet"), ("cased[2]", "passed")]
        monkeypatch.setenv("COURSE_SOLUTIONS", "0")
        checks.use_solution("cased[1]")
        assert checks.run_solution("cased[1]") and not checks.run_solution("cased[2]")
        with pytest.raises(ValueError, match="No exercise named 'nothing\\[1\\]'"):
            checks.use_solution("nothing[1]")
    finally:
        _core.reset()


@pytest.mark.parametrize(
    ("value", "status", "hint"),
    [
        (..., "not started", "replace the `...`"),
        ((0.1, ...), "not started", "replace the `...`"),
        (0.3, "not yet", "around your guess rather than one number, e.g. (0.275, 0.325)"),
        ("0.3", "not yet", "a range of two numbers"),
        ((0.1, 0.2, 0.3), "not yet", "a range of two numbers"),
        ((30, 40), "not yet", "as fractions between 0 and 1"),
        ((-0.1, 0.05), "not yet", "between 0 and 1"),
        ((0.2, 0.1), "not yet", "reversed"),
        ((0.0, 0.2), "not yet", "spans 20 points; commit to one at most 10 points wide"),
    ],
)
def test_a_predicted_range_is_read_with_one_set_of_rules(value, status, hint):
    with pytest.raises(_core.Hint) as caught:
        _core.predicted_range(value, "val", 0.1)
    message = str(caught.value)
    assert message.startswith("val: ") and hint in message, message
    assert isinstance(caught.value, _core.NotStarted) == (status == "not started")


def test_a_predicted_range_passes_through_and_takes_other_bounds():
    assert _core.predicted_range((0.25, 0.35), "val", 0.1) == (0.25, 0.35)
    assert _core.predicted_range([0.1, 0.2 + 1e-12], "val", 0.1) == (0.1, 0.2 + 1e-12)  # a width typed as 0.1
    assert _core.predicted_range((-0.5, 0.0), "rho", 0.6, bounds=(-1.0, 1.0)) == (-0.5, 0.0)
    with pytest.raises(_core.Hint, match="rho: your range .* is 0.8 wide; commit to one at most 0.6 wide"):
        _core.predicted_range((-0.5, 0.3), "rho", 0.6, bounds=(-1.0, 1.0))
