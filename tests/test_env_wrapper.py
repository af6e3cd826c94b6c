"""EnvWrapper: Gymnasium 1.x underneath, the workshop's 3-value interface on top."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from workshop_lib.env_wrapper import EnvWrapper, make_env


def play(env: EnvWrapper, action=None) -> list[bool]:
    """Run one episode with a constant action; return the done flags."""
    env.reset()
    dones = []
    a = np.zeros(env.action_size(), dtype=np.float32) if action is None else action
    while not env.episode_over:
        _, _, done = env.step(a)
        dones.append(done)
    return dones


def test_pendulum_sizes_and_state_dtype():
    env = EnvWrapper(gym.make("Pendulum-v1"))
    assert (env.state_size(), env.action_size(), env.action_limit()) == (3, 1, 2.0)
    state = env.reset()
    assert state.dtype == np.float32 and state.shape == (3,)
    next_state, reward, done = env.step(np.array([0.5], dtype=np.float32))
    assert next_state.dtype == np.float32 and next_state.shape == (3,)
    assert isinstance(reward, float) and done is False


def test_time_limit_is_not_done():
    """Pendulum never terminates: the 200-step cut ends the episode but done stays False."""
    env = EnvWrapper(gym.make("Pendulum-v1"))
    dones = play(env)
    assert len(dones) == 200
    assert not any(dones)
    assert env.truncated and not env.terminated


@pytest.mark.parametrize("steps", [50, 1000])
def test_horizon_is_honoured_below_and_above_the_registered_limit(steps):
    env = EnvWrapper(gym.make("Pendulum-v1"), steps=steps)
    assert len(play(env)) == steps
    assert len(play(env)) == steps, "a second episode must have the same horizon"
    assert len(play(make_env("Pendulum-v1", steps=steps))) == steps


def test_true_terminal_state_is_done_on_mountain_car():
    env = EnvWrapper(gym.make("MountainCarContinuous-v0"), steps=300)
    assert (env.state_size(), env.action_size(), env.action_limit()) == (2, 1, 1.0)
    env.reset()
    env.env.unwrapped.state = np.array([0.449, 0.07])  # just left of the flag, moving right
    _, reward, done = env.step(np.array([1.0], dtype=np.float32))
    assert done is True and env.terminated and not env.truncated
    assert reward > 50  # the goal bonus
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.array([0.0], dtype=np.float32))


def test_step_after_time_limit_asks_for_reset():
    env = EnvWrapper(gym.make("Pendulum-v1"), steps=3)
    play(env)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(1, dtype=np.float32))


def test_scalar_and_list_actions_are_accepted_for_one_dimension():
    env = EnvWrapper(gym.make("Pendulum-v1"))
    env.reset()
    env.step(1.0)
    env.step([0.3])
    env.step(np.float64(-3.0))  # clipped to the limit like Gymnasium does


@pytest.mark.parametrize(
    "action, error, words",
    [
        (torch.zeros(1), TypeError, "torch"),
        (np.zeros((1, 1)), ValueError, "shape"),
        (np.zeros(2), ValueError, "shape"),
        (np.array([np.nan]), ValueError, "NaN"),
        ("left", TypeError, "numeric"),
        (None, TypeError, "numeric"),
    ],
)
def test_bad_actions_get_clear_errors(action, error, words):
    env = EnvWrapper(gym.make("Pendulum-v1"))
    env.reset()
    with pytest.raises(error, match=words) as info:
        env.step(action)
    assert "(1,)" in str(info.value) or "NaN" in words, "the message must say which shape was expected"


def test_discrete_action_space_is_refused():
    with pytest.raises(TypeError, match="Box"):
        EnvWrapper(gym.make("CartPole-v1"))


class _OneSidedEnv(gym.Env):
    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)


def test_asymmetric_box_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="RescaleAction"):
        EnvWrapper(_OneSidedEnv())


@pytest.mark.parametrize("steps", [0, -5, 2.5, "200"])
def test_bad_horizon(steps):
    with pytest.raises((ValueError, TypeError)):
        EnvWrapper(gym.make("Pendulum-v1"), steps=steps)


def test_render_is_free_and_windowless_unless_recording():
    env = EnvWrapper(gym.make("Pendulum-v1"))  # no render_mode at all
    env.reset()
    assert env.render() is None and env.frames == []
    env.recording = True
    with pytest.raises(RuntimeError, match="rgb_array"):
        env.render()


def test_recording_captures_rgb_frames():
    env = make_env("Pendulum-v1", steps=5, render=True)
    env.recording = True
    play(env)
    env.render()
    assert len(env.frames) == 1
    frame = env.frames[0]
    assert frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8


def test_seeded_reset_is_repeatable():
    env = EnvWrapper(gym.make("Pendulum-v1"))
    env.seed(7)
    first = env.reset()
    second = env.reset()
    env.seed(7)
    assert np.array_equal(env.reset(), first)
    assert np.array_equal(env.reset(), second)
    assert not np.array_equal(first, second)
