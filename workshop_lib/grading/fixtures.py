"""The grader's harness: small fixed problems, the recorders that watch ``backward()``, and seeded random generators.

Both sides of grading build on it: the notebook's visible checks (:mod:`workshop_lib.checks`) and the sandbox's
probe (:mod:`workshop_lib.grading.probe`), whose values the grading host compares with the reference agent's.

* **Fixed problems.** :func:`make_transitions` gives Pendulum-like transitions, every number fixed by a seed;
  :func:`make_check_agent` builds a small agent with fixed weights and a replay buffer holding them, its target
  networks moved away from the live ones (so that using one where the other belongs shows).
* **Recorders.** :func:`capture_backward` calls ``backward()`` once with the two Adam optimizers replaced by
  :class:`RecordingOptimizer` objects, whose ``step()`` records every gradient (and, with ``lr`` > 0, takes a plain
  gradient step), and reads the local variables of ``backward`` (``qs_selected``, ``qs_target``, ``q_mu``, ...)
  when it returns: a :class:`BackwardRun`. :func:`error_step` names the step of ``backward`` an error came from
  (:data:`STEP_LABELS`).
* **Seeded generators.** :func:`fixed_global_rngs` seeds the three global random generators for a block and
  restores them afterwards.

Nothing here holds a solution, and nothing decides a grade.
"""

from __future__ import annotations

import contextlib
import copy
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from workshop_lib.utils import restored_global_rngs, set_seed

__all__ = [
    "S", "A", "LIMIT", "B", "make_transitions", "make_check_agent", "RecordingOptimizer", "BackwardRun",
    "STEP_LABELS", "error_step", "capture_backward", "fixed_global_rngs",
]

S, A, LIMIT = 3, 1, 2.0
"""State size, action size and action limit of the check problems (those of Pendulum-v1)."""
B = 16
"""Mini-batch size of the check problems."""


# ----------------------------------------------------------------------------------------------- fixtures
def make_transitions(seed: int = 0, n: int = 48, action_size: int = A) -> dict[str, np.ndarray]:
    """A fixed set of Pendulum-like transitions; every third one ends in a true terminal state.

    Args:
        seed: fixes every number.
        n: number of transitions.
        action_size: action dimensions (Pendulum has 1; the checks also use 2, to see that the exploration
            noise is drawn per dimension). With the default, the transitions are those of every earlier version.

    Returns:
        ``{"obs": (n, S), "act": (n, action_size), "rew": (n,), "next_obs": (n, S), "done": (n,)}``, float32.
    """
    rng = np.random.default_rng(seed)
    theta, theta_dot = rng.uniform(-np.pi, np.pi, n), rng.uniform(-8.0, 8.0, n)
    act = rng.uniform(-LIMIT, LIMIT, (n, action_size))
    next_theta = theta + 0.05 * theta_dot
    next_theta_dot = np.clip(theta_dot + rng.normal(0.0, 1.0, n), -8.0, 8.0)
    return {
        "obs": np.stack([np.cos(theta), np.sin(theta), theta_dot], axis=1).astype(np.float32),
        "act": act.astype(np.float32),
        "rew": (-(theta ** 2 + 0.1 * theta_dot ** 2 + 0.001 * (act ** 2).sum(axis=1))).astype(np.float32),
        "next_obs": np.stack([np.cos(next_theta), np.sin(next_theta), next_theta_dot], axis=1).astype(np.float32),
        "done": (np.arange(n) % 3 == 0).astype(np.float32),
    }


