"""Time of question 1's comparison over seeds, trained serially, then in parallel, in one run.

    .venv/bin/python -m benchmarks.bench_compare            # full runs (several minutes), rewrites COMPARE.md
    .venv/bin/python -m benchmarks.bench_compare --quick    # a smoke run (short episodes), prints only

Both sides call ``workshop_lib.experiments.compare`` with the comparison the notebook's ``compare-runs`` cell
makes (its settings, seeds and ``base`` are read from that cell of the master notebook, so the benchmark times
what a student runs), with the reference agent, each with an empty cache of its own:
``processes=1`` trains the 6 runs one after the other in this process, the default uses one worker process per
core. A third call repeats the parallel one on its now full cache (the rerun a student makes). The serial and
the parallel returns must be identical, run for run.

Wall-clock time is what a student waits; CPU time (this process plus its workers) shows how much of the
machine each side used, which matters here because other jobs may share the cores.
"""

from __future__ import annotations

import argparse
import ast
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from autograder.course_folder import source_notebook
from workshop_lib.experiments import compare
from workshop_lib.experiments.runs import default_processes

HERE = Path(__file__).resolve().parent
MASTER = source_notebook()
AGENT = "solutions.ddpg_agent:DDPGAgent"


def notebook_comparison(master: Path = MASTER) -> tuple[list[dict], int, dict]:
    """(settings, seeds, base) of the ``compare(...)`` call in the notebook's ``compare-runs`` cell.

    The values are literals in that cell (the notebook says so), so they are read with ``ast.literal_eval``.
    """
    import nbformat

    (cell,) = [c for c in nbformat.read(master, as_version=4).cells if c.get("id") == "compare-runs"]
    calls = [n for n in ast.walk(ast.parse(cell.source))
             if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "compare"]
    if len(calls) != 1:
        raise SystemExit(f"expected one compare(...) call in the notebook's compare-runs cell, found {len(calls)}")
    call = calls[0]
    keywords = {k.arg: k.value for k in call.keywords}
    settings = ast.literal_eval(call.args[0])
    seeds = ast.literal_eval(keywords["seeds"])
    base = ast.literal_eval(keywords["base"]) if "base" in keywords else {}
    return settings, seeds, base


def cpu_seconds() -> float:
    """CPU time of this process and of its finished child processes."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(settings: list[dict], cache: Path, base: dict, seeds: int,
          processes: int | None) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds, the Comparison) of one compare() call."""
    import matplotlib.pyplot as plt

    wall, cpu = time.perf_counter(), cpu_seconds()
    result = compare(settings, seeds, agent=AGENT, base=base, processes=processes, cache_dir=cache,
                     figure_dir=None, progress=False)
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    plt.close(result.figure)
    return wall, cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs, nothing written")
    parser.add_argument("--out", default=str(HERE / "COMPARE.md"))
    args = parser.parse_args()
    settings, seeds, base = notebook_comparison()
    if args.quick:
        seeds, base = 2, {"EPISODES": 6, "STEPS": 50, "WARMUP_EPISODES": 1, "DECAY_EPISODES": 3.0}
    torch.set_num_threads(1)

    with tempfile.TemporaryDirectory() as tmp:
        # Warm-up, not timed: imports (matplotlib, the agent) and first calls cost the first side only otherwise.
        timed(settings[:1], Path(tmp) / "warm-up",
              {"EPISODES": 2, "STEPS": 20, "WARMUP_EPISODES": 1, "DECAY_EPISODES": 1.0}, 1, 1)
        serial_s, serial_cpu, serial = timed(settings, Path(tmp) / "serial", base, seeds, processes=1)
        print(f"serial:   {serial_s:6.1f} s wall, {serial_cpu:6.1f} s CPU", flush=True)
        parallel_s, parallel_cpu, parallel = timed(settings, Path(tmp) / "parallel", base, seeds, processes=None)
        print(f"parallel: {parallel_s:6.1f} s wall, {parallel_cpu:6.1f} s CPU", flush=True)
        rerun_s, _, rerun = timed(settings, Path(tmp) / "parallel", base, seeds, processes=None)
        print(f"rerun from the cache: {rerun_s:.2f} s ({rerun.from_cache} runs cached)", flush=True)

    identical = all(np.array_equal(serial.returns[k], parallel.returns[k]) for k in serial.returns)
    runs = len(settings) * seeds
    hp = next(iter(serial.hyperparameters.values()))
    per_run = [t for times in serial.wall_time_s.values() for t in times]
    finals = "; ".join(f"{label}: {v.mean():.0f} (seeds {', '.join(f'{x:.0f}' for x in v)})"
                       for label, v in serial.final_returns().items())
    lines = [
        "# Question 1's comparison over seeds: serial against parallel",
        "",
        f"Measured by `.venv/bin/python -m benchmarks.bench_compare` on {time.strftime('%Y-%m-%d')}, "
        f"{platform.machine()} with {os.cpu_count()} cores, torch {torch.__version__}, "
        f"Python {platform.python_version()}.",
        f"The notebook's `compare({settings}, seeds={seeds}, base={base})` with the reference agent: "
        f"{runs} runs of {hp.EPISODES} episodes of {hp.STEPS} steps (network {hp.NUM_H}x{hp.H}), "
        "each side with an empty cache, one after the other in one run of the script.",
        "",
        "| | wall time | CPU time (all processes) | cores used (CPU / wall) | speed-up (wall) |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| serial (`processes=1`) | {serial_s:.1f} s | {serial_cpu:.1f} s | {serial_cpu / serial_s:.2f} | 1.00x |",
        f"| parallel (default: {min(runs, default_processes())} processes) | "
        f"{parallel_s:.1f} s | {parallel_cpu:.1f} s | {parallel_cpu / parallel_s:.2f} | {serial_s / parallel_s:.2f}x |",
        f"| rerun, every run from the cache | {rerun_s:.2f} s | | | |",
        "",
        f"- what a student on a 2-core laptop waits for (the parallel side): {parallel_s / 60:.1f} minutes; "
        f"the notebook's budget is 3 minutes: **{'met' if parallel_s <= 180 else 'NOT met'}** on this run.",
        f"- load average (1 min) when the script ended: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores. The "
        "speed-up is bounded by the cores the other jobs leave free: the parallel side can use at most "
        f"{min(runs, default_processes())} cores, and used {parallel_cpu / parallel_s:.2f} on average.",
        f"- serial and parallel returns identical, run for run: **{'yes' if identical else 'NO'}**",
        f"- training time of one run (serial, training loop only): median {np.median(per_run):.1f} s, "
        f"range {min(per_run):.1f}-{max(per_run):.1f} s",
        f"- mean return of the last 10 episodes: {finals}",
    ]
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    if not identical:
        raise SystemExit("serial and parallel results differ")
    if not args.quick:
        Path(args.out).write_text(text)
        print(f"written: {args.out}")


if __name__ == "__main__":
    main()
