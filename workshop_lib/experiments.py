"""Compare hyperparameter settings over several seeds: parallel runs, a cache on disk, mean curves with a band.

One training run says little about a setting: two seeds of the same setting can differ more than two settings.
To see whether, say, a smaller learning rate makes training more stable, train each setting with several seeds
and compare the *mean* return per episode, with a confidence band that shows how much the seeds disagree.

    >>> from workshop_lib.experiments import compare
    >>> result = compare([{"LR": 1e-3}, {"LR": 1e-4}], seeds=8, agent=DDPGAgent)
    >>> print(result.summary())

What :func:`compare` does:

* **Runs.** Each setting is a dict of :class:`~workshop_lib.hyperparams.Hyperparameters` overrides (``{"LR": 1e-4}``)
  applied to ``base`` (default: the notebook's defaults). Every (setting, seed) pair is one run of the
  training loop of :func:`workshop_lib.loop.train_agent`, seeded exactly as ``python -m workshop_lib.train
  --seed S`` seeds it, so a run here and the same run from the command line give the same returns.
* **In parallel.** The runs are spread over worker processes (default: one per CPU core), each with one torch
  thread: small networks run fastest on one thread, and the processes then never compete for a core.
* **Cached.** Each finished run is written to ``cache_dir`` as one JSON file, named by a key that hashes
  everything the run depends on: the full hyperparameters, the seed, the environment, the agent class's code
  and the versions of workshop_lib and torch. Calling :func:`compare` again returns at once; an interrupted
  sweep (Ctrl-C, *Kernel -> Interrupt*) resumes with the runs it had not finished; and changing a setting, or
  the agent's code, trains anew instead of serving a stale result.
* **Plotted.** One figure: per setting, every seed's return per episode (thin lines, unsmoothed: the variation
  from one episode to the next is what stability is about), their mean (thick) and a band, the ``confidence``
  interval of that mean from a percentile bootstrap over seeds (:func:`scipy.stats.bootstrap`; unlike Student's
  t over 3 seeds it never reaches a return the environment cannot give). The title and the file name say which
  settings, episodes and seeds made the figure.

**Which agent class is trained, and on which systems runs go in parallel.** In the notebook, ``DDPGAgent``
is built cell by cell with jdc in the notebook's ``__main__``: a fresh Python process cannot import it by name.
On Linux, worker processes are therefore started with ``fork``: each is a copy of the notebook's process and
already holds your class. On macOS and Windows, where ``fork`` is unavailable or unsafe, a class that can be
imported by name (``agent="solutions.ddpg_agent:DDPGAgent"``, or a class from a module) runs in parallel with
``spawn``; a class defined in the notebook runs serially, one run after the other (same results, only slower).
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import hashlib
import json
import multiprocessing
import os
import re
import sys
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

import workshop_lib
from workshop_lib.hyperparams import Hyperparameters
from workshop_lib.loading import load_class
from workshop_lib.loop import seeded_setup, train_agent
from workshop_lib.utils import STORE_PATH, moving_average, restored_global_rngs

__all__ = ["compare", "Comparison", "run_key", "confidence_interval", "setting_label", "BAND_METHOD",
           "DEFAULT_CACHE"]

DEFAULT_CACHE = os.path.join(STORE_PATH, "compare_cache")
"""Where finished runs are stored, relative to the working directory (the notebook's folder)."""

_CACHE_FORMAT = 1  # bump when the content of a cached run changes meaning
# the library code every run depends on
_LIBRARY_FILES = ("env_wrapper.py", "hyperparams.py", "loop.py", "nets.py", "rb.py", "utils.py")


# --------------------------------------------------------------------------------------------- the result
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


# ---------------------------------------------------------------------------------------- the statistics
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


# ---------------------------------------------------------------------------------------------- the key
def _code_fingerprint(code: Any, digest: Any) -> None:
    """Feed a code object's bytecode, names and constants into ``digest`` (not its file name or lines, which
    change with every notebook cell execution)."""
    digest.update(code.co_code)
    digest.update(repr((code.co_names, code.co_varnames, code.co_freevars)).encode())
    for const in code.co_consts:
        if hasattr(const, "co_code"):
            _code_fingerprint(const, digest)
        else:
            digest.update(repr(const).encode())


def _class_fingerprint(cls: type) -> str:
    """A hash of the code of every method of ``cls`` and of its base classes: it changes when you edit (and
    re-run) a method, for instance an exercise's cell in the notebook.

    Only the methods' own code counts: a global variable or a closure that a method reads is not part of the
    key (pass such a value as a hyperparameter, or clear the cache after changing it).
    """
    digest = hashlib.sha256()
    for klass in cls.__mro__:
        if klass is object:
            continue
        digest.update(f"{klass.__module__}.{klass.__qualname__}".encode())
        for name in sorted(vars(klass)):
            if name in ("__dict__", "__weakref__", "__module__", "__doc__"):
                continue
            value = vars(klass)[name]
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if isinstance(value, property):
                value = value.fget
            code = getattr(value, "__code__", None)
            digest.update(name.encode())
            if code is not None:
                _code_fingerprint(code, digest)
            elif isinstance(value, (int, float, str, bool, tuple, type(None))):
                digest.update(repr(value).encode())
    return digest.hexdigest()


def _library_fingerprint() -> str:
    """The workshop_lib version and a hash of the library files every run depends on."""
    digest = hashlib.sha256(workshop_lib.__version__.encode())
    folder = Path(workshop_lib.__file__).resolve().parent
    for name in _LIBRARY_FILES:
        path = folder / name
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()


def run_key(hp: Hyperparameters, seed: int, agent: type, env_id: str = "Pendulum-v1") -> str:
    """The cache key of one run: a hash of everything its result depends on.

    Args:
        hp: the full hyperparameters of the run.
        seed: its seed.
        agent: the agent class (its methods' code is hashed, so editing a method changes the key).
        env_id: the Gymnasium id.

    Returns:
        A hexadecimal string; the run is cached as ``<cache_dir>/<key>.json``.
    """
    description = {
        "format": _CACHE_FORMAT, "hyperparameters": dataclasses.asdict(hp), "seed": int(seed), "env": env_id,
        "agent": f"{agent.__module__}.{agent.__qualname__}", "agent_code": _class_fingerprint(agent),
        "workshop_lib": _library_fingerprint(), "torch": torch.__version__,
        "python": list(sys.version_info[:2]),
    }
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:32]


