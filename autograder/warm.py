"""Warm verdict runs: sandboxes that import PyTorch once and fork one child per verdict run (grading host side).

A fresh verdict run (``python -m workshop_lib.grading.probe`` in its own ``bwrap``) spends 2-3 CPU-seconds on
imports before the submission's first line. A :class:`WarmPool` keeps ``size`` sandboxes, each running
:mod:`workshop_lib.grading.forkserver`: the same ``bwrap`` command, caps and user id as a fresh run (see
:class:`~autograder.sandbox.Sandbox`), started once; each verdict run is a child forked inside it, and the server
kills every process and empties every writable folder of its sandbox before it takes the next run. What a child
could do to the server itself, and what the pool does then, is in the server's docstring; the pool never gives a
run to a server that failed or was killed, it starts a new one.

Used for every verdict run in the sandbox: ``make grade``'s jobs (:class:`autograder.jobs.Job`, through
:func:`shared_pool`, unless the course sets ``c.SandboxedGrading.warm = False``) and the grading-on-submit
service's (:mod:`autograder.hub.verdict_only`, a pool of its own). The notebook run stays a fresh sandbox: it runs a
Jupyter kernel.
Never without the sandbox: a server outside ``bwrap`` would empty the machine's ``/tmp``, so
:class:`WarmPool` refuses ``enabled=False`` and the server refuses to start outside a fresh PID namespace.

The records are the same as a fresh run's for the same inputs (``tests/test_warm.py`` compares them on the
test catalog). One difference: a run's ``wall_seconds`` counts from the moment it is handed over, so the
imports a fresh run pays are not counted against it.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from autograder.sandbox import (
    SCRATCH_PREFIX,
    MemoryGroup,
    RunResult,
    Sandbox,
    StderrTail,
    kill_sandbox,
    plain_library_copy,
    python_executable,
    read_records,
    uid_lease,
)
from workshop_lib.grading.limits import SandboxLimits

READY_SECONDS = 120.0
"""Longest wait for a new server's imports (its ``ready`` line)."""
CLEANUP_SECONDS = 15.0
"""Longest wait, after a run's records end, for the server to say it has cleaned its sandbox."""


class ServerFailed(RuntimeError):
    """No warm server could run this run (it could not be started, or two in a row failed before the run began):
    the grader's failure, never the submission's (callers fall back to a fresh sandbox)."""


class NotForked(RuntimeError):
    """The server did not start the run it was given (it died, was stopped, or is silent)."""


