"""The main job: train a DDPG agent headless (Pendulum-v1 by default), plot the run and evaluate the greedy policy.

Run ``python -m workshop_lib.train --agent module:Class`` (``--help`` for the options); each hyperparameter of the
notebook's cell is an option named after it (``EPSILON_START`` -> ``--epsilon-start``). ``--agent`` names the class
to train, e.g. ``--agent solutions.ddpg_agent:DDPGAgent`` from the repository's root folder: the module is
imported from ``sys.path`` as Python imports any module (:func:`workshop_lib.loading.load_class`).

:func:`run` is the whole job in one call: seed and build (:func:`workshop_lib.loop.seeded_setup`), train
(:func:`workshop_lib.loop.train_agent`), plot, evaluate (:func:`workshop_lib.evaluation.evaluate`). The pieces
live in their own modules and are also importable from here, as the notebook and earlier code import them:
:mod:`workshop_lib.hyperparams` (the knobs), :mod:`workshop_lib.loop` (the training loop) and
:mod:`workshop_lib.evaluation` (greedy episodes).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workshop_lib.env_wrapper import make_env
from workshop_lib.evaluation import evaluate, greedy
from workshop_lib.hyperparams import (
    MOUNTAIN_CAR_CHANGES,
    MOUNTAIN_CAR_VALUES,
    SEED_WORKSHOP_VALUES,
    Hyperparameters,
    run_name_for,
)
from workshop_lib.loading import load_class
from workshop_lib.loop import build_agent, epsilon_at, run_episode, seeded_setup, train_agent
from workshop_lib.noise import NOISE_KINDS
from workshop_lib.utils import STORE_PATH, save_figure, visualize_result

__all__ = [
    "run", "main", "parse_args", "output_is_terminal",
    # the pieces, importable from here too (the notebook imports evaluate from workshop_lib.train)
    "Hyperparameters", "SEED_WORKSHOP_VALUES", "MOUNTAIN_CAR_CHANGES", "MOUNTAIN_CAR_VALUES", "run_name_for",
    "epsilon_at", "run_episode", "train_agent", "build_agent", "seeded_setup", "greedy", "evaluate", "STORE_PATH",
]


def run(hp: Hyperparameters, seed: int = 0, env_id: str | None = None, *, agent_spec: str, eval_episodes: int = 10,
        threads: int = 1, store_path: str = STORE_PATH, progress: bool = True,
        log: Callable[[str], None] | None = print) -> dict[str, Any]:
    """Seed, build, train, plot and evaluate; return the summary that ``--json`` writes.

    ``agent_spec`` names the agent class to train as ``"module:Class"`` (:func:`workshop_lib.loading.load_class`).
    ``env_id`` overrides ``hp.ENV_ID`` (the summary's hyperparameters then hold it). The figure is saved under a
    name of its own (:func:`workshop_lib.utils.save_figure`): a rerun never overwrites an earlier figure.
    """
    if env_id is not None and env_id != hp.ENV_ID:
        hp = dataclasses.replace(hp, ENV_ID=env_id)
    env_id = hp.ENV_ID
    hp.validate()
    torch.set_num_threads(threads)
    env, agent = seeded_setup(hp, seed, env_id, agent_spec=agent_spec)
    try:
        result = train_agent(agent, env, hp, progress=progress, log=log, seed=seed)
    finally:
        env.close()

    run_name = run_name_for(hp, env_id)
    import matplotlib.pyplot as plt

    fig = visualize_result(result["returns"], result["td_errors"], result["policy_losses"])
    figure_path = str(save_figure(fig, store_path, run_name))
    plt.close(fig)

    eval_env = make_env(env_id, steps=hp.STEPS)
    eval_env.seed(seed + 10_000)  # fresh episodes, never seen in training
    try:
        eval_returns = evaluate(agent, eval_env, eval_episodes)
    finally:
        eval_env.close()
    return {
        "env": env_id, "seed": seed, "agent": agent_spec, "torch_threads": threads,
        "hyperparameters": dataclasses.asdict(hp),
        "returns": result["returns"], "updates": result["updates"], "wall_time_s": result["wall_time_s"],
        "updates_per_s": result["updates"] / result["wall_time_s"] if result["wall_time_s"] > 0 else None,
        "eval_returns": eval_returns, "eval_mean_return": float(np.mean(eval_returns)),
        "figure": figure_path, "run_name": run_name,
    }


def output_is_terminal() -> bool:
    """True when both stdout and stderr are terminals: only then is a progress bar worth drawing.

    tqdm draws on stderr and the per-episode lines go to stdout. In a file or a CI log (``make demo > log.txt``,
    ``2>&1``, a pipe) the bar's carriage returns would mix with the lines, so the main job leaves it out there.
    """
    return all(stream is not None and hasattr(stream, "isatty") and stream.isatty()
               for stream in (sys.stdout, sys.stderr))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line: one option per hyperparameter, named after it."""
    defaults = Hyperparameters()
    parser = argparse.ArgumentParser(
        prog="python -m workshop_lib.train",
        description="Train DDPG headless, save the learning-curve figure and evaluate the greedy policy.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    for knob in dataclasses.fields(Hyperparameters):
        option = "--" + knob.name.lower().replace("_", "-")
        kind = {"float": float, "int": int, "str": str}.get(knob.type if isinstance(knob.type, str) else
                                                            knob.type.__name__, str)
        options = [option, "--env"] if knob.name == "ENV_ID" else [option]  # --env: the older name, kept
        parser.add_argument(*options, dest=knob.name, type=kind, default=getattr(defaults, knob.name),
                            choices=NOISE_KINDS if knob.name == "NOISE" else None, help=knob.metadata["help"])
    parser.add_argument("--seed", type=int, default=0, help="seed of random, numpy, torch and the env")
    parser.add_argument("--agent", metavar="MODULE:CLASS", help="the agent class to train (required), e.g. "
                        "solutions.ddpg_agent:DDPGAgent from the repository's root folder")
    parser.add_argument("--eval-episodes", type=int, default=10, help="greedy episodes after training")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for small nets)")
    parser.add_argument("--store-path", default=STORE_PATH, help="folder of the figure")
    parser.add_argument("--json", metavar="PATH", help="write the run's summary as JSON")
    bar = parser.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_const", const=True, default=None,
                     help="always show the progress bar (default: only when stdout and stderr are terminals)")
    bar.add_argument("--no-progress", dest="progress", action="store_const", const=False,
                     help="never show the progress bar")
    parser.add_argument("--quiet", action="store_true", help="no per-episode lines")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Entry point of ``python -m workshop_lib.train``."""
    args = parse_args(argv)
    if args.agent is None:
        raise SystemExit("python -m workshop_lib.train: expected --agent MODULE:CLASS, the agent class to train; "
                         "got no --agent. Fix: add e.g. --agent solutions.ddpg_agent:DDPGAgent (the reference agent, "
                         "from the repository's root folder) or --agent my_agent:DDPGAgent (your class in "
                         "my_agent.py, in the folder you start Python from).")
    agent_cls = load_class(args.agent)  # fails here, before any training, if it cannot be imported
    print(f"AGENT: {args.agent} ({agent_cls.__module__}.{agent_cls.__qualname__} from "
          f"{getattr(sys.modules.get(agent_cls.__module__), '__file__', '?')})")
    hp = Hyperparameters(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Hyperparameters)})
    progress = output_is_terminal() if args.progress is None else args.progress
    summary = run(hp, seed=args.seed, agent_spec=args.agent, eval_episodes=args.eval_episodes,
                  threads=args.threads, store_path=args.store_path, progress=progress,
                  log=None if args.quiet else print)
    print()
    print(f"TOTAL EPISODES: {hp.EPISODES} | UPDATES: {summary['updates']} | "
          f"TRAINING TIME: {summary['wall_time_s']:.1f} s | "
          f"SECONDS PER EPISODE: {summary['wall_time_s'] / hp.EPISODES:.3f} | "
          f"UPDATES PER SECOND: {summary['updates_per_s'] or 0:.0f}")
    print(f"FIGURE: {summary['figure']}")
    evals = ", ".join(f"{r:.0f}" for r in summary["eval_returns"])
    print(f"GREEDY RETURN over {args.eval_episodes} fresh episodes: {summary['eval_mean_return']:.1f} ({evals})")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(summary, indent=2))
        print(f"SUMMARY: {args.json}")
    return summary


if __name__ == "__main__":
    main()
