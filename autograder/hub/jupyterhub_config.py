"""JupyterHub configuration of the DDPG course: one server, real Unix users, nbgrader's exchange in a shared folder
(as on The Littlest JupyterHub and in nbgrader's own demos). Start it with ``make hub`` (as root); see docs/hub.md.

Every path and name below comes from ``autograder/hub/settings.py`` (defaults, and the DDPG_* environment variables
that override them). What the hub does:

* **Who may log in**: the members of two Unix groups, ``ddpg-instructors`` and ``ddpg-students``
  (``python -m autograder.hub.users`` creates them and their users). Instructors are the hub's admins.
* **How they log in**: PAM, i.e. each user's Unix password (JupyterHub's default authenticator; a course sets the
  passwords with ``passwd``/``chpasswd`` or puts its own login in front, e.g. an OAuthenticator mapping to these
  Unix names). tests/test_hub.py uses PAM too, with random passwords it sets and removes.
* **What each user gets**: ``jupyterhub-singleuser`` (JupyterLab) started by the LocalProcessSpawner as that Unix
  user, in their home folder, from this repository's virtualenv. Everyone gets nbgrader's Assignments and Courses
  tabs, and no formgrader or Create Assignment (``autograder/hub/everyone/``, copied into the hub environment's
  ``etc/jupyter`` by ``make hub-install``: students need nothing from the repository, which can stay private);
  instructors also get the formgrader on the course folder (``autograder/hub/instructor/``, first on their
  JUPYTER_CONFIG_PATH).
* **Grading on submit**: the managed service ``ddpg-pregrade`` (``autograder/hub/pregrade.py``), run as the
  instructor who owns the course folder (``DDPG_PREGRADE_USER``), never as root; it needs no scope of the hub's
  API and serves no page: it reads the exchange's ``inbound/`` and answers through nbgrader's feedback.
* **Where it listens**: the proxy (configurable-http-proxy, pinned in ``autograder/hub/package.json``) on
  127.0.0.1:8000; the hub's API and the proxy's API on the next two ports, 127.0.0.1 only.
"""

import grp
import os
import pwd
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, for autograder.hub.settings
from autograder.hub import settings  # noqa: E402

c = get_config()  # noqa: F821 - provided by traitlets when JupyterHub loads this file

STATE = settings.state_dir()
PORT = settings.hub_port()

# ---- network: everything on loopback (a course puts an HTTPS reverse proxy, e.g. Caddy or nginx, in front) --------
c.JupyterHub.ip = settings.hub_ip()  # the public side of configurable-http-proxy
c.JupyterHub.port = PORT
c.JupyterHub.hub_ip = "127.0.0.1"  # the hub's own API, for the proxy and the single-user servers
c.JupyterHub.hub_port = PORT + 1
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PORT + 2}"
c.ConfigurableHTTPProxy.command = [str(settings.PROXY_BIN)]  # the pinned proxy (make hub-install), not one on PATH
c.ConfigurableHTTPProxy.should_start = True

# ---- the hub's own state, out of the repository and readable by root only -----------------------------------------
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
# users not in the groups any more are dropped from the hub's database at start (not from the system)
c.Authenticator.allow_existing_users = False

# ---- authentication: PAM over the course's two Unix groups ----------------------------------------------------------
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.allowed_groups = {settings.instructors_group(), settings.students_group()}
c.PAMAuthenticator.admin_groups = {settings.instructors_group()}
c.PAMAuthenticator.open_sessions = False  # no PAM session (pam_systemd, pam_loginuid) per server: not needed
c.LocalAuthenticator.create_system_users = False  # users are created by autograder.hub.users, never at login

# ---- spawning: each user's JupyterLab as their own Unix user ------------------------------------------------------
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(Path(sys.executable).parent / "jupyterhub-singleuser")]  # this virtualenv's
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.http_timeout = 60  # seconds a server may take to answer after it starts (JupyterLab on a busy machine)
c.Spawner.start_timeout = 90
c.Spawner.args = ["--ServerApp.ip=127.0.0.1"]
# Only these of the hub's own environment reach a user's server (not PYTHONPATH: a student's kernel never gets the
# repository on its path from the hub).
c.Spawner.env_keep = ["LANG", "LC_ALL"]


