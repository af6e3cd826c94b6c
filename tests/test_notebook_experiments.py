"""The Experiments section runs as written and its numbers are its own: the solution notebook (the student notebook
with the reference solution) with question 5's settings, pasted as the question shows them and with the notebook's
own ``SEED = 0``, runs top to bottom, reproduces the numbers question 5 quotes for that seed, keeps every figure in
its own file, and its training cell gives the returns ``workshop_lib.train`` gives for the same seed and settings."""

from __future__ import annotations

import re
import shutil

import nbformat
import numpy as np
import pytest
import torch

from autograder import build_notebooks
from benchmarks.notebook_runs import _DUMP, _MARKER, set_value
from tests.test_notebook_numbers import mountain_car_runs
from workshop_lib.train import MOUNTAIN_CAR_CHANGES, Hyperparameters, seeded_setup, train_agent

pytestmark = pytest.mark.slow


def _library_returns(changes: dict, seed: int, episodes: int) -> list[float]:
    """The first ``episodes`` returns of workshop_lib.train's loop (the epsilon schedule does not depend on
    EPISODES, so they are the first returns of the full run)."""
    hp = Hyperparameters(**{**MOUNTAIN_CAR_CHANGES, "DECAY_EPISODES": float(changes["DECAY_EPISODES"]),
                            "EPISODES": episodes})
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        env, agent = seeded_setup(hp, seed, agent_spec="solutions.ddpg_agent:DDPGAgent")
        return train_agent(agent, env, hp, progress=False, log=None, seed=seed)["returns"]
    finally:
        torch.set_num_threads(threads)


def test_the_solution_notebook_reproduces_question_5_for_its_own_seed(tmp_path):
    import json

    from nbclient import NotebookClient

    work = tmp_path / "solutions"
    work.mkdir()
    shutil.copytree(build_notebooks.REPO / "resources", tmp_path / "resources")
    nb = build_notebooks.solution_notebook()
    question = next(c for c in nb.cells if c.id == "question-mountain-car").source
    pasted: dict = {}
    exec(re.search(r"```python\n(.*?)```", question, re.S).group(1), pasted)  # noqa: S102 - as a student pastes it
    cell = next(c for c in nb.cells if c.cell_type == "code" and "EPSILON_START =" in c.source)
    for name in MOUNTAIN_CAR_CHANGES:
        cell.source = set_value(cell.source, name, pasted[name])
    assert re.search(r"^SEED = 0\b", next(c for c in nb.cells if c.id == "imports").source, re.M)
    # the comparison of question 1 has its own values and is checked on the built solution notebook
    nb.cells = [c for c in nb.cells if c.id != "compare-runs"]
    results = next(c for c in nb.cells if c.cell_type == "code" and "save_figure(" in c.source)
    nb.cells.insert(nb.cells.index(results) + 1, nbformat.v4.new_code_cell(results.source))  # a second save
    nb.cells.append(nbformat.v4.new_code_cell(_DUMP))
    NotebookClient(nb, timeout=1500, kernel_name="python3", resources={"metadata": {"path": str(work)}}).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    for c in code:
        errors = [o for o in c.outputs if o.output_type == "error"]
        assert not errors, f"{c.source[:80]!r} raised {errors[0].ename}: {errors[0].evalue}"
    text = "".join(o.get("text", "") for c in code for o in c.outputs if o.output_type == "stream")
    assert "DDPG_MountainCarContinuous-v0_" in text and "_rho0.995_ou" in text
    assert "Greedy return over 10 fresh episodes" in text and "RETURN OF ONE EPISODE" in text
    figures = sorted(p.name for p in (work / "tmp_ddpg_learning").glob("DDPG_*.png"))
    assert len(figures) == 2 and figures[0].endswith("_001.png") and figures[1].endswith("_002.png"), figures
    assert all(name in text for name in figures), "the results cell lists every figure"

    run = json.loads(next(x for x in text.splitlines() if x.startswith(_MARKER))[len(_MARKER):])
    quoted = next(r for r in mountain_car_runs()["runs"] if r["noise"] == "ou" and r["seed"] == 0)
    flags = [i + 1 for i, r in enumerate(run["returns"]) if r > 0]
    assert flags == quoted["flag_episodes"], "question 5's flag episodes for SEED = 0 are not this notebook's"
    assert np.mean(run["greedy_returns"]) == pytest.approx(quoted["greedy_mean"], abs=0.05)
    assert f"Greedy return over 10 fresh episodes: {quoted['greedy_mean']:.1f}" in text

    # one seeding path: the notebook's training cell and workshop_lib.train give the same returns
    assert _library_returns(pasted, 0, 2) == pytest.approx(run["returns"][:2], abs=1e-6)
