"""Collect the submissions from nbgrader's exchange into the course, as the instructor, without believing them:

    python -m autograder.hub.collect [--course DIR] [--exchange DIR] [--before-duedate]

It does the job of ``nbgrader collect --update ddpg`` (each student's latest submission of ``inbound/`` copied to
``submitted/<student>/ddpg/``), and replaces it on the hub because ``nbgrader collect`` believes every folder of
``inbound/``, which every student can write (docs/hub.md, "Collecting"):

* it groups the folders by the student the **name** claims, and only warns when another user owns one: a student
  who makes ``alice+ddpg+<a later time>+x`` by hand hands in for alice. Here a folder is taken only if it is a real
  folder owned by the student it names, who is in the students' group (:func:`autograder.hub.exchange.refusal`);
  each refused folder is named, with why;
* it copies a folder with ``shutil.copytree``, which follows links: a submitted "notebook" that is a link to the
  course's master is copied as the student's notebook, solutions and all, and graded 10/10. Here only the top-level
  regular files are read, each opened without following a link, from the folder opened once
  (:func:`autograder.hub.exchange.copy_submission`);
* it takes the time in the folder's name, and the ``timestamp.txt`` inside, as when the student handed in: a
  student who makes a backdated folder by hand escapes the late penalty. Here a submission counts at the time in
  its name only if the exchange received the folder (its ``ctime``, which no user can set back) within
  :data:`~autograder.hub.exchange.RECEIVED_GRACE_S` of it, and no file in it changed later (a student owns their
  files in ``inbound/`` and can rewrite one in place after the due date: that moves the file's ``ctime``); otherwise
  at the latest of those times, and the table says so. The ``timestamp.txt`` written into ``submitted/`` is that
  time of record; the student's own is not kept.

A newer submission replaces the one collected before (as ``--update`` does); an older one never does, except with
``--before-duedate`` (nbgrader's option: each student's latest submission before the due date, if any, else the
latest). It holds the course's grading lock: it never changes ``submitted/`` under a grading run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from autograder import ingest
from autograder.course_folder import ASSIGNMENT, submitted_root
from autograder.hub.exchange import (
    Received,
    Submission,
    copy_submission,
    due_date,
    examine,
    inbound_dir,
    parse_name,
    parse_time,
    student_uid,
    time_of_record,
)
from autograder.lock import CourseBusy, course_lock
from autograder.text import table_cell

SHOWN_REFUSALS = 50
"""At most this many refused folders are named one by one (``inbound/`` may hold thousands); the rest are counted."""


@dataclass(frozen=True)
class Row:
    """What became of one student (or one refused folder): a row of the table."""

    student: str
    folder: str
    """The folder's name as the student wrote it (:func:`table` makes it safe to show)."""
    status: str
    """``collected`` (first time), ``updated`` (a newer one replaced the one collected before), ``unchanged``,
    ``refused`` (the folder is not taken), ``failed`` (taken, but it could not be copied: the one collected before,
    if any, is kept)."""
    time: str = ""
    note: str = ""


def _collected_time(dest: Path) -> float | None:
    """The time of record of the submission collected in ``dest`` before (its ``timestamp.txt``), or None."""
    try:
        return parse_time(ingest.read_regular(dest / "timestamp.txt", 200).decode("utf-8", "replace").strip())
    except (ingest.Refused, OSError):
        return None


def _copy(src: Path, dest: Path, uid: int, claimed: str) -> tuple[Received, list[str]]:
    """Copy the folder ``src`` to ``dest`` (beside it first, then swapped in: a failure keeps the old one) with its
    time of record as its ``timestamp.txt``: the time ``claimed`` in its name, unless the folder or a file in it
    changed later (:func:`autograder.hub.exchange.time_of_record`). Returns that time and the notes of what was
    left out."""
    staging = dest.with_name(f".{dest.name}.collecting")
    if staging.exists():
        shutil.rmtree(staging)
    copied = copy_submission(src, staging, uid)
    received = time_of_record(claimed, copied.changed_at)
    (staging / "timestamp.txt").write_text(received.text)
    if dest.exists():
        shutil.rmtree(dest)
    staging.rename(dest)
    return received, copied.notes


