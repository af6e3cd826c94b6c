"""Warm verdict runs (autograder/warm.py, workshop_lib/grading/forkserver.py), in the real sandbox.

A warm sandbox imports PyTorch once and forks one child per verdict run. Checked here:

* a warm run gives exactly the records of a fresh run (``python -m workshop_lib.grading.probe`` in its own
  sandbox) for the same submission, fixtures and release: correct ways with their own random draws, mistakes
  and a crash, one after the other in the same warm sandbox;
* nothing one run does reaches the next run in the same sandbox: files planted wherever it can write, a detached
  process that keeps writing, System V shared memory and a message queue, the server's memory, environment,
  descriptors and ``ptrace``;
* a run that kills, stops or outlives the server costs only its own run: the next one gets a new server and its
  correct verdict;
* no warm runs without the sandbox, and the server refuses to start outside one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import build_notebooks, ingest, warm
from autograder.course_folder import ASSIGNMENT, NOTEBOOK, NOTEBOOK_FILE, release_dir, release_notebook, submitted_root
from autograder.hub.verdict_only import VerdictOnly
from autograder.jobs import STREAM_BYTES_VERDICT, Job
from autograder.sandbox import RunResult, bwrap_path
from autograder.verdict import decide
from autograder.warm import WarmPool
from tests import grading_catalog as gc
from tests.processes import descends_from
from workshop_lib.grading.forkserver import WRITABLE
from workshop_lib.grading.limits import SandboxLimits

REPO = Path(__file__).resolve().parents[1]
MASTER = REPO / "autograder" / "course" / "source" / "ddpg" / "ddpg_pendulum.ipynb"
SAME = ["ok_reference", "ok_from_numpy_normal_noise", "ok_batched_torch_noise_with_warnings", "bad_act_no_noise",
        "bad_act_scalar_noise", "bad_no_done_mask", "bad_target_crashes"]
"""Compared warm against fresh: correct ways that draw their noise each their own way, mistakes of both methods,
a crash."""
ATTACK_LIMITS = SandboxLimits(wall_seconds=25.0, cell_timeout=10)

pytestmark = pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap is not installed")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course folder prepared for pre-grading (fresh runs), with the compared submissions written in."""
    folder = build_notebooks.copy_course(tmp_path_factory.mktemp("warm") / "course")
    grader = VerdictOnly(folder, log=lambda line: None)
    grader.prepare()
    gc.write_submissions(folder, release_notebook(folder), MASTER, [v for v in gc.CATALOG if v.name in SAME])
    return grader


def _spec(grader: VerdictOnly, student: str) -> dict:
    got = ingest.ingest(submitted_root(grader.folder), student, ASSIGNMENT, NOTEBOOK, grader.release_nb)
    assert got.gradable, got.notes
    return grader.grader.make_spec(got.notebook, student, release_dir(grader.folder), NOTEBOOK_FILE,
                                   grader.fixtures)


def _plain(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in record.items() if k != "seconds"} for record in records]


def test_a_warm_run_gives_the_records_of_a_fresh_run(course):
    """Same submission, fixtures and release: the same records, run after run in one warm sandbox."""
    pool = WarmPool(1, SandboxLimits.from_dict(_spec(course, "ok_reference")["limits"]), STREAM_BYTES_VERDICT)
    try:
        for student in SAME:
            spec = _spec(course, student)
            with Job({**spec, "warm": False}) as job:
                job.start_verdict()
                fresh = RunResult(**job.wait()["verdict"])
            forked = pool.run(spec["cells"], spec["fixtures"], spec["release"])
            assert fresh.reason is None and forked.reason is None, (student, fresh.reason, forked.reason)
            assert _plain(forked.records) == _plain(fresh.records), student
            assert forked.returncode == 0, student
        assert pool.started == 1  # every run forked from the same server
        assert not warm._shared, "the fresh runs must not have gone through a warm pool"
    finally:
        pool.close()


@pytest.fixture(scope="module")
def attack_pool(course):
    pool = WarmPool(1, ATTACK_LIMITS, STREAM_BYTES_VERDICT)
    yield pool
    pool.close()


def _attack(course, pool, cells: list[str]):
    """Run ``cells`` as a submission's, with the course's release (the correct runs' too: a pool starts new
    servers when the release changes, which would hide a server kept after it broke)."""
    return pool.run(cells, {}, _spec(course, "ok_reference")["release"])


def _cells_error(run) -> str:
    """The message of the run's first failed cell."""
    cells = next(r for r in run.records if r.get("probe") == "cells")
    return next(status["error"] for status in cells["values"] if not status["ok"])


def _payload(run, tag: str) -> dict | list:
    message = _cells_error(run)
    assert tag in message, message
    return json.loads(message.split(tag, 1)[1])


