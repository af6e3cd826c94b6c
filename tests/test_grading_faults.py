"""Grading a class survives faults: a killed run, two runs at once, a read-only or full disk, a broken sandbox,
a virtualenv reached through a symlink, and regrades after hand grading.

Every test works on a copy of one small class graded once (alice: correct, with a hand-graded answer; bob: one
mistake), through the real ``python -m autograder.grade``. In each, no student's grade reads 0 unless
their submission earned it, and the instructor is told what went wrong.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from autograder import build_notebooks, grade
from tests import grading_catalog as gc

REPO = Path(__file__).resolve().parent.parent
MASTER = REPO / "autograder" / "course" / "source" / "ddpg" / "ddpg_pendulum.ipynb"
STUDENT = REPO / "notebooks" / "ddpg_pendulum.ipynb"
NB = "ddpg_pendulum.ipynb"
ANSWER = "answer_stability"

pytestmark = pytest.mark.slow


def _write(course: Path, name: str, like: str, answer: str | None = None) -> None:
    gc.write_submissions(course, STUDENT, MASTER, [gc.as_student(name, like)])
    if answer is not None:
        path = course / "submitted" / name / "ddpg" / NB
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            if cell["metadata"].get("nbgrader", {}).get("grade_id") == ANSWER:
                cell["source"] = answer
        path.write_text(json.dumps(nb))


def _grade(course: Path, *options: str, python: str = sys.executable, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-m", "autograder.grade", "--course", str(course), "--jobs", "2", *options],
                          capture_output=True, text=True, cwd=REPO, timeout=900, **kw)


def _start(course: Path, *options: str, python: str = sys.executable) -> subprocess.Popen:
    return subprocess.Popen([python, "-m", "autograder.grade", "--course", str(course), "--jobs", "2", *options],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)


def _wait_for(proc: subprocess.Popen, text: str, timeout: float = 300) -> list[str]:
    """Lines of ``proc``'s stdout up to the first one holding ``text``."""
    lines, deadline = [], time.time() + timeout
    assert proc.stdout is not None
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"{text!r} never came:\n{''.join(lines)}\n{proc.stderr.read() if proc.stderr else ''}")


def _totals(course: Path) -> dict[str, float]:
    return {s: sum(v or 0.0 for k, v in row.items() if k in gc.POINTS) for s, row in grade.read_scores(course).items()}


def _hand_grade(course: Path, student: str, score: float, comment: str) -> None:
    """What a grader does in the formgrader: a score and a comment for one answer."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook("ddpg_pendulum", "ddpg", student)
        grade_ = next(g for g in nb.grades if g.name == ANSWER)
        grade_.manual_score, grade_.needs_manual_grade = score, False
        next(c for c in nb.comments if c.name == ANSWER).manual_comment = comment
        gb.db.commit()


def _flagged(course: Path, student: str) -> dict[str, bool]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook("ddpg_pendulum", "ddpg", student)
        return {g.name: bool(g.needs_manual_grade) for g in nb.grades}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """The class graded once, with alice's written answer hand-graded 2/3 with a comment."""
    course = build_notebooks.copy_course(tmp_path_factory.mktemp("faults") / "course")
    _write(course, "alice", "ok_reference", answer="Small steps keep the target still.")
    _write(course, "bob", "bad_no_done_mask")
    proc = _grade(course)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert _totals(course) == {"alice": 10.0, "bob": 7.0}
    assert _flagged(course, "alice")[ANSWER] is True
    _hand_grade(course, "alice", 2.0, "Good, but say why.")
    return course


def _copy(base: Path, tmp_path: Path) -> Path:
    course = tmp_path / "course"
    shutil.copytree(base, course, symlinks=True)
    return course


def _scratch_of(pid: int) -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob(f"ddpg-grade-{pid}-*"))


