"""A dask.distributed cluster on this machine, for the tests and the benchmark (docs/instructors.md, "Several
machines", gives the commands for a real one): one ``dask scheduler`` and ``workers`` ``dask worker`` processes on
127.0.0.1, started from the repository's root. The workers import the jobs' code (``autograder.jobs``,
``workshop_lib``) from the installed packages (``pip install -e .``), as every machine of a real cluster does."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@contextmanager
def local_cluster(folder: Path, workers: int = 2, timeout_s: float = 120.0) -> Iterator[str]:
    """Start the cluster (its scheduler file in ``folder``), yield the scheduler's address, stop it on exit.

    Each worker has one thread: it grades one submission at a time.
    """
    scheduler_file = Path(folder) / "scheduler.json"
    dask = str(Path(sys.executable).parent / "dask")
    quiet = {"cwd": REPO, "env": dict(os.environ), "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(scheduler_file)], **quiet)]
    try:
        deadline = time.time() + timeout_s
        while not scheduler_file.exists():
            if time.time() > deadline or procs[0].poll() is not None:
                raise RuntimeError(f"the dask scheduler did not start (no {scheduler_file})")
            time.sleep(0.2)
        for _ in range(workers):
            procs.append(subprocess.Popen([dask, "worker", "--scheduler-file", str(scheduler_file), "--nthreads",
                                           "1", "--nworkers", "1", "--no-dashboard", "--host", "127.0.0.1"], **quiet))
        from distributed import Client

        with Client(scheduler_file=str(scheduler_file), timeout=f"{timeout_s:g}s") as client:
            client.wait_for_workers(workers, timeout=timeout_s)
            address = client.scheduler.address
        yield address
    finally:
        stop(procs)


def stop(procs: list[subprocess.Popen]) -> None:
    """Stop the cluster's processes: workers first, then the scheduler (killed if they do not end in 30 s)."""
    for proc in reversed(procs):
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
