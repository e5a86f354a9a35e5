"""Run course notebooks headless (``make course``): executed copies and HTML go to ``build/``.

usage: python -m helpers.runner [--profile smoke|full] [--timeout S] [-p NAME VALUE]... [-y YAML] NOTEBOOK...

Each notebook runs alone in a fresh kernel, through papermill, so none can depend on another's
leftovers and ``-p NAME VALUE`` overrides a name of its ``parameters`` cell (papermill injects the
values in a cell right after it, and the executed copy records them). A name that no ``parameters``
cell assigns is an error, raised for every notebook before any runs.

The terminal shows the runner's table only: while a notebook runs, a progress bar over its cells
(on stderr, when stderr is a terminal), then its row (on stdout): seconds, the kernel's peak memory
and ok / FAILED with the failing cell, source line and error. What the kernel process itself
writes (TensorFlow's and absl's C++ logs, ipykernel's warnings) goes to ``build/logs/<stem>.log``.
Per notebook, ``build/course_report.json`` records the seconds, the peak RSS, where the time went
(:mod:`helpers.profiling`) and the slowest cells (the benchmarks read it too).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import functools
import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from unittest import mock

from helpers import _io, config, profiling

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CELL_FRAME = re.compile(r"Cell In\[(\d+)\], line (\d+)")  # IPython's name for a cell in a traceback
_ENGINE = "course"  # the papermill engine registered by this module
_INJECTED_TAG = "injected-parameters"  # papermill's tag on the cell that holds the injected values
_NAME_WIDTH = 36
_STARTING = "starting the kernel"  # the progress bar's note until the notebook's first cell runs


class _PeakRSS:
    """Poll a process's resident memory (with its children's) in a thread and keep the maximum, in bytes."""

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


# ----------------------------------------------------------------------------------------------- parameters


def parse_parameters(
    values: Sequence[Sequence[str]] = (), raw: Sequence[Sequence[str]] = (), yaml_texts: Sequence[str] = ()
) -> dict:
    """The parameters of ``-y YAML``, ``-r NAME VALUE`` and ``-p NAME VALUE``, merged in that order.

    Values of ``-p`` are typed the way papermill's own CLI types them (``5`` -> int, ``1e-3`` ->
    float, ``True``/``False`` -> bool, ``None`` -> None, anything else a string); ``-r`` keeps the
    string; ``-y`` takes a YAML mapping, e.g. ``'{EPOCHS: 5, SEEDS: [1, 2]}'``.

    Args:
        values: ``(name, value)`` pairs of ``-p``.
        raw: ``(name, value)`` pairs of ``-r``.
        yaml_texts: YAML mappings of ``-y``.
    """
    import yaml
    from papermill.cli import _resolve_type  # the CLI's own typing rule (tested in tests/test_runner.py)

    parameters: dict = {}
    for text in yaml_texts:
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"-y must be a YAML mapping such as '{{EPOCHS: 5}}'. Received: {text!r} ({exc})") from None
        if loaded is None:
            continue
        if not isinstance(loaded, dict):
            raise ValueError(f"-y must be a YAML mapping such as '{{EPOCHS: 5}}'. Received: {text!r}")
        parameters.update(loaded)
    parameters.update({name: value for name, value in raw})
    parameters.update({name: _resolve_type(value) for name, value in values})
    bad = [name for name in parameters if not (isinstance(name, str) and name.isidentifier())]
    if bad:
        raise ValueError(f"parameter names must be Python identifiers. Received: {', '.join(map(repr, bad))}")
    return parameters


def _parameters_cell(nb):
    """The first cell tagged ``parameters``, or None."""
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            return cell
    return None


def _assigned_names(tree: ast.Module) -> Iterator[ast.Name]:
    """The names that the module's top-level statements assign (``A = ...``, ``A, B = ...``, ``A: int = ...``)."""

    def targets(node: ast.expr) -> Iterator[ast.Name]:
        if isinstance(node, ast.Name):
            yield node
        elif isinstance(node, (ast.Tuple, ast.List)):
            for element in node.elts:
                yield from targets(element)

    for statement in tree.body:
        if isinstance(statement, ast.Assign):
            for target in statement.targets:
                yield from targets(target)
        elif isinstance(statement, (ast.AnnAssign, ast.AugAssign)):
            yield from targets(statement.target)


