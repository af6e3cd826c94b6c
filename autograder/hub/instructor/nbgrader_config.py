"""nbgrader's configuration in the INSTRUCTOR's single-user server on the course's hub (the spawner puts this folder
first on JUPYTER_CONFIG_PATH; see autograder/hub/jupyterhub_config.py): the course's own nbgrader_config.py (its
root, course id, trusted grading, late policy), plus the hub's exchange."""

import os

c = get_config()  # noqa: F821 - provided by traitlets

load_subconfig(os.path.join(os.environ["DDPG_COURSE_DIR"], "nbgrader_config.py"))  # noqa: F821
c.CourseDirectory.root = os.environ["DDPG_COURSE_DIR"]
c.Exchange.root = os.environ["DDPG_EXCHANGE"]
c.Exchange.path_includes_course = False
