"""The course's names and folders, in one place: the assignment, its notebook, and where nbgrader keeps each thing.

The course data is the nbgrader course folder ``autograder/course/`` (:data:`COURSE_DIR`); the grading host's code
is the package around it (``autograder/*.py``). Every command takes ``--course DIR`` for another copy of that
folder, so every path here is a function of the course folder it is given:

====================================  ==============================================================
``nbgrader_config.py``                nbgrader's configuration, the sandbox's limits, the late policy
``jupyter_server_config.py``          the formgrader server's Content-Security-Policy
``source/ddpg/ddpg_pendulum.ipynb``   the master notebook (:func:`source_notebook`)
``RUBRIC.md``                         the rubric of the answers graded by hand (written from the master)
``release/ddpg/``                     what ``nbgrader generate_assignment`` releases (:func:`release_dir`)
``submitted/<student>/ddpg/``         what students handed in (:func:`submitted_root`, :func:`submissions`)
``autograded/<student>/ddpg/``        what ``nbgrader autograde`` wrote (:func:`autograded_notebook`)
``feedback/<student>/ddpg/``          the feedback pages (:func:`feedback_page`)
``gradebook.db``                      nbgrader's gradebook (:func:`gradebook_url`, :func:`read_scores`)
====================================  ==============================================================

The runtime folders and files (everything but the first four rows) are not in git (``.gitignore``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # nbgrader is only imported where the gradebook is read
    from nbgrader.api import SubmittedNotebook

REPO = Path(__file__).resolve().parent.parent
"""The repository's root (``notebooks/``, ``solutions/`` and the package ``workshop_lib`` live there)."""
COURSE_DIR = Path(__file__).resolve().parent / "course"
"""The course folder every command uses unless it is given ``--course DIR``."""
COURSE_ID = "ddpg-workbook"
"""The course's id in nbgrader's exchange (``c.CourseDirectory.course_id`` of the course's ``nbgrader_config.py``,
which a test checks against this)."""
ASSIGNMENT = "ddpg"
"""nbgrader's name of the one assignment."""
NOTEBOOK = "ddpg_pendulum"
"""nbgrader's name of the assignment's one notebook (the file is ``ddpg_pendulum.ipynb``)."""
NOTEBOOK_FILE = f"{NOTEBOOK}.ipynb"
"""The notebook's file name, in every folder of the course that holds it."""
CONFIG_NAME = "nbgrader_config.py"
"""The file that makes a folder an nbgrader course folder."""
GRADEBOOK_NAME = "gradebook.db"
"""nbgrader's gradebook, in the course folder."""


def source_dir(course: Path = COURSE_DIR) -> Path:
    """``course/source/ddpg/``: the master notebook and the files released beside it."""
    return course / "source" / ASSIGNMENT


def source_notebook(course: Path = COURSE_DIR) -> Path:
    """``course/source/ddpg/ddpg_pendulum.ipynb``: the master, with the solutions and hidden tests."""
    return source_dir(course) / NOTEBOOK_FILE


def release_dir(course: Path = COURSE_DIR) -> Path:
    """``course/release/ddpg/``: what ``nbgrader generate_assignment`` releases to students."""
    return course / "release" / ASSIGNMENT


def release_notebook(course: Path = COURSE_DIR) -> Path:
    """``course/release/ddpg/ddpg_pendulum.ipynb``: the student notebook of the last release."""
    return release_dir(course) / NOTEBOOK_FILE


def submitted_root(course: Path = COURSE_DIR) -> Path:
    """``course/submitted/``: one folder per student (``python -m autograder.hub.collect``, or copied there by hand)."""
    return course / "submitted"


def autograded_dir(course: Path, student: str) -> Path:
    """``course/autograded/<student>/ddpg/``: the autograded notebook and the trusted grader's report."""
    return course / "autograded" / student / ASSIGNMENT


def autograded_students(course: Path) -> list[str]:
    """The students with an ``autograded/<student>/ddpg/`` folder in ``course``, sorted (whom feedback is for)."""
    return sorted(p.parent.name for p in (course / "autograded").glob(f"*/{ASSIGNMENT}") if p.is_dir())


def autograded_notebook(course: Path, student: str) -> Path:
    """``course/autograded/<student>/ddpg/ddpg_pendulum.ipynb`` (nbgrader removes it when grading failed)."""
    return autograded_dir(course, student) / NOTEBOOK_FILE


def feedback_page(course: Path, student: str) -> Path:
    """``course/feedback/<student>/ddpg/ddpg_pendulum.html``: where ``nbgrader release_feedback`` looks."""
    return course / "feedback" / student / ASSIGNMENT / f"{NOTEBOOK}.html"


def is_course(course: Path) -> bool:
    """True if ``course`` is an nbgrader course folder (it holds ``nbgrader_config.py``)."""
    return (course / CONFIG_NAME).is_file()


def gradebook_path(course: Path = COURSE_DIR) -> Path:
    """``course/gradebook.db``: nbgrader's gradebook (made by the first ``nbgrader`` command that needs it)."""
    return course / GRADEBOOK_NAME


def gradebook_url(course: Path = COURSE_DIR) -> str:
    """The SQLAlchemy URL of the course's gradebook, as ``nbgrader.api.Gradebook`` takes it."""
    return f"sqlite:///{gradebook_path(course)}"


def submissions(course: Path) -> list[str]:
    """Every entry of ``submitted/`` (a student's folder, or whatever stands in its place: ingest says what is
    wrong with it), sorted; hidden names left out."""
    root = submitted_root(course)
    if not root.is_dir():
        return []
    return sorted(e.name for e in os.scandir(root) if not e.name.startswith("."))


# ----------------------------------------------------------------------------------------------- the scores
def cell_scores(notebook: SubmittedNotebook) -> dict[str, float | None]:
    """``{grade_id: score}`` of one submitted notebook of the gradebook: the one rule for reading a score.

    A graded cell's score is nbgrader's ``score`` (the grader's manual score when there is one, else the
    autograder's). A cell that has neither, an answer nobody has graded yet, is ``None``, never 0: nbgrader's own
    ``score`` would say 0, and a table, a CSV or a feedback page must show it as still to grade (and a sum counts
    it as 0 points).
    """
    return {grade.name: None if grade.auto_score is None and grade.manual_score is None else float(grade.score)
            for grade in notebook.grades}


def read_scores(course: Path, students: list[str] | None = None) -> dict[str, dict[str, float | None]]:
    """``{student: {grade_id: score}}`` (:func:`cell_scores`) of every autograded submission in the gradebook.

    Args:
        course: the course folder.
        students: whose scores (default: every entry of ``submitted/``).

    A student whose ``autograded/`` notebook is missing is left out: nbgrader removes it when a submission could
    not be graded, and the gradebook may still hold that student's scores from an earlier run.
    """
    from nbgrader.api import Gradebook, MissingEntry

    scores: dict[str, dict[str, float | None]] = {}
    with Gradebook(gradebook_url(course)) as gb:
        for student in submissions(course) if students is None else students:
            if not autograded_notebook(course, student).is_file():
                continue
            try:
                notebook = gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student)
            except MissingEntry:
                continue
            scores[student] = cell_scores(notebook)
    return scores


def grade_cell_ids(cells: list[Any]) -> list[str]:
    """The grade_ids of the graded cells among ``cells`` (a notebook's), in the notebook's order."""
    return [c.metadata["nbgrader"]["grade_id"] for c in cells
            if c.metadata.get("nbgrader", {}).get("grade") and c.metadata["nbgrader"].get("grade_id")]
