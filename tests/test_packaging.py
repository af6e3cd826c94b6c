"""Set-up files agree: environment.yml carries exactly the dependencies of pyproject.toml, and the release and the
wheel carry the student page."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml


def _pyproject_requirements(repo) -> set[str]:
    """Every requirement of pyproject.toml, runtime and extras, without the extras' references to the package itself
    (``workshop_lib[student]``: their requirements are in the set already)."""
    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    reqs = set(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs |= {r for r in extra if not r.startswith(project["name"] + "[")}
    return reqs


def test_the_notebook_extra_is_the_student_extra_and_more(repo):
    extras = tomllib.loads((repo / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert "workshop_lib[student]" in extras["notebook"], "the notebook extra should include the student extra"
    assert not set(extras["student"]) & set(extras["notebook"]), "a pin of the student extra is repeated"


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


def test_the_release_and_the_wheel_carry_the_student_page(repo, tmp_path, monkeypatch):
    """`make release` without nbgrader (its generate_assignment is stood in for by a copy of the student notebook):
    the folder and the zip hold docs/students.md as students.md, the wheel's description is that page, and the
    requirements file installs the pins of pyproject.toml."""
    import email
    import shutil
    import zipfile

    from autograder import make_release

    def generate_assignment(args, cwd):
        assert args[0] == "generate_assignment"
        folder = Path(cwd) / "release" / args[1]
        folder.mkdir(parents=True)
        shutil.copy2(repo / "notebooks" / "ddpg_pendulum.ipynb", folder)

    monkeypatch.setattr(make_release, "nbgrader", generate_assignment)
    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    assert project["readme"] == str(make_release.STUDENT_PAGE) == "docs/students.md"
    page = (repo / "docs" / "students.md").read_text()

    release = make_release.make_release(tmp_path)
    assert (release / "students.md").read_text() == page
    with zipfile.ZipFile(tmp_path / "release" / "ddpg.zip") as archive:
        assert archive.read("ddpg/students.md").decode() == page
    (wheel,) = release.glob("workshop_lib-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        message = email.message_from_string(archive.read(metadata).decode("utf-8"))
    assert message["Description-Content-Type"] == "text/markdown"
    assert message.get_payload().strip() == page.strip(), "the wheel's description is not docs/students.md"
    lines = [line for line in (release / "requirements.txt").read_text().splitlines() if not line.startswith("#")]
    assert lines == [*make_release.student_requirements(), f"./{wheel.name}"]
    torch = next(r for r in project["dependencies"] if r.startswith("torch=="))
    assert f"#   pip install {torch} --index-url" in (release / "requirements.txt").read_text()
