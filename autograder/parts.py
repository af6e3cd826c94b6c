"""The graded parts of the assignment: the one table that the notebook, the grader, the tests and the README
are checked against.

Each part is one nbgrader test cell of the master notebook (``grade_id``, ``points``). Its verdict is decided by
``autograder.verdict`` in the grading process, from the values the sandboxed probe hands back; the notebook's
own test cell only runs the visible checks, for the student.

Which part each comparison belongs to is said here, once: every name of :data:`QUANTITIES` belongs to exactly
one part (its ``quantities``), and ``autograder.verdict`` has one judge per name. A ``backward()`` case is
compared twice: one update on its own (the optimizers only record, so a mistake of one step cannot change
another step's values), and several updates in a row with real gradient steps, compared update by update for as
long as every network and flag still equals the reference's after the previous update. So a mistake costs its own
part: the update in which the state first differs is the last one any other part is judged on.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Part:
    """One autograded part.

    Attributes:
        grade_id: the nbgrader grade_id of its test cell in the master notebook.
        title: its column title in ``make grade``'s table and the feedback.
        points: its points.
        checks: what the grading compares with the reference, in one line (README and feedback).
        visible: the notebook's visible checks (``workshop_lib.checks``) whose messages explain a failure.
        quantities: the names (keys of :data:`QUANTITIES`) of what the verdict compares for this part, in order.
    """

    grade_id: str
    title: str
    points: float
    checks: str
    visible: tuple[str, ...]
    quantities: tuple[str, ...]


QUANTITIES: dict[str, str] = {
    "select_action": "what select_action returns: greedy and noisy actions, their clipping; the state it was "
                     "given left unchanged",
    "qs_selected": "the critic's prediction Q(s, a) of the update's mini-batch, (B, 1), with the critic's gradient",
    "qs_target": "the critic's target y = r + gamma (1 - d) Q'(s', mu'(s')), (B, 1), without gradient",
    "critic_step": "the critic's optimizer steps exactly once, with the gradient of the mean squared error",
    "policy_loss": "q_mu is a tensor; backward() returns the pair (TD error, policy loss); the policy loss",
    "actor_step": "the actor's optimizer steps exactly once, with the gradient of the policy loss",
    "critic_unfrozen": "after backward() the live networks are trainable again (requires_grad restored)",
    "target_networks": "after backward() the target networks moved by one polyak step towards the live ones",
}
"""Every comparison the verdict makes, by name, with what it compares (each belongs to exactly one part)."""


PARTS: tuple[Part, ...] = (
    Part("test_select_action", "action selection", 2,
         "greedy actions equal the live actor's; noise of mean 0 and std epsilon, fresh every call and drawn per "
         "action dimension; actions clipped to the limits; a NumPy array of shape (action_size,); the state it "
         "was given is left unchanged",
         ("check_select_action",), ("select_action",)),
    Part("test_critic_prediction", "critic prediction", 2,
         "qs_selected equals the reference Q(s, a) of the sampled batch, shape (B, 1), with the critic's "
         "gradient, in one update and in each of 3 updates in a row",
         ("check_critic_prediction",), ("qs_selected",)),
    Part("test_critic_target", "critic target", 3,
         "qs_target equals the reference y = r + gamma (1 - d) Q'(s', mu'(s')), shape (B, 1), without gradient; "
         "the critic's gradient (of the mean squared error) equals the reference's; the critic's optimizer steps "
         "exactly once per update; in one update and in each of 3 updates in a row (epsilon not 0)",
         ("check_critic_target",), ("qs_target", "critic_step")),
    Part("test_policy_loss", "policy loss", 3,
         "the returned policy loss and the actor's gradient equal the reference's; the actor's optimizer steps "
         "exactly once per update; after each update the critic is trainable again and the target networks have "
         "moved by one polyak step; in one update and in each of 3 updates in a row (epsilon not 0)",
         ("check_policy_step", "check_target_update"),
         ("policy_loss", "actor_step", "critic_unfrozen", "target_networks")),
)
"""Every autograded part, in the notebook's order (10 points in all)."""

BY_ID: dict[str, Part] = {p.grade_id: p for p in PARTS}
POINTS: dict[str, float] = {p.grade_id: float(p.points) for p in PARTS}
TOTAL: float = sum(POINTS.values())
"""The autograded points in all (the parts' sum: the one place it is computed)."""


def markdown_table() -> str:
    """The parts as the Markdown table the README shows (a test checks that the README holds exactly this)."""
    lines = ["| part (grade_id) | points | what the grader compares with the reference |", "| --- | --- | --- |"]
    lines += [f"| {p.title} (`{p.grade_id}`) | {p.points:g} | {p.checks} |" for p in PARTS]
    return "\n".join(lines)
