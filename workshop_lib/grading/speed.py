"""Start-up work the grading runs skip because it decides nothing: imports that cost more than the rest.

Measured on the grading machine (CPU-seconds per process, ``benchmarks/GRADING.md``):

* **torch._dynamo** (about 1.5 s): PyTorch imports its compiler the first time an optimizer is built, only to
  wrap a few of ``torch.optim``'s functions in ``torch._dynamo.disable``, a wrapper that does nothing unless a
  compilation is under way. Every agent builds two Adam optimizers, so every process that builds one pays it:
  the verdict run and the student's kernel. In the verdict run, :func:`defer_dynamo_import` gives those
  functions a wrapper that calls them directly while ``torch._dynamo`` is not imported, and switches to
  PyTorch's own wrapper the moment it is (a submission that uses ``torch.compile`` gets exactly PyTorch's
  behaviour). The student's kernel (the notebook run) goes without it too, see below.
* **rfc3987_syntax** (about 1.5 s): ``jsonschema``, which ``nbformat`` imports, builds a grammar for IRI
  formats when that package is installed; ``nbformat`` validates notebooks with no such format.
  :func:`skip_iri_grammar` makes that optional import fail, so ``jsonschema`` goes without it (the notebook
  runner, nbgrader's launcher, and every grading-host process through ``autograder/__init__.py``).
* **torch._dynamo in the student's kernel** (about 2 CPU-s): there every optimizer *steps*, and PyTorch's
  ``Optimizer.step`` wrapper imports ``torch._dynamo`` at each call only to call ``torch._dynamo.graph_break()``,
  which does nothing outside a compilation. :func:`defer_dynamo_import_when_torch_loads` (the notebook run's
  kernel, :mod:`workshop_lib.grading.kernel`) waits until the notebook itself imports ``torch``, then applies
  :func:`defer_dynamo_import` and gives that step wrapper a body that calls ``graph_break`` only once
  ``torch._dynamo`` is imported (:func:`defer_dynamo_in_step`). A notebook that compiles imports it, and from
  then on gets PyTorch's own behaviour.
* **debugpy** (about 0.1-0.2 CPU-s per kernel start): ipykernel imports its debugger when ``debugpy`` is
  installed; no grading run debugs. :func:`skip_debugger` makes that optional import fail (the kernel).

None of these touches what a submission computes or shows: they change which library code is imported, not
the values of any call.
"""

from __future__ import annotations

import functools
import gc
import importlib.abc
import sys
import types
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


def _functions() -> list[Any]:
    """Every Python function object alive in this process."""
    return [obj for obj in gc.get_objects() if type(obj) is types.FunctionType]


def defer_dynamo_import(functions: list[Any] | None = None) -> int:
    """Let ``torch.optim`` run without importing ``torch._dynamo`` (see the module's docstring); return how many
    of its functions now go without it. Does nothing (returns 0) when PyTorch is missing, when
    ``torch._dynamo`` is already imported, or when PyTorch's private wrapper is not the one this knows.
    ``functions``: where to look (default: every function alive, :func:`_functions`)."""
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
    for obj in _functions() if functions is None else functions:
        if obj.__code__ is not code:
            continue
        cells = dict(zip(code.co_freevars, obj.__closure__ or ()))
        fn, recursive = cells["fn"].cell_contents, cells["recursive"].cell_contents
        if not str(getattr(fn, "__module__", "")).startswith("torch.optim"):
            continue  # only the optimizers: what an agent builds and steps
        if getattr(fn, "__dynamo_disable", None) is None:
            fn.__dynamo_disable = _deferred(fn, recursive)
            done += 1
    return done


def skip_debugger() -> None:
    """Make ``import debugpy`` fail in this process, before ``ipykernel`` is imported: the kernel then starts
    without its debugger (``ipykernel.debugger`` treats debugpy as optional)."""
    sys.modules.setdefault("debugpy", None)  # type: ignore[arg-type]


