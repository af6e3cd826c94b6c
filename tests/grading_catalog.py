"""The catalog of submissions the autograder is tested on: correct solutions written differently, common
mistakes, and traps (stub, deleted or emptied test cell, a hang, warnings on stderr).

Each submission is the RELEASED student notebook with its ``# YOUR CODE HERE / raise NotImplementedError()`` stubs
replaced by code: the body of ``select_action`` and the four places of ``backward`` (sample; critic prediction;
critic target; policy loss). Pieces a variant does not override are the reference solution's, read from the
master notebook between its ``### BEGIN SOLUTION`` / ``### END SOLUTION`` markers.

Used by tests/test_autograder.py and benchmarks/bench_grading.py.
"""

from __future__ import annotations

import copy
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder import parts

ASSIGNMENT, NOTEBOOK = "ddpg", "ddpg_pendulum"
STUB = "# YOUR CODE HERE\n{indent}raise NotImplementedError()"
POINTS = dict(parts.POINTS)  # the one table of graded parts
PIECES = ("select", "sample", "prediction", "target", "policy")


def reference_pieces(master: Path) -> dict[str, str]:
    """The reference solution's five pieces (dedented), read from the master notebook."""
    nb = nbformat.read(master, as_version=4)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nb.cells}
    regions = []
    for grade_id in ("select_action", "backward"):
        regions += re.findall(r"### BEGIN SOLUTION\n(.*?)\n[ \t]*### END SOLUTION", cells[grade_id], re.S)
    if len(regions) != 5:
        raise ValueError(f"expected 5 solution regions in the master notebook, found {len(regions)}")
    return {name: textwrap.dedent(region) for name, region in zip(PIECES, regions)}


@dataclass
class Variant:
    """One submission of the catalog.

    Attributes:
        name: the student id it is graded under.
        why: what it shows.
        expected: the expected score of each test cell (grade_id -> points).
        pieces: replacements of the reference pieces (``select``, ``sample``, ``prediction``, ``target``,
            ``policy``), written at indentation 0; ``None`` keeps the stubs everywhere.
        mutate: a change to the whole notebook after the pieces are in (delete or empty a cell, ...).
    """

    name: str
    why: str
    expected: dict[str, float]
    pieces: dict[str, str] | None = field(default_factory=dict)
    mutate: Callable[[nbformat.NotebookNode], None] | None = None

    @property
    def total(self) -> float:
        return sum(self.expected.values())


def _scores(**zeroed: float) -> dict[str, float]:
    """Full marks except for the parts given (as keyword = score)."""
    names = {"select": "test_select_action", "prediction": "test_critic_prediction",
             "target": "test_critic_target", "policy": "test_policy_loss"}
    out = dict(POINTS)
    for key, value in zeroed.items():
        out[names[key]] = value
    return out


def _fill(source: str, bodies: list[str]) -> str:
    """Replace the stubs of ``source`` in order by ``bodies`` (each indented like its stub)."""
    pattern = re.compile(r"^([ \t]*)# YOUR CODE HERE\n[ \t]*raise NotImplementedError\(\)", re.M)
    stubs = list(pattern.finditer(source))
    if len(stubs) != len(bodies):
        raise ValueError(f"expected {len(bodies)} stubs, found {len(stubs)}")
    out, last = [], 0
    for match, body in zip(stubs, bodies):
        out.append(source[last:match.start()])
        out.append(textwrap.indent(body.strip("\n"), match.group(1)))
        last = match.end()
    out.append(source[last:])
    return "".join(out)


def build_submission(release_nb: nbformat.NotebookNode, reference: dict[str, str],
                     variant: Variant) -> nbformat.NotebookNode:
    """The released notebook with ``variant``'s code in place of the stubs."""
    nb = copy.deepcopy(release_nb)
    if variant.pieces is not None:
        pieces = {**reference, **variant.pieces}
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id == "select_action":
                cell.source = _fill(cell.source, [pieces["select"]])
            elif grade_id == "backward":
                cell.source = _fill(cell.source, [pieces[p] for p in PIECES[1:]])
    if variant.mutate is not None:
        variant.mutate(nb)
    return nb


