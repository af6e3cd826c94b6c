"""Pre-grades decided from the verdict run alone, in the grading-on-submit service's own process.

Where code runs: on the grading host (the hub's service, as the instructor's Unix user); the submission's code runs
only in the verdict run's sandbox (:class:`autograder.jobs.Job`), exactly as in ``make grade``.

A pre-grade is a page for one student, not a grade of record. Of the two sandboxed runs of ``make grade``, only the
verdict run decides the parts; the notebook run only makes the outputs the autograded notebook shows (the figure,
the videos), which a pre-grade page does not show. So a pre-grade here is:

1. the submission, copied in by the service, read by :func:`autograder.ingest.ingest` (bounded, plain data);
2. its verdict run, in the sandbox, on the service's fixtures;
3. :func:`autograder.verdict.decide` against the reference's records on the same fixtures, which are computed once
   per release (every pre-grade uses the same fixtures, made from the service's own secret: a pre-grade decides no
   grade, and the grade of record uses each student's fixtures from the official course's secret);
4. nothing else: no ``nbgrader autograde``, no gradebook, no notebook run.

Each submission costs its verdict run (about half of a ``make grade`` job) and is handed back as soon as it is
decided, not when a batch ends. The parts are decided by the same code as ``make grade``'s, so a pre-grade gives
each part the score the grade of record would give the same code (``tests/test_pregrade.py`` checks it on
mistakes of the catalog).

Before the first pre-grade, and again whenever the master, the course's config or the grader changes
(:mod:`autograder.preflight_cache`'s key), the release is made again and the master's own solution is pre-graded
exactly as a submission: if it does not pass every part, nothing is pre-graded, and each student gets a page that
says the grader is at fault, never a zero.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from autograder import ingest, preflight_cache
from autograder.course_folder import (
    ASSIGNMENT,
    NOTEBOOK,
    NOTEBOOK_FILE,
    release_dir,
    release_notebook,
    submitted_root,
)
from autograder.jobs import STREAM_BYTES_VERDICT, Job
from autograder.nbgrader_cli import run_nbgrader
from autograder.parts import TOTAL
from autograder.reference import course_secret, fixture_seed, make_fixtures, reference_probe
from autograder.sandbox import RunResult
from autograder.text import shown
from autograder.trusted import SandboxedGrading, stream_end_reason
from autograder.verdict import Verdict, decide
from autograder.warm import ServerFailed, WarmPool
from workshop_lib.grading.limits import SandboxLimits

PREFLIGHT = "preflight"
"""The name the master's own solution is graded under (the job's name only: nothing is read or written by it)."""
FIXTURES_ID = ".pregrade"
"""The name the service's fixtures are seeded with (with its secret): one set for every pre-grade."""


@dataclass
class PreGrade:
    """One submission's pre-grade.

    Attributes:
        verdicts: each part's verdict, or None when the submission could not be pre-graded (then ``why``).
        notebook: the submission as ingest rebuilt it (sources only), shown on the page; None without one.
        notes: what ingest refused or repaired, and why the verdict run ended early (safe to show).
        why: why there is no verdict: the submission's fault (no notebook) or the grader's (``grader_fault``).
        grader_fault: True when ``why`` is the grader's failure, not the submission's.
    """

    verdicts: list[Verdict] | None
    notebook: nbformat.NotebookNode | None = None
    notes: list[str] = field(default_factory=list)
    why: str = ""
    grader_fault: bool = False

    @property
    def score(self) -> float:
        return sum(v.score for v in self.verdicts or [])

    @property
    def full_marks(self) -> bool:
        """Every part passed (what the master's own solution must get)."""
        return self.verdicts is not None and self.score == TOTAL


class GraderBroken(RuntimeError):
    """The master's own solution did not pass: nothing can be pre-graded until the set-up is fixed."""


