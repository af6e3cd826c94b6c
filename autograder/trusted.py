"""Trusted grading as an nbgrader preprocessor: the submission ran sandboxed, the grade is decided here.

``python -m autograder.grade`` (``make grade``) ingests every submission (:mod:`autograder.ingest`), runs each one's
job in bubblewrap sandboxes (:mod:`autograder.jobs`), and probes the reference on the same fixtures, before
nbgrader opens anything. Then it runs ``nbgrader autograde`` on the ingested copies, with
:class:`SandboxedGrading` in place of nbgrader's ``Execute`` (``nbgrader_config.py``). For one submission,
:meth:`SandboxedGrading.preprocess`:

1. reads the job's result (the values the sandboxed runs sent back) and the reference's records;
2. decides each part (:mod:`autograder.verdict`);
3. puts the notebook run's outputs (sanitized, capped again) into the code cells (or, when the course says
   ``c.SandboxedGrading.notebook_outputs = "submitted"``, the outputs the student saved, sanitized the same way:
   no notebook run at all), and replaces each graded test
   cell's outputs by its verdict: a passed part prints a line, a failed one an error that names the mistake
   (nbgrader scores a test cell with an error 0);
4. writes ``grading_report.json`` beside the autograded notebook (verdicts, ingest notes, why a run ended early).

nbgrader keeps everything else: it restores the read-only and test cells from the gradebook, and its
``SaveAutoGrades`` writes the scores to ``gradebook.db`` from the test cells' outputs. Only nbgrader's process
writes the gradebook, and only in this last step.

Nothing the submission does in its kernel (hooks, AST transformers, monkeypatches, printed text) reaches a test
cell's output: those are written here.

Where code runs: this module runs on the grading host. The sandbox side is :mod:`workshop_lib.grading`.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode
from traitlets import Bool, Enum, Float, Integer, Unicode

from autograder.jobs import encode_release
from autograder.outputs import OutputBudget, execution_count
from autograder.parts import BY_ID, PARTS
from autograder.reference import REFERENCE
from autograder.sandbox import RunResult
from autograder.text import shown
from autograder.verdict import Verdict, decide
from workshop_lib.grading.limits import DEFAULT_LIMITS, SandboxLimits

try:  # nbgrader is the grading host's dependency; the module also imports without it (for the docs and tests)
    from nbgrader.preprocessors import NbGraderPreprocessor
except ImportError:  # pragma: no cover
    from traitlets.config import LoggingConfigurable as NbGraderPreprocessor  # type: ignore[assignment]

REPORT_NAME = "grading_report.json"
REFERENCE_SUFFIX = ".reference.json"  # in the jobs folder: the reference's probe records for one student
RERUN, SUBMITTED = "rerun", "submitted"
"""The two values of ``c.SandboxedGrading.notebook_outputs``: where the autograded notebook's outputs come from."""


def is_graded_test(cell: NotebookNode) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution") and cell.cell_type == "code"


def verdict_cells(nb: NotebookNode) -> list[str]:
    """The code the verdict run executes: every code cell above the last graded test cell, in order, except
    the graded test cells themselves (they only call the visible checks). This is what the notebook's own
    check cells see: the given cells, the exercises with any helper methods, and every cell the student added
    above them (an ``import`` in a new cell, say)."""
    last = max((i for i, c in enumerate(nb.cells) if is_graded_test(c)), default=-1)
    return [c.source for c in nb.cells[:last] if c.cell_type == "code" and not is_graded_test(c)]


def stream_end_reason(run: RunResult, which: str) -> str | None:
    """Why a run's stream ended early, or None if it ran to its end: its last record says "done" and the
    process exited with 0 (a "done" the submission wrote itself, followed by a crash, does not count). A run
    that sent nothing at all could not start: the sandbox's own error (its last line on stderr) says why."""
    records = run.records

    def is_done(r: dict[str, Any]) -> bool:
        return r.get("event") == "done" or r.get("probe") == "done"

    if records and is_done(records[-1]) and run.returncode in (0, None):
        return None
    if not records:
        lines = [line for line in run.stderr_tail.splitlines() if line.strip()]
        if lines:
            return f"could not start: {shown(lines[-1], 200)}"
    events = [r.get("event") for r in records if "event" in r]
    if "kernel_died" in events:
        return "kernel died"
    if "runner_error" in events:
        return "the notebook could not be run"
    return "kernel died" if which == "notebook" else "the verdict run stopped early"


