"""The reference and the course secret: what the submissions are compared with, on fixtures no student can know.

Each student gets fixtures (the deterministic batches the probe feeds to ``select_action`` and ``backward``) made
from a seed that depends on the course's secret and the student's id (:func:`fixture_seed`): the same on every
regrade, unknown without the secret. The reference agent (``solutions/ddpg_agent.py``) is probed on the same
fixtures in the grading process (:func:`reference_probe`); :mod:`autograder.verdict` compares the two.

Where code runs: on the grading host only. The secret and the reference never enter a sandbox.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path
from typing import Any

from workshop_lib.loading import load_class

REFERENCE = "solutions.ddpg_agent:DDPGAgent"
"""The one reference agent, generated from the master notebook by ``make notebooks``."""
SECRET_NAME = ".grading_secret"
"""The course secret's file, in the course folder (readable by its owner only)."""


def course_secret(root: Path) -> str:
    """The course's secret (``ROOT/.grading_secret``, created on first use, readable by its owner only)."""
    path = root / SECRET_NAME
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(16))
    return path.read_text().strip()


def fixture_seed(secret: str, assignment: str, student: str) -> int:
    """The seed of one student's fixtures: the same on every regrade, unknown without the course secret."""
    digest = hashlib.sha256(f"{secret}|{assignment}|{student}".encode()).hexdigest()
    return int(digest[:8], 16)


def make_fixtures(reference: str, seed: int) -> dict[str, Any]:
    """One student's fixtures (JSON), made with the reference agent ``module:Class`` from ``seed``."""
    from workshop_lib.grading import probe

    return probe.make_fixtures(load_class(reference), seed)


def reference_probe(reference: str, fixtures: dict[str, Any]) -> list[dict[str, Any]]:
    """The probe's records for the reference agent ``module:Class`` on ``fixtures``, computed in this process:
    what the verdict compares a submission's values with."""
    from workshop_lib.grading import probe

    records: list[dict[str, Any]] = []
    probe.run_probes(load_class(reference), fixtures, records.append, visible=False)
    return records
