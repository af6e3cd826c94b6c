"""The notebooks in a real browser: JupyterLab 4 and Notebook 7 on loopback, driven by Playwright through Debian's
Chromium.

What a student sees is checked where a student sees it: a Jupyter server started on 127.0.0.1 (free port,
token, no browser) in a temporary copy of the notebooks, JupyterLab opened in headless Chromium, cells run
from JupyterLab's own menu, then the DOM and the notebook JupyterLab saved are inspected:

* the solution notebook, in JupyterLab and again in Notebook 7: Run > Run All Cells; no error output, every
  code cell ran, the training printed its closing line, and every ``<video>`` plays (readyState >= 3,
  currentTime advancing, videoWidth > 0);
* the student notebook: its first cells, up to the one that shows the problem's video, run without error
  and the video plays;
* a small stand-in notebook that records a fresh episode with ``workshop_lib.video`` and shows it inline.

Screenshots go to ``tmp_ddpg_learning/browser/`` (their paths are printed; ``pytest -s`` shows them).

Needs ``/usr/bin/chromium`` (``apt-get install -y chromium``; never ``playwright install``). Without it the
tests are skipped, unless ``REQUIRE_BROWSER=1`` (set by ``.ci/run``), which turns the skip into a failure.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab_server import jupyter_env, jupyter_server

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--autoplay-policy=no-user-gesture-required"]
SOLUTION = "solutions/ddpg_pendulum_solution.ipynb"
STUDENT = "notebooks/ddpg_pendulum.ipynb"
#: The closing line of the notebook's training cell (also the last line of ``python -m workshop_lib.train``).
TRAINING_DONE = re.compile(r"UPDATES PER SECOND:\s*\d+")
SCREENSHOTS = REPO / "tmp_ddpg_learning" / "browser"
RUN_TIMEOUT_S = 900  # the whole solution notebook, training included (about a minute here)


def _browser_or_skip() -> None:
    problem = None
    if not CHROMIUM.is_file():
        problem = f"Chromium not found at {CHROMIUM} (install it: apt-get install -y chromium)"
    else:
        try:
            import jupyterlab  # noqa: F401
            import playwright.sync_api  # noqa: F401
        except ImportError as err:
            problem = (f"{err.name} is not installed (pip install -e '.[notebook,test]'; Playwright needs no "
                       "browser download)")
    if problem is None:
        return
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {problem}")
    pytest.skip(f"{problem}; set REQUIRE_BROWSER=1 to make this a failure")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _strip_outputs(path: Path) -> None:
    """Remove stored outputs, so that everything the test sees comes from this run."""
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    path.write_text(json.dumps(nb, indent=1))


STAND_IN = {
    "cells": [
        {"id": "title", "cell_type": "markdown", "metadata": {},
         "source": "# Stand-in: the video helper in the browser"},
        {"id": "show", "cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": (
            "import sys\n"
            "import numpy as np\n"
            "print('KERNEL PYTHON:', sys.executable)\n"
            "from workshop_lib.video import record_episode, resource_path, show_video, show_videos\n"
            "show_video(resource_path('pendulum_env.mp4'))")},
        {"id": "record", "cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": (
            "path, ret = record_episode(lambda s: np.array([2.0], np.float32), 'tmp_ddpg_learning/push.mp4',"
            " seed=1, steps=60)\n"
            "print(f'RETURN: {ret:.1f} | UPDATES PER SECOND: 0 (stand-in: no training)')\n"
            "show_videos([(resource_path('pendulum_env.mp4'), 'untrained'), (path, f'push: return {ret:.0f}')])")},
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
                 "language_info": {"name": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}


class Lab:
    """A JupyterLab server in a temporary folder, and a headless Chromium on it."""

    def __init__(self, root: Path, port: int, token: str, page) -> None:
        self.root, self.port, self.token, self.page = root, port, token, page

    def url(self, path: str, ui: str = "lab") -> str:
        """JupyterLab 4 (``ui="lab"``) or Notebook 7 (``ui="notebook"``), both served by the same server."""
        if ui == "notebook":
            return f"http://127.0.0.1:{self.port}/notebooks/{path}?token={self.token}"
        return f"http://127.0.0.1:{self.port}/lab/tree/{path}?reset&token={self.token}"

    def saved_notebook(self, path: str) -> dict:
        """The notebook as the server has it on disk (what JupyterLab last saved)."""
        return self.api(f"contents/{path}?content=1")["content"]

    def last_modified(self, path: str) -> str:
        """The file's modification time, from the server without reading the notebook.

        Reading a notebook while JupyterLab writes it can make the server "recover" it from its half-written
        temporary copy and break the save; asking for the time only (``content=0``) reads nothing.
        """
        return self.api(f"contents/{path}?content=0")["last_modified"]

    def api(self, path: str, method: str = "GET") -> object:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/api/{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def open(self, path: str, ui: str = "lab") -> None:
        """Open a notebook in a fresh page (earlier notebooks' kernels are shut down first)."""
        for kernel in self.api("kernels"):
            self.api(f"kernels/{kernel['id']}", method="DELETE")
        page = self.page
        page.goto(self.url(path, ui))
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=120_000)
        self.wait_idle(timeout_s=120)

    def wait_idle(self, timeout_s: float) -> None:
        """Wait until the kernel is idle and no cell shows the busy prompt ``[*]``."""
        deadline = time.monotonic() + timeout_s
        idle_since = None
        while time.monotonic() < deadline:
            state = self.page.evaluate("""() => {
                const panel = '.jp-NotebookPanel:not(.lm-mod-hidden) ';
                const ind = document.querySelector(panel + '.jp-Notebook-ExecutionIndicator');
                const busy = [...document.querySelectorAll(panel + '.jp-InputPrompt')]
                    .some(p => p.textContent.includes('*'));
                return {status: ind ? ind.getAttribute('data-status') : null, busy};
            }""")
            if state["status"] is None:  # Notebook 7 has no execution indicator: ask the server
                kernels = self.api("kernels")
                state["status"] = "idle" if kernels and all(k["execution_state"] == "idle" for k in kernels) \
                    else "busy"
            if state["status"] == "idle" and not state["busy"]:
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > 2.0:  # idle and staying idle
                    return
            else:
                idle_since = None
            time.sleep(0.5)
        raise AssertionError(f"the kernel was still busy after {timeout_s:.0f} s")

    def menu(self, menu: str, item: str) -> None:
        page = self.page
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{menu}$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{item}$")).first.click()

    def save(self, path: str) -> dict:
        """Save from the File menu, wait until the file on disk is replaced, then read it."""
        before = self.last_modified(path)
        self.menu("File", "Save Notebook")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if self.last_modified(path) != before and not self.page.locator(".jp-mod-dirty").count():
                return self.saved_notebook(path)
        raise AssertionError(f"{path} was not saved within 60 s of File > Save Notebook")

    def videos_play(self) -> list[dict]:
        """Scroll each <video> into view and check that it plays; return what each one reported."""
        page = self.page
        reports = []
        videos = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) video")
        for index in range(videos.count()):
            video = videos.nth(index)
            video.scroll_into_view_if_needed()
            try:
                page.wait_for_function("v => v.readyState >= 3 && v.videoWidth > 0",
                                       arg=video.element_handle(), timeout=30_000)
            except Exception:  # reported (and failed) below with what the element says
                pass
            report = video.evaluate("""async v => {
                const times = [];
                for (let i = 0; i < 12; i++) {  // 1.2 s of samples; a loop restart shows as one drop
                    times.push(v.currentTime);
                    await new Promise(r => setTimeout(r, 100));
                }
                const cell = v.closest('.jp-Cell');
                return {times, src: (v.currentSrc || '').slice(0, 60), error: v.error && v.error.code,
                        where: cell ? (cell.classList.contains('jp-MarkdownCell') ? 'markdown' : 'output') : '?',
                        paused: v.paused, autoplay: v.autoplay, muted: v.muted, loop: v.loop,
                        w: v.videoWidth, h: v.videoHeight, ready: v.readyState, duration: v.duration,
                        frames: v.getVideoPlaybackQuality().totalVideoFrames};
            }""")
            times = report.pop("times")
            report["forward_steps"] = sum(b > a for a, b in zip(times, times[1:]))
            report["t_first"], report["t_last"] = times[0], times[-1]
            reports.append({"index": index, **report})
        return reports

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[Lab]:
    _browser_or_skip()
    from playwright.sync_api import sync_playwright

    root = tmp_path_factory.mktemp("lab")
    for folder in ("notebooks", "solutions", "resources"):
        if (REPO / folder).is_dir():
            shutil.copytree(REPO / folder, root / folder,
                            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "tmp_ddpg_learning"))
    for notebook in root.glob("*/*.ipynb"):
        _strip_outputs(notebook)
    (root / "standin").mkdir()
    (root / "standin" / "standin.ipynb").write_text(json.dumps(STAND_IN))
    shutil.copytree(REPO / "resources", root / "standin" / "resources")

    home = tmp_path_factory.mktemp("jupyter-home")
    env = jupyter_env(home, MPLBACKEND="module://matplotlib_inline.backend_inline", PYTHONUNBUFFERED="1")
    # No announcement / news pop-ups over the notebook.
    settings = home / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    port, token = _free_port(), secrets.token_hex(16)
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}", "--LabApp.extension_manager=readonly", "--ServerApp.allow_root=True"]
    with jupyter_server(command, root, env, home / "server.log", f"http://127.0.0.1:{port}/api/status?token={token}"):
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            try:
                yield Lab(root, port, token, page)
            finally:
                browser.close()


