"""Grading on submit: latency from a student's submit to their pre-grade page released in the exchange.

    .venv/bin/python -m benchmarks.bench_pregrade             # 1 student x 3, 10 at once x 1; rewrites PREGRADE.md
    .venv/bin/python -m benchmarks.bench_pregrade --quick     # 1 student x 1, 3 at once x 1; prints only

The real parts, without the hub and the browser: a copy of the course, ``nbgrader release_assignment`` into a
temporary exchange, each student's submit (a correct notebook: the master's solution in the released notebook) by
nbgrader's own ``ExchangeSubmit`` in a process already running, as the Assignments tab's handler runs it in the
student's Jupyter server (a ``nbgrader submit`` command would add the start of a Python process that imports
nbgrader, which no student pays in the browser: with 10 such commands at once on 2 cores, the commands alone took
34 s, median, in this benchmark's run of 18:47 UTC, 2026-12-07), the service's own loop
(:class:`autograder.hub.pregrade.Pregrader`: a look at ``inbound/`` every ``DDPG_PREGRADE_POLL`` seconds (2), or as
soon as a pre-grade ends) in a thread, as the hub's service runs it, with its real grading (each submission's
verdict run in the bubblewrap sandbox, :mod:`autograder.hub.verdict_only`) and its real ``nbgrader
release_feedback``.

Latency = from the start of a student's submit to the ``release_feedback`` that put their page in the
exchange (what the student's *Fetch Feedback* then finds). The rate limit is set to 1 s so that it never holds a
submission back. The first, cold pre-grade (it makes the release and runs the preflight once; later pre-grades reuse
them) is reported apart.
Students here are names, not Unix users (the benchmark runs as one user; the owner check is the hub test's).
Two services are measured in the same command, one after the other: the service as shipped (*warm*: a warm
sandbox per worker, :mod:`autograder.warm`) and its peer (*fresh*: a fresh sandbox per verdict run); the page gives
their ratio.
Target (issue 18): with 10 students at once, median under 15 s and 95th percentile under 45 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from autograder.build_notebooks import copy_course
from autograder.course_folder import ASSIGNMENT, COURSE_ID, NOTEBOOK_FILE, release_notebook, source_notebook
from autograder.hub.pregrade import Limits, Pregrader
from autograder.hub.verdict_only import VerdictOnly
from autograder.nbgrader_cli import nbgrader
from tests import grading_catalog as gc

EARLIER = ("Before (commit fe03125, 2026-12-07 13:37 UTC, same machine): the service graded each batch with a whole "
           "`python -m autograder.grade` run (both sandboxed runs, `nbgrader autograde`, pages at the batch's end): "
           "1 student 34.8 s (median of 3), 10 at once 157.1 s (median and 95th percentile).")
"""The figures of the batch design this replaced, as PREGRADE.md recorded them (kept for comparison)."""
HERE = Path(__file__).resolve().parent
REPO = HERE.parent
POLL_S = 2.0


class World:
    """A course, an exchange and the service, in a temporary folder; students submit into it."""

    def __init__(self, base: Path, jobs: int, warm: bool = True) -> None:
        self.base = base
        self.exchange = base / "exchange"
        self.exchange.mkdir()
        self.course = copy_course(base / "course")
        opts = [f"--Exchange.root={self.exchange}", f"--CourseDirectory.course_id={COURSE_ID}"]
        nbgrader(["generate_assignment", ASSIGNMENT, "--force"], cwd=self.course)
        nbgrader(["release_assignment", ASSIGNMENT, *opts], cwd=self.course)
        release_nb = nbformat.read(release_notebook(self.course), as_version=4)
        self.correct = gc.build_submission(release_nb, gc.reference_pieces(source_notebook(self.course)),
                                           gc.CORRECT[0])
        self.released: dict[str, float] = {}
        self.lock = threading.Lock()
        kwargs = {}
        if not warm:  # the peer: a fresh sandbox per verdict run, as before warm sandboxes
            grader = VerdictOnly(base / "pregrade", log=lambda line: None, warm=0)
            kwargs = {"grade": grader.grade, "prepare": grader.prepare}
        self.service = Pregrader(base / "pregrade", self.course, self.exchange, Limits(interval_s=1, per_day=10_000),
                                 jobs=jobs, uid_of=lambda name: os.getuid(), log=lambda line: None, **kwargs)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.is_set():  # the service's own loop (autograder.hub.pregrade.main)
            tick = self.service.tick(block=False)
            with self.lock:
                for name in tick.graded:
                    self.released[name] = tick.released[name]
            self.service.idle(POLL_S)

    def submit(self, student: str) -> tuple[float, float, str]:
        """``student`` submits ``ddpg`` (a correct notebook) as the Assignments tab does it: nbgrader's own
        ``ExchangeSubmit``, run in a process that is already up (here, this one; on the hub, the student's Jupyter
        server, whose handler does the same). Returns when it started, when it ended, and the inbound folder it
        made."""
        from nbgrader.auth import Authenticator
        from nbgrader.coursedir import CourseDirectory
        from nbgrader.exchange.default import ExchangeSubmit
        from traitlets.config import Config

        home = self.base / "homes" / student
        folder = home / ASSIGNMENT
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(self.correct, folder / NOTEBOOK_FILE)
        inbound = self.exchange / COURSE_ID / "inbound"
        config = Config()
        config.CourseDirectory.course_id = COURSE_ID
        config.CourseDirectory.assignment_id = ASSIGNMENT
        config.CourseDirectory.student_id = student
        config.Exchange.root = str(self.exchange)
        config.Exchange.assignment_dir = str(home)
        config.Exchange.cache = str(home / ".cache")
        start = time.time()
        coursedir = CourseDirectory(config=config)
        ExchangeSubmit(coursedir=coursedir, authenticator=Authenticator(config=config), config=config).start()
        end = time.time()
        made = [n for n in os.listdir(inbound) if n.startswith(f"{student}+")]
        assert len(made) == 1, made
        return start, end, made[0]

    def wait(self, names: list[str], timeout: float = 900) -> dict[str, float]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if all(n in self.released for n in names):
                    return {n: self.released[n] for n in names}
            time.sleep(0.2)
        raise TimeoutError(f"no page released within {timeout:g} s for {[n for n in names if n not in self.released]}")

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=1200)


def round_of(world: World, students: list[str]) -> tuple[list[float], list[float]]:
    """Every student of ``students`` submits at the same moment; the latency of each, and how long each one's
    submit took (in seconds)."""
    with ThreadPoolExecutor(len(students)) as pool:
        submitted = list(pool.map(world.submit, students))
    released = world.wait([name for _, _, name in submitted])
    return [released[name] - start for start, _, name in submitted], [end - start for start, end, _ in submitted]


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Latency of grading on submit.")
    parser.add_argument("--quick", action="store_true", help="1 round each, 3 at once; print only")
    parser.add_argument("--single-rounds", type=int, default=3)
    parser.add_argument("--class-rounds", type=int, default=1)
    parser.add_argument("--at-once", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    single_rounds, class_rounds, at_once = (1, 1, 3) if args.quick else (args.single_rounds, args.class_rounds,
                                                                         args.at_once)
    measured_at = commit()  # the code that runs: HEAD when it starts
    table = ["| service | students submitting | pre-grades measured | median [s] | 95th percentile [s] | max [s] | "
             "of which the submit, median [s] | load average after (1 / 5 / 15 min) |",
             "|---|---|---|---|---|---|---|---|"]
    medians: dict[str, float] = {}
    for service in SERVICES:
        results, submits, loads = measure(service, args.jobs, single_rounds, class_rounds, at_once)
        rows = [("1 (cold: the preflight runs once)", "cold", loads["1"]), ("1", "1", loads["1"]),
                (f"{at_once} at once", "many", loads["many"])]
        for label, key, load in rows:
            values = results[key]
            table.append(f"| {service} | {label} | {len(values)} | {statistics.median(values):.1f} | "
                         f"{p95(values):.1f} | {max(values):.1f} | {statistics.median(submits[key]):.1f} | "
                         f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} |")
        medians[service] = statistics.median(results["many"])
        if service == SERVICES[0]:
            many = results["many"]
            met = statistics.median(many) < 15 and p95(many) < 45
    ratio = medians["fresh"] / medians["warm"]
    print("\n".join(table))
    print(f"{at_once} at once, median: fresh / warm = {ratio:.2f}")
    if args.quick:
        return 0
    write_page(table, at_once, met, args.jobs, measured_at, ratio)
    return 0


SERVICES = ("warm", "fresh")
"""The service as shipped (a warm sandbox per worker), then its peer in the same command (a fresh sandbox per
verdict run, as before)."""


def measure(service: str, jobs: int, single_rounds: int, class_rounds: int, at_once: int
            ) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, tuple[float, float, float]]]:
    """The cold pre-grade, ``single_rounds`` of one student, ``class_rounds`` of ``at_once`` students, with the
    service ``service``: latencies, submit times and the load average after each part."""
    results: dict[str, list[float]] = {}
    submits: dict[str, list[float]] = {}
    loads: dict[str, tuple[float, float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-pregrade-") as tmp:
        world = World(Path(tmp), jobs, warm=service == "warm")
        try:
            results["cold"], submits["cold"] = round_of(world, ["cold01"])
            print(f"{service}: cold (with the preflight): {results['cold'][0]:.1f} s", flush=True)
            results["1"], submits["1"] = [], []
            for r in range(single_rounds):
                got, took = round_of(world, [f"one{r:02d}"])
                results["1"] += got
                submits["1"] += took
                print(f"{service}: 1 student, round {r + 1}: {results['1'][-1]:.1f} s", flush=True)
            loads["1"] = os.getloadavg()
            results["many"], submits["many"] = [], []
            for r in range(class_rounds):
                got, took = round_of(world, [f"c{r}s{i:02d}" for i in range(at_once)])
                results["many"] += got
                submits["many"] += took
                print(f"{service}: {at_once} at once, round {r + 1}: " + ", ".join(f"{x:.1f}" for x in sorted(got)),
                      flush=True)
            loads["many"] = os.getloadavg()
        finally:
            world.close()
    return results, submits, loads


def write_page(table: list[str], at_once: int, met: bool, jobs: int, measured_at: str, ratio: float) -> None:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join([
        "# Grading on submit: latency",
        "",
        f"Measured by `benchmarks/bench_pregrade.py` on {platform.machine()} with {os.cpu_count()} CPU cores "
        f"(Python {platform.python_version()}), {now}, at commit {measured_at}; the service grading {jobs} "
        "submissions at once.",
        "",
        "Latency: from the start of a student's submit (nbgrader's `ExchangeSubmit`, run in a process already up, "
        "as the Assignments tab's handler runs it in the student's server) to the `nbgrader release_feedback` that "
        "put their "
        "pre-grade page in the exchange (the service looks at `inbound/` every 2 s or as soon as a pre-grade ends, "
        f"pre-grades {jobs} submissions at once, each by its verdict run alone in the sandbox, and releases each "
        "page as soon as it is decided). Correct submissions; the rate limit set to 1 s so that it holds nothing "
        "back. The students' submits run on the same machine, at the same time.",
        "",
        "Two services in the same command, one after the other: *warm*, the service as shipped (each worker keeps a "
        "warm sandbox, PyTorch imported once, one forked child per verdict run: `autograder/warm.py`), and its "
        "peer *fresh* (a fresh sandbox and Python per verdict run, as both the service and `make grade` ran it "
        "before warm sandboxes, and as `c.SandboxedGrading.warm = False` runs it).",
        "",
        *table,
        "",
        f"With {at_once} at once, the fresh service's median is **{ratio:.2f} times** the warm one's.",
        "",
        f"Target (issue 18), with {at_once} at once: median under 15 s, 95th percentile under 45 s: "
        f"**{'met' if met else 'not met'}** (the warm service).",
        "",
        "The figures follow the CPU cost of one verdict run (fresh: a Python start, PyTorch's import, the cells "
        "above the checks and the probes; warm: the cells and the probes): N submissions on 2 cores cannot all be "
        "decided before N times that cost / 2. "
        "Rerun after a change to the grader: `python -m benchmarks.bench_pregrade`.",
        "",
        EARLIER,
        "",
    ])
    (HERE / "PREGRADE.md").write_text(text)
    print(f"wrote {HERE / 'PREGRADE.md'}")


if __name__ == "__main__":
    sys.exit(main())
