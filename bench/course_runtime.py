"""Course runtime and memory: every notebook in a fresh kernel, per profile, with the kernel's peak RSS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers import config

BUDGETS = {"smoke": {"total_s": 6 * 60}, "full": {"total_s": 30 * 60}, "peak_mib": 4 * 1024}
# Seconds per notebook, by number prefix, as the issues set them ("default": every other notebook).
NOTEBOOK_BUDGETS_S = {"full": {"default": 4 * 60, "07": 5 * 60, "09": 10 * 60}, "smoke": {"09": 90, "10": 60}}


def notebook_budget(profile: str, notebook: str) -> float | None:
    """The time budget of one notebook (e.g. ``"07_transfer_learning.ipynb"``) in a profile, or None."""
    budgets = NOTEBOOK_BUDGETS_S.get(profile, {})
    return budgets.get(Path(notebook).name[:2], budgets.get("default"))


def summarize(profile: str, report: dict) -> dict:
    """The benchmark's record of one profile, from ``helpers.runner``'s report: totals and budgets."""
    notebooks = []
    for rec in report["notebooks"]:
        budget = notebook_budget(profile, rec["notebook"])
        notebooks.append(
            {**rec, "budget_s": budget, "within_budget": None if budget is None else rec["seconds"] <= budget}
        )
    peak = max(r["peak_rss_mib"] for r in notebooks)
    return {
        "profile": profile,
        "total_s": report["total_seconds"],
        "peak_rss_mib": peak,
        "all_ok": all(r["ok"] for r in notebooks),
        "notebooks": notebooks,
        "within_time_budget": report["total_seconds"] <= BUDGETS[profile]["total_s"],
        "within_memory_budget": peak <= BUDGETS["peak_mib"],
        "notebooks_over_budget": [r["notebook"] for r in notebooks if r["within_budget"] is False],
    }


def run(profile: str, notebooks: list[Path], out: Path, log=print) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "COURSE_PROFILE": profile}
    cmd = [sys.executable, "-m", "helpers.runner", "--profile", profile, "--out", str(out), *map(str, notebooks)]
    proc = subprocess.run(cmd, env=env, cwd=config.ROOT, capture_output=True, text=True)
    report_path = out / "course_report.json"
    if not report_path.exists():
        raise RuntimeError(f"helpers.runner wrote no report:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    report = json.loads(report_path.read_text())
    result = summarize(profile, report)
    for rec in result["notebooks"]:
        budget = "" if rec["budget_s"] is None else f"  (budget {rec['budget_s']:.0f} s)"
        log(
            f"    {profile:<6}{rec['notebook']:<36}{rec['seconds']:>8.1f} s {rec['peak_rss_mib']:>8.0f} MiB  "
            f"{'ok' if rec['ok'] else 'FAILED'}{budget}"
        )
    return result
