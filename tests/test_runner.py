"""helpers.runner (``make course``): papermill runs, parameters, the quiet table, the record, the report."""

import json
import os
import re
from pathlib import Path

import nbformat
import pytest

from helpers import runner

ROOT = Path(__file__).resolve().parents[1]


def _notebook(path, *sources, parameters=None, markdown=None):
    """A notebook of code cells ``sources``, after an optional markdown cell and a ``parameters`` cell."""
    nb = nbformat.v4.new_notebook()
    if markdown:
        nb.cells.append(nbformat.v4.new_markdown_cell(markdown))
    if parameters is not None:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    nb.cells += [nbformat.v4.new_code_cell(src) for src in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


# ------------------------------------------------------------------------------------ parameters (no kernel)


def test_parse_parameters_types_values_like_papermills_cli():
    values = [("EPOCHS", "5"), ("LR", "1e-3"), ("AUGMENT", "True"), ("LIMIT", "None"), ("DATASET", "digits")]
    assert runner.parse_parameters(values) == {
        "EPOCHS": 5,
        "LR": 0.001,
        "AUGMENT": True,
        "LIMIT": None,
        "DATASET": "digits",
    }
    assert runner.parse_parameters([("SHIFT", "-2")]) == {"SHIFT": -2}
    # -y first, then -r (a string whatever it looks like), then -p: a later one wins
    merged = runner.parse_parameters([("EPOCHS", "7")], raw=[("TAG", "5")], yaml_texts=["{EPOCHS: 3, SEEDS: [1, 2]}"])
    assert merged == {"EPOCHS": 7, "SEEDS": [1, 2], "TAG": "5"}


def test_parse_parameters_rejects_what_is_not_a_mapping_of_names():
    with pytest.raises(ValueError, match="YAML mapping"):
        runner.parse_parameters(yaml_texts=["[1, 2]"])
    with pytest.raises(ValueError, match="YAML mapping"):
        runner.parse_parameters(yaml_texts=["{EPOCHS: [1"])
    with pytest.raises(ValueError, match="identifiers.*'not a name'"):
        runner.parse_parameters([("not a name", "1")])


def test_notebook_parameters_reads_the_parameters_cell_papermill_cannot(tmp_path):
    import papermill

    source = (
        "# Parameters\n%matplotlib inline\nfrom helpers import config\n\nP = config.profile()\n"
        'DATASET = "mnist5k"\nEPOCHS = P.pick(smoke=2, full=25)  # per run\nA, B = 1, 2\nLIMIT: int = 3\n'
    )
    path = _notebook(tmp_path / "nb.ipynb", "C = 4", parameters=source)
    found = runner.notebook_parameters(path)
    assert list(found) == ["P", "DATASET", "EPOCHS", "A", "B", "LIMIT"]  # not `config` (an import), not C
    assert found["EPOCHS"] == "P.pick(smoke=2, full=25)" and found["DATASET"] == '"mnist5k"'
    # why the runner does not rely on papermill.inspect_notebook: it skips lines with two '='
    assert "EPOCHS" not in papermill.inspect_notebook(str(path))
    assert runner.notebook_parameters(_notebook(tmp_path / "none.ipynb", "EPOCHS = 1")) == {}


def test_check_parameters_names_the_notebook_the_unknown_and_the_valid_names(tmp_path):
    first = _notebook(tmp_path / "01_a.ipynb", parameters="DATASET = 'mnist5k'\nEPOCHS = 2")
    second = _notebook(tmp_path / "02_b.ipynb", parameters="DATASET = 'mnist5k'")
    bare = _notebook(tmp_path / "03_c.ipynb", "x = 1")
    runner.check_parameters([first, second], {"DATASET": "digits"})  # known everywhere: no error
    runner.check_parameters([bare], {})
    with pytest.raises(ValueError) as info:
        runner.check_parameters([first, second, bare], {"EPOCHS": 5, "EPOCHZ": 3})
    message = str(info.value)
    assert "01_a.ipynb: unknown EPOCHZ; its parameters are DATASET, EPOCHS" in message
    assert "02_b.ipynb: unknown EPOCHS, EPOCHZ; its parameters are DATASET" in message
    assert "03_c.ipynb: unknown EPOCHS, EPOCHZ; it has no cell tagged 'parameters'" in message


def test_main_rejects_an_unknown_parameter_before_running_any_notebook(tmp_path, capfd):
    nb = _notebook(tmp_path / "01_a.ipynb", "x = 1", parameters="DATASET = 'mnist5k'\nEPOCHS = 2")
    out = tmp_path / "build"
    assert runner.main([str(nb), "--out", str(out), "-p", "EPOCHZ", "3"]) == 2
    captured = capfd.readouterr()
    assert "01_a.ipynb: unknown EPOCHZ; its parameters are DATASET, EPOCHS" in captured.err
    assert captured.out == "" and not out.exists()  # no kernel started, nothing written


def test_main_names_a_missing_notebook(tmp_path):
    with pytest.raises(SystemExit):
        runner.main([str(tmp_path / "nope.ipynb"), "--out", str(tmp_path)])


# ------------------------------------------------------------------------------- failures and the table


def _failed_cell(source, traceback, execution_count=4):
    cell = nbformat.v4.new_code_cell(source)
    cell.execution_count = execution_count
    cell.outputs = [
        nbformat.v4.new_output("error", ename="ValueError", evalue="bad value\nmore detail", traceback=traceback)
    ]
    return cell


def test_failure_details_finds_the_line_of_the_cell_that_raised():
    # IPython 9's colours, as a kernel sends them
    frame = "\x1b[36mCell\x1b[39m\x1b[36m \x1b[39m\x1b[32mIn[4]\x1b[39m\x1b[32m, line 2\x1b[39m\n----> 2 raise"
    cell = _failed_cell("y = 1\nraise ValueError('bad value')\nz = 2", ["\x1b[31m---\x1b[39m", frame])
    assert runner.failure_details(cell, None) == {
        "source_line": "raise ValueError('bad value')",
        "error": "ValueError: bad value",
    }
    # the deepest line of this cell (in a function it defines), not another cell's or a library's
    source = "def f():\n    return 1 / 0\n\nf()"
    frames = [
        "Cell In[4], line 4\n----> 4 f()",
        "Cell In[4], line 2, in f()\n----> 2 return 1 / 0",
        "Cell In[2], line 1",
    ]
    assert runner.failure_details(_failed_cell(source, frames), None)["source_line"] == "return 1 / 0"
    # no traceback to read (a timeout): the error from the exception, the line unknown
    details = runner.failure_details(nbformat.v4.new_code_cell("sleep()"), TimeoutError("A cell timed out\n..."))
    assert details == {"source_line": None, "error": "TimeoutError: A cell timed out"}


def test_format_result_shows_the_row_and_under_a_failure_its_cell_line_error_and_log():
    ok = {"notebook": "01_a.ipynb", "ok": True, "seconds": 12.34, "peak_rss_mib": 700.4}
    assert runner.format_result(ok).split() == ["01_a.ipynb", "12.3", "700", "ok"]
    assert runner.format_result(ok, with_name=False).split() == ["12.3", "700", "ok"]
    bad = {
        **ok,
        "ok": False,
        "failed_cell": 7,
        "source_line": "assert acc > 0.9",
        "error": "AssertionError: too low",
        "log": "build/logs/01_a.log",
    }
    row, *details = runner.format_result(bad).splitlines()
    assert row.split() == ["01_a.ipynb", "12.3", "700", "FAILED"]
    assert [line.strip() for line in details] == [
        "cell 7, line: assert acc > 0.9",
        "AssertionError: too low",
        "log: build/logs/01_a.log",
    ]


def _recipe(makefile: str, target: str) -> list[str]:
    match = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)+)", makefile, flags=re.M)
    assert match, f"no rule {target} in the Makefile"
    return [line.strip() for line in match.group(1).splitlines()]


