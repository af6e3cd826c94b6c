"""The notebook's visible checks: the property checks its check cells run right after each exercise.

The notebook's check cells call the ``check_*`` functions below right after each exercise. Each one builds a tiny
agent with fixed weights and a fixed replay buffer, runs your method, and raises an ``AssertionError`` whose
message says in one sentence what is wrong and which hint of the notebook applies.

None of these checks needs (or contains) a solution: they test properties that every correct solution has.
You do not need to read this module to do the assignment. It is part of the installed workshop_lib, so grading
always uses this version, whatever a submission's folder holds.

How ``backward`` is observed (see :func:`workshop_lib.grading.fixtures.capture_backward`, the harness these checks
share with the grader's probe): the two Adam optimizers are replaced by recording optimizers, whose ``step()``
records every gradient and changes no weight, and the local variables of ``backward`` (``qs_selected``,
``qs_target``, ``q_mu``, ...) are read when it returns. So the checks compare what your code *computes*, never
weights after an optimizer step (the target networks, which the given code moves itself, excepted). Some checks
run ``backward`` twice in a row, to see what one update leaves to the next (gradients that were not cleared, a
network left frozen), or with another ``epsilon``, to see exploration noise where it does not belong. The grader
(``workshop_lib.grading.probe``) uses the same recorders, also with real gradient steps.
"""

from __future__ import annotations

import copy
import functools
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from workshop_lib.grading.fixtures import (
    STEP_LABELS,
    A,
    B,
    BackwardRun,
    capture_backward,
    error_step,
    fixed_global_rngs,
    make_check_agent,
    make_transitions,
)

__all__ = ["check_select_action", "check_critic_prediction", "check_critic_target", "check_policy_step",
           "check_target_update"]

_STEP_HINTS = {"1": "Hint 2.1", "2a": "Hint 2.2", "2b": "Hints 2.3 and 2.4", "critic_update": "Hints 2.2 and 2.3",
               "3": "Hint 2.5", "actor_update": "Hint 2.5", "target_update": "Hint 2.6"}


