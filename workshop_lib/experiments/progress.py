"""Progress of a comparison: a tqdm bar over episodes in a notebook or a terminal, else one line per finished run."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

__all__ = ["Reporter"]


class Reporter:
    """Progress of a sweep: a tqdm bar over episodes (notebook or terminal), else one line per finished run."""

    def __init__(self, runs: int, episodes: int, from_cache: int, enabled: bool, workers: int, method: str) -> None:
        """Say how the ``runs`` runs (``episodes`` episodes in all) will be trained, then open the bar."""
        self.enabled, self.total_runs, self.done = enabled, runs, 0
        self.bar = None
        if not enabled:
            return
        how = (f"{workers} processes ({method})" if method != "serial" else "in this process, one after the other")
        if method == "serial" and workers > 1:
            how += " (a class defined in the notebook cannot be sent to worker processes on this system)"
        print(f"compare: {self.total_runs} runs to train, {from_cache} from the cache; {how}", flush=True)
        if sys.stderr.isatty() or _in_notebook():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=episodes, desc="compare", unit="ep", dynamic_ncols=True)
            self.bar.set_postfix(runs=f"0/{self.total_runs}")

    def episode(self, label: str, seed: int) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def finished(self, record: dict[str, Any]) -> None:
        self.done += 1
        if not self.enabled:
            return
        last = np.mean(record["returns"][-10:])
        if self.bar is not None:
            self.bar.set_postfix(runs=f"{self.done}/{self.total_runs}")
        else:
            print(f"compare: run {self.done}/{self.total_runs} done: {record['label']}, seed {record['seed']}, "
                  f"mean return of the last 10 episodes {last:.0f}, {record['wall_time_s']:.1f} s", flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    ip = shell.get_ipython() if shell is not None and hasattr(shell, "get_ipython") else None
    return getattr(ip, "kernel", None) is not None
