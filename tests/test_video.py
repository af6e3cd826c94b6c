"""The video helper: the documented command, the committed mp4, any policy, inline display, clear errors."""

from __future__ import annotations

import base64
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
import torch

from autograder import build_notebooks
from solutions.ddpg_agent import DDPGAgent
from workshop_lib import video
from workshop_lib.env_wrapper import make_env
from workshop_lib.train import Hyperparameters, build_agent, evaluate, run_episode, train_agent
from workshop_lib.video import (
    EpisodeRecorder,
    MissingDependencyError,
    record_episode,
    resource_path,
    show_video,
    show_videos,
    video_html,
)

COMMAND = [sys.executable, "-m", "workshop_lib.video", "--seed", "0", "--out"]


def ffmpeg_info(path: Path) -> str:
    """What `ffmpeg -i` says about the file (it exits 1 because no output is given; the text is on stderr)."""
    result = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                            capture_output=True, text=True)
    return result.stderr


def top_level_atoms(path: Path) -> list[str]:
    data, atoms, i = path.read_bytes(), [], 0
    while i + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[i:i + 8])
        atoms.append(kind.decode("latin-1"))
        if size < 8:
            break
        i += size
    return atoms


def assert_browser_ready_mp4(path: Path, frames: int | None = None) -> None:
    info = ffmpeg_info(path)
    assert re.search(r"Video: h264 .*yuv420p", info), f"not H.264 yuv420p:\n{info}"
    assert "500x500" in info, info
    atoms = top_level_atoms(path)
    assert atoms.index("moov") < atoms.index("mdat"), f"moov after mdat (no faststart): {atoms}"
    if frames is not None:
        assert imageio_ffmpeg.count_frames_and_secs(str(path))[0] == frames


SAME_ON_EVERY_CPU = 60
"""Frames of the seed-0 video that every x86-64 CPU renders alike. The pendulum's motion is computed in float32
and float64 by PyTorch, NumPy and libm, whose kernels differ by CPU (AVX-512 or AVX2, Intel or AMD) in the last
bit; an untrained pendulum magnifies that: the committed video (made on one CPU) and one made on an AMD EPYC part
first differ at frame 94 (2026-12-08). Every frame before is identical, and a stale video (other weights, another
reset, another drawing) differs from frame 0 or 1 on."""


def decoded_frames(path: Path, n: int) -> np.ndarray:
    """The first ``n`` frames of the mp4, decoded (RGB, uint8)."""
    import imageio

    with imageio.get_reader(str(path)) as reader:
        return np.stack([frame for _, frame in zip(range(n), reader)])


def assert_same_video_up_to_cpu_rounding(made: Path, committed: Path) -> None:
    """``committed`` is what the command made on its CPU: byte for byte where this CPU rounds alike, else its
    first :data:`SAME_ON_EVERY_CPU` frames decode to the same pixels and it has as many frames."""
    if made.read_bytes() == committed.read_bytes():
        return
    assert imageio_ffmpeg.count_frames_and_secs(str(committed))[0] == imageio_ffmpeg.count_frames_and_secs(
        str(made))[0]
    differ = np.abs(decoded_frames(made, SAME_ON_EVERY_CPU).astype(int)
                    - decoded_frames(committed, SAME_ON_EVERY_CPU).astype(int)).reshape(SAME_ON_EVERY_CPU, -1)
    first = [i for i, d in enumerate(differ.max(axis=1)) if d > 0]
    assert not first, (
        f"{committed} is stale (frame {first[0]} differs already): run `python -m workshop_lib.video --seed 0 "
        f"--out resources/pendulum_env.mp4` (the course's source and notebooks/ link to it)")


