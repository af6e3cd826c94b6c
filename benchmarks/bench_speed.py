"""Speed of the training loop: updates per second against two peers, measured in one run as ratios.

    .venv/bin/python -m benchmarks.bench_speed            # full run (about 3 minutes), rewrites SPEED.md
    .venv/bin/python -m benchmarks.bench_speed --quick    # a smoke run, prints only

All three run the same thing on Pendulum-v1: ``--warmup`` environment steps that only fill the buffer, then
``--updates`` steps with one DDPG update each (network NUM_H x H, batch BATCH_SIZE: the workbook's
defaults). Only the update phase is timed. The three are interleaved ``--repeats`` times and the median
updates/s of each is reported, with wall-clock and CPU-time figures (CPU time is robust to other load).

* workbook: the reference agent in the workbook's own loop (``workshop_lib.train.run_episode``);
* minimal: a minimal hand-written PyTorch DDPG loop (``benchmarks/peers.py``);
* SB3: Stable-Baselines3 DDPG at the same network size and batch.

Targets: workbook >= 1.5x SB3 (issue 10; it was 1.3x in issue 2), and within 10% of the minimal loop.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from benchmarks.peers import minimal_ddpg_loop, sb3_ddpg
from workshop_lib.train import Hyperparameters, run_episode, seeded_setup

HERE = Path(__file__).resolve().parent
AGENT = "solutions.ddpg_agent:DDPGAgent"


def workbook_loop(warmup_steps: int, update_steps: int, hp: Hyperparameters, seed: int = 0) -> dict:
    """The workbook's loop with the reference agent: warm-up episodes without updates, then one update per step."""
    env, agent = seeded_setup(hp, seed, agent_spec=AGENT)
    agent.epsilon = 0.1
    for _ in range(warmup_steps // hp.STEPS):
        run_episode(agent, env, learn=True, update=False)
    updates = []
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(update_steps // hp.STEPS):
        run_episode(agent, env, learn=True, update_freq=1, on_update=lambda td, pl: updates.append(td))
    return {"updates": len(updates), "update_phase_s": time.perf_counter() - start,
            "update_phase_cpu_s": time.process_time() - cpu_start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--updates", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny run, nothing written")
    parser.add_argument("--out", default=str(HERE / "SPEED.md"))
    parser.add_argument("--num-h", type=int, default=Hyperparameters().NUM_H, help="hidden layers of every network")
    parser.add_argument("--h", type=int, default=Hyperparameters().H, help="units per hidden layer")
    args = parser.parse_args()
    if args.quick:
        args.warmup, args.updates, args.repeats = 200, 400, 1

    hp = Hyperparameters(NUM_H=args.num_h, H=args.h)
    peers = {
        "workbook (1 thread)": (1, lambda: workbook_loop(args.warmup, args.updates, hp)),
        "workbook (2 threads)": (2, lambda: workbook_loop(args.warmup, args.updates, hp)),
        "minimal PyTorch loop (1 thread)": (1, lambda: minimal_ddpg_loop(
            args.warmup, args.updates, hp.H, hp.NUM_H, hp.BATCH_SIZE)),
        "SB3 DDPG (1 thread)": (1, lambda: sb3_ddpg(
            args.warmup + args.updates, args.warmup, [hp.H] * hp.NUM_H, hp.BATCH_SIZE, hp.LR, hp.GAMMA, 0.1,
            buffer_size=100_000)),
    }
    rates: dict[str, list[float]] = {name: [] for name in peers}
    cpu_rates: dict[str, list[float]] = {name: [] for name in peers}
    for r in range(args.repeats):
        for name, (threads, fn) in peers.items():
            torch.set_num_threads(threads)
            rec = fn()
            rates[name].append(rec["updates"] / rec["update_phase_s"])
            cpu_rates[name].append(rec["updates"] / rec["update_phase_cpu_s"])
            print(f"[{r + 1}/{args.repeats}] {name:34s} {rates[name][-1]:7.0f} updates/s (wall)"
                  f" {cpu_rates[name][-1]:7.0f} updates/s (per CPU-second)", flush=True)
    med = {name: statistics.median(v) for name, v in rates.items()}
    med_cpu = {name: statistics.median(v) for name, v in cpu_rates.items()}
    ours, minimal, sb3 = med["workbook (1 thread)"], med["minimal PyTorch loop (1 thread)"], med["SB3 DDPG (1 thread)"]
    lines = [
        "# Training-loop speed: updates per second",
        "",
        f"Measured by `.venv/bin/python -m benchmarks.bench_speed` on {time.strftime('%Y-%m-%d')}, "
        f"{platform.machine()} with {os.cpu_count()} cores, "
        f"torch {torch.__version__}, Python {platform.python_version()}.",
        f"Pendulum-v1, network {hp.NUM_H}x{hp.H}, batch {hp.BATCH_SIZE}, {args.warmup} warm-up steps then "
        f"{args.updates} steps with one update each; median of {args.repeats} interleaved repeats.",
        "",
        "| loop | updates/s (wall) | updates per CPU-second | ratio to workbook (wall) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name in peers:
        lines.append(f"| {name} | {med[name]:.0f} | {med_cpu[name]:.0f} | {med[name] / ours:.2f} |")
    lines += [
        "",
        f"- workbook / SB3: **{ours / sb3:.2f}x** (target >= 1.5x); per CPU-second: "
        f"{med_cpu['workbook (1 thread)'] / med_cpu['SB3 DDPG (1 thread)']:.2f}x",
        f"- workbook / minimal loop: **{ours / minimal:.2f}x** (target: within 10%, i.e. >= 0.90x)",
        f"- one torch thread / two threads for the workbook: {ours / med['workbook (2 threads)']:.2f}x "
        "(the workbook sets one thread by default: `--threads 1`)",
    ]
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    if not args.quick:
        Path(args.out).write_text(text)
        print(f"written: {args.out}")


if __name__ == "__main__":
    main()
