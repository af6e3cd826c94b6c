"""One bubblewrap sandbox per run of a submission's code: what it sees, what it may use, how it ends.

A :class:`Sandbox` runs one command (the notebook runner, or the verdict probe) for one submission:

* **files**: a private home (its working directory, ``/home/student``): a tmpfs of ``tmp_bytes`` holding
  read-only views of what the grader put in its scratch folder (the notebook and the released resources, or
  the probe's inputs); read-only views of the Python installation, of the virtual environment, and of a plain
  (not editable) copy of ``workshop_lib``; a small private ``/tmp``. Nothing else of the machine's files: not
  the course directory (``source/``, ``release/``, other students, the gradebook, the config), not the
  repository, not ``solutions/``.
* **no network**: a network namespace of its own (its loopback is not the host's).
* **caps** (:class:`~workshop_lib.grading.limits.SandboxLimits`): memory (``memory_bytes``) for all its
  processes together where the grader may make a memory cgroup (:class:`MemoryGroup`), and per process (address
  space) in any case; processes (``max_processes``, counted for a user id that no other sandbox holds meanwhile
  when the grader runs as root); file size; and wall-clock time for the whole run; the output it streams back is
  read up to ``stream_bytes``, never more (not even within one line).
* **cleanup**: a PID namespace of its own; when the run ends (or is killed) every process started in it is gone.

``Sandbox(enabled=False)`` runs the same command without bubblewrap (``--no-sandbox``): same caps on time and
output, no isolation.
"""

from __future__ import annotations

import atexit
import compileall
import fcntl
import json
import os
import py_compile
import random
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workshop_lib.grading.limits import SandboxLimits

BWRAP_MISSING = ("bubblewrap (bwrap) is not installed, so submissions cannot be graded in a sandbox. Install it "
                 "with `sudo apt-get install bubblewrap` (Debian/Ubuntu) or `sudo dnf install bubblewrap` "
                 "(Fedora), or grade without isolation with `--no-sandbox` (only for code you trust).")
SANDBOX_HOME = "/home/student"
LIB_MOUNT = "/opt/ddpg-grader/lib"
SCRATCH_PREFIX = "ddpg-grade-"
"""Each job's scratch folder is ``<tmp>/ddpg-grade-<grader pid>-*`` (a later run removes a dead grader's)."""
CGROUP_PREFIX = "ddpg-sandbox-"
"""Each run's memory cgroup is ``ddpg-sandbox-<grader pid>-...`` (a later run removes a dead grader's)."""
FIRST_UID = 61000
"""When the grader runs as root, each run gets a user id of its own from FIRST_UID on (a user with no files;
see :func:`uid_lease`)."""


UID_COUNT = 4096
"""Sandbox user ids are FIRST_UID ... FIRST_UID + UID_COUNT - 1, each leased to one run at a time."""
LEASE_DIRS = ("/run/ddpg-grader-uids", "/tmp/ddpg-grader-uids")


