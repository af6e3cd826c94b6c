"""The two networks of DDPG: the critic Q(s, a) and the deterministic actor μ(s).

Both are plain multilayer perceptrons (``num_hidden`` hidden layers of ``h`` ReLU units) and both accept
one sample (a 1-D tensor) or a batch (a 2-D tensor of shape ``(B, features)``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["ContinuousQNet", "Actor", "MLP", "mlp"]


class MLP(nn.Sequential):
    """``nn.Sequential`` of ``Linear`` and ``ReLU`` layers whose forward pass skips the per-layer module calls.

    The layers, their parameter names (``0.weight``, ``0.bias``, ``2.weight``, ...) and their initialisation
    are exactly those of the plain ``nn.Sequential``; only :meth:`forward` differs. It calls
    ``F.linear`` and ``torch.relu`` on each layer's weights directly instead of calling each layer as a
    module: on networks this small, the bookkeeping of a module call (hooks, dispatch) costs about as much as
    the arithmetic, and the training loop calls the networks six times per step. The price: forward hooks
    registered on the individual layers do not fire (hooks on the whole network do), and layers appended after
    construction are not used.
    """

    def __init__(self, *layers: nn.Module) -> None:
        super().__init__(*layers)
        if not all(type(layer) in (nn.Linear, nn.ReLU) for layer in layers):
            raise TypeError("MLP holds nn.Linear and nn.ReLU layers only; use nn.Sequential for other layers.")
        # (linear layer, followed by a ReLU?) pairs, fixed at construction.
        self._plan = [(layer, i + 1 < len(layers) and type(layers[i + 1]) is nn.ReLU)
                      for i, layer in enumerate(layers) if type(layer) is nn.Linear]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the layers in order; the same result as ``nn.Sequential.forward``."""
        for linear, relu in self._plan:
            x = F.linear(x, linear.weight, linear.bias)
            if relu:
                x = torch.relu(x)
        return x


def mlp(in_size: int, out_size: int, h: int, num_hidden: int) -> MLP:
    """Build ``in_size -> [h, ReLU] * num_hidden -> out_size`` (a linear output layer).

    Args:
        in_size: number of input features.
        out_size: number of outputs.
        h: units per hidden layer.
        num_hidden: number of hidden layers (0 gives a single linear layer).
    """
    for name, value in (("in_size", in_size), ("out_size", out_size), ("h", h)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    if not isinstance(num_hidden, int) or isinstance(num_hidden, bool) or num_hidden < 0:
        raise ValueError(f"num_hidden must be a non-negative integer, got {num_hidden!r}.")
    layers: list[nn.Module] = []
    width = in_size
    for _ in range(num_hidden):
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, out_size))
    return MLP(*layers)


def _check_input(net: str, x: torch.Tensor, width: int, what: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{net} expects a torch.Tensor, got {type(x).__name__}. Convert a numpy state with "
            "`torch.as_tensor(state, dtype=torch.float32)`."
        )
    if x.dim() not in (1, 2) or x.shape[-1] != width:
        raise ValueError(
            f"{net} expects {what} of shape ({width},) or (B, {width}), got {tuple(x.shape)}."
        )
    if x.dtype != torch.float32:
        raise TypeError(
            f"{net} expects float32 input, got {x.dtype}. Use `.float()` (numpy arrays are float64 "
            "unless made float32)."
        )


class ContinuousQNet(nn.Module):
    """Critic: Q(s, a), the expected discounted return of taking action ``a`` in state ``s``.

    Unlike DQN's network, which outputs one value per discrete action, this network takes the action as an
    *input* and outputs a single number, so it works for continuous actions.

    Args:
        state_size: number of state features S.
        action_size: number of action dimensions A.
        h: units per hidden layer.
        num_hidden: number of hidden layers.

    Call it with the concatenation ``x = torch.cat([states, actions], dim=-1)`` of shape (B, S + A)
    (the workshop's form), or with two tensors ``q_net(states, actions)``. The result has shape (B, 1)
    for a batch and (1,) for a single 1-D input.
    """

    def __init__(self, state_size: int, action_size: int, h: int = 64, num_hidden: int = 2) -> None:
        super().__init__()
        self.state_size = state_size
        self.action_size = action_size
        self.body = mlp(state_size + action_size, 1, h, num_hidden)

    def forward(self, x: torch.Tensor, action: torch.Tensor | None = None) -> torch.Tensor:
        """Q-values.

        Args:
            x: state-action concatenation (B, S + A) or (S + A,); or the states (B, S) when ``action``
                is given.
            action: optional actions (B, A), concatenated to ``x`` on the last dimension.

        Returns:
            Q(s, a) of shape (B, 1) (or (1,) for a single sample).
        """
        if action is not None:
            _check_input("ContinuousQNet", x, self.state_size, "states")
            _check_input("ContinuousQNet", action, self.action_size, "actions")
            if x.dim() != action.dim() or (x.dim() == 2 and x.shape[0] != action.shape[0]):
                raise ValueError(
                    f"ContinuousQNet got states {tuple(x.shape)} and actions {tuple(action.shape)}: "
                    "they need the same batch size B."
                )
            x = torch.cat([x, action], dim=-1)
        _check_input("ContinuousQNet", x, self.state_size + self.action_size,
                     "the state-action concatenation")
        return self.body(x)


class Actor(nn.Module):
    """Deterministic policy μ(s): the action the agent believes maximises Q(s, ·).

    The last layer goes through ``tanh`` and is scaled by ``action_limit``, so every action lies in
    ``[-action_limit, action_limit]`` and the gradient never vanishes abruptly (a clamp would give zero
    gradient outside the bounds).

    Args:
        state_size: number of state features S.
        action_size: number of action dimensions A.
        action_limit: the largest absolute action (a float, or one bound per dimension).
        h: units per hidden layer.
        num_hidden: number of hidden layers.
    """

    def __init__(self, state_size: int, action_size: int, action_limit: float, h: int = 64,
                 num_hidden: int = 2) -> None:
        super().__init__()
        self.state_size = state_size
        self.action_size = action_size
        limit = torch.as_tensor(action_limit, dtype=torch.float32).reshape(-1)
        if limit.numel() not in (1, action_size) or not bool(torch.all(limit > 0)):
            raise ValueError(
                f"action_limit must be a positive number or {action_size} positive numbers, "
                f"got {action_limit!r}."
            )
        # A buffer: saved in state_dict, copied to target networks, never trained.
        self.register_buffer("action_limit", limit.expand(action_size).clone())
        self.body = mlp(state_size, action_size, h, num_hidden)

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        """Actions μ(s) = action_limit · tanh(f(s)).

        Args:
            state: (B, S) or (S,) float32.

        Returns:
            Actions of shape (B, A) (or (A,) for one state).
        """
        _check_input("Actor", state, self.state_size, "states")
        return self.action_limit * torch.tanh(self.body(state))
