"""The grading host: everything that runs outside the sandbox, as the instructor (``make grade``, the feedback, the
export, the hub's collect and grading on submit). The sandbox side is ``workshop_lib.grading``.

Every host process skips ``jsonschema``'s IRI grammar (:func:`workshop_lib.grading.speed.skip_iri_grammar`:
about 1.5 CPU-s per process, and no notebook schema uses it) before anything imports ``nbformat``.
"""

from workshop_lib.grading import speed as _speed

_speed.skip_iri_grammar()
