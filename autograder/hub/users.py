"""The course's Unix users, groups and nbgrader exchange on the hub's machine (run as root).

    python -m autograder.hub.users setup                       # the two groups and the exchange folder
    python -m autograder.hub.users add-instructor NAME         # a Unix user in the instructors' group
    python -m autograder.hub.users add-student NAME [NAME ...]  # Unix users in the students' group
    python -m autograder.hub.users remove NAME [NAME ...]      # the users, their home folders and their processes
    python -m autograder.hub.users teardown                    # the two groups and the exchange folder

Names, groups and the exchange come from ``autograder/hub/settings.py`` (DDPG_* variables). Passwords are not set
here: ``passwd NAME`` (or ``chpasswd``) as a course does for PAM; tests/test_hub.py sets random ones.

The exchange follows nbgrader's "Using nbgrader with JupyterHub": its root is readable and writable by everyone
(``chmod ugo+rw``, here ``0o1777``: sticky, so that nobody removes a folder someone else made); nbgrader itself
makes the course's ``inbound`` folder write-only for students and ``feedback`` listable by nobody but its owner.
"""

from __future__ import annotations

import argparse
import grp
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

from autograder.hub import settings

HOME_MODE = 0o700  # nobody reads another user's home (their notebooks, fetched feedback)


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def setup(exchange: Path | None = None) -> None:
    """Both groups, and the exchange root (``0o1777``), if missing."""
    for group in (settings.instructors_group(), settings.students_group()):
        if not group_exists(group):
            _run("groupadd", "--system", group)
    exchange = exchange or settings.exchange_dir()
    exchange.mkdir(parents=True, exist_ok=True)
    os.chmod(exchange, 0o1777)


def add_user(name: str, group: str) -> None:
    """A Unix user ``name`` with a home folder (mode 0o700), member of ``group``; no password, bash as shell."""
    if not user_exists(name):
        _run("useradd", "--create-home", "--shell", "/bin/bash", "--groups", group, name)
    else:
        _run("usermod", "--append", "--groups", group, name)
    os.chmod(pwd.getpwnam(name).pw_dir, HOME_MODE)


def set_password(name: str, password: str) -> None:
    subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True)


def remove_user(name: str) -> None:
    """The user, every process of theirs, their home folder and what they left at the top of /tmp (caches such as
    ``torchinductor_<name>``); nothing if there is no such user."""
    if not user_exists(name):
        return
    uid = pwd.getpwnam(name).pw_uid
    subprocess.run(["pkill", "-KILL", "-u", name], check=False)
    for entry in os.scandir("/tmp"):
        try:
            if entry.stat(follow_symlinks=False).st_uid != uid:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
        except OSError:
            pass
    subprocess.run(["userdel", "--remove", name], check=False, stderr=subprocess.DEVNULL)
    if user_exists(name):  # a process was still starting: once more
        subprocess.run(["pkill", "-KILL", "-u", name], check=False)
        _run("userdel", "--remove", "--force", name)


def teardown(exchange: Path | None = None) -> None:
    """Both groups and the exchange folder with everything in it."""
    for group in (settings.instructors_group(), settings.students_group()):
        if group_exists(group):
            subprocess.run(["groupdel", group], check=False)
    shutil.rmtree(exchange or settings.exchange_dir(), ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("setup")
    sub.add_parser("teardown")
    sub.add_parser("add-instructor").add_argument("names", nargs="+")
    sub.add_parser("add-student").add_argument("names", nargs="+")
    sub.add_parser("remove").add_argument("names", nargs="+")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("error: run as root (it creates Unix users and groups)", file=sys.stderr)
        return 2
    if args.command == "setup":
        setup()
    elif args.command == "teardown":
        teardown()
    elif args.command in ("add-instructor", "add-student"):
        setup()
        group = settings.instructors_group() if args.command == "add-instructor" else settings.students_group()
        for name in args.names:
            add_user(name, group)
    else:
        for name in args.names:
            remove_user(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
