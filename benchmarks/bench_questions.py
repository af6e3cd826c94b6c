"""What question 5 quotes, measured by running the notebook's own cells (benchmarks/notebook_runs.py).

    .venv/bin/python -m benchmarks.bench_questions            # question 5's runs; rewrites questions.json
    .venv/bin/python -m benchmarks.bench_questions --quick    # smoke run (2 episodes of 100 steps), prints only

For each seed in ``SEEDS`` the solution notebook (the student notebook with the reference solution) runs from its
first cell to its results cell with question 5's settings (``workshop_lib.train.MOUNTAIN_CAR_CHANGES``, the block
the question shows) and ``SEED`` set to the seed; the Gaussian run changes only ``NOISE`` and uses the notebook's
own ``SEED = 0``. Recorded per run: the training episodes that reached the flag (an episode reached it exactly
when its return is positive: +100 at the flag, and 999 steps of action cost stay below 100), the greedy return the
results cell prints, and the training time the training cell prints (wall and CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from benchmarks.notebook_runs import run_notebook
from workshop_lib.train import MOUNTAIN_CAR_CHANGES

HERE = Path(__file__).resolve().parent
OUT = HERE / "questions.json"
SEEDS = (0, 1, 2, 3, 4)
GAUSSIAN_SEEDS = (0,)


def one(args: tuple[str, int, bool]) -> dict:
    noise, seed, quick = args
    changes = {**MOUNTAIN_CAR_CHANGES, "NOISE": noise}
    if quick:
        changes.update(EPISODES=2, WARMUP_EPISODES=1, STEPS=100, DECAY_EPISODES=1)
    run = run_notebook(changes, seed=seed)
    flags = [i + 1 for i, r in enumerate(run["returns"]) if r > 0]
    greedy = sum(run["greedy_returns"]) / len(run["greedy_returns"])
    row = {"noise": noise, "seed": seed, "flag_episodes": flags, "episodes": len(run["returns"]),
           "greedy_mean": greedy, **run}
    print(f"{noise} seed {seed}: flag in {len(flags)} of {len(run['returns'])} episodes {flags}; greedy "
          f"{greedy:.1f}; {run['training_time_s']:.0f} s", flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny runs, print only")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="notebooks at a time")
    args = parser.parse_args(argv)
    jobs = [("ou", s, args.quick) for s in (SEEDS[:1] if args.quick else SEEDS)]
    jobs += [("gaussian", s, args.quick) for s in GAUSSIAN_SEEDS]
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        rows = list(pool.map(one, jobs))
    if args.quick:
        return 0
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    OUT.write_text(json.dumps({"changes": MOUNTAIN_CAR_CHANGES, "runs": rows, "elapsed_s": time.perf_counter() - start,
                               "loadavg_at_end": load, "cores": os.cpu_count()}, indent=1))
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
