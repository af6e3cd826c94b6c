"""compare(): train every setting with every seed (in parallel, cached) and plot their mean returns on one figure.

It checks its arguments (errors say what was expected and how to fix it), makes one job per (setting, seed),
reads what the cache already holds (:mod:`~workshop_lib.experiments.cache`), trains the rest
(:mod:`~workshop_lib.experiments.runs`), and collects the returns into a
:class:`~workshop_lib.experiments.result.Comparison` with its figure (:mod:`~workshop_lib.experiments.plots`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import hashlib
import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from workshop_lib.experiments.cache import DEFAULT_CACHE, read_cached, run_key
from workshop_lib.experiments.plots import plot_comparison
from workshop_lib.experiments.progress import Reporter
from workshop_lib.experiments.result import Comparison
from workshop_lib.experiments.runs import Job, default_processes, run_jobs, start_method
from workshop_lib.hyperparams import Hyperparameters
from workshop_lib.loading import load_class
from workshop_lib.utils import STORE_PATH

__all__ = ["compare", "setting_label"]


def compare(settings: Mapping[str, Mapping[str, Any]] | Sequence[Mapping[str, Any]], seeds: int | Sequence[int] = 3,
            *, agent: type | str,
            base: Hyperparameters | Mapping[str, Any] | None = None, env_id: str = "Pendulum-v1",
            processes: int | None = None, cache_dir: str | os.PathLike = DEFAULT_CACHE,
            figure_dir: str | os.PathLike | None = STORE_PATH, progress: bool = True, confidence: float = 0.95,
            smooth: int = 1, title: str | None = None) -> Comparison:
    """Train every setting with every seed (in parallel, cached) and plot their mean returns on one figure.

    Args:
        settings: a list of hyperparameter overrides, e.g. ``[{"LR": 1e-3}, {"LR": 1e-2}]``, each labelled by
            what it changes (:func:`setting_label`: ``"LR = 0.001"``); or a dict label -> overrides, e.g.
            ``{"small step": {"LR": 1e-3}}``. Names are those of the hyperparameter cell
            (:class:`Hyperparameters`); ``{}`` keeps ``base`` unchanged.
        seeds: a number of seeds (3 means seeds 0, 1, 2) or a list of seeds. Each seed fixes the network
            initialisation, the exploration noise, the replay sampling and the starting states.
        agent: the agent class to train (in the notebook: ``agent=DDPGAgent``), or ``"module:Class"``.
        base: the hyperparameters that the settings change (default: the defaults of the hyperparameter cell).
            A :class:`Hyperparameters` or a dict of overrides of the defaults.
        env_id: the Gymnasium environment.
        processes: worker processes (default: one per CPU core; 1 trains in this process, one run after the
            other). Each uses one torch thread.
        cache_dir: folder of the cached runs (one JSON file per run). Delete it to retrain everything.
        figure_dir: folder the figure is saved to (under a name unique to these settings and seeds), or
            ``None`` to keep it only in memory.
        progress: show progress: a bar in a notebook or a terminal, one line per finished run otherwise.
        confidence: level of the band around each mean curve (0.95: a 95 % interval of the mean over seeds,
            :func:`confidence_interval`; with a single seed there is no band).
        smooth: each run's returns are averaged over the last ``smooth`` episodes before the mean over seeds
            is taken (1, the default: no smoothing; each seed's own curve is always drawn unsmoothed).
        title: the figure's title (default: the environment, the episodes, the seeds, the settings compared and
            what the band is).

    Returns:
        A :class:`Comparison` with the returns (settings x seeds x episodes), the figure and a
        :meth:`~Comparison.summary` table.

    Raises:
        TypeError, ValueError: for settings, seeds or arguments that cannot be used (the message says what
            was expected).
        RuntimeError: if a run fails; the message names the run and shows its traceback. Runs that finished
            are cached and will not be trained again.
    """
    started = time.perf_counter()
    if base is None:
        base_hp = Hyperparameters()
    elif isinstance(base, Hyperparameters):
        base_hp = base
    elif isinstance(base, Mapping):
        base_hp = _check_settings({"base": base}, Hyperparameters())["base"]
    else:
        raise TypeError(f"base must be a Hyperparameters, a dict of overrides or None, got {type(base).__name__}.")
    full = _check_settings(settings, base_hp)
    seed_list = _check_seeds(seeds)
    agent_cls, agent_spec = _resolve_agent(agent)
    if processes is not None and (isinstance(processes, bool) or not isinstance(processes, int) or processes < 1):
        raise ValueError(f"processes must be a positive integer or None (one per CPU core), got {processes!r}.")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1 (e.g. 0.95), got {confidence!r}.")
    if isinstance(smooth, bool) or not isinstance(smooth, int) or smooth < 1:
        raise ValueError(f"smooth must be a positive integer (1: no smoothing), got {smooth!r}.")

    # 1. One job per (setting, seed); read what the cache already holds.
    cache = Path(cache_dir)
    jobs, records = [], {}
    for label, hp in full.items():
        for seed in seed_list:
            job = Job(label, seed, dataclasses.asdict(hp), env_id,
                       str(cache / f"{run_key(hp, seed, agent_cls, env_id)}.json"), agent_spec)
            cached = read_cached(Path(job.cache_file), job.episodes)
            if cached is None:
                jobs.append(job)
            else:
                records[(label, seed)] = cached
    from_cache = len(records)

    # 2. Train the rest, in parallel where the system allows it.
    if jobs:
        workers = min(processes or default_processes(), len(jobs))
        method = start_method(agent_spec, workers)
        say = Reporter(len(jobs), sum(j.episodes for j in jobs), from_cache, progress, workers, method)
        try:
            # closing(): on an error or an interrupt the workers still running are stopped at once.
            with contextlib.closing(run_jobs(jobs, workers, method, agent_cls, say)) as finished_runs:
                for record in finished_runs:
                    if "error" in record:
                        raise RuntimeError(
                            f"the run of setting {record['label']!r} with seed {record['seed']} failed (runs "
                            f"that finished are cached; fix the error and call compare again):\n{record['error']}")
                    records[(record["label"], record["seed"])] = record
                    say.finished(record)
        except KeyboardInterrupt:
            print(f"compare: interrupted; {len(records)} of {len(full) * len(seed_list)} runs are cached in "
                  f"{cache}. Call compare again to resume.", file=sys.stderr)
            raise
        finally:
            say.close()
    elif progress:
        print(f"compare: all {from_cache} runs from the cache ({cache})", flush=True)

    # 3. Collect and plot.
    returns = {label: np.array([records[(label, s)]["returns"] for s in seed_list], dtype=np.float64)
               for label in full}
    times = {label: [float(records[(label, s)]["wall_time_s"]) for s in seed_list] for label in full}
    cpu = {label: [float(records[(label, s)].get("cpu_time_s", float("nan"))) for s in seed_list] for label in full}
    result = Comparison(returns=returns, seeds=seed_list, hyperparameters=full, wall_time_s=times,
                        confidence=confidence, from_cache=from_cache, trained=len(jobs), smooth=smooth, cpu_time_s=cpu)
    result.figure = plot_comparison(result, env_id, title)
    if figure_dir is not None:
        keys = "".join(sorted(Path(j).stem for j in _all_cache_files(full, seed_list, agent_cls, env_id)))
        slug = re.sub(r"[^A-Za-z0-9.=-]+", "_", "_vs_".join(full))[:80].strip("_")
        episodes = {hp.EPISODES for hp in full.values()}
        scope = f"{len(seed_list)}seeds_ep{'-'.join(str(e) for e in sorted(episodes))}"
        path = Path(figure_dir) / f"compare_{slug}_{scope}_{hashlib.sha256(keys.encode()).hexdigest()[:8]}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        result.figure.savefig(path, dpi=120)
        result.figure_path = str(path)
    result.elapsed_s = time.perf_counter() - started
    return result


def _all_cache_files(full: dict[str, Hyperparameters], seeds: list[int], agent: type, env_id: str) -> list[str]:
    return [run_key(hp, s, agent, env_id) for hp in full.values() for s in seeds]


def setting_label(overrides: Mapping[str, Any]) -> str:
    """The label of a setting given as its overrides alone: what it changes, e.g. ``"LR = 0.01"``,
    ``"BATCH_SIZE = 16, LR = 0.01"``, or ``"defaults"`` for ``{}``."""
    return ", ".join(f"{name} = {value!r}" for name, value in sorted(overrides.items())) or "defaults"


def _check_settings(settings: Any, base: Hyperparameters) -> dict[str, Hyperparameters]:
    """Settings -> full hyperparameters per label, with errors that say what was expected and how to fix it.

    A list of overrides (``[{"LR": 1e-3}, {"LR": 1e-2}]``) is labelled by :func:`setting_label`, so that a
    curve's label always says which values made it."""
    example = '[{"LR": 1e-3}, {"LR": 1e-2}] or {"LR = 1e-3": {"LR": 1e-3}, "LR = 1e-2": {"LR": 1e-2}}'
    if isinstance(settings, Sequence) and not isinstance(settings, str) and settings and all(
            isinstance(o, Mapping) for o in settings):
        labelled = {setting_label(o): o for o in settings}
        if len(labelled) != len(settings):
            raise ValueError(f"settings must be distinct (two equal settings repeat the same runs), got {settings!r}.")
        settings = labelled
    if not isinstance(settings, Mapping) or not settings:
        raise TypeError(f"settings must be a non-empty list of overrides or dict of label -> overrides, e.g. "
                        f"{example}; got {type(settings).__name__}: {settings!r:.80}.")
    names = [f.name for f in dataclasses.fields(Hyperparameters)]
    out: dict[str, Hyperparameters] = {}
    for label, overrides in settings.items():
        if not isinstance(label, str) or not label:
            raise TypeError(f"each setting's label must be a non-empty string (it names the curve), got {label!r}.")
        if overrides is None:
            overrides = {}
        if not isinstance(overrides, Mapping):
            raise TypeError(f"setting {label!r} must be a dict of hyperparameter overrides such as {{'LR': 1e-4}} "
                            f"({{}} for the defaults), got {type(overrides).__name__}: {overrides!r:.80}.")
        for name in overrides:
            if name not in names:
                close = difflib.get_close_matches(str(name).upper(), names, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ValueError(f"setting {label!r}: unknown hyperparameter {name!r}. Expected one of "
                                 f"{', '.join(names)} (upper case, as in the hyperparameter cell).{hint}")
        # An int where the field is a float (LR=1) is stored as the float, so that it shares the cache key.
        typed = {name: float(value) if isinstance(getattr(base, name), float) and isinstance(value, int)
                 and not isinstance(value, bool) else value for name, value in overrides.items()}
        hp = dataclasses.replace(base, **typed)
        try:
            hp.validate()
        except ValueError as err:
            raise ValueError(f"setting {label!r}: {err}") from None
        out[label] = hp
    return out


def _check_seeds(seeds: Any) -> list[int]:
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f"seeds must be a positive number of seeds (e.g. 3 for seeds 0, 1, 2) or a list of "
                             f"seeds, got {seeds!r}.")
        return list(range(int(seeds)))
    if isinstance(seeds, Sequence) and not isinstance(seeds, str) and seeds:
        out = []
        for s in seeds:
            if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
                raise ValueError(f"every seed must be a non-negative integer, got {s!r} in {list(seeds)!r}.")
            out.append(int(s))
        if len(set(out)) != len(out):
            raise ValueError(f"seeds must be distinct (a repeated seed repeats the same run), got {out!r}.")
        return out
    raise TypeError(f"seeds must be a number of seeds (e.g. 3) or a non-empty list of seeds (e.g. [0, 1, 2]), "
                    f"got {type(seeds).__name__}: {seeds!r:.80}.")


def _resolve_agent(agent: Any) -> tuple[type, str | None]:
    """The agent class, and the ``"module:Class"`` name a fresh process can import it by (or ``None``)."""
    if isinstance(agent, str):
        return load_class(agent), agent
    if not isinstance(agent, type):
        raise TypeError(
            f"agent must be the agent class itself (in the notebook: agent=DDPGAgent, without parentheses) or "
            f"'module:Class', got {type(agent).__name__}: {agent!r:.80}."
        )
    module = sys.modules.get(agent.__module__)
    importable = (agent.__module__ != "__main__" and "<locals>" not in agent.__qualname__
                  and module is not None and getattr(module, agent.__qualname__, None) is agent)
    return agent, f"{agent.__module__}:{agent.__qualname__}" if importable else None
