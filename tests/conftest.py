"""Shared fixtures. The repository root is put on sys.path so that `solutions` (not part of the installed
package) is importable by the tests, as it is for instructors working from a clone."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

torch.set_num_threads(1)


@pytest.fixture
def repo() -> Path:
    """The repository root."""
    return REPO


@pytest.fixture(scope="session")
def generated_release(tmp_path_factory) -> Path:
    """The release folder of ``nbgrader generate_assignment`` on a copy of the course, made once for the session
    (tests/test_autograder.py and tests/test_video.py read it; neither changes it)."""
    from autograder import build_notebooks

    return build_notebooks.generate_release(tmp_path_factory.mktemp("generated_release"))
