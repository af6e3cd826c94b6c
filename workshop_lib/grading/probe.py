"""The grading probe: run an agent class's two methods on given fixtures and report only values.

Trusted grading works in two places (see ``docs/grading-security.md`` in the repository):

* the **grading process** chooses the fixtures (:func:`make_fixtures`), runs this probe on the reference agent
  in its own process, and compares;
* the **sandbox** runs the same probe on the student's ``DDPGAgent`` and hands back its values as JSON lines.

The probe never decides a grade: it only records what ``select_action`` returned and what ``backward`` computed
(``qs_selected``, ``qs_target``, ``q_mu``, the gradients at every optimizer step, the returned pair, the four
networks' weights and the live networks' ``requires_grad`` flags after the call). Each ``backward`` case is
recorded twice: one update on its own (the optimizers only record, so each part is seen apart from the others),
and :data:`BACKWARD_UPDATES` updates in a row with real (plain) gradient steps, so that what carries over from
one update to the next (gradients not cleared, a network left frozen, the target networks' update) shows.
Everything it reports is plain JSON (numbers, lists, strings), so nothing a submission returns is ever
unpickled or executed by the grading process.

Run inside the sandbox as::

    python -m workshop_lib.grading.probe CELLS.json FIXTURES.json [LIMITS.json]

``CELLS.json`` is a list of code-cell sources (the submission's cells above its last check, the given ones as
released); they are run in a fresh IPython shell, then the probe writes one JSON line per part to the standard
output it had when it started (the cells' own output goes nowhere). Each cell, and each probe, is cut after the
``cell_timeout`` of the :class:`~workshop_lib.grading.limits.SandboxLimits` in ``LIMITS.json`` (without it, the
default).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from workshop_lib import checks
from workshop_lib.grading import fixtures, open_channel, speed
from workshop_lib.grading.limits import SandboxLimits

NETS = ("q_current", "q_target", "mu_current", "mu_target")
"""The four networks whose weights the fixtures fix."""
SELECT_NOISY_DRAWS = 3000
"""Noisy actions drawn per select_action case (epsilon 0.5), for the noise's mean and standard deviation."""
SELECT_BIG_DRAWS = 500
"""Actions drawn with a huge epsilon, for the clipping."""
VISIBLE_CHECKS = ("check_select_action", "check_critic_prediction", "check_critic_target", "check_policy_step",
                  "check_target_update")
"""The notebook's visible checks, run in the sandbox so that feedback can name a mistake."""
MESSAGE_CHARS = 1500
"""Longest message (an error, a visible check's verdict) the probe reports."""
BACKWARD_UPDATES = 3
"""Updates in a row per backward case: a mistake that carries state over shows from the second one on."""
BACKWARD_EPSILON = (0.3, 0.6)
"""The agent's epsilon in each backward case: not 0, so that exploration noise put into an update shows."""
STEP_LR = 1e-3
"""The plain gradient step of the updates in a row (see :class:`workshop_lib.grading.fixtures.RecordingOptimizer`)."""


# ------------------------------------------------------------------------------------------ JSON encoding
def encode_tensor(value: Any) -> dict[str, Any]:
    """A JSON description of ``value``: its type, and for a tensor or array its shape, dtype, data and
    ``requires_grad``. Anything else is described by its type name only."""
    if isinstance(value, torch.Tensor):
        data = value.detach().to(torch.float64).cpu().reshape(-1).tolist() if value.numel() <= 100_000 else None
        return {"type": "tensor", "shape": list(value.shape), "dtype": str(value.dtype).replace("torch.", ""),
                "requires_grad": bool(value.requires_grad), "data": data}
    if isinstance(value, np.ndarray):
        ok = value.dtype.kind in "biuf" and value.size <= 100_000
        return {"type": "ndarray", "shape": list(value.shape), "dtype": str(value.dtype),
                "data": value.astype(np.float64).reshape(-1).tolist() if ok else None}
    if isinstance(value, (bool, int, float)) and not isinstance(value, bool):
        return {"type": "number", "data": float(value)}
    return {"type": type(value).__name__}


