"""The notebook run's kernel: ipykernel, started as ``python -m ipykernel_launcher`` starts it, minus imports that
decide nothing (:mod:`workshop_lib.grading.speed`).

    python -m workshop_lib.grading.kernel -f CONNECTION_FILE [ipykernel options]

The notebook runner starts it in the sandbox instead of ``ipykernel_launcher``. Before ipykernel is imported:
no debugger (:func:`~workshop_lib.grading.speed.skip_debugger`), and once the notebook imports ``torch``, its
optimizers build and step without importing ``torch._dynamo``
(:func:`~workshop_lib.grading.speed.defer_dynamo_import_when_torch_loads`). The notebook's code, its values and
its outputs are the same.
"""

from __future__ import annotations

from workshop_lib.grading import speed


def main() -> None:
    speed.skip_debugger()
    speed.defer_dynamo_import_when_torch_loads()
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
