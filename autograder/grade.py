"""Autograde every submission of the course in sandboxes and print the scores per student and per part.

    python -m autograder.grade                    # the course in autograder/ (what `make grade` runs)
    python -m autograder.grade --course /tmp/c    # another copy of the course directory
    python -m autograder.grade --no-sandbox       # without bubblewrap: only for code you trust
    python -m autograder.grade --jobs 4           # four submissions at once (default: the machine's cores)
    python -m autograder.grade --scheduler tcp://HOST:8786   # the jobs on a dask.distributed cluster

Steps, with nbgrader's own commands run in the course directory:

1. ``nbgrader generate_assignment ddpg --force`` (registers the assignment and its test cells in
   ``gradebook.db``; the release, whose resources the sandboxes get, is rebuilt from ``source/``);
2. ``nbgrader autograde ddpg --force``: every ``submitted/<student>/ddpg/`` folder, with the trusted-grading
   preprocessor of ``nbgrader_config.py`` (``autograder/trusted.py``): each submission runs in its own
   bubblewrap sandboxes, its parts are decided in this process, nbgrader writes the gradebook;
3. a table of the scores read from ``gradebook.db``, with a note for any submission whose run ended early.

With ``--jobs 1`` step 2 grades the submissions one after the other, each inside nbgrader. With more jobs, or a
dask scheduler, step 2 has three phases, so that only this process ever writes the gradebook (SQLite takes one
writer at a time): ``nbgrader autograde`` in ``prepare`` mode writes one job spec per submission (fast: nothing
runs); the jobs run N at a time (threads here, each starting its own sandboxes, or tasks on dask workers) and
their results come back as JSON; ``nbgrader autograde`` in ``apply`` mode then decides every grade from those
results and writes the gradebook, one submission after the other, as in the serial run.

Without bubblewrap this refuses to grade (the message names the install command) unless ``--no-sandbox`` is
given; the table then says the run was not sandboxed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from autograder.build_notebooks import ASSIGNMENT, NOTEBOOK, REPO, nbgrader_env
from autograder.parts import PARTS
from autograder.sandbox import BWRAP_MISSING, bwrap_path
from autograder.trusted import REFERENCE, REFERENCE_SUFFIX, REPORT_NAME, reference_probe

HERE = Path(__file__).resolve().parent


def grading_env() -> dict[str, str]:
    """nbgrader's environment, with the repository on PYTHONPATH so that nbgrader finds the trusted
    preprocessor (``autograder.trusted``) and the reference agent (``solutions.ddpg_agent``)."""
    env = nbgrader_env()
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


def run_nbgrader(args: list[str], course: Path, quiet: bool = False) -> int:
    """Run ``nbgrader ARGS`` in ``course``; return its exit status.

    With ``quiet`` nbgrader's log is kept back, and its end is printed only if the command fails.
    """
    cmd = [sys.executable, "-m", "nbgrader", *args]
    print("$ nbgrader " + " ".join(args), flush=True)
    if not quiet:
        return subprocess.run(cmd, cwd=course, env=grading_env()).returncode
    proc = subprocess.run(cmd, cwd=course, env=grading_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        print((proc.stdout + proc.stderr)[-4000:], file=sys.stderr)
    return proc.returncode


def submissions(course: Path) -> list[str]:
    """Students with a ``submitted/<student>/ddpg/`` folder, sorted."""
    root = course / "submitted"
    if not root.is_dir():
        return []
    return sorted(p.parent.name for p in root.glob(f"*/{ASSIGNMENT}") if p.is_dir())


def read_scores(course: Path) -> dict[str, dict[str, float | None]]:
    """``{student: {grade_id: score}}`` of every autograded submission in the course's gradebook.

    A student whose ``autograded/`` folder is missing is left out: nbgrader removes it when a submission could
    not be graded, and the gradebook may still hold that student's scores from an earlier run.
    """
    from nbgrader.api import Gradebook, MissingEntry

    scores: dict[str, dict[str, float | None]] = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in submissions(course):
            if not (course / "autograded" / student / ASSIGNMENT / f"{NOTEBOOK}.ipynb").is_file():
                continue
            try:
                nb = gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student)
            except MissingEntry:
                continue
            # an answer nobody has graded yet has neither score (nbgrader's `score` would say 0)
            scores[student] = {grade.name: None if grade.auto_score is None and grade.manual_score is None
                               else grade.score for grade in nb.grades}
    return scores


def read_reports(course: Path) -> dict[str, dict]:
    """The trusted grader's report of each autograded submission (``grading_report.json``)."""
    reports = {}
    for student in submissions(course):
        path = course / "autograded" / student / ASSIGNMENT / REPORT_NAME
        if path.is_file():
            reports[student] = json.loads(path.read_text())
    return reports


