"""Grading time: where one submission's CPU-seconds go, and a class graded beside nbgrader's own pipeline.

    .venv/bin/python -m benchmarks.bench_grading                      # everything; rewrites GRADING.md
    .venv/bin/python -m benchmarks.bench_grading --baseline /tmp/old  # the profile also for an older checkout
    .venv/bin/python -m benchmarks.bench_grading --quick              # 4 submissions, 1 repeat; prints only
    .venv/bin/python -m benchmarks.bench_grading --only-hostile       # rewrites only GRADING.md's hostile section
    .venv/bin/python -m benchmarks.bench_grading --only-profile --baseline /tmp/old  # only the per-step section
    .venv/bin/python -m benchmarks.bench_grading --only-target-class  # grades a class of 300; only its section
    .venv/bin/python -m benchmarks.bench_grading --only-warm          # the class warm, then fresh; only its section
    .venv/bin/python -m benchmarks.bench_grading --only-submitted     # submitted outputs beside nbgrader's own
    .venv/bin/python -m benchmarks.bench_grading --only-target-class --outputs submitted  # 300, submitted outputs

Three measurements, in one run, so that their figures compare like with like:

1. **Where one submission's CPU-seconds go** (:mod:`benchmarks.grading_profile`): the test catalog's
   ``ok_reference`` graded one step at a time (fixtures, notebook run, verdict run, reference probe, nbgrader's
   apply), median of ``--repeats``; with ``--baseline DIR`` the same steps with the code of the checkout ``DIR``
   (a worktree of an older commit), interleaved, so that before and after are measured side by side.
2. **A class** of ``--class-size`` submissions (the test catalog's correct variants, mistakes and traps, one
   hang, repeated under new names), graded twice: ``python -m autograder.grade --jobs 2`` (the whole command:
   generate_assignment, ingest, preflight, jobs, apply, table), and nbgrader's own pipeline
   (``generate_assignment`` then one ``nbgrader autograde ddpg`` for all, with nbgrader's ``Execute``: the
   students' kernels, no sandbox, no verdict run). Wall-clock and CPU-seconds of each; the trusted run's phases.
   A class of 300 is **extrapolated** from it (the file says so), and **measured** with
   ``--only-target-class``: one ``python -m autograder.grade --jobs 2`` on 300 such submissions (about half an
   hour here), its section rewritten alone. ``--only-warm`` grades the class twice more, one command after the
   other: with warm verdict runs (the default) and with ``c.SandboxedGrading.warm = False``, for their ratio.
   ``--only-submitted`` grades the class with ``c.SandboxedGrading.notebook_outputs = "submitted"`` (no notebook
   run; each submission holds a whole run's saved outputs), then by nbgrader's own pipeline, for their ratio;
   ``--only-target-class --outputs submitted`` grades the class of 300 that way (its own section).
3. **The hostile catalog** (tests/hostile_catalog.py: honest students and every attack): one
   ``python -m autograder.grade`` with the short limits of tests/test_hostile.py, and one with the course's own
   limits (nbgrader_config.py), as an instructor would meet it.

CPU-seconds are counted in a cgroup of the command's own (:class:`benchmarks.grading_profile.CpuMeter`):
every process it starts, sandboxes included, and nothing else of a shared machine. The load average is
written beside every measurement: wall-clock figures under load are not reliable, CPU-seconds much more so.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from autograder import build_notebooks
from autograder.trusted import RERUN, SUBMITTED, SandboxedGrading
from benchmarks.grading_profile import CpuMeter
from tests import grading_catalog as gc

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PROFILED = "ok_reference"
STUDENT = build_notebooks.STUDENT_DIR / f"{build_notebooks.NOTEBOOK}.ipynb"  # what the catalogs edit
MASTER = build_notebooks.SOURCE_DIR / f"{build_notebooks.NOTEBOOK}.ipynb"  # where the graded cells come from
SOLVED = REPO / "solutions" / f"{build_notebooks.NOTEBOOK}_solution.ipynb"
"""The master notebook run whole, outputs saved: what a student's submission holds after a whole run."""
TARGET_CLASS, TARGET_SECONDS, TARGET_CPU = 300, 600.0, 4.0
"""The target (issue 18): a class of 300 graded in at most 10 minutes on 2 cores, about 4 CPU-s a submission."""
NBGRADER_DEFAULT = '''
# benchmark only: nbgrader's own autograde pipeline (the student's kernel decides its test cells)
c.Autograde.autograde_preprocessors = [
    "nbgrader.preprocessors.Execute", "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor", "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades", "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata"]
'''


