"""Temporally correlated exploration noise, an extra for problems where Exercise 1's noise is not enough.

Exercise 1 explores with ``a = clip(μ(s) + ε·ξ)``, where every step draws a fresh ``ξ ~ N(0, I)``. Consecutive
draws are independent, so their pushes cancel out within a few steps. That is fine on Pendulum, but on
MountainCarContinuous-v0 the car only reaches the flag if it keeps pushing the same way for dozens of steps:
independent noise almost never does that.

:class:`OrnsteinUhlenbeckNoise` draws ``ξ_t`` from an Ornstein-Uhlenbeck process in discrete time (an AR(1)
process), as the DDPG paper did:

    ξ_{t+1} = (1 - θ) ξ_t + sqrt(1 - (1 - θ)²) z_t,    z_t ~ N(0, I),

so each ``ξ_t`` is still standard normal (mean 0, standard deviation 1, and ε keeps its meaning) but consecutive
values are correlated: the correlation between ``ξ_t`` and ``ξ_{t+k}`` is ``(1 - θ)^k``, and a push lasts about
``1/θ`` steps.

In the training loop the noise replaces the ``ξ`` of Exercise 1's formula through :func:`noisy_action`, which
asks your ``select_action`` for the noiseless action (ε = 0) and adds ``ε·ξ_t`` itself::

    noise = make_noise("ou", env.action_size(), seed=SEED)     # None for "gaussian" (Exercise 1's own noise)
    ...
    noise.reset()                                              # at the start of every episode
    action = noisy_action(agent, state, noise)                 # clip(μ(s) + ε·ξ_t)
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["NOISE_KINDS", "OrnsteinUhlenbeckNoise", "make_noise", "noisy_action"]

#: The values of the ``NOISE`` hyperparameter.
NOISE_KINDS = ("gaussian", "ou")


class OrnsteinUhlenbeckNoise:
    """Standard-normal noise with memory: an Ornstein-Uhlenbeck (AR(1)) process, one per action dimension.

    Args:
        size: number of action dimensions.
        theta: mean-reversion rate θ in (0, 1]; a push lasts about 1/θ steps. θ = 1 gives independent draws
            (Exercise 1's noise).
        seed: seed of the process's own random generator (the global generators are left alone).

    Each call returns the next ``ξ_t``, a float32 array of shape ``(size,)``; every ``ξ_t`` has mean 0 and
    standard deviation 1, and ``corr(ξ_t, ξ_{t+k}) = (1 - θ)^k``.
    """

    def __init__(self, size: int, theta: float = 0.15, seed: int | None = None) -> None:
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"size must be a positive integer, got {size!r}.")
        if not 0.0 < theta <= 1.0:
            raise ValueError(f"theta must lie in (0, 1], got {theta!r}.")
        self.size, self.theta = int(size), float(theta)
        self._keep = 1.0 - self.theta
        self._fresh = float(np.sqrt(1.0 - self._keep ** 2))
        self.rng = np.random.default_rng(seed)
        self.state = np.zeros(self.size)
        self.reset()

    def reset(self) -> None:
        """Start a new episode: draw ``ξ_0`` afresh from the stationary N(0, I)."""
        self.state = self.rng.standard_normal(self.size)

    def __call__(self) -> np.ndarray:
        """The current ``ξ_t``; the process then moves on to ``ξ_{t+1}``."""
        value = self.state.astype(np.float32)
        self.state = self._keep * self.state + self._fresh * self.rng.standard_normal(self.size)
        return value

    def __repr__(self) -> str:
        return f"OrnsteinUhlenbeckNoise(size={self.size}, theta={self.theta})"


def make_noise(kind: str, size: int, seed: int | None = None, theta: float = 0.15) -> OrnsteinUhlenbeckNoise | None:
    """The exploration noise named by the ``NOISE`` hyperparameter.

    Args:
        kind: ``"gaussian"`` (Exercise 1's independent noise, drawn by your ``select_action``: returns ``None``)
            or ``"ou"`` (:class:`OrnsteinUhlenbeckNoise`).
        size: number of action dimensions.
        seed: seed of the noise's own generator.
        theta: θ of the Ornstein-Uhlenbeck process.

    Raises:
        ValueError: for another ``kind``.
    """
    if kind == "gaussian":
        return None
    if kind == "ou":
        return OrnsteinUhlenbeckNoise(size, theta=theta, seed=seed)
    raise ValueError(f"NOISE must be one of {NOISE_KINDS}, got {kind!r}.")


def noisy_action(agent: Any, state: np.ndarray, noise: Any) -> np.ndarray:
    """Exercise 1's formula ``clip(μ(s) + ε·ξ, -a_max, a_max)`` with ``ξ`` taken from ``noise``.

    ``μ(s)`` is what ``agent.select_action(state)`` returns with ``agent.epsilon`` set to 0 for the call (then
    restored); ``ε`` is ``agent.epsilon`` and ``a_max`` is ``agent.action_limit``.

    Args:
        agent: the DDPG agent.
        state: one state.
        noise: a callable returning one ``ξ`` of shape ``(action_size,)`` per call, e.g.
            :class:`OrnsteinUhlenbeckNoise`.

    Returns:
        A float32 array of shape ``(action_size,)``.
    """
    epsilon = agent.epsilon
    agent.epsilon = 0.0
    try:
        action = np.asarray(agent.select_action(state), dtype=np.float32)
    finally:
        agent.epsilon = epsilon
    limit = agent.action_limit
    return np.clip(action + epsilon * noise(), -limit, limit).astype(np.float32)