def _edit_given(grade_id: str, *edits: tuple[str, str]) -> Callable[[nbformat.NotebookNode], None]:
    """A change to the given code of an editable cell: each ``(old, new)`` replaces text that occurs exactly once
    in the cell ``grade_id`` (so a change of the master's given code fails loudly here instead of doing nothing)."""
    def mutate(nb: nbformat.NotebookNode) -> None:
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
                for old, new in edits:
                    if cell.source.count(old) != 1:
                        raise ValueError(f"{old!r} occurs {cell.source.count(old)} times in {grade_id}, not once")
                    cell.source = cell.source.replace(old, new)
    return mutate


def _delete_cell(grade_id: str) -> Callable[[nbformat.NotebookNode], None]:
    def mutate(nb: nbformat.NotebookNode) -> None:
        nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != grade_id]
    return mutate


def _empty_cell(grade_id: str) -> Callable[[nbformat.NotebookNode], None]:
    def mutate(nb: nbformat.NotebookNode) -> None:
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
                cell.source = "pass  # tests removed by the student"
    return mutate


CORRECT = [
    Variant("ok_reference", "the reference solution, as in the master notebook", _scores(), {}),
    Variant("ok_detach_rb_sample", "self.rb.sample with its own order, .detach(), (1 - d) * gamma, cat on -1",
            _scores(), {
                "sample": "states, actions, next_states, rewards, dones = self.rb.sample(self.batch_size)",
                "prediction": "qs_selected = self.q_current(torch.cat([states, actions], dim=-1))",
                "target": (
                    "next_q = self.q_target(torch.cat([next_states, self.mu_target(next_states)], dim=-1)).detach()\n"
                    "qs_target = rewards + (1 - dones) * self.gamma * next_q"),
            }),
    Variant("ok_two_argument_qnet_neg", "the critic called with (states, actions); q.neg() for the minus",
            _scores(), {
                "prediction": "qs_selected = self.q_current(states, actions)",
                "target": ("with torch.no_grad():\n"
                           "    qs_target = rewards + self.gamma * (1 - dones) * self.q_target(next_states, "
                           "self.mu_target(next_states))"),
                "policy": "q_mu = self.q_current(states, self.mu_current(states)).neg()",
            }),
    Variant("ok_from_numpy_normal_noise", "torch.from_numpy + .detach(); np.random.normal noise; float64 action; "
            "-1.0 * q", _scores(), {
                "select": ("s = torch.from_numpy(state).float()\n"
                           "a = self.mu_current(s).detach().numpy()\n"
                           "a = a + np.random.normal(0.0, self.epsilon, size=a.shape)\n"
                           "return np.clip(a, -self.action_limit, self.action_limit)"),
                "policy": "q_mu = -1.0 * self.q_current(torch.cat((states, self.mu_current(states)), 1))",
            }),
    Variant("ok_batched_torch_noise_with_warnings",
            "a batch of one state, torch noise and clamp; torch.tensor(tensor) warnings in select_action and "
            "backward (stderr must not cost points); no no_grad in the target (target nets are frozen)",
            _scores(), {
                "select": ("with torch.no_grad():\n"
                           "    s = torch.tensor(torch.as_tensor(state)).unsqueeze(0)  # UserWarning: copy-construct\n"
                           "    noisy = self.mu_current(s).squeeze(0) + self.epsilon * torch.randn(self.action_size)\n"
                           "    noisy = noisy.clamp(-self.action_limit, self.action_limit)\n"
                           "return noisy.numpy()"),
                "target": ("r = torch.tensor(rewards)  # UserWarning: copy-construct\n"
                           "qs_target = r + self.gamma * (1.0 - dones) * self.q_target(\n"
                           "    torch.cat([next_states, self.mu_target(next_states)], 1))"),
            }),
    Variant("ok_policy_loss_squeezed", "q_mu of shape (B,): the same mean, the same gradient; a two-line "
            "prediction", _scores(), {
                "prediction": ("x = torch.cat([states, actions], dim=1)\n"
                               "qs_selected = self.q_current(x)"),
                "policy": "q_mu = -self.q_current(torch.cat([states, self.mu_current(states)], dim=1)).squeeze(1)",
            }),
    Variant("ok_policy_loss_scalar", "q_mu already averaged (a scalar): loss_mu = q_mu.mean() is unchanged",
            _scores(), {
                "select": ("with torch.no_grad():\n"
                           "    action = self.mu_current(torch.as_tensor(state, dtype=torch.float32)).cpu().numpy()\n"
                           "noise = self.epsilon * np.random.standard_normal(self.action_size)\n"
                           "return np.clip(action + noise, -self.action_limit, self.action_limit).astype(np.float32)"),
                "policy": "q_mu = -self.q_current(torch.cat([states, self.mu_current(states)], dim=1)).mean()",
            }),
]