def env() -> dict[str, str]:
    from autograder.nbgrader_cli import nbgrader_env

    return nbgrader_env()


def load() -> str:
    """The load average now, as GRADING.md writes it beside a measurement."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


def class_of(n: int) -> list[gc.Variant]:
    """``n`` submissions: the catalog (correct ones, mistakes, traps, one hang), repeated under new names."""
    out, i = [], 0
    while len(out) < n:
        for v in gc.CATALOG:
            if len(out) == n:
                break
            if i and v.name == "bad_act_hangs":
                continue  # one hang in the class
            w = copy.copy(v)
            w.name = v.name if i == 0 else f"{v.name}_{i}"
            out.append(w)
        i += 1
    return out


# ------------------------------------------------------------------------------ 1. one submission, by step
def profile_once(code: Path) -> dict[str, Any]:
    """:mod:`benchmarks.grading_profile` on :data:`PROFILED` with the code of the checkout ``code``."""
    proc = subprocess.run([sys.executable, str(HERE / "grading_profile.py"), PROFILED], cwd=code,
                          env={**env(), "PYTHONPATH": str(code)}, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"the profile with {code} failed:\n{proc.stderr[-3000:]}")
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    if got["apply_status"] != 0 or any(got["ended"].values()):
        raise RuntimeError(f"the profile with {code} did not grade {PROFILED} cleanly: {got}")
    return got


def profiles(repeats: int, baseline: Path | None) -> dict[str, Any]:
    """Each step's median wall-clock and CPU-seconds over ``repeats`` runs, for this checkout and, interleaved,
    for ``baseline``."""
    codes = {"now": REPO, **({"baseline": baseline} if baseline else {})}
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in codes}
    for _ in range(repeats):
        for key, code in codes.items():
            runs[key].append(profile_once(code))
            print(f"profile ({key}): {runs[key][-1]['steps']}", flush=True)
    out: dict[str, Any] = {"load": load(), "meter": runs["now"][0]["meter"], "repeats": repeats}
    for key, got in runs.items():
        out[key] = {step: {m: statistics.median(r["steps"][step][m] for r in got) for m in ("wall", "cpu")}
                    for step in got[0]["steps"]}
    return out


def git_commit(code: Path) -> str:
    proc = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=code, capture_output=True, text=True)
    return proc.stdout.strip() or "?"


# --------------------------------------------------------------------------------------------- 2. a class
def run_measured(cmd: list[str], cwd: Path, label: str, n: int | None = None,
                 run_env: dict[str, str] | None = None) -> dict[str, float]:
    """Run ``cmd`` in a :class:`CpuMeter` of its own. Returns its wall-clock and CPU-seconds and, for
    ``python -m autograder.grade`` on ``n`` submissions, when (wall, CPU) its jobs phase began (the line
    ``grading N submissions``) and ended (the progress line ``[N/N]``) and its apply ended (``graded N``)."""
    meter = CpuMeter(label)
    out: dict[str, float] = {}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=run_env or env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, preexec_fn=meter.join)
    tail: deque[str] = deque(maxlen=80)
    assert proc.stdout is not None
    marks = {"grading ": "jobs_start", f"[{n}/{n}]": "jobs_end", "graded ": "apply_end"}
    for line in proc.stdout:
        for prefix, key in marks.items():
            if line.startswith(prefix) and key not in out:
                out[key], out[key + "_cpu"] = time.perf_counter() - start, meter.seconds()
        tail.append(line)
    proc.wait()
    out["seconds"], out["cpu"] = time.perf_counter() - start, meter.seconds()
    out["meter"] = meter.kind  # type: ignore[assignment]
    meter.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{label} failed ({proc.returncode}):\n" + "".join(tail))
    print(f"{label}: {out['seconds']:.0f} s, {out['cpu']:.0f} CPU-s (load {load()})", flush=True)
    return out


def with_saved_outputs(course: Path) -> None:
    """Give every submission the outputs of a whole run of the notebook, as a student who ran it saves them: the
    solution notebook's (``solutions/``: figures, videos, printed lines), cell by cell where the cells match."""
    solved = json.loads(SOLVED.read_text())["cells"]
    for path in sorted((course / "submitted").glob("*/ddpg/*.ipynb")):
        nb = json.loads(path.read_text())
        for cell, done in zip(nb["cells"], solved):
            if cell["cell_type"] == done["cell_type"] == "code":
                cell["outputs"], cell["execution_count"] = done["outputs"], done["execution_count"]
        path.write_text(json.dumps(nb))


