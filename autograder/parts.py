"""The graded parts of the assignment: the one table that the notebook, the grader, the tests and the README
are checked against.

Each part is one nbgrader test cell of the master notebook (``grade_id``, ``points``). Its verdict is decided by
``autograder.verdict`` in the grading process, from the values the sandboxed probe hands back; the notebook's
own test cell only runs the visible checks, for the student.
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
    """

    grade_id: str
    title: str
    points: float
    checks: str
    visible: tuple[str, ...]


PARTS: tuple[Part, ...] = (
    Part("test_select_action", "action selection", 2,
         "greedy actions equal the live actor's; noise of mean 0 and std epsilon, fresh every call and drawn per "
         "action dimension; actions clipped to the limits; a NumPy array of shape (action_size,)",
         ("check_select_action",)),
    Part("test_critic_prediction", "critic prediction", 2,
         "qs_selected equals the reference Q(s, a) of the sampled batch, shape (B, 1), with the critic's gradient",
         ("check_critic_prediction",)),
    Part("test_critic_target", "critic target", 3,
         "qs_target equals the reference y = r + gamma (1 - d) Q'(s', mu'(s')), shape (B, 1), without gradient; "
         "the critic's gradient equals the reference's; the critic's optimizer steps exactly once",
         ("check_critic_target",)),
    Part("test_policy_loss", "policy loss", 3,
         "the returned policy loss and the actor's gradient equal the reference's; the actor's optimizer steps "
         "exactly once",
         ("check_policy_step", "check_target_update")),
)
"""Every autograded part, in the notebook's order (10 points in all)."""

BY_ID: dict[str, Part] = {p.grade_id: p for p in PARTS}
POINTS: dict[str, float] = {p.grade_id: float(p.points) for p in PARTS}
TOTAL: float = sum(POINTS.values())


def markdown_table() -> str:
    """The parts as the Markdown table the README shows (a test checks that the README holds exactly this)."""
    lines = ["| part (grade_id) | points | what the grader compares with the reference |", "| --- | --- | --- |"]
    lines += [f"| {p.title} (`{p.grade_id}`) | {p.points:g} | {p.checks} |" for p in PARTS]
    return "\n".join(lines)