CORRECT += [
    Variant("ok_zero_grad_set_to_none_false_manual_mse",
            "the given critic update rewritten: zero_grad(set_to_none=False) on both optimizers and the mean squared "
            "error written out as a mean", _scores(), {},
            _edit_given("backward",
                        ("self.q_optimizer.zero_grad()", "self.q_optimizer.zero_grad(set_to_none=False)"),
                        ("self.mu_optimizer.zero_grad()", "self.mu_optimizer.zero_grad(set_to_none=False)"),
                        ("loss = (torch.nn.functional.mse_loss(qs_selected, qs_target)).mean()",
                         "loss = ((qs_selected - qs_target) ** 2).mean()"))),
    Variant("ok_own_soft_update_target_detach",
            "the student's own polyak loop with self.polyak instead of the given call; the target built with "
            ".detach() instead of torch.no_grad()", _scores(), {
                "target": ("next_q = self.q_target(torch.cat([next_states, self.mu_target(next_states)], 1))\n"
                           "qs_target = (rewards + self.gamma * (1 - dones) * next_q).detach()")},
            _edit_given("backward", (
                "    self._update_target_model()\n",
                "    with torch.no_grad():\n"
                "        for target, live in ((self.q_target, self.q_current), (self.mu_target, self.mu_current)):\n"
                "            for t, p in zip(target.parameters(), live.parameters()):\n"
                "                t.mul_(self.polyak).add_((1 - self.polyak) * p)\n"))),
]


def _own_code(nb: nbformat.NotebookNode) -> None:
    """A student's own code around the exercises: a helper method defined in the Exercise 1 cell, and an import
    in a cell the student added above it."""
    index = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "imports")
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell("import torch.nn.functional as F  # my own cell"))
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "select_action":
            cell.source += ("\n\ndef _noise(self):\n"
                            "    # my helper: one standard-normal draw per action dimension, scaled by epsilon\n"
                            "    return self.epsilon * torch.randn(self.action_size)\n")


CORRECT.append(Variant(
    "ok_own_helper_and_added_import_cell",
    "a helper method defined in the exercise cell, and F = torch.nn.functional imported in a cell the student added",
    _scores(), {
        "select": ("with torch.no_grad():\n"
                   "    mu = self.mu_current(torch.as_tensor(state, dtype=torch.float32))\n"
                   "    action = F.hardtanh(mu + self._noise(), -self.action_limit, self.action_limit)\n"
                   "return action.numpy()"),
    }, _own_code))

_TARGET_WITH = ("with torch.no_grad():\n"
                "    qs_target = {expr}")
