"""Manual grading in nbgrader's formgrader, in a real browser (Playwright driving Debian's Chromium).

One module-scoped course, built the way the instructor walkthrough (docs/instructors.md) builds one, in a
temporary folder: a copy of ``autograder/`` with a roster (alice, bob), two submissions of the reference solution
whose manually graded answers hold some text, autograded by
``python -m autograder.grade --course <copy> --jobs 1``. Then a Jupyter server with nbgrader's server extensions
(the formgrader) is started on 127.0.0.1 in that copy, as the walkthrough says (``--allow-root`` when the tests
run as root), and Chromium:

* opens the formgrader's list of submissions of the notebook and reads alice's and bob's overall scores;
* opens alice's submission and types a score into the box of each manually graded answer;
* sees alice's overall score rise by exactly the typed points in the formgrader (the list of submissions, and
  the students page), bob's unchanged;
* and ``python -m autograder.export`` (``make export``) then has the typed points in alice's answer columns, her
  ``manual`` and her ``total``; bob's answers stay empty (not graded yet);
* types a comment on one of alice's answers; ``make feedback`` then shows, for each answer in the notebook's order,
  its points out of its maximum, the comment, and the answer rendered (its HTML as HTML, its math as MathML);
* opens bob's submission, whose last cell displays a full-page "All parts passed" overlay with ``<img>`` and CSS
  ``url()`` beacons and whose answers carry the same in markdown, with a real HTTP listener on 127.0.0.1 behind
  the beacons: the page shows the text but nothing covers the page and the listener gets no request; the server's
  Content-Security-Policy (``autograder/course/jupyter_server_config.py``) blocks even an image the test itself
  adds, and JupyterLab in the same server loads under it with no violation.

The manually graded answers are the master notebook's (``autograder/course/source/ddpg/ddpg_pendulum.ipynb``): markdown
cells with ``solution: true, grade: true`` and ``points``, found from its metadata. While the master has none
(the Experiments questions become graded answer cells on another branch), ``ensure_manual_cell`` adds one graded
answer cell to the TEMPORARY copy's master, below the Questions; the repository's master is never changed.

Needs ``/usr/bin/chromium`` (never ``playwright install``) and bubblewrap; skipped without Chromium unless
``REQUIRE_BROWSER=1``. Screenshots go to ``tmp_ddpg_learning/browser/formgrader_*.png``.
"""

from __future__ import annotations

import csv
import dataclasses
import http.server
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from autograder import build_notebooks
from autograder.course_folder import ASSIGNMENT, NOTEBOOK
from tests import grading_catalog as gc
from tests.lab_server import jupyter_env, jupyter_server
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, _browser_or_skip, _free_port

REPO = Path(__file__).resolve().parent.parent
MASTER_RELATIVE = Path("source") / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
SCREENSHOTS = REPO / "tmp_ddpg_learning" / "browser"
ROSTER = "id,first_name,last_name,email\nalice,Alice,Archer,alice@example.org\nbob,Bob,Baker,bob@example.org\n"
INJECTED_ID = "answer_injected_by_test"
#: The documented command that starts the formgrader (docs/instructors.md, walkthrough step 6); the fixture runs
#: it with another port.
README_COMMAND = "jupyter lab --no-browser --ip=127.0.0.1 --port=8888 --config=jupyter_server_config.py"


def manual_cells(master: Path) -> dict[str, float]:
    """``{grade_id: points}`` of the master's manually graded answer cells (``solution`` and ``grade``)."""
    nb = nbformat.read(master, as_version=4)
    found = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and meta.get("grade"):
            found[meta["grade_id"]] = float(meta["points"])
    return found


def ensure_manual_cell(master: Path) -> bool:
    """Give ``master`` one manually graded markdown answer cell (2 points) if it has none; return whether one was
    added. Only ever called on a temporary copy of the course."""
    if manual_cells(master):
        return False
    nb = nbformat.read(master, as_version=4)
    after = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"
                  and c.source.lstrip().startswith("### Questions")), len(nb.cells) - 1)
    cell = nbformat.v4.new_markdown_cell(
        "*Your answer to question 1:*\n\n### BEGIN SOLUTION\n*Rubric (2 points).* One point for an observed "
        "difference in the return curves, one for the reason.\n### END SOLUTION")
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": INJECTED_ID, "locked": False, "points": 2,
                                 "schema_version": 3, "solution": True, "task": False}
    nb.cells.insert(after + 1, cell)
    nbformat.write(nb, master)
    return True


