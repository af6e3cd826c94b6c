"""Videos of the pendulum: record an episode of any policy, encode it as H.264, show it in Jupyter.

Recording uses Gymnasium's ``rgb_array`` rendering through :func:`~workshop_lib.env_wrapper.make_env`
(``render=True``) and :attr:`EnvWrapper.recording <workshop_lib.env_wrapper.EnvWrapper.recording>`; the
episode itself is played by :func:`workshop_lib.loop.run_episode`, the same loop that trains and evaluates.
Encoding uses the ffmpeg binary shipped inside the ``imageio-ffmpeg`` wheel: H.264 (libx264), pixel format
yuv420p and the ``moov`` index at the front of the file (``+faststart``), which every browser plays.

In a notebook::

    from workshop_lib.video import record_episode, show_video, show_videos, resource_path

    show_video(resource_path("pendulum_env.mp4"))                   # the untrained agent, shipped
    path, ret = record_episode(agent, "tmp_ddpg_learning/trained.mp4")  # one greedy episode
    show_videos([(resource_path("pendulum_env.mp4"), "untrained"), (path, f"trained: return {ret:.0f}")])

A policy is an agent (anything with ``select_action(state)``), an agent's bound ``select_action`` or a plain
function ``state -> action``. An agent with an ``epsilon`` attribute is recorded greedily (ε = 0) unless
``greedy=False``.

From the command line, record the untrained agent (the video of the notebook's problem description)::

    python -m workshop_lib.video --seed 0 --out resources/pendulum_env.mp4

It builds the untrained actor from workshop_lib alone (:class:`~workshop_lib.nets.Actor` with the notebook's
default sizes from :class:`~workshop_lib.hyperparams.Hyperparameters`, with the weights ``set_seed(seed)`` gives) and
plays it greedily on Pendulum-v1 from the reset seeded with ``seed`` (:func:`record_untrained` does the same
from Python). The same seed writes the same bytes on one machine: the encoder runs with a fixed thread count and
ffmpeg's ``bitexact`` flags (no version strings, no dates). Another CPU may round the motion's arithmetic differently
in the last bit (AVX-512 or AVX2 kernels, Intel or AMD), and an untrained pendulum magnifies that: its video then
drifts from the committed one after about 90 frames (``tests/test_video.py``). Copy the file to
``autograder/course/source/ddpg/resources/`` too, which nbgrader releases with the assignment.

Showing: :func:`show_video` embeds the mp4 as a base64 ``data:`` URI (see :func:`video_html` for why), and
:func:`resource_path` finds ``resources/`` beside the notebook (release) or one folder up (repository).

Recording every N-th training episode: :class:`EpisodeRecorder`.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import html
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from workshop_lib.env_wrapper import EnvWrapper, make_env

__all__ = [
    "MissingDependencyError", "record_episode", "encode_mp4", "show_video", "show_videos", "video_html",
    "resource_path", "EpisodeRecorder", "record_untrained", "main",
]

#: Frames per second of every video (Pendulum-v1's own ``render_fps``).
FPS = 30
#: libx264 threads: fixed, so that the bytes do not depend on the machine's number of cores.
ENCODER_THREADS = 2
#: Where the notebook's media live, relative to the notebook (release) or to the repository root.
RESOURCES = "resources"

PYGAME_HINT = 'pip install "gymnasium[classic-control]"'
FFMPEG_HINT = "pip install imageio-ffmpeg"


class MissingDependencyError(ImportError):
    """A package needed to record or encode a video is not installed; the message says what to install."""


# ------------------------------------------------------------------------------------------ dependencies
def require_pygame() -> None:
    """Raise :class:`MissingDependencyError` unless pygame (Gymnasium's renderer) can be imported.

    Also selects SDL's ``dummy`` audio and video drivers (unless ``SDL_AUDIODRIVER`` / ``SDL_VIDEODRIVER`` are
    already set): off-screen rendering needs neither a window nor a sound card, and without them SDL prints
    ALSA and ``XDG_RUNTIME_DIR`` complaints that a notebook would show under the cell. Set the variables
    yourself before the first render if you want Gymnasium's ``render_mode="human"`` windows in this process.
    """
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    try:
        import pygame  # noqa: F401  (pygame-ce installs as `pygame`)
    except ImportError as err:
        raise MissingDependencyError(
            "Recording a video needs pygame, which draws Gymnasium's classic-control environments, but it "
            f"is not installed. Install it with:  {PYGAME_HINT}  (then restart the kernel)."
        ) from err


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary shipped with imageio-ffmpeg.

    Raises:
        MissingDependencyError: if imageio-ffmpeg is missing or has no usable binary.
    """
    try:
        import imageio_ffmpeg
    except ImportError as err:
        raise MissingDependencyError(
            "Encoding a video needs ffmpeg, which comes with the imageio-ffmpeg package, but it is not "
            f"installed. Install it with:  {FFMPEG_HINT}  (then restart the kernel)."
        ) from err
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as err:
        raise MissingDependencyError(
            f"imageio-ffmpeg is installed but found no ffmpeg binary ({err}). Reinstall it with:  "
            f"pip install --force-reinstall imageio-ffmpeg  (or set IMAGEIO_FFMPEG_EXE to an ffmpeg binary)."
        ) from err


