"""The preflight's pass and the release, kept while nothing they depend on changes (``python -m autograder.grade
--reuse-preflight``).

The preflight grades the master's own solution through the whole path a submission takes (the sandbox, the
runner, the verdict) before a class is graded: it costs as much as one submission. ``make grade`` pays it once per
class, which is nothing; a run that regrades one or two students again and again (``--student``) would pay it every
time, and the pre-grading service (``autograder/hub/verdict_only.py``) before every pre-grade.

So a pass is recorded under a key, and a run with ``--reuse-preflight`` skips the preflight when the key is the
same, and ``nbgrader generate_assignment`` too (about 5 s more): the release and the gradebook's assignment made
with the same master and config are the same. The pre-grading service keeps the key of its own last preflight in
memory and makes both again when :func:`key` changes. The key is a SHA-256 of everything the preflight's outcome
depends on:

* the master notebook and the course's ``nbgrader_config.py`` (the limits, the preprocessors);
* the course secret (it seeds the preflight's fixtures);
* the source of the grader (every ``.py`` of the packages ``autograder`` and ``workshop_lib`` as this interpreter
  imports them);
* this interpreter and the versions of the packages the sandboxed runs import; bubblewrap's path.

A change of any of these (or a missing release or gradebook) makes the release and runs the preflight again.
What the key cannot see (a sandbox broken by the kernel's settings since the last pass) is still caught by the
grading run itself: when no sandbox sends anything back, ``autograder.grade`` says the set-up is broken and exits
with status 1.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from importlib import metadata
from pathlib import Path

from autograder.course_folder import CONFIG_NAME, source_notebook

PASSED_NAME = ".preflight_passed.json"
"""Under the course: the key of the last preflight that passed."""
PACKAGES = ("torch", "numpy", "gymnasium", "nbgrader", "nbclient", "nbconvert", "ipykernel", "jdc", "nbformat")
"""Distributions whose versions enter the key (the sandboxed runs and nbgrader import them)."""


def _package_sources() -> list[Path]:
    import autograder
    import workshop_lib

    files = []
    for package in (autograder, workshop_lib):
        root = Path(package.__file__).resolve().parent
        files += sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
    return files


def key(course: Path) -> str:
    """The SHA-256 (hexadecimal) of what the preflight's outcome depends on (the module's docstring)."""
    from autograder.reference import SECRET_NAME
    from autograder.sandbox import bwrap_path

    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    for label, path in (("master", source_notebook(course)), ("config", course / CONFIG_NAME),
                        ("secret", course / SECRET_NAME)):
        add(label, path.read_bytes() if path.is_file() else b"")
    for path in _package_sources():
        add(f"source {path.parent.name}/{path.name}", path.read_bytes())
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    add("runtime", json.dumps({"python": sys.version, "executable": sys.executable, "versions": versions,
                               "bwrap": str(bwrap_path())}, sort_keys=True).encode())
    return digest.hexdigest()


def passed(course: Path, wanted: str) -> bool:
    """True when the last preflight that passed in ``course`` had the key ``wanted``. A missing or unreadable
    record is no pass (the preflight runs)."""
    try:
        record = json.loads((course / PASSED_NAME).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("key") == wanted


def record(course: Path, passed_key: str) -> None:
    """Remember that the preflight passed with ``passed_key`` (written whole, then renamed: never half a record)."""
    tmp = course / (PASSED_NAME + ".tmp")
    tmp.write_text(json.dumps({"key": passed_key, "passed_at": time.strftime("%Y-%m-%d %H:%M:%S %Z")}))
    os.replace(tmp, course / PASSED_NAME)
