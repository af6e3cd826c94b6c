"""The reference DDPGAgent of solutions/: the behaviour the notebook's checks and the autograder rely on."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from solutions.ddpg_agent import DDPGAgent
from workshop_lib.utils import set_seed

S, A, LIMIT = 3, 1, 2.0


@pytest.fixture
def agent() -> DDPGAgent:
    set_seed(0)
    agent = DDPGAgent(S, A, LIMIT, gamma=0.9, batch_size=8, lr=1e-3, num_hidden=1, hidden_units=16)
    for i in range(32):
        s = np.random.randn(S).astype(np.float32)
        agent.remember(s, np.random.uniform(-2, 2, A).astype(np.float32), -float(i % 5), s * 0.9, float(i % 7 == 0))
    return agent


def test_constructor_keeps_the_workshop_api(agent):
    for name in ("q_current", "q_target", "mu_current", "mu_target", "rb", "q_optimizer", "mu_optimizer"):
        assert hasattr(agent, name)
    assert agent.polyak == 0.995 and agent.gamma == 0.9 and agent.batch_size == 8 and agent.epsilon == 0.4
    assert not any(p.requires_grad for p in agent.q_target.parameters())
    assert not any(p.requires_grad for p in agent.mu_target.parameters())
    for live, target in ((agent.q_current, agent.q_target), (agent.mu_current, agent.mu_target)):
        for p, q in zip(live.parameters(), target.parameters()):
            assert torch.equal(p, q), "target networks start as copies"


@pytest.mark.parametrize("as_tensor", [False, True])
def test_select_action_is_numpy_within_limits(agent, as_tensor):
    state = np.array([1.0, 0.0, 0.5], dtype=np.float32)
    agent.epsilon = 5.0  # large noise: clipping must hold
    for _ in range(50):
        action = agent.select_action(torch.from_numpy(state) if as_tensor else state)
        assert isinstance(action, np.ndarray) and action.shape == (A,) and action.dtype == np.float32
        assert np.all(np.abs(action) <= LIMIT)


def test_greedy_action_is_mu_current(agent):
    agent.epsilon = 0.0
    state = np.array([0.3, -0.9, 1.2], dtype=np.float32)
    with torch.no_grad():
        expected = agent.mu_current(torch.from_numpy(state)).numpy()
    assert np.allclose(agent.select_action(state), expected)


def test_sample_reorders_to_rewards_before_next_states(agent):
    agent.rb.seed(3)
    states, actions, rewards, next_states, dones = agent.sample()
    assert rewards.shape == (8, 1) and dones.shape == (8, 1) and next_states.shape == (8, S)
    assert torch.allclose(next_states, states * 0.9)


def test_backward_returns_floats_and_moves_targets_by_polyak(agent):
    before = copy.deepcopy(agent)
    td_error, policy_loss = agent.backward()
    assert isinstance(td_error, float) and isinstance(policy_loss, float)
    assert td_error >= 0
    rho = agent.polyak
    for live, old_t, new_t in ((agent.q_current, before.q_target, agent.q_target),
                               (agent.mu_current, before.mu_target, agent.mu_target)):
        for p, p_old, p_new in zip(live.parameters(), old_t.parameters(), new_t.parameters()):
            assert torch.allclose(p_new, rho * p_old + (1 - rho) * p, atol=1e-7)
    assert all(p.requires_grad for p in agent.q_current.parameters()), "the critic must be unfrozen again"


def test_backward_on_an_empty_buffer_is_a_clear_error():
    agent = DDPGAgent(S, A, LIMIT)
    with pytest.raises(ValueError, match="empty replay buffer"):
        agent.backward()


def test_updates_improve_the_critic_fit_on_a_fixed_memory(agent):
    agent.polyak = 0.0  # targets follow at once: plain fitted Q iteration on a tiny memory
    first = agent.backward()[0]
    for _ in range(300):
        last = agent.backward()[0]
    assert last < first
