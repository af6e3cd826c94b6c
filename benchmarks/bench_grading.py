"""Time to autograde one submission with the real ``nbgrader autograde`` (target: <= 15 s on a 2-core CPU).

    .venv/bin/python benchmarks/bench_grading.py            # full run (about 2 minutes), rewrites GRADING.md
    .venv/bin/python benchmarks/bench_grading.py --quick    # two submissions, prints only

On a temporary copy of the course directory, a few submissions of the test catalog (tests/grading_catalog.py)
are graded one at a time with ``nbgrader autograde ddpg --student <name>`` (the whole command: process start,
gradebook, kernel start, every cell), ``--repeats`` times each; the median wall-clock time is reported. The
grading shortcut (``NBGRADER_EXECUTION``) shortens the training cell to 2 episodes of 50 steps while grading.
A submission whose ``select_action`` hangs is timed once: it costs three per-cell timeouts (the check cell,
the training cell and the cell that records the trained agent), which is the price of cutting a hang.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "autograder"))

import build_notebooks  # noqa: E402
from tests import grading_catalog as gc  # noqa: E402

TIMED = ["ok_reference", "trap_unmodified", "bad_no_done_mask", "ok_batched_torch_noise_with_warnings"]
HANG = "bad_act_hangs"


def time_autograde(course: Path, student: str) -> float:
    start = time.perf_counter()
    build_notebooks.nbgrader(["autograde", "ddpg", "--student", student, "--force"], cwd=course)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time nbgrader autograde per submission.")
    parser.add_argument("--quick", action="store_true", help="two submissions, one repeat, no hang, print only")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    names = TIMED[:2] if args.quick else TIMED
    repeats = 1 if args.quick else args.repeats
    variants = [v for v in gc.CATALOG if v.name in names or (v.name == HANG and not args.quick)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        course = build_notebooks.copy_course(Path(tmp) / "course")
        gc.write_submissions(course, REPO / "notebooks" / "ddpg_pendulum.ipynb",
                             build_notebooks.SOURCE_DIR / "ddpg_pendulum.ipynb", variants)
        build_notebooks.nbgrader(["generate_assignment", "ddpg", "--force"], cwd=course)
        for name in names:
            times = [time_autograde(course, name) for _ in range(repeats)]
            rows.append((name, statistics.median(times), min(times), max(times), repeats))
            print(f"{name:<40} median {rows[-1][1]:5.1f} s  (min {rows[-1][2]:.1f}, max {rows[-1][3]:.1f})",
                  flush=True)
        if not args.quick:
            seconds = time_autograde(course, HANG)
            rows.append((HANG, seconds, seconds, seconds, 1))
            print(f"{HANG:<40} {seconds:5.1f} s (three per-cell timeouts)", flush=True)
    if args.quick:
        return 0
    normal = [r[1] for r in rows if r[0] != HANG]
    lines = [
        "# Grading time per submission",
        "",
        "Measured by `benchmarks/bench_grading.py`: the wall-clock time of one",
        "`nbgrader autograde ddpg --student <name>` command (process start, gradebook, kernel start and every cell),",
        f"median of {repeats} runs, on {platform.machine()} with {os.cpu_count()} CPU cores"
        f" (Python {platform.python_version()}), {date.today().isoformat()}. Target: <= 15 s per submission.",
        "",
        "| submission | what it is | median [s] | min [s] | max [s] |",
        "| --- | --- | --- | --- | --- |",
    ]
    why = {v.name: v.why for v in gc.CATALOG}
    for name, median, low, high, _n in rows:
        lines.append(f"| `{name}` | {why[name]} | {median:.1f} | {low:.1f} | {high:.1f} |")
    lines += [
        "",
        f"Worst median of a submission that does not hang: **{max(normal):.1f} s** (target <= 15 s).",
        "A hanging `select_action` is cut by the per-cell `Execute.timeout` (30 s) in the check cell, the training "
        "cell and the trained-agent video cell; the other cells, and the other submissions, are graded as usual.",
        f"Grading the {len(gc.CATALOG)} submissions of the test catalog in one `nbgrader autograde ddpg` run is part "
        "of `make test`",
        "(tests/test_autograder.py prints its duration).",
    ]
    (HERE / "GRADING.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {HERE / 'GRADING.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
