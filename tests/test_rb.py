"""ReplayBuffer: ring storage, sample order and shapes, its own generator, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workshop_lib.rb import ReplayBuffer


def fill(rb: ReplayBuffer, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        rb.add(obs=np.full(3, i, np.float32), act=np.array([i / 10], np.float32), rew=-float(i),
               next_obs=np.full(3, i + 1, np.float32), done=float(i % 2))


def test_sample_order_shapes_and_dtypes():
    rb = ReplayBuffer(1e5, seed=0)
    fill(rb, 10)
    states, actions, next_states, rewards, dones = rb.sample(4)
    assert [tuple(t.shape) for t in (states, actions, next_states, rewards, dones)] == [
        (4, 3), (4, 1), (4, 3), (4, 1), (4, 1)]
    assert all(isinstance(t, torch.Tensor) and t.dtype == torch.float32
               for t in (states, actions, next_states, rewards, dones))
    # each row is one stored transition, fields in the documented order
    i = states[:, 0]
    assert torch.equal(next_states[:, 0], i + 1)
    assert torch.allclose(actions[:, 0], i / 10)
    assert torch.equal(rewards[:, 0], -i)
    assert torch.equal(dones[:, 0], i % 2)


def test_capacity_as_float_and_ring_overwrite():
    rb = ReplayBuffer(5.0, seed=0)
    assert rb.capacity == 5
    fill(rb, 8)
    assert len(rb) == 5
    seen = set(rb.sample(200)[0][:, 0].tolist())
    assert seen == {3.0, 4.0, 5.0, 6.0, 7.0}, "the three oldest transitions must have been overwritten"


def test_never_touches_the_global_rng():
    np.random.seed(123)
    expected = np.random.rand(3)
    np.random.seed(123)
    rb = ReplayBuffer(100, seed=5)
    fill(rb, 20)
    rb.sample(16)
    rb.seed(9)
    rb.sample(16)
    assert np.array_equal(np.random.rand(3), expected)


def test_same_seed_same_batches_and_unseeded_follows_the_global_seed():
    batches = []
    for _ in range(2):
        rb = ReplayBuffer(100, seed=1)
        fill(rb, 30)
        batches.append(rb.sample(8)[0])
    assert torch.equal(*batches)
    unseeded = []
    for _ in range(2):
        np.random.seed(4)
        rb = ReplayBuffer(100)
        fill(rb, 30)
        unseeded.append(rb.sample(8)[0])
    assert torch.equal(*unseeded)


def test_scalar_action_and_bool_done_are_stored():
    rb = ReplayBuffer(10, seed=0)
    rb.add(obs=np.zeros(3), act=0.5, rew=np.float64(1.0), next_obs=np.ones(3), done=True)
    _, actions, _, _, dones = rb.sample(1)
    assert actions.shape == (1, 1) and float(actions) == 0.5 and float(dones) == 1.0


def test_empty_buffer_sample_is_a_clear_error():
    with pytest.raises(ValueError, match="empty replay buffer"):
        ReplayBuffer(10).sample(4)


@pytest.mark.parametrize("capacity", [0, -1, 2.5, "100", True])
def test_bad_capacity(capacity):
    with pytest.raises(ValueError, match="capacity"):
        ReplayBuffer(capacity)


@pytest.mark.parametrize("batch_size", [0, -3, 2.0])
def test_bad_batch_size(batch_size):
    rb = ReplayBuffer(10, seed=0)
    fill(rb, 3)
    with pytest.raises(ValueError, match="batch_size"):
        rb.sample(batch_size)


def test_wrong_shapes_and_types_are_refused():
    rb = ReplayBuffer(10, seed=0)
    fill(rb, 1)
    s = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="shapes changed"):
        rb.add(obs=np.zeros(4), act=np.zeros(1), rew=0.0, next_obs=np.zeros(4), done=0.0)
    with pytest.raises(ValueError, match="same shape"):
        rb.add(obs=s, act=np.zeros(1), rew=0.0, next_obs=np.zeros(4), done=0.0)
    with pytest.raises(ValueError, match="single number"):
        rb.add(obs=s, act=np.zeros(1), rew=np.zeros(2), next_obs=s, done=0.0)
    with pytest.raises(ValueError, match="1-D"):
        rb.add(obs=s, act=np.zeros((1, 1)), rew=0.0, next_obs=s, done=0.0)
    with pytest.raises(TypeError, match="torch.Tensor"):
        rb.add(obs=torch.zeros(3), act=np.zeros(1), rew=0.0, next_obs=s, done=0.0)
    with pytest.raises(ValueError, match="NaN"):
        rb.add(obs=s, act=np.zeros(1), rew=float("nan"), next_obs=s, done=0.0)
    assert len(rb) == 1, "refused transitions must not be stored"
