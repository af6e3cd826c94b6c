"""The verdict of each graded part, decided in the grading process from values only.

The sandbox hands back what the student's methods computed on the grader's fixtures
(:mod:`workshop_lib.grading.probe`); the same probe runs here, in this process, on the reference agent
(``solutions/ddpg_agent.py``). :func:`decide` compares the two and returns, per part of
:data:`autograder.parts.PARTS`, whether it passed and a message for the student. The messages name the mistake
(from the visible check that failed, when one did) and never contain a reference value.

Each part compares the quantities ``autograder.parts`` gives it (one judge of :data:`JUDGES` per name). A
``backward`` case holds one update on its own and, under ``updates``, several updates in a row with real
gradient steps (:func:`judge_backward` says how these are compared so that a mistake costs its own part).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from autograder.parts import BY_ID, PARTS, Part
from autograder.text import shown

RTOL, ATOL, GRAD_ATOL = 1e-4, 1e-5, 1e-6
PARAM_RTOL, PARAM_ATOL = 1e-4, 1e-5
"""Tolerances of a part's comparison of the weights after an update (the target networks')."""
SAME_RTOL, SAME_ATOL = 1e-6, 1e-7
"""Tolerances under which the next update starts from the reference's state. Tighter than the comparisons of the
next update's values (which a difference of the weights reaches about ten times larger), looser than float
rounding (a correct update written differently moves a weight by about 1e-7 at most)."""


@dataclass
class Verdict:
    """The outcome of one part."""

    part: Part
    passed: bool
    message: str

    @property
    def score(self) -> float:
        return float(self.part.points) if self.passed else 0.0


def quoted(text: Any) -> str:
    """Text that came back from the sandbox (an exception's message, a visible check's verdict): the submission's
    run wrote it, so it is shown as a quotation, never in the grader's own voice (a submission could otherwise
    write "the grader crashed, ask for full marks" into its feedback). One escaped line, cut, in « »."""
    return "«" + shown(text, 600).replace("»", "›").replace("«", "‹") + "»"


def raised(method: str, record: dict[str, Any], where: str = "") -> str:
    """The message for a method that raised: the grader's words, the error quoted."""
    return f"{method} raised an error{where}; your run reported: {quoted(record.get('error'))}"