# ---------------------------------------------------------------------------------------------- policies
class _FunctionPolicy:
    """Gives a plain ``state -> action`` function the ``select_action`` that run_episode calls."""

    def __init__(self, fn: Callable[[np.ndarray], Any]) -> None:
        self.select_action = fn


def _as_agent(policy: Any) -> Any:
    if hasattr(policy, "select_action"):
        return policy
    if callable(policy):
        return _FunctionPolicy(policy)
    raise TypeError(
        f"policy must be an agent with select_action(state), its bound select_action, or a function "
        f"state -> action; got {type(policy).__name__}: {policy!r}."
    )


def _greedy(policy: Any, greedy: bool) -> contextlib.AbstractContextManager:
    """:func:`workshop_lib.evaluation.greedy` on the agent behind ``policy`` (itself, or a bound method's owner)."""
    from workshop_lib.evaluation import greedy as agent_greedy

    owner = policy if hasattr(policy, "select_action") else getattr(policy, "__self__", None)
    if not greedy or owner is None:
        return contextlib.nullcontext()
    return agent_greedy(owner)


# ------------------------------------------------------------------------------------------------ encode
def encode_mp4(frames: Sequence[np.ndarray], path: str | os.PathLike, fps: int = FPS) -> Path:
    """Encode RGB frames as an H.264 (yuv420p, faststart) mp4 that every browser plays.

    Args:
        frames: uint8 arrays of shape (H, W, 3), all the same size.
        path: the output file; its folder is created.
        fps: frames per second.

    Returns:
        The path written.

    Raises:
        ValueError: no frames, or frames of different shapes or not RGB.
        MissingDependencyError: imageio-ffmpeg (ffmpeg) is not installed.
    """
    ffmpeg_exe()
    import imageio_ffmpeg

    if len(frames) == 0:
        raise ValueError("encode_mp4 got no frames: was env.recording on, and was env.render() called?")
    first = np.asarray(frames[0])
    if first.ndim != 3 or first.shape[2] != 3:
        raise ValueError(f"frames must be RGB arrays of shape (H, W, 3), got shape {first.shape}.")
    for i, frame in enumerate(frames):  # checked before ffmpeg starts: a bad frame leaves no partial file
        if np.shape(frame) != first.shape:
            raise ValueError(f"frame {i} has shape {np.shape(frame)}, frame 0 has {first.shape}.")
    height, width = first.shape[0] // 2 * 2, first.shape[1] // 2 * 2  # yuv420p needs even sides
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = imageio_ffmpeg.write_frames(
        str(path), (width, height), fps=fps, codec="libx264", pix_fmt_in="rgb24", pix_fmt_out="yuv420p",
        macro_block_size=1, ffmpeg_log_level="error",
        output_params=[
            "-threads", str(ENCODER_THREADS),
            "-movflags", "+faststart",
            # Reproducible bytes: no encoder/version strings, no creation date, no metadata.
            "-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1",
        ],
    )
    writer.send(None)  # start ffmpeg
    try:
        for frame in frames:
            writer.send(np.ascontiguousarray(np.asarray(frame)[:height, :width], dtype=np.uint8))
    finally:
        writer.close()
    return path


