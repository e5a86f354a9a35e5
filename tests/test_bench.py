"""Smoke test of `make bench`: every benchmark runs and writes its fields (no timing assertions)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_quick_bench_writes_every_field(tmp_path):
    env = {**os.environ, "COURSE_VERBOSE": "0"}
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--device", "cpu", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((tmp_path / "quick.json").read_text())
    assert results["environment"]["device"] == "cpu" and results["environment"]["precision_policy"] == "float32"
    b = results["benchmarks"]
    tta = b["time_to_accuracy"]
    assert set(tta["recipes"]) == {"course recipe", "Keras simple MNIST convnet", "TF CNN tutorial", "LeNet-5 + SGD"}
    for r in tta["recipes"].values():
        assert 0.0 <= r["median_best_val_accuracy"] <= 1.0 and r["runs"][0]["epochs"] >= 1
        assert 0.0 <= r["median_test_accuracy"] <= 1.0 and "test_accuracy" in r["runs"][0]
    assert {"speedup_vs_fastest_reference", "course_best_val_accuracy_is_highest"} <= set(tta["summary"])
    rates = b["throughput"]["images_per_second"]
    assert len(rates) == 4 and all(v > 0 for v in rates.values())
    assert b["throughput"]["ratio_best_tfdata_augmented_vs_naive"] > 0
    alone = b["throughput"]["input_only_images_per_second"]
    assert alone["tf.data + augmentation in the model"] is None  # its augmentation runs in the step
    assert sum(v is not None and v > 0 for v in alone.values()) == 3
    assert b["throughput"]["ratio_tfdata_map_vs_naive_input_only"] > 0
    hw = b["hardware"]
    assert hw["forward_mflops_per_image"] > 0 and 0 < hw["fraction_of_matmul"] < 1.5
    course = b["course_runtime"]["smoke"]
    assert course["notebooks"][0]["ok"] and course["peak_rss_mib"] > 0
    assert course["notebooks"][0]["phases"]["imports"] > 0  # the profile of where the time goes
    md = (tmp_path / "quick.md").read_text()
    headings = ("Time to", "Input pipeline throughput", "Fraction of the hardware limit", "Course runtime")
    for heading in (*headings, "Where the time goes"):
        assert heading in md


def test_gpu_request_without_gpu_is_a_clear_error(tmp_path):
    pytest.importorskip("tensorflow")
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU is visible here")
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--device", "gpu", "--only", "hardware", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0 and "TensorFlow sees no GPU" in proc.stderr


def test_median_time_counts_misses_as_never_and_stays_json_safe():
    from bench.time_to_accuracy import _median_time

    assert _median_time([10.0, 20.0, 30.0]) == 20.0
    assert _median_time([10.0, None, 30.0]) == 30.0  # a miss is the slowest seed, not a skipped one
    assert _median_time([10.0, None, None]) is None  # most seeds never got there: "not reached"
    json.dumps({"t": _median_time([None])}, allow_nan=False)


def test_course_runtime_checks_each_notebook_against_its_budget():
    from bench import course_runtime, report

    assert course_runtime.notebook_budget("full", "03_architecture.ipynb") == 240
    assert course_runtime.notebook_budget("full", "07_transfer_learning.ipynb") == 300
    assert course_runtime.notebook_budget("full", "09_hyperparameter_search.ipynb") == 600
    assert course_runtime.notebook_budget("smoke", "09_hyperparameter_search.ipynb") == 90
    assert course_runtime.notebook_budget("smoke", "10_debugging_training.ipynb") == 60
    assert course_runtime.notebook_budget("smoke", "03_architecture.ipynb") is None
    runner_report = {
        "total_seconds": 700.0,
        "notebooks": [
            {"notebook": "03_architecture.ipynb", "seconds": 200.0, "peak_rss_mib": 900.0, "ok": True},
            {"notebook": "08_overfitting.ipynb", "seconds": 250.0, "peak_rss_mib": 1200.0, "ok": True},
            {"notebook": "09_hyperparameter_search.ipynb", "seconds": 250.0, "peak_rss_mib": 1000.0, "ok": True},
        ],
    }
    full = course_runtime.summarize("full", runner_report)
    assert [n["within_budget"] for n in full["notebooks"]] == [True, False, True]
    assert full["notebooks_over_budget"] == ["08_overfitting.ipynb"]
    assert full["within_time_budget"] and full["within_memory_budget"] and full["peak_rss_mib"] == 1200.0
    results = {
        "generated": "now",
        "quick": False,
        "total_seconds": 700.0,
        "environment": {
            "device": "cpu",
            "cpu_count": 2,
            "machine": "x86_64",
            "tensorflow": "2",
            "keras": "3",
            "precision_policy": "float32",
            "xla": False,
        },
        "benchmarks": {"course_runtime": {"full": full}},
    }
    md = report.markdown(results)
    assert "| full | 08_overfitting.ipynb | 250 | 240 (**over**) |" in md
    assert "notebooks over budget: 08_overfitting.ipynb" in md