USE_GRAD_NAMES = ("torch._dynamo", "cast", "Optimizer", "is_grad_enabled", "set_grad_enabled", "defaults", "_dynamo",
                  "graph_break")
"""The names PyTorch's ``Optimizer.step`` wrapper (``torch.optim.optimizer._use_grad_for_differentiable``) uses,
as this module knows it: another wrapper is left as it is."""


def _use_grad_template(func: Callable[..., Any]) -> Callable[..., Any]:
    """The body :func:`defer_dynamo_in_step` gives PyTorch's step wrapper: PyTorch's own (grad mode set from
    ``defaults["differentiable"]`` around the step, then restored), calling ``torch._dynamo.graph_break()`` as
    PyTorch does only while ``torch._dynamo`` is imported (outside a compilation it does nothing). It uses no
    global name: its code runs with the globals of ``torch.optim.optimizer``."""

    def _use_grad(*args: Any, **kwargs: Any) -> Any:
        modules = __import__("sys").modules
        torch = modules["torch"]
        dynamo = modules.get("torch._dynamo")
        self = args[0]
        prev_grad = torch.is_grad_enabled()
        try:
            torch.set_grad_enabled(self.defaults["differentiable"])
            if dynamo is not None:
                dynamo.graph_break()
            ret = func(*args, **kwargs)
        finally:
            if dynamo is not None:
                dynamo.graph_break()
            torch.set_grad_enabled(prev_grad)
        return ret

    return _use_grad


def defer_dynamo_in_step(functions: list[Any] | None = None) -> int:
    """Give every optimizer's ``step`` wrapper the body of :func:`_use_grad_template` (see the module's
    docstring); return how many wrappers changed. Does nothing (returns 0) when ``torch.optim`` is not imported
    or its wrapper is not the one this knows. ``functions``: as for :func:`defer_dynamo_import`."""
    optimizer = sys.modules.get("torch.optim.optimizer")
    if optimizer is None:
        return 0
    try:
        code = optimizer._use_grad_for_differentiable(lambda *a, **k: None).__code__
    except Exception:  # noqa: BLE001 - another PyTorch: leave it as it is
        return 0
    if code.co_freevars != ("func",) or code.co_names != USE_GRAD_NAMES:
        return 0
    new = _use_grad_template(lambda: None).__code__
    done = 0
    for obj in _functions() if functions is None else functions:
        if obj.__code__ is code:
            obj.__code__ = new
            done += 1
    return done


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs ``then()`` once, right after the module ``name`` has been imported (whoever imports it), then leaves
    ``sys.meta_path``. A lookup that imports nothing (``importlib.util.find_spec(name)``, as the notebook's
    environment check does) changes nothing: only the module's execution runs ``then()``."""

    def __init__(self, name: str, then: Callable[[], object]) -> None:
        self.name, self.then = name, then

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        for finder in [f for f in sys.meta_path if f is not self]:  # the other finders, as the import would
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find is not None else None
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        def exec_then(module: Any) -> None:
            exec_module(module)
            if self in sys.meta_path:
                sys.meta_path.remove(self)
                try:
                    self.then()
                except Exception:  # noqa: BLE001 - a speed-up never breaks the import it follows
                    pass

        spec.loader.exec_module = exec_then  # type: ignore[method-assign]  # this lookup's own loader
        return spec


def defer_dynamo_import_when_torch_loads() -> None:
    """Apply :func:`defer_dynamo_import` and :func:`defer_dynamo_in_step` right after ``torch`` is first
    imported in this process (at once if it already is). Imports nothing itself."""

    def both() -> None:
        functions = _functions()  # one walk over the process's objects for both
        defer_dynamo_import(functions)
        defer_dynamo_in_step(functions)

    if "torch" in sys.modules:
        both()
    else:
        sys.meta_path.insert(0, _AfterImport("torch", both))