def _errors(nb: dict) -> list[str]:
    found = []
    for i, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            if out["output_type"] == "error":
                found.append(f"cell {i}: {out['ename']}: {out['evalue']}\n{cell['source'][:300]}")
    return found


def _text(cell: dict) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o["output_type"] == "stream")


def _assert_videos_play(reports: list[dict], at_least: int) -> None:
    assert len(reports) >= at_least, f"expected at least {at_least} <video> elements, found {len(reports)}"
    for r in reports:
        assert r["ready"] >= 3 and r["w"] > 0, f"video {r['index']} not ready: {r}"
        # 11 intervals of 100 ms: a playing video moves forward in (nearly) all of them
        assert r["forward_steps"] >= 8, f"video {r['index']} does not play (currentTime stuck): {r}"


def test_video_helper_plays_inline_in_jupyterlab(lab):
    """Stand-in notebook: the shipped video and a freshly recorded one show and play."""
    path = "standin/standin.ipynb"
    lab.open(path)
    lab.menu("Run", "Run All Cells")
    lab.wait_idle(timeout_s=120)
    nb = lab.save(path)
    assert not _errors(nb), _errors(nb)
    assert all(c["execution_count"] for c in nb["cells"] if c["cell_type"] == "code"), "not every cell ran"
    assert f"KERNEL PYTHON: {sys.executable}" in _text(nb["cells"][1]), "the kernel is not this environment's python"
    assert TRAINING_DONE.search(_text(nb["cells"][2]))
    reports = lab.videos_play()
    print(reports)
    lab.screenshot("standin")
    _assert_videos_play(reports, at_least=3)


