"""Autograde every submission of the course in sandboxes and print the scores per student and per part.

    python -m autograder.grade                    # the course in autograder/course/ (what `make grade` runs)
    python -m autograder.grade --course /tmp/c    # another copy of the course directory
    python -m autograder.grade --no-sandbox       # without bubblewrap: only for code you trust
    python -m autograder.grade --jobs 4           # four submissions at once (default: the machine's cores)
    python -m autograder.grade --scheduler tcp://HOST:8786   # the jobs on a dask.distributed cluster
    python -m autograder.grade --student alice --student bob  # only these folders of submitted/
    python -m autograder.grade --reuse-preflight  # keep the release and skip the preflight while they are current

One run, with the course's lock held (a second run on the same course refuses and names the first):

1. **house-keeping**: what a killed run left (its job files, its sandboxes' scratch folders and memory cgroups)
   is removed; the disk must have room;
2. ``nbgrader generate_assignment ddpg --force``: the release, against which every submission is checked; then
   :func:`start_run`: the trusted grader, the course secret, this run's work folders;
3. **ingest** (:func:`ingest_all`, :mod:`autograder.ingest`): every ``submitted/<student>/ddpg/`` becomes plain,
   bounded data in ``.ingested/``, with a note for anything refused or repaired;
4. **preflight** (:func:`preflight`): the master's solution is graded first, exactly as a submission (same
   sandbox, same runner, local or dask). If it does not score full marks, nothing is graded and the sandbox's own
   error is shown;
5. **jobs** (:func:`run_jobs`): each submission's two sandboxed runs (:mod:`autograder.jobs`), N at a time or on
   the cluster; the reference's values for the same fixtures are computed here meanwhile (:func:`record_job`).
   Nothing is decided and the gradebook is not touched;
6. **apply** (:func:`apply_grades`): ``nbgrader autograde`` reads the ingested copies and the jobs' results; the
   trusted preprocessor (``autograder/trusted.py``) decides each part, once, and nbgrader writes the gradebook,
   one student after the other. A student whose job failed on the grader's side is left out of this step: their
   previous grade stays, marked;
7. hand-graded answers that did not change since they were graded are not flagged again
   (:func:`settle_hand_grades`); a table of the scores as the gradebook holds them (:func:`format_table`).

Until step 6 the gradebook, the formgrader, the export and the feedback show every student's previous grade.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from autograder import ingest, preflight_cache
from autograder.course_folder import (
    ASSIGNMENT,
    CONFIG_NAME,
    COURSE_DIR,
    NOTEBOOK,
    NOTEBOOK_FILE,
    autograded_dir,
    autograded_notebook,
    gradebook_path,
    gradebook_url,
    is_course,
    read_scores,
    release_dir,
    release_notebook,
    source_notebook,
    submissions,
    submitted_root,
)
from autograder.jobs import runs_notebook
from autograder.lock import CourseBusy, course_lock
from autograder.nbgrader_cli import run_nbgrader
from autograder.parts import PARTS, TOTAL
from autograder.reference import (
    SECRET_NAME,
    course_secret,
    fixture_seed,
    make_fixtures,
    reference_probe,
)
from autograder.sandbox import BWRAP_MISSING, bwrap_path, remove_leftovers
from autograder.text import shown, table_cell
from autograder.trusted import (
    REFERENCE_SUFFIX,
    REPORT_NAME,
    SUBMITTED,
    SandboxedGrading,
    submitted_run,
)
from workshop_lib.grading.limits import LimitsError

JOBS_DIR = ".grading_jobs"
"""Under the course: this run's job results and reference records (removed at the end, and by the next run)."""
STATE_NAME = ".grading_state.json"
"""Under the course: the hash of each hand-graded answer when it was last graded (tells a changed answer)."""
APPLY_SECONDS = (120.0, 20.0)
"""Time nbgrader may take to record a class's grades: the first number, plus the second per submission."""
MIN_FREE_BYTES = 200 * 1024**2
"""Free space the course's disk must have before a run starts."""


