"""Export the gradebook as a CSV with one column per graded part, for an LMS gradebook (``make export``).

    python -m autograder.export                      # autograder/course/grades_by_part.csv
    python -m autograder.export --course DIR --out grades.csv

``nbgrader export`` writes totals only. This writes one row per student of the roster (students without a
submission get empty cells), with: ``student_id``, ``last_name``, ``first_name``, ``email``, ``lms_user_id`` (the
roster's, for an LMS import that matches on it), one column per graded cell (the autograded parts of
``autograder/parts.py`` by their grade_id, then the manually graded answers in the notebook's order),
``autograded``, ``manual``, ``days_late``, ``late_penalty``, ``total`` and ``max_total``. A manually graded answer
that nobody has graded yet is empty, not 0, so that it shows as missing; so is every score of a student who
handed nothing in.

``late_penalty`` follows the course's late policy (``autograder/late.py``: 10% of ``max_total`` per started day
after the due date, never more than the score), applied here to the final score, answers graded by hand included;
``days_late`` is the started days it counted. A course whose ``nbgrader_config.py`` names another late plugin gets
the penalty nbgrader stored when it autograded. ``total`` is ``autograded + manual - late_penalty``.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from autograder.course_folder import (
    ASSIGNMENT,
    COURSE_DIR,
    NOTEBOOK,
    cell_scores,
    grade_cell_ids,
    gradebook_path,
    gradebook_url,
    release_notebook,
    source_notebook,
)
from autograder.late import days_late, late_penalty, percent_per_day
from autograder.parts import BY_ID, PARTS


def question_order(course: Path) -> list[str]:
    """The grade_ids of the graded cells in the notebook's order (the course's master, else its release; empty if
    neither is there), which the gradebook does not keep."""
    import nbformat

    for path in (source_notebook(course), release_notebook(course)):
        if path.is_file():
            return grade_cell_ids(nbformat.read(path, as_version=4).cells)
    return []


def rows(course: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows of the export (read from ``course/gradebook.db``)."""
    from nbgrader.api import Gradebook, MissingEntry

    percent = percent_per_day(course)
    with Gradebook(gradebook_url(course)) as gb:
        notebook = gb.find_notebook(NOTEBOOK, ASSIGNMENT)
        cells = {c.name: c for c in notebook.grade_cells}
        auto = [p.grade_id for p in PARTS if p.grade_id in cells]
        manual = [name for name in question_order(course) if name in cells and name not in BY_ID]
        manual += sorted(name for name in cells if name not in BY_ID and name not in manual)
        header = (["student_id", "last_name", "first_name", "email", "lms_user_id"] + auto + manual
                  + ["autograded", "manual", "days_late", "late_penalty", "total", "max_total"])
        max_total = sum(cells[n].max_score for n in auto + manual)
        out = []
        for student in sorted(gb.students, key=lambda s: s.id):
            row = {"student_id": student.id, "last_name": student.last_name or "",
                   "first_name": student.first_name or "", "email": student.email or "",
                   "lms_user_id": student.lms_user_id or "",
                   "max_total": f"{max_total:g}"}
            try:
                submission = gb.find_submission(ASSIGNMENT, student.id)
                nb = gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student.id)
            except MissingEntry:
                out.append(row)
                continue
            scores = cell_scores(nb)
            auto_total = manual_total = 0.0
            for name in auto + manual:
                score = scores.get(name)
                row[name] = "" if score is None else f"{score:g}"
                if name in BY_ID:
                    auto_total += score or 0.0
                else:
                    manual_total += score or 0.0
            seconds_late = submission.total_seconds_late
            if percent is None:  # another late plugin: what nbgrader stored when it autograded
                penalty = submission.late_submission_penalty or 0.0
            else:
                penalty = late_penalty(seconds_late, auto_total + manual_total, max_total, percent)
            row.update(autograded=f"{auto_total:g}", manual=f"{manual_total:g}",
                       days_late=f"{days_late(seconds_late)}", late_penalty=f"{penalty:g}",
                       total=f"{max(auto_total + manual_total - penalty, 0.0):g}")
            out.append(row)
    return header, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Export grades with one column per part.")
    parser.add_argument("--course", type=Path, default=COURSE_DIR, help="the nbgrader course folder")
    parser.add_argument("--out", type=Path, default=None, help="the CSV to write (default: COURSE/grades_by_part.csv)")
    args = parser.parse_args(argv)
    course = args.course.resolve()
    if not gradebook_path(course).is_file():
        print(f"No gradebook in {course}: run `make grade` first.", file=sys.stderr)
        return 2
    header, table = rows(course)
    out = args.out or course / "grades_by_part.csv"
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header, restval="")
        writer.writeheader()
        writer.writerows(table)
    print(f"wrote {out} ({len(table)} students, {len(header)} columns)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