def test_a_run_killed_midway_leaves_every_grade_as_it_was_and_the_next_run_finishes(base, tmp_path):
    course = _copy(base, tmp_path)
    _write(course, "bob", "ok_reference")  # bob's corrected notebook: his new grade would be 10
    before = _totals(course)
    proc = _start(course)
    _wait_for(proc, "grading 2 submissions")
    time.sleep(3)  # the jobs are running
    scratch = _scratch_of(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert scratch, "the killed run had started no job"
    assert _totals(course) == before  # nobody at 0 (the jobs phase never writes the gradebook)
    assert _flagged(course, "alice")[ANSWER] is False
    rerun = _grade(course)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert "removed what a killed run left" in rerun.stdout
    assert not _scratch_of(proc.pid)
    assert _totals(course) == {"alice": 10.0, "bob": 10.0}
    # alice's answer did not change: her hand grade stands, not flagged again
    assert _flagged(course, "alice")[ANSWER] is False
    row = re.search(r"^\| alice \|.*$", rerun.stdout, re.M).group(0)
    assert "| 12 |" in row and "grade it again" not in row


def test_two_runs_at_once_the_second_refuses_and_names_the_first(base, tmp_path):
    course = _copy(base, tmp_path)
    _write(course, "alice", "ok_reference", answer="A different answer now.")
    # bob hands in a symlink instead: refused, and his earlier grade is shown as such, not as this run's
    bob = course / "submitted" / "bob" / "ddpg" / NB
    bob.unlink()
    bob.symlink_to(MASTER)
    # the first run reaches the virtualenv through a symlinked folder (the sandbox must still start)
    link = tmp_path / "linked-repo"
    link.symlink_to(REPO)
    python = str(link / Path(sys.executable).relative_to(REPO)) if Path(sys.executable).is_relative_to(REPO) \
        else sys.executable
    first = _start(course, python=python)
    _wait_for(first, "preflight")
    second = _grade(course)
    assert second.returncode == 3
    assert f"Another grading run holds this course (pid {first.pid}" in second.stderr
    out, err = first.communicate(timeout=900)
    assert first.returncode == 0, out[-3000:] + err[-3000:]
    assert _totals(course) == {"alice": 10.0, "bob": 7.0}
    # alice's answer changed since it was hand-graded: flagged again, and the table says which
    assert _flagged(course, "alice")[ANSWER] is True
    row = re.search(r"^\| alice \|.*$", out, re.M).group(0)
    assert f"answer changed since hand-graded, grade it again: {ANSWER}" in row
    row = re.search(r"^\| bob \|.*$", out, re.M).group(0)
    assert "symlink left out" in row and "NOT REGRADED in this run: the score shown is from 20" in row


def test_a_broken_sandbox_refuses_to_grade_with_its_own_error(base, tmp_path):
    course = _copy(base, tmp_path)
    with open(course / "nbgrader_config.py", "a") as f:
        f.write("\nc.SandboxedGrading.memory_bytes = 60_000_000  # too small for the interpreter to start\n")
    before = (course / "gradebook.db").read_bytes()
    proc = _grade(course)
    assert proc.returncode == 2
    assert "Refusing to grade: the reference solution, graded exactly as a submission, did not pass" in proc.stderr
    assert "could not start:" in proc.stderr and "sandbox said" in proc.stderr
    assert (course / "gradebook.db").read_bytes() == before
    assert _totals(course) == {"alice": 10.0, "bob": 7.0}


def _in_mount_namespace(script: str) -> subprocess.CompletedProcess:
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-ec", script],
                          capture_output=True, text=True, cwd=REPO, timeout=900)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for a private mount (CI runs as root)")
def test_a_read_only_course_folder_stops_with_one_clear_message(base, tmp_path):
    course = _copy(base, tmp_path)
    before = (course / "gradebook.db").read_bytes()
    proc = _in_mount_namespace(f"mount --bind {course} {course}; mount -o remount,bind,ro {course}; "
                               f"{sys.executable} -m autograder.grade --course {course} --jobs 2")
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Grading stopped: could not write" in proc.stderr and "Read-only file system" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert (course / "gradebook.db").read_bytes() == before


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for a private tmpfs (CI runs as root)")
def test_a_disk_that_fills_midway_keeps_every_grade_old_or_new_and_leaves_no_job_files(base, tmp_path):
    course = _copy(base, tmp_path)
    _write(course, "bob", "ok_reference")
    used = sum(p.stat().st_size for p in course.rglob("*") if p.is_file())
    small, out = tmp_path / "small", tmp_path / "after"
    small.mkdir()
    # room for the course and its ingested copies, not for the jobs' results
    proc = _in_mount_namespace(
        f"mount -t tmpfs -o size={used + 600_000} tmpfs {small}; cp -a {course}/. {small}/; "
        f"{sys.executable} -m autograder.grade --course {small} --jobs 2 --min-free-mb 0 || echo exit=$?; "
        f"cp -a {small}/. {out}/")
    assert "exit=2" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Grading stopped: could not write" in proc.stderr and "No space left on device" in proc.stderr
    assert "Traceback" not in proc.stderr
    totals = _totals(out)
    assert totals["alice"] == 10.0 and totals["bob"] in (7.0, 10.0)  # each student: the old grade or the new
    assert not (out / ".grading_jobs").exists() and not (out / ".ingested").exists()
    # (the next run finishing the job is the killed-run test's rerun)
    # the refusal before a run starts, on a nearly full disk
    refused = _grade(out, "--min-free-mb", "100000000")
    assert refused.returncode == 2 and "free some space" in refused.stderr