def notebook_parameters(path: str | Path) -> dict[str, str]:
    """The names a notebook's ``parameters`` cell assigns, each with the source of its value.

    Read from the cell's syntax tree: ``papermill.inspect_notebook`` skips every line with more than
    one ``=``, so it misses ``EPOCHS = P.pick(smoke=2, full=25)``, the course's usual parameter, and
    reads ``smoke`` and ``full`` as parameters. Empty when the notebook has no ``parameters`` cell.
    """
    import nbformat
    from IPython.core.inputtransformer2 import TransformerManager

    cell = _parameters_cell(nbformat.read(path, as_version=4))
    if cell is None:
        return {}
    source = TransformerManager().transform_cell(cell.source)  # IPython's %magics into plain Python
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ValueError(f"{Path(path).name}: its parameters cell is not valid Python ({exc})") from None
    names: dict[str, str] = {}
    for node in _assigned_names(tree):
        names.setdefault(node.id, "")
    for statement in tree.body:  # the value's source, for the message that lists the valid names
        value = getattr(statement, "value", None)
        if value is not None:
            for node in _assigned_names(ast.Module(body=[statement], type_ignores=[])):
                names[node.id] = ast.get_source_segment(source, value) or ""
    return names


def check_parameters(paths: Sequence[str | Path], parameters: dict) -> None:
    """Raise ``ValueError`` naming each notebook whose ``parameters`` cell lacks one of ``parameters``.

    Checked for every notebook before any runs, so a typo fails at once, not after an hour.
    """
    if not parameters:
        return
    problems = []
    for path in paths:
        valid = notebook_parameters(path)
        unknown = [name for name in parameters if name not in valid]
        if not unknown:
            continue
        if valid:
            problems.append(f"  {Path(path).name}: unknown {', '.join(unknown)}; its parameters are {', '.join(valid)}")
        else:
            problems.append(f"  {Path(path).name}: unknown {', '.join(unknown)}; it has no cell tagged 'parameters'")
    if problems:
        raise ValueError(
            "parameters that a notebook does not define (-p NAME VALUE sets a name assigned in its "
            "'parameters' cell):\n" + "\n".join(problems)
        )


# ---------------------------------------------------------------------------- papermill: engine and client


class _Run:
    """What one notebook's run hands back from inside papermill's engine to :func:`run_notebook`."""

    def __init__(self, log_file):
        self.log_file = log_file  # the kernel's stdout and stderr
        self.start = time.perf_counter()
        self.kernel_start: float | None = None  # seconds from the start until the kernel was ready
        self.peak_rss = 0
        self.report_text = ""  # what profiling.REPORT_SNIPPET printed
        self.cell_index: int | None = None  # the notebook cell running (papermill's index, with the injected cell)
        self.exception: BaseException | None = None  # what stopped the notebook's cells, if anything
        self.nb = None  # the executed notebook (papermill raises on failure before returning it)


def _client_class():
    """A papermill client that runs the profiling snippets hidden and records the failing cell."""
    import nbformat
    from papermill.clientwrap import PapermillNotebookClient

    class CourseNotebookClient(PapermillNotebookClient):
        def __init__(self, nb_man, course_run: _Run, **kwargs):
            super().__init__(nb_man, **kwargs)
            self.course_run = course_run

        def execute_cell(self, cell, cell_index, *args, **kwargs):
            self.course_run.cell_index = cell_index
            try:
                return super().execute_cell(cell, cell_index, *args, **kwargs)
            except BaseException as exc:
                self.course_run.exception = exc
                raise

        def run_hidden(self, source: str) -> str:
            """Run ``source`` in the kernel without adding a cell to the notebook; return its stdout."""
            cell = nbformat.v4.new_code_cell(source)
            self.nb.cells.append(cell)  # nbclient stores the executed cell back at its index
            try:
                super().execute_cell(cell, len(self.nb.cells) - 1, store_history=False)
            except Exception:  # noqa: BLE001 - the profile is optional; the notebook's cells decide ok/FAILED
                return ""
            finally:
                self.nb.cells.pop()
            return "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")

        def papermill_execute_cells(self):
            run = self.course_run
            run.kernel_start = time.perf_counter() - run.start
            pid = self.km.provisioner.process.pid if self.km.provisioner else self.km.kernel.pid
            with _PeakRSS(pid) as mem:
                try:
                    self.run_hidden(profiling.INSTALL_SNIPPET)
                    _restart_bar(getattr(self.nb_man, "pbar", None))
                    super().papermill_execute_cells()
                finally:  # after a failure too (a dead kernel's report is empty)
                    run.report_text = self.run_hidden(profiling.REPORT_SNIPPET)
                    run.peak_rss = mem.peak

    return CourseNotebookClient