class Failed(Exception):
    """A comparison that failed; its message says what, without reference values."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise Failed(message)


def _array(desc: Any, what: str, kinds: tuple[str, ...] = ("tensor", "ndarray")) -> np.ndarray:
    """The data of an encoded tensor/array, reshaped; fails if it is not one."""
    _check(isinstance(desc, dict), f"{what} is missing")
    _check(desc.get("type") in kinds, f"{what} must be a {' or '.join(kinds)}, got {desc.get('type')}")
    data, shape = desc.get("data"), desc.get("shape")
    _check(isinstance(data, list) and isinstance(shape, list), f"{what} could not be read")
    _check(all(isinstance(v, (int, float)) for v in data), f"{what} holds non-numbers")
    _check(all(isinstance(s, int) and s >= 0 for s in shape) and math.prod(shape) == len(data),
           f"{what} could not be read")
    return np.asarray(data, dtype=np.float64).reshape(shape)


def _same(student: Any, reference: Any, what: str, atol: float = ATOL) -> None:
    ref = _array(reference, f"reference {what}")
    got = _array(student, what, kinds=("tensor",))
    _check(tuple(got.shape) == tuple(ref.shape), f"{what} must have shape {tuple(ref.shape)}, got {tuple(got.shape)}")
    _check(bool(np.all(np.isfinite(got))), f"{what} is not finite")
    _check(bool(np.allclose(got, ref, rtol=RTOL, atol=atol)), f"{what} differs from the reference")


def _grads_same(student: Any, reference: Any, what: str) -> None:
    _check(isinstance(student, list) and len(student) >= 1, f"{what}: the optimizer never stepped")
    ref = reference[0]
    got = student[0]
    _check(isinstance(got, list) and len(got) == len(ref), f"{what}: the gradients could not be read")
    for g, r in zip(got, ref):
        _check(g is not None and isinstance(g, list) and len(g) == len(r), f"{what}: a parameter got no gradient")
        _check(all(isinstance(v, (int, float)) for v in g), f"{what} could not be read")
        _check(bool(np.allclose(np.asarray(g, dtype=np.float64), np.asarray(r), rtol=RTOL, atol=GRAD_ATOL)),
               f"{what} differs from the reference")


def _steps_once(student: Any, what: str) -> None:
    n = len(student) if isinstance(student, list) else 0
    _check(n == 1, f"{what} stepped {n} times in one backward(); it must step exactly once")


# -------------------------------------------------------------------------------------------------- parts
def judge_select_action(student: dict[str, Any], reference: dict[str, Any], limit: float) -> None:
    """One select_action case (raises :class:`Failed`)."""
    _check(student.get("error") is None, raised("select_action", student))
    _check(not student.get("changed_state"), "select_action changed the state array it was given (in place): "
           "the training loop stores that same array in the replay memory")
    greedy = student.get("greedy") or []
    _check(len(greedy) == len(reference["greedy"]), "select_action did not return an action for every state")
    for got, ref in zip(greedy, reference["greedy"]):
        _check(isinstance(got, dict) and got.get("type") == "ndarray",
               f"the action must be a NumPy array, got {got.get('type') if isinstance(got, dict) else got}")
        a, r = _array(got, "the action", ("ndarray",)), _array(ref, "reference action", ("ndarray",))
        _check(a.shape == r.shape, f"the action must have shape {r.shape}, got {a.shape}")
        _check(bool(np.allclose(a, r, atol=1e-5)), "with epsilon = 0 the action must be the live actor's output")
    mu = np.asarray(reference["mu"], dtype=np.float64)
    noisy = np.stack([_array(d, "a noisy action", ("ndarray",)).reshape(-1) for d in student.get("noisy", [])]
                     or [np.zeros(0)])
    ref_noisy = np.stack([_array(d, "reference", ("ndarray",)).reshape(-1) for d in reference["noisy"]])
    _check(noisy.shape == ref_noisy.shape, "select_action with epsilon > 0 returned actions of another shape")
    for dim in range(noisy.shape[1]):
        _check(abs(noisy[:, dim].mean() - ref_noisy[:, dim].mean()) < 0.05, "the noise must have mean zero")
        _check(abs(noisy[:, dim].std() - ref_noisy[:, dim].std()) < 0.05,
               "the noise must have standard deviation epsilon")
        inside = noisy[np.abs(noisy[:, dim]) < limit - 1e-6, dim]  # clipped draws repeat the limit
        _check(len(inside) < 50 or len(np.unique(inside)) > 0.9 * len(inside), "every call must draw fresh noise")
    if noisy.shape[1] > 1:
        noise = noisy - mu
        corr = np.corrcoef(noise.T)
        off = np.abs(corr[~np.eye(len(corr), dtype=bool)])
        _check(bool(np.all(off < 0.2)), "each action dimension needs its own noise draw")
    big = np.stack([_array(d, "an action", ("ndarray",)).reshape(-1) for d in student.get("big", [])]
                   or [np.zeros(0)])
    _check(big.size == len(reference["big"]) * noisy.shape[1], "select_action with a large epsilon failed")
    _check(bool(np.all(np.abs(big) <= limit + 1e-6)), "actions must be clipped to the action limit")
    _check(bool(np.isclose(big.max(), limit) and np.isclose(big.min(), -limit)), "clip at the limits, not inside")


class Unjudgeable(Exception):
    """This update cannot be compared for this part: what it starts from already differs, through another
    part's step (the part was judged on the update on its own and on the earlier updates)."""


def _params(desc: Any, what: str) -> list[np.ndarray]:
    """One network's parameters as recorded (per parameter, a flat list of numbers)."""
    _check(isinstance(desc, list) and all(isinstance(p, list) for p in desc), f"{what} could not be read")
    _check(all(isinstance(v, (int, float)) for p in desc for v in p), f"{what} holds non-numbers")
    return [np.asarray(p, dtype=np.float64) for p in desc]


def _nets_same(student: dict[str, Any], reference: dict[str, Any], names: tuple[str, ...],
               tight: bool = False) -> bool:
    """The networks ``names`` after the update hold the reference's weights (``False`` if unreadable), within
    :data:`PARAM_RTOL` / :data:`PARAM_ATOL`, or with ``tight`` within :data:`SAME_RTOL` / :data:`SAME_ATOL`."""
    rtol, atol = (SAME_RTOL, SAME_ATOL) if tight else (PARAM_RTOL, PARAM_ATOL)
    try:
        for name in names:
            got = _params((student.get("params") or {}).get(name), name)
            ref = _params(reference["params"][name], name)
            if len(got) != len(ref) or not all(g.shape == r.shape and np.allclose(g, r, rtol=rtol, atol=atol)
                                               for g, r in zip(got, ref)):
                return False
    except Failed:
        return False
    return True


def _same_state(student: dict[str, Any], reference: dict[str, Any]) -> bool:
    """The next update starts where the reference's does: no error, the same four networks and flags."""
    return (student.get("error") is None and reference.get("error") is None
            and _nets_same(student, reference, ("q_current", "q_target", "mu_current", "mu_target"), tight=True)
            and student.get("requires_grad") == reference.get("requires_grad"))


