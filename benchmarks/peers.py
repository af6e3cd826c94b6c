"""The peers the workbook is measured against, each written or configured for a fair comparison.

* :func:`minimal_ddpg_loop`: a minimal hand-written PyTorch DDPG loop (no checks, no wrapper, no library):
  the fastest a plain Python implementation of the same algorithm gets.
* :func:`sb3_ddpg`: Stable-Baselines3's DDPG (a benchmark-only dependency, never imported by workshop_lib).

Each returns the same kind of record, so that the benchmark scripts can print ratios from one run.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import gymnasium as gym
import numpy as np
import torch
from torch import nn


def _mlp(n_in: int, n_out: int, h: int, num_hidden: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(num_hidden):
        layers += [nn.Linear(n_in if i == 0 else h, h), nn.ReLU()]
    layers.append(nn.Linear(h if num_hidden else n_in, n_out))
    return nn.Sequential(*layers)


def minimal_ddpg_loop(warmup_steps: int, update_steps: int, h: int, num_hidden: int, batch_size: int,
                      lr: float = 1e-3, gamma: float = 0.98, noise: float = 0.1, seed: int = 0) -> dict[str, Any]:
    """Plain DDPG on raw Gymnasium Pendulum-v1: ``warmup_steps`` without updates, then one update per step.

    Returns:
        ``{"updates": n, "update_phase_s": wall seconds of the update phase, "update_phase_cpu_s": ...}``.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    env = gym.make("Pendulum-v1")
    s_dim, a_dim, limit = 3, 1, 2.0
    actor, critic = _mlp(s_dim, a_dim, h, num_hidden), _mlp(s_dim + a_dim, 1, h, num_hidden)
    actor_t, critic_t = _mlp(s_dim, a_dim, h, num_hidden), _mlp(s_dim + a_dim, 1, h, num_hidden)
    actor_t.load_state_dict(actor.state_dict())
    critic_t.load_state_dict(critic.state_dict())
    opt_a, opt_c = torch.optim.Adam(actor.parameters(), lr), torch.optim.Adam(critic.parameters(), lr)
    cap = warmup_steps + update_steps
    obs_buf, act_buf = np.zeros((cap, s_dim), np.float32), np.zeros((cap, a_dim), np.float32)
    next_buf = np.zeros((cap, s_dim), np.float32)
    rew_buf, done_buf = np.zeros((cap, 1), np.float32), np.zeros((cap, 1), np.float32)
    obs, _ = env.reset(seed=seed)
    start = cpu_start = 0.0
    for t in range(cap):
        if t == warmup_steps:
            start, cpu_start = time.perf_counter(), time.process_time()
        with torch.no_grad():
            act = limit * torch.tanh(actor(torch.as_tensor(obs))).numpy()
        act = np.clip(act + noise * rng.standard_normal(a_dim), -limit, limit).astype(np.float32)
        next_obs, rew, term, trunc, _ = env.step(act)
        obs_buf[t], act_buf[t], next_buf[t], rew_buf[t], done_buf[t] = obs, act, next_obs, rew, term
        obs = next_obs
        if term or trunc:
            obs, _ = env.reset()
        if t < warmup_steps:
            continue
        idx = rng.integers(0, t + 1, batch_size)
        s, a, s2 = torch.from_numpy(obs_buf[idx]), torch.from_numpy(act_buf[idx]), torch.from_numpy(next_buf[idx])
        r, d = torch.from_numpy(rew_buf[idx]), torch.from_numpy(done_buf[idx])
        with torch.no_grad():
            y = r + gamma * (1 - d) * critic_t(torch.cat([s2, limit * torch.tanh(actor_t(s2))], 1))
        critic_loss = ((critic(torch.cat([s, a], 1)) - y) ** 2).mean()
        opt_c.zero_grad()
        critic_loss.backward()
        opt_c.step()
        critic.requires_grad_(False)  # as the workbook does: the actor's backward pass skips the critic's weights
        actor_loss = -critic(torch.cat([s, limit * torch.tanh(actor(s))], 1)).mean()
        opt_a.zero_grad()
        actor_loss.backward()
        opt_a.step()
        critic.requires_grad_(True)
        with torch.no_grad():
            for net, targ in ((critic, critic_t), (actor, actor_t)):
                for p, pt in zip(net.parameters(), targ.parameters()):
                    pt.mul_(0.995).add_(p, alpha=0.005)
    env.close()
    return {"updates": update_steps, "update_phase_s": time.perf_counter() - start,
            "update_phase_cpu_s": time.process_time() - cpu_start}


