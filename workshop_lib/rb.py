"""Experience replay: a fixed-size ring buffer of transitions (s, a, r, s', done).

DDPG, like DQN, learns from random mini-batches of past transitions rather than from the latest one:
consecutive transitions are strongly correlated, and sampling uniformly from a large memory breaks that
correlation and lets each transition be reused many times.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["ReplayBuffer"]


class ReplayBuffer:
    """Ring buffer with uniform sampling.

    Storage is allocated on the first :meth:`add`, whose shapes fix those of every later transition.
    When the buffer is full, each new transition overwrites the oldest one.

    Args:
        capacity: maximum number of transitions; an integer or an integral float such as ``1e5``.
        obs_dtype: numpy dtype of stored states and next states.
        act_dtype: numpy dtype of stored actions.
        default_dtype: numpy dtype of rewards and done flags.
        seed: seed of the buffer's own random generator. ``None`` draws one number from numpy's global
            generator, so that ``set_seed(...)`` before building the buffer makes sampling repeatable.
            The buffer never reseeds numpy's (or any other) global generator.

    Example:
        >>> rb = ReplayBuffer(1e5, seed=0)
        >>> rb.add(obs=s, act=a, rew=-1.3, next_obs=s2, done=0.0)
        >>> states, actions, next_states, rewards, dones = rb.sample(64)
    """

    def __init__(self, capacity: int | float, obs_dtype: Any = np.float32, act_dtype: Any = np.float32,
                 default_dtype: Any = np.float32, seed: int | None = None) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, (int, float, np.integer, np.floating)) \
                or not float(capacity).is_integer() or capacity < 1:
            raise ValueError(f"capacity must be a positive whole number (e.g. 100000 or 1e5), got {capacity!r}.")
        self.capacity = int(capacity)
        self.obs_dtype = np.dtype(obs_dtype)
        self.act_dtype = np.dtype(act_dtype)
        self.default_dtype = np.dtype(default_dtype)
        if seed is None:
            seed = int(np.random.randint(0, 2**31 - 1))  # draws from the global RNG, never reseeds it
        self.rng = np.random.default_rng(seed)
        self._obs: np.ndarray | None = None
        self._act: np.ndarray | None = None
        self._next_obs: np.ndarray | None = None
        self._rew = np.zeros((self.capacity, 1), dtype=self.default_dtype)
        self._done = np.zeros((self.capacity, 1), dtype=self.default_dtype)
        self._next = 0  # index the next transition is written to
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def seed(self, seed: int) -> None:
        """Reseed the buffer's own generator (and only it)."""
        self.rng = np.random.default_rng(seed)

    def add(self, obs: Any, act: Any, rew: Any, next_obs: Any, done: Any) -> None:
        """Store one transition.

        Args:
            obs: state s, array of shape (S,).
            act: action a taken in s, array of shape (A,) (a float is taken as shape (1,)).
            rew: reward r, a number.
            next_obs: next state s', shape (S,).
            done: 1.0 (or True) if s' is a true terminal state, else 0.0. Never 1 for a time-limit cut.

        Raises:
            TypeError: for torch tensors or non-numeric values.
            ValueError: for shapes that differ from the first transition, or a non-scalar reward/done.
        """
        obs = self._array("obs", obs, self.obs_dtype)
        next_obs = self._array("next_obs", next_obs, self.obs_dtype)
        act = self._array("act", act, self.act_dtype)
        rew_arr = self._array("rew", rew, self.default_dtype)
        done_arr = self._array("done", done, self.default_dtype)
        if obs.ndim != 1 or next_obs.shape != obs.shape:
            raise ValueError(
                f"obs and next_obs must be 1-D states of the same shape, got {obs.shape} and "
                f"{next_obs.shape}. Store one transition at a time."
            )
        if act.ndim == 0:
            act = act.reshape(1)
        if act.ndim != 1:
            raise ValueError(f"act must be a 1-D action of shape (action_size,), got shape {act.shape}.")
        for name, arr in (("rew", rew_arr), ("done", done_arr)):
            if arr.size != 1:
                raise ValueError(f"{name} must be a single number per transition, got shape {arr.shape}.")
        if self._obs is None:
            self._obs = np.zeros((self.capacity, *obs.shape), dtype=self.obs_dtype)
            self._next_obs = np.zeros((self.capacity, *obs.shape), dtype=self.obs_dtype)
            self._act = np.zeros((self.capacity, *act.shape), dtype=self.act_dtype)
        elif obs.shape != self._obs.shape[1:] or act.shape != self._act.shape[1:]:  # type: ignore[union-attr]
            raise ValueError(
                f"transition shapes changed: the buffer holds states {self._obs.shape[1:]} and actions "
                f"{self._act.shape[1:]}, got states {obs.shape} and actions {act.shape}."  # type: ignore[union-attr]
            )
        i = self._next
        self._obs[i] = obs
        self._act[i] = act  # type: ignore[index]
        self._next_obs[i] = next_obs  # type: ignore[index]
        self._rew[i, 0] = rew_arr.reshape(())
        self._done[i, 0] = done_arr.reshape(())
        self._next = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int) -> tuple[torch.Tensor, ...]:
        """Draw ``batch_size`` transitions uniformly at random (with replacement).

        Returns:
            ``(states, actions, next_states, rewards, dones)`` as torch tensors of shapes
            (B, S), (B, A), (B, S), (B, 1), (B, 1), B = ``batch_size``.

        Raises:
            ValueError: if the buffer is empty or ``batch_size`` is not a positive integer.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
        if self.size == 0:
            raise ValueError(
                "cannot sample from an empty replay buffer: add transitions first (the training loop "
                "stores every step with remember() and only starts updates after the warm-up)."
            )
        idx = self.rng.integers(0, self.size, size=int(batch_size))
        return tuple(
            torch.from_numpy(store[idx])
            for store in (self._obs, self._act, self._next_obs, self._rew, self._done)
        )

    @staticmethod
    def _array(name: str, value: Any, dtype: np.dtype) -> np.ndarray:
        if isinstance(value, torch.Tensor):
            raise TypeError(
                f"ReplayBuffer.add() expects numpy arrays or numbers, got a torch.Tensor for {name}. "
                f"Store numpy data (e.g. `{name}.detach().cpu().numpy()`); sample() converts to torch."
            )
        try:
            arr = np.asarray(value, dtype=dtype)
        except (TypeError, ValueError) as err:
            raise TypeError(f"ReplayBuffer.add(): {name} must be numeric, got {type(value).__name__}.") from err
        if not np.isfinite(arr).all():
            raise ValueError(f"ReplayBuffer.add(): {name} holds NaN or inf: {value!r}.")
        return arr
