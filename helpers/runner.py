"""Run course notebooks headless (``make course``): executed copies and HTML go to ``build/``.

usage: python -m helpers.runner [--profile smoke|full] [--timeout S] NOTEBOOK...

Each notebook runs alone in a fresh kernel, so none can depend on another's leftovers. Wall time and
the kernel's peak memory are recorded per notebook in ``build/course_report.json`` (the benchmarks
read it too).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
import time
from pathlib import Path

from helpers import _io, config, profiling

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class _PeakRSS:
    """Poll a process's resident memory in a thread and keep the maximum (in bytes)."""

    def __init__(self, pid: int, interval: float = 0.2):
        import psutil

        self._proc = psutil.Process(pid)
        self._interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rss = self._proc.memory_info().rss
                rss += sum(c.memory_info().rss for c in self._proc.children(recursive=True))
                self.peak = max(self.peak, rss)
            except Exception:  # noqa: BLE001 - the kernel may be gone
                return
            self._stop.wait(self._interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _run_hidden(client, source: str) -> str:
    """Run ``source`` in the notebook's kernel without adding a cell to it; return its stdout."""
    import nbformat

    cell = nbformat.v4.new_code_cell(source)
    client.nb.cells.append(cell)  # nbclient stores the executed cell back at its index
    try:
        client.execute_cell(cell, len(client.nb.cells) - 1, store_history=False)
    except Exception:  # noqa: BLE001 - the profile is optional; the notebook's own cells decide ok/FAILED
        return ""
    finally:
        client.nb.cells.pop()
    return "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")


def run_notebook(path: Path, out_dir: Path, *, timeout: int = 1800) -> dict:
    """Execute one notebook in a fresh kernel; write the executed copy and HTML; return its record."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from nbconvert import HTMLExporter

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    record = {"notebook": path.name, "profile": config.profile().name, "ok": False}
    start = time.perf_counter()
    cell_seconds = []
    phases = None
    with client.setup_kernel():
        kernel_start = time.perf_counter() - start
        pid = client.km.provisioner.process.pid if client.km.provisioner else client.km.kernel.pid
        with _PeakRSS(pid) as mem:
            try:
                _run_hidden(client, profiling.INSTALL_SNIPPET)
                for index, cell in enumerate(nb.cells):
                    cell_start = time.perf_counter()
                    client.execute_cell(cell, index)
                    if cell.cell_type == "code":
                        cell_seconds.append((index, time.perf_counter() - cell_start))
                record["ok"] = True
            except CellExecutionError as exc:
                text = _ANSI.sub("", str(exc))  # the kernel colours its tracebacks
                record["error"] = text.splitlines()[-1][:500] if text else repr(exc)
            phases = profiling.parse_report(_run_hidden(client, profiling.REPORT_SNIPPET))
    record["seconds"] = round(time.perf_counter() - start, 1)
    if phases is not None:
        calls = phases.pop("calls", {})
        measured = sum(phases.values())
        phases = {"kernel_start": round(kernel_start, 2), **phases}
        phases["other"] = round(max(0.0, record["seconds"] - kernel_start - measured), 2)
        record["phases"] = phases
        record["calls"] = calls
    record["slowest_cells"] = [
        {"cell": i, "seconds": round(s, 1)} for i, s in sorted(cell_seconds, key=lambda t: -t[1])[:3]
    ]
    record["peak_rss_mib"] = round(mem.peak / 2**20, 1)
    nb_dir = config.ensure_dir(out_dir / "notebooks")
    html_dir = config.ensure_dir(out_dir / "html")
    nbformat.write(nb, nb_dir / path.name)
    body, _ = HTMLExporter().from_notebook_node(nb)
    (html_dir / path.with_suffix(".html").name).write_text(body, encoding="utf-8")
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--profile", choices=config.PROFILES, help="overrides COURSE_PROFILE")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell (default 1800)")
    parser.add_argument("--out", type=Path, default=config.BUILD_DIR)
    args = parser.parse_args(argv)
    if args.profile:
        os.environ["COURSE_PROFILE"] = args.profile  # the kernels inherit it
    os.environ.setdefault("COURSE_VERBOSE", "2")  # one line per epoch in the executed copies
    paths = args.notebooks or sorted((config.ROOT / "notebooks").glob("[0-9]*.ipynb"))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    print(f"Running {len(paths)} notebooks in the {config.profile().name!r} profile -> {args.out}/")
    records = []
    for path in paths:
        print(f"  {path.name:<36}", end="", flush=True)
        rec = run_notebook(path.resolve(), args.out, timeout=args.timeout)
        records.append(rec)
        status = "ok" if rec["ok"] else f"FAILED: {rec.get('error', '')}"
        print(f"{rec['seconds']:>7.1f} s  {rec['peak_rss_mib']:>7.0f} MiB  {status}", flush=True)
    total = sum(r["seconds"] for r in records)
    print(f"  {'total':<36}{total:>7.1f} s  (HTML in {args.out / 'html'})")
    report = args.out / "course_report.json"
    summary = {"profile": config.profile().name, "total_seconds": round(total, 1), "notebooks": records}
    _io.write_text_atomic(report, json.dumps(summary, indent=2))  # the benchmarks read it
    return 0 if all(r["ok"] for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