@functools.cache
def _register_engine() -> None:
    """Register the ``course`` papermill engine (once): papermill's nbclient engine with the client above."""
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.utils import merge_kwargs, remove_args

    client_class = _client_class()

    class CourseEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(
            cls, nb_man, kernel_name, log_output=False, start_timeout=60, execution_timeout=None, **kwargs
        ):
            run: _Run = kwargs.pop("course_run")
            run.nb = nb_man.nb
            kwargs = remove_args(["input_path", "timeout", "startup_timeout", "stdout_file", "stderr_file"], **kwargs)
            final_kwargs = merge_kwargs(
                kwargs,
                timeout=execution_timeout,
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=logging.getLogger("papermill"),
                log_output=log_output,
            )
            client = client_class(nb_man, course_run=run, **final_kwargs)
            # start_kernel's keyword arguments reach the kernel's Popen (nbclient -> jupyter_client's
            # launcher): its stdout and stderr go to the notebook's log, not to the terminal.
            return client.execute(stdout=run.log_file, stderr=run.log_file)

    papermill_engines.register(_ENGINE, CourseEngine)


@contextlib.contextmanager
def _papermill_log_to(path: Path) -> Iterator[None]:
    """Send papermill's (and nbclient's) log records to ``path`` instead of the terminal."""
    logger = logging.getLogger("papermill")
    handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    saved = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


# --------------------------------------------------------------------------------------------- the record


def _own_index(nb, index: int) -> int | None:
    """A cell's index in the notebook as written, without papermill's injected cell (None for that cell)."""
    cells = nb.cells
    if _INJECTED_TAG in cells[index].get("metadata", {}).get("tags", []):
        return None
    return index - sum(_INJECTED_TAG in c.get("metadata", {}).get("tags", []) for c in cells[:index])


def _first_line(text: str, limit: int = 500) -> str:
    lines = [line for line in _ANSI.sub("", text).strip().splitlines() if line.strip()]
    return lines[0][:limit] if lines else ""


def failure_details(cell, exc: BaseException | None) -> dict:
    """``source_line`` and ``error`` of a failed cell, from its error output (else from the exception).

    The source line is the last line of this cell in the traceback (``Cell In[n], line L``): the
    line that raised, or the call into the library that raised.
    """
    error_output = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)
    if error_output is not None:
        ename, evalue = error_output.get("ename", ""), error_output.get("evalue", "")
        traceback = _ANSI.sub("", "\n".join(error_output.get("traceback", [])))
    elif exc is not None:
        ename, evalue = getattr(exc, "ename", type(exc).__name__), getattr(exc, "evalue", str(exc))
        traceback = _ANSI.sub("", str(exc))
    else:
        ename, evalue, traceback = "CellExecutionError", "", ""
    frames = [(int(count), int(line)) for count, line in _CELL_FRAME.findall(traceback)]
    mine = [line for count, line in frames if count == cell.get("execution_count")] or [line for _, line in frames]
    source = cell.get("source", "").splitlines()
    source_line = source[mine[-1] - 1].strip() if mine and 0 < mine[-1] <= len(source) else None
    message = _first_line(str(evalue))
    return {"source_line": source_line, "error": f"{ename}: {message}" if message else ename}


def _slowest_cells(nb, n: int = 3) -> list[dict]:
    """The ``n`` slowest code cells (papermill's per-cell ``duration``), by the notebook's own index."""
    timed = []
    for index, cell in enumerate(nb.cells):
        seconds = cell.get("metadata", {}).get("papermill", {}).get("duration")
        own = _own_index(nb, index)
        if cell.cell_type == "code" and seconds is not None and own is not None:
            timed.append({"cell": own, "seconds": round(seconds, 1)})
    return sorted(timed, key=lambda c: -c["seconds"])[:n]


def _phases(run: _Run, seconds: float) -> tuple[dict, dict] | None:
    """(phases, calls) of :mod:`helpers.profiling`'s report, with kernel start and ``other``; None if absent."""
    phases = profiling.parse_report(run.report_text)
    if phases is None:
        return None
    calls = phases.pop("calls", {})
    kernel_start = run.kernel_start or 0.0
    measured = sum(phases.values())
    phases = {"kernel_start": round(kernel_start, 2), **phases}
    phases["other"] = round(max(0.0, seconds - kernel_start - measured), 2)
    return phases, calls


def _display_path(path: Path) -> str:
    """``path`` relative to the working directory when it is under it (``build/logs/x.log``)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _progress_bar(label: str) -> dict:
    """tqdm's options for papermill's bar over a notebook's cells: its name, cells done, elapsed and ETA."""
    return {
        "desc": label,
        "unit": "cell",
        "file": sys.stderr,
        "leave": False,  # the bar is cleared when the notebook ends; its row replaces it
        "dynamic_ncols": True,
        "mininterval": 0.5,
        "postfix": _STARTING,
        "bar_format": "  {desc} {percentage:3.0f}%|{bar:24}| {n_fmt}/{total_fmt} cells "
        "[{elapsed}<{remaining}{postfix}]",
    }


