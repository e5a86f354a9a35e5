"""JupyterLab in a real browser: open the notebooks the way a learner does and look at what renders.

A ``jupyter lab`` server (smoke profile, its own settings, a random token) serves copies of the course
notebooks from a temporary folder, so nothing the browser does (saving, checkpoints) can touch the tracked
notebooks. Debian's Chromium, driven by Playwright for Python, opens ``00_welcome.ipynb``, runs it from the
Run menu and checks that no cell failed, the environment check passed and a figure rendered; it also opens
``01_cnn_foundations.ipynb`` and checks that exactly the hidden solution cells render collapsed.

Nothing is installed at run time: without Playwright or a Chromium the tests skip, saying why, unless
``COURSE_REQUIRE_BROWSER=1`` (set by ``.ci/run``) turns that into a failure.
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from helpers import environment

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
WELCOME = "00_welcome.ipynb"
WITH_SOLUTIONS = "01_cnn_foundations.ipynb"  # has solution cells with metadata jupyter.source_hidden
SCREENSHOT = ROOT / "build" / "browser" / "00_welcome.png"
CHROMIUM_NAMES = ("chromium", "chromium-browser")
CHROMIUM_FALLBACK = Path("/usr/bin/chromium")

SERVER_TIMEOUT_S = 120  # jupyter lab answering /api/status
OPEN_TIMEOUT_S = 120  # the page loaded, the notebook rendered, its kernel idle
RUN_TIMEOUT_S = 300  # 00_welcome takes about 15 s in smoke, headless; CI runs other tests alongside

# environment.report's last line when every package is fine (its one home is helpers.environment).
ENVIRONMENT_OK = environment.report([]).splitlines()[-1]
READY = "Ready. Next:"  # what 00_welcome's final assert cell prints once every check passed

# JupyterLab user settings (file name -> settings) for a test server:
# - windowingMode "none" attaches every cell to the DOM (the default renders only the cells in view);
# - no autosave, no news or update check (their toast would ask a question over the notebook).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}
# Server settings: expose the app as window.jupyterapp (the tests read the notebook model through it)
# and fetch no announcements.
SERVER_CONFIG = {"LabApp": {"expose_app_in_browser": True, "news_url": None}}

# The notebook in the active tab, as the page's JupyterLab models see it: the kernel's status and, per
# cell, its type, execution count and output types. Output types are what tells an error from a stderr
# stream: JupyterLab renders both with the mime type application/vnd.jupyter.stderr.
NOTEBOOK_STATE_JS = """() => {
  const panel = window.jupyterapp?.shell?.currentWidget;
  const model = panel?.content?.model;
  if (!model || !panel.context?.isReady) return null;
  const cells = [];
  for (let i = 0; i < model.cells.length; i++) {
    const cell = model.cells.get(i);
    const code = cell.type === "code";
    cells.push({
      type: cell.type,
      count: code ? cell.executionCount : null,
      outputs: code ? cell.outputs.toJSON().map(o => o.output_type) : [],
    });
  }
  return {path: panel.context.path, kernel: panel.sessionContext?.session?.kernel?.status ?? null, cells};
}"""

# Per cell in the DOM (in notebook order): its type and whether its input shows JupyterLab's collapsed
# placeholder ("···") instead of the source.
DOM_CELLS_JS = """() => [...document.querySelectorAll(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-cell")]
  .map(el => ({
    type: el.classList.contains("jp-CodeCell") ? "code" : el.classList.contains("jp-MarkdownCell") ? "markdown" : "raw",
    collapsed: el.querySelector(".jp-InputPlaceholder") !== null,
    editor_visible: [...el.querySelectorAll(".jp-InputArea-editor")].some(e => e.offsetParent !== null),
  }))"""


def _find_chromium() -> str | None:
    """The system Chromium's path (on PATH as chromium or chromium-browser, or /usr/bin/chromium), or None."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return str(CHROMIUM_FALLBACK) if CHROMIUM_FALLBACK.is_file() else None


def _unavailable(reason: str):
    """Skip with ``reason``, or fail with it when ``COURSE_REQUIRE_BROWSER=1`` (CI) demands the browser test."""
    if os.environ.get("COURSE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (COURSE_REQUIRE_BROWSER=1 requires the browser test; .ci/run installs Chromium)")
    pytest.skip(reason)


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_json(path: Path, content) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=1))


def _notebook_json(name: str) -> dict:
    return json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))


def _hidden_source(cell: dict) -> bool:
    """Whether a notebook cell's metadata asks JupyterLab to collapse its input (the solution cells)."""
    return bool(cell.get("metadata", {}).get("jupyter", {}).get("source_hidden"))


