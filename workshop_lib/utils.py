"""Small utilities: seeding, run names, the learning-curve figure and where the figures are saved."""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

__all__ = ["set_seed", "restored_global_rngs", "create_run_name", "visualize_result", "moving_average",
           "save_figure", "saved_figures", "STORE_PATH"]

STORE_PATH = "tmp_ddpg_learning"
"""The default folder of the figures (and of compare's cache), relative to the working directory."""


def set_seed(seed: int) -> None:
    """Seed Python's ``random``, numpy's global generator and torch, all in one place.

    Args:
        seed: a non-negative integer.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    random.seed(int(seed))
    np.random.seed(int(seed))
    torch.manual_seed(int(seed))


@contextlib.contextmanager
def restored_global_rngs() -> Iterator[None]:
    """Save the states of the three global random generators that :func:`set_seed` seeds (Python's ``random``,
    NumPy's global generator, torch's CPU generator) and restore them when the block ends, also on an error.

    Code inside the block may reseed and draw as it likes; the code after it draws exactly what it would have
    drawn had the block never run.
    """
    py_state, np_state, torch_state = random.getstate(), np.random.get_state(), torch.random.get_rng_state()
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.random.set_rng_state(torch_state)


def create_run_name(alg: str, env: str, num_layers: int, hidden_dim: int, eps_start: float,
                    eps_end: float, decay: float, gamma: float, batch_size: int, lr: float, num_ep: int,
                    num_step: int, updt_freq: int | None = None, polyak: float | None = None,
                    noise: str | None = None) -> str:
    """A file-name-safe name that records a run's hyperparameters.

    Args:
        alg: algorithm name, e.g. ``"DDPG"``.
        env: environment name, e.g. ``"pendulum"``.
        num_layers: number of hidden layers.
        hidden_dim: units per hidden layer.
        eps_start: initial exploration scale.
        eps_end: final exploration scale.
        decay: decrease of epsilon per episode.
        gamma: discount factor.
        batch_size: mini-batch size.
        lr: learning rate.
        num_ep: number of episodes.
        num_step: steps per episode.
        updt_freq: one update every ``updt_freq`` steps (optional).
        polyak: polyak coefficient ρ of DDPG's soft target update (optional).
        noise: kind of exploration noise (optional; ``"gaussian"``, the default of the notebook, is left out).

    Returns:
        e.g. ``"DDPG_Pendulum-v1_l2_h64_eps0.4-0.05_dec0.00875_g0.98_b64_lr0.001_ep80_st200_uf1_rho0.995"``.
    """
    parts = [
        str(alg), str(env).replace("/", "-"), f"l{num_layers}", f"h{hidden_dim}",
        f"eps{eps_start:g}-{eps_end:g}", f"dec{decay:.3g}", f"g{gamma:g}", f"b{batch_size}",
        f"lr{lr:g}", f"ep{num_ep}", f"st{num_step}",
    ]
    if updt_freq is not None:
        parts.append(f"uf{updt_freq}")
    if polyak is not None:
        parts.append(f"rho{polyak:g}")
    if noise is not None and noise != "gaussian":
        parts.append(str(noise))
    return "_".join(parts).replace(" ", "")


def save_figure(fig, store_path: str | os.PathLike, run_name: str, dpi: int = 120) -> Path:
    """Save ``fig`` as ``store_path/<run_name>_<NNN>.png`` with the first free run number NNN (001, 002, ...).

    Two runs with the same hyperparameters (say, before and after a change to the training code) therefore get
    two files: no figure overwrites another. The number is claimed atomically, so parallel runs are safe too.

    Returns:
        The path of the saved figure.
    """
    folder = Path(store_path)
    folder.mkdir(parents=True, exist_ok=True)
    number = 1
    while True:
        path = folder / f"{run_name}_{number:03d}.png"
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            number += 1
            continue
        fig.savefig(path, dpi=dpi)
        return path


def saved_figures(store_path: str | os.PathLike) -> list[Path]:
    """The learning-curve figures saved in ``store_path`` so far, oldest first (an empty list if none)."""
    folder = Path(store_path)
    if not folder.is_dir():
        return []
    return sorted(folder.glob("*.png"), key=lambda p: (p.stat().st_mtime, p.name))


def moving_average(values: Sequence[float], window: int) -> np.ndarray:
    """Trailing mean over at most ``window`` values: ``out[i] = mean(values[max(0, i-window+1) : i+1])``.

    Defined for any length (the first points average what exists so far).
    """
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    if x.size == 0:
        return x
    window = max(1, int(window))
    csum = np.cumsum(np.concatenate([[0.0], x]))
    hi = np.arange(1, x.size + 1)
    lo = np.maximum(0, hi - window)
    return (csum[hi] - csum[lo]) / (hi - lo)


def visualize_result(returns: Sequence[float], td_errors: Sequence[float],
                     policy_errors: Sequence[float] | None = None, title: str | None = None):
    """Plot a run: episode returns with a smoothed curve, TD errors and policy losses per update.

    Works for any length, including fewer than 10 episodes and no updates yet (empty panels say so).

    Args:
        returns: the return (sum of rewards) of each episode.
        td_errors: mean |TD error| of each update (one value per ``backward()`` call).
        policy_errors: policy loss -Q(s, μ(s)) of each update (optional).
        title: the figure's title, saying which settings made the run (optional; the notebook passes the run
            name and the seed).

    Returns:
        The matplotlib Figure (save it with ``fig.savefig(path)``).
    """
    import matplotlib.pyplot as plt  # imported here so that `import workshop_lib` stays light

    series = [("Return per episode", "episode", returns), ("TD error |y - Q(s, a)|", "update", td_errors)]
    if policy_errors is not None:
        series.append(("Policy loss -Q(s, μ(s))", "update", policy_errors))
    fig, axes = plt.subplots(1, len(series), figsize=(5 * len(series), 3.6))
    for ax, (panel, xlabel, values) in zip(np.atleast_1d(axes), series):
        y = np.asarray(values, dtype=np.float64).reshape(-1)
        ax.set_title(panel)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
        if y.size == 0:
            ax.text(0.5, 0.5, "no data yet", ha="center", va="center", transform=ax.transAxes)
            continue
        x = np.arange(1, y.size + 1)
        # Episodes are few: smooth over a tenth of them; updates are many: over a hundredth.
        window = max(1, y.size // (10 if xlabel == "episode" else 100))
        ax.plot(x, y, alpha=0.35 if window > 1 else 1.0, lw=1, label="raw")
        if window > 1:
            ax.plot(x, moving_average(y, window), lw=2, label=f"mean of last {window}")
            ax.legend(loc="best", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
