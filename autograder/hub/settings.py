"""The hub's course settings in one place: ``jupyterhub_config.py``, ``users.py``, the Makefile's ``hub`` target and
``tests/test_hub.py`` read them from here.

Each setting has a default and an environment variable that overrides it (the test sets them all, to keep its
users, groups, exchange and state away from a course's):

=====================  ============================  ==========================================================
variable               default                       what it is
=====================  ============================  ==========================================================
``DDPG_COURSE_DIR``    :data:`DEFAULT_COURSE_DIR`    the nbgrader course folder (``nbgrader_config.py``, source/,
                                                     gradebook.db, submitted/ ...) the instructor's formgrader
                                                     serves; the instructor's Unix user must own it
``DDPG_EXCHANGE``      ``/srv/nbgrader/exchange``    nbgrader's exchange, shared by every user of the hub
``DDPG_HUB_STATE``     ``/srv/ddpg-hub``             the hub's own files (database, cookie secret, proxy token,
                                                     log), readable by root only
``DDPG_HUB_IP``        ``127.0.0.1``                 where the hub's proxy listens (a course behind an HTTPS
                                                     reverse proxy keeps 127.0.0.1)
``DDPG_HUB_PORT``      ``8000``                      the proxy's public port (the hub's API and the proxy's API
                                                     take the two ports after it)
``DDPG_INSTRUCTORS``   ``ddpg-instructors``          Unix group of the instructors (hub admins, formgrader)
``DDPG_STUDENTS``      ``ddpg-students``             Unix group of the students
=====================  ============================  ==========================================================
"""

from __future__ import annotations

import os
from pathlib import Path

from autograder.course_folder import ASSIGNMENT, COURSE_DIR, COURSE_ID  # noqa: F401  (for the hub modules)

REPO = Path(__file__).resolve().parents[2]
HUB_DIR = Path(__file__).resolve().parent

DEFAULT_COURSE_DIR = COURSE_DIR
"""The repository's course folder (course_folder.COURSE_DIR, the one place that says where it lives)."""


PROXY_BIN = HUB_DIR / "node_modules" / ".bin" / "configurable-http-proxy"


def _get(name: str, default: str) -> str:
    return os.environ.get(name) or default


def course_dir() -> Path:
    return Path(_get("DDPG_COURSE_DIR", str(DEFAULT_COURSE_DIR))).resolve()


def exchange_dir() -> Path:
    return Path(_get("DDPG_EXCHANGE", "/srv/nbgrader/exchange"))


def state_dir() -> Path:
    return Path(_get("DDPG_HUB_STATE", "/srv/ddpg-hub"))


def hub_ip() -> str:
    return _get("DDPG_HUB_IP", "127.0.0.1")


def hub_port() -> int:
    return int(_get("DDPG_HUB_PORT", "8000"))


def instructors_group() -> str:
    return _get("DDPG_INSTRUCTORS", "ddpg-instructors")


def students_group() -> str:
    return _get("DDPG_STUDENTS", "ddpg-students")
