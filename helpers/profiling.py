"""Where a notebook's time goes: imports, ``tf.function`` tracing, training, evaluation, plotting.

``helpers.runner`` installs a :class:`PhaseTimer` in every kernel it starts, before the notebook's
first cell, and reads :meth:`PhaseTimer.report` after the last one, so ``make course`` and
``make bench`` can say which phase of which notebook to speed up next (the speed issue asks for
this profile before any change). The timer wraps ``keras.Model.fit`` / ``evaluate`` / ``predict``,
every public figure function of :mod:`helpers.plots` and IPython's rendering of figures; what it does
not see (``model(x)`` calls, gradient tapes, scikit-learn, NumPy) is reported as ``other``.

Tracing is estimated per call, from batch timings: the first batch of each mode (train, test,
predict) minus the median of the others. The first call of a ``tf.function`` pays for tracing and
graph optimization; later ones do not, so the excess of the first batch is that cost. A call with a
single batch has no median to compare with, so its whole first batch counts as tracing (an upper
bound; the first call of a fresh model is nearly all tracing at these sizes).
"""

from __future__ import annotations

import functools
import json
import statistics
import time
from collections.abc import Callable

PHASES = ("imports", "tracing", "training", "evaluation", "plotting")
REPORT_MARKER = "COURSE_PROFILE_REPORT "


class _BatchClock:
    """A callback that records each batch's duration per mode, to estimate the tracing overhead."""

    def __init__(self):
        import keras

        class Clock(keras.callbacks.Callback):
            def __init__(inner):
                super().__init__()
                inner.durations = {"train": [], "test": [], "predict": []}
                inner._start = {}

            def _begin(inner, mode):
                inner._start[mode] = time.perf_counter()

            def _end(inner, mode):
                if mode in inner._start:
                    inner.durations[mode].append(time.perf_counter() - inner._start.pop(mode))

            def on_train_batch_begin(inner, batch, logs=None):
                inner._begin("train")

            def on_train_batch_end(inner, batch, logs=None):
                inner._end("train")

            def on_test_batch_begin(inner, batch, logs=None):
                inner._begin("test")

            def on_test_batch_end(inner, batch, logs=None):
                inner._end("test")

            def on_predict_batch_begin(inner, batch, logs=None):
                inner._begin("predict")

            def on_predict_batch_end(inner, batch, logs=None):
                inner._end("predict")

        self.callback = Clock()

    def tracing_seconds(self) -> float:
        """The first batches' excess over the median batch, summed over modes."""
        total = 0.0
        for durations in self.callback.durations.values():
            if not durations:
                continue
            rest = durations[1:]
            typical = statistics.median(rest) if rest else 0.0
            total += max(0.0, durations[0] - typical)
        return total


class PhaseTimer:
    """Accumulates seconds per phase in one process (one notebook kernel).

    Calls nested inside a timed call (the validation pass inside ``fit``, a ``fit`` inside a
    KerasTuner search, a plot that calls ``predict``) count once, in the outer call's phase.
    """

    def __init__(self):
        self.seconds = dict.fromkeys(PHASES, 0.0)
        self.calls = {"fit": 0, "evaluate": 0, "predict": 0, "plots": 0}
        self._busy = False
        self._installed = False

    def _timed(self, phase: str, counter: str, fn: Callable, *, clock: bool) -> Callable:
        timer = self

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if timer._busy:
                return fn(*args, **kwargs)
            probe = None
            if clock and len(args) <= 5:  # (self, x, ...): `callbacks` is not among them in fit/evaluate/predict
                probe = _BatchClock()
                kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), probe.callback]
            timer._busy = True
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                timer._busy = False
                tracing = min(elapsed, probe.tracing_seconds()) if probe else 0.0
                timer.seconds["tracing"] += tracing
                timer.seconds[phase] += elapsed - tracing
                timer.calls[counter] += 1

        wrapper.__wrapped_by_phase_timer__ = True
        return wrapper

    def install(self) -> PhaseTimer:
        """Import the stack (timed as ``imports``) and wrap the calls to time; idempotent."""
        if self._installed:
            return self
        start = time.perf_counter()
        import keras
        import tensorflow  # noqa: F401 - imported here so its import time is counted

        from helpers import plots

        self.seconds["imports"] += time.perf_counter() - start
        for name, phase in (("fit", "training"), ("evaluate", "evaluation"), ("predict", "evaluation")):
            original = getattr(keras.Model, name)
            setattr(keras.Model, name, self._timed(phase, name, original, clock=True))
        for name in plots.__all__:
            original = getattr(plots, name)
            if callable(original):
                setattr(plots, name, self._timed("plotting", "plots", original, clock=False))
        try:
            from IPython.core import pylabtools
        except ImportError:  # not in a kernel: nothing renders figures
            pass
        else:
            pylabtools.print_figure = self._timed("plotting", "plots", pylabtools.print_figure, clock=False)
        self._installed = True
        return self

    def report(self, total_seconds: float | None = None) -> dict:
        """Seconds per phase (rounded), and ``other`` when the notebook's total is given."""
        out = {phase: round(s, 2) for phase, s in self.seconds.items()}
        if total_seconds is not None:
            out["other"] = round(max(0.0, total_seconds - sum(self.seconds.values())), 2)
        out["calls"] = dict(self.calls)
        return out


TIMER = PhaseTimer()

# What helpers.runner runs in a notebook's kernel before its first cell and after its last one.
INSTALL_SNIPPET = "from helpers import profiling as _course_profiling\n_course_profiling.TIMER.install()"
REPORT_SNIPPET = f"print({REPORT_MARKER!r} + __import__('json').dumps(_course_profiling.TIMER.report()))"


def parse_report(text: str) -> dict | None:
    """The report printed by :data:`REPORT_SNIPPET`, from a cell's stdout; None if absent."""
    for line in text.splitlines():
        if line.startswith(REPORT_MARKER):
            return json.loads(line[len(REPORT_MARKER) :])
    return None
