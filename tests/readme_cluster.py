"""A dask cluster started with the documented commands (docs/instructors.md, "Several machines"), on 127.0.0.1.

The commands are read from docs/instructors.md, so a recipe that fails as written fails the tests: only the private
addresses of the example become 127.0.0.1, the port a free one, ``.venv/bin/`` this interpreter's folder and
``$PWD`` the repository's root.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from autograder.cluster import stop

REPO = Path(__file__).resolve().parent.parent
HOSTS = ("10.0.0.5", "10.0.0.6")
PORT = "8786"


def readme_commands() -> dict[str, str]:
    """The scheduler, worker and grade command lines of the documented cluster recipe (docs/instructors.md)."""
    text = (REPO / "docs" / "instructors.md").read_text()
    block = re.search(r"\*\*Several machines\.\*\*.*?```bash\n(.*?)```", text, re.S)
    assert block, "docs/instructors.md has no 'Several machines' recipe"
    lines = [line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]
    found = {"scheduler": next(x for x in lines if " scheduler " in x),
             "worker": next(x for x in lines if " worker " in x),
             "grade": next(x for x in lines if "autograder.grade" in x)}
    return found


def localize(line: str, port: int) -> tuple[dict[str, str], list[str]]:
    """One line of the recipe as (environment additions, argv) for this machine."""
    for host in HOSTS:
        line = line.replace(host, "127.0.0.1")
    line = line.replace(f":{PORT}", f":{port}").replace(f"--port {PORT}", f"--port {port}")
    line = line.replace("$PWD", str(REPO)).replace(".venv/bin/", str(Path(sys.executable).parent) + "/")
    words = shlex.split(line)
    env = {}
    while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    return env, words


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def readme_cluster(timeout_s: float = 120.0) -> Iterator[tuple[str, list[str]]]:
    """Start the recipe's scheduler and one worker command; yield the scheduler's address and the recipe's grade
    command (localized); stop both on exit."""
    port = _free_port()
    commands = readme_commands()
    procs = []
    try:
        for name in ("scheduler", "worker"):
            extra, argv = localize(commands[name], port)
            procs.append(subprocess.Popen(argv, cwd=REPO, env={**os.environ, **extra}, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
            time.sleep(1.0 if name == "scheduler" else 0)
        from distributed import Client

        address = f"tcp://127.0.0.1:{port}"
        with Client(address, timeout=f"{timeout_s:g}s") as client:
            client.wait_for_workers(2, timeout=timeout_s)
        yield address, localize(commands["grade"], port)[1]
    finally:
        stop(procs)
