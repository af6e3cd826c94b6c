"""Regenerate the student and solution notebooks from the single master in ``autograder/course/source/ddpg/``.

    python -m autograder.build_notebooks            # all (executes the solution: about a minute)
    python -m autograder.build_notebooks --student  # only notebooks/ and solutions/ddpg_agent.py (seconds)
    python -m autograder.build_notebooks --check    # exit 1 if notebooks/ differs from the source

* ``notebooks/``: exactly what ``nbgrader generate_assignment`` releases (the notebook without solutions and
  hidden tests, plus the files beside it: ``resources/``). nbgrader runs on a temporary copy
  of the course folder, so ``autograder/course/gradebook.db`` and ``autograder/course/release/`` are left alone.
* ``solutions/ddpg_pendulum_solution.ipynb``: the master with the solution markers removed, executed top to
  bottom (outside grading, so with the full training run), with its outputs.
* ``solutions/ddpg_agent.py``: the reference agent, the master's class cells as one module (the one reference:
  the grader, the training job and the tests use it).
* ``autograder/course/RUBRIC.md``: the manually graded questions with their points and rubrics, for the graders.

The checks and the grading harness the notebook's test cells call live in ``workshop_lib.checks`` (installed,
so a submission cannot carry its own copy).
"""

from __future__ import annotations

import argparse
import filecmp
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

from autograder.course_folder import ASSIGNMENT, COURSE_DIR, NOTEBOOK, REPO, release_dir, source_dir, source_notebook
from autograder.nbgrader_cli import nbgrader

SOURCE_DIR = source_dir(COURSE_DIR)
MASTER = source_notebook(COURSE_DIR)
"""The master notebook: solutions, hidden tests and rubrics (every other notebook is made from it)."""
STUDENT_DIR = REPO / "notebooks"
VIDEO = REPO / "resources" / "pendulum_env.mp4"
"""The untrained agent's video, committed once; the course's source and ``notebooks/`` link to it."""
SOLUTION_DIR = REPO / "solutions"
SOLUTION_NOTEBOOK = SOLUTION_DIR / f"{NOTEBOOK}_solution.ipynb"
IGNORED_DIRS = ("__pycache__", ".ipynb_checkpoints", "tmp_ddpg_learning")  # never part of a release
IGNORED = shutil.ignore_patterns(*IGNORED_DIRS, "*.pyc")