def encode_grads(recorded: list[list[torch.Tensor | None]]) -> list[list[list[float] | None]]:
    """The gradients recorded at each optimizer step: per step, per parameter, a flat list (or None)."""
    return [[None if g is None else g.detach().to(torch.float64).reshape(-1).tolist() for g in step]
            for step in recorded]


def _state_dict_json(net: torch.nn.Module) -> dict[str, dict[str, Any]]:
    return {k: {"shape": list(v.shape), "data": v.detach().to(torch.float64).reshape(-1).tolist()}
            for k, v in net.state_dict().items()}


def _load_state_dict(net: torch.nn.Module, spec: dict[str, dict[str, Any]]) -> None:
    own = net.state_dict()
    if set(own) != set(spec):
        raise ValueError(f"the network's parameters {sorted(own)} are not the fixture's {sorted(spec)}")
    net.load_state_dict({k: torch.tensor(v["data"], dtype=own[k].dtype).reshape(v["shape"]) for k, v in spec.items()})


def _message(err: BaseException) -> str:
    text = f"{type(err).__name__}: {err}"
    return text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS] + " [...]"


# ----------------------------------------------------------------------------------------------- fixtures
def make_fixtures(agent_class: type, seed: int) -> dict[str, Any]:
    """The fixtures of one grading: weights, states, transitions and seeds, all derived from ``seed``.

    Two ``select_action`` cases (Pendulum's 1-dimensional action and a 2-dimensional one, so that one noise
    draw shared by every dimension shows) and two ``backward`` cases (different weights, buffers, discounts
    and epsilons). What makes the listed mistakes show:

    * each of the first :data:`BACKWARD_UPDATES` mini-batches (of ``fixtures.B`` = 16 transitions) mixes terminal
      and non-terminal transitions, so that a missing or reversed ``(1 - d)`` shows;
    * gamma is neither 0 nor 1 and the target networks are moved away from the live ones, so that a discount
      applied twice or a live network in the target shows;
    * a batch of 16 different transitions, so that a max over the batch and a summed loss (16 times the mean's
      gradient) show;
    * epsilon is not 0, so that exploration noise in an update shows;
    * several updates in a row (``updates``, with plain gradient steps of ``step_lr``), so that state carried
      from one update to the next shows.

    Args:
        agent_class: the class that builds the agents (the reference; any class with the notebook's constructor
            builds the same networks from the weights given).
        seed: the grading's secret seed.

    Returns:
        A JSON-serialisable dict with the keys ``select`` and ``backward`` (lists of cases).
    """
    rng = np.random.default_rng(seed)
    select = []
    for action_size in (fixtures.A, 2):
        case_seed = int(rng.integers(2**31))
        agent = fixtures.make_check_agent(agent_class, seed=case_seed) if action_size == fixtures.A else \
            _plain_agent(agent_class, action_size, case_seed)
        states = fixtures.make_transitions(seed=case_seed + 1, n=8)["obs"]
        select.append({"action_size": action_size, "seed": case_seed,
                       "weights": {n: _state_dict_json(getattr(agent, n)) for n in NETS},
                       "states": states.astype(np.float64).tolist(), "noisy_state": 3})
    backward = []
    for gamma, epsilon in zip((0.9, 0.97), BACKWARD_EPSILON):
        case_seed = int(rng.integers(2**31))
        while True:  # mini-batches with both kinds of transition, so that a missing or reversed (1 - d) shows
            agent = fixtures.make_check_agent(agent_class, seed=case_seed, gamma=gamma)
            batches = [agent.rb.sample(agent.batch_size)[4] for _ in range(BACKWARD_UPDATES)]
            if all(0 < float(dones.sum()) < len(dones) for dones in batches):
                break
            case_seed += 1
        data = fixtures.make_transitions(case_seed)
        backward.append({"gamma": gamma, "epsilon": epsilon, "seed": case_seed, "batch_size": agent.batch_size,
                         "weights": {n: _state_dict_json(getattr(agent, n)) for n in NETS},
                         "transitions": {k: v.astype(np.float64).tolist() for k, v in data.items()},
                         "rb_seed": case_seed + 1, "updates": BACKWARD_UPDATES, "step_lr": STEP_LR})
    return {"select": select, "backward": backward}


