"""bench/capstone_seeds.py: the capstone recipe over seeds, validation and test per run, with medians."""

import dataclasses
import statistics

from bench import capstone_seeds
from helpers import recipes


def test_run_reports_each_seed_and_the_medians(tiny):
    recipe = recipes.ACCURATE.replace(augment=False, epochs=1, filters=(4,), convs_per_block=1, patience=None)
    lines = []
    result = capstone_seeds.run(tiny, seeds=(1, 2, 3), recipe=recipe, log=lines.append)
    assert result["seeds"] == [1, 2, 3] and [r["seed"] for r in result["runs"]] == [1, 2, 3]
    assert result["recipe"] == dataclasses.asdict(recipe)
    assert (result["val_size"], result["test_size"]) == (len(tiny.y_val), len(tiny.y_test))
    for r in result["runs"]:
        assert 0 <= r["val_accuracy"] <= 1 and 0 <= r["test_accuracy"] <= 1 and r["epochs_run"] == 1
    assert result["median_val_accuracy"] == statistics.median(r["val_accuracy"] for r in result["runs"])
    assert result["median_test_accuracy"] == statistics.median(r["test_accuracy"] for r in result["runs"])
    assert len(lines) == 3 and lines[0].startswith("    seed 1: val ")