# ------------------------------------------------------------------------------------------- one run
@dataclass
class _Job:
    """One (setting, seed) run, as sent to a worker process."""

    label: str
    seed: int
    hyperparameters: dict[str, Any]
    env_id: str
    cache_file: str
    agent_spec: str | None  # "module:Class", or None: the class the forked worker inherited
    episodes: int = field(init=False)

    def __post_init__(self) -> None:
        self.episodes = int(self.hyperparameters["EPISODES"])


_INHERITED_AGENT: type | None = None  # set before forking: the class a worker uses when agent_spec is None


def _train_job(job: _Job, agent_cls: type | None = None, report: Any = None) -> dict[str, Any]:
    """Train one run, write it to the cache (atomically) and return its record.

    Args:
        job: the run.
        agent_cls: the agent class; ``None`` in a worker, which imports it by name or, when forked, uses the
            class it inherited.
        report: called after each episode (progress).

    Errors are returned, not raised (``{"error": traceback}``), so that the caller can say which run failed.
    """
    try:
        if agent_cls is None:
            agent_cls = _INHERITED_AGENT if job.agent_spec is None else load_class(job.agent_spec)
        hp = Hyperparameters(**job.hyperparameters)
        env, agent = seeded_setup(hp, job.seed, job.env_id, agent_spec=agent_cls)

        def after_episode(episode: int, _agent: Any) -> bool:
            if report is not None:
                report()
            return False  # never stop early

        try:
            result = train_agent(agent, env, hp, progress=False, log=None, after_episode=after_episode,
                                 seed=job.seed)  # the correlated noise too is seeded: a run repeats exactly
        finally:
            env.close()
        record = {
            "label": job.label, "seed": job.seed, "env": job.env_id, "hyperparameters": job.hyperparameters,
            "returns": [float(r) for r in result["returns"]], "updates": result["updates"],
            "wall_time_s": result["wall_time_s"], "cpu_time_s": result["cpu_time_s"], "format": _CACHE_FORMAT,
        }
        _write_atomically(Path(job.cache_file), record)
        return record
    except Exception:  # noqa: BLE001 - reported to the caller with the run it belongs to
        return {"label": job.label, "seed": job.seed, "error": traceback.format_exc()}


def _worker_main(job: _Job, episodes_done: Any, slot: int) -> None:
    """Body of a worker process: one run. Its record reaches the parent through the cache file; an error,
    through ``<cache file>.error``; progress, through its slot of the shared counter array.

    The worker writes nothing to stdout or stderr: a forked copy of a notebook kernel (or of any process with
    threads) may inherit their locks held by another thread, and its output would break the progress bar.
    """
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    torch.set_num_threads(1)

    def report() -> None:
        episodes_done[slot] += 1  # this worker is the only writer of its slot

    record = _train_job(job, report=report)
    if "error" in record:
        Path(job.cache_file + ".error").write_text(record["error"])


def _write_atomically(path: Path, record: dict[str, Any]) -> None:
    """Write JSON to a temporary file, then rename: an interrupted write never leaves a half file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, path)


def _read_cached(path: Path, job: _Job) -> dict[str, Any] | None:
    """The cached record of ``job``, or ``None`` if there is none (or it is unreadable or incomplete)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if record.get("format") != _CACHE_FORMAT or len(record.get("returns", ())) != job.episodes:
        return None
    return record


