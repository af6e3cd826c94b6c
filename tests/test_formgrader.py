"""Manual grading in nbgrader's formgrader, in a real browser (Playwright driving Debian's Chromium).

One module-scoped course, built the way the README's instructor walkthrough builds one, in a temporary folder:
a copy of ``autograder/`` with a roster (alice, bob), two submissions of the reference solution whose manually
graded answers hold some text, autograded by ``python -m autograder.grade --course <copy> --jobs 1``. Then a
Jupyter server with nbgrader's server extensions (the formgrader) is started on 127.0.0.1 in that copy, as the
README says (``--allow-root`` when the tests run as root), and Chromium:

* opens the formgrader's list of submissions of the notebook and reads alice's and bob's overall scores;
* opens alice's submission and types a score into the box of each manually graded answer;
* sees alice's overall score rise by exactly the typed points in the formgrader (the list of submissions, and
  the students page), bob's unchanged;
* and ``python -m autograder.export`` (``make export``) then has the typed points in alice's answer columns, her
  ``manual`` and her ``total``; bob's answers stay empty (not graded yet).

The manually graded answers are the master notebook's (``autograder/source/ddpg/ddpg_pendulum.ipynb``): markdown
cells with ``solution: true, grade: true`` and ``points``, found from its metadata. While the master has none
(the Experiments questions become graded answer cells on another branch), ``ensure_manual_cell`` adds one graded
answer cell to the TEMPORARY copy's master, below the Questions; the repository's master is never changed.

Needs ``/usr/bin/chromium`` (never ``playwright install``) and bubblewrap; skipped without Chromium unless
``REQUIRE_BROWSER=1``. Screenshots go to ``tmp_ddpg_learning/browser/formgrader_*.png``.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from autograder import build_notebooks
from autograder.build_notebooks import ASSIGNMENT, NOTEBOOK
from tests import grading_catalog as gc
from tests.lab_server import jupyter_env, jupyter_server
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, _browser_or_skip, _free_port

REPO = Path(__file__).resolve().parent.parent
MASTER_RELATIVE = Path("source") / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
SCREENSHOTS = REPO / "tmp_ddpg_learning" / "browser"
ROSTER = "id,first_name,last_name,email\nalice,Alice,Archer,alice@example.org\nbob,Bob,Baker,bob@example.org\n"
INJECTED_ID = "answer_injected_by_test"
#: The README's command that starts the formgrader (its walkthrough, step 6); the fixture runs it with another port.
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


def _answer(nb: nbformat.NotebookNode, student: str) -> None:
    """Write a short answer into every manually graded answer cell of a student's notebook."""
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and meta.get("grade") and cell.cell_type == "markdown":
            cell.source = (f"{student}: with LR = 1e-2 the return curve jumps between -1500 and -200 from one "
                           "episode to the next; larger steps overshoot the critic's target.")


def build_graded_course(folder: Path) -> dict:
    """A graded course in ``folder``: roster, two submissions with answers, autograded in sandboxes."""
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
        _answer(nb, student)
        nbformat.write(nb, path)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "autograder.grade", "--course", str(root), "--jobs", "1",
                           "--quiet"], cwd=REPO, capture_output=True, text=True)
    print(f"autograded 2 submissions in {time.perf_counter() - start:.0f} s (manual cell injected: {injected})")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {"root": root, "manual": manual, "injected": injected, "grade_stdout": proc.stdout}


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> dict:
    _browser_or_skip()
    return build_graded_course(tmp_path_factory.mktemp("formgrader") / "course")


@pytest.fixture(scope="module")
def formgrader(course, tmp_path_factory):
    """The README's formgrader command (``README_COMMAND``), run in the course copy with a free port, a token and
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
            page.goto(f"{base}/formgrader?token={token}")  # logs in (cookie) and lands on the assignments
            page.locator("table a", has_text=re.compile(f"^{ASSIGNMENT}$")).first.wait_for(timeout=60_000)
            try:
                yield {"page": page, "base": base, "token": token, "log": log_path}
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