class WarmServer:
    """One fork server in one sandbox, for runs one at a time.

    Args:
        library: a folder with a plain copy of ``workshop_lib`` (:func:`~autograder.sandbox.plain_library_copy`).
        home: the sandbox's home (the released resources the cells above the checks read), read-only inside.
        limits: the caps, as for a fresh run.
        stream_bytes: the most one run may stream back.
    """

    def __init__(self, library: Path, home: Path, limits: SandboxLimits, stream_bytes: int) -> None:
        self.box = Sandbox(library, limits, stream_bytes, enabled=True)
        self.home, self.limits, self.stream_bytes = home, limits, stream_bytes
        self.proc: subprocess.Popen | None = None
        self.group: MemoryGroup | None = None
        self.broken = False
        self.release_key: str | None = None
        """The release its home held when it started (set by the pool)."""
        self._control: socket.socket | None = None
        self._lines = b""
        self._started = threading.Event()
        self._closing = threading.Event()
        self._error: BaseException | None = None
        # bwrap dies with the thread that started it (--die-with-parent): a thread of its own, alive until close
        self._thread = threading.Thread(target=self._life, name="warm-server", daemon=True)
        self._thread.start()
        self._started.wait()
        if self._error is not None:
            raise ServerFailed(f"the warm sandbox could not be started: {self._error}")
        self._wait_ready()

    def _life(self) -> None:
        with ExitStack() as stack:
            try:
                if self.box.as_root:
                    self.box.uid = stack.enter_context(uid_lease())
                    self.box.kill_leftovers()
                ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
                self._control = ours
                stack.callback(lambda: self.proc is None and ours.close())  # never started: nobody else closes it
                try:
                    self.proc, self.group = self.box.spawn(
                        self.home, [python_executable(), "-m", "workshop_lib.grading.forkserver", str(theirs.fileno())],
                        pass_fds=(theirs.fileno(),))
                finally:
                    theirs.close()
                self.stderr = StderrTail(self.proc)
            except BaseException as err:  # noqa: BLE001 - said by the constructor
                self._error = err
                self._started.set()
                return
            self._started.set()
            self._closing.wait()
            self._kill()
            self.proc.wait()
            if self.group is not None:
                self.group.close()
            if self.box.uid is not None:
                self.box.kill_leftovers()

    def _kill(self) -> None:
        self.broken = True
        if self.proc is not None:
            kill_sandbox(self.proc)

    def _read_line(self, timeout: float) -> dict[str, Any] | None:
        """The server's next control line, or None (it closed the socket, or said nothing in ``timeout``)."""
        assert self._control is not None
        deadline = time.monotonic() + timeout
        while b"\n" not in self._lines:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._control.settimeout(left)
            try:
                chunk = self._control.recv(4096)
            except (TimeoutError, OSError):
                return None
            if not chunk or len(self._lines) > 4096:
                return None
            self._lines += chunk
        line, self._lines = self._lines.split(b"\n", 1)
        try:
            value = json.loads(line)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def _wait_ready(self) -> None:
        if self._read_line(READY_SECONDS) != {"ready": True}:
            self.close()
            tail = self.stderr.text()[-1500:] if hasattr(self, "stderr") else ""
            raise ServerFailed("the warm sandbox did not get ready" + (f": {tail}" if tail else ""))

    def run(self, cells: list[str], fixtures: dict[str, Any]) -> RunResult:
        """One verdict run of ``cells`` on ``fixtures``, in a child forked in this sandbox. The server is
        :attr:`broken` afterwards if the run went over a limit or the server did not clean up after it.

        Raises:
            NotForked: the server did not start the run (it is gone, stopped or silent): the grader's failure,
                not the submission's; the server is broken.
        """
        assert self._control is not None and not self.broken
        start = time.perf_counter()
        mark = self.stderr.total
        result = RunResult()
        payload = json.dumps({"cells": cells, "fixtures": fixtures, "limits": self.limits.to_dict()}).encode()
        input_r, input_w = os.pipe()
        record_r, record_w = os.pipe()
        try:
            socket.send_fds(self._control, [b"J"], [input_r, record_w])
        except OSError as err:
            for fd in (input_r, input_w, record_r, record_w):
                os.close(fd)
            self._kill()
            raise NotForked(f"the warm sandbox is gone ({err})") from None
        os.close(input_r)
        os.close(record_w)
        forked = self._read_line(CLEANUP_SECONDS)
        if forked is None or not isinstance(forked.get("forked"), int):
            os.close(input_w)
            os.close(record_r)
            self._kill()
            raise NotForked("the warm sandbox did not start the run")

        def feed() -> None:
            try:
                with os.fdopen(input_w, "wb") as f:
                    f.write(payload)
            except OSError:
                pass  # the child ended without reading it all: its records say so

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        ended = threading.Lock()  # held once the run has ended: a limit that fires after it changes nothing

        def stop(reason: str) -> None:
            if not ended.acquire(blocking=False):
                return
            try:
                if result.reason is None:
                    result.reason = reason
                self._kill()
            finally:
                ended.release()

        wall = self.limits.wall_seconds
        timer = threading.Timer(wall, stop, args=(f"timed out after {wall:g} s",))
        timer.start()
        try:
            with os.fdopen(record_r, "rb") as records:
                over = f"output over {self.stream_bytes / 1e6:g} MB"
                for record in read_records(records, self.stream_bytes, lambda: stop(over)):
                    result.records.append(record)
            left = max(0.0, wall - (time.perf_counter() - start))
            answer = None if self.broken else self._read_line(min(CLEANUP_SECONDS, left) if left else 0.0)
        finally:
            ended.acquire()
            timer.cancel()
            feeder.join(timeout=5)
        if answer is None or not isinstance(answer.get("status"), int):
            self._kill()  # gone, stopped, silent or unable to clean up: never given another run
        else:
            result.returncode = answer["status"]
        if not result.records:  # as a fresh run: the sandbox's own words when it sent nothing
            time.sleep(0.05)  # the drain thread's last read
            result.stderr_tail = self.stderr.since(mark)[-4000:]
        result.seconds = time.perf_counter() - start
        return result

    def close(self) -> None:
        """Kill the sandbox and everything in it; give back its user id and memory group."""
        self._kill()
        self._closing.set()
        self._thread.join(timeout=30)
        if self._control is not None:
            self._control.close()


