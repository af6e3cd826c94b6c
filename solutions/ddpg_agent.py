"""Reference DDPG agent: the whole class of the assignment, with both exercises solved.

This file is the instructors' reference. Tests import it to check the library and the autograder, and
``python -m workshop_lib.train`` trains it. The notebook builds the same class cell by cell with jdc's
``%%add_to DDPGAgent``; students write ``select_action`` and the marked parts of ``backward``.

Notation (as in the notebook): critic Q(s, a; θ) = ``q_current``, its target copy Q̂(s, a; θ̂) =
``q_target``; actor μ(s; φ) = ``mu_current``, its target copy μ̂(s; φ̂) = ``mu_target``; discount γ =
``gamma``; polyak coefficient ρ = ``polyak``.
"""

from __future__ import annotations

import numpy as np
import torch

from workshop_lib.nets import Actor, ContinuousQNet
from workshop_lib.rb import ReplayBuffer

__all__ = ["DDPGAgent"]


class DDPGAgent:
    """Deep Deterministic Policy Gradient (Lillicrap et al., 2015) with a replay buffer and target networks.

    Args:
        state_size: number of state features S.
        action_size: number of action dimensions A.
        action_limit: largest absolute action; actions live in [-action_limit, action_limit].
        gamma: discount factor γ.
        batch_size: mini-batch size B of each update.
        lr: learning rate of both Adam optimizers (critic and actor).
        num_hidden: hidden layers of each network.
        hidden_units: units per hidden layer.
        eps_start: initial scale ε of the Gaussian exploration noise added to the actor's action.
    """

    def __init__(self, state_size, action_size, action_limit, gamma=0.98, batch_size=64, lr=0.001,
                 num_hidden=2, hidden_units=64, eps_start=0.4):
        self.action_size = action_size
        self.state_size = state_size
        self.action_limit = action_limit
        self.gamma = gamma
        self.name = "DDPG"

        # Critic Q(s, a; θ) and its target copy Q̂(s, a; θ̂), which is never trained by gradients.
        self.q_current = ContinuousQNet(state_size, action_size, h=hidden_units, num_hidden=num_hidden)
        self.q_target = ContinuousQNet(state_size, action_size, h=hidden_units, num_hidden=num_hidden)
        self.q_target.load_state_dict(self.q_current.state_dict())
        self.q_target.requires_grad_(False)

        # Actor μ(s; φ) and its target copy μ̂(s; φ̂).
        self.mu_current = Actor(state_size, action_size, action_limit, h=hidden_units, num_hidden=num_hidden)
        self.mu_target = Actor(state_size, action_size, action_limit, h=hidden_units, num_hidden=num_hidden)
        self.mu_target.load_state_dict(self.mu_current.state_dict())
        self.mu_target.requires_grad_(False)

        self.rb = self.init_rb()
        self.batch_size = batch_size
        self.epsilon = eps_start

        self.q_optimizer = torch.optim.Adam(self.q_current.parameters(), lr=lr)
        self.mu_optimizer = torch.optim.Adam(self.mu_current.parameters(), lr=lr)
        self.polyak = 0.995
        # (target, live) parameter lists for the polyak update, collected once: walking the modules at
        # every update costs more than the arithmetic on these small networks.
        self._polyak_pairs = [
            (list(self.q_target.parameters()), list(self.q_current.parameters())),
            (list(self.mu_target.parameters()), list(self.mu_current.parameters())),
        ]

    # --------------------------------------------------------------------------- replay memory
    def init_rb(self):
        """Create the replay buffer D (100 000 transitions, float32)."""
        return ReplayBuffer(1e5, obs_dtype=np.float32, act_dtype=np.float32, default_dtype=np.float32)

    def remember(self, state, action, reward, next_state, done):
        """Store the transition (s, a, r, s', done) in D. ``done`` is 1.0 only for a true terminal s'."""
        self.rb.add(obs=state, act=action, rew=reward, next_obs=next_state, done=done)

    def sample(self):
        """Sample a mini-batch: states (B, S), actions (B, A), rewards (B, 1), next_states (B, S), dones (B, 1)."""
        states, actions, next_states, rewards, dones = self.rb.sample(self.batch_size)
        return states, actions, rewards, next_states, dones

    # --------------------------------------------------------------------------- target networks
    def _update_target_model(self):
        """Polyak averaging: θ̂ ← ρ θ̂ + (1 - ρ) θ and φ̂ ← ρ φ̂ + (1 - ρ) φ, with ρ = ``self.polyak``."""
        with torch.no_grad():
            for target_params, live_params in self._polyak_pairs:
                for p_targ, p in zip(target_params, live_params):
                    p_targ.mul_(self.polyak).add_(p, alpha=1 - self.polyak)

    # --------------------------------------------------------------------------- Exercise 1
    def select_action(self, state):
        """Act: a = clip(μ(s; φ) + ε·N(0, I), -limit, limit).

        Args:
            state: one state, a numpy array or a torch tensor of shape (S,).

        Returns:
            A float32 numpy array of shape (A,) within [-action_limit, action_limit].
        """
        with torch.no_grad():
            state = torch.as_tensor(state, dtype=torch.float32)
            action = self.mu_current(state).numpy()
        action = action + self.epsilon * np.random.randn(self.action_size)
        return np.clip(action, -self.action_limit, self.action_limit).astype(np.float32)

    # --------------------------------------------------------------------------- Exercise 2
    def backward(self):
        """One DDPG update of the critic, then the actor, then the target networks.

        Returns:
            (mean |TD error| of the batch, policy loss -mean Q(s, μ(s))) as Python floats.
        """
        # 1. Sample a mini-batch of transitions from the replay buffer.
        states, actions, rewards, next_states, dones = self.sample()

        # 2a. Prediction: Q(s, a; θ) for the actions that were actually played, (B, 1).
        qs_selected = self.q_current(torch.cat([states, actions], dim=1))

        # 2b. Target: y = r + γ (1 - done) Q̂(s', μ̂(s'; φ̂); θ̂), (B, 1), without gradient.
        with torch.no_grad():
            next_actions = self.mu_target(next_states)
            next_q = self.q_target(torch.cat([next_states, next_actions], dim=1))
            qs_target = rewards + self.gamma * (1 - dones) * next_q

        # Given: the critic's regression step on (qs_selected, qs_target).
        with torch.no_grad():
            td_error = torch.abs(qs_target - qs_selected).detach()
        self.q_optimizer.zero_grad()
        loss = (torch.nn.functional.mse_loss(qs_selected, qs_target)).mean()
        loss.backward()
        self.q_optimizer.step()

        # Given: freeze the critic while the actor is trained through it.
        for p in self.q_current.parameters():
            p.requires_grad = False

        # 3. Policy objective: gradient ascent on Q(s, μ(s; φ); θ), i.e. descent on its negative, (B, 1).
        q_mu = -self.q_current(torch.cat([states, self.mu_current(states)], dim=1))

        # Given: the actor's step, unfreezing the critic, and the polyak update.
        self.mu_optimizer.zero_grad()
        loss_mu = q_mu.mean()
        loss_mu.backward()
        self.mu_optimizer.step()

        for p in self.q_current.parameters():
            p.requires_grad = True

        self._update_target_model()
        return torch.mean(td_error).item(), loss_mu.detach().item()
