"""Run the notebook's own cells, as a student would, with other hyperparameters and another SEED.

The numbers the questions quote come from here, never from a separate training path: the solution notebook
(the master with the reference solution, what a student has once both exercises are solved) is executed by a
Jupyter kernel from its first cell to its results cell, with the hyperparameter cell's values replaced by
``changes`` (line by line, the way a student edits them) and ``SEED`` set in the imports cell. The training
cell, the results cell and the greedy evaluation are the notebook's own.

    from benchmarks.notebook_runs import run_notebook
    run = run_notebook({"ENV_ID": "MountainCarContinuous-v0", ...}, seed=0)
    run["returns"], run["greedy_returns"], run["training_time_s"]
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

import nbformat

from autograder import build_notebooks

#: What the appended cell prints: the run's results as one JSON line after this marker.
_MARKER = "NOTEBOOK_RUN_JSON:"
_DUMP = f"""import json as _json
print({_MARKER!r} + _json.dumps({{
    "returns": [float(r) for r in returns], "updates": len(td_errors), "training_time_s": float(total_time),
    "greedy_returns": [float(r) for r in greedy_returns], "figure": str(figure_path), "run_name": run_name}}))
"""


def set_value(source: str, name: str, value: Any) -> str:
    """``source`` with the line ``NAME = ...`` given ``value`` (its comment kept), as a student edits it."""
    new, count = re.subn(rf"^{name} = .*?(  #.*)?$", lambda m: f"{name} = {value!r}{m.group(1) or ''}", source,
                         count=1, flags=re.M)
    if count != 1:
        raise ValueError(f"no line `{name} = ...` in the cell")
    return new


def notebook_for(changes: dict[str, Any], seed: int = 0) -> nbformat.NotebookNode:
    """The solution notebook up to its results cell, with ``changes`` and ``SEED = seed``, ending in a cell that
    prints the run as JSON."""
    nb = build_notebooks.solution_notebook()
    cells = nb.cells
    hyper = next(c for c in cells if c.cell_type == "code" and "EPSILON_START =" in c.source)
    for name, value in changes.items():
        hyper.source = set_value(hyper.source, name, value)
    imports = next(c for c in cells if c.cell_type == "code" and "\nSEED = " in c.source)
    imports.source = set_value(imports.source, "SEED", seed)
    results = next(c for c in cells if c.cell_type == "code" and "greedy_returns = evaluate(" in c.source)
    nb.cells = [c for c in cells[:cells.index(results) + 1]
                if c.cell_type == "code" and "show_video(" not in c.source] + [nbformat.v4.new_code_cell(_DUMP)]
    return nb


def run_notebook(changes: dict[str, Any], seed: int = 0, workdir: str | Path | None = None,
                 timeout: int = 1800) -> dict[str, Any]:
    """Execute :func:`notebook_for` in ``workdir`` (default: a temporary folder) and return what it printed:
    ``returns`` (per training episode), ``updates``, ``training_time_s`` (the training cell's own clock),
    ``greedy_returns`` (the results cell's 10 greedy episodes), ``figure`` and ``run_name``."""
    from nbclient import NotebookClient

    nb = notebook_for(changes, seed)
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(workdir or tmp)
        where.mkdir(parents=True, exist_ok=True)
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(where)}}).execute()
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    line = next(x for x in printed.splitlines() if x.startswith(_MARKER))
    return {"seed": seed, "changes": changes, **json.loads(line[len(_MARKER):])}