def is_instructor(username: str) -> bool:
    try:
        return username in grp.getgrnam(settings.instructors_group()).gr_mem
    except KeyError:
        return False


def course_environment(spawner) -> None:
    """Set what a user's server needs: the exchange and course id for everyone; the course folder and the
    repository on PYTHONPATH (the trusted grader, the late policy) for instructors only."""
    name = spawner.user.name
    env = {
        "DDPG_EXCHANGE": str(settings.exchange_dir()),
        "DDPG_COURSE_ID": settings.COURSE_ID,
        # never the user's own ~/.local packages before this environment's
        "PYTHONNOUSERSITE": "1",
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
    }
    if is_instructor(name):
        env.update({
            "JUPYTER_CONFIG_PATH": str(settings.HUB_DIR / "instructor"),
            "DDPG_COURSE_DIR": str(settings.course_dir()),
            "PYTHONPATH": str(settings.REPO),
        })
    spawner.environment.update(env)
    pwd.getpwnam(name)  # a KeyError here names a hub user without a Unix account


c.Spawner.pre_spawn_hook = course_environment

# An idle culler (jupyterhub-idle-culler, as TLJH has) is the usual addition for a course; not configured here.
os.makedirs(STATE, mode=0o700, exist_ok=True)


def _check_course_setup() -> None:
    """Say at start what would make the course fail later: an exchange that is not every user's, a course folder
    that no instructor owns (the formgrader and the grader could not write it) or that students can read."""
    import logging
    import stat

    log = logging.getLogger("JupyterHub")
    exchange, course = settings.exchange_dir(), settings.course_dir()
    try:
        if stat.S_IMODE(os.stat(exchange).st_mode) & 0o777 != 0o777:
            log.warning("nbgrader's exchange %s is not mode 1777 (python -m autograder.hub.users setup)", exchange)
    except FileNotFoundError:
        log.warning("nbgrader's exchange %s does not exist (python -m autograder.hub.users setup)", exchange)
    try:
        info = os.stat(course)
    except FileNotFoundError:
        log.warning("the course folder %s does not exist (DDPG_COURSE_DIR)", course)
        return
    owner = pwd.getpwuid(info.st_uid).pw_name if info.st_uid else "root"
    if not is_instructor(owner):
        log.warning("the course folder %s belongs to %s, not to an instructor (group %s): the formgrader and "
                    "the grader run as the instructor and cannot write it", course, owner,
                    settings.instructors_group())
    reachable = all(os.stat(parent).st_mode & stat.S_IXOTH for parent in course.parents)
    if reachable and info.st_mode & stat.S_IROTH:
        log.warning("the course folder %s is readable by every user: students could read its source and "
                    "gradebook (keep it in the instructor's home, mode 700)", course)


_check_course_setup()


def pregrade_service() -> dict | None:
    """The managed service ``ddpg-pregrade`` (docs/hub.md, "Grading on submit"), or None (with a warning in the
    hub's log) when it is switched off or has no instructor to run as: it never runs as root."""
    import logging

    log = logging.getLogger("JupyterHub")
    if not settings.pregrade_enabled():
        return None
    user = settings.pregrade_user()
    if user is None or not is_instructor(user):
        log.warning("grading on submit is off: the course folder %s is owned by %s, not by an instructor (group %s); "
                    "set DDPG_PREGRADE_USER to an instructor, or DDPG_PREGRADE=off", settings.course_dir(),
                    user or "root or nobody", settings.instructors_group())
        return None
    env = {key: value for key, value in os.environ.items() if key.startswith("DDPG_")}
    env.update({
        "DDPG_COURSE_DIR": str(settings.course_dir()),
        "DDPG_EXCHANGE": str(settings.exchange_dir()),
        "DDPG_PREGRADE_DIR": str(settings.pregrade_dir()),
        "PYTHONPATH": str(settings.REPO),  # autograder.hub is the repository's, as in the instructor's server
        "PYTHONNOUSERSITE": "1",
        "PYTHONUNBUFFERED": "1",  # its log lines reach the hub's log as they come
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
    })
    return {"name": "ddpg-pregrade", "command": [sys.executable, "-m", "autograder.hub.pregrade"], "user": user,
            "cwd": pwd.getpwnam(user).pw_dir, "environment": env}


_pregrade = pregrade_service()
if _pregrade:
    c.JupyterHub.services = [_pregrade]