def test_make_course_echoes_no_command_passes_params_and_hides_pips_warnings():
    makefile = (ROOT / "Makefile").read_text()
    course, stamp = _recipe(makefile, "course"), _recipe(makefile, "$(STAMP)")
    assert all(line.startswith("@") for line in course + stamp)  # make echoes no command line
    assert course == ["@$(BIN)/python -m helpers.runner $(PARAMS) $(NOTEBOOKS)"]
    assert re.search(r"^PARAMS \?=", makefile, flags=re.M)
    pip_lines = [line for line in stamp if " pip install" in line]
    assert len(pip_lines) == 2 and all(" -qq " in line for line in pip_lines)  # errors still show
    assert sum(line.startswith("@echo") for line in stamp) == 1  # one line says what the wait is


# ----------------------------------------------------------------------------------- real runs (kernels)


@pytest.mark.slow
def test_main_runs_each_notebook_and_writes_the_report(tmp_path, capfd):
    good = _notebook(
        tmp_path / "01_good.ipynb",
        "import os\nos.write(2, b'noise from the kernel\\n')\nprint('X is', X * 2)",
        "assert X == 5",
        parameters="X = 2",
    )
    bad = _notebook(
        tmp_path / "02_bad.ipynb",
        "y = X\nraise ValueError(f'the lesson failed at {X}')\nz = 2",
        parameters="X = 2",
        markdown="# A failing lesson",
    )
    out = tmp_path / "build"
    argv = [str(good), str(bad), "--out", str(out), "--profile", "smoke", "--timeout", "120", "-p", "X", "5"]
    assert runner.main(argv) == 1
    report = json.loads((out / "course_report.json").read_text())
    assert report["profile"] == "smoke" and [r["notebook"] for r in report["notebooks"]] == [good.name, bad.name]
    first, second = report["notebooks"]
    assert first["ok"] is True and first["seconds"] > 0 and first["peak_rss_mib"] > 0
    assert first["parameters"] == {"X": 5} and "failed_cell" not in first
    phases = first["phases"]  # helpers.profiling ran in the kernel, around the notebook's cells
    assert set(phases) == {"kernel_start", "imports", "tracing", "training", "evaluation", "plotting", "other"}
    assert phases["imports"] > 0 and sum(phases.values()) == pytest.approx(first["seconds"], abs=0.5)
    assert first["calls"]["fit"] == 0
    assert {c["cell"] for c in first["slowest_cells"]} <= {0, 1, 2}  # the notebook's own code cells
    # the failure: the cell as the notebook numbers it (markdown 0, parameters 1, this 2), line and error
    assert second["ok"] is False and second["failed_cell"] == 2
    assert second["source_line"] == "raise ValueError(f'the lesson failed at {X}')"
    assert second["error"] == "ValueError: the lesson failed at 5"
    assert "phases" in second  # the profile is read after a failure too
    log = Path(second["log"])
    assert log == out / "logs" / "02_bad.log" or log.resolve() == (out / "logs" / "02_bad.log").resolve()
    assert "Traceback" in log.read_text()  # the whole traceback is in the log

    # the executed copy: parameters injected after the parameters cell and recorded; no hidden cells
    executed = nbformat.read(out / "notebooks" / good.name, as_version=4)
    assert executed.metadata.papermill.parameters == {"X": 5}
    assert executed.cells[1].metadata.tags == ["injected-parameters"] and "X = 5" in executed.cells[1].source
    assert "X is 10" in "".join(o.get("text", "") for o in executed.cells[2].outputs)
    failed = nbformat.read(out / "notebooks" / bad.name, as_version=4)
    for nb in (executed, failed):
        assert not any("_course_profiling" in c.source for c in nb.cells)
        assert not any("papermill-error-cell-tag" in c.metadata.get("tags", []) for c in nb.cells)
    assert len(failed.cells) == 4 and failed.cells[3].outputs[0].ename == "ValueError"
    assert (out / "html" / "01_good.html").is_file() and (out / "html" / "02_bad.html").is_file()

    # the terminal: the runner's table only, one line per notebook (not a terminal: no progress bar)
    captured = capfd.readouterr()
    printed = captured.out + captured.err
    assert "noise from the kernel" not in printed and "without encryption" not in printed
    assert "noise from the kernel" in (out / "logs" / "01_good.log").read_text()
    assert "\r" not in printed and captured.err == ""
    lines = captured.out.splitlines()
    assert lines[2].split() == ["notebook", "seconds", "peak", "MiB", "status"]
    assert lines[3].split()[0] == good.name and lines[3].split()[-1] == "ok"
    assert lines[4].split()[0] == bad.name and lines[4].split()[-1] == "FAILED"
    assert lines[5].strip() == "cell 2, line: raise ValueError(f'the lesson failed at {X}')"
    assert lines[6].strip() == "ValueError: the lesson failed at 5"
    assert lines[7].strip() == f"log: {second['log']}"
    assert lines[8].split()[0] == "total" and "1 FAILED" in lines[8] and len(lines) == 9