MISTAKES = [
    Variant("bad_q_current_in_target", "the live critic in the target", _scores(target=0), {
        "target": _TARGET_WITH.format(expr="rewards + self.gamma * (1 - dones) * self.q_current("
                                           "torch.cat([next_states, self.mu_target(next_states)], 1))")}),
    Variant("bad_mu_current_in_target", "the live actor in the target", _scores(target=0), {
        "target": _TARGET_WITH.format(expr="rewards + self.gamma * (1 - dones) * self.q_target("
                                           "torch.cat([next_states, self.mu_current(next_states)], 1))")}),
    Variant("bad_no_done_mask", "no (1 - dones)", _scores(target=0), {
        "target": _TARGET_WITH.format(expr="rewards + self.gamma * self.q_target("
                                           "torch.cat([next_states, self.mu_target(next_states)], 1))")}),
    Variant("bad_no_gamma", "no discount", _scores(target=0), {
        "target": _TARGET_WITH.format(expr="rewards + (1 - dones) * self.q_target("
                                           "torch.cat([next_states, self.mu_target(next_states)], 1))")}),
    Variant("bad_target_broadcast_BxB", "(B, 1) + (B,) broadcasts the target to (B, B) (a warning only)",
            _scores(target=0), {
                "target": _TARGET_WITH.format(
                    expr="rewards + self.gamma * (1 - dones) * self.q_target("
                         "torch.cat([next_states, self.mu_target(next_states)], 1)).squeeze()")}),
    Variant("bad_prediction_squeezed", "qs_selected of shape (B,) against a (B, 1) target", _scores(prediction=0), {
        "prediction": "qs_selected = self.q_current(torch.cat([states, actions], dim=1)).squeeze(-1)"}),
    Variant("bad_prediction_next_states", "next_states in the prediction", _scores(prediction=0), {
        "prediction": "qs_selected = self.q_current(torch.cat([next_states, actions], dim=1))"}),
    Variant("bad_sample_twice", "a second mini-batch for the target", _scores(target=0), {
        "target": ("states2, actions2, rewards2, next_states2, dones2 = self.sample()\n"
                   + _TARGET_WITH.format(expr="rewards2 + self.gamma * (1 - dones2) * self.q_target("
                                              "torch.cat([next_states2, self.mu_target(next_states2)], 1))"))}),
    Variant("bad_policy_no_minus", "gradient descent on Q (no minus)", _scores(policy=0), {
        "policy": "q_mu = self.q_current(torch.cat([states, self.mu_current(states)], dim=1))"}),
    Variant("bad_policy_q_target", "the target critic in the policy loss", _scores(policy=0), {
        "policy": "q_mu = -self.q_target(torch.cat([states, self.mu_current(states)], dim=1))"}),
    Variant("bad_policy_buffer_actions", "the policy loss on the stored actions (backward then raises)",
            _scores(policy=0), {
                "policy": "q_mu = -self.q_current(torch.cat([states, actions], dim=1))"}),
    Variant("bad_policy_detached_actor", "the actor's output detached (backward then raises)", _scores(policy=0), {
        "policy": "q_mu = -self.q_current(torch.cat([states, self.mu_current(states).detach()], dim=1))"}),
    Variant("bad_actor_steps_twice", "the actor's optimizer stepped in the policy-loss region, then again in the "
            "given code", _scores(policy=0), {
                "policy": ("q_mu = -self.q_current(torch.cat([states, self.mu_current(states)], dim=1))\n"
                           "self.mu_optimizer.zero_grad()\n"
                           "q_mu.mean().backward(retain_graph=True)\n"
                           "self.mu_optimizer.step()")}),
    Variant("bad_critic_steps_twice", "q_optimizer.step() (retain_graph=True) before the given critic step",
            _scores(target=0), {
                "target": (_TARGET_WITH.format(expr="rewards + self.gamma * (1 - dones) * self.q_target("
                                                    "torch.cat([next_states, self.mu_target(next_states)], 1))")
                           + "\nself.q_optimizer.zero_grad()\n"
                             "torch.nn.functional.mse_loss(qs_selected, qs_target).backward(retain_graph=True)\n"
                             "self.q_optimizer.step()")}),
    Variant("bad_act_mu_target", "acting with the target actor", _scores(select=0), {
        "select": ("with torch.no_grad():\n"
                   "    action = self.mu_target(torch.as_tensor(state)).numpy()\n"
                   "return np.clip(action + self.epsilon * np.random.randn(self.action_size), "
                   "-self.action_limit, self.action_limit)")}),
    Variant("bad_act_returns_tensor", "a torch tensor returned", _scores(select=0), {
        "select": ("with torch.no_grad():\n"
                   "    action = self.mu_current(torch.as_tensor(state))\n"
                   "return torch.clamp(action + self.epsilon * torch.randn(self.action_size), "
                   "-self.action_limit, self.action_limit)")}),
    Variant("bad_act_no_noise", "no exploration noise", _scores(select=0), {
        "select": ("with torch.no_grad():\n"
                   "    return self.mu_current(torch.as_tensor(state)).numpy()")}),
    Variant("bad_act_no_clip", "noise without clipping", _scores(select=0), {
        "select": ("with torch.no_grad():\n"
                   "    action = self.mu_current(torch.as_tensor(state)).numpy()\n"
                   "return action + self.epsilon * np.random.randn(self.action_size)")}),
    Variant("bad_act_hangs", "select_action never returns: the per-cell timeout cuts it", _scores(select=0), {
        "select": ("while True:\n"
                   "    pass")}),
    # Mistakes of issue 10: each one fails the visible check of its own part, which names it (the check runs in the
    # same graded cell as the hidden tests, so that part scores 0 even where the hidden tests alone would pass).
    Variant("bad_mu_target_on_states", "the next action chosen for the states s instead of the next states s'",
            _scores(target=0), {
                "target": _TARGET_WITH.format(expr="rewards + self.gamma * (1 - dones) * self.q_target("
                                                   "torch.cat([next_states, self.mu_target(states)], 1))")}),
    Variant("bad_policy_sample_twice", "a second mini-batch for the policy loss", _scores(policy=0), {
        "policy": ("fresh_states = self.sample()[0]\n"
                   "q_mu = -self.q_current(torch.cat([fresh_states, self.mu_current(fresh_states)], dim=1))")}),
    Variant("bad_act_scalar_noise", "one scalar of noise for every action dimension (passes on Pendulum's 1-D "
            "action; the visible check's 2-D problem catches it)", _scores(select=0), {
                "select": ("with torch.no_grad():\n"
                           "    action = self.mu_current(torch.as_tensor(state)).numpy()\n"
                           "return np.clip(action + self.epsilon * np.random.randn(), "
                           "-self.action_limit, self.action_limit)")}),
    Variant("bad_target_crashes", "a typo in the target (AttributeError in step 2b): the prediction keeps its "
            "points",
            _scores(target=0, policy=0), {
                "target": _TARGET_WITH.format(expr="rewards + self.gamma * (1 - dones) * self.q_targt("
                                                   "torch.cat([next_states, self.mu_target(next_states)], 1))")}),
    Variant("bad_prediction_crashes", "torch.cat without dim=1 (RuntimeError in step 2a)",
            _scores(prediction=0, target=0, policy=0), {
                "prediction": "qs_selected = self.q_current(torch.cat([states, actions]))"}),
]

