"""Greedy evaluation: play the policy without exploration noise, storing nothing and learning nothing."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from workshop_lib.env_wrapper import EnvWrapper
from workshop_lib.loop import run_episode

__all__ = ["greedy", "evaluate"]


@contextlib.contextmanager
def greedy(agent: Any) -> Iterator[None]:
    """Set the agent's exploration scale ``epsilon`` to 0 inside the block, then restore it.

    An object without an ``epsilon`` attribute (a plain policy) is left alone.
    """
    if not hasattr(agent, "epsilon"):
        yield
        return
    saved = agent.epsilon
    agent.epsilon = 0.0
    try:
        yield
    finally:
        agent.epsilon = saved


def evaluate(agent: Any, env: EnvWrapper, episodes: int = 10) -> list[float]:
    """Returns of ``episodes`` greedy episodes (ε = 0, nothing stored, no updates)."""
    with greedy(agent):
        return [run_episode(agent, env, learn=False) for _ in range(episodes)]
