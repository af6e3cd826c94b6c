"""The statistics of a comparison: the confidence interval of a mean over seeds, from scipy's bootstrap."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["BAND_METHOD", "confidence_interval"]

#: How the bands are computed, as the figure and the summary name it.
BAND_METHOD = "percentile bootstrap of the mean over seeds (scipy.stats.bootstrap, 10 000 resamples)"


def confidence_interval(values: Any, confidence: float = 0.95, axis: int = 0, n_resamples: int = 10_000,
                        seed: int = 0) -> tuple[Any, Any]:
    """The ``confidence`` interval of the mean of ``values`` along ``axis``: a percentile bootstrap over seeds
    (:func:`scipy.stats.bootstrap`, ``method="percentile"``), with its own seeded generator (the same data always
    give the same interval).

    A percentile bootstrap interval lies between the smallest and the largest value: a band of returns never
    reaches a return the environment cannot give (above 0 on Pendulum), as a Student's t interval over 3 seeds
    does. With one value the spread is unknown: both bounds are ``nan``.

    Returns:
        ``(low, high)``: floats, or arrays of ``values``' shape without ``axis``.
    """
    from scipy import stats  # imported here so that `import workshop_lib` stays light

    x = np.asarray(values, dtype=np.float64)
    x = np.moveaxis(x, axis, -1)
    if x.shape[-1] < 2:
        nan = np.full(x.shape[:-1], np.nan)
        return (float("nan"), float("nan")) if nan.ndim == 0 else (nan, nan.copy())
    spread = np.ptp(x, axis=-1)
    low, high = x.mean(axis=-1), x.mean(axis=-1)  # where every seed gave the same value, the interval is a point
    varied = spread > 0
    if np.any(varied):
        result = stats.bootstrap((x[varied],), np.mean, axis=-1, vectorized=True, confidence_level=confidence,
                                 n_resamples=n_resamples, method="percentile", rng=np.random.default_rng(seed))
        low, high = np.array(low, ndmin=1), np.array(high, ndmin=1)
        low[np.reshape(varied, -1)] = np.reshape(result.confidence_interval.low, -1)
        high[np.reshape(varied, -1)] = np.reshape(result.confidence_interval.high, -1)
        low, high = low.reshape(x.shape[:-1]), high.reshape(x.shape[:-1])
    if np.ndim(low) == 0:
        return float(low), float(high)
    return low, high