def _plain_agent(agent_class: type, action_size: int, seed: int) -> Any:
    with fixtures.fixed_global_rngs(seed):
        return agent_class(fixtures.S, action_size, fixtures.LIMIT, gamma=0.9, batch_size=fixtures.B, lr=1e-3,
                           num_hidden=1, hidden_units=16, eps_start=0.0)


def build_agent(agent_class: type, case: dict[str, Any], action_size: int = fixtures.A) -> Any:
    """An agent of ``agent_class`` with the case's weights (and, for a backward case, its replay memory)."""
    agent = _plain_agent(agent_class, action_size, case["seed"])
    agent.gamma = case.get("gamma", agent.gamma)
    agent.batch_size = case.get("batch_size", agent.batch_size)
    for name in NETS:
        _load_state_dict(getattr(agent, name), case["weights"][name])
    data = case.get("transitions")
    if data is not None:
        arrays = {k: np.asarray(v, dtype=np.float32) for k, v in data.items()}
        for i in range(len(arrays["rew"])):
            agent.remember(state=arrays["obs"][i], action=arrays["act"][i], reward=float(arrays["rew"][i]),
                           next_state=arrays["next_obs"][i], done=float(arrays["done"][i]))
        agent.rb.seed(case["rb_seed"])
    agent.epsilon = float(case.get("epsilon", 0.0))
    return agent


# ------------------------------------------------------------------------------------------------- probes
def probe_select_action(agent_class: type, case: dict[str, Any]) -> dict[str, Any]:
    """What ``select_action`` returns: greedy (epsilon 0) on every state, then noisy draws on one state with
    epsilon 0.5 and a huge epsilon (100), under global generators seeded with the case's seed."""
    agent = build_agent(agent_class, case, action_size=case["action_size"])
    states = np.asarray(case["states"], dtype=np.float32)
    out: dict[str, Any] = {"greedy": [], "error": None, "changed_state": False}
    with warnings.catch_warnings(), fixtures.fixed_global_rngs(case["seed"]):
        warnings.simplefilter("ignore")
        try:
            agent.epsilon = 0.0
            for state in states:
                given = state.copy()
                out["greedy"].append(encode_tensor(agent.select_action(given)))
                out["changed_state"] = out["changed_state"] or not np.array_equal(given, state)
            state = states[case["noisy_state"]]
            with torch.no_grad():
                out["mu"] = agent.mu_current(torch.as_tensor(state)).to(torch.float64).tolist()
            agent.epsilon = 0.5
            out["noisy"] = [encode_tensor(agent.select_action(state.copy())) for _ in range(SELECT_NOISY_DRAWS)]
            agent.epsilon = 100.0
            out["big"] = [encode_tensor(agent.select_action(state.copy())) for _ in range(SELECT_BIG_DRAWS)]
        except Exception as err:  # noqa: BLE001 - any error of the submission is a finding
            out["error"] = _message(err)
    return out


