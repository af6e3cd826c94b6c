"""The exchange's ``inbound/`` as the grading host reads it: every name, folder and file in it is a student's.

nbgrader's exchange lets every student write into ``<exchange>/<course>/inbound/``; ``nbgrader submit`` makes one
folder there per submission, ``{student}+ddpg+{timestamp}+{random}``. Everything about such a folder is the
student's word: its name (whose it claims to be, and when), its files, and the ``timestamp.txt`` inside. What is
not: its owner (the Unix user who made it) and its change time (``ctime``, which the kernel sets and no user can set
back). This module is the one place that reads ``inbound/`` on the host, for :mod:`autograder.hub.collect` and
:mod:`autograder.hub.pregrade`:

* :func:`parse_name` and :func:`refusal`: a folder is taken only if it is a real folder (not a link), owned by the
  student it names, who is in the students' group, and its name holds a time nbgrader writes;
* :func:`time_of_record`: when the submission was handed in: the time in its name, unless the folder or a file in
  it was made or changed later than that (by more than :data:`RECEIVED_GRACE_S`), then that time (a student owns
  their files in ``inbound/`` and can rewrite one in place: that moves the file's ``ctime``, not the folder's);
* :func:`opened_folder`, :func:`copy_submission`, :func:`read_keys`: the folder opened once without following a
  link, checked again to be the student's, and only its top-level regular files read, within ingest's caps.
"""

from __future__ import annotations

import datetime
import grp
import os
import pwd
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from autograder import feedback, ingest
from autograder.course_folder import ASSIGNMENT, COURSE_ID, gradebook_path

RECEIVED_GRACE_S = 60.0
"""How much later than the time in its name a submission folder may have been received (its ``ctime``) and still
count at the name's time. ``nbgrader submit`` writes the name's time first, then copies the files and sets their
permissions (each of which moves the folder's ``ctime``): that takes a second or two. A folder received later than
this was not made by ``nbgrader submit`` at the time its name says (it was made by hand, backdated): it counts at
the time it was received."""


def inbound_dir(exchange: Path) -> Path:
    """``<exchange>/<course id>/inbound``: where ``nbgrader submit`` writes."""
    return exchange / COURSE_ID / "inbound"


def nbgrader_time(seconds: float) -> str:
    """Seconds since the epoch as nbgrader writes a time: ``2026-12-07 11:30:00.123456 UTC``."""
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f %Z")


@dataclass(frozen=True)
class Submission:
    """One folder of ``inbound/``, its name parsed (not yet trusted: see :meth:`Pregrader.check`)."""

    name: str
    student: str
    timestamp: str


def parse_name(name: str) -> Submission | None:
    """``{student}+ddpg+{timestamp}+{random}`` (or without the random part), else None."""
    parts = name.split("+")
    if len(parts) not in (3, 4) or parts[1] != ASSIGNMENT or not ingest.STUDENT_ID.fullmatch(parts[0]) \
            or "+" in parts[0]:
        return None
    return Submission(name=name, student=parts[0], timestamp=parts[2])


def parse_time(text: str) -> float | None:
    """nbgrader's timestamp (``2026-12-07 11:30:00.123456 UTC``) as seconds since the epoch, or None."""
    from nbgrader.utils import parse_utc

    try:
        return parse_utc(text).timestamp()
    except Exception:  # noqa: BLE001 - any text nbgrader cannot parse is no time
        return None


def due_date(course: Path) -> float | None:
    """The assignment's due date in the official gradebook (read-only, never created), or None when it has none."""
    import sqlite3

    path = gradebook_path(course)
    if not path.is_file():
        return None
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            row = db.execute("SELECT duedate FROM assignment WHERE name = ?", (ASSIGNMENT,)).fetchone()
    except sqlite3.Error:
        return None
    if not row or not row[0]:
        return None
    return parse_time(f"{row[0]} UTC")


def student_uid(name: str, group: str) -> int | None:
    """The uid of the Unix user ``name`` if they are in the students' ``group``, else None."""
    try:
        if name not in grp.getgrnam(group).gr_mem:
            return None
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        return None


def refusal(inbound: Path, sub: Submission, uid: int | None) -> str | None:
    """Why the folder ``inbound/sub.name`` is not taken (None: taken), for a student whose uid is ``uid`` (None:
    not a student of the course). Read with ``lstat`` only: nothing of it is opened or followed."""
    if uid is None:
        return "not a student of the course"
    try:
        info = os.lstat(inbound / sub.name)
    except OSError as err:
        return f"cannot be read ({err.strerror})"
    if not stat.S_ISDIR(info.st_mode):
        return "not a folder"
    if info.st_uid != uid:
        return "not owned by the student it names"
    if parse_time(sub.timestamp) is None:
        return "its name holds no time nbgrader writes"
    return None


