"""The runs of a comparison: one (setting, seed) training run per job, in worker processes or one after the other.

Each run is one worker process (at most ``workers`` at a time); no pool, no queue: a worker leaves its record in
the cache (:mod:`workshop_lib.experiments.cache`), so stopping the workers (an error, an interrupt) can never leave
a lock held that the others wait for. On Linux workers are forked (each is a copy of this process and already
holds the agent class, even one defined in a notebook); elsewhere a class importable by name is sent to
``spawn``-ed workers, and any other runs in this process (:func:`start_method`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from workshop_lib.experiments.cache import CACHE_FORMAT, read_cached, write_atomically
from workshop_lib.experiments.progress import Reporter
from workshop_lib.hyperparams import Hyperparameters
from workshop_lib.loading import load_class
from workshop_lib.loop import seeded_setup, train_agent
from workshop_lib.utils import restored_global_rngs

__all__ = ["Job", "train_job", "start_method", "run_jobs", "default_processes"]


@dataclass
class Job:
    """One (setting, seed) run, as sent to a worker process."""

    label: str
    seed: int
    hyperparameters: dict[str, Any]
    env_id: str
    cache_file: str
    agent_spec: str | None  # "module:Class", or None: the class the forked worker inherited
    episodes: int = field(init=False)

    def __post_init__(self) -> None:
        self.episodes = int(self.hyperparameters["EPISODES"])


_INHERITED_AGENT: type | None = None  # set before forking: the class a worker uses when agent_spec is None


def train_job(job: Job, agent_cls: type | None = None, report: Any = None) -> dict[str, Any]:
    """Train one run, write it to the cache (atomically) and return its record.

    Args:
        job: the run.
        agent_cls: the agent class; ``None`` in a worker, which imports it by name or, when forked, uses the
            class it inherited.
        report: called after each episode (progress).

    Errors are returned, not raised (``{"error": traceback}``), so that the caller can say which run failed.
    """
    try:
        if agent_cls is None:
            agent_cls = _INHERITED_AGENT if job.agent_spec is None else load_class(job.agent_spec)
        hp = Hyperparameters(**job.hyperparameters)
        env, agent = seeded_setup(hp, job.seed, job.env_id, agent_spec=agent_cls)

        def after_episode(episode: int, _agent: Any) -> bool:
            if report is not None:
                report()
            return False  # never stop early

        try:
            result = train_agent(agent, env, hp, progress=False, log=None, after_episode=after_episode,
                                 seed=job.seed)  # the correlated noise too is seeded: a run repeats exactly
        finally:
            env.close()
        record = {
            "label": job.label, "seed": job.seed, "env": job.env_id, "hyperparameters": job.hyperparameters,
            "returns": [float(r) for r in result["returns"]], "updates": result["updates"],
            "wall_time_s": result["wall_time_s"], "cpu_time_s": result["cpu_time_s"], "format": CACHE_FORMAT,
        }
        write_atomically(Path(job.cache_file), record)
        return record
    except Exception:  # noqa: BLE001 - reported to the caller with the run it belongs to
        return {"label": job.label, "seed": job.seed, "error": traceback.format_exc()}


def _worker_main(job: Job, episodes_done: Any, slot: int) -> None:
    """Body of a worker process: one run. Its record reaches the parent through the cache file; an error,
    through ``<cache file>.error``; progress, through its slot of the shared counter array.

    The worker writes nothing to stdout or stderr: a forked copy of a notebook kernel (or of any process with
    threads) may inherit their locks held by another thread, and its output would break the progress bar.
    """
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    torch.set_num_threads(1)

    def report() -> None:
        episodes_done[slot] += 1  # this worker is the only writer of its slot

    record = train_job(job, report=report)
    if "error" in record:
        Path(job.cache_file + ".error").write_text(record["error"])


@contextlib.contextmanager
def _serial_run_state() -> Iterator[None]:
    """For runs in this process: one torch thread, and the global random generators restored afterwards (each
    run reseeds them; your notebook's own random draws continue as if :func:`compare` had not run)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with restored_global_rngs():
            yield
    finally:
        torch.set_num_threads(threads)


def default_processes() -> int:
    """The CPU cores this process may run on (all of them where the system cannot say): one worker each."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def start_method(agent_spec: str | None, workers: int) -> str:
    """``"fork"`` on Linux; ``"spawn"`` elsewhere if the class can be imported by name; else ``"serial"``."""
    if workers <= 1:
        return "serial"
    if sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods():
        return "fork"
    if agent_spec is not None:
        return "spawn"
    return "serial"


def run_jobs(jobs: list[Job], workers: int, method: str, agent_cls: type, say: Reporter) -> Iterator[dict]:
    """Yield each job's record as soon as it is done (in the order they finish).

    In parallel, each run is one worker process (at most ``workers`` at a time); no pool, no queue: a worker
    leaves its record in the cache, so stopping the workers (an error, an interrupt) can never leave a lock
    held that the others wait for.
    """
    if method == "serial":
        with _serial_run_state():
            for job in jobs:
                yield train_job(job, agent_cls, report=lambda job=job: say.episode(job.label, job.seed))
        return
    global _INHERITED_AGENT
    ctx = multiprocessing.get_context(method)
    episodes_done = ctx.RawArray("i", len(jobs))  # per job, the episodes finished (shared memory, no lock)
    reported = [0] * len(jobs)
    waiting = list(enumerate(jobs))
    running: dict[int, Any] = {}
    _INHERITED_AGENT = agent_cls  # forked workers are copies of this process: they hold the class
    try:
        while waiting or running:
            while waiting and len(running) < workers:
                slot, job = waiting.pop(0)
                Path(job.cache_file + ".error").unlink(missing_ok=True)
                process = ctx.Process(target=_worker_main, args=(job, episodes_done, slot), daemon=True,
                                      name=f"compare {job.label} seed {job.seed}")
                process.start()
                running[slot] = process
            time.sleep(0.1)
            for slot in range(len(jobs)):  # progress
                for _ in range(episodes_done[slot] - reported[slot]):
                    say.episode(jobs[slot].label, jobs[slot].seed)
                reported[slot] = episodes_done[slot]
            for slot, process in list(running.items()):
                if process.exitcode is None:
                    continue
                process.join()
                del running[slot]
                yield _collect(jobs[slot], process.exitcode)
    finally:
        for process in running.values():  # on an error or an interrupt: stop the runs still going
            process.kill()
        for process in running.values():
            process.join()
        _INHERITED_AGENT = None


def _collect(job: Job, exitcode: int) -> dict[str, Any]:
    """The record a finished worker left: the cache file, or the error it wrote, or its exit code."""
    error_file = Path(job.cache_file + ".error")
    if error_file.exists():
        error = error_file.read_text()
        error_file.unlink()
        return {"label": job.label, "seed": job.seed, "error": error}
    record = read_cached(Path(job.cache_file), job.episodes)
    if record is None:
        return {"label": job.label, "seed": job.seed,
                "error": f"the worker process ended with exit code {exitcode} and left no result"}
    return record
