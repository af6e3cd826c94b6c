"""A warm verdict runner inside one sandbox: import PyTorch once, then fork one child per verdict run.

A fresh verdict run spends 2-3 CPU-seconds importing PyTorch, IPython and Gymnasium before it runs a line of the
submission. This server pays that once per sandbox: it imports them, then waits on its control socket; for each
run the grader sends, it forks a child that runs :func:`~workshop_lib.grading.probe.verdict_run`, exactly as
``python -m workshop_lib.grading.probe`` would in a fresh process, and cleans the sandbox before the next one.

Run inside the sandbox (the grader starts it: ``autograder/warm.py``) as::

    python -m workshop_lib.grading.forkserver FD

``FD`` is a Unix stream socket to the grader. Per run, the grader sends one byte ``J`` with two file descriptors:
the read end of a pipe that holds the run's input (``{"cells", "fixtures", "limits"}`` as JSON), and the write
end of a pipe for its records. The server forks and answers ``{"forked": PID}``; when the child has ended it
kills every other process in the sandbox, empties every folder a run can write to, and only then answers
``{"status": N}``. It answers ``{"ready": true}`` once, when its imports are done. When it cannot make the sandbox
as it was (a file it cannot remove, one of its own attributes changed), it ends without answering.

What keeps one run from reaching the next (each is tested in ``tests/test_warm.py``):

* **no leftover process**: the server is the sandbox's child subreaper and, after each run, sends ``SIGKILL`` to
  every process of the PID namespace but the namespace's init and itself (``kill(-1)``: the kernel walks the
  list while no new process can start), then reaps them;
* **no leftover file**: every folder a run may write (``WRITABLE``, POSIX message queues included) is emptied,
  each folder in it made writable first (the read-only views in the home stay), its mode set back, and checked
  empty;
* **no leftover IPC object**: every System V shared memory segment, message queue and semaphore set is removed
  (they outlive their process; a segment's pages would count against the next run's memory);
* **no way into the server**: the server is not dumpable (``PR_SET_DUMPABLE`` 0), so a child of the same user
  can neither trace it nor open its memory or file descriptors through ``/proc``; each child closes the control
  socket before it reads its input. What a process of the same user may still change about the server (its
  resource limits, nice value, scheduling, affinity, I/O priority: :func:`attributes`) is compared after each run
  with its value at start, and a change ends the server before a later run could inherit it. A child that kills
  or stops the server ends its own run and the sandbox: the grader then starts a new one for the next run.
* **its own RNG seeds**: each child reseeds Python's and NumPy's global generators from the OS, as a fresh
  process starts.
"""

from __future__ import annotations

import ctypes
import json
import os
import random
import signal
import socket
import sys
import time
from pathlib import Path

PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
HOME = "/home/student"
WRITABLE = ("/tmp", HOME, "/dev/shm", "/dev/mqueue")
"""Folders a run may write to in the sandbox (``tests/test_warm.py`` checks that a run finds no other): emptied
after each run."""
PRELOAD = ("numpy", "torch", "torch.optim", "torch.nn", "gymnasium", "gymnasium.envs.classic_control.pendulum",
           "IPython.core.interactiveshell", "workshop_lib.checks", "workshop_lib.env_wrapper",
           "workshop_lib.nets", "workshop_lib.rb", "workshop_lib.utils", "workshop_lib.grading.probe")
"""Imported once by the server, before any run: what every verdict run imports (the notebook's given cells and
the probe). A module missing here is imported by the child as a fresh run would (``jdc`` must be: it needs the
IPython shell that each run makes)."""


IOPRIO_GET = {"x86_64": 252, "aarch64": 31}
"""``ioprio_get``'s system call number, by machine (elsewhere the I/O priority is not compared)."""


def attributes() -> dict[str, object]:
    """What another process of the server's user may change about the server, and every child would inherit:
    its resource limits (``prlimit``), nice value, scheduling policy, priority and CPU affinity, I/O priority,
    and its autogroup's nice value (shared by the session). Compared after each run with the value at start: a
    run that changed any of them ends the server (the grader starts a new one), so no later run inherits it."""
    import platform
    import resource

    values: dict[str, object] = {name: resource.getrlimit(getattr(resource, name))
                                 for name in sorted(dir(resource)) if name.startswith("RLIMIT_")}
    values["nice"] = os.getpriority(os.PRIO_PROCESS, 0)
    values["scheduler"] = (os.sched_getscheduler(0), os.sched_getparam(0).sched_priority)
    values["affinity"] = sorted(os.sched_getaffinity(0))
    number = IOPRIO_GET.get(platform.machine())
    if number is not None:
        values["ioprio"] = ctypes.CDLL(None, use_errno=True).syscall(number, 1, 0)  # IOPRIO_WHO_PROCESS, self
    try:
        values["autogroup"] = Path("/proc/self/autogroup").read_text()
    except OSError:
        values["autogroup"] = None
    return values


def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}, {value}) failed")


def preload() -> None:
    """Import what every verdict run imports, without running any PyTorch operation (a child forked after one
    could inherit a thread pool it cannot use)."""
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass  # not installed: the run imports it (and reports the failure) itself
        # anything else (no memory to import PyTorch under the caps) ends the server with its traceback: the
        # grader then runs the verdict run in a fresh sandbox, whose own error says why
    from workshop_lib.grading import speed

    speed.defer_dynamo_import()