def trusted_class(tmp: Path, variants: list[gc.Variant], jobs: int, warm: bool = True,
                  outputs: str = RERUN) -> dict[str, float]:
    """``python -m autograder.grade --jobs JOBS`` on a fresh copy of the course with ``variants``; ``warm=False``:
    with ``c.SandboxedGrading.warm = False`` (a fresh sandbox per verdict run); ``outputs="submitted"``: with
    ``c.SandboxedGrading.notebook_outputs = "submitted"``, each submission holding a whole run's saved outputs
    (:func:`with_saved_outputs`)."""
    course = build_notebooks.copy_course(tmp / f"trusted-{'warm' if warm else 'fresh'}-{outputs}")
    with open(course / "nbgrader_config.py", "a") as f:
        f.write(f"\n# benchmarks/bench_grading.py\nc.SandboxedGrading.warm = {warm}\n"
                f"c.SandboxedGrading.notebook_outputs = {outputs!r}\n")
    gc.write_submissions(course, STUDENT, MASTER, variants)
    if outputs == SUBMITTED:
        with_saved_outputs(course)
    return run_measured([sys.executable, "-m", "autograder.grade", "--course", str(course), "--quiet", "--jobs",
                         str(jobs)], REPO, "trusted", n=len(variants))


def nbgrader_class(tmp: Path, variants: list[gc.Variant], saved_outputs: bool = False) -> dict[str, float]:
    """nbgrader's own pipeline on the same submissions: ``generate_assignment``, then one ``nbgrader autograde
    ddpg`` (every student, one after the other, each in its own kernel with ``Execute``); ``saved_outputs``: each
    submission holds a whole run's outputs (:func:`with_saved_outputs`; nbgrader clears them and runs again)."""
    course = build_notebooks.copy_course(tmp / f"nbgrader{'-saved' if saved_outputs else ''}")
    with open(course / "nbgrader_config.py", "a") as f:
        f.write(NBGRADER_DEFAULT)
    gc.write_submissions(course, STUDENT, MASTER, variants)
    if saved_outputs:
        with_saved_outputs(course)
    script = ("import subprocess, sys\n"
              "for args in (['generate_assignment', 'ddpg', '--force'], ['autograde', 'ddpg', '--force']):\n"
              "    status = subprocess.run([sys.executable, '-m', 'nbgrader', *args]).returncode\n"
              "    print('nbgrader', args[0], 'exit status', status)\n")
    return run_measured([sys.executable, "-c", script], course, "nbgrader")


# ----------------------------------------------------------------------------------------------- GRADING.md
STEP_NOTES = {
    "generate_assignment (once per class)": "nbgrader's release; once per class, not per submission",
    "fixtures (host)": "the student's fixtures, from the course secret",
    "notebook run (sandboxed)": "runner + kernel: the submission cell by cell, for the outputs it shows",
    "verdict run (sandboxed)": "the cells above the checks, then the probe: the values the grade is decided on",
    "reference probe (host)": "the reference agent on the same fixtures",
    "apply: nbgrader autograde, this student (process start included)":
        "the verdicts written, the gradebook updated; a class pays the process start (about 4 s) once",
}


def profile_section(prof: dict[str, Any], baseline: Path | None) -> list[str]:
    """GRADING.md's first section: one submission's CPU-seconds by step, before and after."""
    has_base = "baseline" in prof
    head = "| step | CPU-s now | wall s now |" + (" CPU-s before | wall s before |" if has_base else "") + " what |"
    lines = [
        "## Where one submission's CPU-seconds go",
        "",
        f"`benchmarks/grading_profile.py` grades the catalog's `{PROFILED}` one step at a time, each step alone "
        f"(median of {prof['repeats']}; CPU counted by {prof['meter']}, sandboxes included; load average at the "
        f"end {prof['load']}). *now*: this checkout ({git_commit(REPO)})"
        + (f"; *before*: the checkout {baseline} ({git_commit(baseline)}), measured interleaved with it."
           if has_base and baseline else "."),
        "",
        head,
        "|" + " --- |" * (head.count("|") - 1),
    ]
    per_sub = {"now": 0.0, "baseline": 0.0}
    for step, now in prof["now"].items():
        row = f"| {step} | {now['cpu']:.2f} | {now['wall']:.2f} |"
        if has_base:
            before = prof["baseline"].get(step, {"cpu": float("nan"), "wall": float("nan")})
            row += f" {before['cpu']:.2f} | {before['wall']:.2f} |"
        lines.append(row + f" {STEP_NOTES.get(step, '')} |")
        if "once per class" not in step and not step.startswith("apply"):
            per_sub["now"] += now["cpu"]
            if has_base:
                per_sub["baseline"] += prof["baseline"][step]["cpu"]
    lines += [
        "",
        f"The job and the reference probe together: **{per_sub['now']:.1f} CPU-s** per submission now"
        + (f", {per_sub['baseline']:.1f} before." if has_base else ".")
        + " A class adds nbgrader's apply per submission (its share is measured in the class below, where one "
        "process records every student).",
    ]
    return lines