def sb3_ddpg(total_steps: int, learning_starts: int, net_arch: list[int], batch_size: int, lr: float,
             gamma: float, noise: float, buffer_size: int, seed: int = 0,
             on_eval: Callable[[Any, int], bool] | None = None, eval_every: int = 0) -> dict[str, Any]:
    """Stable-Baselines3 DDPG on Pendulum-v1, one gradient step per env step after ``learning_starts``.

    Args:
        on_eval: called as ``on_eval(model, steps)`` every ``eval_every`` steps; the time it takes is
            excluded from the training time; returning True stops training.

    Returns:
        ``{"updates", "update_phase_s", "update_phase_cpu_s", "train_s", "train_cpu_s", "steps", "stopped_at"}``.
    """
    from stable_baselines3 import DDPG
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.logger import Logger
    from stable_baselines3.common.noise import NormalActionNoise

    class Clock(BaseCallback):
        """Times the update phase and pauses the clock while evaluating."""

        def __init__(self) -> None:
            super().__init__()
            self.t0 = time.perf_counter()
            self.c0 = time.process_time()
            self.excluded = self.excluded_cpu = 0.0
            self.phase_start: tuple[float, float] | None = None
            self.stopped_at: int | None = None

        def _on_step(self) -> bool:
            if self.num_timesteps == learning_starts + 1 and self.phase_start is None:
                self.phase_start = (time.perf_counter(), time.process_time())
            if on_eval is not None and eval_every and self.num_timesteps % eval_every == 0:
                e0, ec0 = time.perf_counter(), time.process_time()
                solved = on_eval(self.model, self.num_timesteps)
                self.excluded += time.perf_counter() - e0
                self.excluded_cpu += time.process_time() - ec0
                if solved:
                    self.stopped_at = self.num_timesteps
                    return False
            return True

    env = gym.make("Pendulum-v1")
    model = DDPG(
        "MlpPolicy", env, learning_rate=lr, gamma=gamma, batch_size=batch_size, buffer_size=buffer_size,
        learning_starts=learning_starts, train_freq=1, gradient_steps=1, tau=0.005,
        action_noise=NormalActionNoise(np.zeros(1), noise * np.ones(1)),
        policy_kwargs={"net_arch": net_arch}, seed=seed, device="cpu", verbose=0,
    )
    # No log folder: SB3's default logger makes an empty /tmp/SB3-<date> folder for every model it trains.
    model.set_logger(Logger(folder=None, output_formats=[]))
    clock = Clock()
    model.learn(total_timesteps=total_steps, callback=clock, progress_bar=False)
    end, cpu_end = time.perf_counter(), time.process_time()
    env.close()
    steps = clock.stopped_at or total_steps
    phase_s, phase_cpu = (0.0, 0.0)
    if clock.phase_start:
        phase_s, phase_cpu = end - clock.phase_start[0], cpu_end - clock.phase_start[1]
    return {
        "updates": max(0, steps - learning_starts), "steps": steps, "stopped_at": clock.stopped_at,
        "update_phase_s": phase_s - clock.excluded, "update_phase_cpu_s": phase_cpu - clock.excluded_cpu,
        "train_s": end - clock.t0 - clock.excluded, "train_cpu_s": cpu_end - clock.c0 - clock.excluded_cpu,
    }
