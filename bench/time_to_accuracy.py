"""Time to accuracy: wall-clock training time until the *validation* accuracy (checked each epoch)
first reaches the target, and the best validation accuracy within a fixed time budget. Evaluation
time is not counted. The race, and so every choice it informs (the course's recipes), looks only at
the validation split; each run's test accuracy is measured once, after its training ends."""

from __future__ import annotations

import statistics
import time

import keras
import numpy as np

from bench.contenders import Contender
from helpers import data, evaluation

TARGET_SPEEDUP = 2.0
"""The issue's goal: the course recipe reaches the target at least this many times sooner than the
fastest reference recipe."""


class _Clock(keras.callbacks.Callback):
    """Counts training seconds only, evaluates the validation split after every epoch, stops at the budget."""

    def __init__(self, ds: data.Dataset, target: float, budget_s: float):
        super().__init__()
        self.ds, self.target, self.budget_s = ds, target, budget_s

    def on_train_begin(self, logs=None):
        self.train_s, self.curve, self.time_to_target = 0.0, [], None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.train_s += time.perf_counter() - self._start
        acc = evaluation.evaluate(self.model, self.ds, "val")
        self.curve.append((round(self.train_s, 2), round(acc, 4)))
        if self.time_to_target is None and acc >= self.target:
            self.time_to_target = self.train_s
        if self.train_s >= self.budget_s:
            self.model.stop_training = True


def run_one(recipe: Contender, ds: data.Dataset, seed: int, *, target: float, budget_s: float) -> dict:
    model = recipe.build(ds, seed)
    clock = _Clock(ds, target, budget_s)
    augment = recipe.augment(ds, seed) if recipe.augment else None
    train, _, _ = ds.pipelines(recipe.batch_size, augment=augment, seed=seed)
    model.fit(train, epochs=recipe.max_epochs, callbacks=[clock], verbose=0, shuffle=False)
    return {
        "seed": seed,
        "time_to_target_s": clock.time_to_target,
        "best_val_accuracy": max(a for _, a in clock.curve),
        "final_val_accuracy": clock.curve[-1][1],
        "test_accuracy": round(evaluation.evaluate(model, ds, "test"), 4),  # once, after training
        "epochs": len(clock.curve),
        "train_s": round(clock.train_s, 2),
        "curve": clock.curve,
    }


def _median_time(times: list[float | None]) -> float | None:
    """The median over seeds, a seed that never reached the target counting as infinitely slow;
    None when that median is itself "never" (JSON has no infinity)."""
    median = statistics.median([t if t is not None else float("inf") for t in times])
    return None if median == float("inf") else median


def run(recipes: list[Contender], ds: data.Dataset, *, seeds, target: float, budget_s: float, log=print) -> dict:
    results = {}
    for recipe in recipes:
        runs = []
        for seed in seeds:
            runs.append(run_one(recipe, ds, seed, target=target, budget_s=budget_s))
            r = runs[-1]
            seconds = r["time_to_target_s"]
            shown = seconds if seconds is None else round(seconds, 1)
            log(
                f"    {recipe.name:<28} seed {seed}: best val {r['best_val_accuracy']:.4f}, time to {target:.1%}: "
                f"{shown} s, test {r['test_accuracy']:.4f}"
            )
        times = [r["time_to_target_s"] for r in runs]
        reached = [t for t in times if t is not None]
        results[recipe.name] = {
            "source": recipe.source,
            "batch_size": recipe.batch_size,
            "reached_target": f"{len(reached)}/{len(runs)}",
            "median_time_to_target_s": _median_time(times),
            "median_best_val_accuracy": float(np.median([r["best_val_accuracy"] for r in runs])),
            "median_test_accuracy": float(np.median([r["test_accuracy"] for r in runs])),
            "runs": runs,
        }
    course = results[recipes[0].name]["median_time_to_target_s"]
    refs = [v["median_time_to_target_s"] for k, v in results.items() if k != recipes[0].name]
    reached_refs = [t for t in refs if t is not None]
    fastest_ref = min(reached_refs) if reached_refs else None
    summary = {
        "target_accuracy": target,
        "budget_s": budget_s,
        "seeds": list(seeds),
        "speedup_vs_fastest_reference": round(fastest_ref / course, 2) if course and fastest_ref else None,
        "course_best_val_accuracy_is_highest": results[recipes[0].name]["median_best_val_accuracy"]
        >= max(v["median_best_val_accuracy"] for v in results.values()),
    }
    if course is not None and fastest_ref is None:
        summary["speedup_vs_fastest_reference"] = "no reference reached the target"
    return {"summary": summary, "recipes": results}
