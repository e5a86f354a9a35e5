"""The self-check mechanism behind every exercise.

A check is a function decorated with :func:`exercise`. Inside it, :class:`Hint` says what to change;
any other error raised by the learner's code is reported too, never swallowed silently. The check
prints one line (a pass message, or what is wrong and how to fix it) and returns a
:class:`CheckResult` that is truthy only on success, so a solution cell can ``assert`` it.

Every result is also remembered for this kernel (:func:`results`, shown by :func:`progress`) and,
when ``make grade`` runs a submission, appended to the file named by ``COURSE_GRADE_FILE``.
A solution cell runs only in the solutions build or when the learner asks (:func:`run_solution`,
:func:`use_solution`), so running a whole notebook never replaces the learner's answer.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import json
import os
import textwrap
import traceback
from collections.abc import Callable

import numpy as np

from helpers import _validate, config

PASS = "\u2705"
FAIL = "\u274c"
STATUSES = ("passed", "not yet", "not started", "error")
GRADE_FILE_ENV = "COURSE_GRADE_FILE"


class Hint(Exception):
    """Raised inside a check with a message that tells the learner what to change."""


class NotStarted(Hint):
    """Raised inside a check when the answer is still the stub (``...``)."""


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """The outcome of one self-check: truthy when it passed, with the message shown.

    ``status`` is one of :data:`STATUSES`: ``not started`` (the stub is untouched), ``not yet`` (a
    wrong answer, with a hint) or ``error`` (the learner's code raised).
    """

    title: str
    passed: bool
    message: str
    status: str = ""

    def __post_init__(self) -> None:
        if not self.status:
            object.__setattr__(self, "status", "passed" if self.passed else "not yet")
        if self.status not in STATUSES or (self.status == "passed") != self.passed:
            raise ValueError(f"status must be one of {STATUSES} and agree with passed. Received: {self.status!r}")

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        mark = PASS if self.passed else FAIL
        return f"{mark} {self.title}: {self.status}. {self.message}"

    def _ipython_display_(self) -> None:
        """Already printed when the check ran; show nothing twice in a notebook."""


NOT_STARTED = "Not started yet: replace the `...` / `raise NotImplementedError` in the exercise cell with your code."


# What the checks of this kernel answered, by exercise name (the check's name), and which solutions
# the learner asked to run.
_RESULTS: dict[str, CheckResult] = {}
_TITLES: dict[str, str] = {}
_REFERENCES: dict[str, Callable] = {}
_MODULES: dict[str, str] = {}  # exercise -> the checks module (one per notebook) that defines it
_INSTANCED: set[str] = set()  # checks that one notebook asks several times, e.g. mystery_diagnosis[1] .. [4]
_SOLUTIONS_WANTED: set[str] = set()


def exercise(title: str, reference: Callable | None = None, instance: Callable | None = None) -> Callable:
    """Turn ``fn`` (which raises :class:`Hint` on a wrong answer) into a printing self-check.

    Args:
        title: what the learner sees in each result line.
        reference: builds the course's own answer (from the same context the notebook passes to
            :func:`answer`), for the cells after the exercise while the learner's answer does not pass.
        instance: for a check that a notebook asks several times (one per case), the case's number
            from the check's arguments; each is then its own exercise, ``name[number]`` (the
            exercise cell says which with an ``instance:<number>`` tag).
    """

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def check(*args, **kwargs) -> CheckResult:
            name = fn.__name__
            if instance is not None:
                try:
                    name = f"{name}[{int(instance(*args, **kwargs))}]"
                except Exception:  # noqa: BLE001 - a wrong first argument is the check's own hint below
                    pass
            untouched = any(_untouched(a) for a in (*args, *kwargs.values()))
            partly = any(_partly_answered(a) for a in (*args, *kwargs.values()))
            try:
                praise = fn(*args, **kwargs)
            except Hint as hint:  # a stub gets the check's own hint, reported as not started
                started = not (untouched or (isinstance(hint, NotStarted) and not partly))
                result = CheckResult(title, False, str(hint), "not yet" if started else "not started")
            except NotImplementedError:
                result = CheckResult(title, False, NOT_STARTED, "not started")
            except Exception as exc:  # noqa: BLE001 - the learner's code may raise anything
                where = traceback.extract_tb(exc.__traceback__)[-1]
                message = (
                    f"Your code raised {type(exc).__name__}: {exc} (line {where.lineno} of {where.name}). "
                    "Fix that error first."
                )
                result = CheckResult(
                    title, False, NOT_STARTED if untouched else message, "not started" if untouched else "error"
                )
            else:
                result = CheckResult(title, True, praise or "Well done.")
            print(result)
            _record(name, result)
            return result

        check.is_exercise_check = True
        if instance is not None:
            _INSTANCED.add(fn.__name__)
        _TITLES[fn.__name__] = title
        _MODULES[fn.__name__] = fn.__module__
        if reference is not None:
            _REFERENCES[fn.__name__] = reference
        return check

    return decorate


def _untouched(answer) -> bool:
    """Whether ``answer`` is still an exercise stub: ``...``, a dict of ``...``, or a function whose
    body is only ``...`` / ``pass`` (a docstring and comments allowed)."""
    if answer is Ellipsis:
        return True
    if isinstance(answer, dict):
        return bool(answer) and all(v is Ellipsis for v in answer.values())
    if inspect.isfunction(answer):
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(answer)))
        except (OSError, TypeError, SyntaxError):
            return False
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.FunctionDef) else None
        if not body:
            return False
        if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and len(body) > 1:
            body = body[1:]  # a docstring
        return all(
            isinstance(stmt, ast.Pass)
            or (isinstance(stmt, ast.Expr) and getattr(stmt.value, "value", None) is Ellipsis)
            for stmt in body
        )
    return False


def _partly_answered(answer) -> bool:
    """Whether ``answer`` is a dict of answers some of which are still ``...``: begun, so a ``...`` left
    in it is "not yet", not "not started"."""
    if not isinstance(answer, dict):
        return False
    stubs = [v is Ellipsis for v in answer.values()]
    return any(stubs) and not all(stubs)


def _record(name: str, result: CheckResult) -> None:
    _RESULTS[name] = result
    path = os.environ.get(GRADE_FILE_ENV)
    if path:  # make grade: one JSON line per check, read back after the notebook ran
        line = {"exercise": name, "title": result.title, "status": result.status, "message": result.message}
        line["with_solution"] = _wanted(name)
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")


def results() -> dict[str, CheckResult]:
    """The latest result of every exercise checked in this kernel, by exercise name."""
    return dict(_RESULTS)


def reset() -> None:
    """Forget every result and solution request of this kernel (tests; a fresh start)."""
    _RESULTS.clear()
    _SOLUTIONS_WANTED.clear()


def _base(name: str) -> str:
    """The check behind exercise ``name``: ``mystery_diagnosis`` for ``mystery_diagnosis[2]``."""
    return name.split("[", 1)[0]


def _require_known(name: str) -> None:
    if not isinstance(name, str) or _base(name) not in _TITLES:
        raise ValueError(f"No exercise named {name!r}. Known: {', '.join(sorted(_TITLES))}")


def use_solution(name: str) -> None:
    """Ask for the course's solution of exercise ``name``: its solution cell runs the next time you run it.

    Your exercise cell stays as you wrote it; run it again to get your own answer back. For a check
    asked several times, ``name[k]`` asks for case ``k``'s solution, the bare name for every case's.
    """
    _require_known(name)
    _SOLUTIONS_WANTED.add(name)


def _wanted(name: str) -> bool:
    return name in _SOLUTIONS_WANTED or _base(name) in _SOLUTIONS_WANTED


def run_solution(name: str) -> bool:
    """Whether the solution cell of exercise ``name`` should run; says what it does either way.

    True in the solutions build (``COURSE_SOLUTIONS=1``) and after :func:`use_solution`; otherwise
    the learner's answer is kept and the course's one is only shown (expand the collapsed cell).
    """
    _require_known(name)
    if config.solutions_build():
        return True
    if _wanted(name):
        print(f"Running the course's solution of {name!r}: it replaces your answer in this kernel.")
        return True
    print(
        f"Your answer to {name!r} is kept: this solution did not run. Expand the cell to read it, or run "
        f'checks.use_solution("{name}") and then this cell to use it.'
    )
    return False


def answer(name: str, value, *context):
    """The learner's ``value`` for exercise ``name`` if its check passed, else the course's reference.

    Cells after an exercise that need its answer call this, so a notebook runs to the end (and
    teaches its lesson) whether or not the exercise is done, and never on a wrong answer; it says
    which answer the cells below use. ``context`` is what the reference is built from (e.g. the dataset).
    """
    if name not in _REFERENCES:
        raise ValueError(
            f"Exercise {name!r} has no reference answer. Exercises with one: {', '.join(sorted(_REFERENCES))}"
        )
    result = _RESULTS.get(name)
    if result is not None and result.passed:
        return value
    state = "not checked yet" if result is None else result.status
    print(f"Your answer to {name!r} is {state}: the cells below use the course's reference answer.")
    return _REFERENCES[name](*context)


def progress(names: list[str] | None = None) -> list[tuple[str, str]]:
    """Show which exercises of this notebook pass in this kernel, one line each, and return the rows.

    Args:
        names: the exercises to list. Default: every exercise of the notebooks whose checks ran in this
            kernel, checked or not: a module's checks in the order they are defined, the modules in the
            order their first check ran; ``coursework.exercises`` lists a notebook's own from its file.
    """
    if names is None:
        # Modules in the order their first check ran (a notebook may use two), checks in definition order.
        current = list(dict.fromkeys(_MODULES[_base(name)] for name in _RESULTS if _base(name) in _MODULES))
        names = []
        for module in current:
            for check in (c for c, m in _MODULES.items() if m == module):
                cases = sorted((n for n in _RESULTS if _base(n) == check and n != check), key=_case_order)
                names += cases if check in _INSTANCED and cases else [check]
        names += [name for name in _RESULTS if _base(name) not in _MODULES]  # checks defined outside helpers.checks
    names = list(names)
    rows = []
    for name in names:
        result = _RESULTS.get(name)
        status = "not run yet" if result is None else result.status
        if result is not None and result.passed and _wanted(name):
            status = "passed (with the course's solution)"
        rows.append((name, status))
    done = sum(1 for _, s in rows if s == "passed")
    for name, status in rows:
        print(f"{PASS if status == 'passed' else '  '} {_TITLES.get(_base(name), name)} ({name}): {status}")
    print(f"{done} of {len(rows)} exercises pass.")
    return rows


def _case_order(name: str) -> tuple:
    number = name[len(_base(name)) + 1 : -1]
    return (int(number) if number.isdigit() else 0, name)


# Small assertions that produce learner-friendly hints.


def require(condition: bool, hint: str) -> None:
    """Raise :class:`Hint` with ``hint`` unless ``condition`` holds."""
    if not condition:
        raise Hint(hint)


def require_callable(fn, name: str) -> None:
    require(callable(fn), f"Pass your function `{name}` itself (no parentheses). Received: {type(fn).__name__}")


def require_array(value, shape: tuple | None = None, what: str = "Your result") -> np.ndarray:
    """Convert ``value`` to an array, with hints for ``None`` (a missing ``return``) and bad shapes."""
    if value is Ellipsis:
        raise NotStarted(f"{what} is still `...`: replace it with your code.")
    if value is None:
        raise Hint(f"{what} is None. Did you forget to `return` it, or leave the `...` in place?")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise Hint(f"{what} must be numbers in an array. Received {type(value).__name__}.") from exc
    if shape is not None and arr.shape != tuple(shape):
        raise Hint(f"{what} has shape {arr.shape}; expected {tuple(shape)}.")
    return arr


def require_answers(answers, keys) -> dict:
    """The learner's ``answers``: a dict with a number for every one of ``keys``, or a Hint saying what
    is missing (a stub's ``...`` included)."""
    keys = list(keys)
    example = ", ".join(f"{k!r}: ..." for k in keys[:2])
    require(isinstance(answers, dict), f"Pass a dict like {{{example}}}. Received {type(answers).__name__}.")
    missing = [k for k in keys if k not in answers]
    require(not missing, f"Add your answer for {', '.join(missing)}.")
    for k in keys:
        if answers[k] is Ellipsis or answers[k] is None:
            raise Hint(f"{k}: replace the `...` with a number.")
    return answers


def require_int(value, expected: int, what: str, hint: str = "") -> None:
    """Compare a whole number, with the difference and a hint when it is off."""
    if value is Ellipsis:
        raise NotStarted(f"{what}: replace the `...` with a number.")
    if value is None:
        raise Hint(f"{what}: replace the `...` with a number.")
    if not _validate.is_int(value):
        raise Hint(f"{what} must be a whole number. Received {value!r}.")
    if int(value) != expected:
        raise Hint(f"{what} is {value}, which is not right. {hint}".strip())


def require_number(value, what: str = "Your function", returns: str = "a number") -> float:
    """Convert a returned value to ``float``, with hints for a missing ``return`` and non-numbers."""
    if value is None or value is Ellipsis:
        raise Hint(f"{what} returned nothing. Did you forget `return`? It should return {returns}.")
    if isinstance(value, (str, bytes)):
        raise Hint(f"Return {returns}, not text. Received: {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise Hint(f"Return {returns}. Received: {type(value).__name__}") from exc


def predicted_range(
    value, what: str, max_width: float, bounds: tuple[float, float] = (0.0, 1.0)
) -> tuple[float, float]:
    """The learner's prediction ``(low, high)`` as two floats, or a Hint saying what is wrong with it.

    Every predict-then-run exercise that asks for a range reads it here, so a learner meets the same
    rules and the same wording in every notebook: a range, not one number (how sure you are is part of
    the prediction); within ``bounds`` (fractions, not percents, for the default ``(0, 1)``); the lower
    end first; and at most ``max_width`` wide, since a range that holds everything cannot be wrong and
    so teaches nothing. A ``...`` anywhere means the learner has not started.
    """
    fractions = tuple(bounds) == (0.0, 1.0)
    if value is Ellipsis or value is None or (isinstance(value, (tuple, list)) and Ellipsis in value):
        raise NotStarted(f"{what}: replace the `...` with your prediction, a range (low, high).")
    if _validate.is_number(value):
        half = max_width / 4
        guess = float(value)
        raise Hint(
            f"{what}: give a range (low, high) around your guess rather than one number, e.g. "
            f"({max(bounds[0], guess - half):.3g}, {min(bounds[1], guess + half):.3g}): how sure you are is "
            "part of the prediction."
        )
    require(
        isinstance(value, (tuple, list)) and len(value) == 2 and all(_validate.is_number(v) for v in value),
        f"{what}: give a range of two numbers, (low, high). Received {value!r}.",
    )
    low, high = (float(v) for v in value)
    if fractions and 1 < max(low, high) <= 100 and min(low, high) >= 0:
        raise Hint(f"{what}: give it as fractions between 0 and 1 (62 % is 0.62). Received {value!r}.")
    require(
        bounds[0] <= min(low, high) and max(low, high) <= bounds[1],
        f"{what}: both ends must lie between {bounds[0]:g} and {bounds[1]:g}. Received {value!r}.",
    )
    require(low <= high, f"{what}: the range {value!r} is reversed; write the lower end first, (low, high).")
    if fractions:
        spans, limit = f"spans {100 * (high - low):.3g} points", f"{100 * max_width:g} points"
    else:
        spans, limit = f"is {high - low:.3g} wide", f"{max_width:g}"
    require(
        high - low <= max_width + 1e-9,
        f"{what}: your range {value!r} {spans}; commit to one at most {limit} wide: a prediction that allows "
        "everything cannot be wrong, so it teaches nothing.",
    )
    return low, high


def word_answer(value, words: dict[str, tuple[str, ...]], what: str, explain: str = "") -> str:
    """The answer (a key of ``words``) that the learner's text ``value`` names, or a Hint listing them.

    ``words`` maps each answer to the other words that mean it ("closes" for "shrinks"), so a learner
    is not marked wrong for a synonym; case and spacing do not matter. ``explain`` follows the list of
    answers in the hint (what each means).
    """
    choices = " or ".join(f'"{answer}"' for answer in words)
    if value is Ellipsis or value is None:
        raise NotStarted(f"{what}: replace the `...` with {choices}.")
    text = " ".join(value.lower().split()) if isinstance(value, str) else None
    for answer, synonyms in words.items():
        if text == answer or text in synonyms:
            return answer
    raise Hint(f"{what}: answer {choices}{explain}. Received {value!r}.")
