"""A course that shows the submitted outputs (``c.SandboxedGrading.notebook_outputs = "submitted"``): no notebook
run, the student's saved outputs in the autograded notebook, sanitized, and grades exactly as strict.

One small class through the real ``python -m autograder.grade`` (sandboxed): alice (correct) and bob (one mistake)
both saved outputs that claim every check passed, with a script and a broken image among them; carol (correct)
saved none. Their totals are the catalog's, the graded cells show the grader's verdicts and nothing of what they
saved, the rest shows what they saved without the script, and nothing shows that the notebook ran again.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder import build_notebooks, feedback, grade
from autograder.course_folder import autograded_dir, autograded_notebook
from autograder.trusted import REPORT_NAME, SandboxedGrading
from tests import grading_catalog as gc

REPO = Path(__file__).resolve().parent.parent
MASTER = REPO / "autograder" / "course" / "source" / "ddpg" / "ddpg_pendulum.ipynb"
STUDENT = REPO / "notebooks" / "ddpg_pendulum.ipynb"
FORGED = "Exercise 1: all checks passed (forged)"
SAVED = "saved by the student, shown as saved"

pytestmark = pytest.mark.slow


def _save_outputs(path: Path) -> None:
    """What a student's notebook holds after running it: outputs in every code cell, some of them hostile."""
    nb = json.loads(path.read_text())
    for count, cell in enumerate(c for c in nb["cells"] if c["cell_type"] == "code"):
        cell["execution_count"] = count + 1
        cell["outputs"] = [
            {"output_type": "stream", "name": "stdout", "text": f"{FORGED}\n{SAVED} {count}\n"},
            {"output_type": "display_data", "metadata": {},
             "data": {"text/html": "<b>saved</b><script>fetch('/hub/api')</script>",
                      "image/png": "not base64!"}},
            {"output_type": "display_data", "metadata": {},
             "data": {"text/html": '<video controls src="data:video/mp4;base64,AAAAIGZ0eXA="></video>'}}]
    path.write_text(json.dumps(nb))


def _totals(course: Path) -> dict[str, float]:
    return {s: sum(v or 0.0 for k, v in row.items() if k in gc.POINTS) for s, row in grade.read_scores(course).items()}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = build_notebooks.copy_course(tmp_path_factory.mktemp("submitted") / "course")
    with open(course / "nbgrader_config.py", "a") as f:
        f.write('\nc.SandboxedGrading.notebook_outputs = "submitted"\n')
    gc.write_submissions(course, STUDENT, MASTER, [gc.as_student("alice", "ok_reference"),
                                                    gc.as_student("bob", "bad_no_done_mask"),
                                                    gc.as_student("carol", "ok_reference")])
    for student in ("alice", "bob"):
        _save_outputs(course / "submitted" / student / "ddpg" / "ddpg_pendulum.ipynb")
    proc = subprocess.run([sys.executable, "-m", "autograder.grade", "--course", str(course), "--jobs", "2"],
                          capture_output=True, text=True, cwd=REPO, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return course


def test_grades_are_as_strict_as_with_a_rerun(course):
    assert _totals(course) == {"alice": 10.0, "bob": 7.0, "carol": 10.0}


def test_the_autograded_notebook_shows_what_was_saved_made_safe_and_verdicts_in_graded_cells(course):
    nb = nbformat.read(autograded_notebook(course, "alice"), as_version=4)
    graded = [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")
              and not c.metadata["nbgrader"].get("solution")]
    plain = [c for c in nb.cells if c.cell_type == "code" and c not in graded]
    assert graded and plain
    for cell in graded:  # the grader's verdict, never what the student saved there
        text = json.dumps(cell.outputs)
        assert FORGED not in text and SAVED not in text and "decided by the grader" in text, text
    shown = [json.dumps(c.outputs) for c in plain]
    assert all(SAVED in t for t in shown), "every plain cell shows what the student saved"
    assert all("<b>saved</b>" in t and "script" not in t and "image/png" not in t for t in shown)
    assert all(isinstance(c.execution_count, int) for c in plain)


def test_nothing_ran_the_notebook_again(course):
    """A re-run would print the shortened training's summary; carol saved no output, so her notebook shows none,
    and the report says where the outputs came from."""
    text = nbformat.writes(nbformat.read(autograded_notebook(course, "carol"), as_version=4))
    assert "EPISODES: 2 |" not in text
    plain = [c for c in nbformat.reads(text, as_version=4).cells
             if c.cell_type == "code" and not c.metadata.get("nbgrader", {}).get("grade")]
    assert all(c.outputs == [] for c in plain)
    report = json.loads((autograded_dir(course, "carol") / REPORT_NAME).read_text())
    assert report["outputs"] == "submitted" and report["notebook_run"] == {"reason": None, "seconds": 0.0}
    assert report["notes"] == []


def test_the_feedback_says_the_outputs_are_the_students_own(course):
    page = feedback.page(course, "bob")
    assert "the outputs you saved in it" in page and "as the grader ran it" not in page
    assert feedback.SAVED_VIDEO_NOTE in page and feedback.VIDEO_NOTE not in page  # their own videos, not a tiny run
    assert "fetch('/hub/api')" not in page


def test_a_course_reruns_by_default():
    spec = SandboxedGrading().make_spec(nbformat.read(STUDENT, as_version=4), "s", REPO / "missing", "nb.ipynb",
                                        None)
    assert spec["notebook_run"] is True
    spec = SandboxedGrading(notebook_outputs="submitted").make_spec(nbformat.read(STUDENT, as_version=4), "s",
                                                                    REPO / "missing", "nb.ipynb", None)
    assert spec["notebook_run"] is False