def test_command_writes_a_small_h264_mp4_and_the_same_bytes_for_the_same_seed(tmp_path, repo):
    # Run from an empty folder: the command needs workshop_lib only (not solutions/).
    for name in ("a.mp4", "b.mp4"):
        done = subprocess.run(COMMAND + [name], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "return" in done.stdout
        assert done.stderr == "", f"the command should print nothing on stderr, got:\n{done.stderr}"
    first, second = tmp_path / "a.mp4", tmp_path / "b.mp4"
    assert first.stat().st_size < 1_000_000
    assert_browser_ready_mp4(first, frames=201)  # 200 steps + the final state
    assert first.read_bytes() == second.read_bytes(), "same seed, different bytes"
    # The committed video is what the documented command makes (up to the CPU's rounding: SAME_ON_EVERY_CPU).
    assert_same_video_up_to_cpu_rounding(first, repo / "resources" / "pendulum_env.mp4")


def test_a_stale_video_is_caught(tmp_path):
    """The check above fails on a video of other weights (seed 1), from its first frames."""
    for seed in (0, 1):
        done = subprocess.run([sys.executable, "-m", "workshop_lib.video", "--seed", str(seed), "--out",
                               f"s{seed}.mp4"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    with pytest.raises(AssertionError, match=r"is stale \(frame [01] differs already\)"):
        assert_same_video_up_to_cpu_rounding(tmp_path / "s0.mp4", tmp_path / "s1.mp4")


def test_other_seed_gives_another_episode(tmp_path):
    _, ret0 = video.main(["--seed", "0", "--out", str(tmp_path / "s0.mp4")])
    _, ret1 = video.main(["--seed", "1", "--out", str(tmp_path / "s1.mp4")])
    assert ret0 != ret1
    assert (tmp_path / "s0.mp4").read_bytes() != (tmp_path / "s1.mp4").read_bytes()


#: Where the video must be found besides resources/: the course's source folder (nbgrader releases it with the
#: notebook) and notebooks/ (which holds exactly the release). Both are symbolic links to the one file.
LINKED = (build_notebooks.SOURCE_DIR / "resources" / "pendulum_env.mp4",
          build_notebooks.STUDENT_DIR / "resources" / "pendulum_env.mp4")
#: nbgrader's runtime folders (not in git) hold real copies made from the course's source; they are not copies here.
RUNTIME_DIRS = ("release", "autograded", "feedback", "submitted", "tmp_ddpg_learning", "node_modules")


def test_the_video_is_committed_once_and_linked_where_the_notebooks_need_it(repo):
    original = repo / "resources" / "pendulum_env.mp4"
    assert original.is_file() and not original.is_symlink()
    for link in LINKED:
        where = link.relative_to(repo)
        assert link.is_symlink(), f"{where} should be a symbolic link to resources/pendulum_env.mp4 " \
                                  "(`make notebooks` makes it again; or: ln -sfn with a relative target)"
        assert not Path(os.readlink(link)).is_absolute(), f"{where}: the link must be relative to work in any clone"
        assert link.resolve() == original.resolve(), f"{where} points to {os.readlink(link)}, not to the video"
    copies = [path.relative_to(repo) for path in repo.glob("*/**/pendulum_env.mp4")
              if not path.is_symlink()
              and not any(part.startswith(".") or part in RUNTIME_DIRS for part in path.relative_to(repo).parts)]
    assert copies == [Path("resources/pendulum_env.mp4")], f"more than one copy of the video: {copies}"


@pytest.mark.slow
def test_the_release_holds_the_video_itself(generated_release, repo):
    """nbgrader generate_assignment on a copy of the course: the released resources/ holds a regular file with the
    video's bytes, not a link (which would dangle in the students' folder)."""
    shipped = generated_release / "resources" / "pendulum_env.mp4"
    assert shipped.is_file() and not shipped.is_symlink()
    assert shipped.read_bytes() == (repo / "resources" / "pendulum_env.mp4").read_bytes()


def test_plain_function_policy_and_its_return(tmp_path):
    def push_right(state: np.ndarray) -> np.ndarray:
        return np.array([1.5], dtype=np.float32)

    path, ret = record_episode(push_right, tmp_path / "sub" / "f.mp4", seed=3, steps=40)
    assert path == tmp_path / "sub" / "f.mp4"
    assert_browser_ready_mp4(path, frames=41)
    env = make_env("Pendulum-v1", steps=40)
    env.seed(3)
    assert ret == pytest.approx(run_episode(video._FunctionPolicy(push_right), env, learn=False))


def test_agent_and_its_bound_method_are_recorded_greedily(tmp_path):
    torch.manual_seed(0)
    agent = DDPGAgent(3, 1, 2.0, hidden_units=16)
    agent.epsilon = 0.4
    _, ret_agent = record_episode(agent, tmp_path / "agent.mp4", seed=5, steps=30)
    _, ret_method = record_episode(agent.select_action, tmp_path / "method.mp4", seed=5, steps=30)
    assert agent.epsilon == 0.4, "the exploration scale must be restored"
    env = make_env("Pendulum-v1", steps=30)
    env.seed(5)
    greedy = evaluate(agent, env, episodes=1)[0]
    assert ret_agent == pytest.approx(greedy) and ret_method == pytest.approx(greedy)
    assert (tmp_path / "agent.mp4").read_bytes() == (tmp_path / "method.mp4").read_bytes()


def test_a_given_env_is_left_open_and_not_recording(tmp_path):
    env = make_env("Pendulum-v1", steps=10, render=True)
    record_episode(lambda s: np.zeros(1, np.float32), tmp_path / "e.mp4", env=env)
    assert env.recording is False and env.frames == []
    env.reset()  # still usable


@pytest.mark.parametrize("bad, error, words", [
    (lambda s: torch.zeros(1), TypeError, "torch"),
    (lambda s: np.zeros(2, np.float32), ValueError, "shape"),
    (lambda s: None, TypeError, "forget to return"),
])
def test_a_bad_policy_gets_the_env_wrappers_clear_error(tmp_path, bad, error, words):
    with pytest.raises(error, match=words):
        record_episode(bad, tmp_path / "bad.mp4", steps=5)
    assert not (tmp_path / "bad.mp4").exists()


def test_not_a_policy_is_a_type_error(tmp_path):
    with pytest.raises(TypeError, match="select_action"):
        record_episode(42, tmp_path / "x.mp4")


def test_missing_pygame_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pygame", None)  # `import pygame` now raises ImportError
    with pytest.raises(MissingDependencyError, match=re.escape('pip install "gymnasium[classic-control]"')):
        record_episode(lambda s: np.zeros(1, np.float32), tmp_path / "x.mp4", steps=5)


def test_missing_imageio_ffmpeg_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)
    with pytest.raises(MissingDependencyError, match=re.escape("pip install imageio-ffmpeg")):
        record_episode(lambda s: np.zeros(1, np.float32), tmp_path / "x.mp4", steps=5)
    with pytest.raises(ImportError, match="imageio-ffmpeg"):  # MissingDependencyError is an ImportError
        video.encode_mp4([np.zeros((4, 4, 3), np.uint8)], tmp_path / "y.mp4")


def test_missing_ffmpeg_binary_says_what_to_do(tmp_path, monkeypatch):
    def no_binary() -> str:
        raise RuntimeError("No ffmpeg exe could be found.")

    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", no_binary)
    with pytest.raises(MissingDependencyError, match="imageio-ffmpeg"):
        record_episode(lambda s: np.zeros(1, np.float32), tmp_path / "x.mp4", steps=5)


def test_encode_rejects_bad_frames(tmp_path):
    with pytest.raises(ValueError, match="no frames"):
        video.encode_mp4([], tmp_path / "x.mp4")
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        video.encode_mp4([np.zeros((4, 4), np.uint8)], tmp_path / "x.mp4")
    with pytest.raises(ValueError, match="frame 1"):
        video.encode_mp4([np.zeros((4, 4, 3), np.uint8), np.zeros((6, 4, 3), np.uint8)], tmp_path / "x.mp4")
    assert not (tmp_path / "x.mp4").exists(), "a refused encoding must leave no partial file"


def test_odd_frame_sizes_are_cropped_to_even(tmp_path):
    frames = [np.full((31, 45, 3), 10 * i, np.uint8) for i in range(5)]
    path = video.encode_mp4(frames, tmp_path / "odd.mp4")
    assert "44x30" in ffmpeg_info(path)


def test_recorder_records_every_nth_episode_by_hand(tmp_path):
    env = make_env("Pendulum-v1", steps=20, render=True)
    recorder = EpisodeRecorder(env, every=2, folder=tmp_path)
    policy = video._FunctionPolicy(lambda s: np.zeros(1, np.float32))
    recording = []
    for episode in range(5):
        recording.append(env.recording)
        run_episode(policy, env, learn=False)
        recorder(episode)
    assert recording == [True, False, True, False, True]
    assert sorted(recorder.paths) == [0, 2, 4]
    assert recorder.paths[2] == tmp_path / "episode_0002.mp4"
    assert_browser_ready_mp4(recorder.paths[2], frames=21)
    assert not (tmp_path / "episode_0001.mp4").exists()
    assert env.frames == []


def test_recorder_as_the_after_episode_hook_of_train_agent(tmp_path):
    hp = Hyperparameters(EPISODES=3, STEPS=20, WARMUP_EPISODES=1, DECAY_EPISODES=2, BATCH_SIZE=8, H=8)
    env = make_env("Pendulum-v1", steps=hp.STEPS, render=True)
    agent = build_agent(DDPGAgent, env, hp)
    recorder = EpisodeRecorder(env, every=2, folder=tmp_path)
    result = train_agent(agent, env, hp, progress=False, log=None, after_episode=recorder)
    assert len(result["returns"]) == 3
    assert sorted(recorder.paths) == [0, 2]


def test_recorder_off_costs_nothing_and_needs_no_render_mode():
    env = make_env("Pendulum-v1", steps=5)  # no render_mode: fine when nothing is recorded
    recorder = EpisodeRecorder(env, every=0)
    assert env.recording is False
    assert recorder(0) is False and recorder.paths == {}


def test_recorder_needs_rgb_array_env():
    with pytest.raises(ValueError, match="render=True"):
        EpisodeRecorder(make_env("Pendulum-v1", steps=5), every=3)
    with pytest.raises(ValueError, match="every"):
        EpisodeRecorder(make_env("Pendulum-v1", steps=5, render=True), every=-1)


def test_inline_video_is_an_embedded_looping_autoplaying_html5_video(repo):
    path = repo / "resources" / "pendulum_env.mp4"
    markup = show_video(path, width=300).data
    assert re.search(r"<video [^>]*controls loop autoplay muted playsinline", markup)
    data = re.search(r'src="data:video/mp4;base64,([^"]+)"', markup).group(1)
    assert base64.b64decode(data) == path.read_bytes()
    both = show_videos([(path, "untrained: return -1393"), (path, "trained <agent>")]).data
    assert both.count("<video") == 2 and "<figcaption>trained &lt;agent&gt;</figcaption>" in both
    assert video_html(path, caption="x").startswith("<figure")


def test_resource_path_in_the_repo_and_in_a_release(tmp_path, monkeypatch):
    release = tmp_path / "release" / "ddpg"
    (release / "resources").mkdir(parents=True)
    (release / "resources" / "clip.mp4").write_bytes(b"release")
    monkeypatch.chdir(release)  # the released assignment: the notebook beside its resources/
    assert resource_path("clip.mp4").read_bytes() == b"release"

    (tmp_path / "repo" / "notebooks").mkdir(parents=True)
    (tmp_path / "repo" / "resources").mkdir()
    (tmp_path / "repo" / "resources" / "clip.mp4").write_bytes(b"repo")
    monkeypatch.chdir(tmp_path / "repo" / "notebooks")  # the repository's notebooks/ (or solutions/)
    assert resource_path("clip.mp4").read_bytes() == b"repo"

    with pytest.raises(FileNotFoundError, match="python -m workshop_lib.video"):
        resource_path("missing.mp4")


def test_video_benchmark_quick_run(repo):
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_video", "--quick"], cwd=repo, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "`record_episode`: play + render 201 frames" in proc.stdout, proc.stdout


def test_record_untrained_matches_the_command_and_leaves_global_rngs_alone(tmp_path, repo):
    import random

    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    path, ret = video.record_untrained(tmp_path / "u.mp4", seed=0)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected
    command = subprocess.run(COMMAND + ["c.mp4"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert command.returncode == 0, command.stderr
    assert path.read_bytes() == (tmp_path / "c.mp4").read_bytes(), "record_untrained and the command differ"
    assert_same_video_up_to_cpu_rounding(path, repo / "resources" / "pendulum_env.mp4")
    assert ret < -500  # an untrained actor does not swing the pendulum up
