"""What the notebook's suggested settings for MountainCarContinuous-v0 reach (question 5), over seeds 0-4.

    .venv/bin/python -m benchmarks.bench_mountaincar              # about 7 minutes on 2 cores; rewrites MOUNTAINCAR.md
    .venv/bin/python -m benchmarks.bench_mountaincar --quick      # smoke run (2 short episodes), prints only

Each run is ``python -m workshop_lib.train`` with ``workshop_lib.train.MOUNTAIN_CAR_VALUES`` (the defaults with the
changes the notebook suggests: ``MOUNTAIN_CAR_CHANGES``) and the reference agent, once with the correlated
(Ornstein-Uhlenbeck) noise the settings ask for and once with Exercise 1's independent Gaussian noise, everything
else equal. Reported per run: the greedy 10-episode mean return after training (evaluation episodes seeded with
seed + 10000, as in the notebook), the training episodes that reached the flag, and the training time.

An episode reached the flag exactly when its return is positive: reaching it pays +100 and ends the episode, and
the action cost, 0.1·a² per step with |a| <= 1, sums to less than 100 over the 999-step horizon.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from workshop_lib.train import MOUNTAIN_CAR_CHANGES, MOUNTAIN_CAR_VALUES, run

HERE = Path(__file__).resolve().parent


SEEDS = (0, 1, 2, 3, 4)


def one_run(args: tuple[str, int, bool]) -> dict:
    noise, seed, quick = args
    hp = dataclasses.replace(MOUNTAIN_CAR_VALUES, NOISE=noise)
    if quick:
        hp = dataclasses.replace(hp, EPISODES=2, WARMUP_EPISODES=1, STEPS=100, DECAY_EPISODES=1.0)
    summary = run(hp, seed=seed, store_path=os.path.join("tmp_ddpg_learning", "mountaincar"), progress=False,
                  log=None, eval_episodes=2 if quick else 10)
    returns = summary["returns"]
    reached = [i + 1 for i, r in enumerate(returns) if r > 0]
    return {"noise": noise, "seed": seed, "greedy_mean": summary["eval_mean_return"],
            "eval_returns": summary["eval_returns"], "returns": returns, "episodes_reaching_flag": len(reached),
            "first_episode_reaching_flag": reached[0] if reached else None, "episodes": len(returns),
            "wall_time_s": summary["wall_time_s"], "updates": summary["updates"]}


def table(results: list[dict]) -> str:
    lines = ["| noise | seed | greedy mean return | training episodes reaching the flag | first | training time |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in results:
        lines.append(f"| {r['noise']} | {r['seed']} | {r['greedy_mean']:.1f} | {r['episodes_reaching_flag']} of "
                     f"{r['episodes']} | {r['first_episode_reaching_flag'] or '-'} | {r['wall_time_s']:.0f} s |")
    return "\n".join(lines)


def summary_line(results: list[dict], noise: str) -> str:
    means = [r["greedy_mean"] for r in results if r["noise"] == noise]
    return (f"{noise}: greedy mean return median {statistics.median(means):.1f}, min {min(means):.1f}, "
            f"max {max(means):.1f} over seeds {', '.join(str(r['seed']) for r in results if r['noise'] == noise)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny runs, print only")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel runs")
    args = parser.parse_args(argv)
    seeds = SEEDS[:1] if args.quick else SEEDS
    jobs = [(noise, seed, args.quick) for noise in ("ou", "gaussian") for seed in seeds]
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(one_run, jobs))
    elapsed = time.perf_counter() - start
    print(table(results))
    for noise in ("ou", "gaussian"):
        print(summary_line(results, noise))
    if args.quick:
        return 0
    changes = ", ".join(f"`{k} = {v!r}`" for k, v in MOUNTAIN_CAR_CHANGES.items())
    (HERE / "MOUNTAINCAR.md").write_text(
        "# MountainCarContinuous-v0 with the notebook's suggested settings\n\n"
        "Written by `benchmarks/bench_mountaincar.py` (reference agent, one torch thread per run, "
        f"{args.jobs} runs at a time, {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"{elapsed:.0f} s in all).\n\n"
        f"Settings: the defaults of `workshop_lib.train.Hyperparameters` with {changes}; the `gaussian` rows "
        "change only `NOISE`. The greedy mean is over 10 fresh episodes after training (seeds seed + 10000). An "
        "episode reached the flag exactly when its return is positive.\n\n"
        + table(results) + "\n\n" + "\n".join(f"- {summary_line(results, n)}" for n in ("ou", "gaussian")) + "\n")
    (HERE / "mountaincar.json").write_text(json.dumps({"changes": MOUNTAIN_CAR_CHANGES, "results": results},
                                                      indent=1))
    print(f"wrote {HERE / 'MOUNTAINCAR.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