@contextmanager
def uid_lease(start: int | None = None) -> Iterator[int]:
    """A sandbox user id held by this run alone, on this machine, until the block ends (an flock on
    ``LEASE_DIRS[i]/<uid>.lock``; the kernel drops it if the grader dies). The search starts at a random id
    past the first 64 (which graders without leases used, one per slot) unless ``start`` is given."""
    if start is None:
        start = 64 + random.randrange(UID_COUNT - 64)
    for folder in LEASE_DIRS:
        try:
            os.makedirs(folder, mode=0o700, exist_ok=True)
            info = os.stat(folder, follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o022:
            break
    else:
        raise RuntimeError(f"no folder for the sandboxes' user id leases ({', '.join(LEASE_DIRS)})")
    for k in range(UID_COUNT):
        uid = FIRST_UID + (start + k) % UID_COUNT
        fd = os.open(os.path.join(folder, f"{uid}.lock"), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            yield uid
        finally:
            os.close(fd)
        return
    raise RuntimeError(f"all {UID_COUNT} sandbox user ids are in use")


class MemoryGroup:
    """A memory cgroup holding every process of one run, capped together at ``limit`` bytes (the sandbox's
    memory cap; without it ``memory_bytes`` would hold per process only, and a submission could hold it as
    many times as it may start processes). Made under the grader's own cgroup, cgroup v2 or v1's memory
    controller; :meth:`create` returns None where the grader may not make one (then the cap is per process).
    """

    def __init__(self, path: Path, version: int) -> None:
        self.path, self.version = path, version

    @staticmethod
    def parents() -> list[tuple[Path, int]]:
        """Where this process may make memory groups: its own cgroup (v2), or v1's memory controller's."""
        try:
            lines = Path("/proc/self/cgroup").read_text().splitlines()
        except OSError:
            return []
        places = []
        for line in lines:
            _, controllers, where = line.split(":", 2)
            if controllers == "" and Path("/sys/fs/cgroup/cgroup.controllers").is_file():
                places.append((Path("/sys/fs/cgroup" + where), 2))
            elif "memory" in controllers.split(","):
                places.append((Path("/sys/fs/cgroup/memory" + where), 1))
        return sorted(places, key=lambda p: -p[1])

    @classmethod
    def create(cls, name: str, limit: int) -> MemoryGroup | None:
        for parent, version in cls.parents():
            path = parent / name
            try:
                path.mkdir()
            except OSError:
                continue
            group = cls(path, version)
            try:
                if version == 2:
                    (path / "memory.max").write_text(str(limit))
                    if (path / "memory.swap.max").exists():
                        (path / "memory.swap.max").write_text("0")
                else:
                    (path / "memory.limit_in_bytes").write_text(str(limit))
                return group
            except OSError:
                group.close()
        return None

    def join(self) -> None:
        """Put the calling process in the group (from the child, before it runs the sandbox)."""
        with open(self.path / "cgroup.procs", "w") as f:
            f.write("0")

    def close(self) -> None:
        """Kill whatever is left in the group, then remove it."""
        for _ in range(50):
            try:
                pids = [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
            except OSError:
                pids = []
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.1)
        try:
            self.path.rmdir()
        except OSError:
            pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner_pid(name: str, prefix: str) -> int | None:
    head = name.removeprefix(prefix).split("-", 1)[0]
    return int(head) if name.startswith(prefix) and head.isdigit() else None


def remove_leftovers() -> list[str]:
    """Remove what a grader that was killed left behind on this machine: its jobs' scratch folders and its
    memory cgroups (with any process still in them). Only a dead grader's: each name carries its grader's pid.
    Returns what was removed."""
    removed = []
    for path in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*"):
        pid = _owner_pid(path.name, SCRATCH_PREFIX)
        if pid is not None and not _alive(pid) and path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(str(path))
    for parent, version in MemoryGroup.parents():
        for path in parent.glob(f"{CGROUP_PREFIX}*"):
            pid = _owner_pid(path.name, CGROUP_PREFIX)
            if pid is not None and not _alive(pid):
                MemoryGroup(path, version).close()
                removed.append(str(path))
    return removed


def bwrap_path() -> str | None:
    """The bubblewrap executable, or None."""
    return shutil.which("bwrap")


@dataclass
class RunResult:
    """What came back from one run: the JSON records it streamed, and why it ended."""

    records: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None
    """``None`` if it ended by itself; else e.g. ``timed out after 120 s``, ``output over 8 MB``."""
    returncode: int | None = None
    seconds: float = 0.0
    stderr_tail: str = ""


class StderrTail:
    """What a sandboxed process writes to its standard error, read by a thread of its own (so that the process
    never blocks on a full pipe); the last 20 kB kept."""

    KEEP = 20_000

    def __init__(self, proc: subprocess.Popen) -> None:
        self.tail = b""
        self.total = 0
        """Bytes read so far (a mark for :meth:`since`)."""
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._drain, args=(proc,), daemon=True)
        self.thread.start()

    def _drain(self, proc: subprocess.Popen) -> None:
        assert proc.stderr is not None
        for chunk in iter(lambda: proc.stderr.read1(65536), b""):
            with self._lock:
                self.tail = (self.tail + chunk)[-self.KEEP:]
                self.total += len(chunk)

    def text(self) -> str:
        with self._lock:
            return self.tail.decode("utf-8", "replace")

    def since(self, mark: int) -> str:
        """What was written after :attr:`total` was ``mark`` (as much of it as is kept)."""
        with self._lock:
            return self.tail[-min(len(self.tail), self.total - mark):].decode("utf-8", "replace") \
                if self.total > mark else ""


def read_records(stream: Any, stream_bytes: int, over: Callable[[], None]) -> Iterator[dict[str, Any]]:
    """The JSON objects written one per line to ``stream`` (a binary file) until it ends or has given
    ``stream_bytes``; then ``over()`` is called (it kills the writer). A line that is not a JSON object is
    skipped. Never reads more than the bytes still allowed, not even within one line."""
    total = 0
    while True:
        line = stream.readline(stream_bytes - total + 1)
        if not line:
            return
        total += len(line)
        if total > stream_bytes:
            over()
            return
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue  # not a record (a submission writing to the channel, nested too deep): ignored
        if isinstance(record, dict):
            yield record


_compiled_lock = threading.Lock()
_compiled: dict[str, Any] = {}
"""This process's compiled copy of ``workshop_lib``: ``{"key": its sources' signature, "path": its folder}``."""


def _sources_signature(src: Path) -> tuple[tuple[str, int, int], ...]:
    return tuple(sorted((str(path.relative_to(src)), info.st_size, info.st_mtime_ns)
                        for path in src.rglob("*.py") if "__pycache__" not in path.parts
                        for info in [path.stat()]))


def _compiled_library(src: Path) -> Path:
    """A copy of the package ``src`` (sources only), with bytecode compiled from those sources, made once per
    grader process (again if the sources change); removed when the process exits (or by
    :func:`remove_leftovers`, from its name, if it is killed). Call with ``_compiled_lock`` held."""
    key = _sources_signature(src)
    if _compiled.get("key") == key and Path(_compiled["path"]).is_dir():
        return _compiled["path"]
    old = _compiled.get("path")
    root = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-library-"))
    os.chmod(root, 0o755)
    target = root / src.name
    shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    compileall.compile_dir(str(target), quiet=2, invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
    if old is None:
        atexit.register(lambda: shutil.rmtree(Path(_compiled["path"]).parent, ignore_errors=True))
    else:
        shutil.rmtree(Path(old).parent, ignore_errors=True)
    _compiled.update(key=key, path=target)
    return target


def plain_library_copy(dest: Path) -> Path:
    """Copy the installed ``workshop_lib`` package (its sources, and bytecode the grader compiled from them) into
    ``dest``; return ``dest``.

    The sandbox imports this copy, read-only: never the repository's (possibly editable) one, which a
    submission could otherwise write to. The bytecode is compiled once per grader process from the same sources
    (:func:`_compiled_library`), never taken from the repository's ``__pycache__``: each sandboxed process then
    loads ``workshop_lib`` without compiling it again (it may not write bytecode).
    """
    import workshop_lib

    src = Path(workshop_lib.__file__).resolve().parent
    target = dest / "workshop_lib"
    if target.exists():
        shutil.rmtree(target)
    with _compiled_lock:
        shutil.copytree(_compiled_library(src), target)  # copy2: the sources' times, which the bytecode checks
    return dest


def python_executable() -> str:
    """This interpreter's path with its folder resolved (``/real/venv/bin/python``), as the sandbox binds it.

    The sandbox mounts the virtual environment at its real path: a venv reached through a symlinked folder
    (``/home/me/course -> /data/course``) would otherwise be run at a path that does not exist inside. The file
    itself is not resolved: the venv's ``python`` is a link to the base interpreter, and Python finds its venv
    (``pyvenv.cfg``) from the path it was started as.
    """
    return os.path.join(os.path.realpath(os.path.dirname(sys.executable)), os.path.basename(sys.executable))


def _python_roots() -> list[str]:
    """Folders the interpreter needs: the virtual environment and the base installation."""
    roots = {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)}
    exe_dir = os.path.dirname(os.path.realpath(sys.executable))
    roots.add(os.path.dirname(exe_dir))
    return sorted(roots)


class Sandbox:
    """Runs commands for one submission in bubblewrap, with the course's :class:`SandboxLimits`.

    Args:
        library: a folder holding a plain copy of ``workshop_lib`` (:func:`plain_library_copy`).
        limits: the caps (this class applies ``wall_seconds``, ``memory_bytes``, ``max_processes``,
            ``file_bytes`` and ``tmp_bytes``; the rest are the run's own, read inside from its ``limits.json``).
        stream_bytes: the most a run may write to the grader (bytes); past it the run is killed
            (``output over ... MB``).
        enabled: ``False`` runs without bubblewrap (``--no-sandbox``).
    """

    def __init__(self, library: Path, limits: SandboxLimits, stream_bytes: int, enabled: bool = True) -> None:
        self.library, self.limits, self.enabled = Path(library), limits, enabled
        self.stream_bytes = stream_bytes
        if enabled and bwrap_path() is None:
            raise RuntimeError(BWRAP_MISSING)
        self.as_root = enabled and os.geteuid() == 0
        self.uid: int | None = None
        """The user id the current run drops to (leased by :meth:`run` when the grader is root), else None."""

    # ------------------------------------------------------------------------------------------- command
    def command(self, scratch: Path, argv: list[str], env: dict[str, str]) -> list[str]:
        """The full command line that runs ``argv`` in the sandbox, with ``scratch`` as its home."""
        if not self.enabled:
            return argv
        args = [bwrap_path() or "bwrap", "--die-with-parent", "--new-session",
                "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
        if self.uid is None:  # not root: bubblewrap needs a user namespace
            args += ["--unshare-user"]
        args += ["--ro-bind", "/usr", "/usr"]
        for link in ("bin", "sbin", "lib", "lib64", "lib32", "libx32"):
            target = os.path.join("/", link)
            if os.path.islink(target):
                args += ["--symlink", os.readlink(target), target]
            elif os.path.isdir(target):
                args += ["--ro-bind", target, target]
        args += ["--ro-bind", "/etc", "/etc", "--dev", "/dev", "--mqueue", "/dev/mqueue", "--proc", "/proc",
                 "--size", str(self.limits.tmp_bytes), "--perms", "1777", "--tmpfs", "/tmp"]
        mounts = [(root, root) for root in _python_roots()] + [(str(self.library), LIB_MOUNT)]
        made = {"/", "/usr", "/etc", "/dev", "/proc", "/tmp"}  # /dev/mqueue: POSIX queues, emptied between warm runs
        for dest in [d for _, d in mounts] + [SANDBOX_HOME]:
            parts = Path(dest).parts
            for i in range(2, len(parts)):
                parent = str(Path(*parts[:i]))
                if parent not in made and not any(parent.startswith(m.rstrip("/") + "/") for m in ("/usr", "/etc")):
                    args += ["--perms", "0755", "--dir", parent]
                    made.add(parent)
        for src, dest in mounts:
            args += ["--ro-bind", src, dest]
        # Its home: a private tmpfs of tmp_bytes (what it writes can never fill the grader's disk), holding
        # read-only views of what the grader put in the scratch folder.
        args += ["--size", str(self.limits.tmp_bytes), "--perms", "1777", "--tmpfs", SANDBOX_HOME]
        for item in sorted(Path(scratch).iterdir()):
            args += ["--ro-bind", str(item), f"{SANDBOX_HOME}/{item.name}"]
        args += ["--chdir", SANDBOX_HOME, "--clearenv"]
        for key, value in env.items():
            args += ["--setenv", key, value]
        if self.uid is not None:  # drop root inside: a user id of its own, so that the process cap holds
            args += ["--", "setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups",
                     "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs"]
        else:
            args += ["--"]
        return args + argv

    def environment(self) -> dict[str, str]:
        """The environment inside: the venv's bin on PATH, the library copy on PYTHONPATH, a private HOME."""
        bin_dir = os.path.dirname(python_executable())
        env = {
            "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
            "HOME": SANDBOX_HOME if self.enabled else "",
            "PYTHONPATH": LIB_MOUNT if self.enabled else str(self.library),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": "/tmp/mpl",
            "JUPYTER_RUNTIME_DIR": "/tmp/jupyter-runtime",
            "JUPYTER_PLATFORM_DIRS": "1",
            "IPYTHONDIR": "/tmp/ipython",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "LANG": "C.UTF-8",
            "NBGRADER_EXECUTION": "autograde",
        }
        return env

    # ----------------------------------------------------------------------------------------------- run
    def run(self, scratch: Path, argv: list[str]) -> RunResult:
        """Run ``argv`` with ``scratch`` as its home; collect the JSON lines it writes to its standard output.

        The run is killed (with every process it started) when it passes ``limits.wall_seconds`` or streams
        more than ``stream_bytes``; the records read until then are kept.

        As root, the run gets a user id that no other sandbox on this machine holds meanwhile (another
        grading, another course): the process cap counts only its processes, and the final sweep of that user
        id's processes kills only its own.
        """
        if not self.as_root:
            return self._run(scratch, argv)
        with uid_lease() as uid:
            self.uid = uid
            try:
                self.kill_leftovers()  # a crashed grader's, if any
                return self._run(scratch, argv)
            finally:
                self.uid = None

    def spawn(self, scratch: Path, argv: list[str], pass_fds: tuple[int, ...] = ()
              ) -> tuple[subprocess.Popen, MemoryGroup | None]:
        """Start ``argv`` in the sandbox with ``scratch`` as its home, under every cap (its own session, the
        memory group, the rlimits); return the process (standard output and error piped) and its memory group
        (the caller closes it once the process is gone). ``pass_fds``: descriptors it inherits (a control
        socket). Call with :attr:`uid` set when the grader is root (see :meth:`run`)."""
        scratch = Path(scratch)
        if self.uid is not None:
            for path in [scratch, *scratch.rglob("*")]:
                os.chown(path, self.uid, self.uid, follow_symlinks=False)
        env = self.environment()
        if not self.enabled:
            env["HOME"] = str(scratch)
            for key in ("MPLCONFIGDIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
                env[key] = str(scratch / ".cache" / key.lower())
        cmd = self.command(scratch, argv, env)
        limits = self.limits
        group = MemoryGroup.create(f"{CGROUP_PREFIX}{os.getpid()}-{threading.get_ident()}-{time.monotonic_ns()}",
                                   limits.memory_bytes) if self.enabled else None

        # The process cap counts every process of the real user id: the run's own id when the grader is root,
        # else the instructor's, whose processes already running are added to the cap.
        nproc = limits.max_processes if self.uid is not None else limits.max_processes + _processes_of(os.getuid())

        def preexec() -> None:
            os.setsid()  # its own process group: the grader kills the whole group on a limit
            if group is not None:
                group.join()
            resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
            resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))

        try:
            proc = subprocess.Popen(cmd, cwd=scratch, env=env if not self.enabled else {"PATH": os.environ.get(
                "PATH", "/usr/bin:/bin")}, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                preexec_fn=preexec, close_fds=True, pass_fds=pass_fds)
        except BaseException:
            if group is not None:
                group.close()
            raise
        return proc, group

    def _run(self, scratch: Path, argv: list[str]) -> RunResult:
        start = time.perf_counter()
        result = RunResult()
        proc, group = self.spawn(scratch, argv)
        stderr = StderrTail(proc)
        limits = self.limits
        timer = threading.Timer(limits.wall_seconds, self._kill, args=(proc, result,
                                                                       f"timed out after {limits.wall_seconds:g} s"))
        timer.start()
        try:
            assert proc.stdout is not None
            over = f"output over {self.stream_bytes / 1e6:g} MB"
            for record in read_records(proc.stdout, self.stream_bytes, lambda: self._kill(proc, result, over)):
                result.records.append(record)
        finally:
            timer.cancel()
            if result.reason is None:  # the stream ended: give the program a moment to exit by itself
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
            if proc.poll() is None:
                self._kill(proc, result, result.reason)
            proc.wait()
            stderr.thread.join(timeout=5)
        if group is not None:
            group.close()
        result.returncode = proc.returncode
        result.seconds = time.perf_counter() - start
        result.stderr_tail = stderr.text()[-4000:]
        if self.uid is not None:
            self.kill_leftovers()
        return result

    @staticmethod
    def _kill(proc: subprocess.Popen, result: RunResult, reason: str | None) -> None:
        if proc.poll() is not None:
            return
        if reason and result.reason is None:
            result.reason = reason
        kill_sandbox(proc)

    def kill_leftovers(self) -> None:
        """Kill any process still running under this sandbox's user id (none should be: the PID namespace
        ends with the run)."""
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if entry.stat().st_uid == self.uid:
                    os.kill(int(entry.name), signal.SIGKILL)
            except (OSError, ProcessLookupError):
                continue


def kill_sandbox(proc: subprocess.Popen) -> None:
    """Kill a sandbox started by :meth:`Sandbox.spawn`: ``bwrap`` and its PID namespace, every process in it."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _processes_of(uid: int) -> int:
    """How many processes (threads included) the user ``uid`` runs now."""
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(entry / "task"))
            except OSError:
                continue
    return count
