"""Process ancestry, read from /proc: which processes a test's own process started (through any bwrap)."""

from __future__ import annotations

from pathlib import Path


def descends_from(pid: int, ancestor: int) -> bool:
    """True when ``ancestor`` is among ``pid``'s ancestors (False when either is gone meanwhile)."""
    try:
        while pid > 1:
            status = Path(f"/proc/{pid}/status").read_text()
            pid = int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))
            if pid == ancestor:
                return True
    except (OSError, StopIteration, ValueError):
        pass
    return False
