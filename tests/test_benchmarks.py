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


def test_grading_cpu_meter_counts_a_child_and_its_children():
    from benchmarks.grading_profile import CpuMeter

    meter = CpuMeter("test")
    burn = "import subprocess, sys, time\n" \
           "subprocess.run([sys.executable, '-c', 'import time\\nt = time.process_time()\\n" \
           "while time.process_time() - t < 0.5: pass'])"
    proc = subprocess.run([sys.executable, "-c", burn], preexec_fn=meter.join, timeout=120)
    used = meter.seconds()
    meter.close()
    assert proc.returncode == 0
    assert used >= 0.45, (meter.kind, used)  # the grandchild's half second counts (sandboxes are grandchildren)
    if meter.path is not None:
        assert used < 5.0, used  # and nothing else of the machine does
        assert not meter.path.exists()


def test_grading_class_section_labels_the_300_as_an_estimate(monkeypatch):
    from benchmarks import bench_grading as bg

    monkeypatch.setattr(bg.os, "cpu_count", lambda: 2)

    variants = bg.class_of(30)
    assert sum(v.name == "bad_act_hangs" for v in variants) == 1  # the class holds the catalog's one hang
    trusted = {"seconds": 200.0, "cpu": 330.0, "jobs_start": 20.0, "jobs_start_cpu": 25.0, "jobs_end": 170.0,
               "jobs_end_cpu": 295.0, "apply_end": 195.0, "apply_end_cpu": 325.0, "meter": "m", "load": "0.5"}
    plain = {"seconds": 150.0, "cpu": 140.0, "load": "0.5"}
    text = "\n".join(bg.class_section(trusted, plain, variants, jobs=2))
    assert "an estimate, not a measurement" in text
    assert "| trusted: `python -m autograder.grade --jobs 2` | 200 | 330 | 11.00 |" in text
    # fixed 20 + 5 = 25 s; jobs 270 CPU-s / 30 = 9 per submission on 2 cores; apply 25 s / 30 per submission
    assert f"about {25 + 300 * 9 / 2 + 300 * 25 / 30:.0f} s" in text
    assert "**10.00 CPU-s** (jobs 9.00 + apply 1.00)" in text


def test_grading_target_class_section_is_measured_and_kept_by_a_whole_run(monkeypatch, tmp_path):
    """`--only-target-class` writes its own section (before the hostile catalog's the first time, in place after);
    a whole run carries it over instead of dropping it."""
    from benchmarks import bench_grading as bg

    monkeypatch.setattr(bg, "HERE", tmp_path)
    (tmp_path / "GRADING.md").write_text("# Grading time\n\n## A class of 30\n\nx\n\n## The hostile catalog\n\ny\n")
    measured = {"seconds": 2400.0, "cpu": 3900.0, "jobs_start": 40.0, "jobs_start_cpu": 50.0, "jobs_end": 2300.0,
                "jobs_end_cpu": 3700.0, "apply_end": 2390.0, "apply_end_cpu": 3890.0, "meter": "m", "load": "2.0",
                "commit": "abc1234", "load_start": "0.5"}
    section = bg.target_class_section(measured, bg.class_of(300), jobs=2)
    assert section[0] == "## A class of 300, measured"
    text = "\n".join(section)
    assert "at commit abc1234" in text and "| the whole command | 2400 | 3900 | 13.00 |" in text
    assert "**not met** (40.0 min, 4.0 times" in text
    bg.rewrite_section(section[0], section)
    bg.rewrite_section(section[0], section)  # again: replaced, not added twice
    page = (tmp_path / "GRADING.md").read_text()
    assert page.count("## A class of 300, measured") == 1
    assert page.index("## A class of 30\n") < page.index("## A class of 300, measured") < page.index("## The hostile")
    assert bg.kept_section(section[0]) == section
    fast = {**measured, "seconds": 580.0, "cpu": 1150.0}
    submitted = bg.target_class_section(fast, bg.class_of(300), jobs=2, outputs="submitted")
    assert submitted[0] == "## A class of 300 with the submitted outputs, measured"
    assert '`c.SandboxedGrading.notebook_outputs = "submitted"`' in "\n".join(submitted)
    assert "**met** (9.7 min, 1.0 times" in "\n".join(submitted)
    bg.rewrite_section(submitted[0], submitted)
    assert bg.kept_section(section[0]) == section and bg.kept_section(submitted[0]) == submitted