@dataclass(frozen=True)
class Received:
    """When a submission was handed in, as the grader counts it."""

    seconds: float
    """The time of record (seconds since the epoch)."""
    text: str
    """The same in nbgrader's format: the name's own text when that counts, else :func:`nbgrader_time`."""
    note: str | None = None
    """Set when the folder's name was not believed (safe to print: no text of the student's in it)."""


def time_of_record(claimed: str, received: float, grace: float | None = None) -> Received:
    """The time a submission counts at: the time its name claims (``claimed``, nbgrader's format), unless the
    exchange received the folder (``received``, its ``ctime``) more than ``grace`` seconds later; then
    ``received``. A claimed time later than ``received`` counts as claimed (a student may only make themself
    later).

    Raises:
        ValueError: ``claimed`` is no time nbgrader writes (:func:`refusal` refuses such a folder first).
    """
    grace = RECEIVED_GRACE_S if grace is None else grace
    at = parse_time(claimed)
    if at is None:
        raise ValueError("expected a time as nbgrader writes it in a submission's name")
    if received <= at + grace:
        return Received(at, claimed)
    return Received(received, nbgrader_time(received),
                    f"its name says it was submitted at {nbgrader_time(at)}, but the exchange received it (or a file "
                    f"in it changed) at {nbgrader_time(received)} ({received - at:.0f} s later): the later time counts")


def received_time(inbound: Path, sub: Submission) -> Received:
    """:func:`time_of_record` of the folder ``inbound/sub.name``, its ``ctime`` read with ``lstat``."""
    return time_of_record(sub.timestamp, os.lstat(inbound / sub.name).st_ctime)


def examine(inbound: Path, sub: Submission, uid: int | None) -> Received | str:
    """The folder ``inbound/sub.name`` judged with ``lstat`` alone: its :func:`received_time` when it is taken,
    else why it is not (:func:`refusal`, or that it could not be read)."""
    why = refusal(inbound, sub, uid)
    if why is not None:
        return why
    try:
        return received_time(inbound, sub)
    except (OSError, ValueError) as err:
        return f"cannot be read ({err})"


@contextmanager
def opened_folder(path: Path, uid: int | None) -> Iterator[Path]:
    """``path`` opened as a folder without following a link, checked to belong to ``uid`` (None: any owner), and
    given back as ``/proc/self/fd/N``: every path under it resolves inside the folder that was opened, even if the
    student renames it and puts a link to elsewhere (the course's master, another student's folder) in its place
    after it was checked.

    Raises:
        Refused: not a folder, a link, or not ``uid``'s (the message says which).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as err:
        raise ingest.Refused(f"submission folder could not be opened as a folder ({err.strerror})") from None
    try:
        if uid is not None and os.fstat(fd).st_uid != uid:
            raise ingest.Refused("submission folder not owned by the student it names")
        yield Path(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Copied:
    """What :func:`copy_submission` copied."""

    notes: list[str]
    """What was left out (safe to print)."""
    changed_at: float
    """The latest change time (``ctime``) of the folder and of every file copied, read after the copy: a file
    rewritten in place after it was submitted (the student owns it) moves its own ``ctime``, not the folder's."""


def copy_submission(src: Path, dest: Path, uid: int | None = None) -> Copied:
    """Copy a submission folder of ``inbound/`` to ``dest`` through ingest's readers: the files at its top only
    (the notebook, ``timestamp.txt``, ``submission_secret.txt``; grading needs nothing below, and a folder below
    could be swapped for a link between two reads), regular files only (no link, FIFO, socket or device), within
    ingest's caps (:data:`autograder.ingest.CAPS`), from the folder opened once (:func:`opened_folder`).
    ``autograder.grade`` ingests the copy again.

    Raises:
        Refused: the folder itself is not one to read (:func:`opened_folder`).
    """
    caps, notes = replace(ingest.CAPS, depth=0), []
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True, mode=0o700)
    total = 0
    copied: list[str] = []
    with opened_folder(src, uid) as root:
        for rel in ingest._walk(root, caps, notes):  # noqa: SLF001 - ingest's own bounded walk
            cap = caps.notebook_bytes if rel.endswith(".ipynb") else min(caps.file_bytes, caps.total_bytes - total)
            try:
                data = ingest.read_regular(root / rel, cap)
            except ingest.Refused as err:
                notes.append(str(err))
                continue
            if not rel.endswith(".ipynb"):
                total += len(data)
            (dest / rel).write_bytes(data)
            copied.append(rel)
        # after the reads: a change during the copy can only make the time later
        times = [os.stat(root).st_ctime]
        for rel in copied:
            try:
                times.append(os.lstat(root / rel).st_ctime)
            except OSError:  # removed since it was read: the folder's ctime moved with it
                continue
    return Copied(notes, max(times))


def read_keys(src: Path, uid: int | None) -> tuple[str, str]:
    """:func:`autograder.feedback.read_keys` of a submission folder of ``inbound/``, opened once
    (:func:`opened_folder`)."""
    with opened_folder(src, uid) as root:
        return feedback.read_keys(root)