def read_reports(course: Path) -> dict[str, dict]:
    """The trusted grader's report of each autograded submission (``grading_report.json``)."""
    reports = {}
    for student in submissions(course):
        path = autograded_dir(course, student) / REPORT_NAME
        if path.is_file():
            reports[student] = json.loads(path.read_text())
    return reports


def graded_cells(course: Path) -> dict[str, tuple[float, bool]]:
    """``{grade_id: (max score, graded by hand?)}`` of every graded cell, from the gradebook. A cell is graded by
    hand when it is an answer cell (markdown, or code that is not a test)."""
    from nbgrader.api import Gradebook

    with Gradebook(gradebook_url(course)) as gb:
        nb = gb.find_notebook(NOTEBOOK, ASSIGNMENT)
        answers = {cell.name for cell in nb.solution_cells}  # graded answer cells: a grader scores them
        cells = {cell.name: (cell.max_score, cell.name in answers) for cell in nb.grade_cells}
    release = release_notebook(course)
    order = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nbformat.read(release, as_version=4).cells] \
        if release.is_file() else []
    return {gid: cells[gid] for gid in [g for g in order if g in cells] + sorted(set(cells) - set(order))}


def read_late_penalties(course: Path) -> dict[str, float]:
    """``{student: points off for lateness}`` of every submission the gradebook has a penalty for."""
    from nbgrader.api import Gradebook, MissingEntry

    out = {}
    with Gradebook(gradebook_url(course)) as gb:
        for student in submissions(course):
            try:
                penalty = gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student).late_submission_penalty
            except MissingEntry:
                continue
            if penalty:
                out[student] = float(penalty)
    return out