def test_grading_submissions_with_saved_outputs_hold_a_whole_runs_outputs(tmp_path):
    """The submitted-outputs class is not graded on empty notebooks: each submission holds the solution
    notebook's saved outputs (figures, videos) in its code cells."""
    import json

    from benchmarks import bench_grading as bg
    from tests import grading_catalog as gc

    gc.write_submissions(tmp_path, bg.STUDENT, bg.MASTER, bg.class_of(30)[:2])
    bg.with_saved_outputs(tmp_path)
    for path in (tmp_path / "submitted").glob("*/ddpg/*.ipynb"):
        text = path.read_text()
        assert "image/png" in text and "video/mp4" in text and len(text) > 500_000
        assert sum(len(c.get("outputs", [])) for c in json.loads(text)["cells"]) > 20


def test_grading_submitted_section_gives_the_ratio_to_nbgraders_own_pipeline_and_is_kept(monkeypatch, tmp_path):
    """`--only-submitted` writes the class graded with the submitted outputs beside nbgrader's own pipeline, with
    their ratio; a whole run carries the section over."""
    from benchmarks import bench_grading as bg

    monkeypatch.setattr(bg, "HERE", tmp_path)
    (tmp_path / "GRADING.md").write_text("# Grading time\n\n## A class of 30\n\nx\n\n## The hostile catalog\n\ny\n")
    fast = {"seconds": 50.0, "cpu": 66.0, "load": "1.0"}
    plain = {"seconds": 500.0, "cpu": 396.0, "load": "1.5"}
    section = bg.submitted_section(fast, plain, bg.class_of(30), jobs=2, commit="abc1234", started="0.5")
    text = "\n".join(section)
    assert section[0] == bg.SUBMITTED_HEADING and "commit abc1234" in text
    assert "| 50 | 66 | 2.20 | 1.0 |" in text and "| 500 | 396 | 13.20 | 1.5 |" in text
    assert "**6.00 times** the CPU and **10.00 times** the wall-clock" in text
    bg.rewrite_section(section[0], section)
    assert bg.kept_section(section[0]) == section


def test_grading_warm_section_gives_the_ratio_of_the_two_runs_and_is_kept(monkeypatch, tmp_path):
    """`--only-warm` writes the class graded warm and fresh with their ratio, and an estimate for 300 that says
    it is one; a whole run carries the section over."""
    from benchmarks import bench_grading as bg

    monkeypatch.setattr(bg, "HERE", tmp_path)
    (tmp_path / "GRADING.md").write_text("# Grading time\n\n## A class of 30\n\nx\n\n## The hostile catalog\n\ny\n")
    warm = {"seconds": 200.0, "cpu": 360.0, "load": "1.0"}
    fresh = {"seconds": 250.0, "cpu": 450.0, "load": "1.5"}
    section = bg.warm_section(warm, fresh, bg.class_of(30), jobs=2, commit="abc1234", started="0.5")
    text = "\n".join(section)
    assert section[0] == bg.WARM_HEADING and "commit abc1234" in text
    assert "| 200 | 360 | 12.00 | 1.0 |" in text and "| 250 | 450 | 15.00 | 1.5 |" in text
    assert "save **3.00 CPU-s per submission**" in text and "**1.25 times** the CPU" in text
    verdict = "**met**" if 300 * 12.0 / (os.cpu_count() or 1) <= 600 else "**not met**"
    assert "an estimate from this class, not a measurement" in text and verdict in text
    bg.rewrite_section(section[0], section)
    assert bg.kept_section(section[0]) == section
