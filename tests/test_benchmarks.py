"""The benchmark peers still run (tiny sizes): a broken benchmark must not wait for the next measurement."""

from __future__ import annotations

import os
import subprocess
import sys


def test_speed_benchmark_quick_run(repo, tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # where SB3's default logger would leave a folder per model
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_speed", "--quick"], cwd=repo, capture_output=True,
                          text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for name in ("workbook (1 thread)", "minimal PyTorch loop", "SB3 DDPG"):
        assert name in proc.stdout
    assert "workbook / SB3" in proc.stdout
    assert not list(tmp_path.glob("SB3-*")), "the SB3 peer left a log folder in the temporary directory"


def test_solve_benchmark_quick_run(repo):
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_solve", "--seeds", "0", "--quick"], cwd=repo,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "seed 0 workbook: {'solved': True" in proc.stdout, proc.stdout