# ------------------------------------------------------------------------------------------------ record
def record_episode(policy: Any, path: str | os.PathLike, seed: int | None = 0, env: EnvWrapper | None = None,
                   env_id: str = "Pendulum-v1", steps: int | None = None, greedy: bool = True,
                   fps: int = FPS) -> tuple[Path, float]:
    """Play one episode with ``policy``, render every step and save it as an mp4.

    Args:
        policy: an agent with ``select_action(state)``, an agent's bound ``select_action``, or a function
            ``state -> action`` (a numpy array of shape ``(action_size,)``).
        path: the mp4 to write (folders are created).
        seed: seed of the episode's initial state (``None``: the env's stream continues).
        env: a wrapped env created with ``make_env(..., render=True)``; by default a new
            ``make_env(env_id, steps, render=True)`` is made and closed.
        env_id: Gymnasium id when ``env`` is not given.
        steps: horizon when ``env`` is not given (``None``: the env's own limit, 200 on Pendulum-v1).
        greedy: record an agent with an ``epsilon`` attribute at ε = 0 (restored afterwards).
        fps: frames per second of the video.

    Returns:
        ``(path, episode_return)``.

    Raises:
        MissingDependencyError: pygame or imageio-ffmpeg is missing (the message says what to install).
        TypeError, ValueError: from :meth:`EnvWrapper.step` when the policy returns a bad action.
    """
    from workshop_lib.loop import run_episode  # the one episode loop of the workbook

    require_pygame()
    ffmpeg_exe()  # fail before playing the episode, not after
    agent = _as_agent(policy)
    own_env = env is None
    if own_env:
        env = make_env(env_id, steps=steps, render=True)
    if seed is not None:
        env.seed(seed)
    saved_recording, env.recording, env.frames = env.recording, True, []
    try:
        with _greedy(policy, greedy):
            episode_return = run_episode(agent, env, learn=False)
        env.render()  # the state reached by the last action
        frames, env.frames = env.frames, []
    finally:
        env.recording = saved_recording
        if own_env:
            env.close()
    return encode_mp4(frames, path, fps=fps), float(episode_return)


class EpisodeRecorder:
    """Record every ``every``-th training episode (0, N, 2N, ...) into ``folder/episode_XXXX.mp4``.

    Use it as the ``after_episode`` hook of :func:`workshop_lib.loop.train_agent`, or call it at the end of
    each episode of a hand-written loop that calls ``env.render()`` every step::

        env = make_env("Pendulum-v1", steps=STEPS, render=True)
        recorder = EpisodeRecorder(env, every=20)      # records episode 0 (the first) on
        for episode in range(EPISODES):
            ...                                        # the episode, with env.render() every step
            recorder(episode)                          # saves it if it was recorded; arms the next one

    Between recorded episodes ``env.recording`` is off, so ``env.render()`` costs nothing.

    Args:
        env: the training env, created with ``make_env(..., render=True)``.
        every: record episodes whose index is a multiple of ``every``; 0 or ``None`` records nothing.
        folder: where the mp4 files go.
        fps: frames per second.

    Attributes:
        paths: ``{episode: path}`` of the videos written so far (episodes counted from 0).
    """

    def __init__(self, env: EnvWrapper, every: int | None, folder: str | os.PathLike = "tmp_ddpg_learning/videos",
                 fps: int = FPS) -> None:
        if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 0):
            raise ValueError(f"every must be a non-negative integer or None, got {every!r}.")
        self.env, self.every, self.folder, self.fps = env, every or 0, Path(folder), fps
        self.paths: dict[int, Path] = {}
        if self.every:
            require_pygame()
            ffmpeg_exe()
            if env.env.render_mode != "rgb_array":
                raise ValueError(
                    f"EpisodeRecorder needs an env with render_mode='rgb_array', got "
                    f"{env.env.render_mode!r}: create it with make_env(env_id, steps=STEPS, render=True)."
                )
        self._arm(0)

    def _arm(self, episode: int) -> None:
        self.env.frames = []
        self.env.recording = bool(self.every) and episode % self.every == 0

    def __call__(self, episode: int, agent: Any = None) -> bool:
        """Save the episode just played if it was recorded, and arm recording for the next one.

        Returns:
            False (so that, as an ``after_episode`` hook, it never stops training).
        """
        if self.env.recording and self.env.frames:
            self.env.render()  # the final state
            self.paths[episode] = encode_mp4(self.env.frames, self.folder / f"episode_{episode:04d}.mp4",
                                             fps=self.fps)
        self._arm(episode + 1)
        return False


# -------------------------------------------------------------------------------------------------- show
def resource_path(name: str) -> Path:
    """Find a file of the notebook's ``resources/`` folder, wherever the notebook runs.

    Tried in order: ``./resources/`` (the released assignment, where the notebook sits beside its resources,
    and the repository root), ``../resources/`` (the repository's ``notebooks/`` and ``solutions/``), then
    the ``resources/`` of the repository this package was installed from (an editable install).

    Raises:
        FileNotFoundError: with the places tried and the command that makes ``pendulum_env.mp4``.
    """
    candidates = [Path(RESOURCES) / name, Path("..") / RESOURCES / name,
                  Path(__file__).resolve().parent.parent / RESOURCES / name]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    tried = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(
        f"{name} not found (looked in {tried}, from {Path.cwd()}). Run the notebook from its own folder, or "
        f"record the video with:  python -m workshop_lib.video --seed 0 --out {RESOURCES}/{name}"
    )


