"""Argument checks shared by every helper, with one message style.

Each check returns the value converted to a plain Python type, or raises ``ValueError`` (``TypeError``
where the kind of object is wrong) whose message names the argument, says what it must be, and
ends with ``Received: name=value``, like Keras' own layers. Booleans are never accepted as numbers:
``epochs=True`` is a mistake, not 1.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np


def _fail(name: str, rule: str, value: Any) -> ValueError:
    return ValueError(f"{name} must be {rule}. Received: {name}={value!r}")


def is_int(value) -> bool:
    """True for Python and NumPy integers, False for booleans."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_number(value) -> bool:
    """True for Python and NumPy ints and floats, False for booleans."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def positive_int(value, name: str, *, allow_none: bool = False) -> int | None:
    """``value`` as an ``int`` >= 1 (or None when ``allow_none``)."""
    if value is None and allow_none:
        return None
    if not is_int(value) or value < 1:
        raise _fail(name, "a positive integer" + (" or None" if allow_none else ""), value)
    return int(value)


def non_negative_int(value, name: str) -> int:
    """``value`` as an ``int`` >= 0."""
    if not is_int(value) or value < 0:
        raise _fail(name, "an integer >= 0", value)
    return int(value)


def int_at_least(value, name: str, minimum: int) -> int:
    """``value`` as an ``int`` >= ``minimum``."""
    if not is_int(value) or value < minimum:
        raise _fail(name, f"an integer >= {minimum}", value)
    return int(value)


def seed(value, name: str = "seed") -> int:
    """A seed: an integer >= 0."""
    if not is_int(value) or value < 0:
        raise _fail(name, "a non-negative integer", value)
    return int(value)


def seeds(values, name: str = "seeds") -> tuple[int, ...]:
    """A non-empty sequence of distinct seeds (a single integer is one seed)."""
    if is_int(values):
        values = (values,)
    try:
        values = tuple(values)
    except TypeError:
        raise _fail(name, "a sequence of non-negative integers", values) from None
    if not values or any(not is_int(s) or s < 0 for s in values):
        raise _fail(name, "a non-empty sequence of non-negative integers", values)
    if len(set(values)) != len(values):
        raise ValueError(f"{name} must not repeat (a repeated seed repeats the same run). Received: {name}={values!r}")
    return tuple(int(s) for s in values)


def positive_number(value, name: str) -> float:
    """``value`` as a finite ``float`` > 0."""
    if not is_number(value) or not 0 < value < math.inf:
        raise _fail(name, "a positive number", value)
    return float(value)


def non_negative_number(value, name: str) -> float:
    """``value`` as a finite ``float`` >= 0."""
    if not is_number(value) or not 0 <= value < math.inf:
        raise _fail(name, "a finite number >= 0", value)
    return float(value)


def number_above(value, name: str, bound: float) -> float:
    """``value`` as a finite ``float`` > ``bound``."""
    if not is_number(value) or not bound < value < math.inf:
        raise _fail(name, f"a number > {bound:g}", value)
    return float(value)


def fraction(value, name: str, *, closed: bool = False) -> float:
    """A rate such as dropout: a number in [0, 1) (in [0, 1] when ``closed``)."""
    if not is_number(value) or not (0 <= value and (value <= 1 if closed else value < 1)):
        raise _fail(name, "in [0, 1]" if closed else "in [0, 1)", value)
    return float(value)


def open_fraction(value, name: str) -> float:
    """A share of something that cannot be empty or whole: a number in (0, 1)."""
    if not is_number(value) or not 0 < value < 1:
        raise _fail(name, "in (0, 1)", value)
    return float(value)


def boolean(value, name: str) -> bool:
    """``value`` if it is ``True`` or ``False``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False. Received: {name}={value!r}")
    return bool(value)


def one_of(value, name: str, options: Iterable) -> Any:
    """``value`` if it is one of ``options``."""
    options = tuple(options)
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}. Received: {name}={value!r}")
    return value


def non_empty_str(value, name: str) -> str:
    """A string with something in it besides spaces."""
    if not isinstance(value, str) or not value.strip():
        raise _fail(name, "a non-empty string", value)
    return value


def int_sequence(values, name: str, *, minimum: int = 1) -> tuple[int, ...]:
    """A non-empty sequence of integers, each >= ``minimum``."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise _fail(name, f"a non-empty sequence of integers >= {minimum}", values)
    if len(values) == 0 or any(not is_int(v) or v < minimum for v in values):
        raise _fail(name, f"a non-empty sequence of integers >= {minimum}", values)
    return tuple(int(v) for v in values)
