"""One grading run at a time per course: an exclusive lock on ``<course>/.grading.lock``.

The lock is an ``flock``: the kernel drops it when the run ends, however it ends (``kill -9`` included), so a
crashed run never blocks the next one. The file holds who holds the lock (pid, host, start), for the message a
second run prints.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = ".grading.lock"


class CourseBusy(RuntimeError):
    """Another run holds the course's lock; the message names it."""


@contextmanager
def course_lock(course: Path, command: str = "make grade") -> Iterator[None]:
    """Hold the course's grading lock for the block, or raise :class:`CourseBusy` at once."""
    path = course / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
            except ValueError:
                holder = {}
            who = (f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}, started "
                   f"{holder.get('started', '?')}, `{holder.get('command', '?')}`")
            raise CourseBusy(f"Another grading run holds this course ({who}). Wait for it to finish (or stop it), "
                             "then run this again. Nothing was changed.") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                                  "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}).encode(), 0)
        yield
    finally:
        os.close(fd)