def encode_update(run: fixtures.BackwardRun) -> dict[str, Any]:
    """One ``backward()`` call as JSON.

    Returns:
        ``qs_selected``, ``qs_target``, ``q_mu`` (encoded tensors, (B, 1) when right), ``critic_grads`` and
        ``actor_grads`` (per optimizer step, per parameter, a flat list), ``returned`` and ``returned_is_tuple``
        (the pair), ``error`` (a message or ``None``), ``params`` (per network of :data:`NETS`, per parameter, its
        flat values after the call) and ``requires_grad`` (for ``q_current`` and ``mu_current``, one flag per
        parameter after the call).
    """
    returned = run.returned
    if isinstance(returned, tuple):
        returned_json: Any = [encode_tensor(v) for v in returned[:4]]
    else:
        returned_json = encode_tensor(returned)
    agent = run.agent
    params, flags = {}, {}
    for name in NETS:
        net = getattr(agent, name, None)
        ok = isinstance(net, torch.nn.Module)
        params[name] = [p.detach().to(torch.float64).reshape(-1).tolist() for p in net.parameters()] if ok else None
        if name in ("q_current", "mu_current"):
            flags[name] = [bool(p.requires_grad) for p in net.parameters()] if ok else None
    return {
        "qs_selected": encode_tensor(run.get("qs_selected")),
        "qs_target": encode_tensor(run.get("qs_target")),
        "q_mu": encode_tensor(run.get("q_mu")),
        "critic_grads": encode_grads(run.critic_grads),
        "actor_grads": encode_grads(run.actor_grads),
        "returned": returned_json,
        "returned_is_tuple": isinstance(returned, tuple),
        "error": None if run.error is None else _message(run.error),
        "params": params,
        "requires_grad": flags,
    }


def probe_backward(agent_class: type, case: dict[str, Any]) -> dict[str, Any]:
    """What ``backward()`` computes on the case's agent (its epsilon is the case's, not 0).

    Returns:
        The first call on its own, with recording optimizers that change no weight (:func:`encode_update`'s
        keys), and under ``updates`` the case's number of calls in a row on one agent whose optimizers take a
        plain gradient step of ``step_lr`` (one :func:`encode_update` per call; the run stops at an error).
        Both under global generators seeded with the case's seed, so that a submission's own noise is the same
        on every regrade.
    """
    with fixtures.fixed_global_rngs(case["seed"]):
        record = encode_update(fixtures.capture_backward(build_agent(agent_class, case)))
    updates: list[dict[str, Any]] = []
    with fixtures.fixed_global_rngs(case["seed"]):
        agent = build_agent(agent_class, case)
        for _ in range(int(case.get("updates", 0))):
            run = fixtures.capture_backward(agent, step_lr=float(case["step_lr"]))
            updates.append(encode_update(run))
            if run.error is not None:
                break
    record["updates"] = updates
    return record


def probe_visible_checks(agent_class: type, skip: tuple[str, ...] = ()) -> dict[str, str | None]:
    """Each visible check of the notebook: ``None`` if it passes, else its message (for feedback only). Checks
    in ``skip`` (of a method that hung) are not run."""
    results: dict[str, str | None] = {}
    for name in VISIBLE_CHECKS:
        if name in skip:
            results[name] = "not run: the method did not return (an endless loop?)"
            continue
        try:
            getattr(checks, name)(agent_class)
            results[name] = None
        except Exception as err:  # noqa: BLE001 - the message is what the student would have seen
            results[name] = _message(err)
    return results