def _quiet(check: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``check`` with warnings silenced and the global random generators fixed (:func:`fixed_global_rngs`).

    nbgrader scores a test cell 0 as soon as it writes to stderr, and a warning is not a mistake (shapes and
    values are what the checks look at).
    """

    @functools.wraps(check)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings(), fixed_global_rngs(seed=0):
            warnings.simplefilter("ignore")
            return check(*args, **kwargs)

    return wrapper


def _fail(message: str) -> None:
    raise AssertionError(message)


def _raise_if_error(run: BackwardRun, steps: tuple[str, ...] | None = None, consequence: str = "") -> None:
    """Fail with ``backward``'s own error, labelled with the step where it was raised (:func:`error_step`).

    Args:
        run: the observed call.
        steps: fail only if the error was raised in one of these steps (keys of :data:`STEP_LABELS`);
            ``None``: whatever the step.
        consequence: a sentence appended to the message (what this check cannot do because of the error).
    """
    step = error_step(run)
    if step is None or (steps is not None and step not in steps):
        return
    err, where = run.error, STEP_LABELS[step]
    if isinstance(err, NotImplementedError):
        raise NotImplementedError(
            f"backward() still raises NotImplementedError in {where}: replace that step's "
            f"`raise NotImplementedError()` stub of Exercise 2 with your code (the hints of Exercise 2 help)."
            f"{' ' + consequence if consequence else ''}") from err
    _fail(f"backward() raised {type(err).__name__} in {where}: {err} ({_STEP_HINTS[step]})."
          f"{' ' + consequence if consequence else ''}")


def _tensor(run: BackwardRun, name: str, hint: str) -> torch.Tensor:
    """The local ``name`` of ``backward``. If it was never set because ``backward`` raised first, that error is
    reported with its step; an error raised *after* it was set (in a later step) does not fail this step's
    checks."""
    value = run.get(name)
    if value is None and run.error is not None:
        _raise_if_error(run)
    if value is None:
        _fail(f"`{name}` is None or was never set in backward(): store your result in a variable named "
              f"`{name}` ({hint}).")
    if not isinstance(value, torch.Tensor):
        _fail(f"`{name}` must be a torch.Tensor, got {type(value).__name__} ({hint}).")
    return value


def _check_sampled_once(run: BackwardRun, steps: tuple[str, ...], quantity: str) -> None:
    """Fail if ``backward`` drew a further mini-batch during one of ``steps`` (the steps that build
    ``quantity``)."""
    extra = [step for step in run.sample_steps[1:] if step in steps]
    if extra:
        _fail(f"backward() drew {len(run.batches)} mini-batches from the replay memory, one more in "
              f"{STEP_LABELS[extra[0]]}: sample once per update, so that {quantity} describes the same "
              "transitions as the rest of the update (Hint 2.1).")


def _check_batch_shape(value: torch.Tensor, name: str, batch_size: int, hint: str) -> None:
    if tuple(value.shape) != (batch_size, 1):
        extra = ""
        if value.dim() == 2 and value.shape[0] == value.shape[1] == batch_size:
            extra = " A (B, B) result comes from combining a (B,) tensor with a (B, 1) tensor: broadcasting."
        elif tuple(value.shape) == (batch_size,):
            extra = " Keep the last dimension (do not squeeze): rewards and dones are (B, 1) too."
        _fail(f"`{name}` must have shape (B, 1) = ({batch_size}, 1), got {tuple(value.shape)}.{extra} ({hint})")


def _mean_q_of_policy(agent: Any, states: torch.Tensor) -> float:
    with torch.no_grad():
        return float(agent.q_current(torch.cat([states, agent.mu_current(states)], dim=1)).mean())


def _moved(agent: Any, names: tuple[str, ...], factor: float = -1.5) -> Any:
    """``agent`` with the parameters of the networks ``names`` multiplied by ``factor`` (in place)."""
    with torch.no_grad():
        for name in names:
            for p in getattr(agent, name).parameters():
                p.mul_(factor)
    return agent


def _same(a: Any, b: Any) -> bool:
    """Both are tensors of one shape with the same values."""
    return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape
            and torch.allclose(a.detach(), b.detach(), atol=1e-5))


def _two_updates(agent_class: type) -> tuple[BackwardRun, BackwardRun, BackwardRun]:
    """Two ``backward()`` calls in a row on one check agent, and the second update on its own.

    Returns:
        ``(first, second, alone)``: the two calls in a row, and the second call again on a copy of the agent as
        the first call left it (same weights, buffer and sampler) whose live networks' gradients were cleared.
        A correct update computes the same gradients in ``second`` and ``alone``: nothing of one update's
        gradients may carry over to the next.
    """
    agent = make_check_agent(agent_class)
    first = capture_backward(agent)
    twin = copy.deepcopy(agent)
    for net in (twin.q_current, twin.mu_current):
        for p in net.parameters():
            p.grad = None
    return first, capture_backward(agent), capture_backward(twin)


def _check_gradients_cleared(agent_class: type, role: str) -> None:
    """Fail if, in the second of two updates in a row, the ``role`` network's gradient ("critic" or "actor") is not
    that update's own (the first update's was added to it: its optimizer did not clear it)."""
    first, second, alone = _two_updates(agent_class)
    grads, loss, optimizer = {"critic": ("critic_grads", "its loss", "q_optimizer"),
                              "actor": ("actor_grads", "the policy loss", "mu_optimizer")}[role]
    got, own = getattr(second, grads), getattr(alone, grads)
    if first.error is None and second.error is None and alone.error is None and got and own and \
            not _grads_equal(got[0], own[0]):
        _fail(f"In the second of two updates in a row the {role}'s gradient is not that update's own: the "
              f"gradient of the first update was added to it, because the {role}'s gradients were not cleared "
              f"before {loss} was back-propagated. Each optimizer clears its own network's gradients "
              f"({optimizer} for the {role}) as the given code does (Hint 2.6).")


def _grads_equal(a: list[torch.Tensor | None], b: list[torch.Tensor | None]) -> bool:
    """Two recorded gradients (one optimizer step each) hold the same values."""
    return len(a) == len(b) and all((x is None and y is None) or (x is not None and y is not None and
                                    torch.allclose(x, y, rtol=1e-4, atol=1e-6)) for x, y in zip(a, b))


def _last_linear(net: torch.nn.Module) -> torch.nn.Linear:
    return [m for m in net.modules() if isinstance(m, torch.nn.Linear)][-1]


def _mse_gradient(run: BackwardRun, qs_target: torch.Tensor) -> list[torch.Tensor] | None:
    """The gradient on ``q_current`` of the mean squared error between the critic's prediction Q(s, a) of the
    run's mini-batch (computed here, from the weights before the update) and ``qs_target``; ``None`` when the
    run's ``qs_selected`` is not that prediction (the prediction's own check names that mistake)."""
    states, actions = run.batches[0][0], run.batches[0][1]
    critic = copy.deepcopy(run.before.q_current).requires_grad_(True)
    prediction = critic(torch.cat([states, actions], dim=1))
    if not _same(prediction, run.get("qs_selected")):
        return None
    loss = torch.nn.functional.mse_loss(prediction, qs_target.detach())
    return list(torch.autograd.grad(loss, list(critic.parameters())))


# ------------------------------------------------------------------------------------- Exercise 1 checks
def _act(agent: Any, state: np.ndarray) -> Any:
    """``agent.select_action(state)`` on a copy of ``state``, with a stub or a crash reported as such, and a
    change of the array it was given (in place) reported before anything else."""
    given = state.copy()
    try:
        action = agent.select_action(given)
    except NotImplementedError as err:
        raise NotImplementedError(
            "select_action() still raises NotImplementedError: replace the `# YOUR CODE HERE` and "
            "`raise NotImplementedError()` lines of Exercise 1 with your code: the live actor's action, plus "
            "noise of scale self.epsilon, clipped to the limits (Hints 1.1 to 1.4).") from err
    except Exception as err:  # noqa: BLE001 - any error of the student's code is a finding
        _fail(f"select_action() raised {type(err).__name__}: {err} (Exercise 1, action size "
              f"{agent.action_size}).")
    if given.shape != state.shape or not np.array_equal(given, state):
        _fail(f"select_action changed the state array it was given, in place ({state} became {given}): the "
              "training loop keeps that same array and stores it in the replay memory, so the memory would hold "
              "states that never happened. Leave the caller's array as it is: torch.as_tensor and "
              "torch.from_numpy share its memory, so an in-place operation on the tensor changes the array too "
              "(Hint 1.2).")
    return action


def _check_actions_of(agent: Any, action_size: int) -> None:
    """The properties of ``select_action`` on ``agent``, whose problem has ``action_size`` action dimensions."""
    problem = "Pendulum's 1-dimensional action" if action_size == 1 else \
        f"a check problem with a {action_size}-dimensional action"
    states = make_transitions(seed=7, n=6)["obs"]
    weights = [p.detach().clone() for p in agent.mu_current.parameters()]
    agent.epsilon = 0.0
    for state in states:
        action = _act(agent, state)
        if action is None:
            _fail("select_action returned None: return the action (Hint 1.1).")
        if isinstance(action, torch.Tensor):
            _fail("select_action returned a torch.Tensor; the environment needs a numpy array: convert the "
                  "actor's output with .numpy() after computing it without gradient (Hint 1.2).")
        if not isinstance(action, np.ndarray):
            _fail(f"select_action must return a numpy array, got {type(action).__name__} (Hint 1.2).")
        if action.shape != (action_size,):
            _fail(f"On {problem}, select_action must return shape (action_size,) = ({action_size},), got "
                  f"{action.shape}: act on one state and return one action, sized by self.action_size "
                  "(Hint 1.2).")
        if not np.all(np.isfinite(action)):
            _fail(f"select_action returned a non-finite action {action} (Hint 1.1).")
        with torch.no_grad():
            live = agent.mu_current(torch.as_tensor(state)).numpy()
            target = agent.mu_target(torch.as_tensor(state)).numpy()
        if not np.allclose(action, live, atol=1e-5):
            if np.allclose(action, target, atol=1e-5):
                _fail("With epsilon = 0 the action equals mu_target's: the agent must act with the live "
                      "actor mu_current; target networks only serve the critic's target (Hint 1.1).")
            _fail(f"With epsilon = 0 the action must be the actor's output μ(s) = {live}, got {action}: "
                  "no noise when epsilon is 0, and give the actor network the state exactly as it came "
                  "(Hint 1.1).")
    state = states[0]
    with torch.no_grad():
        live = agent.mu_current(torch.as_tensor(state)).numpy()
    agent.epsilon = 0.3
    noise = np.stack([_act(agent, state) for _ in range(400)]) - live
    if np.allclose(noise, 0.0):
        _fail("With epsilon = 0.3 every action is the same: add Gaussian noise scaled by self.epsilon "
              "(Hint 1.3).")
    if not (0.2 < noise.std() < 0.4 and abs(noise.mean()) < 0.08):
        _fail(f"With epsilon = 0.3 the noise should have mean 0 and standard deviation 0.3, got mean "
              f"{noise.mean():.3f} and std {noise.std():.3f}: scale standard normal noise by "
              "self.epsilon (Hint 1.3).")
    if action_size > 1:
        corr = np.corrcoef(noise, rowvar=False)[np.triu_indices(action_size, k=1)]
        if np.any(np.abs(corr) > 0.5):
            _fail(f"On {problem} the noise is (nearly) the same number in every action dimension "
                  f"(correlation {np.max(np.abs(corr)):.2f}): one draw shared by all dimensions only explores "
                  "along a diagonal. The noise must be independent per action dimension: one standard normal "
                  "sample for each of the self.action_size dimensions (Hint 1.3).")
    agent.epsilon = 50.0
    limit = agent.action_limit
    big = np.stack([_act(agent, s) for s in states for _ in range(20)])
    if np.any(np.abs(big) > limit + 1e-6):
        _fail(f"With a large epsilon some actions left [-{limit}, {limit}] (max |a| = "
              f"{np.abs(big).max():.2f}): clip the noisy action to the action limit (Hint 1.4).")
    if not all(torch.equal(p, w) for p, w in zip(agent.mu_current.parameters(), weights)):
        _fail("select_action changed the actor's weights; acting must not train anything.")


@_quiet
def check_select_action(agent_class: type) -> None:
    """Property checks of ``select_action`` (Exercise 1), on Pendulum's 1-dimensional action and again on a
    problem with a 2-dimensional action.

    1. it returns a numpy array of shape (action_size,) (not a torch tensor);
    2. with epsilon = 0 it returns the live actor's action μ(s; φ), from ``mu_current``, not ``mu_target``;
    3. with epsilon > 0 it adds zero-mean noise of scale epsilon, drawn independently per action dimension;
    4. with a huge epsilon every action still lies within [-action_limit, action_limit];
    5. it changes no network weight.

    A stub (``raise NotImplementedError()``) gets a NotImplementedError that says what to write instead.
    """
    _check_actions_of(make_check_agent(agent_class), A)
    _check_actions_of(make_check_agent(agent_class, action_size=2), 2)


# ------------------------------------------------------------------------------------- Exercise 2 checks
@_quiet
def check_critic_prediction(agent_class: type) -> BackwardRun:
    """Property checks of the prediction ``qs_selected`` = Q(s, a; θ) (Exercise 2, step 2a).

    It is computed from the first (and only) mini-batch, has shape (B, 1), carries the gradient of
    ``q_current``, changes with the stored actions and does not depend on the next states. An error that
    ``backward`` raises after ``qs_selected`` is set belongs to a later step and is left to that step's check.
    """
    run = capture_backward(make_check_agent(agent_class))
    hint = "Hint 2.2"
    _raise_if_error(run, steps=("1", "2a"))
    _check_sampled_once(run, ("2a",), "`qs_selected`")
    qs_selected = _tensor(run, "qs_selected", hint)
    _check_batch_shape(qs_selected, "qs_selected", B, hint)
    if not qs_selected.requires_grad:
        _fail("`qs_selected` carries no gradient, so the critic cannot learn from it: compute it with "
              "q_current outside torch.no_grad() and without .detach() (Hint 2.2).")
    if run.critic_grads:
        grads = run.critic_grads[0]
    else:  # backward() raised before the critic's step: ask autograd directly
        params = list(run.agent.q_current.parameters())
        flags = [p.requires_grad for p in params]
        for p in params:
            p.requires_grad_(True)
        try:
            grads = list(torch.autograd.grad(qs_selected.sum(), params, allow_unused=True, retain_graph=True))
        except RuntimeError:
            grads = [None] * len(params)
        finally:
            for p, flag in zip(params, flags):
                p.requires_grad_(flag)
    if all(g is None for g in grads):
        _fail("The critic's update found no gradient on q_current: the prediction must come from q_current "
              "(Hint 2.2).")
    data = make_transitions(0)
    moved_next = dict(data, next_obs=np.zeros_like(data["next_obs"]))
    other = capture_backward(make_check_agent(agent_class, transitions=moved_next))
    if isinstance(other.get("qs_selected"), torch.Tensor) and not _same(other.get("qs_selected"), qs_selected):
        _fail("`qs_selected` changed when only the next states changed: the prediction is Q(s, a) of the "
              "states and actions of the batch (Hint 2.2).")
    moved_act = dict(data, act=-data["act"])
    other = capture_backward(make_check_agent(agent_class, transitions=moved_act))
    if isinstance(other.get("qs_selected"), torch.Tensor) and _same(other.get("qs_selected"), qs_selected):
        _fail("`qs_selected` did not change when the stored actions changed: feed the actions that were "
              "played, together with the states, to the critic (Hint 2.2).")
    return run


@_quiet
def check_critic_target(agent_class: type) -> BackwardRun:
    """Property checks of the target ``qs_target`` = y (Exercise 2, step 2b) and of the critic's update.

    It is built from the same mini-batch as the prediction, has shape (B, 1) and no gradient; it equals the
    reward where done = 1; it equals the reward everywhere when gamma = 0; it depends on the next states but not
    on the batch's own states; it does not change when the live networks change (it uses the target networks),
    and it changes when the target networks change. The critic's optimizer steps exactly once.
    """
    hint = "Hint 2.3"
    run = capture_backward(make_check_agent(agent_class))
    _raise_if_error(run, steps=("1", "2a", "2b", "critic_update"))
    _check_sampled_once(run, ("2b",), "the target `qs_target`")
    qs_target = _tensor(run, "qs_target", hint)
    _check_batch_shape(qs_target, "qs_target", B, hint)
    if qs_target.requires_grad:
        _fail("`qs_target` carries a gradient: the target is a fixed label built from the target networks; "
              "compute it under torch.no_grad() or detach it (Hint 2.3).")
    if not run.batches:
        _fail("backward() never sampled the replay buffer (Hint 2.1).")
    if len(run.critic_grads) > 1:
        _fail(f"q_optimizer.step() ran {len(run.critic_grads)} times in one backward(): the critic must take "
              "exactly one step per update, the one the given code takes after step 2b. Leave the optimizers "
              "to the given code (Hint 2.6).")
    again = capture_backward(make_check_agent(agent_class))
    if isinstance(again.get("qs_target"), torch.Tensor) and not _same(again.get("qs_target"), qs_target):
        _fail("`qs_target` differs between two runs of backward() on the same weights and the same mini-batch: "
              "the target is a fixed regression label, so it must not be random. Random noise added to the "
              "next action μ̂(s') (or anywhere in the target) makes the critic chase a moving label (Hint 2.3).")
    noisy = make_check_agent(agent_class)
    noisy.epsilon = 0.5
    noisy_run = capture_backward(noisy)
    if isinstance(noisy_run.get("qs_target"), torch.Tensor) and not _same(noisy_run.get("qs_target"), qs_target):
        _fail("`qs_target` changed when only self.epsilon changed (0 -> 0.5): epsilon scales the exploration "
              "noise of select_action, which has no place in the target; the next action is the target "
              "actor's own μ̂(s') (Hint 2.3).")
    _states, _actions, _next_states, rewards, dones = run.batches[0]
    terminal = dones[:, 0] == 1
    if not torch.allclose(qs_target[terminal], rewards[terminal], atol=1e-5):
        _fail("Where done = 1 the target must be the reward alone: nothing follows a terminal state; multiply "
              "the bootstrapped term by (1 - dones) (Hint 2.4).")
    if torch.allclose(qs_target[~terminal], rewards[~terminal], atol=1e-5):
        _fail("Where done = 0 the target equals the reward alone: add the discounted value of the next state "
              "(Hint 2.3).")
    zero_gamma = capture_backward(make_check_agent(agent_class, gamma=0.0))
    value = zero_gamma.get("qs_target")
    if isinstance(value, torch.Tensor) and value.shape == rewards.shape and \
            not torch.allclose(value, zero_gamma.batches[0][3], atol=1e-5):
        _fail("With gamma = 0 the target must equal the reward: the discount gamma multiplies the value of "
              "the next state (Hint 2.3).")
    _check_bootstrap_scale(agent_class)
    data = make_transitions(0)
    moved_states = capture_backward(make_check_agent(agent_class, transitions=dict(data, obs=data["obs"][::-1].copy())))
    if isinstance(moved_states.get("qs_target"), torch.Tensor) and \
            not _same(moved_states.get("qs_target"), qs_target):
        _fail("`qs_target` changed when only the batch's states s changed (next states, rewards and dones "
              "unchanged): the target bootstraps from the NEXT state s'. Both the next action μ̂(s') and its "
              "value Q̂(s', μ̂(s')) take the next states (Hint 2.3).")
    other = capture_backward(_moved(make_check_agent(agent_class), ("q_current", "mu_current")))
    if isinstance(other.get("qs_target"), torch.Tensor) and not _same(other.get("qs_target"), qs_target):
        _fail("`qs_target` changed when only the live networks (q_current, mu_current) changed: the target "
              "must come from q_target and mu_target (Hint 2.3).")
    for name in ("q_target", "mu_target"):
        other = capture_backward(_moved(make_check_agent(agent_class), (name,)))
        if isinstance(other.get("qs_target"), torch.Tensor) and _same(other.get("qs_target"), qs_target):
            _fail(f"`qs_target` did not change when {name} changed: the next action comes from mu_target and "
                  "its value from q_target (Hint 2.3).")
    _check_rows_independent(agent_class, run, qs_target)
    expected = _mse_gradient(run, qs_target) if run.critic_grads else None
    if expected is not None and not _grads_equal(run.critic_grads[0], expected):
        got = torch.cat([g.reshape(-1) for g in run.critic_grads[0] if g is not None] or [torch.zeros(1)])
        ratio = float(got.norm()) / max(float(torch.cat([g.reshape(-1) for g in expected]).norm()), 1e-12)
        if math.isclose(ratio, B, rel_tol=0.02):
            _fail(f"The critic's gradient is {ratio:.1f} times that of the mean squared error between "
                  f"`qs_selected` and `qs_target`, and {B} is the batch size: the critic's loss adds the squared "
                  "errors up instead of averaging them, so every step grows with the batch size. Keep the given "
                  "critic loss, a mean over the batch (Hint 2.6).")
        _fail("The critic's gradient is not that of the mean squared error between `qs_selected` and `qs_target`: "
              "keep the given critic update (zero_grad, the mean squared error, backward, step) as it is "
              "(Hint 2.6).")
    _check_gradients_cleared(agent_class, "critic")
    return run


def _check_bootstrap_scale(agent_class: type) -> None:
    """With a target critic that values every (state, action) at the same +5, the target adds gamma · 5 to the
    reward where done = 0: the sign of the done factor and a discount applied twice show there."""
    value, gamma = 5.0, 0.9
    agent = make_check_agent(agent_class, gamma=gamma)
    with torch.no_grad():
        last = _last_linear(agent.q_target)
        last.weight.zero_()
        last.bias.fill_(value)
    run = capture_backward(agent)
    target = run.get("qs_target")
    if not (isinstance(target, torch.Tensor) and run.batches and target.shape == run.batches[0][3].shape):
        return
    rewards, dones = run.batches[0][3], run.batches[0][4]
    going_on = dones[:, 0] == 0
    scale = (target.detach()[going_on] - rewards[going_on]) / value  # gamma where the target is right
    if torch.allclose(scale, torch.full_like(scale, gamma), atol=1e-4):
        return
    if torch.allclose(scale, torch.full_like(scale, -gamma), atol=1e-4):
        _fail("Where done = 0, a target critic that values every next state at +5 LOWERED the target below the "
              "reward: the bootstrapped term enters with the wrong sign. The done factor must be 1 where the "
              "episode goes on and 0 where it ended (Hint 2.4).")
    if torch.allclose(scale, torch.full_like(scale, gamma ** 2), atol=1e-4):
        _fail(f"With gamma = {gamma}, the next state's value enters the target scaled by gamma² = {gamma ** 2:.2f}: "
              "the discount is applied twice. It scales the value of the next state once (Hint 2.3).")
    _fail(f"With gamma = {gamma} and a target critic that values every next state at +5, the target adds "
          f"{float(scale.mean()) * value:.3f} on average to the reward where done = 0: the discounted value of "
          "the next state should enter once, scaled by gamma alone (Hints 2.3 and 2.4).")


def _check_rows_independent(agent_class: type, run: BackwardRun, qs_target: torch.Tensor) -> None:
    """Each row's target depends on its own transition only: moving the next states of the other transitions
    (every second one stored, then the others) leaves it as it was."""
    data = make_transitions(0)
    for parity in (0, 1):
        moved = {k: v.copy() for k, v in data.items()}
        rows = np.arange(len(moved["rew"])) % 2 == parity
        moved["next_obs"][rows] *= np.array([-1.0, -1.0, 0.5], dtype=np.float32)
        other = capture_backward(make_check_agent(agent_class, transitions=moved))
        target = other.get("qs_target")
        if not (isinstance(target, torch.Tensor) and target.shape == qs_target.shape and other.batches):
            continue
        kept = (other.batches[0][2] == run.batches[0][2]).all(dim=1)
        if bool(kept.any()) and not torch.allclose(target.detach()[kept], qs_target.detach()[kept], atol=1e-5):
            _fail("The target of a transition changed when only the next states of OTHER transitions of the "
                  "batch changed: each row's target is built from that row's own reward, done and next state. A "
                  "max, mean or sum over the batch (as in DQN's max over ACTIONS) mixes the rows (Hint 2.3).")


@_quiet
def check_policy_step(agent_class: type) -> BackwardRun:
    """Property checks of the policy loss ``q_mu`` (Exercise 2, step 3) and of the actor's update.

    ``q_mu`` is a tensor built on the update's only mini-batch; the returned policy loss is its mean; it comes
    from the live critic (not the target critic); the actor receives a gradient, from exactly one optimizer
    step; and a small step against that gradient *raises* the critic's value Q(s, μ(s)) of the batch states
    (gradient ascent).
    """
    hint = "Hint 2.5"
    run = capture_backward(make_check_agent(agent_class))
    if isinstance(run.error, RuntimeError) and "does not require grad" in str(run.error) and run.critic_grads:
        _fail("loss_mu.backward() failed because the policy loss carries no gradient back to the actor: it must "
              "be computed from the actions mu_current(states) chooses now, without detaching them (Hint 2.5).")
    _raise_if_error(run, consequence="The policy loss is checked once backward() runs to its end.")
    _check_sampled_once(run, ("critic_update", "3"), "the policy loss `q_mu`")
    q_mu = _tensor(run, "q_mu", hint)
    if not isinstance(run.returned, tuple) or len(run.returned) != 2:
        _fail("backward() must return the pair (TD error, policy loss) of the given code.")
    if not math.isclose(float(run.returned[1]), float(q_mu.detach().mean()), rel_tol=1e-5, abs_tol=1e-6):
        _fail("The returned policy loss is not q_mu.mean(): keep the given code after q_mu.")
    loss = float(run.returned[1])
    again = capture_backward(make_check_agent(agent_class))
    if _policy_loss(again) is not None and not math.isclose(_policy_loss(again), loss, rel_tol=1e-5, abs_tol=1e-6):
        _fail("The policy loss differs between two runs of backward() on the same weights and the same "
              "mini-batch: it must not be random. The actor's loss scores the actor's own actions μ(s); "
              "exploration noise belongs to acting (select_action), not to learning (Hint 2.5).")
    noisy = make_check_agent(agent_class)
    noisy.epsilon = 0.5
    noisy_loss = _policy_loss(capture_backward(noisy))
    if noisy_loss is not None and not math.isclose(noisy_loss, loss, rel_tol=1e-5, abs_tol=1e-6):
        _fail("The policy loss changed when only self.epsilon changed (0 -> 0.5): epsilon scales the exploration "
              "noise of select_action. The actor's loss scores the actor's own actions μ(s), without noise "
              "(Hint 2.5).")
    if len(run.actor_grads) > 1:
        _fail(f"mu_optimizer.step() ran {len(run.actor_grads)} times in one backward(): the actor must take "
              "exactly one step per update, the one the given code takes after step 3. Leave the optimizers "
              "to the given code (Hint 2.6).")
    if not run.actor_grads or any(g is None for g in run.actor_grads[0]):
        _fail("mu_optimizer.step() found no gradient on mu_current: the policy loss must come from the critic "
              "evaluated at the actor's own actions mu_current(states) (Hint 2.5).")
    if all(float(g.abs().max()) == 0.0 for g in run.actor_grads[0]):
        _fail("The actor's gradient is zero everywhere: the policy loss must depend on mu_current(states) "
              "(Hint 2.5).")
    other = capture_backward(_moved(make_check_agent(agent_class), ("q_target",)))
    if other.error is None and isinstance(other.returned, tuple) and len(other.returned) == 2 and \
            not math.isclose(float(other.returned[1]), float(run.returned[1]), rel_tol=1e-5, abs_tol=1e-6):
        _fail("The policy loss changed when only the target critic q_target changed: the actor must climb the "
              "value given by the LIVE critic q_current, the critic being trained; the target networks only "
              "serve the critic's target y (Hint 2.5).")
    other = capture_backward(_moved(make_check_agent(agent_class), ("q_current",)))
    if other.error is None and isinstance(other.returned, tuple) and len(other.returned) == 2 and \
            math.isclose(float(other.returned[1]), float(run.returned[1]), rel_tol=1e-5, abs_tol=1e-6):
        _fail("The policy loss did not change when the live critic q_current changed: it must be the live "
              "critic's value of the actor's actions (Hint 2.5).")
    states = run.batches[0][0]
    before = _mean_q_of_policy(run.before, states)
    stepped = copy.deepcopy(run.before)
    with torch.no_grad():
        grads = run.actor_grads[0]
        scale = 1e-2 / max(float(torch.cat([g.reshape(-1) for g in grads]).norm()), 1e-12)
        for p, g in zip(stepped.mu_current.parameters(), grads):
            p.sub_(scale * g)
    after = _mean_q_of_policy(stepped, states)
    if not after > before:
        _fail(f"A small gradient-descent step on your policy loss lowers the critic's value of the actor's "
              f"actions (mean Q(s, μ(s)) {before:.4f} -> {after:.4f}): the optimizer minimises, so the loss "
              "must be the negative of Q(s, μ(s)) from q_current (Hint 2.5).")
    for name, role in (("q_current", "critic"), ("mu_current", "actor")):
        if not all(p.requires_grad for p in getattr(run.agent, name).parameters()):
            _fail(f"After backward() the {role} {name} is still frozen (requires_grad = False): it stays frozen "
                  "into the next update, whose critic step then gets no gradient. The given code freezes the "
                  "critic only for the actor's step and unfreezes it right after (Hint 2.6).")
    _check_gradients_cleared(agent_class, "actor")
    return run


def _policy_loss(run: BackwardRun) -> float | None:
    """The policy loss ``run`` returned (``None`` if it raised or returned something else)."""
    if run.error is not None or not isinstance(run.returned, tuple) or len(run.returned) != 2:
        return None
    try:
        return float(run.returned[1])
    except (TypeError, ValueError):
        return None


@_quiet
def check_target_update(agent_class: type) -> None:
    """The target networks move by the polyak average only: θ̂ ← ρ θ̂ + (1 - ρ) θ after each ``backward()``."""
    run = capture_backward(make_check_agent(agent_class))
    _raise_if_error(run, consequence="The target networks' update is checked once backward() runs to its end.")
    rho = run.before.polyak
    for target, live in (("q_target", "q_current"), ("mu_target", "mu_current")):
        old_t = list(getattr(run.before, target).parameters())
        old_l = list(getattr(run.before, live).parameters())
        new_t = list(getattr(run.agent, target).parameters())
        if len(new_t) == len(old_l) and all(torch.allclose(n, v, atol=1e-6) for n, v in zip(new_t, old_l)):
            _fail(f"After backward() {target} is a copy of {live}: a hard update, as DQN makes every few thousand "
                  f"steps. DDPG's target networks trail the live ones, one small polyak step ρ·{target} + "
                  f"(1 - ρ)·{live} per update (ρ = self.polyak), so that the critic's target changes slowly. "
                  "Keep the given call self._update_target_model() at the end of backward() (section 'Moving "
                  "the target networks: the polyak update'; Hint 2.6).")
        for new, t, live_p in zip(new_t, old_t, old_l):
            if not torch.allclose(new, rho * t + (1 - rho) * live_p, atol=1e-6):
                _fail(f"{target} did not move by one polyak step ρ·{target} + (1 - ρ)·{live}: backward() must "
                      "call self._update_target_model() exactly once, at the end, as the given code does "
                      "(Hint 2.6).")
