"""The figure of a comparison: per setting, every seed's returns, their mean and its confidence band."""

from __future__ import annotations

from typing import Any

import numpy as np

from workshop_lib.experiments.result import Comparison
from workshop_lib.experiments.stats import BAND_METHOD, confidence_interval
from workshop_lib.utils import moving_average

__all__ = ["plot_comparison"]


def plot_comparison(result: Comparison, env_id: str, title: str | None) -> Any:
    """One axes: per setting, each seed's return per episode (thin lines: the variation from one episode to the
    next and from one seed to another), the mean over seeds (thick) and its band (:func:`confidence_interval`)."""
    import matplotlib.pyplot as plt  # imported here so that `import workshop_lib` stays light

    fig, ax = plt.subplots(figsize=(9, 5))
    n = len(result.seeds)
    for label, returns in result.returns.items():
        x = np.arange(1, returns.shape[1] + 1)
        curves = np.stack([moving_average(r, result.smooth) for r in returns])
        mean = curves.mean(axis=0)
        line, = ax.plot(x, mean, lw=2.5, label=f"{label}: mean of {n} seed{'s' if n > 1 else ''}", zorder=3)
        for i, seed_returns in enumerate(returns):
            ax.plot(x, seed_returns, lw=0.7, alpha=0.35, color=line.get_color(), zorder=1,
                    label=f"{label}: each seed" if i == 0 else None)
        if n > 1:
            low, high = confidence_interval(curves, result.confidence, axis=0)
            ax.fill_between(x, low, high, color=line.get_color(), alpha=0.25, lw=0, zorder=2)
    episodes = sorted({hp.EPISODES for hp in result.hyperparameters.values()})
    what = " vs ".join(result.returns)
    band = (f"band: {result.confidence:.0%} {BAND_METHOD}" if n > 1 else "one seed: no band")
    ax.set_title(title or f"{env_id}, {'/'.join(map(str, episodes))} episodes, seeds "
                 f"{_seed_text(result.seeds)}: {what}\n{band}; thin lines: each seed", fontsize=9)
    ax.set_xlabel("episode")
    ax.set_ylabel("return" + (f" (mean curve: moving average of {result.smooth} episodes)"
                              if result.smooth > 1 else " of the episode"))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def _seed_text(seeds: list[int]) -> str:
    """``"0-7"`` for a run of consecutive seeds, else the list."""
    if seeds == list(range(seeds[0], seeds[0] + len(seeds))) and len(seeds) > 2:
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(map(str, seeds))