WALK = r"""
import os
def walk_rw():
    # os.walk("/") without /proc and /sys, going into a read-only mount only on the way to a read-write one below
    # it: nothing on a read-only mount can be written (EROFS), and walking all of /usr and the virtualenv took
    # longer than the cell's time limit on a busy machine
    rw_mounts = []
    for line in open("/proc/self/mountinfo"):
        fields = line.split()
        if "rw" in fields[5].split(","):
            rw_mounts.append(fields[4].encode().decode("unicode_escape"))
    for dirpath, dirs, files in os.walk("/"):
        if dirpath.startswith(("/proc", "/sys")):
            dirs[:] = []
            continue
        if os.statvfs(dirpath).f_flag & os.ST_RDONLY:
            dirs[:] = [d for d in dirs if any(m.startswith(os.path.join(dirpath, d).rstrip("/") + "/")
                                                  or m == os.path.join(dirpath, d) for m in rw_mounts)]
            continue
        yield dirpath, dirs, files
"""

PLANT = WALK + r"""
import json, os, time
writable = WRITABLE
outside, wrote = [], []
for dirpath, dirs, files in walk_rw():
    try:
        with open(os.path.join(dirpath, "planted-file"), "w") as f:
            f.write("left by the run before")
    except OSError:
        continue
    wrote.append(dirpath)
    if not any(dirpath == w or dirpath.startswith(w + "/") for w in writable):
        outside.append(dirpath)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        while True:
            try:
                open("/tmp/planted-by-daemon-%d" % time.time_ns(), "w").close()
            except OSError:
                pass
            time.sleep(0.02)
    os._exit(0)
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
segment = libc.shmget(0, 64 * 1024 * 1024, 0o1600)  # IPC_PRIVATE, IPC_CREAT | 0600: 64 MB that outlive the run
libc.shmat.restype = ctypes.c_void_p
ctypes.memset(libc.shmat(segment, None, 0), 1, 64 * 1024 * 1024)
queue = libc.msgget(0, 0o1600)
if segment < 0 or queue < 0:
    raise RuntimeError("PLANTED could not make the IPC objects")
for folder in ("/home/student", "/tmp"):  # a module that would shadow one the next run imports, locked
    os.makedirs(folder + "/jdc")
    with open(folder + "/jdc/__init__.py", "w") as f:
        f.write("raise SystemExit('planted')")
    os.chmod(folder + "/jdc", 0o555)
    try:
        os.chmod(folder, 0o755)  # where the run owns it (no root)
    except OSError:
        pass
time.sleep(0.3)
raise RuntimeError("PLANTED" + json.dumps({"outside": outside, "wrote": wrote}))
""".replace("WRITABLE", repr(WRITABLE))

SPY = WALK + r"""
import ctypes, json, os, sysconfig
found = {"files": [], "processes": [], "server": {}}
installed = tuple({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], "/usr", "/root",
                   "/opt/ddpg-grader/lib"})  # where the real jdc is installed, read-only
for dirpath, dirs, files in walk_rw():  # a file a run left can only be on a read-write mount
    found["files"] += [os.path.join(dirpath, n) for n in dirs + files if n.startswith("planted") or n == "jdc"
                       and not dirpath.startswith(installed)]
found["ipc"] = [line for kind in ("shm", "msg", "sem")
                for line in open(f"/proc/sysvipc/{kind}").read().splitlines()[1:]]
me, server = os.getpid(), os.getppid()
for entry in os.listdir("/proc"):
    if entry.isdigit() and int(entry) not in (1, me, server):
        found["processes"].append(entry)
for what in ("mem", "environ", "fd/0"):
    try:
        open(f"/proc/{server}/{what}", "rb").read(1)
        found["server"][what] = "opened"
    except OSError as err:
        found["server"][what] = type(err).__name__
libc = ctypes.CDLL(None, use_errno=True)
found["server"]["ptrace"] = libc.ptrace(16, server, 0, 0)  # PTRACE_ATTACH
raise RuntimeError("SPY" + json.dumps(found))
"""


def test_nothing_a_run_leaves_reaches_the_next_run(course, attack_pool):
    """One run writes wherever it can, leaves a process behind, 64 MB of System V shared memory and a module
    ``jdc`` (which the next run's cells import) in folders it made read-only; the next run, forked from the same
    server, finds none of them, and cannot open, read or trace the server."""
    planted = _attack(course, attack_pool, [PLANT])
    planted = _payload(planted, "PLANTED")
    assert planted["outside"] == [], "the run could write outside the folders the server empties"
    assert {"/tmp", "/home/student"} <= set(planted["wrote"]), planted  # the walk did reach the writable tmpfs
    started = attack_pool.started
    spy = _attack(course, attack_pool, [SPY])
    assert attack_pool.started == started, "the spy must run in the planter's sandbox for this test to mean anything"
    found = _payload(spy, "SPY")
    assert found["files"] == [] and found["processes"] == [] and found["ipc"] == [], found
    assert found["server"] == {"mem": "PermissionError", "environ": "PermissionError", "fd/0": "PermissionError",
                               "ptrace": -1}, found


