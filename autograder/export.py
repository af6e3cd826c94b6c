"""Export the gradebook as a CSV with one column per graded part, for an LMS gradebook (``make export``).

    python -m autograder.export                      # autograder/grades_by_part.csv
    python -m autograder.export --course DIR --out grades.csv

``nbgrader export`` writes totals only. This writes one row per student of the roster (students without a
submission get empty cells), with: ``student_id``, ``last_name``, ``first_name``, ``email``, one column per graded
cell (the autograded parts of ``autograder/parts.py`` by their grade_id, then the manually graded answers),
``autograded``, ``manual``, ``late_penalty``, ``total`` and ``max_total``. A manually graded answer that nobody
has graded yet is empty, not 0, so that it shows as missing.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from autograder.build_notebooks import ASSIGNMENT, NOTEBOOK
from autograder.parts import BY_ID, PARTS

HERE = Path(__file__).resolve().parent


def rows(course: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows of the export (read from ``course/gradebook.db``)."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        notebook = gb.find_notebook(NOTEBOOK, ASSIGNMENT)
        cells = {c.name: c for c in notebook.grade_cells}
        auto = [p.grade_id for p in PARTS if p.grade_id in cells]
        manual = sorted(name for name in cells if name not in BY_ID)
        header = (["student_id", "last_name", "first_name", "email"] + auto + manual
                  + ["autograded", "manual", "late_penalty", "total", "max_total"])
        max_total = sum(cells[n].max_score for n in auto + manual)
        out = []
        for student in sorted(gb.students, key=lambda s: s.id):
            row = {"student_id": student.id, "last_name": student.last_name or "",
                   "first_name": student.first_name or "", "email": student.email or "",
                   "max_total": f"{max_total:g}"}
            try:
                submission = gb.find_submission(ASSIGNMENT, student.id)
                nb = gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student.id)
            except MissingEntry:
                out.append(row)
                continue
            grades = {g.name: g for g in nb.grades}
            auto_total = manual_total = 0.0
            for name in auto + manual:
                grade = grades.get(name)
                graded = grade is not None and (grade.manual_score is not None or grade.auto_score is not None)
                score = grade.score if graded else None
                row[name] = "" if score is None else f"{score:g}"
                if name in BY_ID:
                    auto_total += score or 0.0
                else:
                    manual_total += score or 0.0
            penalty = submission.late_submission_penalty or 0.0
            row.update(autograded=f"{auto_total:g}", manual=f"{manual_total:g}", late_penalty=f"{penalty:g}",
                       total=f"{max(auto_total + manual_total - penalty, 0.0):g}")
            out.append(row)
    return header, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Export grades with one column per part.")
    parser.add_argument("--course", type=Path, default=HERE, help="the nbgrader course directory")
    parser.add_argument("--out", type=Path, default=None, help="the CSV to write (default: COURSE/grades_by_part.csv)")
    args = parser.parse_args(argv)
    course = args.course.resolve()
    if not (course / "gradebook.db").is_file():
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