def class_section(trusted: dict[str, Any], plain: dict[str, Any], variants: list[gc.Variant], jobs: int) -> list[str]:
    """GRADING.md's class section: the trusted pipeline and nbgrader's own, measured in the same run, and the
    class of 300 extrapolated from it."""
    size = len(variants)
    hangs = sum(v.name == "bad_act_hangs" for v in variants)
    fixed_cpu = trusted["jobs_start_cpu"] + (trusted["cpu"] - trusted["apply_end_cpu"])
    fixed_wall = trusted["jobs_start"] + (trusted["seconds"] - trusted["apply_end"])
    jobs_cpu = trusted["jobs_end_cpu"] - trusted["jobs_start_cpu"]
    apply_cpu = trusted["apply_end_cpu"] - trusted["jobs_end_cpu"]
    apply_wall = trusted["apply_end"] - trusted["jobs_end"]
    marginal = (jobs_cpu + apply_cpu) / size
    # the estimate: fixed costs once, the jobs phase shared by the cores, the apply on one core after it
    cores = os.cpu_count() or 1
    est = fixed_wall + TARGET_CLASS * jobs_cpu / size / min(cores, jobs) + TARGET_CLASS * apply_wall / size
    lines = [
        f"## A class of {size}, beside nbgrader's own pipeline",
        "",
        f"The same {size} submissions (the test catalog's correct variants, mistakes and traps, "
        f"{'one hang' if hangs else 'no hang'}, repeated under new names), graded by each pipeline in turn, "
        "the whole command each time. CPU counted by "
        f"{trusted['meter']}, every process of the command included (sandboxes, kernels).",
        "",
        "| pipeline | wall-clock [s] | CPU [s] | CPU per submission [s] | load average at the end |",
        "| --- | --- | --- | --- | --- |",
        f"| trusted: `python -m autograder.grade --jobs {jobs}` | {trusted['seconds']:.0f} | {trusted['cpu']:.0f} | "
        f"{trusted['cpu'] / size:.2f} | {trusted['load']} |",
        f"| nbgrader's own: `generate_assignment` + `nbgrader autograde` with `Execute` | {plain['seconds']:.0f} | "
        f"{plain['cpu']:.0f} | {plain['cpu'] / size:.2f} | {plain['load']} |",
        "",
        "nbgrader's own pipeline runs each student's notebook once in a kernel that decides its own test cells "
        "(no sandbox, no verdict run, no reference): it is the floor the trusted pipeline is measured against, "
        "not a way to grade.",
        "",
        "The trusted run's phases (measured):",
        "",
        "| phase | wall-clock [s] | CPU [s] |",
        "| --- | --- | --- |",
        f"| once per class: generate_assignment, ingest, preflight, the table | {fixed_wall:.0f} | {fixed_cpu:.0f} |",
        f"| jobs: {size} submissions, {jobs} at a time, the reference probes meanwhile | "
        f"{trusted['jobs_end'] - trusted['jobs_start']:.0f} | {jobs_cpu:.0f} |",
        f"| apply: one `nbgrader autograde` for the class | {apply_wall:.0f} | {apply_cpu:.0f} |",
        "",
        f"Per submission, once the class's fixed costs are paid: **{marginal:.2f} CPU-s** (jobs {jobs_cpu / size:.2f} "
        f"+ apply {apply_cpu / size:.2f}); target about {TARGET_CPU:g}.",
        "",
        f"### A class of {TARGET_CLASS}: an estimate, not a measurement",
        "",
        f"Extrapolated from the class above: the fixed costs once ({fixed_wall:.0f} s), the jobs phase's "
        f"CPU-seconds shared by {min(cores, jobs)} cores ({TARGET_CLASS} x {jobs_cpu / size:.2f} / "
        f"{min(cores, jobs)}), then the apply on one core ({TARGET_CLASS} x {apply_wall / size:.2f} s): "
        f"**about {est:.0f} s ({est / 60:.1f} min)** for {TARGET_CLASS} submissions on this {cores}-core machine "
        f"(target: at most {TARGET_SECONDS / 60:.0f} min, "
        f"{'met' if est <= TARGET_SECONDS else 'not met'} by this estimate). The estimate assumes the class's "
        f"mix ({hangs} hang in {size}: a hang costs a worker its whole-notebook limit, in CPU too, since an "
        "endless loop keeps its core busy) and an idle machine.",
    ]
    return lines


