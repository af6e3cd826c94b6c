"""Time to record and encode one 200-step Pendulum-v1 episode as an H.264 mp4 (target: <= 3 s).

    .venv/bin/python -m benchmarks.bench_video            # 5 runs, rewrites benchmarks/VIDEO.md
    .venv/bin/python -m benchmarks.bench_video --quick    # 1 run, prints only

Each run calls :func:`workshop_lib.video.record_episode` (a fresh ``rgb_array`` env, one greedy episode of the
untrained actor with every frame rendered, encoding with libx264) and is timed whole; the encoding of the same
frames is then timed alone, so the table splits the total into playing + rendering and encoding. The first
run of a process also pays pygame's start-up; it is reported apart. Finally the documented command
``python -m workshop_lib.video`` is timed end to end (a new Python process: imports included).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import torch

from workshop_lib.env_wrapper import make_env
from workshop_lib.train import run_episode
from workshop_lib.video import (
    ENCODER_THREADS,
    _as_agent,
    encode_mp4,
    greedy_policy,
    record_episode,
    untrained_actor,
)

HERE = Path(__file__).resolve().parent


TARGET_S = 3.0


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def measure(runs: int, folder: Path) -> dict:
    torch.set_num_threads(1)
    env = make_env("Pendulum-v1", render=True)
    policy = greedy_policy(untrained_actor(0, env))
    totals = []
    for i in range(runs + 1):  # run 0 pays pygame's start-up
        start = time.perf_counter()
        record_episode(policy, folder / f"run{i}.mp4", seed=0)
        totals.append(time.perf_counter() - start)
    # The frames of the same episode, for timing the encoder alone.
    env.seed(0)
    env.recording = True
    run_episode(_as_agent(policy), env, learn=False)
    env.render()
    frames = env.frames
    env.close()
    encodes = []
    for i in range(runs):
        start = time.perf_counter()
        encode_mp4(frames, folder / f"enc{i}.mp4")
        encodes.append(time.perf_counter() - start)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "workshop_lib.video", "--seed", "0", "--out", str(folder / "cli.mp4")],
                   check=True, capture_output=True)
    cli = time.perf_counter() - start
    # env.render() in the training loop when no episode is being recorded, against one environment step.
    env = make_env("Pendulum-v1", render=True)
    env.reset()
    calls = 100_000
    start = time.perf_counter()
    for _ in range(calls):
        env.render()
    render_off_us = (time.perf_counter() - start) / calls * 1e6
    action = np.zeros(1, dtype=np.float32)
    start = time.perf_counter()
    for _ in range(200):
        env.step(action)
    step_us = (time.perf_counter() - start) / 200 * 1e6
    env.close()
    return {"first": totals[0], "totals": totals[1:], "encodes": encodes, "frames": len(frames),
            "size": (folder / "run1.mp4").stat().st_size, "cli": cli, "render_off_us": render_off_us,
            "step_us": step_us}


def table(result: dict, runs: int) -> str:
    total, encode = statistics.median(result["totals"]), statistics.median(result["encodes"])
    verdict = "meets" if total <= TARGET_S else "MISSES"
    return "\n".join([
        "# Recording and encoding a 200-step episode",
        "",
        f"Measured by `.venv/bin/python -m benchmarks.bench_video` on {datetime.date.today()}: {cpu_model()}, "
        f"{platform.machine()} with {os.cpu_count()} cores (shared), Python {platform.python_version()}, "
        f"torch {torch.__version__}, ffmpeg {imageio_ffmpeg.get_ffmpeg_version()} (imageio-ffmpeg), "
        f"libx264 with {ENCODER_THREADS} threads. Median of {runs} runs.",
        "",
        "| what | time |",
        "| --- | ---: |",
        f"| `record_episode`: play + render {result['frames']} frames (500x500) + encode | **{total:.2f} s** |",
        f"| of which encoding alone (`encode_mp4`, same frames) | {encode:.2f} s |",
        f"| of which playing and rendering | {total - encode:.2f} s |",
        f"| first call in a process (pygame start-up included) | {result['first']:.2f} s |",
        f"| `python -m workshop_lib.video --seed 0` end to end (new process, imports) | {result['cli']:.2f} s |",
        f"| `env.render()` in the training loop while not recording, per call | {result['render_off_us']:.2f} µs |",
        f"| one `env.step()` of Pendulum-v1, for comparison | {result['step_us']:.1f} µs |",
        "",
        f"- target <= {TARGET_S:.0f} s for record + encode: **{verdict}** it ({total:.2f} s).",
        f"- file size: {result['size'] / 1024:.0f} KB (H.264 High, yuv420p, faststart, 30 fps).",
        "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one run, print only")
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    with tempfile.TemporaryDirectory() as folder:
        result = measure(runs, Path(folder))
    text = table(result, runs)
    print(text)
    if not args.quick:
        (HERE / "VIDEO.md").write_text(text)
        print(f"wrote {HERE / 'VIDEO.md'}")


if __name__ == "__main__":
    main()
