"""Where one submission's grading CPU-seconds go, step by step; and how to count a command's CPU-seconds.

    PYTHONPATH=CODE .venv/bin/python benchmarks/grading_profile.py VARIANT   # prints one JSON line

Run as a script with ``PYTHONPATH`` set to a checkout (this one, or an older commit's worktree), it grades the
test catalog's submission ``VARIANT`` through that checkout's code, one step after the other, and prints each
step's wall-clock and CPU-seconds: ``generate_assignment`` (once per class), the fixtures, the notebook run and
the verdict run (each alone, sandboxed), the reference's probe, and ``nbgrader autograde`` of this one student
(its process start included, which a class pays once). It imports nothing from ``benchmarks`` (an older
checkout's would be another file), so that ``benchmarks/bench_grading.py`` can measure the code before and after
a change in the same run.

CPU-seconds come from a cgroup (:class:`CpuMeter`): every process started inside it counts, the sandboxes'
included (their processes die with their PID namespace, so no ``rusage`` of the grader sees them), and nothing
else on the machine does.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _busy_cpu() -> float:
    """CPU-seconds the whole machine has been busy since boot (``/proc/stat``)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """The CPU-seconds of the processes put in it (:meth:`join`) and of all they start.

    A cgroup of its own: v1's ``cpuacct`` controller, or a child of this process's cgroup v2. Where neither can
    be made (no root), it falls back to the whole machine's busy time, which other users' work inflates:
    :attr:`kind` says which one counted.
    """

    def __init__(self, name: str) -> None:
        self.path: Path | None = None
        self.kind = "the whole machine (/proc/stat)"
        name = f"bench-grading-{name}-{os.getpid()}-{time.monotonic_ns()}"
        places = [(Path("/sys/fs/cgroup/cpuacct") / name, "cgroup v1 cpuacct")]
        try:
            for line in Path("/proc/self/cgroup").read_text().splitlines():
                if line.startswith("0::"):
                    places.append((Path("/sys/fs/cgroup" + line[3:].rstrip("/")) / name, "cgroup v2"))
        except OSError:
            pass
        for path, kind in places:
            try:
                path.mkdir()
            except OSError:
                continue
            self.path, self.kind = path, kind
            break
        self._start = 0.0 if self.path else _busy_cpu()

    def join(self, pid: int = 0) -> None:
        """Put process ``pid`` (0: the calling one) in the group; a ``preexec_fn`` calls it in the child."""
        if self.path is not None:
            (self.path / "cgroup.procs").write_text(str(pid))

    def seconds(self) -> float:
        """CPU-seconds used so far by the group (or the machine, since the meter was made)."""
        if self.path is None:
            return _busy_cpu() - self._start
        if (self.path / "cpuacct.usage").exists():
            return int((self.path / "cpuacct.usage").read_text()) / 1e9
        stat = dict(line.split() for line in (self.path / "cpu.stat").read_text().splitlines())
        return int(stat["usage_usec"]) / 1e6

    def close(self) -> None:
        """Move this process back to the parent group, then remove the group (a process still in it keeps it)."""
        if self.path is not None:
            try:
                (self.path.parent / "cgroup.procs").write_text(str(os.getpid()))
            except OSError:
                pass
            try:
                self.path.rmdir()
            except OSError:
                pass


def profile(variant_name: str) -> dict[str, Any]:
    """Grade the catalog's ``variant_name`` one step at a time with this checkout's code; return each step's
    ``{"wall": s, "cpu": s}``."""
    from autograder import build_notebooks, grade
    from autograder.course_folder import ASSIGNMENT, NOTEBOOK_FILE, release_dir
    from autograder.jobs import Job
    from autograder.nbgrader_cli import run_nbgrader
    from autograder.reference import fixture_seed, make_fixtures
    from tests import grading_catalog as gc

    meter = CpuMeter("profile")
    meter.join()
    steps: dict[str, Any] = {}

    def step(name: str, fn: Any) -> Any:
        wall, cpu = time.perf_counter(), meter.seconds()
        out = fn()
        steps[name] = {"wall": round(time.perf_counter() - wall, 2), "cpu": round(meter.seconds() - cpu, 2)}
        return out

    tmp = Path(tempfile.mkdtemp(prefix="bench-grading-profile-"))
    course = build_notebooks.copy_course(tmp / "course")
    variants = [v for v in gc.CATALOG if v.name == variant_name]
    gc.write_submissions(course, build_notebooks.STUDENT_DIR / f"{build_notebooks.NOTEBOOK}.ipynb",
                         build_notebooks.SOURCE_DIR / f"{build_notebooks.NOTEBOOK}.ipynb", variants)
    step("generate_assignment (once per class)",
         lambda: run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], course, show="nothing"))
    run = grade.start_run(course, no_sandbox=False)
    _, ingested = grade.ingest_all(run, [variant_name])
    got = ingested[variant_name]
    # the host's first torch import and first agent are paid once per class: warm them before measuring
    make_fixtures(run.grader.reference, 0)
    fixtures = step("fixtures (host)", lambda: make_fixtures(run.grader.reference,
                                                            fixture_seed(run.secret, ASSIGNMENT, variant_name)))
    spec = run.grader.make_spec(got.notebook, variant_name, release_dir(course), NOTEBOOK_FILE, fixtures)
    results: dict[str, Any] = {}
    for which in ("notebook", "verdict"):
        def one(which: str = which) -> None:
            # fresh sandboxes, as the baseline's: warm verdict runs are measured on a whole class
            # (bench_grading --only-warm), where the server's start is shared by the runs it serves
            with Job({**spec, "warm": False}) as job:
                getattr(job, f"start_{which}")()
                results[which] = job.wait()[which]
        step(f"{which} run (sandboxed)", one)
    result = {"student": variant_name, **results}
    step("reference probe (host)", lambda: grade.record_job(run, got, spec, result))
    status = step("apply: nbgrader autograde, this student (process start included)",
                  lambda: grade.apply_grades(run, {variant_name: got}, no_sandbox=False, quiet=True)[0])
    meter.close()
    return {"variant": variant_name, "steps": steps, "meter": meter.kind, "apply_status": status,
            "ended": {k: v.get("reason") for k, v in results.items()},
            "records": {k: len(v.get("records", [])) for k, v in results.items()}}


if __name__ == "__main__":
    print(json.dumps(profile(sys.argv[1] if len(sys.argv) > 1 else "ok_reference")))
