"""The course's late policy: a late submission loses 10% of the assignment's points for every started day after
the due date (so 10 or more days late scores 0); the total never drops below 0.

How late a submission is comes from nbgrader: the assignment's due date (``nbgrader db assignment add ddpg
--duedate=...``) and the ``timestamp.txt`` in the student's ``submitted/<student>/ddpg/`` folder. The policy is
in two places, both from ``late_penalty`` below:

* ``PercentPerDayLate``, the nbgrader plugin that ``nbgrader_config.py`` names
  (``c.AssignLatePenalties.plugin_class``): nbgrader calls it when it autogrades and stores its penalty in the
  gradebook. nbgrader caps that penalty at the score the notebook has at that moment, which does not yet count the
  answers graded by hand later in the formgrader.
* ``python -m autograder.export`` (``make export``) applies the same rule again to the final score (autograded
  plus manual), so the CSV's ``late_penalty`` and ``total`` are right whenever it runs.
"""

from __future__ import annotations

import math
from pathlib import Path

from nbgrader.plugins import BasePlugin
from traitlets import Float

from autograder.course_folder import CONFIG_NAME

DAY_SECONDS = 24 * 3600
DEFAULT_PERCENT_PER_DAY = 10.0
PLUGIN = "autograder.late.PercentPerDayLate"  # the name nbgrader_config.py gives AssignLatePenalties.plugin_class


def days_late(seconds_late: float) -> int:
    """Started days after the due date: 1 second late is 1 day, 24 h and 1 second is 2 days."""
    return math.ceil(seconds_late / DAY_SECONDS) if seconds_late > 0 else 0


def late_penalty(seconds_late: float, score: float, max_score: float,
                 percent_per_day: float = DEFAULT_PERCENT_PER_DAY) -> float:
    """Points taken off: ``percent_per_day`` % of ``max_score`` per started day late, never more than ``score``."""
    if seconds_late <= 0:
        return 0.0
    penalty = days_late(seconds_late) * percent_per_day / 100.0 * max_score
    return round(min(penalty, max(score, 0.0)), 6)


class PercentPerDayLate(BasePlugin):
    """nbgrader late-submission plugin: ``percent_per_day`` % of the notebook's points per started day late."""

    percent_per_day = Float(DEFAULT_PERCENT_PER_DAY,
                            help="Percent of the notebook's maximum score taken off per started day late.").tag(
                                config=True)

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float:
        return late_penalty(total_seconds_late, score, self._max_score(), self.percent_per_day)

    def _max_score(self) -> float:
        # nbgrader's AssignLatePenalties (our parent) holds the open gradebook and the notebook being graded.
        parent = self.parent
        notebook = parent.gradebook.find_notebook(parent.notebook_id, parent.assignment_id)
        return float(notebook.max_score)


def percent_per_day(course: Path) -> float | None:
    """The course's percent per day when its ``nbgrader_config.py`` uses ``PercentPerDayLate``; None when it uses
    another plugin (then the penalty nbgrader stored is the one to report)."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(CONFIG_NAME, path=str(course)).load_config()
    plugin = config.AssignLatePenalties.get("plugin_class")
    if not isinstance(plugin, str):  # a class object, or nothing
        plugin = f"{getattr(plugin, '__module__', '')}.{getattr(plugin, '__name__', '')}"
    if plugin != PLUGIN:
        return None
    return float(config.PercentPerDayLate.get("percent_per_day", DEFAULT_PERCENT_PER_DAY))