def format_table(scores: dict[str, dict[str, float | None]], maxima: dict[str, float], students: list[str],
                 notes: dict[str, str] | None = None, manual: set[str] | None = None,
                 late: dict[str, float] | None = None) -> str:
    """A Markdown table: one row per student; one column per autograded cell of the gradebook; the autograded
    sum, the manually graded sum (with how many answers still wait for a grader), the late penalty (when any
    student has one), the total; and a note (what ingest refused, why a run ended early, a grade kept from an
    earlier run). Every student-controlled string is escaped (:func:`autograder.text.table_cell`)."""
    titles = {p.grade_id: p.title for p in PARTS}
    manual = manual or set()
    auto = [gid for gid in titles if gid in maxima] + [gid for gid in maxima if gid not in titles
                                                        and gid not in manual]
    hand = [gid for gid in maxima if gid in manual]  # in the notebook's order
    late = late or {}
    auto_max, hand_max = sum(maxima[g] for g in auto), sum(maxima[g] for g in hand)
    head = (["student"] + [f"{titles.get(gid, gid)} (/{maxima[gid]:g})" for gid in auto]
            + ([f"auto (/{auto_max:g})", f"manual (/{hand_max:g})"] if hand else [])
            + (["late penalty"] if late else []) + [f"total (/{auto_max + hand_max:g})", "notes"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes = notes or {}
    for student in students:
        note, name = table_cell(notes.get(student, ""), 1000), table_cell(student, 60)
        if student not in scores:
            lines.append("| " + " | ".join([name] + ["not graded"] * (len(head) - 2) + [note]) + " |")
            continue
        row = scores[student]
        cells = [("?" if row.get(gid) is None else f"{row[gid]:g}") for gid in auto]
        auto_total = sum(row.get(gid) or 0.0 for gid in auto)
        hand_total = sum(row.get(gid) or 0.0 for gid in hand)
        waiting = sum(row.get(gid) is None for gid in hand)
        extra = []
        if hand:
            extra = [f"{auto_total:g}", f"{hand_total:g}" + (f" ({waiting} to grade)" if waiting else "")]
        penalty = late.get(student, 0.0)
        if late:
            extra.append(f"-{penalty:g}" if penalty else "0")
        total = max(0.0, auto_total + hand_total - penalty)
        lines.append("| " + " | ".join([name] + cells + extra + [f"{total:g}", note]) + " |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ the run's parts
def load_grader(course: Path) -> SandboxedGrading:
    """The trusted preprocessor as the course's ``nbgrader_config.py`` sets it (its limits, its reference).

    Raises:
        LimitsError: a limit of the config is not one a sandbox can have (the message names the option).
    """
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(CONFIG_NAME, path=str(course)).load_config()
    grader = SandboxedGrading(config=config)
    grader.limits()  # checked before anything changes
    return grader


def check_free_space(course: Path, needed: int = MIN_FREE_BYTES) -> None:
    """Refuse, before anything changes, when the course's disk has less than ``needed`` bytes free."""
    free = shutil.disk_usage(course).free
    if free < needed:
        raise OSError(28, f"only {free / 1024**2:.0f} MB free on the course's disk (at least "
                          f"{needed / 1024**2:.0f} MB needed): free some space", str(course))


def preflight_notebook(course: Path, release_nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The master notebook (its solutions in place), ingested as a submission would be."""
    data = ingest.parse_notebook(source_notebook(course).read_bytes())
    return ingest.rebuild(data, release_nb, ingest.Ingested(student="preflight"))


def preflight(grader: SandboxedGrading, runner: Any, course: Path, release_nb: nbformat.NotebookNode,
              secret: str) -> str | None:
    """Grade the master's solution through the same path as every submission; return why it did not score full
    marks (with the sandbox's own error), or None when it did."""
    release = release_dir(course)
    fixtures = make_fixtures(grader.reference, fixture_seed(secret, ASSIGNMENT, ".preflight"))

    def make() -> dict[str, Any]:
        return grader.make_spec(preflight_notebook(course, release_nb), "preflight", release,
                                NOTEBOOK_FILE, fixtures)

    ((_, spec, result),) = list(runner.run([("preflight", make)]))
    if "infra" in result:
        return result["infra"]
    if not runs_notebook(spec):
        result["notebook"] = submitted_run([])  # the course shows the submitted outputs: no notebook run
    judged = grader.judge(result, reference_probe(grader.reference, fixtures))
    failed = [v for v in judged.verdicts if not v.passed]
    if not failed and judged.notebook_run.records:
        return None
    why = [f"it scored {judged.score:g}/{TOTAL:g}."]
    if judged.verdict_run.records:
        why += [f"  {v.part.title}: {shown(v.message, 300)}" for v in failed]
    why += [f"  {shown(n, 300)}" for n in judged.notes]
    for name, run in (("notebook run", judged.notebook_run), ("verdict run", judged.verdict_run)):
        tail = [line for line in run.stderr_tail.splitlines() if line.strip()][-4:]
        if tail and not run.records:
            why.append(f"  the {name}'s sandbox said (last lines):")
            why += [f"    {shown(line, 300)}" for line in tail]
    return "\n".join(why)


def load_state(course: Path) -> dict[str, dict[str, str]]:
    try:
        state = json.loads((course / STATE_NAME).read_text())
        return state if isinstance(state, dict) else {}
    except (OSError, ValueError):
        return {}


def settle_hand_grades(course: Path, applied: dict[str, dict[str, str]]) -> dict[str, list[str]]:
    """After a regrade, flag for hand grading only the answers that changed.

    nbgrader flags every hand-graded answer again each time it autogrades. For each student graded in this run,
    an answer whose text is the one graded before keeps its grade unflagged; a changed one stays flagged and is
    named. Returns ``{student: [grade_id of each changed, hand-graded answer]}``.
    """
    from nbgrader.api import Gradebook, MissingEntry

    state, changed = load_state(course), {}
    with Gradebook(gradebook_url(course)) as gb:
        for student, answers in applied.items():
            try:
                nb = gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student)
            except MissingEntry:
                continue
            before = state.get(student, {})
            for grade in nb.grades:
                if grade.name not in answers or grade.manual_score is None:
                    continue
                if before.get(grade.name) == answers[grade.name]:
                    grade.needs_manual_grade = False
                else:
                    changed.setdefault(student, []).append(grade.name)
            gb.db.commit()
            state[student] = answers
    tmp = course / (STATE_NAME + ".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
    os.replace(tmp, course / STATE_NAME)
    return changed


def graded_at(report: dict[str, Any] | None) -> str:
    return str((report or {}).get("graded_at") or "an earlier run")


# ------------------------------------------------------------------------------------------------- the run
@dataclass(frozen=True)
class GradingRun:
    """What every step of one run shares: the course, its trusted grader, and where this run writes."""

    course: Path
    grader: SandboxedGrading
    release_nb: nbformat.NotebookNode
    secret: str
    """The course secret: it seeds each student's fixtures."""
    staging: Path
    """``.ingested/``: the host-owned copies nbgrader autogrades (nbgrader's ``submitted_directory``)."""
    jobs_dir: Path
    """``.grading_jobs/ddpg/``: each job's result and the reference's records, read by the trusted grader."""
    graded_at: str
    run_id: str
    """Tells this run's reports from an earlier run's."""


@dataclass
class JobsOutcome:
    """How the jobs ended, for the steps after them (the grades are decided later, once, by nbgrader's run)."""

    infra: dict[str, str] = field(default_factory=dict)
    """``{student: why}`` of each job that failed on the grader's side (that student keeps their grade)."""
    silent: list[str] = field(default_factory=list)
    """The students whose sandboxes sent nothing back at all."""


def grade_class(args: argparse.Namespace, course: Path) -> int:
    """Steps 1-7 of the module's docstring, in order, with the course's lock held. Returns the exit status."""
    from autograder.runners import make_runner

    # 1. house-keeping
    for path in remove_leftovers():
        print(f"removed what a killed run left: {path}")
    check_free_space(course, int(args.min_free_mb * 1024**2))
    students = submissions(course)
    if args.student:
        missing = sorted(set(args.student) - set(students))
        if missing:
            print(f"No submission folder for {', '.join(table_cell(s, 40) for s in missing)} in "
                  f"{submitted_root(course)}: expected one of {len(students)} there. Nothing was graded.",
                  file=sys.stderr)
            return 2
        students = sorted(set(args.student))
    if not students:
        print(f"No submissions to grade: put each student's notebook in "
              f"{submitted_root(course)}/<student>/{ASSIGNMENT}/{NOTEBOOK_FILE} (or run `python -m "
              "autograder.hub.collect` on the course's hub), then run this again.")
        return 0
    # 2. the release (with --reuse-preflight: kept, with the preflight's pass, while nothing they depend on changed)
    key = preflight_cache.key(course) if args.reuse_preflight else None
    reuse = (key is not None and preflight_cache.passed(course, key) and release_notebook(course).is_file()
             and gradebook_path(course).is_file())
    if reuse:
        print(f"release and preflight: made and passed before with this master and grader ({key[:12]}), "
              "not made again", flush=True)
    else:
        status, _ = run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], course,
                                 show="on failure" if args.quiet else "all")
        if status != 0:
            print("generate_assignment failed: see its log above. Nothing was graded.", file=sys.stderr)
            return 1
    run = start_run(course, no_sandbox=args.no_sandbox)
    # 3. ingest
    notes, ingested = ingest_all(run, students)
    start = time.perf_counter()
    with make_runner(args.jobs, args.scheduler) as runner:
        # 4. preflight (unless step 2 found its pass recorded)
        problem = None
        if not reuse:
            print(f"preflight: grading the master's solution on {runner.where()}", flush=True)
            problem = preflight(run.grader, runner, course, run.release_nb, run.secret)
            if key is not None and not problem:
                preflight_cache.record(course, preflight_cache.key(course))  # the secret may be new since step 2
        if problem:
            print(f"Refusing to grade: the reference solution, graded exactly as a submission, did not pass: "
                  f"{problem}\nFix the grading set-up (the sandbox, the environment, the workers, the limits in "
                  f"nbgrader_config.py); nothing was graded and the gradebook is unchanged.", file=sys.stderr)
            return 2
        # 5. jobs
        outcome = run_jobs(run, runner, ingested)
    # 6. apply: only the students whose jobs ran; the others keep their previous grade
    applied = {s: ingested[s] for s in ingested if s not in outcome.infra}
    apply_status, log = apply_grades(run, applied, no_sandbox=args.no_sandbox, quiet=args.quiet)
    print(f"graded {len(applied)} submissions in {time.perf_counter() - start:.0f} s")
    # 7. hand grades, table
    reports = read_reports(course)
    graded = {s for s in applied if reports.get(s, {}).get("run_id") == run.run_id
              and autograded_notebook(course, s).is_file()}
    changed = settle_hand_grades(course, {s: applied[s].answers for s in graded})
    scores = read_scores(course)
    failed_apply = {s: nbgrader_error(log, s) for s in applied if s not in graded}
    note_outcomes(notes, students, graded, reports, changed, {**outcome.infra, **failed_apply}, scores)
    print()
    if args.no_sandbox:
        print("NOT SANDBOXED: submissions ran with your rights (--no-sandbox).")
    cells = graded_cells(course)
    print(format_table(scores, {k: v[0] for k, v in cells.items()}, students,
                       {s: "; ".join(n) for s, n in notes.items()}, manual={k for k, v in cells.items() if v[1]},
                       late=read_late_penalties(course)))
    problems = run_problems(outcome, failed_apply, len(ingested), apply_status)
    for problem in problems:
        print(f"\n{problem}", file=sys.stderr)
    return 1 if problems else 0


def start_run(course: Path, no_sandbox: bool) -> GradingRun:
    """The trusted grader, the release, the course secret and fresh, private work folders for this run."""
    grader = load_grader(course)
    if no_sandbox:
        grader.sandbox = False
    release_nb = nbformat.read(release_notebook(course), as_version=4)
    if not (course / SECRET_NAME).exists():
        print(f"creating the course secret {course / SECRET_NAME}: it seeds each student's grading fixtures. Keep "
              "it with the gradebook; a new one changes every student's fixtures (not whether their work is "
              "correct).")
    secret = course_secret(course)
    staging = course / ingest.INGESTED_DIR
    jobs_dir = course / JOBS_DIR / ASSIGNMENT
    for folder in (staging, jobs_dir.parent):
        shutil.rmtree(folder, ignore_errors=True)
    staging.mkdir(mode=0o700)
    jobs_dir.mkdir(parents=True, mode=0o700)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return GradingRun(course=course, grader=grader, release_nb=release_nb, secret=secret, staging=staging,
                      jobs_dir=jobs_dir, graded_at=now, run_id=f"{now} {os.getpid()} {time.monotonic_ns()}")


def ingest_all(run: GradingRun, students: list[str]) -> tuple[dict[str, list[str]], dict[str, ingest.Ingested]]:
    """Step 3: every submission as plain, bounded data. Returns each student's notes (what was refused or
    repaired) and the gradable ones."""
    notes: dict[str, list[str]] = {}
    ingested: dict[str, ingest.Ingested] = {}
    caps = dataclasses.replace(ingest.CAPS, cell_output_bytes=run.grader.cell_output_bytes,
                               output_bytes=run.grader.notebook_output_bytes)
    for student in students:
        got = ingest.ingest(submitted_root(run.course), student, ASSIGNMENT, NOTEBOOK, run.release_nb, caps,
                            keep_outputs=run.grader.notebook_outputs == SUBMITTED)
        notes[student] = list(got.notes)
        if got.gradable:
            ingested[student] = got
    return notes, ingested


def run_jobs(run: GradingRun, runner: Any, ingested: dict[str, ingest.Ingested]) -> JobsOutcome:
    """Step 5: each submission's job on the runner; each result, with the reference's records on the same
    fixtures, goes to ``run.jobs_dir`` for the trusted grader. One progress line per job as it ends."""
    release = release_dir(run.course)

    def maker(student: str) -> Any:
        def make() -> dict[str, Any]:
            fixtures = make_fixtures(run.grader.reference, fixture_seed(run.secret, ASSIGNMENT, student))
            return run.grader.make_spec(ingested[student].notebook, student, release, NOTEBOOK_FILE, fixtures)
        return make

    outcome = JobsOutcome()
    total, done = len(ingested), 0
    print(f"grading {total} submissions, {runner.where()}", flush=True)
    for student, spec, result in runner.run([(s, maker(s)) for s in ingested]):
        done += 1
        if "infra" not in result:
            result = record_job(run, ingested[student], spec, result)
        if "infra" in result:
            outcome.infra[student] = result["infra"]
        elif not any(result[k]["records"] for k in (("notebook", "verdict") if runs_notebook(spec) else ("verdict",))):
            outcome.silent.append(student)  # no sandbox of this job sent anything back
        print(progress_line(done, total, student, result), flush=True)
    return outcome


def record_job(run: GradingRun, got: ingest.Ingested, spec: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """Write one job's result and the reference's records on its fixtures to ``run.jobs_dir``; return the result
    (with ``"infra"`` set when the reference probe failed: the host's failure costs this student's regrade only).

    Raises:
        OSError: the jobs folder could not be written (a full disk): the run stops, ``main`` says what to fix.
    """
    try:
        reference = reference_probe(run.grader.reference, spec["fixtures"])
        (run.jobs_dir / f"{got.student}{REFERENCE_SUFFIX}").write_text(json.dumps(reference))
        if not runs_notebook(spec):
            result["notebook"] = submitted_run(got.outputs or [])
        result.update(ingest_notes=got.notes, graded_at=run.graded_at, run_id=run.run_id, answers=got.answers)
        (run.jobs_dir / f"{got.student}.result.json").write_text(json.dumps(result))
    except OSError:
        raise
    except Exception as err:  # noqa: BLE001
        return {"infra": shown(f"the reference probe failed: {type(err).__name__}: {err}", 300)}
    return result


def progress_line(done: int, total: int, student: str, result: dict[str, Any]) -> str:
    """``[ 3/40] alice    12.3 s  (why a run ended early)``: how one job ran (its grade is decided later, once)."""
    runs = [result.get(k, {}) for k in ("notebook", "verdict")]
    seconds = max((r.get("seconds", 0.0) for r in runs), default=0.0)
    ended = [r.get("reason") for r in runs if r.get("reason")] + ([result["infra"]] if "infra" in result else [])
    return (f"[{done:>{len(str(total))}}/{total}] {table_cell(student, 40):<30} {seconds:6.1f} s"
            + (f"  ({shown('; '.join(ended), 200)})" if ended else ""))


def apply_grades(run: GradingRun, applied: dict[str, ingest.Ingested], no_sandbox: bool,
                 quiet: bool) -> tuple[int, str]:
    """Step 6: ``nbgrader autograde`` on the ingested copies of ``applied``; the trusted grader decides each part
    from the jobs' results and nbgrader records the scores. Returns nbgrader's exit status and log."""
    for got in applied.values():
        ingest.write(got, run.staging, ASSIGNMENT, NOTEBOOK)
    if not applied:
        return 0, ""
    options = ["autograde", ASSIGNMENT, "--force", f"--CourseDirectory.submitted_directory={ingest.INGESTED_DIR}",
               f"--SandboxedGrading.jobs_dir={run.jobs_dir}"] + (["--SandboxedGrading.sandbox=False"]
                                                                 if no_sandbox else [])
    return run_nbgrader(options, run.course, show="on failure" if quiet else "all",
                        timeout_s=APPLY_SECONDS[0] + APPLY_SECONDS[1] * len(applied))


def note_outcomes(notes: dict[str, list[str]], students: list[str], graded: set[str], reports: dict[str, dict],
                  changed: dict[str, list[str]], failures: dict[str, str],
                  scores: dict[str, dict[str, float | None]]) -> None:
    """Step 7's notes, in place: a student graded in this run gets their report's notes (and any hand-graded
    answer that changed); any other keeps the ingest's notes, plus the grader's failure and a mark on a score
    kept from an earlier run."""
    for student in students:
        row = notes[student]
        if student in graded:
            row[:] = [str(n) for n in reports[student].get("notes", [])]
            if not reports[student].get("sandboxed", True):
                row.append("not sandboxed")
            if changed.get(student):
                row.append(f"answer changed since hand-graded, grade it again: {', '.join(changed[student])}")
            continue
        why = failures.get(student)
        if why:
            row.append(f"grader failure: {why}")
        if student in scores:
            row.append(f"NOT REGRADED in this run: the score shown is from {graded_at(reports.get(student))}")


def run_problems(outcome: JobsOutcome, failed_apply: dict[str, str], ingested: int, apply_status: int) -> list[str]:
    """What went wrong on the grader's side in this run (each one makes the exit status 1)."""
    problems = []
    if outcome.infra or failed_apply:
        problems.append(f"the grader failed for {len(outcome.infra) + len(failed_apply)} submission(s): "
                        f"{', '.join(table_cell(s, 40) for s in [*outcome.infra, *failed_apply])} (their previous "
                        "grade, if any, is kept and marked; fix the cause and run this again)")
    if ingested and len(outcome.silent) == ingested:
        problems.append("no sandbox sent anything back for any submission: the grading set-up is broken")
    if apply_status != 0 and not failed_apply:
        problems.append(f"nbgrader autograde exited with status {apply_status} (see its log above)")
    return problems


def nbgrader_error(log: str, student: str) -> str:
    """What nbgrader's log says went wrong for ``student`` (the last line of its traceback), or a pointer."""
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if "There was an error processing assignment" in line and f"/{student}/{ASSIGNMENT}" in line:
            tail = [t for t in lines[i + 1:i + 80] if t.strip() and not t.startswith(" ")]
            for t in tail:
                if "Error" in t or "Exception" in t:
                    return shown(f"nbgrader: {t.strip()}", 300)
    return "nbgrader did not record a grade (see its log)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Autograde every submission in sandboxes; print a table of scores.")
    parser.add_argument("--course", type=Path, default=COURSE_DIR, help="the nbgrader course folder")
    parser.add_argument("--quiet", action="store_true", help="hide nbgrader's own log")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run submissions without bubblewrap (no isolation: only for code you trust)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="submissions graded at once on this machine (default: its cores; 1: one after the other)")
    parser.add_argument("--scheduler", default=None,
                        help="address of a dask.distributed scheduler (tcp://HOST:8786) whose workers run the jobs")
    parser.add_argument("--student", action="append", metavar="NAME",
                        help="grade only this folder of submitted/ (repeatable; default: every one)")
    parser.add_argument("--reuse-preflight", action="store_true",
                        help="keep the release and skip the preflight when they were made and passed before with "
                             "the same master and grader (autograder/preflight_cache.py; the pre-grading service "
                             "uses it)")
    parser.add_argument("--min-free-mb", type=float, default=MIN_FREE_BYTES / 1024**2,
                        help="refuse to start with less free space on the course's disk (default: %(default)g MB)")
    args = parser.parse_args(argv)
    course = args.course.resolve()
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    if not is_course(course):
        print(f"{course} is not an nbgrader course directory (no nbgrader_config.py).", file=sys.stderr)
        return 2
    if not args.no_sandbox and bwrap_path() is None:
        print(BWRAP_MISSING, file=sys.stderr)
        return 2
    try:
        with course_lock(course):
            try:
                return grade_class(args, course)
            finally:
                shutil.rmtree(course / JOBS_DIR, ignore_errors=True)
                shutil.rmtree(course / ingest.INGESTED_DIR, ignore_errors=True)
    except CourseBusy as err:
        print(str(err), file=sys.stderr)
        return 3
    except (RuntimeError, LimitsError) as err:
        print(f"Refusing to grade: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        where = err.filename or course
        print(f"Grading stopped: could not write {where}: {err.strerror or err}. Free disk space or make the course "
              f"folder writable, then run this again. Students graded before this point have their new grade, "
              f"every other student their previous one (nothing is half-written).", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
