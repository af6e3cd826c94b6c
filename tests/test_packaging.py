"""Set-up files agree: environment.yml carries exactly the dependencies of pyproject.toml."""

from __future__ import annotations

import tomllib

import yaml


def _pyproject_requirements(repo) -> set[str]:
    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    reqs = set(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs |= set(extra)
    return reqs


def test_environment_yml_matches_pyproject(repo):
    env = yaml.safe_load((repo / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    conda_pins = {d for d in pip_section if not d.startswith("-e")}
    pyproject = _pyproject_requirements(repo)
    assert conda_pins == pyproject, (
        f"only in environment.yml: {sorted(conda_pins - pyproject)}; only in pyproject.toml: "
        f"{sorted(pyproject - conda_pins)}"
    )
    assert "-e ." in pip_section, "environment.yml must install workshop_lib itself"


def test_every_dependency_is_pinned_and_torch_is_2_13(repo):
    reqs = _pyproject_requirements(repo)
    unpinned = sorted(r for r in reqs if "==" not in r)
    assert not unpinned, f"unpinned dependencies: {unpinned}"
    assert "torch==2.13.0" in reqs


def test_solutions_and_autograder_are_not_in_the_package(repo):
    """The repository's install holds the grading host (``autograder``) beside ``workshop_lib``; the student wheel
    (``make release``) is built from a pyproject whose packages are ``workshop_lib``'s alone."""
    from autograder.make_release import student_pyproject

    text = (repo / "pyproject.toml").read_text()
    assert "solutions" not in tomllib.loads(text)["tool"]["setuptools"]["packages"]
    packages = tomllib.loads(student_pyproject(text))["tool"]["setuptools"]["packages"]
    assert packages == ["workshop_lib", "workshop_lib.experiments", "workshop_lib.grading"], packages