def video_html(path: str | os.PathLike, width: int = 320, caption: str | None = None) -> str:
    """HTML of a ``<video>`` that carries the mp4 inside itself as a base64 ``data:`` URI.

    Embedding (rather than a relative ``src``) works wherever the notebook is served: JupyterLab or
    Notebook 7 from any root folder, the repository's ``notebooks/`` and ``solutions/``, nbgrader's release
    and feedback folders, exported HTML. A relative ``src`` resolves against the notebook's URL, which
    differs between those places (and cannot reach above the server's root). Our videos are small
    (about 100 KB), so the notebook grows little.
    """
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    video = (f'<video width="{int(width)}" controls loop autoplay muted playsinline '
             f'src="data:video/mp4;base64,{data}"></video>')
    if caption is None:
        return video
    return (f'<figure style="display:inline-block;margin:0 1em 0 0;text-align:center">{video}'
            f'<figcaption>{html.escape(caption)}</figcaption></figure>')


def show_video(path: str | os.PathLike, width: int = 320, caption: str | None = None) -> Any:
    """Show an mp4 inline in Jupyter (looping, autoplay, muted, with controls).

    Returns:
        An ``IPython.display.HTML`` object: the last expression of a cell displays it.
    """
    from IPython.display import HTML

    return HTML(video_html(path, width=width, caption=caption))


def show_videos(videos: Sequence[tuple[str | os.PathLike, str]], width: int = 320) -> Any:
    """Show several mp4 files side by side, each with a caption: ``[(path, caption), ...]``."""
    from IPython.display import HTML

    figures = "".join(video_html(path, width=width, caption=caption) for path, caption in videos)
    return HTML(f'<div style="display:flex;flex-wrap:wrap;align-items:flex-start">{figures}</div>')


# ------------------------------------------------------------------------------------------ command line
def untrained_actor(seed: int, env: EnvWrapper) -> Any:
    """An untrained actor μ(s; φ) of the notebook's default sizes, its weights drawn right after seeding torch.

    The weights come from a forked torch generator seeded with ``seed``, so calling this in a notebook leaves the
    global random state of random, numpy and torch untouched. (They are not the actor of a ``DDPGAgent`` built
    after ``set_seed(seed)``: the agent builds its critics first, which draws other numbers before the actor's.)
    """
    import torch

    from workshop_lib.hyperparams import Hyperparameters
    from workshop_lib.nets import Actor

    hp = Hyperparameters()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Actor(env.state_size(), env.action_size(), env.action_limit(), h=hp.H, num_hidden=hp.NUM_H)


def greedy_policy(actor: Any) -> Callable[[np.ndarray], np.ndarray]:
    """``state -> μ(state)`` as a float32 numpy array (no noise, no gradient)."""
    import torch

    def act(state: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return actor(torch.as_tensor(state, dtype=torch.float32)).numpy()

    return act


def record_untrained(path: str | os.PathLike, seed: int = 0, env_id: str = "Pendulum-v1",
                     steps: int | None = None) -> tuple[Path, float]:
    """Record one greedy episode of the untrained actor (what ``python -m workshop_lib.video`` does).

    With the defaults it writes the same bytes as ``resources/pendulum_env.mp4`` and returns that episode's
    return: handy beside a trained agent recorded with the same ``seed`` (the same starting position).
    """
    env = make_env(env_id, steps=steps, render=True)
    try:
        return record_episode(greedy_policy(untrained_actor(seed, env)), path, seed=seed, env=env)
    finally:
        env.close()


def main(argv: list[str] | None = None) -> tuple[Path, float]:
    """``python -m workshop_lib.video``: record one greedy episode of the untrained actor."""
    parser = argparse.ArgumentParser(
        prog="python -m workshop_lib.video",
        description="Record one greedy episode of the untrained DDPG actor as an H.264 mp4.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the actor's weights and of the reset")
    parser.add_argument("--out", default=f"{RESOURCES}/pendulum_env.mp4", help="the mp4 to write")
    parser.add_argument("--env", default="Pendulum-v1", help="Gymnasium id (Box action space)")
    parser.add_argument("--steps", type=int, default=None, help="horizon (default: the env's own limit)")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    path, episode_return = record_untrained(args.out, seed=args.seed, env_id=args.env, steps=args.steps)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB), return {episode_return:.1f}")
    return path, episode_return


if __name__ == "__main__":
    main()