def _restart_bar(bar) -> None:
    """Once the kernel is up and the stack imported, restart the bar's clock, so that the ETA is the cells'."""
    if bar is not None and bar.n == 0:
        bar.set_postfix_str("", refresh=False)
        bar.reset()


def run_notebook(
    path: str | Path,
    out_dir: str | Path,
    *,
    timeout: int = 1800,
    parameters: dict | None = None,
    progress: bool | str = False,
) -> dict:
    """Execute one notebook in a fresh kernel with papermill; write its executed copy, HTML and log.

    Args:
        path: the notebook.
        out_dir: the build folder: ``notebooks/``, ``html/`` and ``logs/`` are written under it.
        timeout: seconds any one cell may take (default 1800).
        parameters: values injected after the notebook's ``parameters`` cell (check them first with
            :func:`check_parameters`; papermill itself only warns about unknown names).
        progress: a progress bar over the cells on stderr: False (none), True, or the bar's label.

    Returns:
        The notebook's record for ``course_report.json``: ``notebook``, ``profile``, ``parameters``,
        ``ok``, ``seconds``, ``peak_rss_mib``, ``phases``, ``calls``, ``slowest_cells``, ``log``, and
        on failure ``failed_cell`` (the notebook's own cell index, from 0), ``source_line``, ``error``.
    """
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError
    from papermill.execute import remove_error_markers

    path, out_dir = Path(path).resolve(), Path(out_dir).resolve()  # papermill changes directory to the notebook's
    parameters = dict(parameters or {})
    log_path = config.ensure_dir(out_dir / "logs") / f"{path.stem}.log"
    log_path.write_bytes(b"")
    record = {"notebook": path.name, "profile": config.profile().name, "parameters": parameters, "ok": False}
    _register_engine()
    bar = _progress_bar(progress if isinstance(progress, str) else path.name) if progress else False
    with open(log_path, "ab", buffering=0) as log_file, _papermill_log_to(log_path):
        run = _Run(log_file)
        try:
            papermill.execute_notebook(
                str(path),
                None,  # written below, without papermill's error banner cells
                parameters=parameters,
                engine_name=_ENGINE,
                kernel_name="python3",
                cwd=str(path.parent),
                progress_bar=bar,
                request_save_on_cell_execute=False,
                execution_timeout=timeout,
                course_run=run,
            )
        except PapermillExecutionError:
            pass  # the client recorded the failing cell; a cell tagged raises-exception is no failure
        except Exception as exc:  # noqa: BLE001 - a dead kernel or a timeout fails this notebook, not the course
            run.exception = run.exception or exc
        record["seconds"] = round(time.perf_counter() - run.start, 1)
        nb = remove_error_markers(run.nb) if run.nb is not None else nbformat.read(path, as_version=4)
        record["ok"] = run.exception is None and run.nb is not None
        if not record["ok"]:
            record.update(_failure_record(nb, run))
        profile = _phases(run, record["seconds"])
        if profile is not None:
            record["phases"], record["calls"] = profile
        record["slowest_cells"] = _slowest_cells(nb)
        record["peak_rss_mib"] = round(run.peak_rss / 2**20, 1)
        record["log"] = _display_path(log_path)
        _write_outputs(nb, path.name, out_dir)  # inside: nbconvert's warnings go to the log too
    return record


def _write_outputs(nb, name: str, out_dir: Path) -> None:
    """The executed copy (``notebooks/``) and its HTML (``html/``) under ``out_dir``."""
    import nbformat
    from nbconvert import HTMLExporter

    nbformat.write(nb, config.ensure_dir(out_dir / "notebooks") / name)
    exporter = HTMLExporter()
    exporter.log = logging.getLogger("papermill.nbconvert")  # "Alternative text is missing ...": to the log
    body, _ = exporter.from_notebook_node(nb)
    (config.ensure_dir(out_dir / "html") / Path(name).with_suffix(".html").name).write_text(body, encoding="utf-8")


