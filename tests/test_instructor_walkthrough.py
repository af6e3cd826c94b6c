"""The instructor walkthrough of docs/instructors.md, run as written on a temporary copy of the course.

The slow test reads the walkthrough (``## Instructor walkthrough`` in docs/instructors.md) and runs every line of its
``bash`` blocks in order, in the copy, with this environment's ``nbgrader`` and ``python`` first on PATH and
``HOME`` in a temporary folder (where ``~/Downloads/<student>/`` holds each student's notebook, the reference
solution):

* ``source .venv/bin/activate && cd autograder/course``: the environment and the working folder just described;
* ``make release`` / ``make grade`` / ``make feedback`` / ``make export``: what those targets run, with
  ``--course <copy>``, and ``--jobs 1`` for grading (a fast test checks that the Makefile's recipes are these modules);
* the formgrader's ``jupyter lab`` line: run by ``tests/test_formgrader.py`` (a fast test checks it is the same);
* every other line (the roster import, the due date, the collection with ``timestamp.txt``): run by bash, as
  written.

The roster is the walkthrough's ``csv`` block, written to ``students.csv``. Then: the roster's names are in the
gradebook and in the export; alice (on time) has no penalty; bob (2 started days late) loses what the documented
policy says, both in nbgrader's gradebook and in ``make export``'s CSV, and his feedback page says so.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder import build_notebooks
from autograder.course_folder import ASSIGNMENT, COURSE_DIR, NOTEBOOK
from autograder.late import DAY_SECONDS, days_late, late_penalty, percent_per_day
from tests import grading_catalog as gc

REPO = Path(__file__).resolve().parent.parent
GUIDE = REPO / "docs" / "instructors.md"
STUDENT = REPO / "notebooks" / f"{NOTEBOOK}.ipynb"
MASTER = COURSE_DIR / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
SETUP = "source .venv/bin/activate && cd autograder/course"
MAKE = {"make release": ["-m", "autograder.make_release"],
        "make grade": ["-m", "autograder.grade", "--jobs", "1", "--quiet"],
        "make feedback": ["-m", "autograder.feedback"],
        "make export": ["-m", "autograder.export"]}
DUE = "2026-12-04 23:59:59"
BOB_SECONDS_LATE = 24 * 3600 + 8 * 3600 + 15 * 60 + 1  # 2026-12-06 09:15:00 Europe/Berlin (08:15 UTC)


def walkthrough() -> str:
    """The walkthrough section of docs/instructors.md (up to the next heading of its level or above)."""
    text = GUIDE.read_text()
    start = text.index("## Instructor walkthrough")
    end = re.search(r"^#{1,2} ", text[start + 3:], re.M)
    return text[start:] if end is None else text[start:start + 3 + end.start()]


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", walkthrough(), re.M | re.S)


def commands() -> list[str]:
    """Every command line of the walkthrough's bash blocks, in order, without comments."""
    lines = []
    for block in blocks("bash"):
        for line in block.splitlines():
            line = re.sub(r"\s+#\s.*$", "", line).strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def _run(line: str, course: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    if line in MAKE:
        cmd = [sys.executable, *MAKE[line], "--course", str(course)]
        return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    return subprocess.run(line, shell=True, executable="/bin/bash", cwd=course, env=env, capture_output=True,
                          text=True)


# ------------------------------------------------------------------------------------------- fast checks
def test_the_walkthrough_commands_are_the_ones_run_here():
    from tests.test_formgrader import README_COMMAND

    lines = commands()
    assert lines[0] == SETUP
    assert set(MAKE) <= set(lines), "the walkthrough releases, grades, writes feedback and exports with make"
    jupyter = [line for line in lines if line.startswith("jupyter ")]
    assert jupyter == [README_COMMAND], "the formgrader's start command must be the one tests/test_formgrader.py runs"
    makefile = (REPO / "Makefile").read_text()
    for target, args in MAKE.items():
        recipe = re.search(rf"^{target.split()[1]}:.*\n\t(.*)$", makefile, re.M)
        assert recipe and f"-m {args[1]}" in recipe.group(1), f"`{target}` no longer runs {args[1]}"
    assert len(blocks("csv")) == 1 and blocks("csv")[0].startswith("id,")


def test_the_late_policy_is_the_one_documented():
    percent = percent_per_day(COURSE_DIR)
    assert percent == 10
    text = walkthrough()
    assert f"loses {percent:g}% of the assignment's points for every started day (24 h)" in text
    assert "10 or more days late scores 0" in text
    # the config lines the walkthrough quotes are the course's
    config = (COURSE_DIR / "nbgrader_config.py").read_text()
    for line in blocks("python")[0].splitlines():
        assert re.sub(r"\s+#\s.*$", "", line).strip() in config, line
    # the rule: started days, a share of the maximum, never more than the score
    assert days_late(0) == 0 and days_late(1) == 1 and days_late(DAY_SECONDS) == 1 and days_late(DAY_SECONDS + 1) == 2
    assert late_penalty(0, 10, 10) == 0
    assert late_penalty(60, 10, 10) == 1  # a minute late: 1 started day, 10% of 10 points
    assert late_penalty(BOB_SECONDS_LATE, 20, 22) == pytest.approx(4.4)
    assert late_penalty(BOB_SECONDS_LATE, 1.5, 22) == 1.5  # never below 0
    assert late_penalty(10 * DAY_SECONDS, 22, 22) == 22  # 10 days: nothing left


def test_timestamps_are_read_as_the_walkthrough_says():
    """nbgrader's reading of timestamp.txt (and of the due date): zone names and ISO offsets as meant, a bare time
    as UTC, and the form the walkthrough warns against (a space, then +0100) as 100 seconds."""
    from datetime import datetime

    from nbgrader.utils import parse_utc

    assert parse_utc("2026-12-04 18:02:11 UTC") == datetime(2026, 12, 4, 18, 2, 11)
    assert parse_utc("2026-12-06 09:15:00 Europe/Berlin") == datetime(2026, 12, 6, 8, 15)
    assert parse_utc("2026-12-04T19:02:11+01:00") == datetime(2026, 12, 4, 18, 2, 11)
    assert parse_utc("2026-12-04 19:02:11") == datetime(2026, 12, 4, 19, 2, 11)
    assert parse_utc("2026-12-04 19:02:11 +0100") == datetime(2026, 12, 4, 19, 0, 31)
    assert (parse_utc("2026-12-06 09:15:00 Europe/Berlin") - parse_utc(f"{DUE} UTC")).total_seconds() \
        == BOB_SECONDS_LATE
    text = " ".join(walkthrough().split())
    assert "nbgrader 0.9.6 reads that `+0100` as 100 seconds" in text


# -------------------------------------------------------------------------------------------- the run
@pytest.mark.slow
def test_the_walkthrough_runs_on_a_course_copy(tmp_path):
    course = build_notebooks.copy_course(tmp_path / "course")
    roster = list(csv.DictReader(io.StringIO(blocks("csv")[0])))
    (course / "students.csv").write_text(blocks("csv")[0])
    home = tmp_path / "home"
    reference = next(v for v in gc.CATALOG if v.name == "ok_reference")
    release_nb, pieces = nbformat.read(STUDENT, as_version=4), gc.reference_pieces(MASTER)
    for row in roster:  # what each student handed back, where the walkthrough's cp finds it
        downloads = home / "Downloads" / row["id"]
        downloads.mkdir(parents=True)
        nbformat.write(gc.build_submission(release_nb, pieces, dataclasses.replace(reference, name=row["id"])),
                       downloads / f"{NOTEBOOK}.ipynb")
    env = {**os.environ, "HOME": str(home),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}

    out = {}
    for line in commands():
        if line == SETUP or line.startswith("jupyter "):  # the environment above; tests/test_formgrader.py
            continue
        start = time.perf_counter()
        proc = _run(line, course, env)
        print(f"{time.perf_counter() - start:5.1f} s  {line}")
        assert proc.returncode == 0, f"`{line}` failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        out[line] = proc.stdout + proc.stderr

    listed = next(v for k, v in out.items() if k.startswith("nbgrader db student list"))
    for row in roster:
        assert f"{row['id']} ({row['last_name']}, {row['first_name']}) -- {row['email']}" in listed
    assignments = next(v for k, v in out.items() if k.startswith("nbgrader db assignment list"))
    assert f"{ASSIGNMENT} (due: {DUE})" in assignments
    with zipfile.ZipFile(course / "release" / f"{ASSIGNMENT}.zip") as zipped:
        names = set(zipped.namelist())
        assert {f"{ASSIGNMENT}/{NOTEBOOK}.ipynb", f"{ASSIGNMENT}/resources/pendulum_env.mp4",
                f"{ASSIGNMENT}/requirements.txt"} <= names, names
        assert any(re.fullmatch(rf"{ASSIGNMENT}/workshop_lib-[^/]+\.whl", name) for name in names), names
        assert b"BEGIN SOLUTION" not in zipped.read(f"{ASSIGNMENT}/{NOTEBOOK}.ipynb")

    # nbgrader's gradebook: how late each one was, and the penalty the plugin stored when it autograded
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        late = {s: gb.find_submission(ASSIGNMENT, s).total_seconds_late for s in ("alice", "bob")}
        stored = {s: gb.find_submission(ASSIGNMENT, s).late_submission_penalty for s in ("alice", "bob")}
        max_score = gb.find_notebook(NOTEBOOK, ASSIGNMENT).max_score
    assert late == {"alice": 0, "bob": BOB_SECONDS_LATE}

    with open(course / "grades_by_part.csv") as f:
        table = {row["student_id"]: row for row in csv.DictReader(f)}
    assert set(table) == {row["id"] for row in roster}
    with open(course / "grades_by_part.csv") as f:
        header = next(csv.reader(f))
    assert header[:5] == ["student_id", "last_name", "first_name", "email", "lms_user_id"]
    assert header[-6:] == ["autograded", "manual", "days_late", "late_penalty", "total", "max_total"]
    for row in roster:  # the roster's names reach the LMS file
        exported = table[row["id"]]
        assert (exported["first_name"], exported["last_name"], exported["email"]) == \
            (row["first_name"], row["last_name"], row["email"])
    alice, bob = table["alice"], table["bob"]
    assert float(alice["autograded"]) == 10, "the reference solution scores 10 (see make grade's notes)"
    assert float(bob["autograded"]) > 0, "bob's submission must score for his penalty to show"
    assert (alice["days_late"], alice["late_penalty"]) == ("0", "0")
    assert float(alice["total"]) == float(alice["autograded"]) + float(alice["manual"])
    bob_score = float(bob["autograded"]) + float(bob["manual"])
    expected = min(2 * 0.10 * max_score, bob_score)  # 2 started days, 10% of all the points each
    assert float(bob["max_total"]) == max_score and bob["days_late"] == "2"
    assert float(bob["late_penalty"]) == pytest.approx(expected)
    assert float(bob["total"]) == pytest.approx(bob_score - expected)
    assert stored["alice"] in (None, 0) and stored["bob"] == pytest.approx(expected), stored

    feedback = course / "feedback"
    bob_page = (feedback / "bob" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert f"Handed in 2 days after the due date: {float(bob['late_penalty']):g} points off" in bob_page
    assert f"<tr><td>late penalty (2 days late)</td><td>&minus;{bob['late_penalty']}</td>" in bob_page
    assert f"Total: {bob['total']} / {bob['max_total']}" in bob_page
    assert "after the due date" not in (feedback / "alice" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
