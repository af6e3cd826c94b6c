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

The pre-grading service (``autograder/hub/pregrade.py``, docs/hub.md "Grading on submit"):

===========================  ==================================  ====================================================
variable                     default                             what it is
===========================  ==================================  ====================================================
``DDPG_PREGRADE``            ``on``                              ``off``: the hub does not start the service
``DDPG_PREGRADE_USER``       the owner of the course folder      the Unix user it runs as (an instructor, never root)
``DDPG_PREGRADE_DIR``        ``<course folder>-pregrade``        its own nbgrader course folder (own release and
                                                                 secret), state file and log; the service's user
                                                                 owns it
``DDPG_PREGRADE_INTERVAL``   ``900``                             seconds between two pre-grades of one student
``DDPG_PREGRADE_PER_DAY``    ``8``                               pre-grades of one student in any 24 hours
``DDPG_PREGRADE_POLL``       ``2``                               seconds between two looks at the exchange's inbound/
``DDPG_PREGRADE_JOBS``       the machine's cores                 submissions pre-graded at once
===========================  ==================================  ====================================================
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


def pregrade_enabled() -> bool:
    return _get("DDPG_PREGRADE", "on").lower() not in ("off", "0", "no", "false")


def pregrade_user() -> str | None:
    """The Unix user the pre-grading service runs as: ``DDPG_PREGRADE_USER``, else the owner of the course folder
    (None when that folder is missing or root's: the service never runs as root)."""
    import pwd

    name = os.environ.get("DDPG_PREGRADE_USER")
    if name:
        return name
    try:
        uid = course_dir().stat().st_uid
    except OSError:
        return None
    return pwd.getpwuid(uid).pw_name if uid != 0 else None


def pregrade_dir() -> Path:
    course = course_dir()
    return Path(_get("DDPG_PREGRADE_DIR", str(course.with_name(course.name + "-pregrade")))).resolve()


def _positive(name: str, default: str, kind: type) -> float | int:
    text = _get(name, default)
    try:
        value = kind(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(f"{name}: expected a positive {kind.__name__}, got {text!r}; fix: set it to e.g. {default}")
    return value


def pregrade_interval_s() -> float:
    return float(_positive("DDPG_PREGRADE_INTERVAL", "900", float))


def pregrade_per_day() -> int:
    return int(_positive("DDPG_PREGRADE_PER_DAY", "8", int))


def pregrade_poll_s() -> float:
    return float(_positive("DDPG_PREGRADE_POLL", "2", float))


def pregrade_jobs() -> int:
    return int(_positive("DDPG_PREGRADE_JOBS", str(os.cpu_count() or 1), int))
