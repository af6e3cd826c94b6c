"""Time to solve Pendulum-v1 (greedy 10-episode mean >= -200): the workbook's defaults against SB3's tuned DDPG.

    .venv/bin/python -m benchmarks.bench_solve                 # 3 seeds each (about 6 minutes), rewrites SOLVE.md
    .venv/bin/python -m benchmarks.bench_solve --seeds 0 --quick   # smoke run, prints only

* workbook: ``workshop_lib.train`` with its default hyperparameters and the reference agent;
* SB3: Stable-Baselines3 DDPG with the rl-baselines3-zoo settings for Pendulum-v1 (lr 1e-3, gamma 0.98,
  buffer 2e5, 10k learning starts, Gaussian noise 0.1, nets [400, 300], batch 256 = SB3's default), at most
  20k steps as in the zoo.

Both are evaluated the same way: after every 200 environment steps once learning has started, 10 greedy
episodes on a separate environment seeded with seed + 10000; the evaluation time is excluded from the
training time. "Time to solve" is the training time (wall clock, and CPU time, which other load does not
inflate) until the first evaluation >= -200. One torch thread for both.

Also measured for item 5 of issue 2: the greedy 10-episode mean after the full default run, seeds 0-4.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from benchmarks.peers import sb3_ddpg
from workshop_lib.env_wrapper import make_env
from workshop_lib.train import Hyperparameters, evaluate, run, seeded_setup, train_agent

HERE = Path(__file__).resolve().parent
AGENT = "solutions.ddpg_agent:DDPGAgent"


SOLVED = -200.0
EVAL_EPISODES = 10


def workbook_time_to_solve(seed: int, hp: Hyperparameters) -> dict:
    """Train with the defaults, evaluating after every post-warm-up episode, until solved."""
    env, agent = seeded_setup(hp, seed, agent_spec=AGENT)
    eval_env = make_env("Pendulum-v1", steps=hp.STEPS)
    evals: list[tuple[int, float]] = []

    def check(episode: int, agent) -> bool:
        if episode < hp.WARMUP_EPISODES:
            return False
        eval_env.seed(seed + 10_000)  # the same 10 evaluation episodes every time
        score = float(np.mean(evaluate(agent, eval_env, EVAL_EPISODES)))
        evals.append(((episode + 1) * hp.STEPS, score))
        return score >= SOLVED

    result = train_agent(agent, env, hp, progress=False, log=None, after_episode=check)
    env.close()
    eval_env.close()
    solved = evals and evals[-1][1] >= SOLVED
    return {"solved": bool(solved), "steps": evals[-1][0] if evals else None, "train_s": result["wall_time_s"],
            "train_cpu_s": result["cpu_time_s"]}


def sb3_time_to_solve(seed: int) -> dict:
    """SB3 DDPG with the zoo's Pendulum-v1 settings, evaluated every 200 steps after learning starts."""
    learning_starts = 10_000

    env = gym.make("Pendulum-v1")

    def check(model, steps: int) -> bool:
        if steps < learning_starts:
            return False
        returns = []
        obs, _ = env.reset(seed=seed + 10_000)
        for _ in range(EVAL_EPISODES):
            done, total = False, 0.0
            while not done:
                action, _ = model.predict(obs, deterministic=True)
                obs, reward, terminated, truncated, _ = env.step(action)
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
            obs, _ = env.reset()
        return float(np.mean(returns)) >= SOLVED

    rec = sb3_ddpg(total_steps=20_000, learning_starts=learning_starts, net_arch=[400, 300], batch_size=256,
                   lr=1e-3, gamma=0.98, noise=0.1, buffer_size=200_000, seed=seed, on_eval=check, eval_every=200)
    env.close()
    return {"solved": rec["stopped_at"] is not None, "steps": rec["stopped_at"], "train_s": rec["train_s"],
            "train_cpu_s": rec["train_cpu_s"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--final-seeds", type=int, nargs="*", default=[0, 1, 2, 3, 4],
                        help="seeds of the full default run (item 5); none to skip")
    parser.add_argument("--quick", action="store_true", help="workbook only, nothing written")
    parser.add_argument("--out", default=str(HERE / "SOLVE.md"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    hp = Hyperparameters()

    rows = []
    for seed in args.seeds:
        ours = workbook_time_to_solve(seed, hp)
        print(f"seed {seed} workbook: {ours}", flush=True)
        theirs = sb3_time_to_solve(seed) if not args.quick else None
        print(f"seed {seed} SB3 zoo : {theirs}", flush=True)
        rows.append((seed, ours, theirs))

    finals = []
    for seed in ([] if args.quick else args.final_seeds):
        summary = run(Hyperparameters(), seed=seed, agent_spec=AGENT, progress=False, log=None,
                      store_path="/tmp/bench_solve_figs")
        finals.append((seed, summary["eval_mean_return"], summary["wall_time_s"]))
        print(f"full default run, seed {seed}: greedy {summary['eval_mean_return']:.1f}, "
              f"{summary['wall_time_s']:.1f} s", flush=True)
    if args.quick:
        return

    def fmt(rec: dict) -> str:
        if not rec["solved"]:
            return f"not solved ({rec['train_s']:.1f} s)"
        return f"{rec['steps']} steps, {rec['train_s']:.1f} s wall, {rec['train_cpu_s']:.1f} s CPU"

    ours_t = [r[1]["train_s"] if r[1]["solved"] else float("inf") for r in rows]
    sb3_t = [r[2]["train_s"] if r[2]["solved"] else float("inf") for r in rows]
    ours_c = [r[1]["train_cpu_s"] if r[1]["solved"] else float("inf") for r in rows]
    sb3_c = [r[2]["train_cpu_s"] if r[2]["solved"] else float("inf") for r in rows]
    lines = [
        "# Time to solve Pendulum-v1 (greedy 10-episode mean >= -200)",
        "",
        f"Measured by `.venv/bin/python -m benchmarks.bench_solve` on {time.strftime('%Y-%m-%d')}, "
        f"{platform.machine()} with {os.cpu_count()} cores, torch {torch.__version__}, one torch thread. "
        "Evaluation every 200 steps after learning starts (10 greedy episodes, excluded from the time).",
        "",
        "| seed | workbook defaults | SB3 DDPG, zoo settings |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {seed} | {fmt(o)} | {fmt(t)} |" for seed, o, t in rows]
    med_o, med_s = statistics.median(ours_t), statistics.median(sb3_t)
    med_oc, med_sc = statistics.median(ours_c), statistics.median(sb3_c)

    def ratio(a: float, b: float) -> str:  # a median over unsolved seeds is inf: no ratio then
        return f"{a / b:.2f}x" if np.isfinite(a) and np.isfinite(b) else "n/a (a median seed did not solve)"

    solved_o, solved_s = sum(r[1]["solved"] for r in rows), sum(r[2]["solved"] for r in rows)
    lines += [
        "",
        f"- solved within the budget: workbook {solved_o} of {len(rows)} seeds, SB3 zoo {solved_s} of {len(rows)}.",
        f"- median time to solve: workbook **{med_o:.1f} s**, SB3 zoo **{med_s:.1f} s**: ratio "
        f"**{ratio(med_o, med_s)}** (target <= 0.5x); in CPU time {med_oc:.1f} s against {med_sc:.1f} s "
        f"({ratio(med_oc, med_sc)}).",
    ]
    if finals:
        evals = [f[1] for f in finals]
        lines += [
            "",
            "## The full default run (item 5)",
            "",
            f"`python -m workshop_lib.train --agent {AGENT} --seed N` ({hp.EPISODES} episodes of {hp.STEPS} steps), "
            "then 10 greedy episodes:",
            "",
            "| seed | greedy 10-episode mean | training time (s) |",
            "| --- | ---: | ---: |",
        ]
        lines += [f"| {seed} | {score:.1f} | {secs:.1f} |" for seed, score, secs in finals]
        lines += ["", f"- seeds at or above -200: **{sum(e >= SOLVED for e in evals)} of {len(evals)}**; "
                  f"median **{statistics.median(evals):.1f}** (targets: at least 4 of 5, median >= -180)."]
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    Path(args.out).write_text(text)
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
