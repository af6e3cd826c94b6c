"""Autograde every submission of the course and print the scores per student and per part (``make grade``).

    .venv/bin/python autograder/grade.py                   # the course in autograder/
    .venv/bin/python autograder/grade.py --course /tmp/c   # another copy of the course directory

Steps, all with nbgrader's own commands run in the course directory:

1. ``nbgrader generate_assignment ddpg --force`` (registers the assignment and its test cells in
   ``gradebook.db``; the release is rebuilt from ``source/``);
2. ``nbgrader autograde ddpg``: every ``submitted/<student>/ddpg/`` folder, one after the other;
3. a table of the scores read from ``gradebook.db``.

A submission that cannot be graded at all (its kernel died, its notebook is not JSON) is reported and does not
stop the others; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from build_notebooks import ASSIGNMENT, NOTEBOOK, nbgrader_env

HERE = Path(__file__).resolve().parent
TITLES = {  # column titles of the graded test cells; a graded cell not listed here is shown by its grade_id
    "test_select_action": "action selection",
    "test_critic_prediction": "critic prediction",
    "test_critic_target": "critic target",
    "test_policy_loss": "policy loss",
}


def run_nbgrader(args: list[str], course: Path, quiet: bool = False) -> int:
    """Run ``nbgrader ARGS`` in ``course``; return its exit status.

    With ``quiet`` nbgrader's log is kept back, and its end is printed only if the command fails.
    """
    cmd = [sys.executable, "-m", "nbgrader", *args]
    print("$ nbgrader " + " ".join(args), flush=True)
    if not quiet:
        return subprocess.run(cmd, cwd=course, env=nbgrader_env()).returncode
    proc = subprocess.run(cmd, cwd=course, env=nbgrader_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        print((proc.stdout + proc.stderr)[-4000:], file=sys.stderr)
    return proc.returncode


def submissions(course: Path) -> list[str]:
    """Students with a ``submitted/<student>/ddpg/`` folder, sorted."""
    root = course / "submitted"
    if not root.is_dir():
        return []
    return sorted(p.parent.name for p in root.glob(f"*/{ASSIGNMENT}") if p.is_dir())


def read_scores(course: Path) -> dict[str, dict[str, float | None]]:
    """``{student: {grade_id: score}}`` of every autograded submission in the course's gradebook.

    A student whose ``autograded/`` folder is missing is left out: nbgrader removes it when a submission could
    not be graded, and the gradebook may still hold that student's scores from an earlier run.
    """
    from nbgrader.api import Gradebook, MissingEntry

    scores: dict[str, dict[str, float | None]] = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in submissions(course):
            if not (course / "autograded" / student / ASSIGNMENT / f"{NOTEBOOK}.ipynb").is_file():
                continue
            try:
                nb = gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student)
            except MissingEntry:
                continue
            scores[student] = {grade.name: grade.score for grade in nb.grades}
    return scores


def max_points(course: Path) -> dict[str, float]:
    """Maximum score of each test cell, from the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        nb = gb.find_notebook(NOTEBOOK, ASSIGNMENT)
        return {cell.name: cell.max_score for cell in nb.grade_cells}


def format_table(scores: dict[str, dict[str, float | None]], maxima: dict[str, float],
                 students: list[str]) -> str:
    """A Markdown table: one row per student, one column per graded test cell of the gradebook, and the total."""
    order = [gid for gid in TITLES if gid in maxima] + [gid for gid in maxima if gid not in TITLES]
    parts = [(gid, TITLES.get(gid, gid)) for gid in order]
    total_max = sum(maxima[gid] for gid in order)
    head = ["student"] + [f"{title} (/{maxima[gid]:g})" for gid, title in parts] + [f"total (/{total_max:g})"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for student in students:
        if student not in scores:
            lines.append("| " + " | ".join([student] + ["not graded"] * (len(parts) + 1)) + " |")
            continue
        row = scores[student]
        cells = [("?" if row.get(gid) is None else f"{row[gid]:g}") for gid, _ in parts]
        total = sum(row.get(gid) or 0.0 for gid, _ in parts)
        lines.append("| " + " | ".join([student] + cells + [f"{total:g}"]) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Autograde every submission and print a table of scores.")
    parser.add_argument("--course", type=Path, default=HERE, help="the nbgrader course directory")
    parser.add_argument("--quiet", action="store_true", help="hide nbgrader's own log")
    args = parser.parse_args(argv)
    course = args.course.resolve()
    if not (course / "nbgrader_config.py").is_file():
        print(f"{course} is not an nbgrader course directory (no nbgrader_config.py).", file=sys.stderr)
        return 2
    students = submissions(course)
    if not students:
        print(f"No submissions to grade: put each student's notebook in "
              f"{course / 'submitted'}/<student>/{ASSIGNMENT}/{NOTEBOOK}.ipynb (or run `nbgrader collect "
              f"{ASSIGNMENT}` when you use nbgrader's exchange), then run this again.")
        return 0
    status = run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], course, quiet=args.quiet)
    if status != 0:
        print("generate_assignment failed: see its log above.", file=sys.stderr)
        return 1
    autograde_status = run_nbgrader(["autograde", ASSIGNMENT, "--force"], course, quiet=args.quiet)
    scores = read_scores(course)
    print()
    print(format_table(scores, max_points(course), students))
    failed = [s for s in students if s not in scores]
    if autograde_status != 0 or failed:
        print(f"\nnbgrader autograde exited with status {autograde_status}; not graded: "
              f"{', '.join(failed) or 'none'} (see the log above).", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
