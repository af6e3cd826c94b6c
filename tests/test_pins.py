"""Pins in one place: pyproject.toml writes every version; any other file of the repository that names a pinned
package with a version (``torch==2.13.0`` in a command, a requirements file, a notebook's check cell, a test; or
"torch 2.13.0" in the prose of the docs) names the version of pyproject.toml.

The measured tables of benchmarks/ are left out: they record the versions a measurement was made with."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SKIPPED_DIRS = {".git", ".venv", "node_modules", "tmp_ddpg_learning", "__pycache__", ".pytest_cache", "release",
                "submitted", "autograded", "feedback"}
SUFFIXES = {".md", ".py", ".ipynb", ".txt", ".yml", ".yaml", ".toml", ".cfg", ".sh"}
NAMED = {"Makefile", "postBuild", "run"}
#: "name==version", the name not part of a longer word
PIN = re.compile(r"(?<![\w.\-])([A-Za-z][\w.\-]*?)(?:\[[\w,\-]+\])?==(\d[\w.]*\w)")
#: prose: "torch 2.13.0", "PyTorch 2.13", "nbgrader 0.9.6"
PROSE = re.compile(r"\b(PyTorch|[A-Za-z][\w\-]*) (\d+\.\d+(?:\.\d+)?)\b")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject_pins() -> dict[str, str]:
    """{canonical name: version} of every pinned requirement of pyproject.toml (runtime and every extra)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    pins = {}
    for req in reqs:
        match = PIN.fullmatch(req)
        if match:
            pins[canonical(match.group(1))] = match.group(2)
    return pins


def files() -> list[Path]:
    """The repository's own files (git's list: never an environment, a build or a course's runtime folder)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    found = []
    for name in filter(None, listed.decode().split("\0")):
        path, rel = REPO / name, Path(name)
        if set(rel.parts) & SKIPPED_DIRS or not path.is_file() or path.is_symlink():
            continue
        if rel == Path("pyproject.toml") or (rel.parts[0] == "benchmarks" and path.suffix == ".md"):
            continue
        if path.suffix in SUFFIXES or path.name in NAMED:
            found.append(path)
    return sorted(found)


def test_pyproject_pins_the_packages_this_test_relies_on():
    pins = pyproject_pins()
    assert {"torch", "numpy", "nbgrader", "jupyterlab"} <= set(pins), sorted(pins)


def test_the_scan_sees_the_copies():
    """The files that are known to repeat pins are among those scanned (so a copy cannot hide by its name)."""
    scanned = {str(p.relative_to(REPO)) for p in files()}
    expected = {"README.md", "docs/students.md", "docs/contributing.md", "environment.yml", "binder/requirements.txt",
                "binder/postBuild", "Makefile", "autograder/make_release.py", "notebooks/ddpg_pendulum.ipynb",
                "tests/test_student_install.py"}
    assert expected <= scanned, sorted(expected - scanned)


@pytest.mark.parametrize("text, found", [
    ('pip install torch==2.13.0 --index-url', [("torch", "2.13.0")]),
    ('"gymnasium[classic-control]==1.4.0"', [("gymnasium", "1.4.0")]),
    ("jupyterlab==4.6.6\n", [("jupyterlab", "4.6.6")]),
    ("x == 3; a==b", []),
])
def test_the_pin_pattern(text, found):
    assert [(m.group(1), m.group(2)) for m in PIN.finditer(text)] == found


def test_every_pin_in_the_repository_is_pyprojects():
    pins = pyproject_pins()
    wrong = []
    for path in files():
        text = path.read_text(errors="replace")
        for match in PIN.finditer(text):
            name, version = canonical(match.group(1)), match.group(2)
            if name in pins and version != pins[name]:
                line = text.count("\n", 0, match.start()) + 1
                wrong.append(f"{path.relative_to(REPO)}:{line}: {match.group(0)} (pyproject.toml: {pins[name]})")
    assert not wrong, "versions that disagree with pyproject.toml:\n" + "\n".join(wrong)


def test_the_docs_name_pyprojects_versions():
    pins = pyproject_pins()
    wrong = []
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for match in PROSE.finditer(path.read_text()):
            name = "torch" if match.group(1) == "PyTorch" else canonical(match.group(1))
            version = match.group(2)
            if name in pins and not (pins[name] == version or pins[name].startswith(version + ".")):
                wrong.append(f"{path.relative_to(REPO)}: {match.group(0)} (pyproject.toml: {pins[name]})")
    assert not wrong, "versions in the docs that disagree with pyproject.toml:\n" + "\n".join(wrong)
