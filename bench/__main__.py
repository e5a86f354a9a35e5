"""make bench: run the benchmarks and write bench/results/latest.{md,json}.

usage: python -m bench [--quick] [--only NAME ...] [--device auto|cpu|gpu] [--mixed-precision] [--xla]
                       [--seeds N] [--budget S] [--no-full-course] [--out DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path

BENCHES = ("time_to_accuracy", "throughput", "hardware", "levers", "course_runtime")
RESULTS = Path(__file__).resolve().parent / "results"


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m bench", description="Benchmarks of the course's recipes.")
    p.add_argument("--quick", action="store_true", help="tiny budgets: checks that every benchmark runs")
    p.add_argument("--only", nargs="+", choices=BENCHES, default=list(BENCHES))
    p.add_argument(
        "--device",
        choices=("auto", "cpu", "gpu"),
        default="auto",
        help="cpu hides GPUs; gpu fails if none is visible (default auto)",
    )
    p.add_argument("--mixed-precision", action="store_true", help="mixed_float16 on GPU, mixed_bfloat16 on CPU")
    p.add_argument("--xla", action="store_true", help="turn on XLA auto-clustering (tf.config.optimizer.set_jit)")
    p.add_argument("--seeds", type=int, default=3, help="seeds per recipe in time_to_accuracy (default 3)")
    p.add_argument("--budget", type=float, default=60.0, help="training seconds per run (default 60)")
    p.add_argument("--target", type=float, default=0.98, help="validation accuracy to reach (default 0.98)")
    p.add_argument("--no-full-course", action="store_true", help="course_runtime: smoke profile only")
    p.add_argument("--out", type=Path, default=RESULTS)
    return p.parse_args(argv)


def configure_device(args) -> dict:
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    import keras
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if args.device == "gpu" and not gpus:
        sys.exit(
            "--device gpu: TensorFlow sees no GPU here. Install the GPU build (pip install -e '.[gpu]') "
            "on a machine with an NVIDIA driver, or use --device cpu."
        )
    policy = "float32"
    if args.mixed_precision:
        policy = "mixed_float16" if gpus else "mixed_bfloat16"
        keras.mixed_precision.set_global_policy(policy)
    if args.xla:
        tf.config.optimizer.set_jit(True)
    return {
        "device": "gpu" if gpus else "cpu",
        "gpus": [g.name for g in gpus],
        "precision_policy": policy,
        "xla": bool(args.xla),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }


def main(argv=None) -> int:
    args = parse(argv)
    import helpers.config  # noqa: F401 - sets TensorFlow's C++ log level before TensorFlow loads

    env = configure_device(args)
    from bench import report
    from helpers import config, data

    config.setup(show=False)
    quick = args.quick
    results = {
        "generated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "quick": quick,
        "environment": env,
        "benchmarks": {},
    }
    print(
        f"Benchmarks on {env['device']} ({env['cpu_count']} CPUs), policy {env['precision_policy']}, "
        f"XLA {'on' if env['xla'] else 'off'}{' [quick]' if quick else ''}"
    )
    ds = data.load("mnist5k", train_size=300 if quick else None)
    started = time.perf_counter()
    if "time_to_accuracy" in args.only:
        from bench import contenders, time_to_accuracy

        print("  time to accuracy (mnist5k, validation accuracy checked every epoch, test once at the end):")
        seeds = [1] if quick else list(range(1, args.seeds + 1))
        budget = 2.0 if quick else args.budget
        results["benchmarks"]["time_to_accuracy"] = time_to_accuracy.run(
            contenders.all_contenders(max_epochs=1 if quick else 100),
            ds,
            seeds=seeds,
            target=args.target,
            budget_s=budget,
        )
    if "throughput" in args.only:
        from bench import throughput

        print("  input pipeline throughput (training images/s):")
        results["benchmarks"]["throughput"] = throughput.run(
            ds, n_images=256 if quick else 2048, repeats=1 if quick else 3
        )
    if "hardware" in args.only:
        from bench import hardware

        print("  fraction of the hardware limit:")
        results["benchmarks"]["hardware"] = hardware.run(ds, n_images=256 if quick else 2048, repeats=1 if quick else 3)
    if "levers" in args.only:
        from bench import levers

        print("  speed levers, each against today's setting (the profile below says where time goes):")
        results["benchmarks"]["levers"] = levers.run(
            ds, n_images=256 if quick else 2048, repeats=1 if quick else 3, quick=quick
        )
    if "course_runtime" in args.only:
        from bench import course_runtime

        print("  course runtime and memory (each notebook in a fresh kernel):")
        notebooks = sorted((config.ROOT / "notebooks").glob("[0-9]*.ipynb"))
        if quick:
            notebooks = notebooks[:1]
        profiles = ["smoke"] if (quick or args.no_full_course) else ["smoke", "full"]
        results["benchmarks"]["course_runtime"] = {
            p: course_runtime.run(p, notebooks, config.BUILD_DIR / "bench" / p) for p in profiles
        }
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "quick" if quick else "latest"
    (args.out / f"{stem}.json").write_text(json.dumps(results, indent=2, default=str))
    text = report.markdown(results)
    (args.out / f"{stem}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