def target_heading(outputs: str) -> str:
    """GRADING.md's heading of the class of :data:`TARGET_CLASS` graded with ``notebook_outputs = outputs``."""
    return (f"## A class of {TARGET_CLASS}, measured" if outputs == RERUN
            else f"## A class of {TARGET_CLASS} with the submitted outputs, measured")


def target_class_section(measured: dict[str, Any], variants: list[gc.Variant], jobs: int,
                         outputs: str = RERUN) -> list[str]:
    """GRADING.md's section of the class of :data:`TARGET_CLASS`, graded for real (``--only-target-class``;
    ``measured["commit"]``: the code it ran, read when it started; ``outputs``: the course's
    ``c.SandboxedGrading.notebook_outputs``)."""
    size = len(variants)
    hangs = sum(v.name == "bad_act_hangs" for v in variants)
    jobs_cpu = measured["jobs_end_cpu"] - measured["jobs_start_cpu"]
    met = measured["seconds"] <= TARGET_SECONDS
    how = ("each notebook run again in a sandbox for its outputs (`c.SandboxedGrading.notebook_outputs = "
           "\"rerun\"`, the default)" if outputs == RERUN else
           "`c.SandboxedGrading.notebook_outputs = \"submitted\"`: no notebook run, each submission's saved "
           "outputs (a whole run's: the solution notebook's figures, videos and lines, about 0.8 MB) sanitized "
           "into the autograded notebook")
    return [
        target_heading(outputs),
        "",
        f"Measured alone (`--only-target-class --outputs {outputs}`), "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, at commit "
        f"{measured['commit']}; load average at the start {measured['load_start']}, at the end {measured['load']}. "
        f"{size} submissions (the test catalog's "
        f"correct variants, mistakes and traps, {hangs} hang, repeated under new names), one `python -m "
        f"autograder.grade --jobs {jobs}`, the whole command, with warm verdict runs and {how}. CPU counted by "
        f"{measured['meter']}.",
        "",
        "| what | wall-clock [s] | CPU [s] | CPU per submission [s] |",
        "| --- | --- | --- | --- |",
        f"| the whole command | {measured['seconds']:.0f} | {measured['cpu']:.0f} | "
        f"{measured['cpu'] / size:.2f} |",
        f"| its jobs phase ({size} submissions, {jobs} at a time) | "
        f"{measured['jobs_end'] - measured['jobs_start']:.0f} | {jobs_cpu:.0f} | {jobs_cpu / size:.2f} |",
        f"| its apply (one `nbgrader autograde`) | {measured['apply_end'] - measured['jobs_end']:.0f} | "
        f"{measured['apply_end_cpu'] - measured['jobs_end_cpu']:.0f} | |",
        "",
        f"Target (issue 18): a class of {TARGET_CLASS} in at most {TARGET_SECONDS / 60:.0f} min, about "
        f"{TARGET_CPU:g} CPU-s a submission: **{'met' if met else 'not met'}** "
        f"({measured['seconds'] / 60:.1f} min, {measured['seconds'] / TARGET_SECONDS:.1f} times the target).",
    ]


# ------------------------------------------------------------------------------------ 3. the hostile catalog
def hostile(tmp: Path, label: str, limits: dict[str, int] | None) -> tuple[int, dict[str, Any]]:
    """Grade the hostile catalog once (``--jobs`` left at its default, the number of cores); with ``limits`` added
    to the course's nbgrader_config.py. Returns the number of submissions and :func:`run_measured`'s figures."""
    from tests import hostile_catalog as hc
    from tests.test_hostile import Listener

    listener = Listener()
    course = build_notebooks.copy_course(tmp / label)
    if limits:
        with open(course / "nbgrader_config.py", "a") as f:
            f.writelines(f"c.SandboxedGrading.{k} = {v}\n" for k, v in limits.items())
    variants = hc.catalog(listener.port)
    hc.write_submissions(course, STUDENT, MASTER, variants)
    try:
        got = run_measured([sys.executable, "-m", "autograder.grade", "--course", str(course), "--quiet"], REPO,
                           f"hostile ({label})", n=len(variants))
    finally:
        listener.close()
    got["load"] = load()  # type: ignore[assignment]
    return len(variants), got


