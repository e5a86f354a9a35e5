"""helpers.runner (``make course``): each notebook in a fresh kernel, its record, the report, errors."""

import json

import nbformat
import pytest

from helpers import runner


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_main_runs_each_notebook_and_writes_the_report(tmp_path, capsys):
    good = _notebook(tmp_path / "01_good.ipynb", "x = 6 * 7", "assert x == 42")
    bad = _notebook(tmp_path / "02_bad.ipynb", "raise ValueError('the lesson failed')")
    out = tmp_path / "build"
    assert runner.main([str(good), str(bad), "--out", str(out), "--profile", "smoke", "--timeout", "60"]) == 1
    report = json.loads((out / "course_report.json").read_text())
    assert report["profile"] == "smoke" and [r["notebook"] for r in report["notebooks"]] == [good.name, bad.name]
    first, second = report["notebooks"]
    assert first["ok"] is True and first["seconds"] > 0 and first["peak_rss_mib"] > 0
    phases = first["phases"]  # helpers.profiling ran in the kernel, around the notebook's cells
    assert set(phases) == {"kernel_start", "imports", "tracing", "training", "evaluation", "plotting", "other"}
    assert phases["imports"] > 0 and sum(phases.values()) == pytest.approx(first["seconds"], abs=0.5)
    assert [c["cell"] for c in first["slowest_cells"]] and first["calls"]["fit"] == 0
    assert second["ok"] is False and "the lesson failed" in second["error"]
    assert (out / "notebooks" / good.name).is_file() and (out / "html" / "01_good.html").is_file()
    printed = capsys.readouterr().out
    assert "FAILED: ValueError: the lesson failed" in printed and "total" in printed and "ok" in printed


def test_main_names_a_missing_notebook(tmp_path):
    with pytest.raises(SystemExit):
        runner.main([str(tmp_path / "nope.ipynb"), "--out", str(tmp_path)])
