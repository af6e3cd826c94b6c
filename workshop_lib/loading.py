"""Load a class named as ``"module:Class"`` (the form of ``--agent`` and of ``compare(agent="...")``).

The module is imported as Python imports any module: from ``sys.path``. Nothing is added to it, so a class is
found where ``python`` finds its module: an installed package, the current folder when Python was started with
``python -m`` (or ``python -c``), or a folder on ``PYTHONPATH``.
"""

from __future__ import annotations

import importlib

__all__ = ["load_class"]


def load_class(spec: str) -> type:
    """Import the class that ``spec`` names, e.g. ``"my_agent:DDPGAgent"``: a module path, a colon, a class name.

    Args:
        spec: ``"package.module:Class"``.

    Returns:
        The class itself (not an instance).

    Raises:
        TypeError: ``spec`` is not a string.
        ValueError: ``spec`` does not look like ``"module:Class"``, or the name is not a class.
        ModuleNotFoundError: the module cannot be imported from ``sys.path``.
        AttributeError: the module has no such name.
    """
    example = "'my_agent:DDPGAgent' (the class DDPGAgent of my_agent.py)"
    if not isinstance(spec, str):
        raise TypeError(f"expected a class name as a string 'module:Class', e.g. {example}; got "
                        f"{type(spec).__name__}: {spec!r:.80}.")
    module_name, colon, class_name = spec.partition(":")
    if not colon or not module_name or not class_name:
        raise ValueError(f"expected 'module:Class', e.g. {example}; got {spec!r}. Fix: name the module, then a "
                         "colon, then the class.")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name is not None and module_name != err.name and not module_name.startswith(err.name + "."):
            raise  # the module was found, but something it imports is missing: that error says what
        raise ModuleNotFoundError(
            f"expected an importable module {module_name!r} for {spec!r}; got no module of that name on sys.path. "
            "Fix: start Python in the folder that holds it (`python -m ...` puts the current folder on sys.path), "
            "or add its folder to PYTHONPATH.", name=err.name) from err
    try:
        value = getattr(module, class_name)
    except AttributeError:
        raise AttributeError(
            f"expected a class {class_name!r} in module {module_name!r} (from {spec!r}); got no such name there "
            f"({getattr(module, '__file__', module_name)}). Fix: check the spelling after the colon.") from None
    if not isinstance(value, type):
        raise ValueError(f"expected {spec!r} to name a class; got {type(value).__name__} {value!r:.80}. Fix: name the "
                         "class itself (e.g. DDPGAgent), not an instance or a function.")
    return value
