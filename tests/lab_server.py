"""A Jupyter server for the browser tests (tests/test_browser.py, tests/test_formgrader.py): started with its
folders under a temporary home, waited for, and stopped however the test ends."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def jupyter_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a server: this virtualenv's executables first on PATH, and every Jupyter and IPython
    folder under ``home`` (nothing of the user's own set-up leaks in); ``extra`` added."""
    return {**os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_DATA_DIR": str(home / "data"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"), "IPYTHONDIR": str(home / "ipython"), **extra}


@contextmanager
def jupyter_server(command: list[str], cwd: Path, env: dict[str, str], log_path: Path, ready_url: str,
                   what: str = "the Jupyter server") -> Iterator[subprocess.Popen]:
    """Run ``command`` (its output in ``log_path``) until ``ready_url`` answers, 90 s at most (else an
    AssertionError with the log's end), and yield it; terminate it on exit (kill it if it takes over 20 s)."""
    with log_path.open("w") as log:
        server = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    urllib.request.urlopen(ready_url, timeout=5)
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise AssertionError(f"{what} did not start:\n" + log_path.read_text()[-4000:])
                    time.sleep(0.5)
            yield server
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