def _failure_record(nb, run: _Run) -> dict:
    """``failed_cell``, ``source_line`` and ``error`` of a failed run; the full traceback goes to the log."""
    index = run.cell_index
    if index is None or run.nb is None or index >= len(nb.cells):
        exc = run.exception
        return {"failed_cell": None, "source_line": None, "error": f"{type(exc).__name__}: {_first_line(str(exc))}"}
    cell = nb.cells[index]
    details = failure_details(cell, run.exception)
    traceback = next((o.get("traceback") for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)
    text = "\n".join(traceback) if traceback else str(run.exception)
    logging.getLogger("papermill").error("cell %s failed:\n%s", _own_index(nb, index), _ANSI.sub("", text))
    return {"failed_cell": _own_index(nb, index), **details}


# ---------------------------------------------------------------------------------------------- the table


def _row(name: str, seconds: object, peak: object, status: str) -> str:
    return f"  {name:<{_NAME_WIDTH}}" + _row_tail(seconds, peak, status)


def _row_tail(seconds: object, peak: object, status: str) -> str:
    return f"{seconds:>9}{peak:>10}  {status}"


def format_result(record: dict, *, with_name: bool = True) -> str:
    """The table's lines for one notebook: its row, and on failure the cell, source line, error and log.

    Args:
        record: the notebook's record (:func:`run_notebook`).
        with_name: start the row with the notebook's name (False: it was printed when the run began).
    """
    cells = (f"{record['seconds']:.1f}", f"{record['peak_rss_mib']:.0f}", "ok" if record["ok"] else "FAILED")
    lines = [_row(record["notebook"], *cells) if with_name else _row_tail(*cells)]
    if not record["ok"]:
        cell = record.get("failed_cell")
        lines.append(f"      cell {'?' if cell is None else cell}, line: {record.get('source_line') or '?'}")
        lines.append(f"      {record.get('error', '')}")
        lines.append(f"      log: {record.get('log', '')}")
    return "\n".join(lines)


def _show_progress() -> bool:
    """A progress bar only on a terminal: in CI logs it would be carriage-return spam."""
    return sys.stderr.isatty()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--profile", choices=config.PROFILES, help="overrides COURSE_PROFILE")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell (default 1800)")
    parser.add_argument("--out", type=Path, default=config.BUILD_DIR)
    parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="set a name of the notebooks' parameters cell; typed as papermill's CLI does (5, 1e-3, True, None, text)",
    )
    parser.add_argument(
        "-r", "--raw", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"), help="as -p, always a string"
    )
    parser.add_argument("-y", "--yaml", action="append", default=[], help="parameters as a YAML mapping")
    args = parser.parse_args(argv)
    settings = {"COURSE_VERBOSE": "2", "COURSE_SOLUTIONS": "1"}  # per-epoch lines; the copies show the answers
    settings = {name: os.environ.get(name, default) for name, default in settings.items()}
    if args.profile:
        settings["COURSE_PROFILE"] = args.profile
    with mock.patch.dict(os.environ, settings):  # the kernels inherit these; a caller in this process keeps its own
        return _run_all(parser, args)


def _run_all(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run ``args.notebooks`` (default: all) in order, print a row per notebook, write the report."""
    paths = args.notebooks or sorted((config.ROOT / "notebooks").glob("[0-9]*.ipynb"))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    try:
        parameters = parse_parameters(args.parameter, args.raw, args.yaml)
        check_parameters(paths, parameters)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    progress = _show_progress()
    count = f"{len(paths)} notebook{'s' if len(paths) != 1 else ''}"
    print(f"Running {count} in the {config.profile().name!r} profile -> {args.out}/")
    if parameters:
        print("  parameters: " + ", ".join(f"{name}={value!r}" for name, value in parameters.items()))
    print(_row("notebook", "seconds", "peak MiB", "status"), flush=True)
    records = []
    try:
        for number, path in enumerate(paths, 1):
            if not progress:  # one line per notebook: its name now, its result when it ends
                print(f"  {path.name:<{_NAME_WIDTH}}", end="", flush=True)
            label = f"[{number}/{len(paths)}] {path.name}"
            rec = run_notebook(path, args.out, timeout=args.timeout, parameters=parameters, progress=progress and label)
            records.append(rec)
            print(format_result(rec, with_name=progress), flush=True)
    except KeyboardInterrupt:
        print("\n  interrupted: the report lists the notebooks that finished", flush=True)
    total = sum(r["seconds"] for r in records)
    failed = sum(not r["ok"] for r in records)
    status = f"{failed} FAILED" if failed else "all ok"
    print(f"  {'total':<{_NAME_WIDTH}}{total:>9.1f}{'':>10}  {status}  (HTML in {args.out / 'html'})")
    report = args.out / "course_report.json"
    summary = {"profile": config.profile().name, "total_seconds": round(total, 1), "notebooks": records}
    _io.write_text_atomic(report, json.dumps(summary, indent=2))  # the benchmarks read it
    return 0 if not failed and len(records) == len(paths) else 1


if __name__ == "__main__":
    sys.exit(main())