def _write_failing_notebook(path: Path) -> None:
    """A notebook whose first cell writes to stderr (not an error), whose second raises and a third never runs."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import sys\n\nprint('a log line, not an error', file=sys.stderr)"),
        nbformat.v4.new_code_cell("1 / 0"),
        nbformat.v4.new_code_cell("print('never runs')"),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@dataclass
class Lab:
    """A running test ``jupyter lab`` server."""

    url: str
    token: str
    root: Path  # the folder it serves
    log: Path  # its stdout and stderr

    def log_tail(self, chars: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else "(no log)"

    @contextmanager
    def log_on_failure(self):
        """Print the end of the server's log (shown by pytest with the failure) if the block raises."""
        try:
            yield
        except BaseException:
            print(f"--- end of the jupyter lab log ({self.log}) ---\n{self.log_tail()}")
            raise


def _lab_command(port: int, token: str, root: Path) -> list[str]:
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--port={port}",
        "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # JupyterLab refuses to run as root without it
    return command


def _lab_environment(home: Path) -> dict:
    """The server's environment (kernels inherit it): smoke profile, and Jupyter's folders all under ``home``."""
    config_dir = home / "config"
    settings_dir = config_dir / "lab" / "user-settings"
    for name, settings in LAB_SETTINGS.items():
        _write_json(settings_dir / name, settings)
    _write_json(config_dir / "jupyter_server_config.json", SERVER_CONFIG)
    return {
        **os.environ,
        "COURSE_PROFILE": "smoke",
        "COURSE_BUILD_DIR": str(home / "build"),
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings_dir),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
    }


def _wait_for_server(lab: Lab, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + SERVER_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"jupyter lab exited with code {process.returncode}:\n{lab.log_tail()}")
        try:
            with urllib.request.urlopen(f"{lab.url}/api/status?token={lab.token}", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"jupyter lab did not answer within {SERVER_TIMEOUT_S} s:\n{lab.log_tail()}")


def _stop(process: subprocess.Popen) -> None:
    """Stop the server's process group: SIGTERM (it shuts its kernels down), SIGKILL if it hangs."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def chromium() -> str:
    """The system Chromium's path, once Playwright imports; otherwise skip (or fail in CI) saying why."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        _unavailable(
            f"Playwright for Python is not importable ({exc}); install the test extra: pip install -e '.[test]'"
        )
    path = _find_chromium()
    if path is None:
        _unavailable("no Chromium found (chromium, chromium-browser or /usr/bin/chromium): apt-get install chromium")
    return path


