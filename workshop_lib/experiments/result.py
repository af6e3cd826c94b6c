"""What :func:`workshop_lib.experiments.compare` returns: the returns per setting and seed, and their summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workshop_lib.experiments.stats import BAND_METHOD, confidence_interval
from workshop_lib.hyperparams import Hyperparameters

__all__ = ["Comparison"]


@dataclass
class Comparison:
    """What :func:`compare` returns.

    Attributes:
        returns: per setting label, the returns as an array of shape (number of seeds, EPISODES): row ``i`` is
            the return of every episode of the run with ``seeds[i]``.
        seeds: the seeds, in the order of the rows.
        hyperparameters: per setting label, the full hyperparameters its runs used.
        wall_time_s: per setting label, the training time of each seed's run (seconds, as measured when it ran).
        figure: the matplotlib figure (mean return per episode, band = confidence interval).
        figure_path: where the figure was saved, or ``None``.
        confidence: the level of the bands, e.g. 0.95.
        from_cache: how many runs were read from the cache instead of trained.
        trained: how many runs were trained by this call.
        elapsed_s: how long this call took (seconds).
        smooth: the moving-average window of the mean curves (1: none).
        cpu_time_s: per setting label, the CPU time of each seed's training (seconds; less sensitive than the
            wall time to other programs sharing the cores).
    """

    returns: dict[str, np.ndarray]
    seeds: list[int]
    hyperparameters: dict[str, Hyperparameters]
    wall_time_s: dict[str, list[float]]
    figure: Any = None
    figure_path: str | None = None
    confidence: float = 0.95
    from_cache: int = 0
    trained: int = 0
    elapsed_s: float = 0.0
    smooth: int = 1
    cpu_time_s: dict[str, list[float]] = field(default_factory=dict)

    def final_returns(self, last: int = 10) -> dict[str, np.ndarray]:
        """Per setting, each seed's mean return over its ``last`` episodes: one number per seed."""
        return {label: r[:, -last:].mean(axis=1) for label, r in self.returns.items()}

    def final_intervals(self, last: int = 10) -> dict[str, tuple[float, float]]:
        """Per setting, the ``confidence`` interval (:func:`confidence_interval`) of the mean over seeds of
        :meth:`final_returns`."""
        return {label: confidence_interval(finals, self.confidence) for label, finals in
                self.final_returns(last).items()}

    def separated(self, first: str, second: str, last: int = 10) -> bool:
        """True when the intervals of :meth:`final_intervals` of the two settings do not overlap: the seeds
        alone can hardly explain the difference of their means."""
        (low1, high1), (low2, high2) = self.final_intervals(last)[first], self.final_intervals(last)[second]
        return high1 < low2 or high2 < low1

    def summary(self, last: int = 10) -> str:
        """A Markdown table: per setting, the mean return of the last ``last`` episodes over seeds, with its
        confidence interval (:data:`BAND_METHOD`), and the worst and best seed; then the training time."""
        lines = [f"| setting | seeds | mean return of the last {last} episodes | {self.confidence:.0%} interval "
                 "| worst seed | best seed |",
                 "| --- | ---: | ---: | ---: | ---: | ---: |"]
        intervals = self.final_intervals(last)
        for label, finals in self.final_returns(last).items():
            low, high = intervals[label]
            band = f"[{low:.0f}, {high:.0f}]" if np.isfinite(low) else "(one seed)"
            lines.append(f"| {label} | {len(finals)} | {finals.mean():.0f} | {band} | {finals.min():.0f} "
                         f"| {finals.max():.0f} |")
        lines.append("")
        lines.append(f"Interval: {BAND_METHOD}.")
        cpu = float(np.nansum([t for ts in self.cpu_time_s.values() for t in ts]))
        lines.append(f"This call: {self.trained} runs trained, {self.from_cache} read from the cache, "
                     f"{self.elapsed_s:.0f} s; the runs' training took {cpu:.0f} s of CPU time in all.")
        return "\n".join(lines)