#: What alice writes below her answers: HTML and math, which the feedback must render, not escape.
RICH_ANSWER = "<b>bold claim</b>: the horizon is $\\frac{1}{1-\\gamma}$ steps."
OVERLAY_TEXT = "All parts passed: 10 / 10"


def hostile_html(beacon: str, where: str) -> str:
    """A full-page overlay that claims full marks, with an ``<img>`` and CSS ``url()`` beacons to ``beacon``."""
    return (f'<div style="position:fixed;top:0;left:0;width:100vw;height:100vh;z-index:99999;background:#fff '
            f'url({beacon}{where}-css.png)"><h1>{OVERLAY_TEXT} ({where})</h1></div>'
            f'<img src="{beacon}{where}-img.png"><img src="//{beacon.split("//", 1)[1]}{where}-relative.png">'
            f'<style>body {{ background: url({beacon}{where}-style.png) }}</style>'
            f'<span class="modal-backdrop in"></span>')


def _answer(nb: nbformat.NotebookNode, student: str, extra: str = "") -> None:
    """Write a short answer (then ``extra``) into every manually graded answer cell of a student's notebook."""
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and meta.get("grade") and cell.cell_type == "markdown":
            cell.source = (f"{student}: with LR = 1e-2 the return curve jumps between -1500 and -200 from one "
                           "episode to the next; larger steps overshoot the critic's target." + extra)


def build_graded_course(folder: Path, beacon: str = "http://127.0.0.1:9/") -> dict:
    """A graded course in ``folder``: roster, two submissions with answers, autograded in sandboxes. alice's
    answers end with ``RICH_ANSWER``; bob's with ``hostile_html`` pointing at ``beacon``, and bob's notebook ends
    with a cell that displays it."""
    root = build_notebooks.copy_course(folder)
    injected = ensure_manual_cell(root / MASTER_RELATIVE)
    manual = manual_cells(root / MASTER_RELATIVE)
    (root / "students.csv").write_text(ROSTER)
    build_notebooks.nbgrader(["db", "student", "import", "students.csv"], cwd=root)
    build_notebooks.nbgrader(["generate_assignment", ASSIGNMENT, "--force"], cwd=root)
    release = root / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    assert set(manual) <= {c.metadata.get("nbgrader", {}).get("grade_id")
                           for c in nbformat.read(release, as_version=4).cells}
    reference = next(v for v in gc.CATALOG if v.name == "ok_reference")
    for student in ("alice", "bob"):
        gc.write_submissions(root, release, root / MASTER_RELATIVE, [dataclasses.replace(reference, name=student)])
        path = root / "submitted" / student / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
        nb = nbformat.read(path, as_version=4)
        if student == "alice":
            _answer(nb, student, "\n\n" + RICH_ANSWER)
        else:
            _answer(nb, student, "\n\n" + hostile_html(beacon, "answer") + f"\n\n![beacon]({beacon}answer-md.png)")
            nb.cells.append(nbformat.v4.new_code_cell(
                "from IPython.display import HTML, display\n"
                f"display(HTML({hostile_html(beacon, 'output')!r}))"))
        nbformat.write(nb, path)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "autograder.grade", "--course", str(root), "--jobs", "1",
                           "--quiet"], cwd=REPO, capture_output=True, text=True)
    print(f"autograded 2 submissions in {time.perf_counter() - start:.0f} s (manual cell injected: {injected})")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {"root": root, "manual": manual, "injected": injected, "grade_stdout": proc.stdout}


class _Listener(http.server.BaseHTTPRequestHandler):
    """Counts every request (the student's listener behind the beacons)."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.server.paths.append(self.path)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def beacon():
    """A real HTTP server on 127.0.0.1 that records the path of every request; ``url`` ends with a slash."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Listener)
    server.paths = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"url": f"http://127.0.0.1:{server.server_address[1]}/", "paths": server.paths}
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def course(tmp_path_factory, beacon) -> dict:
    _browser_or_skip()
    return build_graded_course(tmp_path_factory.mktemp("formgrader") / "course", beacon["url"])


