"""One grading job: everything a machine needs to run one submission in its sandboxes, and what comes back.

A job's **spec** is plain JSON, made by the grading host (``autograder.trusted``): the submission's notebook
(after nbgrader restored its read-only cells, graded test cells emptied), the released resources (base64), the
code cells the verdict run executes, the fixtures and the sandbox's limits
(:class:`~workshop_lib.grading.limits.SandboxLimits` as a dict; each run reads them back from its ``limits.json``)
and whether the notebook runs at all (``notebook_run``: False when the course shows the submitted outputs; the
host then puts the student's saved outputs in place of this run's records).
:func:`run_job` turns a spec into a
**result** (the records streamed back by the two sandboxed runs, and why each ended) on any machine that has
this environment and bubblewrap: the host itself (serially, or ``--jobs N`` at once) or a dask worker. The
result holds only values; the host decides the grade from it and is the only one to write the gradebook.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autograder.sandbox import SCRATCH_PREFIX, RunResult, Sandbox, plain_library_copy, python_executable
from workshop_lib.grading.limits import LIMITS_FILE, SandboxLimits

STREAM_BYTES_VERDICT = 16_000_000
"""The most the verdict run may stream back (bytes): its records are values, far below this."""
STREAM_BYTES_NOTEBOOK_EXTRA = 1_000_000
"""The notebook run may stream twice its ``notebook_output_bytes``, plus this (the records' own JSON)."""


def encode_release(release: Path) -> dict[str, str]:
    """The released files beside the notebook (resources), as ``{relative path: base64}``."""
    files: dict[str, str] = {}
    if release.is_dir():
        for path in sorted(release.rglob("*")):
            if path.is_file() and path.suffix != ".ipynb" and "__pycache__" not in path.parts:
                files[str(path.relative_to(release))] = base64.b64encode(path.read_bytes()).decode()
    return files


def runs_notebook(spec: dict[str, Any] | None) -> bool:
    """Whether the job ``spec`` runs the notebook (False when the course shows the submitted outputs; a job
    never made, ``None``, counts as one that would)."""
    return spec is None or bool(spec.get("notebook_run", True))


def write_release(files: dict[str, str], dest: Path) -> None:
    """Write the released files of :func:`encode_release` under ``dest`` (a run's scratch or a warm sandbox's
    home); a path that would land outside ``dest`` is skipped."""
    for rel, data in files.items():
        target = (dest / rel).resolve()
        if dest.resolve() not in target.parents:
            continue  # never outside the scratch
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(data))


def _result_json(run: RunResult) -> dict[str, Any]:
    return {"records": run.records, "reason": run.reason, "seconds": round(run.seconds, 3),
            "returncode": run.returncode, "stderr_tail": run.stderr_tail[-2000:]}


class Job:
    """One submission's two sandboxed runs, each started when its inputs are ready (use as a context manager:
    the scratch folders are removed on exit).

    ``run_job`` starts both at once. The grading host, grading one submission by itself, starts the notebook
    run first and makes the fixtures while it runs (:meth:`start_verdict` takes them then).
    """

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.limits = SandboxLimits.from_dict(spec["limits"])
        self.enabled = bool(spec["sandbox"])
        self.runs: dict[str, RunResult] = {}
        self.threads: list[threading.Thread] = []
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> Job:
        self._tmp = tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-")
        tmp_path = Path(self._tmp.name)
        os.chmod(tmp_path, 0o755)
        self.library = plain_library_copy(tmp_path / "lib")
        self.scratch = {"notebook": tmp_path / "notebook", "verdict": tmp_path / "verdict"}
        for scratch in self.scratch.values():
            scratch.mkdir()
            write_release(self.spec["release"], scratch)  # the cells above the checks see what the notebook sees
            self.limits.write(scratch)  # read-only inside: the run reads its cell timeout and output caps there
        return self

    def __exit__(self, *exc: object) -> None:
        self._join()  # never remove a scratch folder under a run still going
        if self._tmp is not None:
            self._tmp.cleanup()

    def _start(self, name: str, run_it: Callable[[], RunResult]) -> None:
        """Run ``run_it`` in a thread of its own; its result becomes ``self.runs[name]``."""

        def run() -> None:
            try:
                self.runs[name] = run_it()
            except Exception as err:  # noqa: BLE001 - one broken run must not stop the grading
                self.runs[name] = RunResult(reason=f"could not run: {err}")

        thread = threading.Thread(target=run, name=f"grade-{self.spec['student']}-{name}")
        thread.start()
        self.threads.append(thread)

    def _join(self) -> None:
        for thread in self.threads:
            thread.join()

    def start_notebook(self) -> None:
        """Start the notebook run: the submission, cell by cell, with output caps."""
        name = self.spec["notebook_name"]
        (self.scratch["notebook"] / name).write_text(json.dumps(self.spec["notebook"]))
        box = Sandbox(self.library, self.limits, self.limits.notebook_output_bytes * 2 + STREAM_BYTES_NOTEBOOK_EXTRA,
                      self.enabled)
        argv = [python_executable(), "-m", "workshop_lib.grading.notebook_runner", name, LIMITS_FILE]
        self._start("notebook", lambda: box.run(self.scratch["notebook"], argv))

    def start_verdict(self, fixtures: dict[str, Any] | None = None) -> None:
        """Start the verdict run on ``fixtures`` (default: the spec's): in a warm sandbox of this process
        (:func:`autograder.warm.shared_pool`) when the spec says ``warm`` and the sandbox is on, else (or when no
        warm sandbox can run it: the grader's failure, not the submission's) in a fresh one."""
        fixtures = self.spec["fixtures"] if fixtures is None else fixtures
        scratch = self.scratch["verdict"]
        (scratch / "cells.json").write_text(json.dumps(self.spec["cells"]))
        (scratch / "fixtures.json").write_text(json.dumps(fixtures))
        box = Sandbox(self.library, self.limits, STREAM_BYTES_VERDICT, self.enabled)
        argv = [python_executable(), "-m", "workshop_lib.grading.probe", "cells.json", "fixtures.json", LIMITS_FILE]
        if not (self.enabled and self.spec.get("warm")):
            self._start("verdict", lambda: box.run(scratch, argv))
            return

        def warm_or_fresh() -> RunResult:
            from autograder.warm import ServerFailed, shared_pool

            try:
                return shared_pool(self.limits, STREAM_BYTES_VERDICT).run(self.spec["cells"], fixtures,
                                                                          self.spec["release"])
            except ServerFailed:
                return box.run(scratch, argv)

        self._start("verdict", warm_or_fresh)

    def wait(self) -> dict[str, Any]:
        """Wait for the runs started; return the result (a run never started counts as one that produced
        nothing)."""
        self._join()
        missing = RunResult(reason="never started")
        return {"student": self.spec["student"], "notebook": _result_json(self.runs.get("notebook", missing)),
                "verdict": _result_json(self.runs.get("verdict", missing))}


def run_job(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one submission's notebook and verdict run, each in its own sandbox, at the same time.

    Args:
        spec: the job (see the module's docstring).

    Returns:
        ``{"student", "notebook": {...}, "verdict": {...}}``: each run's streamed records, why it ended early
        (``None`` if it did not), its time. A notebook run the spec did not ask for "never started".
    """
    with Job(spec) as job:
        if runs_notebook(spec):
            job.start_notebook()
        job.start_verdict()
        return job.wait()
