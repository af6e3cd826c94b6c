"""One grading job: everything a machine needs to run one submission in its sandboxes, and what comes back.

A job's **spec** is plain JSON, made by the grading host (``autograder.trusted``): the submission's notebook
(after nbgrader restored its read-only cells, graded test cells emptied), the released resources (base64), the
code cells the verdict run executes, the fixtures and the limits. :func:`run_job` turns a spec into a
**result** (the records streamed back by the two sandboxed runs, and why each ended) on any machine that has
this environment and bubblewrap: the host itself (serially, or ``--jobs N`` at once) or a dask worker. The
result holds only values; the host decides the grade from it and is the only one to write the gradebook.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import tempfile
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from autograder.sandbox import Limits, RunResult, Sandbox, plain_library_copy

STREAM_BYTES_VERDICT = 16_000_000


def encode_release(release: Path) -> dict[str, str]:
    """The released files beside the notebook (resources), as ``{relative path: base64}``."""
    files: dict[str, str] = {}
    if release.is_dir():
        for path in sorted(release.rglob("*")):
            if path.is_file() and path.suffix != ".ipynb" and "__pycache__" not in path.parts:
                files[str(path.relative_to(release))] = base64.b64encode(path.read_bytes()).decode()
    return files


def _write_release(files: dict[str, str], dest: Path) -> None:
    for rel, data in files.items():
        target = (dest / rel).resolve()
        if dest.resolve() not in target.parents:
            continue  # never outside the scratch
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(data))


def _result_json(run: RunResult) -> dict[str, Any]:
    return {"records": run.records, "reason": run.reason, "seconds": round(run.seconds, 3),
            "returncode": run.returncode}


def no_result(student: str, reason: str) -> dict[str, Any]:
    """The result of a job that produced nothing (lost on the cluster, never run): both runs empty, with why."""
    empty = {"records": [], "reason": reason, "seconds": 0.0}
    return {"student": student, "notebook": dict(empty), "verdict": dict(empty)}


def run_job(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one submission's notebook and verdict run, each in its own sandbox, at the same time.

    Args:
        spec: the job (see the module's docstring).

    Returns:
        ``{"student", "notebook": {...}, "verdict": {...}}``: each run's streamed records, why it ended early
        (``None`` if it did not), its time.
    """
    limits = Limits(**spec["limits"])
    enabled = bool(spec["sandbox"])
    env = {k: str(v) for k, v in spec["env"].items()}
    with tempfile.TemporaryDirectory(prefix="ddpg-grade-") as tmp:
        tmp_path = Path(tmp)
        os.chmod(tmp_path, 0o755)
        library = plain_library_copy(tmp_path / "lib")
        nb_scratch, verdict_scratch = tmp_path / "notebook", tmp_path / "verdict"
        nb_scratch.mkdir()
        verdict_scratch.mkdir()
        _write_release(spec["release"], nb_scratch)
        _write_release(spec["release"], verdict_scratch)  # the cells above the checks see what the notebook sees
        (nb_scratch / spec["notebook_name"]).write_text(json.dumps(spec["notebook"]))
        (verdict_scratch / "cells.json").write_text(json.dumps(spec["cells"]))
        (verdict_scratch / "fixtures.json").write_text(json.dumps(spec["fixtures"]))
        notebook_limits = Limits(**{**asdict(limits),
                                    "max_stream_bytes": int(env["DDPG_NOTEBOOK_OUTPUT_BYTES"]) * 2 + 1_000_000})
        verdict_limits = Limits(**{**asdict(limits), "max_stream_bytes": STREAM_BYTES_VERDICT})
        jobs = {
            "notebook": (Sandbox(library, notebook_limits, enabled), nb_scratch,
                         [sys.executable, "-m", "workshop_lib.grading.notebook_runner", spec["notebook_name"]]),
            "verdict": (Sandbox(library, verdict_limits, enabled), verdict_scratch,
                        [sys.executable, "-m", "workshop_lib.grading.probe", "cells.json", "fixtures.json"]),
        }
        runs: dict[str, RunResult] = {}

        def run(name: str) -> None:
            box, scratch, argv = jobs[name]
            try:
                runs[name] = box.run(scratch, argv, env)
            except Exception as err:  # noqa: BLE001 - one broken run must not stop the grading
                runs[name] = RunResult(reason=f"could not run: {err}")

        threads = [threading.Thread(target=run, args=(name,)) for name in jobs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return {"student": spec["student"], "notebook": _result_json(runs["notebook"]),
            "verdict": _result_json(runs["verdict"])}