def hostile_section(tmp: Path) -> list[str]:
    """GRADING.md's last section: the hostile catalog's total time, with the test's limits and the course's."""
    from tests.test_hostile import BOUND_SECONDS, CELL_TIMEOUT, WALL_SECONDS

    short = {"wall_seconds": WALL_SECONDS, "cell_timeout": CELL_TIMEOUT}
    n, fast = hostile(tmp, "hostile-short", short)
    _, slow = hostile(tmp, "hostile-default", None)
    defaults = SandboxedGrading()
    return [
        "## The hostile catalog",
        "",
        f"`python -m autograder.grade` (default `--jobs`, here {os.cpu_count()}) on the {n} submissions of "
        "`tests/hostile_catalog.py`: honest students before and after every attack (hooks, monkeypatches, reading "
        "and writing the course, killing the parent, hangs, floods, fork bombs, a 3 GiB allocation, detached "
        "processes, a listener on 127.0.0.1, scripts in outputs, double optimizer steps).",
        "",
        "| limits | whole notebook [s] | per cell [s] | total [s] | per submission [s] | CPU [s] | load at the end |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        f"| tests/test_hostile.py's (bound there: {BOUND_SECONDS} s) | {WALL_SECONDS} | {CELL_TIMEOUT} | "
        f"{fast['seconds']:.0f} | {fast['seconds'] / n:.1f} | {fast['cpu']:.0f} | {fast['load']} |",
        f"| the course's `nbgrader_config.py` | {defaults.wall_seconds:.0f} | {defaults.cell_timeout:.0f} | "
        f"{slow['seconds']:.0f} | {slow['seconds'] / n:.1f} | {slow['cpu']:.0f} | {slow['load']} |",
        "",
        "The attacks that never end by themselves run into the whole-notebook limit, so the total follows it.",
    ]


WARM_HEADING = "## Warm verdict runs, beside fresh ones"
SUBMITTED_HEADING = "## The submitted outputs, beside nbgrader's own pipeline"


def submitted_section(fast: dict[str, Any], plain: dict[str, Any], variants: list[gc.Variant], jobs: int,
                      commit: str, started: str) -> list[str]:
    """GRADING.md's section on ``notebook_outputs = "submitted"``: the class graded that way and by nbgrader's own
    pipeline, one command after the other (``--only-submitted``)."""
    n = len(variants)
    rows = [f"| {label} | {m['seconds']:.0f} | {m['cpu']:.0f} | {m['cpu'] / n:.2f} | {m['load']} |"
            for label, m in ((f"trusted, submitted outputs: `python -m autograder.grade --jobs {jobs}` with "
                              "`c.SandboxedGrading.notebook_outputs = \"submitted\"`", fast),
                             ("nbgrader's own: `generate_assignment`, then `nbgrader autograde` with `Execute`",
                              plain))]
    return [
        SUBMITTED_HEADING,
        "",
        f"Measured alone (`--only-submitted`), {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, with the code of "
        f"commit {commit}; load average at the start {started}. {n} submissions (the test catalog's correct "
        "variants, mistakes and traps, one hang, repeated under new names), each holding a whole run's saved "
        "outputs (the solution notebook's), graded by the whole command, one after the other: the trusted grader "
        "with the submitted outputs (no notebook run: warm verdict runs decide, the saved outputs are sanitized "
        "into the autograded notebook), and nbgrader's own pipeline (each notebook run again in a kernel, no "
        "sandbox, no verdict run). CPU counted by cgroup v1 cpuacct, every process of the command included.",
        "",
        "| pipeline | wall-clock [s] | CPU [s] | CPU per submission [s] | load average at the end |",
        "| --- | --- | --- | --- | --- |",
        *rows,
        "",
        f"nbgrader's own pipeline takes **{plain['cpu'] / fast['cpu']:.2f} times** the CPU and "
        f"**{plain['seconds'] / fast['seconds']:.2f} times** the wall-clock time of the trusted grader with the "
        "submitted outputs.",
    ]


