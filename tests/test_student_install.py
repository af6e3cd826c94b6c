"""A student's way in: the notebook's environment check, the released folder (`make release`) and the Colab cell.

The slow tests install from the released folder alone, in fresh virtual environments that see nothing of the
repository (they run in a temporary folder holding only a copy of the release), and run the notebook's cells up
to its first exercise check, where the stub's NotImplementedError is expected, and no error before it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parent.parent
from autograder import build_notebooks, make_release  # noqa: E402

MASTER = build_notebooks.SOURCE_DIR / f"{build_notebooks.NOTEBOOK}.ipynb"
STUDENT = build_notebooks.STUDENT_DIR / f"{build_notebooks.NOTEBOOK}.ipynb"


def _pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    return {Requirement(r).name.lower(): str(Requirement(r).specifier) for r in reqs}


def _check_cell(path: Path = MASTER) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4).cells[0]


# ------------------------------------------------------------------------------ the environment check cell
def test_first_cell_is_a_locked_environment_check_with_plain_imports():
    nb = nbformat.read(MASTER, as_version=4)
    cell = nb.cells[0]
    meta = cell.metadata["nbgrader"]
    assert cell.cell_type == "code" and meta["grade_id"] == "environment_check"
    assert meta["locked"] and not meta["grade"] and not meta["solution"]
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
    assert ids.count("environment_check") == 1
    imported = set(re.findall(r"^\s*(?:import|from) ([\w.]+)", cell.source, re.M))
    assert imported <= {"importlib.metadata", "importlib.util", "os", "sys"}, imported
    assert _check_cell(STUDENT).source == cell.source, "the released notebook starts with the same cell"


def test_check_cell_pins_agree_with_pyproject():
    pins = _pyproject_pins()
    found = re.findall(r'"([A-Za-z0-9_.\-]+(?:\[[\w,-]+\])?==[\w.]+)"', _check_cell().source)
    assert len(found) >= 9
    for text in found:
        req = Requirement(text)
        assert pins.get(req.name.lower()) == str(req.specifier), f"{text} disagrees with pyproject.toml"


def test_check_cell_covers_every_package_the_notebook_imports():
    nb = nbformat.read(STUDENT, as_version=4)
    source = "\n".join(c.source for c in nb.cells[1:] if c.cell_type == "code")
    stdlib = set(sys.stdlib_module_names)
    imported = {m.split(".")[0] for m in re.findall(r"^\s*(?:import|from) ([\w.]+)", source, re.M)} - stdlib
    checked = set(re.findall(r'\("(\w+)", "', _check_cell().source))
    assert imported <= checked, f"imported by the notebook but not checked: {imported - checked}"


def _run_check(python: str, cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([python, "-c", _check_cell().source], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def test_check_cell_names_what_is_missing_and_how_to_install_it(tmp_path):
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    work = tmp_path / "work"
    work.mkdir()
    proc = _run_check(str(bare / "bin" / "python"), work)
    assert proc.returncode != 0 and "ModuleNotFoundError: not installed: torch, numpy" in proc.stderr
    out = proc.stdout
    assert out.startswith("Missing: torch, numpy, gymnasium, pygame, matplotlib")
    assert "workshop_lib" in out.splitlines()[0]
    assert "%pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in out
    assert '%pip install numpy==2.4.6 "gymnasium[classic-control]==1.4.0"' in out
    assert "restart the kernel" in out
    # in the released folder, the requirements file and the wheel do the rest
    (work / "requirements.txt").write_text("numpy==2.4.6\n")
    (work / "workshop_lib-0.1.0-py3-none-any.whl").write_bytes(b"")
    out = _run_check(str(bare / "bin" / "python"), work).stdout
    assert "%pip install -r requirements.txt" in out and "%pip install numpy" not in out


def test_check_cell_passes_in_the_project_environment(tmp_path):
    proc = _run_check(sys.executable, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("Environment OK: Python 3.") and proc.stderr == ""


def test_check_cell_notes_a_version_other_than_the_pin_but_does_not_fail(tmp_path):
    shadow = tmp_path / "shadow"  # a jdc 0.0.1 found before the real one
    (shadow / "jdc").mkdir(parents=True)
    (shadow / "jdc" / "__init__.py").write_text("")
    (shadow / "jdc-0.0.1.dist-info").mkdir()
    (shadow / "jdc-0.0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: jdc\nVersion: 0.0.1\n")
    proc = _run_check(sys.executable, tmp_path, pythonpath=shadow)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "note: jdc 0.0.1 is installed; the workbook was tested with 0.0.9." in proc.stdout
    assert "Environment OK" in proc.stdout


# --------------------------------------------------------------------------------- the released folder
def test_released_requirements_are_the_pinned_student_set():
    text = make_release.requirements_text("workshop_lib-0.1.0-py3-none-any.whl")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines[-1] == "./workshop_lib-0.1.0-py3-none-any.whl"
    pins = _pyproject_pins()
    names = set()
    for line in lines[:-1]:
        req = Requirement(line)
        assert pins[req.name.lower()] == str(req.specifier), line
        names.add(req.name.lower())
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert {Requirement(r).name.lower() for r in project["dependencies"]} <= names
    assert not names & {"pytest", "pytest-timeout", "playwright", "stable-baselines3", "nbgrader"}
    assert "--index-url https://download.pytorch.org/whl/cpu" in text, "the header says how to get CPU torch"


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    """`make release` on a copy of the course: the released folder and ddpg.zip beside it."""
    course = build_notebooks.copy_course(tmp_path_factory.mktemp("course"))
    return make_release.make_release(course)


# Run by the fresh environment's own Python, in a folder outside the repository: execute a notebook with
# nbclient (errors allowed), and write per code cell its errors and printed text as JSON.
RUNNER = textwrap.dedent("""
    import json, sys
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.read(sys.argv[1], as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": "."}}).execute()
    cells = [{"source": c.source,
              "errors": [o.ename for o in c.outputs if o.output_type == "error"],
              "text": "".join(o.get("text", "") for o in c.outputs if o.output_type == "stream")}
             for c in nb.cells if c.cell_type == "code"]
    json.dump(cells, open(sys.argv[2], "w"))
""")

# The last cell run: where workshop_lib and the interpreter come from.
PROBE = "import sys, workshop_lib; print('PROBE', workshop_lib.__file__, sys.executable, sys.path)"


def _up_to_first_check(notebook: Path) -> list[nbformat.NotebookNode]:
    """The code cells of ``notebook`` up to and including its first exercise check (graded, or calling checks)."""
    nb = nbformat.read(notebook, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code"]
    first = next(i for i, c in enumerate(cells)
                 if c.metadata.get("nbgrader", {}).get("grade") or "checks.check_" in c.source)
    return cells[:first + 1]


def _fresh_env(venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "JUPYTER_PATH")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["JUPYTER_DATA_DIR"] = str(venv / "jupyter-data")  # no kernel spec of the machine's user applies
    env["JUPYTER_CONFIG_DIR"] = str(venv / "jupyter-config")
    return env


def _sh(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 900) -> None:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed in {cwd}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


def _run_cells(venv: Path, cwd: Path, cells: list[nbformat.NotebookNode], env: dict[str, str]) -> list[dict]:
    nb = nbformat.v4.new_notebook(cells=[*cells, nbformat.v4.new_code_cell(PROBE)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    scratch = venv / "scratch"
    scratch.mkdir(exist_ok=True)
    nbformat.write(nb, scratch / "run.ipynb")
    (scratch / "runner.py").write_text(RUNNER)
    _sh([str(venv / "bin" / "python"), str(scratch / "runner.py"), str(scratch / "run.ipynb"),
         str(scratch / "cells.json")], cwd=cwd, env=env)
    return json.loads((scratch / "cells.json").read_text())


def _assert_ran_to_the_first_check(cells: list[dict], venv: Path) -> None:
    *before, check, probe = cells
    for cell in before:
        assert not cell["errors"], f"error {cell['errors']} in the cell starting {cell['source'][:120]!r}"
    assert check["errors"] == ["NotImplementedError"], check
    assert "checks" in check["source"]
    env_check = next(c for c in before if c["source"].startswith("# Environment check"))
    assert env_check["text"].startswith("Environment OK"), env_check["text"]
    assert not probe["errors"], probe
    _, module, python, path = probe["text"].split(" ", 3)
    assert module.startswith(str(venv)) and "site-packages" in module, "workshop_lib did not come from the wheel"
    assert python.startswith(str(venv))
    assert str(REPO) not in path, "the kernel could see the repository"


@pytest.mark.slow
def test_a_fresh_venv_installs_from_the_released_folder_alone_and_runs_to_the_first_check(release, tmp_path):
    assert sorted(p.name for p in release.iterdir()) == [
        "ddpg_pendulum.ipynb", "requirements.txt", "resources", "students.md", "workshop_lib-0.1.0-py3-none-any.whl"]
    folder = tmp_path / "student" / "ddpg"
    shutil.copytree(release, folder)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = _fresh_env(venv)
    pip = str(venv / "bin" / "pip")
    # the student commands of docs/students.md; torch plain here: this machine's pip finds the CPU wheel without an
    # index
    _sh([pip, "install", "--quiet", "torch==2.13.0"], cwd=folder, env=env)
    _sh([pip, "install", "--quiet", "-r", "requirements.txt"], cwd=folder, env=env)
    _sh([str(venv / "bin" / "jupyter"), "lab", "--version"], cwd=folder, env=env)
    cells = _run_cells(venv, folder, _up_to_first_check(folder / "ddpg_pendulum.ipynb"), env)
    _assert_ran_to_the_first_check(cells, venv)


def colab_cell() -> str:
    """The Colab cell of docs/students.md: the first ```python block after the heading "## Google Colab"."""
    page = (REPO / "docs" / "students.md").read_text()
    section = page.split("## Google Colab", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_documented_colab_cell_uses_the_released_zip():
    cell = colab_cell()
    assert "ddpg.zip" in cell and "%pip install" in cell and "requirements.txt" in cell


@pytest.mark.slow
def test_the_colab_cell_installs_into_a_fresh_kernel_and_the_notebook_runs_to_the_first_check(release, tmp_path):
    """Colab stand-in: a fresh venv with only what Colab's image brings for this (Python, a kernel and torch),
    a folder holding only the uploaded ddpg.zip, then the Colab cell of docs/students.md and the notebook's cells."""
    content = tmp_path / "content"
    content.mkdir()
    shutil.copy2(release.parent / "ddpg.zip", content / "ddpg.zip")
    with zipfile.ZipFile(content / "ddpg.zip") as archive:
        assert "ddpg/requirements.txt" in archive.namelist()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = _fresh_env(venv)
    _sh([str(venv / "bin" / "pip"), "install", "--quiet", "torch==2.13.0", "ipykernel==7.4.0", "nbclient==0.11.0"],
        cwd=content, env=env)
    notebook_cells = _up_to_first_check(release / "ddpg_pendulum.ipynb")
    cells = _run_cells(venv, content, [nbformat.v4.new_code_cell(colab_cell()), *notebook_cells], env)
    assert not cells[0]["errors"], cells[0]
    assert (content / "ddpg" / "workshop_lib-0.1.0-py3-none-any.whl").is_file(), "the cell did not unzip"
    _assert_ran_to_the_first_check(cells[1:], venv)
