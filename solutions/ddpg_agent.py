"""The reference DDPG agent: the master notebook's class with both exercises solved, as one module.

GENERATED from autograder/course/source/ddpg/ddpg_pendulum.ipynb by `make notebooks` (autograder/build_notebooks.py):
edit the master, never this file; a test fails while they differ. The grader compares every submission with
this class (autograder/verdict.py), `python -m workshop_lib.train --agent
solutions.ddpg_agent:DDPGAgent` trains it (`make demo`), and the tests import it.

Notation (as in the notebook): critic Q(s, a; θ) = ``q_current``, its target copy Q̂(s, a; θ̂) = ``q_target``;
actor μ(s; φ) = ``mu_current``, its target copy μ̂(s; φ̂) = ``mu_target``; discount γ = ``gamma``; polyak
coefficient ρ = ``polyak``.
"""

import numpy as np
import torch

from workshop_lib.nets import Actor, ContinuousQNet
from workshop_lib.rb import ReplayBuffer

__all__ = ["DDPGAgent"]


class DDPGAgent:
    # Deep Deterministic Policy Gradient: a critic, an actor, their target copies and a replay memory.

    def __init__(self, state_size, action_size, action_limit, gamma=0.98, batch_size=64, lr=0.001,
                 num_hidden=2, hidden_units=64, eps_start=0.4):
        self.action_size = action_size
        self.state_size = state_size
        self.action_limit = action_limit
        self.gamma = gamma
        self.name = "DDPG"

        # Critic Q(s, a; θ) and its target copy Q̂(s, a; θ̂): same weights at the start, no gradients for the copy.
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
        self.epsilon = eps_start  # scale of the exploration noise; the training loop lowers it over time

        # fused=True: one kernel updates all of a network's parameters at once (the default on a CPU loops over
        # them in Python, which costs more than the arithmetic on networks this small).
        self.q_optimizer = torch.optim.Adam(self.q_current.parameters(), lr=lr, fused=True)
        self.mu_optimizer = torch.optim.Adam(self.mu_current.parameters(), lr=lr, fused=True)
        self.polyak = 0.995  # ρ of the target update (the training cell sets it to POLYAK)
        # Parameter lists collected once: walking the modules at every update costs more than the arithmetic.
        self._critic_params = list(self.q_current.parameters())  # frozen during the actor's step
        self._target_params = [*self.q_target.parameters(), *self.mu_target.parameters()]
        self._live_params = [*self.q_current.parameters(), *self.mu_current.parameters()]

    def init_rb(self):
        # The replay memory D: 100 000 transitions, stored as float32.
        return ReplayBuffer(1e5, obs_dtype=np.float32, act_dtype=np.float32, default_dtype=np.float32)

    def remember(self, state, action, reward, next_state, done):
        # Store (s, a, r, s', d); d = 1.0 only when s' is a true terminal state.
        self.rb.add(obs=state, act=action, rew=reward, next_obs=next_state, done=done)

    def sample(self):
        # A mini-batch as (states, actions, rewards, next_states, dones); the buffer gives next_states before rewards.
        states, actions, next_states, rewards, dones = self.rb.sample(self.batch_size)
        return states, actions, rewards, next_states, dones

    def _update_target_model(self):
        # θ̂ ← ρ θ̂ + (1 - ρ) θ for the critic, and φ̂ ← ρ φ̂ + (1 - ρ) φ for the actor, in place.
        with torch.no_grad():
            # One call for all parameters: θ̂ ← θ̂ + (1 - ρ)(θ - θ̂), which is ρ θ̂ + (1 - ρ) θ.
            torch._foreach_lerp_(self._target_params, self._live_params, 1 - self.polyak)

    def select_action(self, state):
        """Choose the action to play in `state`: the actor's action plus Gaussian exploration noise.

        Args:
            state: one state, a float32 NumPy array of shape (state_size,).

        Returns:
            A NumPy array of shape (action_size,), clipped to [-action_limit, action_limit].
        """
        with torch.no_grad():
            state = torch.as_tensor(state, dtype=torch.float32)
            action = self.mu_current(state).numpy()
        action = action + self.epsilon * np.random.randn(self.action_size)
        return np.clip(action, -self.action_limit, self.action_limit).astype(np.float32)

    def backward(self):
        """One DDPG update: the critic's regression step, the actor's ascent step, then the target networks.

        Returns:
            (mean |TD error| of the batch, policy loss) as Python floats.
        """
        # ---- Exercise 2, step 1: a mini-batch from the replay memory ----------------------------------
        # Five tensors: states (B, S), actions (B, A), rewards (B, 1), next_states (B, S), dones (B, 1).
        states, actions, rewards, next_states, dones = self.sample()

        # ---- Exercise 2, step 2a: the critic's prediction Q(s, a; θ) -----------------------------------
        # The live critic's values (B, 1) of the stored states and the actions played there.
        # Store them in qs_selected.
        qs_selected = self.q_current(torch.cat([states, actions], dim=1))

        # ---- Exercise 2, step 2b: the critic's target y = r + γ (1 - d) Q̂(s', μ̂(s')) ----------------
        # The regression target (B, 1) of qs_selected, built with the target networks and no gradient.
        # Store it in qs_target.
        with torch.no_grad():
            next_actions = self.mu_target(next_states)
            next_q = self.q_target(torch.cat([next_states, next_actions], dim=1))
            qs_target = rewards + self.gamma * (1 - dones) * next_q

        # Given (do not change): one regression step of the critic towards qs_target.
        with torch.no_grad():
            td_error = torch.abs(qs_target - qs_selected).detach()
        self.q_optimizer.zero_grad()
        loss = (torch.nn.functional.mse_loss(qs_selected, qs_target)).mean()
        loss.backward()
        self.q_optimizer.step()

        # Given: freeze the critic, so that the actor's step below computes no gradient for it.
        for p in self._critic_params:
            p.requires_grad = False

        # ---- Exercise 2, step 3: the policy loss ---------------------------------------------------------
        # A (B, 1) tensor whose mean, once minimised, raises Q(s, μ(s; φ); θ). Store it in q_mu.
        q_mu = -self.q_current(torch.cat([states, self.mu_current(states)], dim=1))

        # Given: one step of the actor, unfreeze the critic, move the target networks.
        self.mu_optimizer.zero_grad()
        loss_mu = q_mu.mean()
        loss_mu.backward()
        self.mu_optimizer.step()

        for p in self._critic_params:
            p.requires_grad = True

        self._update_target_model()
        return torch.mean(td_error).item(), loss_mu.detach().item()
