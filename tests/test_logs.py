"""Quiet logs: `make demo > log.txt` (or a CI log) gets one plain line per episode and no progress bar; a
terminal still gets the bar."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios

TINY = ["--episodes", "4", "--steps", "20", "--warmup-episodes", "1", "--decay-episodes", "2", "--batch-size", "8",
        "--h", "8", "--eval-episodes", "1", "--agent", "solutions.ddpg_agent:DDPGAgent"]


def _episode_lines(text: str) -> int:
    return sum(line.startswith("EPISODE ") for line in text.splitlines())


def _job(tmp_path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "workshop_lib.train", *TINY, "--store-path", str(tmp_path / "figs"), *extra]


def test_redirected_output_has_one_plain_line_per_episode_and_no_bar(tmp_path, repo):
    log = tmp_path / "log.txt"
    with log.open("w") as out:  # as `make demo > log.txt 2>&1`: both streams into one file
        proc = subprocess.run(_job(tmp_path), cwd=repo, stdout=out, stderr=subprocess.STDOUT, timeout=300)
    text = log.read_text()
    assert proc.returncode == 0, text
    assert "\r" not in text, "a progress bar (carriage returns) leaked into the log"
    lines = text.splitlines()
    episode_lines = [line for line in lines if line.startswith("EPISODE")]
    assert [line.split("|")[0].split()[1] for line in episode_lines] == ["1/4", "2/4", "3/4", "4/4"]
    assert not any("training:" in line or "ep/s" in line or "it/s" in line for line in lines), text
    assert any(line.startswith("GREEDY RETURN") for line in lines)


def test_stdout_to_a_file_with_stderr_apart_still_has_no_bar(tmp_path, repo):
    proc = subprocess.run(_job(tmp_path), cwd=repo, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert _episode_lines(proc.stdout) == 4
    assert "\r" not in proc.stdout + proc.stderr and "training:" not in proc.stderr


def test_progress_flag_forces_the_bar_and_no_progress_removes_it(tmp_path, repo):
    forced = subprocess.run(_job(tmp_path, "--progress"), cwd=repo, capture_output=True, text=True, timeout=300)
    assert forced.returncode == 0, forced.stderr
    assert "training:" in forced.stderr
    assert _episode_lines(forced.stdout) == 4, "the lines still go to stdout, one per episode"


def test_a_terminal_gets_the_bar(tmp_path, repo):
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # a 120-column terminal
    proc = subprocess.Popen(_job(tmp_path), cwd=repo, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 300)
        if not ready:
            proc.kill()
            break
        try:
            data = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=60) == 0
    screen = b"".join(chunks).decode(errors="replace")
    assert "training:" in screen and "\r" in screen, "no progress bar on a terminal"
    assert len(re.findall(r"EPISODE +\d+/4", screen)) == 4