def make_check_agent(agent_class: type, seed: int = 0, gamma: float = 0.9, batch_size: int = B,
                     transitions: dict[str, np.ndarray] | None = None, perturb_targets: bool = True, *,
                     action_size: int = A, action_limit: float = LIMIT) -> Any:
    """Build a small agent with fixed weights and a replay buffer holding :func:`make_transitions`.

    The target networks are moved away from the live ones (``perturb_targets``), so that using a live network
    where a target network belongs (or the reverse) changes the result. Global random generators are left as
    they were.

    Args:
        agent_class: the notebook's ``DDPGAgent``.
        seed: fixes the weights, the perturbation and the buffer's sampling order.
        gamma: discount factor of the agent.
        batch_size: mini-batch size of the agent.
        transitions: the transitions to store (default: ``make_transitions(seed)``).
        perturb_targets: move the target networks away from the live ones.
        action_size: action dimensions of the problem (default: Pendulum's 1). The default transitions follow it;
            transitions passed in must have actions of this size.
        action_limit: the largest absolute action.
    """
    with fixed_global_rngs(seed):
        agent = agent_class(S, action_size, action_limit, gamma=gamma, batch_size=batch_size, lr=1e-3, num_hidden=1,
                            hidden_units=16, eps_start=0.0)
        if perturb_targets:
            with torch.no_grad():
                for net in (agent.q_target, agent.mu_target):
                    for p in net.parameters():
                        p.add_(0.3 * torch.randn_like(p))
    data = make_transitions(seed, action_size=action_size) if transitions is None else transitions
    for i in range(len(data["rew"])):
        agent.remember(state=data["obs"][i], action=data["act"][i], reward=float(data["rew"][i]),
                       next_state=data["next_obs"][i], done=float(data["done"][i]))
    agent.rb.seed(seed + 1)
    agent.epsilon = 0.0
    return agent


# ---------------------------------------------------------------------------------------------- recorders
class RecordingOptimizer:
    """Stands in for an optimizer during a check: ``zero_grad()`` clears the gradients, ``step()`` records a copy
    of every parameter's ``.grad`` (``None`` where there is none) and, with ``lr`` = 0 (the default), changes
    nothing.

    With ``lr`` > 0, ``step()`` then takes a plain gradient step ``p ← p - lr · p.grad`` on every parameter
    that has a gradient, so that several updates in a row change the weights the next update starts from (what
    the grader needs to see state that carries over between updates). A plain step, not Adam's: Adam's first
    steps have the size ``lr`` whatever the gradient's size, so a gradient that is nearly zero would turn float
    rounding into a full step; a plain step follows the gradient continuously.

    Args:
        params: the parameters the replaced optimizer was built on.
        lr: the size of the plain gradient step taken after recording (0: no step).
    """

    def __init__(self, params: Any, lr: float = 0.0) -> None:
        self.params = list(params)
        self.lr = float(lr)
        self.recorded: list[list[torch.Tensor | None]] = []

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    def step(self, closure: Any = None) -> None:
        self.recorded.append([None if p.grad is None else p.grad.detach().clone() for p in self.params])
        if self.lr:
            with torch.no_grad():
                for p in self.params:
                    if p.grad is not None:
                        p.sub_(self.lr * p.grad)


@dataclass
class BackwardRun:
    """What one call of ``backward()`` did.

    Attributes:
        before: a deep copy of the agent taken just before the call (same weights, same buffer, same sampler).
        agent: the agent after the call.
        local_vars: the local variables of ``backward`` when it returned (or raised).
        returned: the value it returned (``None`` if it raised).
        error: the exception it raised, or ``None``.
        critic_grads: gradients of ``q_current``'s parameters recorded at ``q_optimizer.step()`` (per call).
        actor_grads: gradients of ``mu_current``'s parameters recorded at ``mu_optimizer.step()`` (per call).
        batches: every mini-batch ``rb.sample`` gave, in the buffer's order (states, actions, next_states,
            rewards, dones).
        sample_steps: for each of ``batches``, the step of ``backward`` that drew it (a key of
            :data:`STEP_LABELS`, see :func:`error_step`): "1" for the first draw, and the step in progress for
            any further draw.
    """

    before: Any
    agent: Any
    local_vars: dict[str, Any] = field(default_factory=dict)
    returned: Any = None
    error: BaseException | None = None
    critic_grads: list[list[torch.Tensor | None]] = field(default_factory=list)
    actor_grads: list[list[torch.Tensor | None]] = field(default_factory=list)
    batches: list[tuple[torch.Tensor, ...]] = field(default_factory=list)
    sample_steps: list[str] = field(default_factory=list)

    def get(self, name: str) -> Any:
        """A local variable of ``backward`` (``None`` if it was never set)."""
        return self.local_vars.get(name)


#: The steps of ``backward()`` in the order they run, as the checks name them (``BackwardRun.sample_steps`` keys).
STEP_LABELS = {
    "1": "step 1 (sampling the mini-batch)",
    "2a": "step 2a (the critic's prediction `qs_selected`)",
    "2b": "step 2b (the critic's target `qs_target`)",
    "critic_update": "the given critic update right after step 2b (it uses `qs_selected` and `qs_target`)",
    "3": "step 3 (the policy loss `q_mu`)",
    "actor_update": "the given actor update right after step 3 (it uses `q_mu`)",
    "target_update": "the given target-network update at the end of backward()",
}


