"""The self-check mechanism: pass and fail reports, learner errors, every exported check is an exercise."""

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
        if name not in {"CheckResult", "Hint", "exercise"}:
            assert getattr(obj, "is_exercise_check", False), name
