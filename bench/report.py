"""Turn the benchmark results into the markdown table a person reads (bench/results/latest.md)."""

from __future__ import annotations

from bench.course_runtime import BUDGETS
from bench.time_to_accuracy import TARGET_SPEEDUP


def _fmt_budget(notebook: dict) -> str:
    budget = notebook.get("budget_s")
    if budget is None:
        return "-"
    return f"{budget:.0f}" if notebook.get("within_budget") else f"{budget:.0f} (**over**)"


def _fmt_time(t):
    return "not reached" if t is None or t == float("inf") else f"{t:.1f} s"


QUICK_NOTE = " — QUICK RUN (tiny budgets, numbers meaningless)"


PROFILE_COLUMNS = ("kernel_start", "imports", "tracing", "training", "evaluation", "plotting", "other")


def _profile_table(course_runtime: dict) -> list[str]:
    """Seconds per phase per notebook (``helpers.profiling``): the next speed-up aims at the biggest cell."""
    out = [
        "## Where the time goes",
        "",
        "Seconds per phase in each notebook's kernel (`helpers.profiling`): tracing is the first batches' "
        "excess over the median batch of each `fit` / `evaluate` / `predict`; validation inside `fit` counts "
        "as training; `other` is what no timed call covers (`model(x)`, gradient tapes, scikit-learn, NumPy).",
        "",
        "| profile | notebook | " + " | ".join(PROFILE_COLUMNS) + " | total |",
        "|---|---|" + "---|" * (len(PROFILE_COLUMNS) + 1),
    ]
    for profile, r in course_runtime.items():
        sums = dict.fromkeys(PROFILE_COLUMNS, 0.0)
        for n in r["notebooks"]:
            phases = n.get("phases")
            if not phases:
                continue
            for c in PROFILE_COLUMNS:
                sums[c] += phases.get(c, 0.0)
            cells = " | ".join(f"{phases.get(c, 0.0):.0f}" for c in PROFILE_COLUMNS)
            out.append(f"| {profile} | {n['notebook']} | {cells} | {n['seconds']:.0f} |")
        cells = " | ".join(f"**{sums[c]:.0f}**" for c in PROFILE_COLUMNS)
        out.append(f"| {profile} | **total** | {cells} | **{r['total_s']:.0f}** |")
    return [*out, ""]


def _levers_table(levers: dict) -> list[str]:
    """The speed levers side by side (``bench/levers.py``): each against today's setting, in one run."""
    out = [
        "## Speed levers",
        "",
        f"Training and prediction throughput of the course CNN (batch {levers['batch_size']} for training), "
        "contenders interleaved in one process; threads each in a fresh process; seeds: one three-seed "
        "experiment run serially vs in two one-thread worker processes (`runs.over_seeds(..., workers=2)`).",
        "",
        "| lever | setting | result |",
        "|---|---|---|",
    ]
    for group, label in (
        ("training_images_per_second", "training feed"),
        ("prediction_images_per_second", "prediction batch"),
        ("threads_images_per_second", "threads"),
    ):
        out += [f"| {label} | {name} | {rate:.0f} images/s |" for name, rate in levers[group].items()]
    out += [f"| seeds in parallel | {name} | {r['seconds']:.1f} s |" for name, r in levers["seeds_in_parallel"].items()]
    return [*out, ""]


