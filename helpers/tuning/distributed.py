"""Distributed hyperparameter search on one machine: a KerasTuner chief and N workers on 127.0.0.1.

usage: python -m helpers.tuning.distributed [--workers 2] [--kind random] [--max-trials N]
           [--epochs E] [--train-size N] [--project NAME] [--directory DIR] [--port P]
           [--timeout S] [--resume]
       make tune-distributed WORKERS=3

The launcher (:func:`launch`) picks a free port, starts the *chief* (it runs the oracle behind a gRPC
server and trains nothing), waits until it listens, then starts the *workers*: each loads the data,
asks the chief for a trial, trains it, reports the score, and asks again until the oracle's budget is
spent. All of them run this same module with ``--role``; KerasTuner tells them apart by three
environment variables (:data:`helpers.tuning.roles.ROLE_ENV`), set here for you:

* ``KERASTUNER_TUNER_ID`` — ``chief``, or ``tuner0``, ``tuner1``, ... (unique per worker);
* ``KERASTUNER_ORACLE_IP`` / ``KERASTUNER_ORACLE_PORT`` — where the chief listens.

Every process shares one project folder (``build/tuner/<project>``): the chief writes the trial
records there and the workers their checkpoints. Logs go to ``build/tuner/<project>.logs/``.

On several machines, skip the launcher and start the roles yourself, with a folder every machine
mounts (NFS, a mounted bucket) as ``--directory``: the chief writes the trial records there and
Hyperband's workers load the checkpoints of earlier rounds from it::

    # machine A (the chief; 0.0.0.0 listens on every interface, open the port in the firewall)
    KERASTUNER_TUNER_ID=chief KERASTUNER_ORACLE_IP=0.0.0.0 KERASTUNER_ORACLE_PORT=8000 \\
        python -m helpers.tuning.distributed --role --directory /shared/tuner
    # machines B, C, ... (one tuner id each; the chief's address)
    KERASTUNER_TUNER_ID=tuner0 KERASTUNER_ORACLE_IP=10.0.0.1 KERASTUNER_ORACLE_PORT=8000 \\
        python -m helpers.tuning.distributed --role --directory /shared/tuner

The port must be open between the machines and the traffic is unencrypted: keep it inside a
private network. A worker with several GPUs can train each trial on all of them with
``tuning.make_tuner(..., distribution_strategy=tf.distribute.MirroredStrategy())`` (see
:mod:`helpers.tuning`).

Workers wait for each other (a small file barrier, ``--barrier``) before they ask for trials, so a
worker that starts faster cannot take the whole budget before the others are ready.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from helpers import _io, _validate, config, data
from helpers.tuning.hypermodel import CNNHyperModel
from helpers.tuning.results import results_table
from helpers.tuning.roles import ROLE_ENV, is_chief
from helpers.tuning.searching import search
from helpers.tuning.space import Range
from helpers.tuning.tuners import TUNER_KINDS, CourseTuner, make_tuner

__all__ = ["SearchSpec", "DistributedResult", "demo_space", "run_role", "free_port", "launch", "main"]


@dataclasses.dataclass(frozen=True)
class SearchSpec:
    """The search every process of one distributed run agrees on (passed as command-line flags)."""

    kind: str = "random"
    max_trials: int = 4
    epochs: int = 1
    train_size: int = 300
    project: str = "distributed_demo"
    directory: str = str(config.BUILD_DIR / "tuner")
    seed: int = config.DEFAULT_SEED

    @classmethod
    def for_profile(cls, **overrides) -> SearchSpec:
        """Defaults of the active profile: a few seconds of work in smoke, a minute or two in full."""
        p = config.profile()
        base = dict(
            max_trials=p.pick(smoke=4, full=8), epochs=p.pick(smoke=1, full=4), train_size=p.pick(smoke=300, full=1500)
        )
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)

    def to_args(self) -> list[str]:
        return [
            f"--kind={self.kind}",
            f"--max-trials={self.max_trials}",
            f"--epochs={self.epochs}",
            f"--train-size={self.train_size}",
            f"--project={self.project}",
            f"--directory={self.directory}",
            f"--seed={self.seed}",
        ]

    @property
    def project_dir(self) -> Path:
        return Path(self.directory) / self.project

    @property
    def log_dir(self) -> Path:
        return Path(self.directory) / f"{self.project}.logs"


def demo_space() -> dict:
    """A small space that trains in seconds: learning rate, width and dropout of a 1-block CNN."""
    return {
        "learning_rate": Range(1e-3, 1e-2, log=True),
        "filters": [8, 16],
        "dropout": Range(0.0, 0.3, step=0.1),
        "blocks": 1,
        "convs_per_block": 1,
        "batch_norm": False,
        "head": "flatten",
        "dense_units": 0,
    }


def _make_tuner(spec: SearchSpec) -> CourseTuner:
    hm = CNNHyperModel((28, 28, 1), 10, demo_space(), patience=2, seed=spec.seed)
    kwargs = {} if spec.kind == "hyperband" else {"max_trials": spec.max_trials}
    return make_tuner(
        spec.kind,
        hm,
        project_name=spec.project,
        directory=spec.directory,
        max_epochs=spec.epochs,
        seed=spec.seed,
        **kwargs,
    )


def _wait_for_barrier(log_dir: Path, tuner_id: str, n: int, timeout: float = 120.0) -> None:
    (log_dir / f"ready_{tuner_id}").touch()
    deadline = time.monotonic() + timeout
    while len(list(log_dir.glob("ready_*"))) < n and time.monotonic() < deadline:
        time.sleep(0.1)


def run_role(spec: SearchSpec, *, barrier: int = 0) -> int:
    """Run this process's role (from ``KERASTUNER_TUNER_ID``): the chief serves, a worker trains."""
    missing = [k for k in ROLE_ENV if not os.environ.get(k)]
    if missing:
        raise SystemExit(f"--role needs the environment variables {', '.join(missing)} (see the module docstring).")
    tuner_id = os.environ["KERASTUNER_TUNER_ID"]
    config.setup(seed=spec.seed, show=False)
    if is_chief():
        tuner = _make_tuner(spec)
        print(
            f"chief: serving the oracle on {os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}",
            flush=True,
        )
        search(tuner, None)
        print("chief: all trials done", flush=True)
        return 0
    ds = data.load("mnist5k", train_size=spec.train_size, seed=spec.seed)
    tuner = _make_tuner(spec)
    if barrier:
        _wait_for_barrier(spec.log_dir, tuner_id, barrier)
    start = time.perf_counter()
    print(f"{tuner_id}: searching", flush=True)
    try:
        search(tuner, ds)
    finally:
        summary = {
            "tuner_id": tuner_id,
            "trials": tuner.course_trials_run,
            "failures": [t for t, _ in tuner.course_failures],
            "seconds": time.perf_counter() - start,
        }
        _io.write_text_atomic(spec.log_dir / f"{tuner_id}.json", json.dumps(summary))
    print(f"{tuner_id}: ran trials {tuner.course_trials_run}", flush=True)
    return 0


