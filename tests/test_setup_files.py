"""The two README commands do the whole set-up, and CI calls the README's test command."""

from __future__ import annotations

import re


def test_makefile_targets_install_first(repo):
    makefile = (repo / "Makefile").read_text()
    for target in ("demo", "test"):
        match = re.search(rf"^{target}: (.*)$", makefile, re.M)
        assert match and "install" in match.group(1), f"`make {target}` must depend on the install step"
    assert "torch==2.13.0" in makefile, "torch must be installed pinned, before the package"
    assert "python -m venv" in makefile or "-m venv $(VENV)" in makefile


def test_readme_gives_the_two_commands_and_ci_runs_make_test(repo):
    readme = (repo / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    ci = (repo / ".ci" / "run").read_text()
    assert ci.rstrip().splitlines()[-1].strip() == "make test"