def _child(input_fd: int, record_fd: int) -> None:
    """The forked run: never returns."""
    status = 1
    stderr: int | None = os.dup(2)  # the server's standard error, until the submission's code may run
    try:
        import numpy as np

        from workshop_lib.grading.limits import SandboxLimits
        from workshop_lib.grading.probe import verdict_run

        _prctl(PR_SET_DUMPABLE, 1)  # its own /proc files its own again (the server stays not dumpable)
        try:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write("1000")  # the memory cgroup's OOM killer takes the run, never the server
        except OSError:
            pass
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a fresh Python (the server dies on it)
        random.seed()
        np.random.seed()
        with os.fdopen(input_fd, "rb") as f:
            job = json.loads(f.read())
        channel = os.fdopen(record_fd, "w", buffering=1)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the child
        os.close(stderr)
        stderr = None  # the submission's code runs from here on: nothing of it reaches the grader's log

        def emit(record: dict) -> None:
            channel.write(json.dumps(record) + "\n")
            channel.flush()

        verdict_run(job["cells"], job["fixtures"], SandboxLimits.from_dict(job["limits"]), emit)
        status = 0
    except BaseException:  # noqa: BLE001 - whatever happens, the child never returns into the server's loop
        status = 1
        if stderr is not None:  # before the cells ran (the grader's side): its traceback for the grader's log
            import traceback

            os.write(stderr, traceback.format_exc()[-4000:].encode(errors="replace"))
    finally:
        os._exit(status)


def _kill_others() -> None:
    """Kill every process of the sandbox but its init and this one; reap what was ours."""
    for _ in range(100):
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            break
        except PermissionError:
            break
        _reap()
    _reap()


def _reap() -> None:
    """Reap every process that ended (the server is their subreaper), waiting up to 2 s for the killed ones."""
    deadline = time.monotonic() + 2.0
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            if time.monotonic() > deadline:
                return
            time.sleep(0.005)


def _empty(folder: str) -> bool:
    """Remove everything a run left in ``folder`` (the mounts in it, read-only views, stay), making each folder
    writable first (a run may have taken its write permission away, so that a plain removal fails). True when
    nothing but mounts is left."""

    def remove(path: str) -> None:
        if os.path.islink(path) or not os.path.isdir(path):
            os.unlink(path)
            return
        os.chmod(path, 0o700)
        for entry in os.listdir(path):
            remove(os.path.join(path, entry))
        os.rmdir(path)

    try:
        entries = os.listdir(folder)
    except OSError:
        return True  # no such folder in this sandbox
    for name in entries:
        path = os.path.join(folder, name)
        if os.path.ismount(path):
            continue
        try:
            remove(path)
        except OSError:
            pass
    try:
        return all(os.path.ismount(os.path.join(folder, name)) for name in os.listdir(folder))
    except OSError:
        return False


IPC_RMID = 0
SYSV = (("shm", "shmctl"), ("msg", "msgctl"), ("sem", "semctl"))
"""The System V IPC objects a run may leave in the sandbox's IPC namespace (a shared memory segment outlives its
process, and its pages count against the sandbox's memory): ``/proc/sysvipc/<kind>``, removed by ``<call>``."""


def _remove_sysv_ipc() -> None:
    """Remove every System V shared memory segment, message queue and semaphore set of the IPC namespace."""
    libc = ctypes.CDLL(None, use_errno=True)
    for kind, call in SYSV:
        try:
            lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 1 and fields[1].lstrip("-").isdigit():
                ident = int(fields[1])
                if kind == "sem":
                    getattr(libc, call)(ident, 0, IPC_RMID)
                else:
                    getattr(libc, call)(ident, IPC_RMID, None)


def clean() -> bool:
    """Make the sandbox as the next run must find it: no other process, no System V IPC object, nothing in a
    writable folder, the writable folders' modes as the sandbox made them. False when that failed (the server
    then ends: the grader starts a new sandbox)."""
    _kill_others()
    _remove_sysv_ipc()
    emptied = True
    for folder in WRITABLE:
        emptied = _empty(folder) and emptied
        try:
            os.chmod(folder, 0o1777)  # where the server owns it (no root), a run could have changed it
        except OSError:
            pass
    return emptied


def serve(control: socket.socket) -> None:
    """Answer runs until the grader closes the socket, or until a run left the sandbox in a state the server
    cannot undo (then it ends without answering: the grader kills this sandbox and starts a new one)."""
    baseline = attributes()
    control.sendall(b'{"ready": true}\n')
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(control, 1, 2)
        except OSError:
            return
        if not msg:
            return
        if msg != b"J" or len(fds) != 2:
            for fd in fds:
                os.close(fd)
            return
        input_fd, record_fd = fds
        pid = os.fork()
        if pid == 0:
            control.close()
            _child(input_fd, record_fd)
        os.close(input_fd)
        os.close(record_fd)
        control.sendall((json.dumps({"forked": pid}) + "\n").encode())
        try:
            _, wait_status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(wait_status)
        except ChildProcessError:
            code = -1
        if not clean() or attributes() != baseline:
            return
        control.sendall((json.dumps({"status": code}) + "\n").encode())


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if os.getpid() > 3 or not os.path.ismount(HOME):
        # outside its sandbox it would kill every process of its user and empty the machine's /tmp
        print(f"forkserver: refused: expected to run in a fresh sandbox (PID 2 or 3, a tmpfs at {HOME}), "
              f"got PID {os.getpid()}; start it through autograder.warm.WarmPool", file=sys.stderr)
        return 2
    control = socket.socket(fileno=int(argv[0]))
    _prctl(PR_SET_DUMPABLE, 0)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a signal from a run ends the server, never half a cleanup
    preload()
    if clean():
        serve(control)
    return 0


if __name__ == "__main__":
    sys.exit(main())