@pytest.fixture(scope="module")
def formgrader(course, tmp_path_factory):
    """The documented formgrader command (``README_COMMAND``), run in the course copy with a free port, a token and
    ``--allow-root`` when root, and a headless Chromium page."""
    from playwright.sync_api import sync_playwright

    root = course["root"]
    home = tmp_path_factory.mktemp("formgrader-home")
    env = jupyter_env(home)
    port, token = _free_port(), secrets.token_hex(16)
    command = [f"--port={port}" if word == "--port=8888" else word for word in README_COMMAND.split()]
    command[0] = str(Path(sys.executable).parent / command[0])  # this environment's jupyter
    command += ["--ServerApp.port_retries=0", f"--IdentityProvider.token={token}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log_path = home / "server.log"
    base = f"http://127.0.0.1:{port}"
    with jupyter_server(command, root, env, log_path, f"{base}/formgrader/api/assignments?token={token}",
                        what="the formgrader"):
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            violations: list[str] = []  # every Content-Security-Policy violation the pages report
            page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
            page.goto(f"{base}/formgrader?token={token}")  # logs in (cookie) and lands on the assignments
            page.locator("table a", has_text=re.compile(f"^{ASSIGNMENT}$")).first.wait_for(timeout=60_000)
            try:
                yield {"page": page, "base": base, "token": token, "log": log_path, "violations": violations}
            finally:
                browser.close()


def _screenshot(page, name: str, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"formgrader_{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    print(f"screenshot: {path}")


def _score(text: str) -> tuple[float, float]:
    match = re.fullmatch(r"\s*(-?[\d.]+)\s*/\s*([\d.]+)\s*", text)
    assert match, f"not a score: {text!r}"
    return float(match.group(1)), float(match.group(2))


def _submission_scores(page, base: str) -> dict[str, tuple[float, float, bool]]:
    """Overall score, its maximum and the "Needs Manual Grade?" mark of each student, in the formgrader's list of
    submissions of the notebook."""
    page.goto(f"{base}/formgrader/gradebook/{ASSIGNMENT}/{NOTEBOOK}")
    page.wait_for_selector("tbody tr td.score", timeout=60_000)
    rows = page.evaluate("""() => [...document.querySelectorAll('tbody tr')]
        .filter(tr => tr.querySelector('td.score'))
        .map(tr => [tr.querySelector('a.name-shown').textContent, tr.querySelector('td.score').textContent,
                    !!tr.querySelector('td.needs-manual-grade .glyphicon')])""")
    return {name: (*_score(score), needs) for name, score, needs in rows}


def _student_scores(page, base: str) -> dict[str, tuple[float, float]]:
    """Overall score of each student in the formgrader's students page."""
    page.goto(f"{base}/formgrader/manage_students")
    page.wait_for_selector("tbody tr td.score", timeout=60_000)
    rows = page.evaluate("""() => [...document.querySelectorAll('tbody tr')]
        .filter(tr => tr.querySelector('td.score'))
        .map(tr => [tr.querySelector('td.id').textContent, tr.querySelector('td.score').textContent])""")
    return {student.strip(): _score(score) for student, score in rows}


def _export(root: Path, out: Path) -> dict[str, dict[str, str]]:
    proc = subprocess.run([sys.executable, "-m", "autograder.export", "--course", str(root), "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with out.open() as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


@pytest.mark.browser
@pytest.mark.slow
def test_grading_an_answer_in_the_formgrader_changes_the_students_total(course, formgrader, tmp_path):
    """Type a score into each of alice's manually graded answers in the formgrader; her total rises by exactly that
    in the formgrader and in the export, bob's stays. The answers are the master's graded answer cells; while the
    master has none, ``ensure_manual_cell`` adds one to the temporary course's master (never the repository's)."""
    page, base = formgrader["page"], formgrader["base"]
    root, manual = course["root"], course["manual"]
    assert manual, "the course has no manually graded answer cell"
    before_export = _export(root, tmp_path / "before.csv")
    for student in ("alice", "bob"):
        assert float(before_export[student]["autograded"]) == 10, course["grade_stdout"][-2000:]
        for grade_id in manual:
            assert before_export[student][grade_id] == "", "an answer nobody graded is empty in the export"

    before = _submission_scores(page, base)
    assert set(before) == {"Archer, Alice", "Baker, Bob"}, before
    max_total = 10 + sum(manual.values())
    # autograded, answers not graded yet: 10 points each, and both flagged "needs manual grade"
    assert before["Archer, Alice"] == (10, max_total, True) and before["Baker, Bob"] == (10, max_total, True), before
    _screenshot(page, "before")

    # alice's submission, from her row of the list; a score typed into each manually graded answer's box
    page.locator("tbody tr", has=page.locator("a.name-shown", has_text="Archer, Alice")).locator(
        "td.name a").first.click()
    page.wait_for_selector(f"input.score#{next(iter(manual))}", timeout=60_000)
    typed = {grade_id: points / 2 for grade_id, points in manual.items()}  # half marks on each answer
    for grade_id, score in typed.items():
        box = page.locator(f"input.score#{grade_id}")
        box.scroll_into_view_if_needed()
        with page.expect_response(lambda r: "/formgrader/api/grade/" in r.url and r.request.method == "PUT",
                                  timeout=30_000) as saved:
            box.fill(f"{score:g}")
            box.press("Tab")  # the formgrader saves on the input's change event
        assert saved.value.ok, f"saving {grade_id} failed: HTTP {saved.value.status}"
        assert json.loads(saved.value.text())["manual_score"] == score
    _screenshot(page, "graded", full_page=False)  # the last answer's box (the whole page is a long notebook)

    after = _submission_scores(page, base)
    _screenshot(page, "after")
    assert after["Archer, Alice"] == (10 + sum(typed.values()), max_total, False), after
    assert after["Baker, Bob"] == before["Baker, Bob"], "grading alice changed bob's score"
    students = _student_scores(page, base)
    assert students["alice"] == (10 + sum(typed.values()), max_total), students
    assert students["bob"] == (10, max_total), students

    exported = _export(root, tmp_path / "after.csv")
    alice, bob = exported["alice"], exported["bob"]
    for grade_id, score in typed.items():
        assert float(alice[grade_id]) == score and bob[grade_id] == ""
    assert float(alice["manual"]) == sum(typed.values())
    assert float(alice["total"]) == 10 + sum(typed.values()) and float(alice["max_total"]) == max_total
    assert (alice["first_name"], alice["last_name"]) == ("Alice", "Archer")
    assert float(bob["total"]) == 10 and float(bob["manual"]) == 0


def _page_loads_and_styles(page_html: str) -> tuple[list[str], int]:
    """The URLs that a page's elements would load (every ``src``, ``poster``, ``background``, ``srcset`` and
    ``href`` of a ``<link>`` that is not ``data:``, and every ``style`` attribute), and its count of ``<style>``
    elements."""
    from html.parser import HTMLParser

    found: list[str] = []
    styles = [0]

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            styles[0] += tag == "style"
            for name, value in attrs:
                loads = name in ("src", "poster", "background", "srcset") or (tag == "link" and name == "href")
                if (loads and not (value or "").startswith("data:")) or name == "style":
                    found.append(f"<{tag} {name}={value!r}>")

    Parser().feed(page_html)
    return found, styles[0]


def _open_submission(page, base: str, name: str) -> None:
    """Open ``name``'s submission ("Last, First") from the formgrader's list of submissions of the notebook."""
    _submission_scores(page, base)
    page.locator("tbody tr", has=page.locator("a.name-shown", has_text=name)).locator("td.name a").first.click()
    page.wait_for_selector("input.score", timeout=60_000)


@pytest.mark.browser
@pytest.mark.slow
def test_feedback_shows_each_answer_with_points_comment_and_rendering(course, formgrader, tmp_path):
    """A comment typed in the formgrader on alice's first answer, then ``make feedback``: each answer graded by
    hand, in the notebook's order (not the grade_ids' alphabetical one), with its points out of its maximum, the
    comment, and the answer rendered (HTML as HTML, math as MathML); bob's, not graded yet, say so, and his
    hostile answer loads nothing. ``make export``'s answer columns are in the same order."""
    page, base = formgrader["page"], formgrader["base"]
    root, manual = course["root"], course["manual"]
    order = list(manual)  # the master's order
    assert order != sorted(order), "the test needs answers whose notebook order is not alphabetical"
    _open_submission(page, base, "Archer, Alice")
    comment = "Good observation; the reason is missing (*see* $\\gamma$)."
    box = page.locator(f"textarea#{order[0]}-comment")
    box.scroll_into_view_if_needed()
    with page.expect_response(lambda r: "/formgrader/api/comment/" in r.url and r.request.method == "PUT",
                              timeout=30_000) as saved:
        box.fill(comment)
        box.press("Tab")  # saved on the textarea's change event
    assert saved.value.ok and json.loads(saved.value.text())["manual_comment"] == comment

    proc = subprocess.run([sys.executable, "-m", "autograder.feedback", "--course", str(root)], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pages = {s: (root / "feedback" / s / ASSIGNMENT / f"{NOTEBOOK}.html").read_text() for s in ("alice", "bob")}
    hand_rows = r"<tr><td>([^<]*) \(graded by hand\)</td><td>([^<]*)</td><td>(.*?)</td></tr>"
    alice = re.findall(hand_rows, pages["alice"], re.S)
    assert [title.split(".")[0] for title, _, _ in alice] == [str(n) for n in range(1, len(order) + 1)], alice
    for (_, score, _), points in zip(alice, manual.values()):
        assert score == f"{points / 2:g} / {points:g}"  # the half marks the first test typed
    assert "Good observation; the reason is missing" in alice[0][2] and "<em>see</em>" in alice[0][2]
    assert "<math" in alice[0][2] and all(not row[2] for row in alice[1:])
    assert pages["alice"].count("<b>bold claim</b>") == len(order) and "&lt;b&gt;" not in pages["alice"]
    assert "<mfrac>" in pages["alice"] and "\\frac" not in pages["alice"], "math is MathML, not TeX"
    assert pages["alice"].count("Grader's comment:") == 1
    bob = re.findall(hand_rows, pages["bob"], re.S)
    assert [score for _, score, _ in bob] == [f"not graded yet (out of {p:g})" for p in manual.values()]
    assert f"{OVERLAY_TEXT} (answer)" in pages["bob"] and f"{OVERLAY_TEXT} (output)" in pages["bob"]
    assert _page_loads_and_styles(pages["bob"]) == ([], 1), "bob's page loads something or styles his content"

    exported = _export(root, tmp_path / "ordered.csv")
    with (tmp_path / "ordered.csv").open() as f:
        header = next(csv.reader(f))
    assert [h for h in header if h in manual] == order
    assert exported["alice"][order[0]] == f"{manual[order[0]] / 2:g}"


@pytest.mark.browser
@pytest.mark.slow
def test_a_hostile_submission_covers_nothing_and_calls_nothing_in_the_formgrader(course, formgrader, beacon):
    """bob's submission in the formgrader: the overlay's text is shown, but nothing is laid over the page, and the
    listener behind every beacon (output and answer; img, protocol-relative img, CSS url(), markdown image) gets no
    request. The server's CSP is on the page and blocks an image the test adds itself; Chromium does reach the
    listener when it is told to (so that the count of 0 means something)."""
    page, base = formgrader["page"], formgrader["base"]
    formgrader["violations"].clear()
    _open_submission(page, base, "Baker, Bob")
    response = page.goto(page.url)
    page.wait_for_selector("input.score", timeout=60_000)
    page.wait_for_timeout(2000)  # any image or style sheet would have been asked for by now
    csp = response.headers.get("content-security-policy", "")
    assert "default-src 'self'" in csp and "img-src 'self' data: blob:" in csp, csp
    layout = page.evaluate("""(marker) => {
        const area = innerWidth * innerHeight, covering = [];
        for (const e of document.querySelectorAll('body *')) {
            const position = getComputedStyle(e).position, r = e.getBoundingClientRect();
            if ((position === 'fixed' || position === 'absolute') && r.width * r.height > area / 4)
                covering.push(e.outerHTML.slice(0, 200));
        }
        const shown = [...document.querySelectorAll('#notebook h1')].filter(e => e.textContent.includes(marker));
        const center = document.elementFromPoint(innerWidth / 2, innerHeight / 2);
        return {covering, shown: shown.map(e => e.textContent),
                centerInOverlay: shown.some(e => e.parentElement.contains(center)
                                                   && e.parentElement.getBoundingClientRect().height >= innerHeight)};
    }""", OVERLAY_TEXT)
    _screenshot(page, "hostile", full_page=False)
    assert layout["covering"] == [], layout
    assert sorted(layout["shown"]) == [f"{OVERLAY_TEXT} (answer)"] * len(course["manual"]) + [
        f"{OVERLAY_TEXT} (output)"], "the hostile content must reach the page for this test to mean anything"
    assert not layout["centerInOverlay"]
    assert beacon["paths"] == [], f"the formgrader's page called the student's listener: {beacon['paths']}"
    assert formgrader["violations"] == [], "the formgrader's own page breaks the CSP"

    page.evaluate("(url) => { const img = new Image(); img.src = url; document.body.appendChild(img); }",
                  beacon["url"] + "csp-probe.png")
    page.wait_for_timeout(1000)
    assert beacon["paths"] == [] and any("csp-probe" in v for v in formgrader["violations"])
    page.goto(beacon["url"] + "chromium-control")
    # the control: Chromium itself reaches the listener (after a page loads it may also ask for /favicon.ico, on
    # its own schedule, which is no call from the formgrader's page)
    assert [path for path in beacon["paths"] if path != "/favicon.ico"] == ["/chromium-control"], beacon["paths"]


@pytest.mark.browser
@pytest.mark.slow
def test_jupyterlab_loads_under_the_formgrader_servers_csp(formgrader):
    page, base = formgrader["page"], formgrader["base"]
    formgrader["violations"].clear()
    page.goto(f"{base}/lab")
    page.wait_for_selector(".jp-Launcher", timeout=90_000)
    page.wait_for_timeout(2000)
    assert [v[:300] for v in formgrader["violations"]] == []


@pytest.mark.slow
def test_a_student_who_handed_nothing_in_exports_empty_cells(course, tmp_path):
    """carol is on the roster and handed nothing in: every score of her row is empty (missing), none is 0."""
    root = course["root"]
    build_notebooks.nbgrader(["db", "student", "add", "carol", "--last-name=Carter", "--first-name=Carol"], cwd=root)
    carol = _export(root, tmp_path / "carol.csv")["carol"]
    scores = {k: v for k, v in carol.items()
              if k not in ("student_id", "last_name", "first_name", "email", "lms_user_id", "max_total")}
    assert set(course["manual"]) | {"autograded", "manual", "total", "late_penalty"} <= set(scores)
    assert all(v == "" for v in scores.values()), scores
    assert float(carol["max_total"]) == 10 + sum(course["manual"].values())


@pytest.mark.browser
@pytest.mark.slow
def test_the_formgraders_autograde_refuses(course, formgrader):
    """The formgrader's Autograde (its API, as its button calls it) would run a submission unsandboxed inside the
    server: the course's nbgrader_config.py makes it refuse and name the trusted grader. Runs last: nbgrader then
    removes bob's autograded notebook."""
    request = urllib.request.Request(f"{formgrader['base']}/formgrader/api/submission/{ASSIGNMENT}/bob/autograde",
                                     method="POST", data=b"",
                                     headers={"Authorization": f"token {formgrader['token']}"})
    with urllib.request.urlopen(request, timeout=120) as response:
        answer = json.loads(response.read())
    assert answer["success"] is False
    assert "python -m autograder.grade" in answer.get("error", "") + answer.get("log", "")


def test_ensure_manual_cell_adds_one_only_when_the_master_has_none(tmp_path):
    master = build_notebooks.copy_course(tmp_path / "course") / MASTER_RELATIVE
    had = manual_cells(master)
    added = ensure_manual_cell(master)
    assert added == (not had)
    cells = manual_cells(master)
    assert cells and (cells == had if had else cells == {INJECTED_ID: 2.0})
    assert ensure_manual_cell(master) is False and manual_cells(master) == cells
