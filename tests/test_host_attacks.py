"""Attacks on the grading HOST, through the real ``python -m autograder.grade``, between honest students.

The sandbox's own catalog is tests/hostile_catalog.py. These are the files, names, sizes and metadata a student
controls before any code runs: each one must be refused or repaired by ingest (autograder/ingest.py), named in its
row, and must neither stop the class, gain a point, copy a course file, nor reach the instructor's terminal.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder import build_notebooks, grade
from tests import grading_catalog as gc

REPO = Path(__file__).resolve().parent.parent
MASTER = REPO / "autograder" / "course" / "source" / "ddpg" / "ddpg_pendulum.ipynb"
STUDENT = REPO / "notebooks" / "ddpg_pendulum.ipynb"
NB = "ddpg_pendulum.ipynb"
SECRET_TEXT = "0123456789abcdef0123456789abcdef"
FULL, ZERO = 10.0, 0.0

pytestmark = pytest.mark.slow


def _set_meta(path: Path, grade_id: str, **meta: object) -> None:
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == grade_id:
            cell["metadata"]["nbgrader"].update(meta)
    path.write_text(json.dumps(nb))


def _honest(course: Path, name: str, variant: str = "ok_reference") -> Path:
    v = next(v for v in gc.CATALOG if v.name == variant)
    gc.write_submissions(course, STUDENT, MASTER, [gc.Variant(name, v.why, v.expected, v.pieces, v.mutate)])
    return course / "submitted" / name / "ddpg"


def build_class(course: Path) -> dict[str, tuple[float | None, str]]:
    """Write the class; return ``{student: (expected total or None for "not graded", a note its row carries)}``."""
    sub = course / "submitted"
    expected: dict[str, tuple[float | None, str]] = {}
    _honest(course, "aaa_honest")
    expected["aaa_honest"] = (FULL, "")
    # schema_version 4 and 1 in the student's own cells: nbgrader would abort the whole class
    folder = _honest(course, "schema")
    _set_meta(folder / NB, "select_action", schema_version=4)
    _set_meta(folder / NB, "backward", schema_version=1, points=50, grade=True)
    expected["schema"] = (FULL, "")
    # the notebook is a symlink to the master: would score 10/10 and show the solutions
    (sub / "symlinked" / "ddpg").mkdir(parents=True)
    (sub / "symlinked" / "ddpg" / NB).symlink_to(f"../../../source/ddpg/{NB}")
    expected["symlinked"] = (None, "symlink left out")
    # links and special files beside an unmodified notebook
    folder = _honest(course, "links", "trap_unmodified")
    (folder / "secret").symlink_to("../../../.grading_secret")
    (folder / "master.ipynb.bak").symlink_to(MASTER)
    (folder / "classmate").symlink_to(sub / "aaa_honest" / "ddpg" / NB)
    (folder / "zero").symlink_to("/dev/zero")
    os.mkfifo(folder / "pipe")
    with open(folder / "big.bin", "wb") as f:
        f.truncate(2 * 1024**3)
    expected["links"] = (ZERO, "FIFO left out: pipe")
    # escape sequences in a file name and in an unknown grade_id
    folder = _honest(course, "escapes")
    (folder / "\x1b]0;owned\x07\x1b]52;c;cm0gLXJmIH4=\x07.txt").write_text("x")
    nb = json.loads((folder / NB).read_text())
    nb["cells"].insert(1, {"cell_type": "code", "source": "x = 1", "outputs": [], "execution_count": None,
                           "metadata": {"nbgrader": {"grade_id": "\x1b[2K\r| zzz | 10 | Trusted grading of x",
                                                     "grade": True, "points": 10, "locked": True}}})
    (folder / NB).write_text(json.dumps(nb))
    expected["escapes"] = (FULL, "unknown graded cell")
    # 5.8 MB of nested objects in one cell's metadata; 100 000 empty cells
    folder = _honest(course, "nested")
    text = (folder / NB).read_text()
    (folder / NB).write_text(text.replace('"metadata": {', '"metadata": {"x": ' + '{"a": ' * 700_000 + "1"
                                          + "}" * 700_000 + ", ", 1))
    expected["nested"] = (None, "JSON objects and arrays")
    (sub / "cells" / "ddpg").mkdir(parents=True)
    (sub / "cells" / "ddpg" / NB).write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                                                         "cells": [{"cell_type": "code", "source": ""}] * 100_000}))
    expected["cells"] = (None, "more than 2000 cells")
    # honest slips: a copied exercise cell, a misnamed notebook, a second notebook, not JSON, an empty folder
    folder = _honest(course, "copied")
    nb = json.loads((folder / NB).read_text())
    at = next(i for i, c in enumerate(nb["cells"]) if c["metadata"].get("nbgrader", {}).get("grade_id") == "backward")
    nb["cells"].insert(at, json.loads(json.dumps(nb["cells"][at])))
    (folder / NB).write_text(json.dumps(nb))
    expected["copied"] = (FULL, "cell backward appears more than once")
    folder = _honest(course, "misnamed")
    (folder / NB).rename(folder / "ddpg_pendulum (1).ipynb")
    expected["misnamed"] = (FULL, "graded ddpg_pendulum (1).ipynb as ddpg_pendulum.ipynb")
    folder = _honest(course, "second")
    shutil.copy(STUDENT, folder / "scratch.ipynb")
    expected["second"] = (FULL, "other notebook(s) not graded: scratch.ipynb")
    (sub / "notjson" / "ddpg").mkdir(parents=True)
    (sub / "notjson" / "ddpg" / NB).write_text("{this is not json")
    expected["notjson"] = (None, "not valid JSON")
    (sub / "empty" / "ddpg").mkdir(parents=True)
    expected["empty"] = (None, "empty submission folder")
    # an honest student sorted after every attack
    _honest(course, "zzz_honest", "bad_no_done_mask")
    expected["zzz_honest"] = (7.0, "")
    return expected


@pytest.fixture(scope="module")
def host_run(tmp_path_factory):
    course = build_notebooks.copy_course(tmp_path_factory.mktemp("host") / "course")
    (course / ".grading_secret").write_text(SECRET_TEXT)
    os.chmod(course / ".grading_secret", 0o600)
    expected = build_class(course)
    proc = subprocess.run([sys.executable, "-m", "autograder.grade", "--course", str(course)], capture_output=True,
                          text=True, cwd=REPO, timeout=1500)
    print(proc.stdout[-5000:], proc.stderr[-3000:])
    return {"course": course, "proc": proc, "expected": expected, "scores": grade.read_scores(course)}


def _row(stdout: str, student: str) -> str:
    match = re.search(rf"^\| {re.escape(student)} \|.*\|$", stdout, re.M)
    assert match, stdout[-3000:]
    return match.group(0)


def test_the_class_is_graded_and_the_run_succeeds(host_run):
    proc = host_run["proc"]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    graded = {s for s, (total, _) in host_run["expected"].items() if total is not None}
    assert set(host_run["scores"]) == graded


@pytest.mark.parametrize("student", ["aaa_honest", "schema", "symlinked", "links", "escapes", "nested", "cells",
                                     "copied", "misnamed", "second", "notjson", "empty", "zzz_honest"])
def test_each_submission_gets_its_row(host_run, student):
    total, note = host_run["expected"][student]
    row = _row(host_run["proc"].stdout, student)
    if total is None:
        assert "not graded" in row and student not in host_run["scores"]
    else:
        got = host_run["scores"][student]
        assert sum(got[p] for p in gc.POINTS) == total, (student, got)
    assert note in row, row


def test_nothing_reaches_the_terminal_raw(host_run):
    proc = host_run["proc"]
    for stream in (proc.stdout, proc.stderr):
        assert "\x1b" not in stream and "\x07" not in stream and "\r" not in stream
    assert "\\x1b" in _row(proc.stdout, "escapes")
    assert not re.search(r"^\| zzz \|", proc.stdout, re.M)


def test_no_course_file_or_link_reaches_the_graded_copies(host_run):
    course = host_run["course"]
    master_solution = "### BEGIN SOLUTION"
    for path in (course / "autograded").rglob("*"):
        assert not path.is_symlink(), path
        assert path.is_dir() or path.is_file(), path
        if path.is_file():
            assert path.stat().st_size < 20 * 1024**2, path
            data = path.read_bytes()
            assert SECRET_TEXT.encode() not in data, path
            assert master_solution.encode() not in data, path
    assert not (course / "autograded" / "symlinked").exists()
    assert not (course / ".ingested").exists() and not (course / ".grading_jobs").exists()


def test_metadata_from_the_submission_is_never_recorded(host_run):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{host_run['course'] / 'gradebook.db'}") as gb:
        nb = gb.find_notebook("ddpg_pendulum", "ddpg")
        assert sorted(c.name for c in nb.grade_cells if not c.name.startswith("answer")) == sorted(gc.POINTS)
        assert sum(c.max_score for c in nb.grade_cells) == 22
    graded = nbformat.read(host_run["course"] / "autograded" / "schema" / "ddpg" / NB, as_version=4)
    metas = {c.metadata.get("nbgrader", {}).get("grade_id"): c.metadata.get("nbgrader", {}) for c in graded.cells}
    assert metas["select_action"]["schema_version"] == 3 and metas["backward"].get("grade") is False
    report = json.loads((host_run["course"] / "autograded" / "copied" / "ddpg" / "grading_report.json").read_text())
    assert any("appears more than once" in n for n in report["notes"])