@pytest.fixture(scope="module")
def lab(chromium, tmp_path_factory):
    """A ``jupyter lab`` server serving copies of the notebooks this module opens, plus a failing notebook."""
    home = tmp_path_factory.mktemp("lab")
    root = home / "notebooks"
    root.mkdir()
    for name in (WELCOME, WITH_SOLUTIONS):
        shutil.copy2(NOTEBOOKS / name, root / name)
    _write_failing_notebook(root / "failing.ipynb")
    port, token = _free_port(), secrets.token_hex(16)
    server = Lab(url=f"http://127.0.0.1:{port}", token=token, root=root, log=home / "jupyter-lab.log")
    with server.log.open("w") as log:
        process = subprocess.Popen(
            _lab_command(port, token, root), env=_lab_environment(home), cwd=root, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        _wait_for_server(server, process)
        yield server
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def browser(chromium):
    """Headless Chromium through Playwright (``--no-sandbox``: these machines run it as root)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chrome = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            yield chrome
        finally:
            chrome.close()


@pytest.fixture
def page(browser):
    """A fresh browser context and page per test (no cookies or state shared between tests)."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(30_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def _state(page) -> dict | None:
    return page.evaluate(NOTEBOOK_STATE_JS)


def _poll(page, done, timeout_s: float, what: str) -> dict:
    """Poll the notebook's state until ``done(state)`` holds twice in a row; fail with the last state if not."""
    deadline, state, streak = time.monotonic() + timeout_s, None, 0
    while time.monotonic() < deadline:
        state = _state(page)
        streak = streak + 1 if state is not None and done(state) else 0
        if streak == 2:
            return state
        time.sleep(0.5)
    pytest.fail(f"{what} within {timeout_s} s; the notebook's last state: {json.dumps(state)}")


def _open_notebook(page, lab: Lab, name: str) -> dict:
    """Open ``name`` in JupyterLab and wait until it is rendered (every cell in the DOM) and its kernel idle."""
    expected = len(json.loads((lab.root / name).read_text(encoding="utf-8"))["cells"])
    page.goto(f"{lab.url}/lab/tree/{name}?token={lab.token}")

    def ready(state):
        return state["path"] == name and state["kernel"] == "idle" and len(page.evaluate(DOM_CELLS_JS)) == expected

    return _poll(page, ready, OPEN_TIMEOUT_S, f"{name} did not open with an idle kernel and {expected} cells")


def _run_all_cells(page) -> None:
    """Run > Run All Cells, through the menu bar as a learner would."""
    page.locator("#jp-MainMenu").get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


def _errors(state: dict) -> list[int]:
    """Indices of the cells with an ``error`` output (an exception), as opposed to stderr streams."""
    return [i for i, cell in enumerate(state["cells"]) if "error" in cell["outputs"]]


def _finished(state: dict) -> bool:
    """Every code cell ran, or one failed (Run All stops there), and the kernel is idle again."""
    code = [cell for cell in state["cells"] if cell["type"] == "code"]
    return state["kernel"] == "idle" and (all(cell["count"] is not None for cell in code) or bool(_errors(state)))


def _run_notebook(page, lab: Lab, name: str) -> dict:
    _open_notebook(page, lab, name)
    _run_all_cells(page)
    return _poll(page, _finished, RUN_TIMEOUT_S, f"{name} did not finish running")


def _screenshot(page, path: Path) -> None:
    """Save the window with the sidebar closed and the first figure in view."""
    path.parent.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => window.jupyterapp.commands.execute('application:toggle-left-area')")
    figure = page.locator(".jp-OutputArea-output img").first
    if figure.count():
        figure.scroll_into_view_if_needed()
    page.screenshot(path=str(path))


def test_welcome_runs_clean_in_jupyterlab(lab, page):
    code_cells = sum(cell["cell_type"] == "code" for cell in _notebook_json(WELCOME)["cells"])
    with lab.log_on_failure():
        state = _run_notebook(page, lab, WELCOME)
        _screenshot(page, SCREENSHOT)
        assert _errors(state) == [], f"cells with an error output: {_errors(state)}; see {SCREENSHOT}"
        counts = [cell["count"] for cell in state["cells"] if cell["type"] == "code"]
        assert len(counts) == code_cells and None not in counts, f"not every code cell ran: {counts}"
        shown = page.locator(".jp-OutputArea-output").all_inner_texts()
        text = "\n".join(shown)
        assert "Active profile: 'smoke'" in text, "the kernel did not inherit COURSE_PROFILE=smoke"
        assert ENVIRONMENT_OK in text, f"the environment check did not pass:\n{text[-3000:]}"
        assert READY in text, "the final check cell did not print its all-clear"
        figures = page.locator(".jp-OutputArea-output img")
        assert figures.count() >= 1, "no figure (<img>) in any output area"
        assert figures.first.evaluate("img => img.complete && img.naturalWidth > 0"), "the figure did not load"
    assert SCREENSHOT.stat().st_size > 10_000


def test_the_error_check_flags_an_exception_but_not_stderr(lab, page):
    with lab.log_on_failure():
        state = _run_notebook(page, lab, "failing.ipynb")
        assert _errors(state) == [1], f"expected only the `1 / 0` cell to fail: {state['cells']}"
        assert state["cells"][0]["outputs"] == ["stream"], "the stderr cell should show a stream, not an error"
        assert state["cells"][2]["count"] is None, "Run All should stop at the failing cell"
        # Why the check reads the model: the page renders the traceback and the stderr line alike.
        stderr_like = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
        assert stderr_like.count() == 2
        assert "ZeroDivisionError" in page.locator(".jp-OutputArea-output").all_inner_texts()[1]


def test_hidden_solutions_render_collapsed(lab, page):
    cells = _notebook_json(WITH_SOLUTIONS)["cells"]
    hidden = [i for i, cell in enumerate(cells) if cell["cell_type"] == "code" and _hidden_source(cell)]
    assert hidden, f"{WITH_SOLUTIONS} has no cell with jupyter.source_hidden: pick a notebook with solutions"
    with lab.log_on_failure():
        _open_notebook(page, lab, WITH_SOLUTIONS)
        dom = page.evaluate(DOM_CELLS_JS)
        assert [cell["type"] for cell in dom] == [cell["cell_type"] for cell in cells]
        collapsed = [i for i, cell in enumerate(dom) if cell["collapsed"]]
        assert collapsed == hidden, f"collapsed cells {collapsed}, but the notebook hides {hidden}"
        assert not any(dom[i]["editor_visible"] for i in hidden), "a hidden solution's source is visible"
        shown = [i for i, cell in enumerate(dom) if cell["type"] == "code" and i not in hidden]
        assert shown and all(dom[i]["editor_visible"] for i in shown), "an ordinary code cell's source is not shown"


def test_a_missing_browser_skips_here_and_fails_where_ci_requires_it(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM_FALLBACK", tmp_path / "no-chromium")
    assert _find_chromium() is None
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM_FALLBACK", Path(sys.executable))
    assert _find_chromium() == sys.executable  # the fallback path when nothing is on PATH
    monkeypatch.delenv("COURSE_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no Chromium"):
        _unavailable("no Chromium found")
    monkeypatch.setenv("COURSE_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="no Chromium found .*COURSE_REQUIRE_BROWSER=1"):
        _unavailable("no Chromium found")