# -------------------------------------------------------------------------------- one judge per quantity
def _judge_qs_selected(student: dict[str, Any], reference: dict[str, Any], in_run: bool) -> None:
    if student["qs_selected"].get("type") is None or student["qs_selected"].get("type") == "NoneType":
        _check(student.get("error") is None, raised("backward()", student, " before qs_selected"))
    _same(student["qs_selected"], reference["qs_selected"], "qs_selected")
    _check(bool(student["qs_selected"].get("requires_grad")), "qs_selected must carry the critic's gradient")


def _judge_qs_target(student: dict[str, Any], reference: dict[str, Any], in_run: bool) -> None:
    if student["qs_target"].get("type") == "NoneType":
        _check(student.get("error") is None, raised("backward()", student, " before qs_target"))
    _same(student["qs_target"], reference["qs_target"], "qs_target")
    _check(not student["qs_target"].get("requires_grad"), "qs_target must carry no gradient")


def _judge_critic_step(student: dict[str, Any], reference: dict[str, Any], in_run: bool) -> None:
    _steps_once(student.get("critic_grads"), "the critic's optimizer")
    try:  # the critic's gradient follows from the prediction too: a wrong prediction costs that part only
        _same(student["qs_selected"], reference["qs_selected"], "qs_selected")
    except Failed:
        return
    _grads_same(student.get("critic_grads"), reference["critic_grads"], "the critic's gradient")


def _policy_sees_the_reference_critic(student: dict[str, Any], reference: dict[str, Any], in_run: bool) -> None:
    """In a run, the actor's step uses the critic its own step just moved: if that critic differs, or the update
    raised before the actor's step (the critic parts' mistakes), the policy cannot be compared on this update."""
    if not in_run:
        return
    q_mu = student.get("q_mu")
    if student.get("error") is not None and not (isinstance(q_mu, dict) and q_mu.get("type") == "tensor"):
        raise Unjudgeable  # raised before the policy loss: a step-3 crash already failed the update on its own
    if "params" in reference and not _nets_same(student, reference, ("q_current",), tight=True):
        raise Unjudgeable


def _judge_policy_loss(student: dict[str, Any], reference: dict[str, Any], in_run: bool) -> None:
    _policy_sees_the_reference_critic(student, reference, in_run)
    _check(student.get("error") is None, raised("backward()", student))
    _check(student["q_mu"].get("type") == "tensor", "q_mu must be a tensor")
    returned = student.get("returned")
    _check(bool(student.get("returned_is_tuple")) and isinstance(returned, list) and len(returned) == 2,
           "backward() must return the pair (TD error, policy loss)")
    loss = returned[1].get("data") if isinstance(returned[1], dict) else None
    ref_loss = reference["returned"][1]["data"]
    _check(isinstance(loss, (int, float)) and abs(loss - ref_loss) <= 1e-4 * (1 + abs(ref_loss)),
           "the policy loss differs from the reference")


def _judge_actor_step(student: dict[str, Any], reference: dict[str, Any], in_run: bool) -> None:
    _steps_once(student.get("actor_grads"), "the actor's optimizer")
    _grads_same(student.get("actor_grads"), reference["actor_grads"], "the actor's gradient")


def _judge_critic_unfrozen(student: dict[str, Any], reference: dict[str, Any], in_run: bool) -> None:
    if "requires_grad" not in reference:  # a record of an older probe
        return
    flags, ref_flags = student.get("requires_grad"), reference["requires_grad"]
    _check(isinstance(flags, dict), "the networks' requires_grad flags could not be read")
    for name, role in (("q_current", "critic"), ("mu_current", "actor")):
        _check(flags.get(name) == ref_flags.get(name),
               f"after backward() the {role} {name} is left frozen (requires_grad = False on some parameter): "
               "the next update cannot train it; the given code unfreezes the critic after the actor's step")


def _judge_target_networks(student: dict[str, Any], reference: dict[str, Any], in_run: bool) -> None:
    if "params" not in reference:  # a record of an older probe
        return
    for name in ("q_target", "mu_target"):
        _check(_nets_same(student, reference, (name,)),
               f"after backward() the target network {name} differs from the reference: each update moves the "
               "target networks by one polyak step towards the live ones (theta' <- rho theta' + (1 - rho) "
               "theta), neither a copy nor nothing")


JUDGES: dict[str, Callable[[dict[str, Any], dict[str, Any], bool], None]] = {
    "qs_selected": _judge_qs_selected,
    "qs_target": _judge_qs_target,
    "critic_step": _judge_critic_step,
    "policy_loss": _judge_policy_loss,
    "actor_step": _judge_actor_step,
    "critic_unfrozen": _judge_critic_unfrozen,
    "target_networks": _judge_target_networks,
}
"""The judge of each backward quantity of :data:`autograder.parts.QUANTITIES` (``select_action`` has
:func:`judge_select_action`). Each raises :class:`Failed`, or :class:`Unjudgeable` when the update cannot be
compared for its part. ``in_run``: the update is one of several in a row, with real gradient steps."""