def run_probes(agent_class: type, fixtures: dict[str, Any], emit: Callable[[dict[str, Any]], None],
               timeout_s: float = 0.0, visible: bool = True) -> None:
    """Run every probe on ``agent_class`` and ``emit`` one record per probe, as soon as it is done.

    Args:
        agent_class: the class to probe.
        fixtures: from :func:`make_fixtures`.
        emit: receives ``{"probe": name, "case": i, "values": ...}`` (or ``"error"`` instead of ``"values"``).
        timeout_s: cut one probe after this many seconds (0: no cut; needs the main thread).
        visible: also run the notebook's visible checks (their messages explain a failure in the feedback).
    """
    jobs: list[tuple[str, int, Callable[[], Any]]] = []
    for i, case in enumerate(fixtures["select"]):
        jobs.append(("select_action", i, lambda c=case: probe_select_action(agent_class, c)))
    for i, case in enumerate(fixtures["backward"]):
        jobs.append(("backward", i, lambda c=case: probe_backward(agent_class, c)))
    if visible:
        jobs.append(("visible_checks", 0, lambda: probe_visible_checks(agent_class)))
    hung: set[str] = set()  # a method that hung once hangs again: its later cases are not waited for
    for name, index, job in jobs:
        start = time.perf_counter()
        if name in hung:
            emit({"probe": name, "case": index, "error": "not tried: an earlier case of it hung", "seconds": 0.0})
            continue
        if name == "visible_checks" and hung:
            skip = {"select_action": ("check_select_action",)}.get(next(iter(hung)), VISIBLE_CHECKS)
            job = (lambda s=skip: probe_visible_checks(agent_class, skip=s))  # noqa: E731
        try:
            with _time_limit(timeout_s):
                record = {"probe": name, "case": index, "values": job()}
        except ProbeTimeout as err:
            hung.add(name)
            record = {"probe": name, "case": index, "error": _message(err)}
        except BaseException as err:  # noqa: BLE001 - a SystemExit is a finding too
            record = {"probe": name, "case": index, "error": _message(err)}
        record["seconds"] = round(time.perf_counter() - start, 3)
        emit(record)


class ProbeTimeout(BaseException):
    """Raised in the main thread when one probe runs past its time limit."""


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    if seconds <= 0:
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise ProbeTimeout(f"no result within {seconds:g} s (an endless loop?)")

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ------------------------------------------------------------------------------------ the sandbox's side
def run_cells(sources: list[str], cell_timeout_s: float) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run ``sources`` in order in a fresh IPython shell, as the kernel would; return its namespace and one
    status per cell (``ok`` or the error)."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    statuses = []
    for source in sources:
        try:
            with _time_limit(cell_timeout_s):
                result = shell.run_cell(source, store_history=False, silent=False)
            err = result.error_before_exec or result.error_in_exec
            statuses.append({"ok": err is None, "error": None if err is None else _message(err)})
        except BaseException as err:  # noqa: BLE001 - a cut hang or a SystemExit in a cell
            statuses.append({"ok": False, "error": _message(err)})
    return shell.user_ns, statuses


def verdict_run(sources: list[str], fixtures: dict[str, Any], limits: SandboxLimits,
                emit: Callable[[dict[str, Any]], None]) -> None:
    """The whole verdict run, once the inputs are read: run the cells, then every probe; ``emit`` gets one record
    per step (``cells``, then one per probe, then ``done``; ``agent`` instead when no class came out).

    Shared by :func:`main` (a fresh process per run) and :mod:`~workshop_lib.grading.forkserver` (a child forked
    per run from a process that imported PyTorch once): both make the same records from the same inputs.
    """
    cell_timeout = probe_timeout = float(limits.cell_timeout)
    torch.set_num_threads(1)
    speed.defer_dynamo_import()  # before the submission builds its optimizers (1.5 CPU-s of imports saved)
    namespace, statuses = run_cells(sources, cell_timeout)
    emit({"probe": "cells", "case": 0, "values": statuses})
    agent_class = namespace.get("DDPGAgent")
    if not isinstance(agent_class, type):
        emit({"probe": "agent", "case": 0, "error": "the notebook defines no class DDPGAgent"})
        return
    run_probes(agent_class, fixtures, emit, timeout_s=probe_timeout)
    emit({"probe": "done", "case": 0, "values": None})


def main(argv: list[str] | None = None) -> int:
    """Entry point inside the sandbox: read the inputs, then :func:`verdict_run`; one JSON line per record."""
    argv = sys.argv[1:] if argv is None else argv
    cells_path, fixtures_path = argv[0], argv[1]
    limits = SandboxLimits.read(argv[2] if len(argv) > 2 else None)
    # The records go to the standard output this process started with; the cells' own output goes nowhere.
    emit = open_channel()
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process

    with open(cells_path) as f:
        sources = json.load(f)
    with open(fixtures_path) as f:
        fixtures = json.load(f)
    verdict_run(sources, fixtures, limits, emit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