class WarmPool:
    """Up to ``size`` warm servers for verdict runs (thread-safe: ``size`` runs at once).

    Each release (the resources the cells above the checks read) gets a home folder of its own, written once and
    kept until the pool closes; a server serves runs of its own release only.

    Args:
        size: servers kept (the runs that can go at once).
        limits: the sandbox's caps.
        stream_bytes: the most one run may stream back.
        enabled: must be True (no warm runs without the sandbox; see the module's docstring).
    """

    def __init__(self, size: int, limits: SandboxLimits, stream_bytes: int, enabled: bool = True) -> None:
        if not enabled:
            raise ValueError("warm verdict runs need the sandbox: a fork server outside bubblewrap would empty "
                             "this machine's /tmp between runs; run fresh verdict runs with --no-sandbox")
        self.size, self.limits, self.stream_bytes = size, limits, stream_bytes
        self._idle: list[WarmServer] = []
        self._slots = threading.Semaphore(size)
        self._lock = threading.Lock()
        self._homes: dict[str, Path] = {}
        self._tmp = tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-warm-")
        os.chmod(self._tmp.name, 0o755)
        self.library = plain_library_copy(Path(self._tmp.name) / "lib")
        self.started = 0
        """Servers started so far (a new one replaces each that failed or was killed)."""
        self.closed = False

    def _home(self, release: dict[str, str]) -> tuple[str, Path]:
        """The release's key and its home folder (written the first time, never changed afterwards)."""
        from autograder.jobs import write_release

        key = hashlib.sha256(json.dumps(release, sort_keys=True).encode()).hexdigest()
        with self._lock:
            home = self._homes.get(key)
            if home is None:
                home = Path(self._tmp.name) / f"home-{len(self._homes)}"
                home.mkdir()
                write_release(release, home)
                self.limits.write(home)
                self._homes[key] = home
            return key, home

    def _take(self, key: str) -> WarmServer | None:
        """An idle server of release ``key``, if any (idle servers of other releases are stopped)."""
        with self._lock:
            mine = [s for s in self._idle if s.release_key == key]
            others = [s for s in self._idle if s.release_key != key]
            self._idle = mine[:-1]
            server = mine[-1] if mine else None
        for other in others:
            other.close()
        return server

    def _start(self, key: str, home: Path) -> WarmServer:
        server = WarmServer(self.library, home, self.limits, self.stream_bytes)
        server.release_key = key
        with self._lock:
            self.started += 1
        return server

    def run(self, cells: list[str], fixtures: dict[str, Any], release: dict[str, str]) -> RunResult:
        """One verdict run: ``cells`` (the submission's cells above its checks) on ``fixtures``, with the
        released resources ``release`` in its home. Starts a server if none is idle; if a server fails before
        it starts the run, the run goes to a new one.

        Raises:
            ServerFailed: no server could be started, or two in a row failed before the run began.
        """
        if self.closed:
            raise ServerFailed("the warm pool is closed")
        key, home = self._home(release)
        with self._slots:
            for attempt in range(2):
                server = self._take(key) or self._start(key, home)
                try:
                    result = server.run(cells, fixtures)
                except NotForked as err:
                    server.close()
                    if attempt:
                        raise ServerFailed(f"two warm sandboxes in a row failed before the run began ({err})") \
                            from None
                    continue
                with self._lock:  # never back into a pool that closed meanwhile
                    keep = not (server.broken or self.closed)
                    if keep:
                        self._idle.append(server)
                if not keep:
                    server.close()
                return result
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Stop every server, wait for the runs under way (each ends by its wall-clock limit), remove the
        folders."""
        with self._lock:
            self.closed = True
            idle, self._idle = self._idle, []
        for server in idle:
            server.close()
        for _ in range(self.size):
            self._slots.acquire()
        self._tmp.cleanup()


_shared: dict[tuple[SandboxLimits, int], WarmPool] = {}
_shared_lock = threading.Lock()


def shared_pool(limits: SandboxLimits, stream_bytes: int) -> WarmPool:
    """This process's pool for ``limits`` (made on first use, closed when the process exits): what
    :class:`autograder.jobs.Job` runs its verdict runs in, on the grading host (``--jobs N``) or on a dask
    worker. Its size is the machine's cores; a server is started only when a run needs one."""
    with _shared_lock:
        pool = _shared.get((limits, stream_bytes))
        if pool is None:
            if not _shared:
                atexit.register(close_shared_pools)
            pool = _shared[(limits, stream_bytes)] = WarmPool(os.cpu_count() or 1, limits, stream_bytes)
        return pool


def close_shared_pools() -> None:
    """Stop every server of this process's shared pools."""
    with _shared_lock:
        pools = list(_shared.values())
        _shared.clear()
    for pool in pools:
        pool.close()
