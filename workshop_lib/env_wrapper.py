"""A small, strict wrapper around a Gymnasium environment with a continuous (Box) action space.

The DDPG notebook talks to the environment only through :class:`EnvWrapper`. It keeps the workshop's
three-value interface (``step`` returns ``(next_state, reward, done)``) while following Gymnasium 1.x
underneath, and it keeps Gymnasium's two ways an episode can end strictly apart:

* ``done`` (Gymnasium's ``terminated``) means the next state is a *true terminal state*: the task is over
  and nothing more can be earned from it. Only this flag goes into the replay buffer.
* the *time-limit cut* (Gymnasium's ``truncated``, or our own horizon ``steps``) only stops the episode
  because we ran out of time. The state after the cut is an ordinary state whose value is not zero, so
  it must never be stored as terminal. Read :attr:`EnvWrapper.episode_over` (or ``truncated``) to know
  when to start a new episode.

Pendulum-v1 never terminates, so on Pendulum ``done`` is always ``False`` and every episode ends by the
horizon alone.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

__all__ = ["EnvWrapper", "make_env"]


def make_env(env_id: str = "Pendulum-v1", steps: int | None = None, render: bool = False) -> "EnvWrapper":
    """Create a Gymnasium environment and wrap it.

    Args:
        env_id: a registered Gymnasium id with a Box action space, e.g. ``"Pendulum-v1"``.
        steps: the episode horizon; ``None`` keeps the registered time limit.
        render: create the env with ``render_mode="rgb_array"`` so that frames can be recorded.

    Returns:
        The wrapped environment.
    """
    # EnvWrapper applies the horizon (it lifts the registered TimeLimit when steps exceeds it).
    return EnvWrapper(gym.make(env_id, render_mode="rgb_array" if render else None), steps=steps)


class EnvWrapper:
    """Gymnasium env behind the workshop's interface.

    Args:
        gym_env: a Gymnasium environment (``gym.make(...)``) whose action space is a ``Box`` symmetric
            around zero (``low == -high``), such as Pendulum-v1 or MountainCarContinuous-v0.
        steps: the episode horizon. ``None`` keeps the environment's own time limit. A horizon above the
            registered limit is honoured: the wrapper lifts the inner ``TimeLimit`` to ``steps``.

    Attributes:
        steps: the horizon in use (``None`` if the env's own limit decides).
        t: the number of steps taken in the current episode.
        terminated: the last step reached a true terminal state (same as the ``done`` it returned).
        truncated: the last step was cut by the time limit / horizon.
        recording: when True, :meth:`render` captures an RGB frame into :attr:`frames`.
        frames: the frames captured while recording.

    Raises:
        TypeError: if the action space is not a ``gymnasium.spaces.Box``.
        ValueError: if the Box is not symmetric around zero, or ``steps`` is not a positive integer.
    """

    def __init__(self, gym_env: gym.Env, steps: int | None = None) -> None:
        space = gym_env.action_space
        if not isinstance(space, gym.spaces.Box):
            raise TypeError(
                f"EnvWrapper needs a continuous action space (gymnasium.spaces.Box), got {space!r}. "
                "DDPG outputs real-valued actions; use an environment such as Pendulum-v1 or "
                "MountainCarContinuous-v0."
            )
        low, high = np.asarray(space.low, dtype=np.float64), np.asarray(space.high, dtype=np.float64)
        if not (np.all(np.isfinite(high)) and np.allclose(low, -high) and np.all(high > 0)):
            raise ValueError(
                f"EnvWrapper needs a finite action Box symmetric around zero (low == -high), got "
                f"low={space.low}, high={space.high}. The actor scales tanh by one limit per dimension; "
                "rescale the actions with gymnasium.wrappers.RescaleAction(env, -1.0, 1.0) first."
            )
        if steps is not None:
            if isinstance(steps, bool) or not isinstance(steps, (int, float, np.integer, np.floating)) \
                    or not float(steps).is_integer() or int(steps) <= 0:
                raise ValueError(f"steps must be a positive integer or None, got {steps!r}.")
            steps = int(steps)
            _lift_time_limit(gym_env, steps)
        self.env = gym_env
        self.steps = steps
        self._high = high.astype(np.float32).reshape(space.shape)
        self._shape = tuple(space.shape)
        self._seed_next_reset: int | None = None
        self.t = 0
        self.terminated = False
        self.truncated = False
        self.recording = False
        self.frames: list[np.ndarray] = []

    # ----------------------------------------------------------------------------------------- sizes
    def state_size(self) -> int:
        """Number of state features (3 for Pendulum-v1: cos θ, sin θ, θ̇)."""
        return int(np.prod(self.env.observation_space.shape))

    def action_size(self) -> int:
        """Number of action dimensions (1 for Pendulum-v1: the torque)."""
        return int(np.prod(self._shape))

    def action_limit(self) -> float:
        """Largest absolute action (2.0 for Pendulum-v1). Actions live in ``[-limit, limit]``.

        With several action dimensions of different bounds this is the first one, as in the workshop.
        """
        return float(self._high.reshape(-1)[0])

    @property
    def episode_over(self) -> bool:
        """True once the current episode has ended, by a terminal state or by the time limit."""
        return self.terminated or self.truncated

    # -------------------------------------------------------------------------------------- dynamics
    def seed(self, seed: int | None) -> None:
        """Seed the environment: the next :meth:`reset` uses ``seed``; later resets continue its stream."""
        self._seed_next_reset = seed
        self.env.action_space.seed(seed)

    def reset(self) -> np.ndarray:
        """Start a new episode.

        Returns:
            The first state, a float32 array of shape ``(state_size,)``.
        """
        seed, self._seed_next_reset = self._seed_next_reset, None
        obs, _info = self.env.reset(seed=seed)
        self.t = 0
        self.terminated = False
        self.truncated = False
        return self._as_state(obs)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool]:
        """Apply one action.

        Args:
            action: a numpy array (or a Python float / list) of shape ``(action_size,)``; a scalar is
                accepted when ``action_size == 1``. Values outside the limits are clipped, as the
                environment itself would.

        Returns:
            ``(next_state, reward, done)``: float32 state of shape ``(state_size,)``, a float reward, and
            ``done`` = True only if ``next_state`` is a true terminal state (never for the time limit).

        Raises:
            TypeError: for a torch tensor or a non-numeric action.
            ValueError: for a wrong shape, NaN or infinity.
            RuntimeError: when called after the episode is over (call :meth:`reset`).
        """
        if self.episode_over:
            raise RuntimeError(
                "step() was called after the episode ended "
                f"({'terminal state' if self.terminated else f'time limit after {self.t} steps'}). "
                "Call reset() to start a new episode."
            )
        action = self._check_action(action)
        obs, reward, terminated, truncated, _info = self.env.step(action)
        self.t += 1
        self.terminated = bool(terminated)
        self.truncated = bool(truncated) or (self.steps is not None and self.t >= self.steps)
        return self._as_state(obs), float(reward), self.terminated

    def render(self) -> np.ndarray | None:
        """Capture a frame if recording was asked for; otherwise do nothing (and cost nothing).

        Never opens a window. Recording needs the env to be created with ``render_mode="rgb_array"``
        (``make_env(..., render=True)``).

        Returns:
            The RGB frame (H, W, 3) when recording, else ``None``.
        """
        if not self.recording:
            return None
        if self.env.render_mode != "rgb_array":
            raise RuntimeError(
                f"Recording needs render_mode='rgb_array', but this env has render_mode="
                f"{self.env.render_mode!r}. Create it with make_env(env_id, render=True) or "
                "gym.make(env_id, render_mode='rgb_array')."
            )
        frame = self.env.render()
        self.frames.append(frame)
        return frame

    def close(self) -> None:
        """Release the environment's resources."""
        self.env.close()

    # --------------------------------------------------------------------------------------- helpers
    def _as_state(self, obs: Any) -> np.ndarray:
        return np.asarray(obs, dtype=np.float32).reshape(-1)

    def _check_action(self, action: Any) -> np.ndarray:
        if type(action) is np.ndarray and action.shape == self._shape and action.dtype == np.float32:
            # fast path for the common, correct case (a float32 array of the right shape)
            if not np.isfinite(action).all():
                self._raise_non_finite(action)
            return np.clip(action, -self._high, self._high)
        if action is None:
            raise TypeError(
                f"step() expects a numeric array of shape ({self.action_size()},), got None. "
                "Did select_action forget to return the action?"
            )
        if type(action).__module__.startswith("torch"):
            raise TypeError(
                f"step() expects a numpy array of shape ({self.action_size()},), got a torch "
                f"{type(action).__name__}. Convert it with `action.detach().cpu().numpy()` (inside "
                "select_action, before adding the exploration noise)."
            )
        try:
            arr = np.asarray(action, dtype=np.float32)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"step() expects a numeric array of shape ({self.action_size()},), got "
                f"{type(action).__name__}: {action!r}."
            ) from err
        if arr.shape == () and self.action_size() == 1:
            arr = arr.reshape(1)
        if arr.shape != self._shape:
            raise ValueError(
                f"step() expects an action of shape {self._shape}, got shape {arr.shape}. "
                "Return one action per call (not a batch) and flatten it, e.g. `action.reshape(-1)`."
            )
        if not np.all(np.isfinite(arr)):
            self._raise_non_finite(arr)
        return np.clip(arr, -self._high, self._high)

    @staticmethod
    def _raise_non_finite(action: np.ndarray) -> None:
        raise ValueError(
            f"step() got a non-finite action {action}. NaN or inf usually means the networks diverged "
            "(learning rate too high?) or an uninitialised value was returned."
        )


def _lift_time_limit(env: gym.Env, steps: int) -> None:
    """Set every TimeLimit wrapper inside ``env`` to at least ``steps`` steps (ours then cuts exactly)."""
    layer: Any = env
    while isinstance(layer, gym.Wrapper):
        if isinstance(layer, gym.wrappers.TimeLimit):
            if layer._max_episode_steps is None or layer._max_episode_steps < steps:
                layer._max_episode_steps = steps
        layer = layer.env