def submitted_run(records: list[dict[str, Any]]) -> dict[str, Any]:
    """A job's ``"notebook"`` result made from the student's own saved outputs (``Ingested.outputs``, already
    sanitized): what the host puts in place of a notebook run when the course shows the submitted outputs. It
    reads as a run that ended by itself, so no note about it reaches the student."""
    return {"records": [*records, {"event": "done"}], "reason": None, "returncode": 0, "seconds": 0.0,
            "stderr_tail": ""}


def run_summary(run: RunResult, reason: str | None) -> dict[str, Any]:
    """How one run ended, for the report: with the sandbox's last words when it sent nothing back."""
    summary: dict[str, Any] = {"reason": reason, "seconds": round(run.seconds, 2)}
    if not run.records and run.stderr_tail:
        summary["stderr_tail"] = run.stderr_tail[-2000:]
    return summary


@dataclass
class Judgement:
    """One submission's decided parts, and how its two runs ended."""

    verdicts: list[Verdict]
    notes: list[str]
    notebook_reason: str | None
    verdict_reason: str | None
    notebook_run: RunResult
    verdict_run: RunResult

    @property
    def score(self) -> float:
        return sum(v.score for v in self.verdicts)


def verdict_outputs(verdict: Verdict) -> list[NotebookNode]:
    """The outputs a graded test cell gets: a line if it passed, an error naming the mistake if not."""
    part = verdict.part
    if verdict.passed:
        return [nbformat.v4.new_output("stream", name="stdout",
                                       text=f"{part.title}: passed ({part.points:g}/{part.points:g}), "
                                            "decided by the grader outside your notebook.\n")]
    text = f"{part.title}: 0/{part.points:g}. {verdict.message}"
    return [nbformat.v4.new_output("error", ename="GradingFailed", evalue=text, traceback=[text])]


