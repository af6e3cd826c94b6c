"""The limits of one submission's grading sandboxes, in one typed structure shared by the host and the sandbox.

The defaults are here, once. The course overrides any of them in its ``nbgrader_config.py``
(``c.SandboxedGrading.wall_seconds = 120.0``, ...: the trusted preprocessor's options, whose defaults come from
:class:`SandboxLimits`). The grading host then hands the limits to every job as one JSON object
(:meth:`SandboxLimits.to_json`), and each run inside the sandbox reads them back from the file ``limits.json``
beside its inputs (:meth:`SandboxLimits.read`), checked field by field, never as loose environment strings.

Which side enforces what:

* the host: ``wall_seconds``, ``memory_bytes``, ``max_processes``, ``file_bytes`` and ``tmp_bytes`` are the
  sandbox's own caps (bubblewrap, rlimits, a memory cgroup), out of the submission's reach; the output caps are
  applied again when the outputs come back;
* the sandbox: ``cell_timeout`` (one cell of the notebook run, one probe or cell of the verdict run) and the two
  output caps, so that a run cut short by one slow cell or one flood still reports everything else.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

LIMITS_FILE = "limits.json"
"""The file beside a run's inputs (in its scratch folder, read-only inside the sandbox) that holds its limits."""


class LimitsError(ValueError):
    """Limits that are not a :class:`SandboxLimits` (an unknown name, a wrong type, a value not above 0)."""


@dataclass(frozen=True)
class SandboxLimits:
    """The limits of one submission's two sandboxed runs (the notebook run and the verdict run)."""

    wall_seconds: float = 120.0
    """Wall-clock limit of the whole notebook run, and of the verdict run (seconds). Past it, everything the run
    started is killed and it is graded as far as it got."""
    cell_timeout: int = 30
    """Time limit of one cell of the notebook run (it is interrupted and the next one runs), and of one cell or
    one probe of the verdict run (seconds)."""
    memory_bytes: int = 2 * 1024**3
    """Memory of all a sandbox's processes together (a memory cgroup, where the grader may make one), and each
    process's address space (bytes). An allocation past it fails with MemoryError."""
    max_processes: int = 64
    """Processes (and threads) a sandbox may run at once."""
    file_bytes: int = 256 * 1024**2
    """Largest file a sandbox may write (bytes)."""
    tmp_bytes: int = 256 * 1024**2
    """Size of a sandbox's private /tmp, and of its home folder (a tmpfs each; bytes)."""
    cell_output_bytes: int = 1_000_000
    """Output kept per cell (bytes); the rest is dropped and the cell ends with a note saying so."""
    notebook_output_bytes: int = 5_000_000
    """Output kept for the whole notebook (bytes); a run that streams more than twice this is killed
    (``output over ...``)."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            kinds = (int, float) if f.type in ("float", float) else (int,)
            if isinstance(value, bool) or not isinstance(value, kinds):
                wanted = "a number" if float in kinds else "an integer"
                raise LimitsError(f"sandbox limit {f.name}: expected {wanted}, got {value!r} "
                                  f"({type(value).__name__}); fix c.SandboxedGrading.{f.name} in nbgrader_config.py")
            if not value > 0:
                raise LimitsError(f"sandbox limit {f.name}: expected a value above 0, got {value!r}; fix "
                                  f"c.SandboxedGrading.{f.name} in nbgrader_config.py")

    # -------------------------------------------------------------------------------------------- as JSON
    def to_dict(self) -> dict[str, float | int]:
        """The limits as a plain dict (what a job's spec carries)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> SandboxLimits:
        """The limits from :meth:`to_dict`'s dict; a name left out takes its default.

        Raises:
            LimitsError: ``data`` is not a dict, names a limit that does not exist, or holds a value of the wrong
                type or not above 0.
        """
        if not isinstance(data, dict):
            raise LimitsError(f"sandbox limits: expected a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise LimitsError(f"sandbox limits: unknown names {unknown}; expected some of {sorted(known)}")
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def write(self, folder: Path) -> Path:
        """Write the limits to ``folder/limits.json`` (a run's scratch folder); return the file."""
        path = Path(folder) / LIMITS_FILE
        path.write_text(self.to_json())
        return path

    @classmethod
    def read(cls, path: str | Path | None) -> SandboxLimits:
        """The limits in the file ``path`` (written by :meth:`write`); the defaults when ``path`` is None (a run
        started by hand).

        Raises:
            LimitsError: the file is not JSON, or not a :class:`SandboxLimits` (see :meth:`from_dict`).
        """
        if path is None:
            return cls()
        try:
            data = json.loads(Path(path).read_text())
        except ValueError as err:
            raise LimitsError(f"{path}: expected the JSON of SandboxLimits, got text that is not JSON ({err})") \
                from None
        return cls.from_dict(data)


DEFAULT_LIMITS = SandboxLimits()
"""The limits a course gets when its ``nbgrader_config.py`` sets none."""
