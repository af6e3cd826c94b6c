"""The one way the grading host runs an ``nbgrader`` command: this interpreter's nbgrader, in a course folder, with
bounds on the host's own work.

* :func:`run_nbgrader` runs it and returns its exit status and its log (``make grade``: the log shown line by line,
  or only its end when the command fails);
* :func:`nbgrader` runs it without a word and raises, with the end of its log, when it fails (``make notebooks``,
  ``make release``).

Either way nbgrader gets :data:`NBGRADER_MEMORY_BYTES` of address space and a time limit, then is killed, and every
line of its log reaches the terminal through :func:`autograder.text.shown` (a student's text never reaches it raw).
``autograder`` and ``workshop_lib`` are installed packages (``pip install -e .``): nbgrader finds the trusted
preprocessor (``autograder.trusted``) that the course's ``nbgrader_config.py`` names without any ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Literal

from autograder.text import shown

NBGRADER_MEMORY_BYTES = 8 * 1024**3
"""Address space of an nbgrader process (recording an honest class's grades takes about 0.5 GB)."""
NBGRADER_SECONDS = 3600.0
"""Time an nbgrader command may take unless told otherwise; then it is killed."""
Shown = Literal["all", "on failure", "nothing"]


NBGRADER_LAUNCH = ("import sys; from workshop_lib.grading import speed; speed.skip_iri_grammar(); "
                   "sys.argv[0] = 'nbgrader'; from nbgrader.apps.nbgraderapp import main; main()")
"""What ``python -m nbgrader`` runs, after :func:`workshop_lib.grading.speed.skip_iri_grammar` (jsonschema's
optional IRI grammar costs 1.5 CPU-s per nbgrader process and no notebook schema uses it)."""


def nbgrader_command(args: list[str]) -> list[str]:
    """The command line that runs ``nbgrader ARGS`` with this interpreter (:data:`NBGRADER_LAUNCH`)."""
    return [sys.executable, "-c", NBGRADER_LAUNCH, *args]


def nbgrader_env() -> dict[str, str]:
    """The environment for nbgrader: this one, with this interpreter's bin directory first on PATH.

    nbgrader runs the ``alembic`` executable when it creates a gradebook; it is in the virtualenv's bin.
    """
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def _limit_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (NBGRADER_MEMORY_BYTES, NBGRADER_MEMORY_BYTES))


def run_nbgrader(args: list[str], course: Path, show: Shown = "all",
                 timeout_s: float = NBGRADER_SECONDS) -> tuple[int, str]:
    """Run ``nbgrader ARGS`` in the course folder ``course``; return its exit status and its log.

    Args:
        args: nbgrader's arguments (``["autograde", "ddpg", "--force"]``).
        course: the folder it runs in (its ``nbgrader_config.py`` is read).
        show: ``"all"`` prints the command and then its log line by line as it comes; ``"on failure"`` prints the
            command, and the last 60 lines of its log on stderr only if it fails; ``"nothing"`` prints nothing.
        timeout_s: past this many seconds nbgrader is killed (status -9; the log says so).

    Returns:
        ``(exit status, the log: its standard output and error, interleaved)``.
    """
    if show != "nothing":
        print("$ nbgrader " + " ".join(args), flush=True)
    proc = subprocess.Popen(nbgrader_command(args), cwd=course, env=nbgrader_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                            preexec_fn=_limit_memory)
    timer = threading.Timer(timeout_s, proc.kill)
    timer.start()
    assert proc.stdout is not None
    log = []
    try:
        for line in proc.stdout:
            log.append(line)
            if show == "all":
                print(shown(line.rstrip("\n"), 2000), flush=True)
        proc.wait()
    finally:
        timer.cancel()
    if proc.returncode == -9:
        log.append(f"nbgrader was stopped after {timeout_s:g} s\n")
    if show == "on failure" and proc.returncode != 0:
        print("\n".join(shown(line.rstrip("\n"), 2000) for line in log[-60:]), file=sys.stderr)
    return proc.returncode, "".join(log)


def nbgrader(args: list[str], cwd: Path) -> str:
    """Run ``nbgrader ARGS`` in ``cwd`` without printing anything; return its log.

    Raises:
        RuntimeError: it failed; the message gives the command, the folder, the exit status and the end of its log.
    """
    status, log = run_nbgrader(args, cwd, show="nothing")
    if status != 0:
        raise RuntimeError(f"`nbgrader {' '.join(args)}` failed in {cwd} (exit {status}):\n{log[-8000:]}")
    return log