class SandboxedGrading(NbGraderPreprocessor):
    """Grade one submission in bubblewrap sandboxes and decide its parts here (see the module's docstring).

    Every limit is a config option (``c.SandboxedGrading.<name>`` in ``nbgrader_config.py``), one per field of
    :class:`~workshop_lib.grading.limits.SandboxLimits`, whose defaults are theirs; :meth:`limits` gathers them.
    """

    sandbox = Bool(True, help="Run the submission in bubblewrap. False (`--no-sandbox`) runs it without any "
                              "isolation: only for code you trust.").tag(config=True)
    warm = Bool(True, help="Run each verdict run in a warm sandbox (PyTorch imported once per sandbox, one forked "
                           "child per run, the sandbox emptied between runs: autograder/warm.py), about 3 CPU-s "
                           "less per submission. False: a fresh sandbox per verdict run. Ignored without the "
                           "sandbox.").tag(config=True)
    notebook_outputs = Enum(
        (RERUN, SUBMITTED), default_value=RERUN,
        help="Where the autograded notebook's outputs come from. 'rerun': the submission is run again, cell by "
             "cell, in a sandbox of its own (nbgrader's way; under NBGRADER_EXECUTION the training is a tiny "
             "run). 'submitted': the outputs the student saved, sanitized and capped the same way, and no "
             "notebook run (about half of a submission's CPU time). The grade is decided by the verdict run "
             "either way: no output decides a part.").tag(config=True)
    wall_seconds = Float(
        DEFAULT_LIMITS.wall_seconds,
        help="Wall-clock limit of the whole notebook run, and of the verdict run (seconds). Past it, everything the "
             "run started is killed and it is graded as far as it got.").tag(config=True)
    cell_timeout = Integer(
        DEFAULT_LIMITS.cell_timeout,
        help="Per-cell time limit of the notebook run (seconds); the cell is interrupted and the next one runs."
    ).tag(config=True)
    memory_bytes = Integer(
        DEFAULT_LIMITS.memory_bytes,
        help="Address-space limit of each process in a sandbox (bytes). An allocation past it fails with "
             "MemoryError.").tag(config=True)
    max_processes = Integer(DEFAULT_LIMITS.max_processes,
                            help="Processes (and threads) a sandbox may run at once.").tag(config=True)
    file_bytes = Integer(DEFAULT_LIMITS.file_bytes, help="Largest file a sandbox may write (bytes).").tag(config=True)
    tmp_bytes = Integer(DEFAULT_LIMITS.tmp_bytes, help="Size of a sandbox's private /tmp (bytes).").tag(config=True)
    cell_output_bytes = Integer(
        DEFAULT_LIMITS.cell_output_bytes,
        help="Output kept per cell (bytes); the rest is dropped and the cell ends with a note saying so."
    ).tag(config=True)
    notebook_output_bytes = Integer(
        DEFAULT_LIMITS.notebook_output_bytes,
        help="Output kept for the whole notebook (bytes); a run that streams more than twice this is killed "
             "(`output over ...`).").tag(config=True)
    reference = Unicode(REFERENCE,
                        help="The reference agent class, `module:Class`, imported in the grading process only."
                        ).tag(config=True)

    jobs_dir = Unicode("", help="Folder of the jobs' results, written by `python -m autograder.grade` (the "
                                "only way to autograde this course: it ingests and runs every submission "
                                "first).").tag(config=True)

    def limits(self) -> SandboxLimits:
        """The sandbox's limits as the course's config sets them.

        Raises:
            LimitsError: a limit of the config is not above 0 (the message names the option to fix).
        """
        return SandboxLimits(**{name: getattr(self, name) for name in DEFAULT_LIMITS.to_dict()})

    def make_spec(self, nb: NotebookNode, student: str, release: Path, notebook_name: str,
                  fixtures: dict[str, Any] | None) -> dict[str, Any]:
        """The job of one submission (see :mod:`autograder.jobs`), from its ingested notebook."""
        copy_nb = copy.deepcopy(nb)
        for cell in copy_nb.cells:
            if is_graded_test(cell):  # graded outside the notebook: nothing of the student's decides them
                cell.source = "# graded outside the notebook by the grader"
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        return {"student": student, "notebook_name": notebook_name, "notebook": copy_nb,
                "release": encode_release(release), "cells": verdict_cells(nb), "fixtures": fixtures,
                "limits": self.limits().to_dict(), "sandbox": bool(self.sandbox), "warm": bool(self.warm),
                "notebook_run": self.notebook_outputs == RERUN}

    def judge(self, result: dict[str, Any], reference_records: list[dict[str, Any]]) -> Judgement:
        """Decide one submission's parts from its job's result and the reference's records (no file touched)."""
        nb_run, verdict_run = RunResult(**result["notebook"]), RunResult(**result["verdict"])
        notebook_reason = nb_run.reason or stream_end_reason(nb_run, "notebook")
        verdict_reason = verdict_run.reason or stream_end_reason(verdict_run, "verdict")
        verdicts = decide(verdict_run.records, reference_records, run_reason=verdict_reason)
        notes = [n for n in (notebook_reason, verdict_reason and f"verdict run: {verdict_reason}") if n]
        for record in nb_run.records:
            cut = record.get("cut")
            if isinstance(cut, str):
                what = "the notebook" if "the notebook wrote" in cut else f"cell {record.get('index')}"
                limit = self.notebook_output_bytes if what == "the notebook" else self.cell_output_bytes
                notes.append(f"output over {limit / 1e6:g} MB in {what} (cut)")
                if what == "the notebook":
                    break
        return Judgement(verdicts, notes, notebook_reason, verdict_reason, nb_run, verdict_run)

    # ------------------------------------------------------------------------------------------ preprocess
    def preprocess(self, nb: NotebookNode, resources: dict[str, Any]) -> tuple[NotebookNode, dict[str, Any]]:
        """Grade one ingested submission from its job's result (nbgrader calls this once per notebook).

        The steps of the module's docstring, in order: read what the job sent back and the reference's records;
        decide each part, once; put the run's outputs and the verdicts into the notebook; write the report.
        nbgrader's ``SaveAutoGrades`` then records the scores from the test cells' outputs.
        """
        student, assignment = self._names(resources)
        result, reference_records = self._read_job(student)
        judged = self.judge(result, reference_records)
        self._merge_outputs(nb, judged.notebook_run.records, judged.notebook_reason)
        self._write_verdicts(nb, judged.verdicts)
        report = self._report(student, assignment, result, judged)
        notebook_dir = Path(resources.get("metadata", {}).get("path") or ".").resolve()
        (notebook_dir / REPORT_NAME).write_text(json.dumps(report, indent=1))
        self.log.info("Trusted grading of %s: %s", student,
                      ", ".join(f"{v.part.grade_id}={v.score:g}" for v in judged.verdicts))
        return nb, resources

    # ----------------------------------------------------------------------------------- preprocess's steps
    @staticmethod
    def _names(resources: dict[str, Any]) -> tuple[str, str]:
        """The student and the assignment nbgrader is grading."""
        info = resources.get("nbgrader", {})
        return info.get("student", "student"), info.get("assignment", "assignment")

    def _read_job(self, student: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The job's result for ``student`` and the reference's records, from ``jobs_dir`` (written by
        ``python -m autograder.grade``, the only way to autograde this course)."""
        if not self.jobs_dir:
            raise RuntimeError("Autograde this course with `python -m autograder.grade` (`make grade`): it ingests "
                               "each submission and runs it in a sandbox before nbgrader records the grade.")
        jobs_dir = Path(self.jobs_dir)
        result = json.loads((jobs_dir / f"{student}.result.json").read_text())
        reference_records = json.loads((jobs_dir / f"{student}{REFERENCE_SUFFIX}").read_text())
        return result, reference_records

    @staticmethod
    def _write_verdicts(nb: NotebookNode, verdicts: list[Verdict]) -> None:
        """Replace each graded test cell's outputs by its part's verdict (a graded cell that is no part: 0)."""
        by_id = {v.part.grade_id: v for v in verdicts}
        for cell in nb.cells:
            if not is_graded_test(cell):
                continue
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if grade_id in by_id:
                cell.outputs = verdict_outputs(by_id[grade_id])
            else:  # a graded cell the table does not know: 0, and said so
                cell.outputs = [nbformat.v4.new_output("error", ename="GradingFailed",
                                                       evalue=f"{grade_id} is not a part of autograder/parts.py",
                                                       traceback=[])]

    def _report(self, student: str, assignment: str, result: dict[str, Any], judged: Judgement) -> dict[str, Any]:
        """``grading_report.json``: the decided parts, the notes, how each run ended, the hand-graded answers'
        hashes (what ``make grade``, the feedback and the export read back; nothing decides anything again)."""
        return {
            "student": student, "assignment": assignment, "sandboxed": bool(self.sandbox),
            "outputs": self.notebook_outputs,
            "notes": list(result.get("ingest_notes", [])) + judged.notes,
            "graded_at": result.get("graded_at"), "run_id": result.get("run_id"),
            "parts": {v.part.grade_id: {"score": v.score, "points": v.part.points, "passed": v.passed,
                                        "message": v.message} for v in judged.verdicts},
            "notebook_run": run_summary(judged.notebook_run, judged.notebook_reason),
            "verdict_run": run_summary(judged.verdict_run, judged.verdict_reason),
            "answers": result.get("answers", {}),
        }

    # ------------------------------------------------------------------------------------------- helpers
    def _merge_outputs(self, nb: NotebookNode, records: list[dict[str, Any]], reason: str | None) -> None:
        """Put the sandbox's outputs (sanitized, capped again here) into the notebook's code cells."""
        budget = OutputBudget(self.cell_output_bytes, self.notebook_output_bytes)
        for record in records:
            index = record.get("index")
            if not isinstance(index, int) or not 0 <= index < len(nb.cells):
                continue
            cell = nb.cells[index]
            if cell.cell_type != "code" or is_graded_test(cell):
                continue
            cell.outputs = budget.sanitize(record.get("outputs"))
            cell.execution_count = execution_count(record.get("execution_count"))
        if reason:
            ran = {r.get("index") for r in records}
            for i, cell in enumerate(nb.cells):
                if cell.cell_type == "code" and not is_graded_test(cell) and i not in ran:
                    cell.outputs = [nbformat.v4.new_output(
                        "stream", name="stdout", text=f"[not run: the notebook's run ended early ({reason})]\n")]
                    break


__all__ = ["SandboxedGrading", "PARTS", "BY_ID", "verdict_cells"]
