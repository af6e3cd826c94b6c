"""The training loop of the notebook, headless: one episode (:func:`run_episode`), many (:func:`train_agent`), and
the seeded set-up of a run (:func:`seeded_setup`).

The loop (also the notebook's training cell):

1. warm-up: the first ``warmup_episodes`` episodes only fill the replay buffer (no updates);
2. every step: act with ``a = μ(s) + ε·ξ`` (clipped; ``ξ ~ N(0, I)`` drawn by the agent, or with ``NOISE = "ou"``
   a temporally correlated ξ from :mod:`workshop_lib.noise`), store (s, a, r, s', terminated), and every
   ``update_freq`` steps after the warm-up call ``agent.backward()`` once;
3. after every episode: anneal ε linearly from ``epsilon_start`` to ``epsilon_end`` over ``decay_episodes``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from workshop_lib.env_wrapper import EnvWrapper, make_env
from workshop_lib.hyperparams import Hyperparameters
from workshop_lib.loading import load_class
from workshop_lib.noise import make_noise, noisy_action
from workshop_lib.utils import set_seed

__all__ = ["epsilon_at", "run_episode", "train_agent", "build_agent", "seeded_setup"]


def epsilon_at(episode: int, start: float, end: float, decay_episodes: float) -> float:
    """Exploration scale for ``episode`` (0-based): linear from ``start`` to ``end`` over ``decay_episodes``.

    ε_k = max(end, start - k · (start - end) / decay_episodes)   (or min(...) if end > start).
    """
    value = start - episode * (start - end) / decay_episodes
    return max(end, value) if start >= end else min(end, value)


def run_episode(agent: Any, env: EnvWrapper, learn: bool = True, update: bool = True, update_freq: int = 1,
                on_update: Callable[[float, float], None] | None = None, noise: Any = None) -> float:
    """Play one episode with ``agent.select_action``; when ``learn``, store and update as DDPG does.

    Args:
        agent: anything with ``select_action(state)``; with ``learn`` also ``remember(...)`` and ``backward()``.
        env: the wrapped environment; the episode ends at a terminal state or at the horizon.
        learn: store every transition (``agent.remember``). With ``learn=False`` nothing is stored and nothing
            is updated (evaluation, videos).
        update: with ``learn``, also call ``agent.backward()`` every ``update_freq`` steps (False during the
            warm-up, which only fills the replay memory).
        update_freq: steps between two updates.
        on_update: called with ``(td_error, policy_loss)`` after each update.
        noise: ``None`` to act with ``agent.select_action`` (its own noise); or a temporally correlated noise
            (:func:`workshop_lib.noise.make_noise`), reset here and used through
            :func:`workshop_lib.noise.noisy_action`.

    Returns:
        The episode's return (the sum of its rewards).
    """
    state = env.reset()
    if noise is not None:
        noise.reset()
    episode_return = 0.0
    while not env.episode_over:
        env.render()  # captures a frame only when env.recording is on; free otherwise
        action = agent.select_action(state) if noise is None else noisy_action(agent, state, noise)
        next_state, reward, done = env.step(action)
        episode_return += reward
        if learn:
            # Only a true terminal state is stored as done; a time-limit cut is not (see env_wrapper).
            agent.remember(state=state, action=action, reward=reward, next_state=next_state, done=float(done))
            if update and env.t % update_freq == 0:
                losses = agent.backward()
                if on_update is not None:
                    on_update(*losses)
        state = next_state
    return episode_return


def train_agent(agent: Any, env: EnvWrapper, hp: Hyperparameters, progress: bool = True,
                log: Callable[[str], None] | None = print,
                after_episode: Callable[[int, Any], bool] | None = None, seed: int | None = None) -> dict[str, Any]:
    """The training loop of the notebook, headless.

    Args:
        agent: a DDPG agent (``select_action``, ``remember``, ``backward``, attribute ``epsilon``).
        env: the wrapped environment, horizon ``hp.STEPS``.
        hp: the hyperparameters.
        progress: show a tqdm progress bar with the latest return.
        log: where the per-episode lines go (``None`` for silence).
        after_episode: called as ``after_episode(episode, agent)`` after each episode (e.g. a greedy
            evaluation); its time is not counted in ``wall_time_s``; returning True stops training.
        seed: seed of the correlated noise's generator when ``hp.NOISE`` is not ``"gaussian"``.

    Returns:
        ``{"returns", "td_errors", "policy_losses", "updates", "wall_time_s", "cpu_time_s"}`` (lists per
        episode or per update; the times cover the loop only).
    """
    from tqdm.auto import tqdm

    returns: list[float] = []
    td_errors: list[float] = []
    policy_losses: list[float] = []

    def record(td_error: float, policy_loss: float) -> None:
        td_errors.append(td_error)
        policy_losses.append(policy_loss)

    noise = make_noise(hp.NOISE, env.action_size(), seed=seed)
    bar = tqdm(range(hp.EPISODES), desc="training", unit="ep", disable=not progress, dynamic_ncols=True)
    write = bar.write if progress and log is print else log  # print would break the bar's line
    start, cpu_start = time.perf_counter(), time.process_time()
    excluded = excluded_cpu = 0.0  # time spent in after_episode
    for episode in bar:
        agent.epsilon = epsilon_at(episode, hp.EPSILON_START, hp.EPSILON_END, hp.DECAY_EPISODES)
        warmup = episode < hp.WARMUP_EPISODES
        updates_before = len(td_errors)
        episode_return = run_episode(agent, env, learn=True, update=not warmup, update_freq=hp.UPDATE_FREQ,
                                     on_update=record, noise=noise)
        returns.append(episode_return)
        if warmup:
            status = "warm-up: no updates yet"
        else:
            done_now = len(td_errors) - updates_before
            status = (f"TD ERROR: {np.mean(td_errors[-done_now:]):6.3f} | "
                      f"POLICY LOSS: {np.mean(policy_losses[-done_now:]):7.3f}") if done_now else "no update"
        bar.set_postfix(ret=f"{episode_return:.0f}")
        if log is not None:
            write(f"EPISODE {episode + 1:>4}/{hp.EPISODES} | EPSILON: {agent.epsilon:5.3f} | "
                  f"RETURN: {episode_return:8.1f} | {status}")
        if after_episode is not None:
            hook_start, hook_cpu_start = time.perf_counter(), time.process_time()
            stop = after_episode(episode, agent)
            excluded += time.perf_counter() - hook_start
            excluded_cpu += time.process_time() - hook_cpu_start
            if stop:
                break
    wall_time = time.perf_counter() - start - excluded
    cpu_time = time.process_time() - cpu_start - excluded_cpu
    bar.close()
    return {"returns": returns, "td_errors": td_errors, "policy_losses": policy_losses,
            "updates": len(td_errors), "wall_time_s": wall_time, "cpu_time_s": cpu_time}


def build_agent(agent_cls: type, env: EnvWrapper, hp: Hyperparameters) -> Any:
    """Construct the agent with the notebook's keyword arguments, then set its polyak coefficient ``hp.POLYAK``
    (as the notebook's training cell does)."""
    agent = agent_cls(
        state_size=env.state_size(), action_size=env.action_size(), action_limit=env.action_limit(),
        gamma=hp.GAMMA, batch_size=hp.BATCH_SIZE, lr=hp.LR, num_hidden=hp.NUM_H, hidden_units=hp.H,
        eps_start=hp.EPSILON_START,
    )
    agent.polyak = hp.POLYAK
    return agent


def seeded_setup(hp: Hyperparameters, seed: int, env_id: str | None = None, *,
                 agent_spec: str | type) -> tuple[EnvWrapper, Any]:
    """Seed everything (:func:`set_seed` and the env's first reset), then build the env and the agent.

    Args:
        hp: the hyperparameters.
        seed: seed of Python's ``random``, numpy, torch and the env.
        env_id: the Gymnasium id; ``None`` takes ``hp.ENV_ID``.
        agent_spec: the agent class, or ``"module:Class"`` to import it.

    Returns:
        ``(env, agent)``, with the horizon ``hp.STEPS``.
    """
    set_seed(seed)
    env = make_env(env_id or hp.ENV_ID, steps=hp.STEPS)
    env.seed(seed)
    try:
        agent_cls = agent_spec if isinstance(agent_spec, type) else load_class(agent_spec)
        return env, build_agent(agent_cls, env, hp)
    except Exception:
        env.close()
        raise
