"""Hand the feedback pages out through nbgrader's exchange, as the instructor, after grading:

    python -m autograder.hub.feedback --course DIR

1. ``python -m autograder.feedback --course DIR``'s pages (:func:`autograder.feedback.write_pages`): one per
   autograded student (``feedback/<student>/ddpg/ddpg_pendulum.html``), each with the graded submission's
   ``timestamp.txt`` and ``submission_secret.txt`` beside it (the page's name in the exchange is a hash of that
   secret, which only the student who submitted holds, so only they can fetch it);
2. a page whose two files are missing or unusable is held back (renamed ``.html.not-released``, named in the
   output): ``nbgrader release_feedback`` would stop at it, and nobody else would get theirs;
3. ``nbgrader release_feedback ddpg``; students then click *Fetch Feedback* in JupyterLab's Assignments tab.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder import feedback
from autograder.course_folder import ASSIGNMENT, autograded_students, feedback_page
from autograder.nbgrader_cli import nbgrader
from autograder.text import shown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the feedback pages and release them through the exchange.")
    parser.add_argument("--course", type=Path, required=True, help="the nbgrader course directory")
    args = parser.parse_args(argv)
    course = args.course.resolve()
    students = autograded_students(course)
    if not students:
        print(f"No autograded submissions in {course / 'autograded'}: run `python -m autograder.grade --course "
              f"{course}` first.")
        return 0
    unkeyed = feedback.write_pages(course, students)
    for student, why in unkeyed.items():
        page = feedback_page(course, student)
        page.rename(page.with_suffix(".html.not-released"))
        print(f"not released: {shown(student, 40)}: {why}", file=sys.stderr)
    print(nbgrader(["release_feedback", ASSIGNMENT], cwd=course), end="")
    return 1 if unkeyed else 0


if __name__ == "__main__":
    sys.exit(main())