def warm_section(warm: dict[str, float], fresh: dict[str, float], variants: list[gc.Variant], jobs: int,
                 commit: str, started: str) -> list[str]:
    """GRADING.md's section on warm verdict runs: the same class graded warm and fresh in one command."""
    n = len(variants)
    rows = []
    for label, m in (("warm (the default): `python -m autograder.grade --jobs %d`" % jobs, warm),
                     ("fresh: the same, with `c.SandboxedGrading.warm = False`", fresh)):
        rows.append(f"| {label} | {m['seconds']:.0f} | {m['cpu']:.0f} | {m['cpu'] / n:.2f} | {m['load']} |")
    saved = (fresh["cpu"] - warm["cpu"]) / n
    per_sub = warm["cpu"] / n
    estimate = per_sub * TARGET_CLASS / (os.cpu_count() or 1)
    return [
        WARM_HEADING,
        "",
        f"Measured alone (`--only-warm`), {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, with the code of commit "
        f"{commit}; load average at the start {started}. {n} submissions (the test catalog's correct variants, "
        "mistakes and traps, one hang, repeated under new names), graded twice by the whole command, one after "
        "the other: with each verdict run forked in a warm sandbox (`autograder/warm.py`: PyTorch imported once "
        "per sandbox), and with a fresh sandbox per verdict run. CPU counted by cgroup v1 cpuacct, every process of "
        "the command included.",
        "",
        "| pipeline | wall-clock [s] | CPU [s] | CPU per submission [s] | load average at the end |",
        "| --- | --- | --- | --- | --- |",
        *rows,
        "",
        f"Warm verdict runs save **{saved:.2f} CPU-s per submission** here; the fresh run takes "
        f"**{fresh['cpu'] / warm['cpu']:.2f} times** the CPU and **{fresh['seconds'] / warm['seconds']:.2f} "
        "times** the wall-clock time of the warm one.",
        "",
        f"A class of {TARGET_CLASS} at the warm run's {per_sub:.2f} CPU-s per submission on {os.cpu_count()} cores "
        f"would take about {estimate:.0f} s ({estimate / 60:.1f} min): an estimate from this class, not a "
        f"measurement (the section above measured {TARGET_CLASS} with fresh verdict runs). Target: 10 min, "
        f"**{'met' if estimate <= 600 else 'not met'}** by this estimate.",
    ]


def rewrite_section(heading: str, section: list[str]) -> None:
    """Replace GRADING.md's section that starts with ``heading`` (up to the next ``## `` heading) by
    ``section``; the rest stays as measured."""
    path = HERE / "GRADING.md"
    text = path.read_text()
    start = text.find(heading)
    if start < 0:  # a section this file has not had yet: before the hostile catalog's, else at the end
        start = text.find("## The hostile catalog")
        start = len(text) if start < 0 else start
        path.write_text(text[:start].rstrip("\n") + "\n\n" + "\n".join(section) + "\n\n" + text[start:])
        print(f"wrote {path}")
        return
    end = text.find("\n## ", start + len(heading))
    rest = "" if end < 0 else text[end:]
    path.write_text(text[:start] + "\n".join(section) + "\n" + rest)
    print(f"wrote {path}")


def kept_section(heading: str) -> list[str]:
    """GRADING.md's section that starts with ``heading`` as it is (a whole run keeps what it does not measure),
    or none."""
    path = HERE / "GRADING.md"
    text = path.read_text() if path.is_file() else ""
    start = text.find(heading)
    if start < 0:
        return []
    end = text.find("\n## ", start + len(heading))
    return text[start:None if end < 0 else end].rstrip("\n").split("\n")


def hostile_skipped() -> list[str]:
    """GRADING.md's hostile section when this run left it out: no figures rather than another run's."""
    return [
        "## The hostile catalog",
        "",
        "Not measured in this run (`--skip-hostile`); `python -m benchmarks.bench_grading --only-hostile` "
        "measures it and rewrites this section.",
    ]