# The held-out mistakes of the issue "the verdict catches every mistake": each once scored 10/10, or passed every
# visible check, or got a message that named a neighbour's cause.
_POLICY_WITH = "q_mu = -self.q_current(torch.cat([states, {actions}], dim=1))"
MISTAKES += [
    Variant("bad_policy_noisy_actions", "exploration noise (scaled by epsilon) on the actor's actions in the policy "
            "loss: invisible with epsilon = 0", _scores(policy=0), {
                "policy": _POLICY_WITH.format(
                    actions="self.mu_current(states) + self.epsilon * torch.randn_like(actions)")}),
    Variant("bad_actor_zero_grad_wrong_optimizer", "q_optimizer.zero_grad() before the actor's step: the actor's "
            "gradients pile up from the second update on", _scores(policy=0), {},
            _edit_given("backward", ("self.mu_optimizer.zero_grad()", "self.q_optimizer.zero_grad()"))),
    Variant("bad_critic_zero_grad_wrong_optimizer", "mu_optimizer.zero_grad() before the critic's step: the "
            "critic's gradients pile up from the second update on", _scores(target=0), {},
            _edit_given("backward", ("self.q_optimizer.zero_grad()", "self.mu_optimizer.zero_grad()"))),
    Variant("bad_critic_left_frozen", "the critic is never unfrozen after the actor's step: wrong from the second "
            "update on", _scores(policy=0), {},
            _edit_given("backward", ("    for p in self._critic_params:\n        p.requires_grad = True\n", ""))),
    Variant("bad_hard_target_copy", "DQN's hard copy of the live networks instead of the given polyak update",
            _scores(policy=0), {},
            _edit_given("backward", (
                "    self._update_target_model()\n",
                "    self.q_target.load_state_dict(self.q_current.state_dict())\n"
                "    self.mu_target.load_state_dict(self.mu_current.state_dict())\n"))),
    Variant("bad_gamma_twice", "the discount applied twice", _scores(target=0), {
        "target": _TARGET_WITH.format(expr="rewards + self.gamma * (1 - dones) * self.gamma * self.q_target("
                                           "torch.cat([next_states, self.mu_target(next_states)], 1))")}),
    Variant("bad_dones_minus_one", "(dones - 1) instead of (1 - dones)", _scores(target=0), {
        "target": _TARGET_WITH.format(expr="rewards + self.gamma * (dones - 1) * self.q_target("
                                           "torch.cat([next_states, self.mu_target(next_states)], 1))")}),
    Variant("bad_max_over_batch", "DQN's max, taken over the batch", _scores(target=0), {
        "target": _TARGET_WITH.format(expr="rewards + self.gamma * (1 - dones) * self.q_target("
                                           "torch.cat([next_states, self.mu_target(next_states)], 1)).max()")}),
    Variant("bad_summed_critic_loss", "the given critic loss turned into a sum over the batch", _scores(target=0),
            {}, _edit_given("backward", ("loss = (torch.nn.functional.mse_loss(qs_selected, qs_target)).mean()",
                                         "loss = ((qs_selected - qs_target) ** 2).sum()"))),
    Variant("bad_target_action_noise", "noise of a fixed scale on the target's next action (TD3's smoothing)",
            _scores(target=0), {
                "target": ("with torch.no_grad():\n"
                           "    next_actions = self.mu_target(next_states)\n"
                           "    next_actions = next_actions + 0.2 * torch.randn_like(next_actions)\n"
                           "    qs_target = rewards + self.gamma * (1 - dones) * self.q_target("
                           "torch.cat([next_states, next_actions], 1))")}),
    Variant("bad_target_action_epsilon_noise", "exploration noise (scaled by epsilon) on the target's next action: "
            "invisible with epsilon = 0", _scores(target=0), {
                "target": ("with torch.no_grad():\n"
                           "    next_actions = self.mu_target(next_states)\n"
                           "    next_actions = next_actions + self.epsilon * torch.randn_like(next_actions)\n"
                           "    qs_target = rewards + self.gamma * (1 - dones) * self.q_target("
                           "torch.cat([next_states, next_actions], 1))")}),
    Variant("bad_state_normalised_in_place", "the state normalised in place (the caller's array changes)",
            _scores(select=0), {
                "select": ("state /= np.linalg.norm(state)\n"
                           "with torch.no_grad():\n"
                           "    action = self.mu_current(torch.as_tensor(state)).numpy()\n"
                           "return np.clip(action + self.epsilon * np.random.randn(self.action_size), "
                           "-self.action_limit, self.action_limit)")}),
]