def markdown(results: dict) -> str:
    env = results["environment"]
    out = [
        "# Benchmark results",
        "",
        f"Generated {results['generated']} on {env['device']} ({env['cpu_count']} CPUs, {env['machine']}), "
        f"TensorFlow {env['tensorflow']}, Keras {env['keras']}, precision {env['precision_policy']}, "
        f"XLA {'on' if env['xla'] else 'off'}{QUICK_NOTE if results['quick'] else ''}. "
        f"Total {results['total_seconds']:.0f} s.",
        "",
    ]
    b = results["benchmarks"]
    if "time_to_accuracy" in b:
        t = b["time_to_accuracy"]
        s = t["summary"]
        out += [
            f"## Time to {s['target_accuracy']:.1%} validation accuracy on mnist5k",
            "",
            f"Training seconds (evaluation excluded) until the validation accuracy, checked after every epoch, "
            f"first reaches the target; best validation accuracy within {s['budget_s']:.0f} s of training. The "
            f"race looks at validation only; each run's test accuracy is measured once, after training. "
            f"Medians over seeds {s['seeds']}.",
            "",
            "| recipe | batch | reached | median time to target | median best val accuracy | median test accuracy |",
            "|---|---|---|---|---|---|",
        ]
        for name, r in t["recipes"].items():
            out.append(
                f"| {name} | {r['batch_size']} | {r['reached_target']} | "
                f"{_fmt_time(r['median_time_to_target_s'])} | {r['median_best_val_accuracy']:.2%} | "
                f"{r['median_test_accuracy']:.2%} |"
            )
        speedup = s["speedup_vs_fastest_reference"]
        speedup = f"{speedup:.2f}x" if isinstance(speedup, (int, float)) else speedup
        best = "yes" if s["course_best_val_accuracy_is_highest"] else "no"
        out += [
            "",
            f"Course recipe speed-up over the fastest reference: **{speedup}** (target {TARGET_SPEEDUP:g}x); "
            f"course recipe has the best validation accuracy: **{best}**.",
            "",
        ]
    if "throughput" in b:
        t = b["throughput"]
        alone = t.get("input_only_images_per_second", {})
        out += [
            "## Input pipeline throughput",
            "",
            f"Training images/s of the course CNN on {t['images']} images, batch {t['batch_size']}, median of "
            f'{t["repeats"]} epochs after a warm-up epoch (the feeds take turns, epoch by epoch); "input alone" '
            "iterates the feed without training (augmentation in the model has no input-side cost).",
            "",
            "| feed | training images/s | input alone images/s |",
            "|---|---|---|",
        ]
        out += [
            f"| {k} | {v:.0f} | {'-' if alone.get(k) is None else f'{alone[k]:.0f}'} |"
            for k, v in t["images_per_second"].items()
        ]
        out += [
            "",
            f"Best augmented tf.data feed vs the naive Python generator, training: "
            f"**{t['ratio_best_tfdata_augmented_vs_naive']}x**"
            + (
                f"; input side alone (tf.data map vs naive): **{t['ratio_tfdata_map_vs_naive_input_only']}x**"
                if "ratio_tfdata_map_vs_naive_input_only" in t
                else ""
            )
            + ". When every feed alone delivers far more images/s than training consumes, the model is the "
            "bottleneck and the training rates tie: the pipeline only matters once it is slower than the step.",
            "",
        ]
    if "hardware" in b:
        h = b["hardware"]
        out += [
            "## Fraction of the hardware limit",
            "",
            "| forward MFLOP/image | training images/s | achieved GFLOP/s (3x forward) | fp32 matmul GFLOP/s "
            "| fraction |",
            "|---|---|---|---|---|",
            f"| {h['forward_mflops_per_image']} | {h['training_images_per_second']:.0f} | {h['achieved_gflops']} | "
            f"{h['matmul_gflops']} | **{h['fraction_of_matmul']:.1%}** |",
            "",
        ]
    if "levers" in b:
        out += _levers_table(b["levers"])
    if "course_runtime" in b:
        out += [
            "## Course runtime and memory",
            "",
            "Each notebook in a fresh kernel (`helpers.runner`); peak = resident memory of the kernel.",
            "",
            "| profile | notebook | seconds | budget s | peak MiB | ok |",
            "|---|---|---|---|---|---|",
        ]
        for profile, r in b["course_runtime"].items():
            out += [
                f"| {profile} | {n['notebook']} | {n['seconds']:.0f} | {_fmt_budget(n)} | {n['peak_rss_mib']:.0f} | "
                f"{'yes' if n['ok'] else 'NO'} |"
                for n in r["notebooks"]
            ]
            out.append(
                f"| {profile} | **total** | **{r['total_s']:.0f}** | {BUDGETS[profile]['total_s']} | "
                f"**{r['peak_rss_mib']:.0f}** | {'yes' if r['all_ok'] else 'NO'} |"
            )
        out += [
            "",
            f"Budgets: smoke under {BUDGETS['smoke']['total_s']} s, full under {BUDGETS['full']['total_s']} s, "
            f"peak memory under {BUDGETS['peak_mib']} MiB, and each notebook within its own budget: "
            + "; ".join(
                f"{p} time {'met' if r['within_time_budget'] else 'MISSED'}, memory "
                f"{'met' if r['within_memory_budget'] else 'MISSED'}, notebooks over budget: "
                f"{', '.join(r.get('notebooks_over_budget') or []) or 'none'}"
                for p, r in b["course_runtime"].items()
            ),
            "",
        ]
        out += _profile_table(b["course_runtime"])
    out += [
        "## How to read this",
        "",
        "Absolute numbers depend on the machine and on what else runs; compare rows within one table (they "
        'were measured in the same run). Re-run with `make bench`; `make bench BENCH_ARGS="--device gpu '
        '--mixed-precision --xla"` records the toggles in the header.',
        "",
    ]
    return "\n".join(out)
