"""Self-checks for the exercises: ``checks.<name>(answer)`` prints what is right or what to change.

Each notebook's checks live in their own module (listing them in its ``__all__``) and are
re-exported here, so a notebook calls ``checks.conv2d(my_conv2d)`` without knowing where a check is
defined. The mechanism itself is in :mod:`helpers.checks._core`.
"""

from helpers._reexport import reexport, submodules
from helpers.checks._core import CheckResult, Hint, answer, exercise, progress, results, run_solution, use_solution

# The mechanism (see _core): a check's result, hints, and the calls a notebook makes around its exercises.
__all__ = ["CheckResult", "Hint", "answer", "exercise", "progress", "results", "run_solution", "use_solution"]
MECHANISM = tuple(__all__)
_MODULES = submodules(__name__, __path__)
__all__ += reexport(globals(), _MODULES, "check")
