"""The Experiments section runs as written: the solution notebook with ENV_ID = "MountainCarContinuous-v0"
(question 5's settings, shortened) runs top to bottom, and every figure keeps its own file."""

from __future__ import annotations

import re
import shutil

import nbformat
import pytest

from autograder import build_notebooks
from workshop_lib.train import MOUNTAIN_CAR_CHANGES

pytestmark = pytest.mark.slow


def _set(source: str, name: str, value: object) -> str:
    new, count = re.subn(rf"^{name} = .*?(  #.*)?$", lambda m: f"{name} = {value!r}{m.group(1) or ''}", source,
                         count=1, flags=re.M)
    assert count == 1, name
    return new


def test_the_solution_notebook_runs_on_mountain_car(tmp_path):
    from nbclient import NotebookClient

    work = tmp_path / "solutions"
    work.mkdir()
    shutil.copytree(build_notebooks.REPO / "resources", tmp_path / "resources")
    nb = build_notebooks.solution_notebook()
    cell = next(c for c in nb.cells if c.cell_type == "code" and "EPSILON_START =" in c.source)
    for name, value in {**MOUNTAIN_CAR_CHANGES, "EPISODES": 2, "WARMUP_EPISODES": 1}.items():
        cell.source = _set(cell.source, name, value)
    results = next(c for c in nb.cells if c.cell_type == "code" and "save_figure(" in c.source)
    nb.cells.insert(nb.cells.index(results) + 1, nbformat.v4.new_code_cell(results.source))  # a second save
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(work)}}).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    for c in code:
        errors = [o for o in c.outputs if o.output_type == "error"]
        assert not errors, f"{c.source[:80]!r} raised {errors[0].ename}: {errors[0].evalue}"
    text = "".join(o.get("text", "") for c in code for o in c.outputs if o.output_type == "stream")
    assert "DDPG_MountainCarContinuous-v0_" in text and "_rho0.995_ou" in text
    assert "Greedy return over 10 fresh episodes" in text and "RETURN OF ONE EPISODE" in text
    figures = sorted(p.name for p in (work / "tmp_ddpg_learning").glob("DDPG_*.png"))  # not the comparison's
    assert len(figures) == 2 and figures[0].endswith("_001.png") and figures[1].endswith("_002.png"), figures
    assert all(name in text for name in figures), "the results cell lists every figure"
