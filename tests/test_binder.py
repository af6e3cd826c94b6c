"""Binder's student environment (binder/) cannot be built here (repo2docker needs Docker and the internet): its
files are checked instead. They parse, they carry no test or benchmark tools, every package agrees with
pyproject.toml, and the notebook that the Binder link of docs/instructors.md opens exists."""

from __future__ import annotations

import re
import shlex
import subprocess
import tomllib
from urllib.parse import parse_qs, urlparse

from packaging.requirements import Requirement


def _pins(reqs) -> dict[str, str]:
    """{canonical name (extras kept): pinned version} of ``name[extras]==version`` requirements."""
    pins = {}
    for text in reqs:
        req = Requirement(text)
        (spec,) = req.specifier
        assert spec.operator == "==", f"{text}: not pinned"
        name = req.name.lower().replace("_", "-")
        pins[name + (f"[{','.join(sorted(req.extras))}]" if req.extras else "")] = spec.version
    return pins


def _pyproject_pins(repo) -> dict[str, str]:
    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += [r for r in extra if not r.startswith(project["name"] + "[")]  # workshop_lib[student]: listed already
    return _pins(reqs)


def _requirement_lines(path) -> list[str]:
    return [line.split("#")[0].strip() for line in path.read_text().splitlines() if line.split("#")[0].strip()]


def _postbuild_installs(repo) -> list[list[str]]:
    """The argument lists of every `pip install` in binder/postBuild."""
    commands = []
    for line in (repo / "binder" / "postBuild").read_text().splitlines():
        words = shlex.split(line, comments=True)
        if words[:2] == ["pip", "install"]:
            commands.append(words[2:])
    return commands


def test_binder_files_parse(repo):
    binder = repo / "binder"
    assert (binder / "runtime.txt").read_text().strip() == "python-3.11"
    assert _requirement_lines(binder / "requirements.txt"), "binder/requirements.txt lists nothing"
    for line in _requirement_lines(binder / "requirements.txt"):
        Requirement(line)  # raises on anything pip would not read as a plain requirement
    post_build = binder / "postBuild"
    assert post_build.stat().st_mode & 0o111, "repo2docker runs postBuild only if it is executable"
    assert post_build.read_text().startswith("#!/bin/bash\n")
    subprocess.run(["bash", "-n", str(post_build)], check=True)


def test_binder_python_is_one_that_installs(repo):
    requires = tomllib.loads((repo / "pyproject.toml").read_text())["project"]["requires-python"]
    runtime = (repo / "binder" / "runtime.txt").read_text().strip().removeprefix("python-")
    assert requires == ">=3.11" and tuple(map(int, runtime.split("."))) >= (3, 11)


def test_binder_pins_agree_with_pyproject_and_leave_out_dev_tools(repo):
    pyproject = _pyproject_pins(repo)
    binder = _pins(_requirement_lines(repo / "binder" / "requirements.txt"))
    for name, version in binder.items():
        assert pyproject.get(name) == version, f"binder/requirements.txt pins {name}=={version}, " \
                                               f"pyproject.toml {pyproject.get(name)}"
    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    dev_tools = _pins(project["optional-dependencies"]["test"] + project["optional-dependencies"]["bench"])
    dev_tools |= {"nbgrader": "", "nbconvert": "", "nbclient": ""}
    assert not set(binder) & set(dev_tools), f"test/bench/grading tools in Binder: {set(binder) & set(dev_tools)}"
    # every runtime dependency but torch (postBuild installs it from the CPU index) comes from the file
    runtime = _pins(project["dependencies"])
    assert set(runtime) - set(binder) == {"torch"}


def test_postbuild_installs_the_cpu_torch_and_the_package_not_editable(repo):
    installs = _postbuild_installs(repo)
    torch_line = next(args for args in installs if any(a.startswith("torch") for a in args))
    torch_req = next(a for a in torch_line if a.startswith("torch"))
    assert _pins([torch_req]) == {"torch": _pyproject_pins(repo)["torch"]}
    assert torch_line[torch_line.index("--index-url") + 1] == "https://download.pytorch.org/whl/cpu"
    package_line = next(args for args in installs if "." in args)
    assert "-e" not in package_line and "--editable" not in package_line
    for args in installs:
        assert not any(a.startswith("-r") or "test" in a or "bench" in a for a in args)


def test_binder_link_opens_a_notebook_that_exists(repo):
    page = (repo / "docs" / "instructors.md").read_text()
    links = re.findall(r"https://mybinder\.org/v2/gh/[^\s)\]`]+", page)
    assert links, "docs/instructors.md gives no Binder link"
    for link in links:
        query = parse_qs(urlparse(link).query)
        (urlpath,) = query["urlpath"]
        kind, _, path = urlpath.partition("/tree/")
        assert kind in ("lab", "doc", "notebooks"), urlpath
        assert (repo / path).is_file(), f"the Binder link opens {path}, which is not in the repository"
        assert path == "notebooks/ddpg_pendulum.ipynb", "Binder should open the student notebook"
