"""What runs inside the grading sandbox: the notebook runner and the probe of the two methods, and the harness
(:mod:`~workshop_lib.grading.fixtures`: fixed problems and recorders) that the probe shares with the notebook's
visible checks.

Both hand back JSON lines on a private channel (:func:`open_channel`) and decide nothing: the grade is decided
by the grading process (``autograder/`` in the repository).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any


def open_channel() -> Callable[[dict[str, Any]], None]:
    """Keep this process's standard output as the channel to the grader, send fds 1 and 2 to /dev/null (so that
    the submission's own prints and child processes never write into it), and return ``emit(record)``, which
    writes one JSON line on the channel."""
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.set_inheritable(channel.fileno(), False)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)

    def emit(record: dict[str, Any]) -> None:
        channel.write(json.dumps(record) + "\n")
        channel.flush()

    return emit
