"""The temporally correlated exploration noise offered as an extra (workshop_lib.noise)."""

from __future__ import annotations

import numpy as np
import pytest

from solutions.ddpg_agent import DDPGAgent
from workshop_lib.noise import OrnsteinUhlenbeckNoise, make_noise, noisy_action


def test_ou_noise_is_standard_normal_with_the_stated_correlation():
    noise = OrnsteinUhlenbeckNoise(2, theta=0.1, seed=0)
    xs = np.stack([noise() for _ in range(100_000)])
    assert xs.shape == (100_000, 2) and xs.dtype == np.float32
    assert np.all(np.abs(xs.mean(axis=0)) < 0.08) and np.all(np.abs(xs.std(axis=0) - 1.0) < 0.05)
    for lag in (1, 5, 10):
        corr = np.corrcoef(xs[:-lag, 0], xs[lag:, 0])[0, 1]
        assert abs(corr - 0.9 ** lag) < 0.03, (lag, corr)
    assert abs(np.corrcoef(xs[:, 0], xs[:, 1])[0, 1]) < 0.05, "dimensions are independent"


def test_ou_noise_is_seeded_and_reset_draws_a_fresh_start():
    a, b = OrnsteinUhlenbeckNoise(1, seed=3), OrnsteinUhlenbeckNoise(1, seed=3)
    assert [float(a()[0]) for _ in range(5)] == [float(b()[0]) for _ in range(5)]
    before = a.state.copy()
    a.reset()
    assert not np.allclose(a.state, before)


def test_make_noise_names_the_kinds():
    assert make_noise("gaussian", 1) is None
    assert isinstance(make_noise("ou", 1, seed=0), OrnsteinUhlenbeckNoise)
    with pytest.raises(ValueError, match="NOISE"):
        make_noise("pink", 1)
    with pytest.raises(ValueError, match="theta"):
        OrnsteinUhlenbeckNoise(1, theta=0.0)


def test_noisy_action_is_exercise_1s_formula_with_the_given_noise():
    agent = DDPGAgent(3, 2, 1.0)
    agent.epsilon = 0.5
    state = np.zeros(3, np.float32)
    agent.epsilon = 0.0
    mu = agent.select_action(state)
    agent.epsilon = 0.5
    action = noisy_action(agent, state, lambda: np.array([0.2, -10.0], np.float32))
    assert np.allclose(action, [np.clip(mu[0] + 0.1, -1, 1), -1.0]) and action.dtype == np.float32
    assert agent.epsilon == 0.5, "epsilon is restored"