def _step_in_progress(local_vars: dict[str, Any], sampled: int, critic_steps: int, actor_steps: int) -> str:
    """The step of ``backward`` that runs, given what it has done so far (a key of :data:`STEP_LABELS`)."""
    if sampled == 0:
        return "1"
    if local_vars.get("qs_selected") is None:
        return "2a"
    if local_vars.get("qs_target") is None:
        return "2b"
    if critic_steps == 0:
        return "critic_update"
    if local_vars.get("q_mu") is None:
        return "3"
    if actor_steps == 0:
        return "actor_update"
    return "target_update"


def error_step(run: BackwardRun) -> str | None:
    """The step of ``backward`` in which ``run.error`` was raised (a key of :data:`STEP_LABELS`), or ``None``.

    Read from what ``backward`` had done when it raised: the mini-batches drawn, which of ``qs_selected``,
    ``qs_target`` and ``q_mu`` were set, and the optimizer steps recorded.
    """
    if run.error is None:
        return None
    return _step_in_progress(run.local_vars, len(run.batches), len(run.critic_grads), len(run.actor_grads))


def _backward_frame_locals(code: Any) -> dict[str, Any]:
    """The local variables of the innermost running frame of ``code`` (empty if none runs)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code is not code:
        frame = frame.f_back
    return {} if frame is None else dict(frame.f_locals)


def capture_backward(agent: Any, step_lr: float = 0.0) -> BackwardRun:
    """Call ``agent.backward()`` once with recording optimizers and read its local variables at the end.

    Warnings raised inside are silenced (a warning is no error; the checks look at shapes and values instead).
    An exception raised by ``backward`` is kept in ``run.error``, not raised.

    Args:
        agent: the agent whose ``backward`` runs; its two optimizers are replaced by :class:`RecordingOptimizer`
            objects (and stay replaced).
        step_lr: the recorders' plain gradient step (0: the live networks keep their weights; the target networks
            still move by the agent's own target update).
    """
    run = BackwardRun(before=copy.deepcopy(agent), agent=agent)
    q_rec = RecordingOptimizer(agent.q_current.parameters(), lr=step_lr)
    mu_rec = RecordingOptimizer(agent.mu_current.parameters(), lr=step_lr)
    agent.q_optimizer, agent.mu_optimizer = q_rec, mu_rec
    buffer_sample = agent.rb.sample
    code = getattr(type(agent).backward, "__code__", None)

    def recording_sample(batch_size: int) -> tuple[torch.Tensor, ...]:
        step = _step_in_progress(_backward_frame_locals(code), len(run.batches), len(q_rec.recorded),
                                 len(mu_rec.recorded))
        batch = buffer_sample(batch_size)
        run.batches.append(tuple(t.clone() for t in batch))
        run.sample_steps.append(step)
        return batch

    agent.rb.sample = recording_sample

    def profiler(frame: Any, event: str, arg: Any) -> None:
        if event == "return" and frame.f_code is code:
            run.local_vars = dict(frame.f_locals)

    previous = sys.getprofile()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sys.setprofile(profiler)
            try:
                run.returned = agent.backward()
            except Exception as err:  # noqa: BLE001 - any error of the student's code is a finding
                run.error = err
            finally:
                sys.setprofile(previous)
    finally:
        del agent.rb.sample  # back to the buffer's own method
    run.critic_grads, run.actor_grads = q_rec.recorded, mu_rec.recorded
    return run


# -------------------------------------------------------------------------------------- seeded generators
@contextlib.contextmanager
def fixed_global_rngs(seed: int) -> Iterator[None]:
    """Seed Python's ``random``, NumPy's global generator and torch's CPU generator with ``seed`` for the block,
    then restore the states they had before.

    The checks draw exploration noise through the student's ``select_action``, which may use any of the three.
    Seeding makes a check (and a grade) the same on every run, whatever the cells before it did; restoring keeps
    the notebook's own training run the same whether or not the checks ran.
    """
    with restored_global_rngs():
        set_seed(seed)
        yield
