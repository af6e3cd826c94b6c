"""ContinuousQNet and Actor: shapes, limits, gradients, and clear errors."""

from __future__ import annotations

import pytest
import torch

from workshop_lib.nets import Actor, ContinuousQNet, mlp

S, A = 3, 1


def test_q_net_batch_and_single_shapes():
    q = ContinuousQNet(S, A, h=16, num_hidden=2)
    assert q(torch.zeros(5, S + A)).shape == (5, 1)
    assert q(torch.zeros(S + A)).shape == (1,)


def test_q_net_pair_form_equals_concatenation():
    torch.manual_seed(0)
    q = ContinuousQNet(S, 2, h=16, num_hidden=1)
    s, a = torch.randn(4, S), torch.randn(4, 2)
    assert torch.equal(q(s, a), q(torch.cat([s, a], dim=1)))
    assert torch.equal(q(s, a), q(torch.cat([s, a], dim=-1)))


def test_actor_respects_limits_and_keeps_gradient_at_the_bound():
    torch.manual_seed(0)
    actor = Actor(S, 2, action_limit=2.0, h=16, num_hidden=1)
    states = 100 * torch.randn(256, S)  # large inputs drive tanh towards saturation
    actions = actor(states)
    assert actions.shape == (256, 2)
    assert actions.abs().max() <= 2.0
    assert actor(torch.zeros(S)).shape == (2,)
    # A clamp would give exactly zero gradient outside the bounds; tanh scaling never does.
    state = torch.randn(1, S)
    actor(state).sum().backward()
    grads = [p.grad for p in actor.parameters()]
    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)


def test_actor_per_dimension_limits_and_target_copy():
    actor = Actor(S, 2, action_limit=[1.0, 3.0], h=8, num_hidden=1)
    with torch.no_grad():
        actor.body[-1].bias.fill_(50.0)  # saturate tanh
    out = actor(torch.zeros(S))
    assert torch.allclose(out, torch.tensor([1.0, 3.0]))
    twin = Actor(S, 2, action_limit=[1.0, 3.0], h=8, num_hidden=1)
    twin.load_state_dict(actor.state_dict())
    assert torch.equal(twin(torch.zeros(S)), out)
    assert "action_limit" not in dict(actor.named_parameters()), "the limit must not be trained"


def test_architecture_follows_num_hidden_and_h():
    linear = [m for m in mlp(4, 1, h=32, num_hidden=3) if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(4, 32), (32, 32), (32, 32), (32, 1)]
    assert len([m for m in mlp(4, 1, h=32, num_hidden=0) if isinstance(m, torch.nn.Linear)]) == 1


@pytest.mark.parametrize(
    "x, error, words",
    [
        (torch.zeros(5, S), ValueError, r"\(B, 4\)"),  # state only, action forgotten
        (torch.zeros(5, S + A, dtype=torch.float64), TypeError, "float32"),
        ([0.0] * (S + A), TypeError, "torch.Tensor"),
        (torch.zeros(2, 5, S + A), ValueError, "shape"),
    ],
)
def test_q_net_bad_input(x, error, words):
    with pytest.raises(error, match=words):
        ContinuousQNet(S, A, h=8, num_hidden=1)(x)


def test_actor_bad_input_names_the_fix():
    actor = Actor(S, A, 2.0, h=8, num_hidden=1)
    import numpy as np

    with pytest.raises(TypeError, match="torch.as_tensor"):
        actor(np.zeros(S, dtype=np.float32))
    with pytest.raises(ValueError, match=r"\(3,\)"):
        actor(torch.zeros(4))
    with pytest.raises(ValueError, match="same batch"):
        ContinuousQNet(S, A, h=8, num_hidden=1)(torch.zeros(4, S), torch.zeros(3, A))


@pytest.mark.parametrize("kwargs", [dict(h=0), dict(num_hidden=-1), dict(h=2.5)])
def test_bad_sizes(kwargs):
    with pytest.raises(ValueError):
        ContinuousQNet(S, A, **{"h": 8, "num_hidden": 1, **kwargs})


def test_bad_action_limit():
    with pytest.raises(ValueError, match="action_limit"):
        Actor(S, 2, action_limit=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="action_limit"):
        Actor(S, 1, action_limit=0.0)