def title(started_load: str) -> list[str]:
    """GRADING.md's title and the machine it was measured on."""
    busy = max(float(x) for x in started_load.split(" / ")[:1] + load().split(" / ")[:1])
    warn = [
        "",
        "**The machine was not idle** (load average above 2.5 at the start or the end of the run): the "
        "wall-clock figures are slower than on an idle machine; the CPU-seconds are counted per command and "
        "hold.",
    ] if busy > 2.5 else []
    return [
        "# Grading time",
        "",
        f"Measured by `benchmarks/bench_grading.py` on {platform.machine()} with {os.cpu_count()} CPU cores "
        f"(Python {platform.python_version()}), {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; load average "
        f"(1 / 5 / 15 min) at the start {started_load}, at the end {load()}.",
        *warn,
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time trusted grading; rewrite benchmarks/GRADING.md.")
    parser.add_argument("--quick", action="store_true", help="4 submissions, 1 repeat, no hostile catalog; "
                                                             "prints only")
    parser.add_argument("--repeats", type=int, default=3, help="runs of the one-submission profile")
    parser.add_argument("--class-size", type=int, default=30, help="30 or more: the class holds the catalog's hang")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="the trusted run's --jobs")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="a checkout (git worktree) of older code to profile beside this one")
    parser.add_argument("--only-hostile", action="store_true", help="rewrite only GRADING.md's hostile section")
    parser.add_argument("--only-profile", action="store_true",
                        help="rewrite only GRADING.md's per-step section (its own date and load; the class and "
                             "hostile sections stay as measured)")
    parser.add_argument("--only-target-class", action="store_true",
                        help=f"grade a class of {TARGET_CLASS} (no other measurement) and rewrite only its section")
    parser.add_argument("--outputs", choices=(RERUN, SUBMITTED), default=RERUN,
                        help="with --only-target-class: the course's c.SandboxedGrading.notebook_outputs (each "
                             "setting has its own section)")
    parser.add_argument("--only-submitted", action="store_true",
                        help="grade the class (--class-size) with the submitted outputs, then by nbgrader's own "
                             "pipeline, and rewrite only their section")
    parser.add_argument("--only-warm", action="store_true",
                        help="grade the class (--class-size) warm and fresh, one after the other, and rewrite only "
                             "their section")
    parser.add_argument("--skip-hostile", action="store_true",
                        help="leave the hostile catalog out (the file says it was not measured; --only-hostile "
                             "adds it later)")
    args = parser.parse_args(argv)
    started = load()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.only_hostile:
            rewrite_section("## The hostile catalog", hostile_section(tmp))
            return 0
        if args.only_target_class:
            variants = class_of(TARGET_CLASS)
            commit = git_commit(REPO)  # the code that runs: HEAD when it starts
            measured = trusted_class(tmp, variants, args.jobs, outputs=args.outputs)
            measured["commit"] = commit  # type: ignore[assignment]
            measured["load_start"] = started  # type: ignore[assignment]
            measured["load"] = load()  # type: ignore[assignment]
            rewrite_section(target_heading(args.outputs),
                            target_class_section(measured, variants, args.jobs, args.outputs))
            return 0
        if args.only_submitted:
            commit = git_commit(REPO)
            variants = class_of(args.class_size)
            fast = trusted_class(tmp, variants, args.jobs, outputs=SUBMITTED)
            fast["load"] = load()  # type: ignore[assignment]
            plain = nbgrader_class(tmp, variants, saved_outputs=True)
            plain["load"] = load()  # type: ignore[assignment]
            rewrite_section(SUBMITTED_HEADING, submitted_section(fast, plain, variants, args.jobs, commit, started))
            return 0
        if args.only_warm:
            commit = git_commit(REPO)
            variants = class_of(args.class_size)
            warm = trusted_class(tmp, variants, args.jobs, warm=True)
            warm["load"] = load()  # type: ignore[assignment]
            fresh = trusted_class(tmp, variants, args.jobs, warm=False)
            fresh["load"] = load()  # type: ignore[assignment]
            rewrite_section(WARM_HEADING, warm_section(warm, fresh, variants, args.jobs, commit, started))
            return 0
        if args.only_profile:
            prof = profiles(args.repeats, args.baseline)
            section = profile_section(prof, args.baseline)
            section[2:2] = [f"Measured alone (`--only-profile`), {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; "
                            f"load average at the start {started}, at the end {load()}. The sections below are "
                            "from the run the title names.", ""]
            rewrite_section("## Where one submission's CPU-seconds go", section)
            return 0
        size = 4 if args.quick else args.class_size
        prof = profiles(1 if args.quick else args.repeats, args.baseline)
        variants = class_of(size)
        trusted = trusted_class(tmp, variants, args.jobs)
        trusted["load"] = load()  # type: ignore[assignment]
        plain = nbgrader_class(tmp, variants)
        plain["load"] = load()  # type: ignore[assignment]
        lines = [*title(started), "", *profile_section(prof, args.baseline), "",
                 *class_section(trusted, plain, variants, args.jobs)]
        for kept in (target_heading(RERUN), target_heading(SUBMITTED), WARM_HEADING, SUBMITTED_HEADING,
                     "## What 4 CPU-s per submission took"):
            section = kept_section(kept)  # its own, long run (--only-target-class); a section written by hand
            if section:
                lines += ["", *section]
        if args.quick:
            print("\n".join(lines))
            return 0
        lines += ["", *(hostile_skipped() if args.skip_hostile else hostile_section(tmp / "hostile"))]
    (HERE / "GRADING.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {HERE / 'GRADING.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