def _correct(course, pool):
    spec = _spec(course, "ok_reference")
    run = pool.run(spec["cells"], spec["fixtures"], spec["release"])
    verdicts = decide(run.records, course.reference, run_reason=run.reason)
    assert all(v.passed for v in verdicts), [(v.part.title, v.message) for v in verdicts if not v.passed]


@pytest.mark.parametrize("attack, reason", [
    ("import os, signal; os.kill(os.getppid(), signal.SIGKILL)", None),
    ("import os, signal; os.kill(os.getppid(), signal.SIGSTOP)", None),
    ("import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass", "timed out after 25 s"),
    ("import os, resource\nresource.prlimit(os.getppid(), resource.RLIMIT_AS, (200 << 20, 200 << 20))", None),
    ("import os\nos.setpriority(os.PRIO_PROCESS, os.getppid(), 19)\nos.sched_setaffinity(os.getppid(), {0})", None),
], ids=["kills the server", "stops the server", "hangs past every limit", "lowers the server's memory limit",
        "lowers the server's priority"])
def test_a_run_that_breaks_its_server_costs_only_its_own_run(course, attack_pool, attack, reason):
    _correct(course, attack_pool)  # a server is up, with the release
    started = attack_pool.started
    run = _attack(course, attack_pool, [attack])
    if reason is not None:
        assert run.reason == reason
    _correct(course, attack_pool)
    assert attack_pool.started == started + 1, "a broken server must never be given another run"


def test_a_server_that_died_between_runs_costs_no_one_a_run(course, attack_pool):
    """A server killed while idle (the OOM killer, an operator): the next submission's run goes to a new server
    and gets its verdict, instead of an empty run that would read as the submission's own fault."""
    import signal

    _correct(course, attack_pool)
    idle = attack_pool._idle[-1]
    inner = [int(pid) for pid in _servers_of_this_process() if descends_from(int(pid), idle.proc.pid)]
    assert len(inner) == 1
    os.kill(inner[0], signal.SIGKILL)
    started = attack_pool.started
    _correct(course, attack_pool)
    assert attack_pool.started == started + 1


def test_no_warm_runs_without_the_sandbox():
    with pytest.raises(ValueError, match="need the sandbox"):
        WarmPool(1, SandboxLimits(), STREAM_BYTES_VERDICT, enabled=False)


def test_the_server_refuses_to_start_outside_a_sandbox():
    """Outside a fresh PID namespace it would kill its user's processes and empty /tmp: it refuses first."""
    proc = subprocess.run([sys.executable, "-m", "workshop_lib.grading.forkserver", "99"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "refused: expected to run in a fresh sandbox" in proc.stderr


def test_the_service_pre_grades_in_warm_sandboxes(course):
    """VerdictOnly(warm=...) decides as VerdictOnly with fresh runs: same scores, same messages."""
    service = VerdictOnly(course.folder, log=lambda line: None, warm=1)
    try:
        service.prepare()
        for student in ("ok_reference", "bad_no_done_mask"):
            a, b = course.grade(student), service.grade(student)
            assert [(v.score, v.message) for v in a.verdicts] == [(v.score, v.message) for v in b.verdicts]
        assert service.pool is not None and service.pool.started == 1
    finally:
        service.close()


def _servers_of_this_process() -> list[str]:
    """Warm servers (their Python, not their bwrap) whose ancestors include this process."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0") if entry.name.isdigit() else []
            if argv and os.path.basename(argv[0]).startswith(b"python") \
                    and b"workshop_lib.grading.forkserver" in argv and descends_from(int(entry.name), os.getpid()):
                found.append(entry.name)
        except OSError:
            continue
    return found


def test_make_grade_s_jobs_run_warm_and_their_pool_leaves_nothing_when_closed(course):
    """A job whose spec says ``warm`` (the course's default) runs its verdict run in this process's shared pool,
    with the same records as a fresh one; closing the shared pools leaves no server running."""
    spec = _spec(course, "bad_no_done_mask")
    assert spec["warm"] is True, "the course grades warm by default (c.SandboxedGrading.warm)"
    before = set(_servers_of_this_process())  # other tests' pools (the attack pool) may be open
    runs = []
    for warm_run in (True, False):
        with Job({**spec, "warm": warm_run}) as job:
            job.start_verdict()
            runs.append(RunResult(**job.wait()["verdict"]))
    assert _plain(runs[0].records) == _plain(runs[1].records)
    assert len(warm._shared) == 1 and set(_servers_of_this_process()) - before
    warm.close_shared_pools()
    assert set(_servers_of_this_process()) == before