class VerdictOnly:
    """The service's grader: :meth:`prepare` once per release, then :meth:`grade` per submission (thread-safe:
    the service runs ``jobs`` of them at once)."""

    def __init__(self, folder: Path, grader_factory: Callable[[Path], SandboxedGrading] | None = None,
                 log: Callable[[str], None] = print, warm: int = 0) -> None:
        """
        Args:
            folder: the service's nbgrader course folder (its config, ``source/``, ``submitted/``, secret).
            grader_factory: the trusted grader of ``folder`` (default: as ``make grade`` loads it).
            log: where set-up messages go.
            warm: run the verdict runs in this many warm sandboxes (:class:`autograder.warm.WarmPool`: PyTorch
                imported once per sandbox, one forked child per run); 0: a fresh sandbox per run, as
                ``make grade``. Fresh runs whenever the course grades without the sandbox.
        """
        if grader_factory is None:
            from autograder.grade import load_grader as grader_factory
        self.folder, self.grader_factory, self.log = folder, grader_factory, log
        self.key: str | None = None
        self.grader: SandboxedGrading | None = None
        self.release_nb: nbformat.NotebookNode | None = None
        self.fixtures: dict[str, Any] | None = None
        self.reference: list[dict[str, Any]] | None = None
        self.warm = warm
        self.pool: WarmPool | None = None
        self._lock = threading.Lock()
        self._pool_lock = threading.Lock()

    # ---------------------------------------------------------------------------------------------- set-up
    def prepare(self) -> None:
        """Make the release and pass the preflight unless both are current for the folder's master and grader.

        Raises:
            GraderBroken: the release could not be made, or the master's solution did not pass every part (the
                message says why, with the sandbox's own error).
        """
        with self._lock:
            key = preflight_cache.key(self.folder)
            if key == self.key:
                return
            self.key = None
            status, output = run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], self.folder,
                                          show="never")
            if status != 0:
                raise GraderBroken("generate_assignment failed: " + shown(output[-1500:], 1500))
            self.grader = self.grader_factory(self.folder)
            self.release_nb = nbformat.read(release_notebook(self.folder), as_version=4)
            secret = course_secret(self.folder)
            self.fixtures = make_fixtures(self.grader.reference, fixture_seed(secret, ASSIGNMENT, FIXTURES_ID))
            self.reference = reference_probe(self.grader.reference, self.fixtures)
            outcome = self._grade_master()
            if not outcome.full_marks:
                failed = [f"{v.part.title}: {shown(v.message, 300)}" for v in outcome.verdicts or [] if not v.passed]
                raise GraderBroken(f"the master's solution, pre-graded as a submission, scored {outcome.score:g}/"
                                   f"{TOTAL:g}: " + "; ".join(failed + outcome.notes + [outcome.why]).strip("; "))
            self.key = preflight_cache.key(self.folder)  # the secret may be new since the first key
            self.log(f"pre-grading ready: release made, the master's solution passed ({self.key[:12]})")

    def _grade_master(self) -> PreGrade:
        """The master's own solution, ingested as a submission would be, pre-graded (the preflight)."""
        from autograder.grade import preflight_notebook

        assert self.release_nb is not None
        return self._decide(PREFLIGHT, preflight_notebook(self.folder, self.release_nb), [], is_master=True)

    def master_passes(self) -> bool:
        """True when the master's solution still passes every part now (asked when a submission's verdict run
        sent nothing back: was it the submission, or the sandbox?)."""
        return self._grade_master().full_marks

    # ------------------------------------------------------------------------------------------------ grading
    def _verdict_run(self, spec: dict[str, Any]) -> RunResult:
        """The verdict run of ``spec``: in a warm sandbox (``warm`` > 0, with the sandbox on), else fresh."""
        if self.warm > 0 and spec["sandbox"]:
            limits = SandboxLimits.from_dict(spec["limits"])
            with self._pool_lock:
                if self.pool is None or self.pool.limits != limits:
                    if self.pool is not None:
                        self.pool.close()
                    self.pool = WarmPool(self.warm, limits, STREAM_BYTES_VERDICT)
                pool = self.pool
            try:
                return pool.run(spec["cells"], spec["fixtures"], spec["release"])
            except ServerFailed as err:  # the grader's failure: a fresh sandbox runs it instead
                self.log(f"warm sandbox failed ({shown(err, 200)}); this run goes to a fresh one")
        with Job({**spec, "warm": False}) as job:  # fresh, whatever the course's default
            job.start_verdict()
            return RunResult(**job.wait()["verdict"])

    def close(self) -> None:
        """Stop the warm sandboxes, if any."""
        with self._pool_lock:
            if self.pool is not None:
                self.pool.close()
                self.pool = None

    def grade(self, student: str) -> PreGrade:
        """Pre-grade ``submitted/<student>/ddpg/`` of the service's folder (call :meth:`prepare` first)."""
        if self.release_nb is None:
            return PreGrade(None, why="the grader is not set up", grader_fault=True)
        got = ingest.ingest(submitted_root(self.folder), student, ASSIGNMENT, NOTEBOOK, self.release_nb)
        if not got.gradable:
            return PreGrade(None, notes=list(got.notes), why="no notebook the grader could read")
        return self._decide(student, got.notebook, list(got.notes))

    def _decide(self, student: str, nb: nbformat.NotebookNode, notes: list[str], is_master: bool = False) -> PreGrade:
        assert self.grader is not None and self.reference is not None
        spec = self.grader.make_spec(nb, student, release_dir(self.folder), NOTEBOOK_FILE, self.fixtures)
        try:
            run = self._verdict_run(spec)
        except Exception as err:  # noqa: BLE001 - the grader's failure: said so, never a zero
            return PreGrade(None, nb, notes, why=f"the sandbox could not be started: {shown(err, 300)}",
                            grader_fault=True)
        if not run.records and not is_master and not self.master_passes():
            # nothing came back, and the master fails now too: the sandbox is broken, not this submission
            tail = [line for line in run.stderr_tail.splitlines() if line.strip()][-1:]
            return PreGrade(None, nb, notes, why="the grader's sandbox is broken"
                            + (f" ({shown(tail[0], 200)})" if tail else ""), grader_fault=True)
        reason = run.reason or stream_end_reason(run, "verdict")
        verdicts = decide(run.records, self.reference, run_reason=reason)
        return PreGrade(verdicts, nb, notes + ([f"verdict run: {reason}"] if reason else []))

