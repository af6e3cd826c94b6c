"""Hand the feedback pages out through nbgrader's exchange, as the instructor, after grading:

    python -m autograder.hub.feedback --course DIR

1. ``python -m autograder.feedback --course DIR`` writes one page per autograded student
   (``feedback/<student>/ddpg/ddpg_pendulum.html``);
2. beside each page go the ``timestamp.txt`` and ``submission_secret.txt`` of the submission that was graded
   (``submitted/<student>/ddpg/``, as ``nbgrader collect`` left it). nbgrader's own ``generate_feedback`` copies
   them; ``release_feedback`` needs them: the page's name in the exchange is a hash of that secret, which only the
   student who submitted holds, so only they can fetch it;
3. ``nbgrader release_feedback ddpg``; students then click *Fetch Feedback* in JupyterLab's Assignments tab.

Both files were written by the student's own nbgrader; they are read as data: regular files only (never through a
link), at most 1 KB, the timestamp one nbgrader can parse and the secret plain hexadecimal. A student whose files
are missing or wrong gets no page in the exchange (named in the output); the others do.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from autograder import feedback
from autograder.course_folder import ASSIGNMENT, NOTEBOOK
from autograder.ingest import Refused, read_regular
from autograder.nbgrader_cli import nbgrader

MAX_BYTES = 1024
SECRET = re.compile(r"[0-9a-f]{16,256}")


def submission_keys(course: Path, student: str) -> tuple[str, str]:
    """``(timestamp, secret)`` of ``student``'s collected submission, each read as ingest reads a submission's
    files (:func:`autograder.ingest.read_regular`); :class:`~autograder.ingest.Refused` or ValueError when unusable."""
    from nbgrader.utils import parse_utc

    folder = course / "submitted" / student / ASSIGNMENT
    timestamp = read_regular(folder / "timestamp.txt", MAX_BYTES).decode("utf-8").strip()
    parse_utc(timestamp)
    secret = read_regular(folder / "submission_secret.txt", MAX_BYTES).decode("utf-8").strip()
    if not SECRET.fullmatch(secret):
        raise ValueError("submission_secret.txt: not what nbgrader submit writes")
    return timestamp, secret


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the feedback pages and release them through the exchange.")
    parser.add_argument("--course", type=Path, required=True, help="the nbgrader course directory")
    args = parser.parse_args(argv)
    course = args.course.resolve()
    status = feedback.main(["--course", str(course)])
    if status != 0:
        return status
    left_out = []
    for page in sorted((course / "feedback").glob(f"*/{ASSIGNMENT}/{NOTEBOOK}.html")):
        student = page.parent.parent.name
        for name in ("timestamp.txt", "submission_secret.txt"):
            (page.parent / name).unlink(missing_ok=True)
        try:
            timestamp, secret = submission_keys(course, student)
        except (Refused, ValueError) as err:  # UnicodeDecodeError is a ValueError
            left_out.append(f"{student}: {err}")
            page.rename(page.with_suffix(".html.not-released"))
            continue
        (page.parent / "timestamp.txt").write_text(timestamp)
        (page.parent / "submission_secret.txt").write_text(secret)
    for line in left_out:
        print(f"not released: {line}", file=sys.stderr)
    print(nbgrader(["release_feedback", ASSIGNMENT], cwd=course), end="")
    return 1 if left_out else 0


if __name__ == "__main__":
    sys.exit(main())
