"""The course's names in autograder/course_folder.py agree with what the course folder itself says."""

from __future__ import annotations

from traitlets.config.loader import PyFileConfigLoader

from autograder import course_folder


def test_the_course_id_is_the_one_nbgrader_config_sets():
    # The hub's exchange files everything under the course id: the hub's settings take it from course_folder, and
    # nbgrader reads it from the course's config file. The two must not drift apart.
    config = PyFileConfigLoader(course_folder.CONFIG_NAME, path=str(course_folder.COURSE_DIR)).load_config()
    assert config.CourseDirectory.course_id == course_folder.COURSE_ID


def test_the_master_notebook_is_where_course_folder_says():
    assert course_folder.source_notebook().is_file()
    assert (course_folder.COURSE_DIR / course_folder.CONFIG_NAME).is_file()
