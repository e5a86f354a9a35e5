"""The self-check mechanism behind every exercise.

A check is a function decorated with :func:`exercise`. Inside it, :class:`Hint` says what to change;
any other error raised by the learner's code is reported too, never swallowed silently. The check
prints one line (a pass message, or what is wrong and how to fix it) and returns a
:class:`CheckResult` that is truthy only on success, so a solution cell can ``assert`` it.
"""

from __future__ import annotations

import dataclasses
import functools
import traceback
from collections.abc import Callable

import numpy as np

from helpers import _validate

PASS = "\u2705"
FAIL = "\u274c"


class Hint(Exception):
    """Raised inside a check with a message that tells the learner what to change."""


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """The outcome of one self-check: truthy when it passed, with the message shown."""

    title: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        mark, verdict = (PASS, "passed") if self.passed else (FAIL, "not yet")
        return f"{mark} {self.title}: {verdict}. {self.message}"

    def _ipython_display_(self) -> None:
        """Already printed when the check ran; show nothing twice in a notebook."""


NOT_STARTED = "Not started yet: replace the `...` / `raise NotImplementedError` in the exercise cell with your code."


def exercise(title: str) -> Callable:
    """Turn ``fn`` (which raises :class:`Hint` on a wrong answer) into a printing self-check."""

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def check(*args, **kwargs) -> CheckResult:
            try:
                praise = fn(*args, **kwargs)
            except Hint as hint:
                result = CheckResult(title, False, str(hint))
            except NotImplementedError:
                result = CheckResult(title, False, NOT_STARTED)
            except Exception as exc:  # noqa: BLE001 - the learner's code may raise anything
                where = traceback.extract_tb(exc.__traceback__)[-1]
                result = CheckResult(
                    title,
                    False,
                    f"Your code raised {type(exc).__name__}: {exc} (line {where.lineno} of {where.name}). "
                    "Fix that error first.",
                )
            else:
                result = CheckResult(title, True, praise or "Well done.")
            print(result)
            return result

        check.is_exercise_check = True
        return check

    return decorate


# Small assertions that produce learner-friendly hints.


def require(condition: bool, hint: str) -> None:
    """Raise :class:`Hint` with ``hint`` unless ``condition`` holds."""
    if not condition:
        raise Hint(hint)


def require_callable(fn, name: str) -> None:
    require(callable(fn), f"Pass your function `{name}` itself (no parentheses). Received: {type(fn).__name__}")


def require_array(value, shape: tuple | None = None, what: str = "Your result") -> np.ndarray:
    """Convert ``value`` to an array, with hints for ``None`` (a missing ``return``) and bad shapes."""
    if value is None or value is Ellipsis:
        raise Hint(f"{what} is {value!r}. Did you forget to `return` it, or leave the `...` in place?")
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
    if value is None or value is Ellipsis:
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