def collect(course: Path, exchange: Path, uid_of: Callable[[str], int | None],
            before_duedate: bool = False) -> list[Row]:
    """Collect every student's latest submission of ``exchange`` into ``course`` (the module's docstring).

    Args:
        course: the nbgrader course folder (``submitted/`` is written, the gradebook read for the due date).
        exchange: nbgrader's exchange root (``<exchange>/<course id>/inbound``).
        uid_of: the uid of a student of the course, None for a name that is not one.
        before_duedate: each student's latest submission before the due date, if any.

    Returns:
        One row per student collected (or left as it was) and per refused folder.

    Raises:
        FileNotFoundError: there is no ``inbound/`` (the message says where it was looked for).
    """
    inbound = inbound_dir(exchange)
    try:
        names = sorted(entry.name for entry in os.scandir(inbound))
    except FileNotFoundError:
        raise FileNotFoundError(f"expected nbgrader's inbound folder at {inbound}, found nothing there: check "
                                "--exchange (DDPG_EXCHANGE) and that the assignment was released to this course") \
            from None
    rows: list[Row] = []
    taken: dict[str, list[tuple[Received, Submission]]] = {}
    for name in names:
        sub = parse_name(name)
        if sub is None:
            if f"+{ASSIGNMENT}+" in name:  # another assignment's folders are not ours to judge
                rows.append(Row("", name, "refused", note="not a submission's name"))
            continue
        got = examine(inbound, sub, uid_of(sub.student))
        if isinstance(got, str):
            rows.append(Row(sub.student, name, "refused", note=got))
        else:
            taken.setdefault(sub.student, []).append((got, sub))
    due = due_date(course) if before_duedate else None
    for student, subs in sorted(taken.items()):
        subs.sort(key=lambda item: item[0].seconds)
        on_time = [item for item in subs if due is not None and item[0].seconds <= due]
        received, sub = (on_time or subs)[-1]
        dest = submitted_root(course) / student / ASSIGNMENT
        before = _collected_time(dest) if dest.is_dir() else None
        if before is not None and (received.seconds == before or (not before_duedate and received.seconds < before)):
            rows.append(Row(student, sub.name, "unchanged", received.text,
                            "the submission collected before is this one or newer"))
            continue
        uid = uid_of(student)
        assert uid is not None  # examine() took only students of the course
        try:
            received, notes = _copy(inbound / sub.name, dest, uid, sub.timestamp)
        except (ingest.Refused, OSError, ValueError) as err:
            rows.append(Row(student, sub.name, "failed", received.text,
                            f"not collected ({err}); the submission collected before, if any, is kept"))
            continue
        # the folders inside (``resources/``, which every submission holds) are left out on purpose: not noted
        notes = [n for n in notes if not n.startswith(ingest.FOLDER_NOTE)]
        note = "; ".join([n for n in [received.note, *notes] if n])
        rows.append(Row(student, sub.name, "updated" if before is not None else "collected", received.text, note))
    return rows


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table, refused folders last (at most :data:`SHOWN_REFUSALS` of them named)."""
    lines = ["| student | submission folder | handed in at (time of record) | what happened |", "|---|---|---|---|"]
    refused = [row for row in rows if row.status == "refused"]
    for row in [row for row in rows if row.status != "refused"] + refused[:SHOWN_REFUSALS]:
        what = row.status + (f": {row.note}" if row.note else "")
        lines.append(f"| {table_cell(row.student, 40)} | {table_cell(row.folder, 80)} | {row.time} | "
                     f"{table_cell(what, 400)} |")
    if len(refused) > SHOWN_REFUSALS:
        lines.append(f"| | {len(refused) - SHOWN_REFUSALS} more refused folders | | not named here |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from autograder.hub import settings

    parser = argparse.ArgumentParser(description="Collect every student's latest submission from nbgrader's "
                                                 "exchange, checking each folder's owner, links and time.")
    parser.add_argument("--course", type=Path, default=None, help="the nbgrader course folder (default: "
                                                                  "DDPG_COURSE_DIR, else the repository's course)")
    parser.add_argument("--exchange", type=Path, default=None, help="nbgrader's exchange root (default: "
                                                                    "DDPG_EXCHANGE, else /srv/nbgrader/exchange)")
    parser.add_argument("--group", default=None, help="the students' Unix group (default: DDPG_STUDENTS)")
    parser.add_argument("--before-duedate", action="store_true",
                        help="each student's latest submission before the due date, if any, else the latest")
    args = parser.parse_args(argv)
    course = (args.course or settings.course_dir()).resolve()
    exchange = args.exchange or settings.exchange_dir()
    group = args.group or settings.students_group()
    try:
        with course_lock(course, "python -m autograder.hub.collect"):
            rows = collect(course, exchange, lambda name: student_uid(name, group), args.before_duedate)
    except (CourseBusy, FileNotFoundError) as err:
        print(f"Nothing collected: {err}", file=sys.stderr)
        return 2
    print(table(rows))
    counts = {status: sum(row.status == status for row in rows)
              for status in ("collected", "updated", "unchanged", "refused", "failed")}
    print(", ".join(f"{n} {status}" for status, n in counts.items()))
    if counts["refused"]:
        print(f"{counts['refused']} folder(s) of {inbound_dir(exchange)} refused: a folder not owned by the student "
              "it names was made by someone else (look at who owns it: `ls -ln`).", file=sys.stderr)
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