def run_whole_notebook(lab: Lab, path: str, min_videos: int, screenshot: str, ui: str = "lab") -> None:
    """Run All Cells from the Run menu and check errors, completion, training and videos."""
    lab.open(path, ui)
    start = time.monotonic()
    lab.menu("Run", "Run All Cells")
    lab.wait_idle(timeout_s=RUN_TIMEOUT_S)
    print(f"{path} ran in {time.monotonic() - start:.0f} s")
    nb = lab.save(path)
    errors = _errors(nb)
    assert not errors, "error outputs:\n" + "\n\n".join(errors)
    # the DOM agrees: JupyterLab shows no traceback
    assert lab.page.locator(".jp-OutputArea-output:has-text('Traceback')").count() == 0
    not_run = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and not c["execution_count"]]
    assert not not_run, f"code cells that did not run: {not_run}"
    assert any(TRAINING_DONE.search(_text(c)) for c in nb["cells"]), (
        f"no cell printed the training's closing line ({TRAINING_DONE.pattern})")
    reports = lab.videos_play()
    for report in reports:
        print(report)
    lab.screenshot(screenshot)
    _assert_videos_play(reports, at_least=min_videos)


def test_solution_notebook_runs_all_cells_and_shows_playing_videos(lab):
    assert (lab.root / SOLUTION).is_file(), f"{SOLUTION} is missing from the repository"
    # the problem's video, then the untrained and the trained agents side by side
    run_whole_notebook(lab, SOLUTION, min_videos=2, screenshot="solution")


def test_solution_notebook_runs_all_cells_in_notebook_7(lab):
    """The same Run All in the classic-style interface of Notebook 7 (served by the same server)."""
    # A fresh copy without outputs: the JupyterLab test may already have saved this notebook's outputs.
    copy = SOLUTION.replace(".ipynb", "_notebook7.ipynb")
    shutil.copy2(REPO / SOLUTION, lab.root / copy)
    _strip_outputs(lab.root / copy)
    run_whole_notebook(lab, copy, min_videos=2, screenshot="solution_notebook7", ui="notebook")


def test_student_notebook_first_cells_run_and_show_the_video(lab):
    assert (lab.root / STUDENT).is_file(), f"{STUDENT} is missing from the repository"
    cells = json.loads((lab.root / STUDENT).read_text())["cells"]
    target = next((i for i, c in enumerate(cells) if c["cell_type"] == "code"
                   and "pendulum_env.mp4" in "".join(c["source"])), None)
    assert target is not None, "no code cell of the student notebook shows resources/pendulum_env.mp4"
    lab.open(STUDENT)
    # Select the video's cell (a click on its prompt selects without editing), then run it and all above.
    lab.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").nth(target) \
        .locator(".jp-InputPrompt").first.click()
    lab.menu("Run", "Run All Above Selected Cell")
    lab.wait_idle(timeout_s=120)
    lab.menu("Run", "Run Selected Cell")
    lab.wait_idle(timeout_s=120)
    nb = lab.save(STUDENT)
    first = {"cells": nb["cells"][:target + 1]}
    assert not _errors(first), _errors(first)
    not_run = [i for i, c in enumerate(first["cells"]) if c["cell_type"] == "code" and not c["execution_count"]]
    assert not not_run, f"code cells before the video that did not run: {not_run}"
    reports = lab.videos_play()
    print(reports)
    lab.screenshot("student")
    _assert_videos_play(reports, at_least=1)


def test_without_chromium_the_tests_skip_or_fail_when_required(monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", Path("/nonexistent/chromium"))
    monkeypatch.delenv("REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Chromium not found.*REQUIRE_BROWSER=1"):
        _browser_or_skip()
    monkeypatch.setenv("REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="REQUIRE_BROWSER=1 but Chromium not found"):
        _browser_or_skip()
