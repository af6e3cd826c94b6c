"""ruff is a gate: the project's Python (notebooks excluded, see pyproject.toml) passes ``ruff check``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_ruff_check_passes():
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise", "."], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0, ("ruff found problems; run `.venv/bin/ruff check .` (and `--fix` for the "
                                  "fixable ones):\n" + proc.stdout[-4000:] + proc.stderr[-2000:])