def judge_backward(student: dict[str, Any], reference: dict[str, Any], part: str) -> None:
    """One backward case, for one of the three backward parts (raises :class:`Failed`).

    First the update on its own (its optimizers only record): every quantity of the part is compared. Then the
    updates in a row (``updates``), in order: update k is compared only while everything update k - 1 left
    behind (the four networks' weights, the live networks' ``requires_grad``, no error) equals the reference's.
    The first update after which that state differs is the last one compared, so a mistake of one part never
    costs another part through the state it changed; a mistake that only shows from the second update on
    (gradients not cleared, a network left frozen) is still found. Within an update, the policy is compared only
    if the critic the actor's step used (after the critic's own step) equals the reference's.
    """
    quantities = BY_ID[part].quantities
    for name in quantities:
        try:
            JUDGES[name](student, reference, False)
        except Unjudgeable:
            break
    ref_updates = reference.get("updates")
    if not ref_updates:  # a record of an older probe, without the updates in a row
        return
    updates = student.get("updates")
    _check(isinstance(updates, list), "the updates in a row are missing")
    for k, ref_update in enumerate(ref_updates):
        _check(k < len(updates) and isinstance(updates[k], dict),
               f"backward() gave no result in update {k + 1} of {len(ref_updates)} in a row")
        got = updates[k]
        try:
            for name in quantities:
                JUDGES[name](got, ref_update, True)
        except Unjudgeable:
            return
        except Failed as err:
            context = " (the earlier ones matched: something carries over from one update to the next, such as " \
                      "gradients not cleared or a network left frozen)" if k else ""
            raise Failed(f"{err}, in update {k + 1} of {len(ref_updates)} in a row{context}") from None
        if not _same_state(got, ref_update):
            return


# ----------------------------------------------------------------------------------------------- decision
def _records(records: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, Any]]:
    """The first record of each (probe, case)."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for r in records:
        key = (r.get("probe"), r.get("case"))
        if isinstance(key[0], str) and isinstance(key[1], int) and key not in out:
            out[key] = r
    return out


def decide(student_records: list[dict[str, Any]], reference_records: list[dict[str, Any]], limit: float | None = None,
           run_reason: str | None = None) -> list[Verdict]:
    """A :class:`Verdict` for every part of :data:`PARTS`.

    Args:
        student_records: the sandbox's probe records (possibly partial).
        reference_records: the same probes run here on the reference agent.
        limit: the action limit of the fixtures (default: ``workshop_lib.grading.fixtures.LIMIT``).
        run_reason: why the sandboxed run ended early, if it did (``timed out after 120 s``, ...).
    """
    if limit is None:  # imported here: the fixtures import torch, which the grader needs only later
        from workshop_lib.grading.fixtures import LIMIT as limit
    got, ref = _records(student_records), _records(reference_records)
    visible = (got.get(("visible_checks", 0)) or {}).get("values") or {}
    visible = visible if isinstance(visible, dict) else {}
    agent_error = (got.get(("agent", 0)) or {}).get("error")
    verdicts = []
    for part in PARTS:
        probe = "select_action" if part.grade_id == "test_select_action" else "backward"
        cases = sorted(k[1] for k in ref if k[0] == probe)
        try:
            if agent_error:
                raise Failed(f"your DDPGAgent could not be tested; your run reported: {quoted(agent_error)}")
            for case in cases:
                record = got.get((probe, case))
                if record is None:
                    raise Failed(f"no result: the run ended before this part was tested ({run_reason or 'it stopped'})")
                if "error" in record:
                    raise Failed(f"testing it failed; your run reported: {quoted(record['error'])}")
                values, ref_values = record.get("values"), ref[(probe, case)]["values"]
                _check(isinstance(values, dict), "no result")
                if probe == "select_action":
                    judge_select_action(values, ref_values, limit)
                else:
                    judge_backward(values, ref_values, part.grade_id)
            verdicts.append(Verdict(part, True, "passed"))
        except Exception as err:  # noqa: BLE001 - values from the sandbox are untrusted: any odd one fails the part
            reason = str(err) if isinstance(err, Failed) else "the values it returned could not be read"
            hints = [str(visible[name]) for name in part.visible if isinstance(visible.get(name), str)]
            message = reason if not hints else f"{reason}. The notebook's check says: {quoted(hints[0])}"
            verdicts.append(Verdict(part, False, message[:2000]))
    return verdicts
