"""The cache of finished runs: one JSON file per run, named by a key that hashes everything the run depends on.

The key (:func:`run_key`) covers the full hyperparameters, the seed, the environment, the agent class's code and
the versions of workshop_lib (its files a run depends on) and torch: changing any of them trains anew instead of
serving a stale result. A run is written atomically (:func:`write_atomically`), so an interrupted sweep never
leaves half a file that :func:`read_cached` would trust.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import torch

import workshop_lib
from workshop_lib.hyperparams import Hyperparameters
from workshop_lib.utils import STORE_PATH

__all__ = ["DEFAULT_CACHE", "CACHE_FORMAT", "run_key", "write_atomically", "read_cached"]

DEFAULT_CACHE = os.path.join(STORE_PATH, "compare_cache")
"""Where finished runs are stored, relative to the working directory (the notebook's folder)."""

CACHE_FORMAT = 1  # bump when the content of a cached run changes meaning
# the library code every run depends on: the training loop and every module of workshop_lib it imports (a test
# checks the list against loop.py's imports), and the networks and replay memory the agents are built from
_LIBRARY_FILES = ("env_wrapper.py", "hyperparams.py", "loop.py", "nets.py", "noise.py", "rb.py", "utils.py")


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
        "format": CACHE_FORMAT, "hyperparameters": dataclasses.asdict(hp), "seed": int(seed), "env": env_id,
        "agent": f"{agent.__module__}.{agent.__qualname__}", "agent_code": _class_fingerprint(agent),
        "workshop_lib": _library_fingerprint(), "torch": torch.__version__,
        "python": list(sys.version_info[:2]),
    }
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:32]


def write_atomically(path: Path, record: dict[str, Any]) -> None:
    """Write JSON to a temporary file, then rename: an interrupted write never leaves a half file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, path)


def read_cached(path: Path, episodes: int) -> dict[str, Any] | None:
    """The cached record of a run of ``episodes`` episodes at ``path``, or ``None`` if there is none (or it is
    unreadable or incomplete)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if record.get("format") != CACHE_FORMAT or len(record.get("returns", ())) != episodes:
        return None
    return record