@pytest.mark.slow
def test_a_terminal_gets_a_progress_bar_that_the_row_replaces(tmp_path, capfd, monkeypatch):
    monkeypatch.setattr(runner, "_show_progress", lambda: True)
    nb = _notebook(tmp_path / "01_good.ipynb", "import time\ntime.sleep(0.7)", "x = 42", markdown="# Lesson")
    assert runner.main([str(nb), "--out", str(tmp_path / "build"), "--profile", "smoke"]) == 0
    captured = capfd.readouterr()
    bar = captured.err  # on stderr, redrawn in place, cleared at the end
    assert "\r  [1/1] 01_good.ipynb   0%|" in bar and "0/3 cells [00:00<?, starting the kernel]" in bar
    assert re.search(r"\r  \[1/1\] 01_good\.ipynb +\d+%\|.*\| [12]/3 cells \[\d\d:\d\d<\d\d:\d\d\]", bar)  # ETA
    assert bar.rstrip(" ").endswith("\r")  # cleared: the row on stdout takes its place
    header, row, total = captured.out.splitlines()[1:]
    assert header.split()[0] == "notebook" and total.split()[0] == "total" and "\r" not in captured.out
    assert row.split()[0] == "01_good.ipynb" and row.split()[-1] == "ok"


@pytest.mark.slow
def test_a_dead_kernel_fails_its_notebook_with_the_cell_not_the_course(tmp_path, capfd):
    nb = _notebook(tmp_path / "01_dies.ipynb", "x = 1", "import os\nos._exit(1)", "x = 2")
    out = tmp_path / "build"
    assert runner.main([str(nb), "--out", str(out), "--profile", "smoke", "--timeout", "120"]) == 1
    (record,) = json.loads((out / "course_report.json").read_text())["notebooks"]
    assert record["ok"] is False and record["failed_cell"] == 1 and "DeadKernelError" in record["error"]
    assert record["peak_rss_mib"] > 0 and record["log"].endswith("01_dies.log")
    assert (out / "notebooks" / nb.name).is_file()
    assert "FAILED" in capfd.readouterr().out


def test_main_leaves_the_callers_environment_as_it_was(tmp_path, monkeypatch):
    """An in-process run sets the profile and the solutions build for its kernels only."""
    monkeypatch.delenv("COURSE_SOLUTIONS", raising=False)
    monkeypatch.setenv("COURSE_PROFILE", "full")
    with pytest.raises(SystemExit):  # a missing notebook: the error path restores it too
        runner.main([str(tmp_path / "nope.ipynb"), "--out", str(tmp_path), "--profile", "smoke"])
    assert "COURSE_SOLUTIONS" not in os.environ and os.environ["COURSE_PROFILE"] == "full"
