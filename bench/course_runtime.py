"""Course runtime and memory: every notebook in a fresh kernel, per profile, with the kernel's peak RSS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers import config

BUDGETS = {"smoke": {"total_s": 6 * 60}, "full": {"total_s": 30 * 60}, "peak_mib": 4 * 1024}


def run(profile: str, notebooks: list[Path], out: Path, log=print) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "COURSE_PROFILE": profile}
    cmd = [sys.executable, "-m", "helpers.runner", "--profile", profile, "--out", str(out), *map(str, notebooks)]
    proc = subprocess.run(cmd, env=env, cwd=config.ROOT, capture_output=True, text=True)
    report_path = out / "course_report.json"
    if not report_path.exists():
        raise RuntimeError(f"helpers.runner wrote no report:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    report = json.loads(report_path.read_text())
    for rec in report["notebooks"]:
        log(f"    {profile:<6}{rec['notebook']:<36}{rec['seconds']:>8.1f} s {rec['peak_rss_mib']:>8.0f} MiB  "
            f"{'ok' if rec['ok'] else 'FAILED'}")
    peak = max(r["peak_rss_mib"] for r in report["notebooks"])
    return {"profile": profile, "total_s": report["total_seconds"], "peak_rss_mib": peak,
            "all_ok": all(r["ok"] for r in report["notebooks"]), "notebooks": report["notebooks"],
            "within_time_budget": report["total_seconds"] <= BUDGETS[profile]["total_s"],
            "within_memory_budget": peak <= BUDGETS["peak_mib"]}
