"""nbgrader's configuration of EVERY user's single-user server on the course's hub: ``make hub-install`` copies this
folder into the hub environment's ``etc/jupyter`` (the lowest-priority Jupyter configuration folder every user
reads). It knows the exchange and the course id and nothing else: no course directory, no gradebook. The
instructors' servers add ``autograder/hub/instructor/`` in front of it (JUPYTER_CONFIG_PATH)."""

import os

c = get_config()  # noqa: F821 - provided by traitlets

c.CourseDirectory.course_id = os.environ.get("DDPG_COURSE_ID", "ddpg-workbook")
c.Exchange.root = os.environ.get("DDPG_EXCHANGE", "/srv/nbgrader/exchange")
c.Exchange.path_includes_course = False  # one course on this hub (several courses: True, on every user's side)
