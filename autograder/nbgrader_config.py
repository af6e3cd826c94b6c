"""nbgrader configuration of the DDPG course. Run nbgrader's commands from this directory (see README.md)."""

import os

c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file

# The course directory is this folder, wherever the repository (or a copy of this folder) lives.
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "ddpg-workbook"

# Execute.timeout is PER CELL: a cell running longer (e.g. a select_action that never returns) is interrupted,
# scores 0, and grading goes on with the next cell. The slowest graded cell takes well under a second and the
# training cell is shortened while grading (NBGRADER_EXECUTION), so 30 s only ever cuts a hang.
c.Execute.timeout = 30

# A test cell the student deleted is put back and graded (otherwise it would score None, "needs manual grading").
c.OverwriteCells.add_missing_cells = True
