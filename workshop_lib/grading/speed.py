"""Start-up work the grading runs skip because it decides nothing: two imports that cost more than the rest.

Measured on the grading machine (CPU-seconds per process, ``benchmarks/GRADING.md``):

* **torch._dynamo** (about 1.5 s): PyTorch imports its compiler the first time an optimizer is built, only to
  wrap a few of ``torch.optim``'s functions in ``torch._dynamo.disable``, a wrapper that does nothing unless a
  compilation is under way. Every agent builds two Adam optimizers, so every process that builds one pays it:
  the verdict run and the student's kernel. In the verdict run, :func:`defer_dynamo_import` gives those
  functions a wrapper that calls them directly while ``torch._dynamo`` is not imported, and switches to
  PyTorch's own wrapper the moment it is (a submission that uses ``torch.compile`` gets exactly PyTorch's
  behaviour). The student's kernel (the notebook run) still pays the import: it runs the student's own cells,
  and is left as PyTorch makes it.
* **rfc3987_syntax** (about 1.5 s): ``jsonschema``, which ``nbformat`` imports, builds a grammar for IRI
  formats when that package is installed; ``nbformat`` validates notebooks with no such format.
  :func:`skip_iri_grammar` makes that optional import fail, so ``jsonschema`` goes without it (the notebook
  runner).

Neither touches what a submission computes or shows: both change which library code is imported, not the
values of any call.
"""

from __future__ import annotations

import functools
import gc
import sys
from collections.abc import Callable
from typing import Any


def skip_iri_grammar() -> None:
    """Make ``import rfc3987_syntax`` fail in this process, before ``nbformat`` (and so ``jsonschema``) is
    imported: ``jsonschema`` then has no checker for the ``iri`` formats, which no notebook schema uses."""
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def _deferred(fn: Callable[..., Any], recursive: bool) -> Callable[..., Any]:
    """``fn`` itself while ``torch._dynamo`` is not imported (nothing can be compiling); PyTorch's own
    ``torch._dynamo.disable(fn)`` from the first call after it is."""

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        if "torch._dynamo" not in sys.modules:
            return fn(*args, **kwargs)
        import torch._dynamo

        real = torch._dynamo.disable(fn, recursive, wrapping=False)
        fn.__dynamo_disable = real  # type: ignore[attr-defined]  # what torch's wrapper caches there
        return real(*args, **kwargs)

    return call


def defer_dynamo_import() -> int:
    """Let ``torch.optim`` run without importing ``torch._dynamo`` (see the module's docstring); return how many
    of its functions now go without it. Does nothing (returns 0) when PyTorch is missing, when
    ``torch._dynamo`` is already imported, or when PyTorch's private wrapper is not the one this knows."""
    try:
        import torch._compile as compile_api
    except Exception:  # noqa: BLE001 - no PyTorch (or a broken one): the run says so itself, later
        return 0
    if "torch._dynamo" in sys.modules:
        return 0
    try:
        code = compile_api._disable_dynamo(lambda: None).__code__  # every wrapper of torch shares this code
    except Exception:  # noqa: BLE001 - another PyTorch: leave it as it is
        return 0
    if code.co_freevars != ("fn", "recursive"):
        return 0
    done = 0
    for obj in gc.get_objects():
        if type(obj).__name__ != "function" or getattr(obj, "__code__", None) is not code:
            continue
        cells = dict(zip(code.co_freevars, obj.__closure__ or ()))
        fn, recursive = cells["fn"].cell_contents, cells["recursive"].cell_contents
        if not str(getattr(fn, "__module__", "")).startswith("torch.optim"):
            continue  # only the optimizers: what an agent builds and steps
        if getattr(fn, "__dynamo_disable", None) is None:
            fn.__dynamo_disable = _deferred(fn, recursive)
            done += 1
    return done
