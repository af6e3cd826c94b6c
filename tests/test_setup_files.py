"""The two README commands do the whole set-up, and CI calls the README's test command."""

from __future__ import annotations

import re
import shlex
import subprocess
import tomllib


def test_makefile_targets_install_first(repo):
    makefile = (repo / "Makefile").read_text()
    for target in ("demo", "test"):
        match = re.search(rf"^{target}: (.*)$", makefile, re.M)
        assert match and "install" in match.group(1), f"`make {target}` must depend on the install step"
    assert "python -m venv" in makefile or "-m venv $(VENV)" in makefile


def test_makefile_installs_pyprojects_torch_pin_before_the_package(repo):
    """The Makefile reads torch's pin from pyproject.toml; what `make install` would run (make -n) installs it
    first, then the package with its extras."""
    torch = next(r for r in tomllib.loads((repo / "pyproject.toml").read_text())["project"]["dependencies"]
                 if r.startswith("torch=="))
    assert torch not in (repo / "Makefile").read_text(), "the Makefile repeats the pin instead of reading it"
    dry = subprocess.run(["make", "-n", "-B", "install"], cwd=repo, capture_output=True, text=True, check=True)
    pips = [shlex.split(line) for line in dry.stdout.splitlines() if "/pip install" in line]
    assert len(pips) == 2, dry.stdout
    assert torch in pips[0], f"make install's first pip line does not install {torch}: {pips[0]}"
    assert pips[1][-1] == ".[notebook,grading,test,bench]" and "-e" in pips[1]


def test_makefile_declares_each_phony_target_once(repo):
    makefile = (repo / "Makefile").read_text()
    phony = [word for line in re.findall(r"^\.PHONY:(.*)$", makefile, re.M) for word in line.split()]
    assert len(phony) == len(set(phony)), f"declared .PHONY twice: {sorted({w for w in phony if phony.count(w) > 1})}"
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.M))
    assert set(phony) == targets, f"targets not .PHONY: {targets - set(phony)}; .PHONY without a rule: " \
                                  f"{set(phony) - targets}"


def test_readme_gives_the_two_commands_and_ci_runs_make_test(repo):
    readme = (repo / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    ci = (repo / ".ci" / "run").read_text()
    assert ci.rstrip().splitlines()[-1].strip() == "make test"