@contextlib.contextmanager
def _serial_run_state() -> Iterator[None]:
    """For runs in this process: one torch thread, and the global random generators restored afterwards (each
    run reseeds them; your notebook's own random draws continue as if :func:`compare` had not run)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with restored_global_rngs():
            yield
    finally:
        torch.set_num_threads(threads)


# ------------------------------------------------------------------------------------------ validation
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


def _default_processes() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    ip = shell.get_ipython() if shell is not None and hasattr(shell, "get_ipython") else None
    return getattr(ip, "kernel", None) is not None


# -------------------------------------------------------------------------------------------- compare
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
            job = _Job(label, seed, dataclasses.asdict(hp), env_id,
                       str(cache / f"{run_key(hp, seed, agent_cls, env_id)}.json"), agent_spec)
            cached = _read_cached(Path(job.cache_file), job)
            if cached is None:
                jobs.append(job)
            else:
                records[(label, seed)] = cached
    from_cache = len(records)

    # 2. Train the rest, in parallel where the system allows it.
    if jobs:
        workers = min(processes or _default_processes(), len(jobs))
        method = _start_method(agent_spec, workers)
        say = _Reporter(jobs, from_cache, progress, workers, method)
        try:
            # closing(): on an error or an interrupt the workers still running are stopped at once.
            with contextlib.closing(_run_jobs(jobs, workers, method, agent_cls, say)) as finished_runs:
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
    result.figure = _plot(result, env_id, title)
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


def _start_method(agent_spec: str | None, workers: int) -> str:
    """``"fork"`` on Linux; ``"spawn"`` elsewhere if the class can be imported by name; else ``"serial"``."""
    if workers <= 1:
        return "serial"
    if sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods():
        return "fork"
    if agent_spec is not None:
        return "spawn"
    return "serial"


def _run_jobs(jobs: list[_Job], workers: int, method: str, agent_cls: type, say: _Reporter) -> Iterator[dict]:
    """Yield each job's record as soon as it is done (in the order they finish).

    In parallel, each run is one worker process (at most ``workers`` at a time); no pool, no queue: a worker
    leaves its record in the cache, so stopping the workers (an error, an interrupt) can never leave a lock
    held that the others wait for.
    """
    if method == "serial":
        with _serial_run_state():
            for job in jobs:
                yield _train_job(job, agent_cls, report=lambda job=job: say.episode(job.label, job.seed))
        return
    global _INHERITED_AGENT
    ctx = multiprocessing.get_context(method)
    episodes_done = ctx.RawArray("i", len(jobs))  # per job, the episodes finished (shared memory, no lock)
    reported = [0] * len(jobs)
    waiting = list(enumerate(jobs))
    running: dict[int, Any] = {}
    _INHERITED_AGENT = agent_cls  # forked workers are copies of this process: they hold the class
    try:
        while waiting or running:
            while waiting and len(running) < workers:
                slot, job = waiting.pop(0)
                Path(job.cache_file + ".error").unlink(missing_ok=True)
                process = ctx.Process(target=_worker_main, args=(job, episodes_done, slot), daemon=True,
                                      name=f"compare {job.label} seed {job.seed}")
                process.start()
                running[slot] = process
            time.sleep(0.1)
            for slot in range(len(jobs)):  # progress
                for _ in range(episodes_done[slot] - reported[slot]):
                    say.episode(jobs[slot].label, jobs[slot].seed)
                reported[slot] = episodes_done[slot]
            for slot, process in list(running.items()):
                if process.exitcode is None:
                    continue
                process.join()
                del running[slot]
                yield _collect(jobs[slot], process.exitcode)
    finally:
        for process in running.values():  # on an error or an interrupt: stop the runs still going
            process.kill()
        for process in running.values():
            process.join()
        _INHERITED_AGENT = None


def _collect(job: _Job, exitcode: int) -> dict[str, Any]:
    """The record a finished worker left: the cache file, or the error it wrote, or its exit code."""
    error_file = Path(job.cache_file + ".error")
    if error_file.exists():
        error = error_file.read_text()
        error_file.unlink()
        return {"label": job.label, "seed": job.seed, "error": error}
    record = _read_cached(Path(job.cache_file), job)
    if record is None:
        return {"label": job.label, "seed": job.seed,
                "error": f"the worker process ended with exit code {exitcode} and left no result"}
    return record


class _Reporter:
    """Progress of a sweep: a tqdm bar over episodes (notebook or terminal), else one line per finished run."""

    def __init__(self, jobs: list[_Job], from_cache: int, enabled: bool, workers: int, method: str) -> None:
        self.enabled, self.total_runs, self.done = enabled, len(jobs), 0
        self.bar = None
        if not enabled:
            return
        how = (f"{workers} processes ({method})" if method != "serial" else "in this process, one after the other")
        if method == "serial" and workers > 1:
            how += " (a class defined in the notebook cannot be sent to worker processes on this system)"
        print(f"compare: {self.total_runs} runs to train, {from_cache} from the cache; {how}", flush=True)
        if sys.stderr.isatty() or _in_notebook():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=sum(j.episodes for j in jobs), desc="compare", unit="ep", dynamic_ncols=True)
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


def _plot(result: Comparison, env_id: str, title: str | None) -> Any:
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