def copy_course(dest: Path) -> Path:
    """Copy the course (nbgrader's and the formgrader server's config, and the source; no gradebook or student
    folders) to ``dest``; return ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for config in ("nbgrader_config.py", "jupyter_server_config.py"):
        shutil.copy2(COURSE_DIR / config, dest / config)
    shutil.copytree(COURSE_DIR / "source", dest / "source", ignore=IGNORED, dirs_exist_ok=True)
    return dest


def generate_release(workdir: Path) -> Path:
    """``nbgrader generate_assignment`` on a copy of the course in ``workdir``; return the release folder."""
    course = copy_course(workdir / "course")
    nbgrader(["generate_assignment", ASSIGNMENT, "--force"], cwd=course)
    return release_dir(course)


def release_differences(release: Path, student_dir: Path = STUDENT_DIR) -> list[str]:
    """Files that differ between a fresh release and ``student_dir`` (relative paths; empty if identical)."""
    problems = []
    wanted = {p.relative_to(release) for p in release.rglob("*") if p.is_file()}
    for rel in sorted(wanted):
        committed = student_dir / rel
        if not committed.exists():
            problems.append(f"{rel}: missing from {student_dir}")
        elif rel.suffix == ".ipynb":
            if nbformat.read(committed, as_version=4) != nbformat.read(release / rel, as_version=4):
                problems.append(f"{rel}: differs from what generate_assignment makes")
        elif not filecmp.cmp(committed, release / rel, shallow=False):
            problems.append(f"{rel}: differs from the source")
    ignored = set(IGNORED_DIRS)
    for path in student_dir.rglob("*"):
        rel = path.relative_to(student_dir)
        if path.is_file() and rel not in wanted and not (set(rel.parts) & ignored):
            problems.append(f"{rel}: in {student_dir} but not in the release")
    return problems


def build_student(release: Path, student_dir: Path = STUDENT_DIR) -> None:
    """Replace ``student_dir``'s content by the release (keeps nothing else).

    The release holds a copy of the video; ``notebooks/`` gets a relative link to the one committed file,
    ``resources/pendulum_env.mp4``, instead (tests/test_video.py checks it).
    """
    if student_dir.exists():
        shutil.rmtree(student_dir)
    shutil.copytree(release, student_dir, ignore=IGNORED)
    shipped = student_dir / "resources" / VIDEO.name
    if shipped.is_file() and shipped.read_bytes() == VIDEO.read_bytes():
        shipped.unlink()
        shipped.symlink_to(os.path.relpath(VIDEO, shipped.parent))


_HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[ \t]*\n.*?^[ \t]*### END HIDDEN TESTS[ \t]*\n?", re.S | re.M)
_MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.M)


def solution_notebook(source: Path = MASTER) -> nbformat.NotebookNode:
    """The master without solution markers, hidden tests and nbgrader metadata (not executed)."""
    nb = nbformat.read(source, as_version=4)
    for cell in nb.cells:
        cell.source = _MARKER.sub("", _HIDDEN.sub("", cell.source))
        cell.metadata.pop("nbgrader", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


_QUESTION_NUMBER = re.compile(r"\bquestion\s+(\d+)\b", re.I)


def question_of(cells: list, index: int) -> str:
    """The text of the question that the answer cell ``cells[index]`` answers. The master pairs them by cell id
    (``answer-stability`` answers ``question-stability``); a notebook without those ids pairs them by number (the
    answer's "question 1" answers the markdown cell that starts with ``**1.``); else the nearest markdown cell above
    that is not itself graded. Not simply the cell above: question 1 has its comparison cells between the two."""
    answer = cells[index]
    above = [c for c in reversed(cells[:index])
             if c.cell_type == "markdown" and not c.metadata.get("nbgrader", {}).get("grade")]
    cell_id = str(answer.get("id", ""))
    if cell_id.startswith("answer-"):
        paired = [c for c in above if c.get("id") == "question-" + cell_id.removeprefix("answer-")]
        if paired:
            return paired[0].source.strip()
    number = _QUESTION_NUMBER.search(answer.source)
    if number:
        numbered = [c for c in above if c.source.lstrip().startswith(f"**{number.group(1)}.")]
        if numbered:
            return numbered[0].source.strip()
    return above[0].source.strip() if above else ""


def rubric_markdown(source: Path = MASTER) -> str:
    """``RUBRIC.md`` for the graders of the manually graded answers: each question, its points and its rubric,
    read from the master (the rubric sits in the answer cell's solution region, which the release leaves out)."""
    nb = nbformat.read(source, as_version=4)
    answers = [(i, c) for i, c in enumerate(nb.cells)
               if c.metadata.get("nbgrader", {}).get("solution") and c.metadata["nbgrader"].get("grade")]
    auto = sum(c.metadata["nbgrader"]["points"] for c in nb.cells
               if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution"))
    manual = sum(c.metadata["nbgrader"]["points"] for _, c in answers)
    lines = [
        "# Rubric of the graded questions",
        "",
        "Written by `autograder/build_notebooks.py` from the master notebook's answer cells (do not edit by hand).",
        "",
        f"The Experiments questions are graded by hand in nbgrader's formgrader: {manual:g} points in "
        f"{len(answers)} answer cells, beside the {auto:g} autograded points of the exercises ({auto + manual:g} "
        "in all). Give credit for what the student observed in their own runs and explained; the expected "
        "effects below are what a typical run shows, not the only acceptable answer.",
        "",
        "| answer cell (grade_id) | points |",
        "| --- | --- |",
    ]
    lines += [f"| `{c.metadata['nbgrader']['grade_id']}` | {c.metadata['nbgrader']['points']:g} |" for _, c in answers]
    for i, cell in answers:
        question = question_of(nb.cells, i)
        rubric = re.search(r"### BEGIN SOLUTION\n(.*?)\n### END SOLUTION", cell.source, re.S)
        lines += ["", f"## `{cell.metadata['nbgrader']['grade_id']}`", "", question,
                  "", (rubric.group(1).strip() if rubric else "(no rubric in the master)")]
    return "\n".join(lines) + "\n"


RUBRIC = COURSE_DIR / "RUBRIC.md"


REFERENCE_MODULE = SOLUTION_DIR / "ddpg_agent.py"
_REFERENCE_HEAD = '''"""The reference DDPG agent: the master notebook's class with both exercises solved, as one module.

GENERATED from autograder/course/source/ddpg/ddpg_pendulum.ipynb by `make notebooks` (autograder/build_notebooks.py):
edit the master, never this file; a test fails while they differ. The grader compares every submission with
this class (autograder/verdict.py), `python -m workshop_lib.train --agent
solutions.ddpg_agent:DDPGAgent` trains it (`make demo`), and the tests import it.

Notation (as in the notebook): critic Q(s, a; θ) = ``q_current``, its target copy Q̂(s, a; θ̂) = ``q_target``;
actor μ(s; φ) = ``mu_current``, its target copy μ̂(s; φ̂) = ``mu_target``; discount γ = ``gamma``; polyak
coefficient ρ = ``polyak``.
"""

import numpy as np
import torch

from workshop_lib.nets import Actor, ContinuousQNet
from workshop_lib.rb import ReplayBuffer

__all__ = ["DDPGAgent"]

'''


def reference_module_source(source: Path = MASTER) -> str:
    """The reference agent module: the master's class cell, then every ``%%add_to DDPGAgent`` cell's functions
    as its methods, in the notebook's order, solution markers removed."""
    nb = nbformat.read(source, as_version=4)
    parts = [_REFERENCE_HEAD]
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        text = _MARKER.sub("", _HIDDEN.sub("", cell.source)).rstrip() + "\n"
        if text.startswith("class DDPGAgent"):
            parts.append("\n" + text)
        elif text.startswith("%%add_to DDPGAgent\n"):
            body = text.split("\n", 1)[1]
            parts.append("\n" + "".join(("    " + line) if line.strip() else "\n"
                                        for line in body.splitlines(keepends=True)))
    return "".join(parts)


def build_reference() -> None:
    """Write ``solutions/ddpg_agent.py`` from the master."""
    REFERENCE_MODULE.write_text(reference_module_source())


def build_solution(timeout: int = 1200) -> None:
    """Execute the solution notebook in ``solutions/`` (full training, not the grading shortcut) and save it."""
    from nbclient import NotebookClient

    nb = solution_notebook()
    # figures of earlier builds would take the first run numbers (and be listed): remove them (the comparison's
    # cache in the same folder stays)
    for figure in (SOLUTION_DIR / "tmp_ddpg_learning").glob("*.png"):
        figure.unlink()
    saved = {k: os.environ.pop(k) for k in ("NBGRADER_EXECUTION", "NBGRADER_VALIDATING") if k in os.environ}
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(SOLUTION_DIR)}}).execute()
    finally:
        os.environ.update(saved)
    nbformat.write(nb, SOLUTION_NOTEBOOK)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--student", action="store_true", help="only regenerate notebooks/")
    group.add_argument("--solution", action="store_true", help="only regenerate and execute the solution")
    group.add_argument("--check", action="store_true", help="exit 1 if notebooks/ drifted from the source")
    args = parser.parse_args(argv)
    if not args.solution:
        with tempfile.TemporaryDirectory() as tmp:
            release = generate_release(Path(tmp))
            if args.check:
                problems = release_differences(release)
                for line in problems:
                    print(line)
                if problems:
                    print("notebooks/ is out of date: run `make notebooks`.")
                    return 1
                print("notebooks/ matches the source.")
                return 0
            build_student(release)
            print(f"wrote {STUDENT_DIR.relative_to(REPO)}/ from nbgrader generate_assignment")
            RUBRIC.write_text(rubric_markdown())
            print(f"wrote {RUBRIC.relative_to(REPO)}")
        build_reference()
        print(f"wrote {REFERENCE_MODULE.relative_to(REPO)} from the master")
    if not args.student:
        build_solution()
        print(f"wrote and executed {SOLUTION_NOTEBOOK.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
