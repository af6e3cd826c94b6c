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

**Where each part lives.** :mod:`~workshop_lib.experiments.sweep` (:func:`compare` and the checks of its
arguments), :mod:`~workshop_lib.experiments.runs` (the worker processes), :mod:`~workshop_lib.experiments.cache`
(run keys and the JSON files), :mod:`~workshop_lib.experiments.stats` (the bootstrap interval),
:mod:`~workshop_lib.experiments.result` (:class:`Comparison`), :mod:`~workshop_lib.experiments.plots` (the figure)
and :mod:`~workshop_lib.experiments.progress` (the bar or the lines). This package's top level holds the names to
use.
"""

from workshop_lib.experiments.cache import DEFAULT_CACHE, run_key
from workshop_lib.experiments.result import Comparison
from workshop_lib.experiments.stats import BAND_METHOD, confidence_interval
from workshop_lib.experiments.sweep import compare, setting_label

__all__ = ["compare", "Comparison", "run_key", "confidence_interval", "setting_label", "BAND_METHOD",
           "DEFAULT_CACHE"]