TRAPS = [
    Variant("trap_unmodified", "the released notebook as is: every part 0, and grading goes on",
            {k: 0.0 for k in POINTS}, None),
    Variant("trap_deleted_test_cell", "the reference with the policy-loss test cell deleted: it is put back",
            _scores(), {}, _delete_cell("test_policy_loss")),
    Variant("trap_emptied_test_cell", "no minus, and the policy-loss test replaced by `pass`: restored, 0",
            _scores(policy=0), {"policy": "q_mu = self.q_current(torch.cat([states, self.mu_current(states)], 1))"},
            _empty_cell("test_policy_loss")),
]

CATALOG = CORRECT + MISTAKES + TRAPS


def as_student(name: str, like: str) -> Variant:
    """The catalog's variant ``like``, handed in by the student ``name``."""
    v = next(v for v in CATALOG if v.name == like)
    return Variant(name, v.why, v.expected, v.pieces, v.mutate)


def write_submissions(course: Path, release_nb_path: Path, master: Path, variants: list[Variant]) -> None:
    """Write each variant as ``course/submitted/<name>/ddpg/ddpg_pendulum.ipynb``."""
    release_nb = nbformat.read(release_nb_path, as_version=4)
    reference = reference_pieces(master)
    for variant in variants:
        folder = course / "submitted" / variant.name / ASSIGNMENT
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(build_submission(release_nb, reference, variant), folder / f"{NOTEBOOK}.ipynb")


def agent_class(release_nb_path: Path, master: Path, variant: Variant) -> type:
    """The notebook's ``DDPGAgent`` as ``variant`` writes it, built in-process the way jdc's ``%%add_to`` does
    (each ``def`` of a cell set on the class), for fast checks without a kernel."""
    nb = build_submission(nbformat.read(release_nb_path, as_version=4), reference_pieces(master), variant)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nb.cells}
    namespace: dict = {}
    imports = "\n".join(line for line in cells["imports"].splitlines() if line.strip() != "import jdc"
                        and not line.startswith("import jdc "))
    exec(imports, namespace)  # noqa: S102 - our own notebook's cells
    exec(cells["agent_constructor"], namespace)  # noqa: S102
    cls = namespace["DDPGAgent"]
    last_check = max(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade")
                     and not c.metadata["nbgrader"].get("solution"))  # test cells, not the graded answer cells
    for cell in nb.cells[:last_check]:  # cells the student added above the checks (no nbgrader metadata)
        if cell.cell_type == "code" and "nbgrader" not in cell.metadata:
            exec(cell.source, namespace)  # noqa: S102 - the catalog's own code
    for grade_id in ("replay_memory", "target_update", "select_action", "backward"):
        body = cells[grade_id]
        assert body.startswith("%%add_to DDPGAgent\n")
        methods: dict = {}
        exec(body.split("\n", 1)[1], namespace, methods)  # noqa: S102
        for name, fn in methods.items():
            if callable(fn):
                setattr(cls, name, fn)
    return cls
