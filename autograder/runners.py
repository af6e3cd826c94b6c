"""Where the grading jobs run: threads on this machine (``--jobs N``) or a dask.distributed cluster.

A runner takes ``(student, make_spec)`` pairs and yields ``(student, spec, result)`` as jobs finish, in any order.
``make_spec`` builds the job's spec on the grading host (it makes the fixtures); a runner never decides a grade.
A job that could not be built or run (a host error, a lost dask worker, a worker that cannot import the grader)
yields a result with ``"infra"`` set: that is the grader's failure, never the student's, and the host keeps the
student's previous grade.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import AbstractContextManager
from typing import Any

from autograder.jobs import run_job
from autograder.text import shown

Spec = dict[str, Any]
Result = dict[str, Any]


def infra_result(student: str, reason: str) -> Result:
    """The result of a job the grader could not run (its reason is the grader's, and says so)."""
    return {"student": student, "infra": shown(reason, 300)}


class LocalRunner(AbstractContextManager):
    """``jobs`` submissions at a time in threads of this process (each job starts its own sandboxes)."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs

    def where(self) -> str:
        return f"{self.jobs} at a time on this machine"

    def __exit__(self, *exc: object) -> None:
        return None

    def run(self, items: list[tuple[str, Callable[[], Spec]]]) -> Iterator[tuple[str, Spec | None, Result]]:
        def one(student: str, make: Callable[[], Spec]) -> tuple[Spec | None, Result]:
            try:
                spec = make()
            except Exception as err:  # noqa: BLE001 - the host's failure on one job costs that job only
                return None, infra_result(student, f"the grader could not prepare this job: "
                                                   f"{type(err).__name__}: {err}")
            try:
                return spec, run_job(spec)
            except Exception as err:  # noqa: BLE001
                return spec, infra_result(student, f"the grader could not run this job: {type(err).__name__}: {err}")

        pool = ThreadPoolExecutor(max_workers=self.jobs)
        try:
            futures = {pool.submit(one, student, make): student for student, make in items}
            for future in as_completed(futures):
                spec, result = future.result()
                yield futures[future], spec, result
        finally:  # a run stopped early (a full disk, Ctrl-C) starts no queued job; running ones end by their caps
            pool.shutdown(wait=True, cancel_futures=True)


class DaskRunner(AbstractContextManager):
    """Every job a task on the dask.distributed cluster at ``address`` (one connection for the whole run)."""

    def __init__(self, address: str) -> None:
        from distributed import Client

        self.address = address
        try:
            self.client = Client(address, timeout="30s")
        except Exception as err:  # noqa: BLE001 - no cluster: refuse before anything changes
            raise RuntimeError(f"could not reach the dask scheduler at {address}: {type(err).__name__}: {err}. "
                               "Start it (docs/instructors.md, 'Several machines') or grade on this machine without "
                               "--scheduler.") from None

    def where(self) -> str:
        return f"the dask cluster at {self.address}"

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def run(self, items: list[tuple[str, Callable[[], Spec]]]) -> Iterator[tuple[str, Spec | None, Result]]:
        from distributed import as_completed as dask_completed

        futures, specs, failed = {}, {}, []
        for student, make in items:
            try:
                specs[student] = make()
            except Exception as err:  # noqa: BLE001
                failed.append((student, infra_result(student, f"the grader could not prepare this job: "
                                                              f"{type(err).__name__}: {err}")))
                continue
            future = self.client.submit(run_job, specs[student], key=f"grade-{student}-{time.time_ns()}",
                                        pure=False, retries=1)
            futures[future] = student
        for student, result in failed:
            yield student, None, result
        for future in dask_completed(futures):
            student = futures[future]
            try:
                result = future.result()
            except Exception as err:  # noqa: BLE001 - a lost worker costs this job, not the class
                result = infra_result(student, f"its grading job failed on the cluster: {type(err).__name__}: "
                                               f"{err}")
            yield student, specs[student], result


def make_runner(jobs: int, scheduler: str | None) -> LocalRunner | DaskRunner:
    return DaskRunner(scheduler) if scheduler else LocalRunner(jobs)