# ----------------------------------------------------------------------------------------------
# The launcher.


@dataclasses.dataclass
class DistributedResult:
    """What :func:`launch` returns."""

    project_dir: Path
    results: pd.DataFrame  # from helpers.tuning.results.results_table
    trials_per_worker: dict[str, list[str]]
    seconds: float


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


def _stop(proc: subprocess.Popen, grace: float = 5.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(grace)


def launch(
    workers: int = 2,
    *,
    spec: SearchSpec | None = None,
    port: int | None = None,
    timeout: float = 300.0,
    resume: bool = False,
    threads_per_worker: int | None = None,
    chief_grace: float = 5.0,
) -> DistributedResult:
    """Start a chief and ``workers`` workers on 127.0.0.1, wait for the search, return its results.

    Every process is stopped before this returns, also on errors and timeouts.

    Args:
        workers: number of worker processes (default 2).
        spec: the search (default :meth:`SearchSpec.for_profile`).
        port: the chief's port (default: a free one).
        timeout: seconds for the whole run (default 300); then everything is stopped and a
            ``TimeoutError`` names the logs to read.
        resume: keep an existing project folder and continue it (default False: start over).
        threads_per_worker: TensorFlow threads per worker (default: CPU cores / workers).
        chief_grace: seconds the chief gets to exit by itself once the workers are done; its state is
            saved after every trial, so it is then stopped safely.
    """
    workers = _validate.positive_int(workers, "workers")
    spec = spec or SearchSpec.for_profile()
    threads = threads_per_worker or max(1, (os.cpu_count() or 2) // workers)
    if not resume and spec.project_dir.exists():
        shutil.rmtree(spec.project_dir)
    if spec.log_dir.exists():
        shutil.rmtree(spec.log_dir)
    config.ensure_dir(spec.log_dir)
    port = port or free_port()
    base_env = {k: v for k, v in os.environ.items() if k not in ROLE_ENV}
    base_env.update(
        KERASTUNER_ORACLE_IP="127.0.0.1",
        KERASTUNER_ORACLE_PORT=str(port),
        PYTHONUNBUFFERED="1",
        TF_NUM_INTRAOP_THREADS=str(threads),
        TF_NUM_INTEROP_THREADS="1",
        OMP_NUM_THREADS=str(threads),
    )
    procs: dict[str, subprocess.Popen] = {}
    logs: dict[str, Path] = {}
    start = time.monotonic()
    deadline = start + timeout

    def spawn(tuner_id: str) -> None:
        logs[tuner_id] = spec.log_dir / f"{tuner_id}.log"
        cmd = [sys.executable, "-m", "helpers.tuning.distributed", "--role", f"--barrier={workers}", *spec.to_args()]
        with open(logs[tuner_id], "w") as out:
            procs[tuner_id] = subprocess.Popen(
                cmd,
                cwd=config.ROOT,
                env={**base_env, "KERASTUNER_TUNER_ID": tuner_id},
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def fail(message: str, who: str, exc=RuntimeError):
        raise exc(f"{message}\n--- last lines of {logs[who]} ---\n{_tail(logs[who])}")

    try:
        spawn("chief")
        while True:  # wait until the chief's gRPC server listens
            if procs["chief"].poll() is not None:
                fail(f"The chief exited early (code {procs['chief'].returncode}).", "chief")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    fail(f"The chief did not listen on port {port} within {timeout:.0f} s.", "chief", TimeoutError)
                time.sleep(0.2)
        worker_ids = [f"tuner{i}" for i in range(workers)]
        for tuner_id in worker_ids:
            spawn(tuner_id)
        for tuner_id in worker_ids:
            try:
                code = procs[tuner_id].wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                fail(f"The search did not finish within {timeout:.0f} s.", tuner_id, TimeoutError)
            if code != 0:
                fail(f"Worker {tuner_id} failed (exit code {code}).", tuner_id)
        try:
            procs["chief"].wait(chief_grace)
        except subprocess.TimeoutExpired:
            pass  # KerasTuner's chief polls every 20 s; every trial is already saved
    finally:
        for proc in procs.values():
            _stop(proc)

    results = results_table(spec.project_dir)
    per_worker = {}
    for tuner_id in worker_ids:
        summary = spec.log_dir / f"{tuner_id}.json"
        per_worker[tuner_id] = json.loads(summary.read_text())["trials"] if summary.exists() else []
    return DistributedResult(spec.project_dir, results, per_worker, time.monotonic() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.tuning.distributed", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--role", action="store_true", help="run as chief or worker (from KERASTUNER_TUNER_ID); used by the launcher"
    )
    parser.add_argument("--barrier", type=int, default=0, help="workers wait until this many are ready")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kind", default="random", choices=TUNER_KINDS)
    parser.add_argument("--max-trials", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--train-size", type=int, default=None)
    parser.add_argument("--project", default="distributed_demo")
    parser.add_argument("--directory", default=str(config.BUILD_DIR / "tuner"))
    parser.add_argument("--seed", type=int, default=config.DEFAULT_SEED)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--resume", action="store_true", help="continue the project instead of starting over")
    args = parser.parse_args(argv)
    spec = SearchSpec.for_profile(
        kind=args.kind,
        max_trials=args.max_trials,
        epochs=args.epochs,
        train_size=args.train_size,
        project=args.project,
        directory=args.directory,
        seed=args.seed,
    )
    if args.role:
        return run_role(spec, barrier=args.barrier)
    print(
        f"distributed search: 1 chief + {args.workers} workers on 127.0.0.1, {spec.kind}, "
        f"{spec.max_trials} trials x {spec.epochs} epochs, logs in {spec.log_dir}",
        flush=True,
    )
    result = launch(args.workers, spec=spec, port=args.port, timeout=args.timeout, resume=args.resume)
    for tuner_id, trials in result.trials_per_worker.items():
        print(f"  {tuner_id}: ran trials {', '.join(trials) or 'none'}")
    cols = ["trial", *result.results.attrs["hyperparameters"], "score", "epochs", "status", "run_by"]
    print(result.results[cols].to_string(index=False))
    print(f"done in {result.seconds:.0f} s; results in {result.project_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