def max_points(course: Path) -> dict[str, float]:
    """Maximum score of each graded cell (autograded tests and manually graded answers), from the gradebook."""
    return {name: points for name, (points, _manual) in graded_cells(course).items()}


def graded_cells(course: Path) -> dict[str, tuple[float, bool]]:
    """``{grade_id: (max score, graded by hand?)}`` of every graded cell, from the gradebook. A cell is graded by
    hand when it is an answer cell (markdown, or code that is not a test)."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        nb = gb.find_notebook(NOTEBOOK, ASSIGNMENT)
        answers = {cell.name for cell in nb.solution_cells}  # graded answer cells: a grader scores them
        return {cell.name: (cell.max_score, cell.name in answers) for cell in nb.grade_cells}


def format_table(scores: dict[str, dict[str, float | None]], maxima: dict[str, float], students: list[str],
                 notes: dict[str, str] | None = None, manual: set[str] | None = None) -> str:
    """A Markdown table: one row per student; one column per autograded cell of the gradebook; the autograded
    sum, the manually graded sum (with how many answers still wait for a grader), the total; and a note (why a
    run ended early; whether it was sandboxed)."""
    titles = {p.grade_id: p.title for p in PARTS}
    manual = manual or set()
    auto = [gid for gid in titles if gid in maxima] + [gid for gid in maxima if gid not in titles
                                                        and gid not in manual]
    hand = sorted(gid for gid in maxima if gid in manual)
    auto_max, hand_max = sum(maxima[g] for g in auto), sum(maxima[g] for g in hand)
    head = (["student"] + [f"{titles.get(gid, gid)} (/{maxima[gid]:g})" for gid in auto]
            + ([f"auto (/{auto_max:g})", f"manual (/{hand_max:g})"] if hand else [])
            + [f"total (/{auto_max + hand_max:g})", "notes"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes = notes or {}
    for student in students:
        note = notes.get(student, "")
        if student not in scores:
            lines.append("| " + " | ".join([student] + ["not graded"] * (len(head) - 2) + [note]) + " |")
            continue
        row = scores[student]
        cells = [("?" if row.get(gid) is None else f"{row[gid]:g}") for gid in auto]
        auto_total = sum(row.get(gid) or 0.0 for gid in auto)
        hand_total = sum(row.get(gid) or 0.0 for gid in hand)
        waiting = sum(row.get(gid) is None for gid in hand)
        extra = []
        if hand:
            extra = [f"{auto_total:g}", f"{hand_total:g}" + (f" ({waiting} to grade)" if waiting else "")]
        lines.append("| " + " | ".join([student] + cells + extra + [f"{auto_total + hand_total:g}", note]) + " |")
    return "\n".join(lines)


def notes_of(reports: dict[str, dict]) -> dict[str, str]:
    """One short note per student: why a run ended early, output that was cut, an unsandboxed run."""
    out = {}
    for student, report in reports.items():
        notes = list(report.get("notes", []))
        if not report.get("sandboxed", True):
            notes.append("not sandboxed")
        out[student] = "; ".join(str(n) for n in notes).replace("|", "/")
    return out


def progress_line(done: int, total: int, result: dict[str, Any], reference_records: list[dict[str, Any]]) -> str:
    """One line per finished job: the student, the score the verdict will give, the time, any early end."""
    from autograder.verdict import decide

    verdicts = decide(result["verdict"]["records"], reference_records, run_reason=result["verdict"]["reason"])
    score = sum(v.score for v in verdicts)
    seconds = max(result["notebook"]["seconds"], result["verdict"]["seconds"])
    notes = [r for r in (result["notebook"]["reason"], result["verdict"]["reason"]) if r]
    width = len(str(total))
    return (f"[{done:>{width}}/{total}] {result['student']:<30} {score:>4g}/{sum(p.points for p in PARTS):g}  "
            f"{seconds:6.1f} s" + (f"  ({'; '.join(notes)})" if notes else ""))


def run_jobs(jobs_dir: Path, jobs: int, scheduler: str | None) -> int:
    """Run every ``*.spec.json`` of ``jobs_dir`` (``jobs`` at a time here, or on the dask cluster at
    ``scheduler``); write each ``*.result.json``; print one line per finished job. Returns the number of jobs."""
    from autograder.jobs import no_result, run_job

    specs = {p.name.removesuffix(".spec.json"): json.loads(p.read_text()) for p in sorted(jobs_dir.glob("*.spec.json"))}
    total, done = len(specs), 0
    where = f"the dask cluster at {scheduler}" if scheduler else f"{jobs} at a time"
    print(f"grading {total} submissions, {where}", flush=True)

    def finish(student: str, result: dict[str, Any]) -> None:
        nonlocal done
        done += 1
        (jobs_dir / f"{student}.result.json").write_text(json.dumps(result))
        # the reference's values, probed here while the other jobs run; the apply pass reads them back
        reference = reference_probe(specs[student].get("reference", REFERENCE), specs[student]["fixtures"])
        (jobs_dir / f"{student}{REFERENCE_SUFFIX}").write_text(json.dumps(reference))
        print(progress_line(done, total, result, reference), flush=True)

    if scheduler:
        from distributed import Client
        from distributed import as_completed as dask_completed

        with Client(scheduler, timeout="30s") as client:
            futures = {client.submit(run_job, spec, key=f"grade-{student}-{time.time_ns()}",
                                     pure=False, retries=1): student for student, spec in specs.items()}
            for future in dask_completed(futures):
                student = futures[future]
                try:
                    result = future.result()
                except Exception as err:  # noqa: BLE001 - a lost worker costs this job, not the class
                    result = no_result(student, f"its grading job failed on the cluster: "
                                                f"{type(err).__name__}: {err}"[:300])
                finish(student, result)
        return total
    with ThreadPoolExecutor(max_workers=jobs) as pool:  # each job leases its sandboxes' user ids itself
        futures = {pool.submit(run_job, spec): student for student, spec in specs.items()}
        for future in as_completed(futures):
            finish(futures[future], future.result())
    return total


def autograde_in_parallel(course: Path, jobs: int, scheduler: str | None, no_sandbox: bool, quiet: bool) -> int:
    """Prepare every job with nbgrader, run them in parallel, apply their results with nbgrader; return
    nbgrader's exit status (the worse of the two passes)."""
    jobs_dir = course / ".grading_jobs" / ASSIGNMENT
    shutil.rmtree(jobs_dir, ignore_errors=True)
    jobs_dir.mkdir(parents=True)
    common = ["autograde", ASSIGNMENT, "--force", f"--SandboxedGrading.jobs_dir={jobs_dir}"]
    if no_sandbox:
        common.append("--SandboxedGrading.sandbox=False")
    try:
        status = run_nbgrader(common + ["--SandboxedGrading.mode=prepare"], course, quiet=True)
        if status != 0:
            print("preparing the grading jobs failed (see above).", file=sys.stderr)
        run_jobs(jobs_dir, jobs, scheduler)
        return max(status, run_nbgrader(common + ["--SandboxedGrading.mode=apply"], course, quiet=quiet))
    finally:
        shutil.rmtree(jobs_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Autograde every submission in sandboxes; print a table of scores.")
    parser.add_argument("--course", type=Path, default=HERE, help="the nbgrader course directory")
    parser.add_argument("--quiet", action="store_true", help="hide nbgrader's own log")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run submissions without bubblewrap (no isolation: only for code you trust)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="submissions graded at once on this machine (default: its cores; 1: one after the other)")
    parser.add_argument("--scheduler", default=None,
                        help="address of a dask.distributed scheduler (tcp://HOST:8786) whose workers run the jobs")
    args = parser.parse_args(argv)
    course = args.course.resolve()
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    if not (course / "nbgrader_config.py").is_file():
        print(f"{course} is not an nbgrader course directory (no nbgrader_config.py).", file=sys.stderr)
        return 2
    if not args.no_sandbox and bwrap_path() is None:
        print(BWRAP_MISSING, file=sys.stderr)
        return 2
    students = submissions(course)
    if not students:
        print(f"No submissions to grade: put each student's notebook in "
              f"{course / 'submitted'}/<student>/{ASSIGNMENT}/{NOTEBOOK}.ipynb (or run `nbgrader collect "
              f"{ASSIGNMENT}` when you use nbgrader's exchange), then run this again.")
        return 0
    status = run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], course, quiet=args.quiet)
    if status != 0:
        print("generate_assignment failed: see its log above.", file=sys.stderr)
        return 1
    start = time.perf_counter()
    if args.jobs == 1 and not args.scheduler:
        autograde = ["autograde", ASSIGNMENT, "--force"]
        if args.no_sandbox:
            autograde.append("--SandboxedGrading.sandbox=False")
        autograde_status = run_nbgrader(autograde, course, quiet=args.quiet)
    else:
        autograde_status = autograde_in_parallel(course, args.jobs, args.scheduler, args.no_sandbox, args.quiet)
    print(f"graded {len(students)} submissions in {time.perf_counter() - start:.0f} s")
    scores = read_scores(course)
    print()
    if args.no_sandbox:
        print("NOT SANDBOXED: submissions ran with your rights (--no-sandbox).")
    cells = graded_cells(course)
    print(format_table(scores, {k: v[0] for k, v in cells.items()}, students, notes_of(read_reports(course)),
                       manual={k for k, v in cells.items() if v[1]}))
    failed = [s for s in students if s not in scores]
    if autograde_status != 0 or failed:
        print(f"\nnbgrader autograde exited with status {autograde_status}; not graded: "
              f"{', '.join(failed) or 'none'} (see the log above).", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
