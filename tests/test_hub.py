"""The course on a live JupyterHub, end to end, in Chromium: ``autograder/hub/jupyterhub_config.py`` as ``make hub``
runs it (PAM, real Unix users, the local process spawner, the pinned configurable-http-proxy, nbgrader's exchange in
a shared folder), on 127.0.0.1.

One run of the whole term, in order:

1. an instructor and two students are made Unix users (``python -m autograder.hub.users``), with random passwords;
   the course (this repository's ``nbgrader_config.py`` and ``source/``) is copied into the instructor's home;
2. the instructor releases the assignment (``nbgrader generate_assignment`` / ``release_assignment``, run as the
   instructor's Unix user with the environment the hub gives their server) and finds it in the formgrader, in
   JupyterLab on the hub;
3. each student logs in with their password, fetches ``ddpg`` in JupyterLab's Assignments tab, types the master's
   solution of ``select_action`` and ``backward`` into the two answer cells, runs every cell up to the last check
   in their own kernel (each of the four checks says it passed), saves and submits there; the due date is set
   between the two submissions, so alice is on time and bob is late;
4. the instructor collects, grades with ``python -m autograder.grade --course`` (the sandboxed grader, as the
   instructor's user), grades one of alice's written answers by hand in the formgrader on the hub (half its
   points), writes the feedback pages (``python -m autograder.feedback``) and releases them;
5. each student fetches feedback in the Assignments tab and reads their own page: alice 10 plus her hand-graded
   points, bob 10 minus one day's late penalty;
   before that, grading on submit (the hub's service ``ddpg-pregrade``, as the instructor, with a rate limit of
   :data:`PREGRADE_INTERVAL` seconds): alice's submission is pre-graded in the sandbox and she reads her pre-grade
   page after *Fetch Feedback* (each part's verdict, the "grade of record" sentence, the limit); her second
   submission, inside the limit, gets a page that says when the next pre-grade is possible; bob's, after the due
   date, is not pre-graded; the official gradebook holds nothing of it;
6. isolation, through the file system as each student's Unix user and through the hub: neither student can read the
   other's home, submission or feedback, nor the course's source, gradebook, secret or collected submissions, nor
   open the instructor's server or a formgrader.

Everything is removed at the end, however the test ends: the hub and every user's server, the users (``ddpgtest-``
prefix), their groups, the exchange and the hub's state.

Needs root, bubblewrap, ``/usr/bin/chromium``, and ``make hub-install`` (the hub's environment in ``.hub-venv`` and
the proxy in ``autograder/hub/node_modules``). Without them the test is skipped, unless ``REQUIRE_HUB=1``
(``.ci/run`` sets it when it runs as root and has installed the hub), which turns the skip into a failure.
5.5 minutes on 2 cores with other work loading them (load 4 to 5; 3.5 to 5.5 minutes before grading on submit was
in it, about 90 s of it now), most of it the sandboxed grading.
"""

from __future__ import annotations

import datetime
import json
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from autograder.build_notebooks import copy_course
from autograder.hub import settings
from tests.lab_server import jupyter_server
from tests.test_formgrader import manual_cells

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = settings.REPO
HUB_VENV = Path(os.environ.get("HUB_VENV", REPO / ".hub-venv")).resolve()
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
PREFIX = "ddpgtest-"
INSTRUCTOR = PREFIX + "teach"
ALICE, BOB = PREFIX + "alice", PREFIX + "bob"
STUDENTS = (ALICE, BOB)
GROUPS = {"DDPG_INSTRUCTORS": PREFIX + "instructors", "DDPG_STUDENTS": PREFIX + "students"}
MASTER = settings.DEFAULT_COURSE_DIR / "source" / settings.ASSIGNMENT / "ddpg_pendulum.ipynb"
ANSWERS = ("select_action", "backward")  # the grade_ids of the two code exercises
PREGRADE_INTERVAL = 90  # seconds between two pre-grades of one student (a course: 900)
PREGRADE_TIMEOUT = 600  # seconds a pre-grade may take here (about 40 to 90 on these 2 cores, the preflight included)
SCREENSHOTS = REPO / "tmp_ddpg_learning" / "hub"
UI_TIMEOUT_MS = 60_000


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "the hub test needs root (it creates Unix users and starts the hub as root)"
    if not CHROMIUM.is_file():
        return f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
    if shutil.which("bwrap") is None:
        return "bubblewrap not found (apt-get install -y bubblewrap)"
    if not (HUB_VENV / "bin" / "jupyterhub").is_file() or not settings.PROXY_BIN.is_file():
        return f"the hub is not installed ({HUB_VENV}/bin/jupyterhub, {settings.PROXY_BIN}): run `make hub-install`"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    return None


def _free_ports() -> int:
    """A port p with p, p+1 and p+2 free (the proxy, the hub's API, the proxy's API)."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port + 2 > 65535:
            continue
        try:
            for p in (port + 1, port + 2):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", p))
            return port
        except OSError:
            continue
    raise RuntimeError("no three free consecutive ports on 127.0.0.1")


def solution_source(grade_id: str) -> str:
    """The master's answer cell ``grade_id`` as a student who solved it types it: the solution, markers left out."""
    nb = json.loads(MASTER.read_text())
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == grade_id:
            source = "".join(cell["source"])
            return "".join(line for line in source.splitlines(keepends=True)
                           if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
    raise KeyError(grade_id)


@dataclass
class Hub:
    base: Path  # the test's folder: exchange, state, logs
    port: int
    env: dict[str, str]  # the DDPG_* settings of this hub
    passwords: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def course(self) -> Path:
        return Path(self.env["DDPG_COURSE_DIR"])

    @property
    def exchange(self) -> Path:
        return Path(self.env["DDPG_EXCHANGE"])

    @property
    def pregrade(self) -> Path:
        return Path(f"/home/{INSTRUCTOR}/course-pregrade")

    def user_env(self, name: str) -> dict[str, str]:
        """The environment the hub's spawner gives ``name``'s server (jupyterhub_config.py's course_environment)."""
        home = f"/home/{name}"
        env = {"HOME": home, "USER": name, "LOGNAME": name, "LANG": "C.UTF-8", "PYTHONNOUSERSITE": "1",
               "PATH": f"{HUB_VENV / 'bin'}:/usr/local/bin:/usr/bin:/bin",
               "DDPG_EXCHANGE": str(self.exchange), "DDPG_COURSE_ID": settings.COURSE_ID}
        if name == INSTRUCTOR:
            env.update({"JUPYTER_CONFIG_PATH": str(settings.HUB_DIR / "instructor"),
                        "DDPG_COURSE_DIR": str(self.course), "PYTHONPATH": str(REPO)})
        return env

    def run_as(self, name: str, args: list[str], cwd: Path | None = None, check: bool = True,
               timeout: float = 600) -> subprocess.CompletedProcess:
        """``args`` as the Unix user ``name``, in the environment of their server (a terminal in their JupyterLab)."""
        env = self.user_env(name)
        cmd = ["runuser", "-u", name, "--", "env", "-i", *[f"{k}={v}" for k, v in env.items()], *args]
        proc = subprocess.run(cmd, cwd=cwd or env["HOME"], capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} as {name} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n"
                                 f"{proc.stderr[-4000:]}")
        return proc

    def nbgrader(self, *args: str) -> subprocess.CompletedProcess:
        """``nbgrader ARGS`` as the instructor, in the course folder."""
        return self.run_as(INSTRUCTOR, [str(HUB_VENV / "bin" / "nbgrader"), *args], cwd=self.course)

    def can_read(self, name: str, path: Path) -> bool:
        """Whether the Unix user ``name`` can list (a folder) or read (a file) ``path``."""
        cmd = ["ls", "-A", str(path)] if path.is_dir() else ["head", "-c", "1", str(path)]
        return self.run_as(name, cmd, check=False, cwd=Path("/")).returncode == 0


def _users_cli(env: dict[str, str], *args: str) -> None:
    subprocess.run([str(HUB_VENV / "bin" / "python"), "-m", "autograder.hub.users", *args], cwd=REPO,
                   env={**os.environ, **env, "PYTHONPATH": str(REPO)}, check=True)


@pytest.fixture(scope="module")
def hub() -> Iterator[Hub]:
    problem = _missing()
    if problem:
        if os.environ.get("REQUIRE_HUB") == "1":
            pytest.fail(f"REQUIRE_HUB=1 but {problem}")
        pytest.skip(problem)
    base = Path(tempfile.mkdtemp(prefix=PREFIX + "hub-"))
    base.chmod(0o755)  # the exchange inside it is every user's
    port = _free_ports()
    env = {**GROUPS, "DDPG_EXCHANGE": str(base / "exchange"), "DDPG_HUB_STATE": str(base / "state"),
           "DDPG_HUB_PORT": str(port), "DDPG_HUB_IP": "127.0.0.1",
           "DDPG_COURSE_DIR": f"/home/{INSTRUCTOR}/course",
           # grading on submit: a short limit, a quick look at inbound/ (the service's folder: the default,
           # /home/ddpgtest-teach/course-pregrade; its user: the course folder's owner, the instructor)
           "DDPG_PREGRADE_INTERVAL": str(PREGRADE_INTERVAL), "DDPG_PREGRADE_POLL": "1"}
    world = Hub(base, port, env)
    users = [INSTRUCTOR, *STUDENTS]
    try:
        _users_cli(env, "remove", *users)  # what a killed run may have left
        _users_cli(env, "add-instructor", INSTRUCTOR)
        _users_cli(env, "add-student", *STUDENTS)
        for name in users:
            world.passwords[name] = secrets.token_urlsafe(12)
            subprocess.run(["chpasswd"], input=f"{name}:{world.passwords[name]}\n", text=True, check=True)
        # the course: this repository's configuration and master (the project's own copy_course), the instructor's
        copy_course(world.course)
        subprocess.run(["chown", "-R", f"{INSTRUCTOR}:", str(world.course)], check=True)
        (base / "state").mkdir(mode=0o700)
        command = [str(HUB_VENV / "bin" / "jupyterhub"), "-f", str(settings.HUB_DIR / "jupyterhub_config.py")]
        hub_env = {**os.environ, **env}
        hub_env.pop("PYTHONPATH", None)
        with jupyter_server(command, cwd=base / "state", env=hub_env, log_path=base / "hub.log",
                            ready_url=f"{world.url}/hub/api", what="JupyterHub"):
            yield world
    finally:
        try:
            log = (base / "hub.log").read_text()
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            (SCREENSHOTS / "hub.log").write_text(log)
        except OSError:
            pass
        _users_cli(env, "remove", *users)
        _users_cli(env, "teardown")
        shutil.rmtree(base, ignore_errors=True)


# ---- the browser ---------------------------------------------------------------------------------------------------

def login(browser, hub: Hub, name: str):
    """A fresh browser context logged in as ``name`` with their password; their JupyterLab open (spawned)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", name)
    page.fill("#password_input", hub.passwords[name])
    page.click("#login_submit")
    page.wait_for_url(f"**/user/{name}/lab**", timeout=180_000)
    page.wait_for_selector("#jp-main-dock-panel", timeout=120_000)
    return context, page


def nbgrader_menu(page, hub: Hub, name: str) -> set[str]:
    """The labels in JupyterLab's Nbgrader menu of ``name``'s server (the menu keeps an item for a command that a
    disabled plugin never registered, with no label: it is left out)."""
    page.goto(f"{hub.url}/user/{name}/lab")
    page.wait_for_selector("#jp-main-dock-panel")
    page.locator('#jp-menu-panel .lm-MenuBar-itemLabel:text-is("Nbgrader")').click()
    items = page.locator("li[data-command^='nbgrader:'] .lm-Menu-itemLabel")
    items.first.wait_for()
    labels = {items.nth(i).inner_text().strip() for i in range(items.count())} - {""}
    page.keyboard.press("Escape")
    return labels


def open_assignments(page) -> None:
    """The Assignments tab, from JupyterLab's Nbgrader menu, its lists loaded."""
    page.locator('#jp-menu-panel .lm-MenuBar-itemLabel:text-is("Nbgrader")').click()
    page.locator('li[data-command="nbgrader:open-assignment-list"]').click()
    page.wait_for_selector("#released_assignments_list")
    page.locator("#refresh_assignments_list").click()
    for name in ("released", "fetched", "submitted"):
        page.wait_for_selector(f"#{name}_assignments_list_loading", state="hidden")


def rows(page, name: str):
    return page.locator(f"#{name}_assignments_list > .list_item")


def fetch(page) -> None:
    open_assignments(page)
    released = rows(page, "released").filter(has_text=settings.ASSIGNMENT)
    released.first.wait_for()
    assert settings.COURSE_ID in released.first.inner_text()
    released.first.locator(".item_status button").click()
    rows(page, "fetched").filter(has_text=settings.ASSIGNMENT).first.wait_for()


#: Code cells a student runs first, in their own kernel on the hub: the environment check and the imports (torch,
#: jdc, workshop_lib from the hub's environment).
CHECKS = {  # each graded check cell of the notebook, and what it prints when the answer is right
    "test_select_action": "Exercise 1: all checks passed",
    "test_critic_prediction": "critic prediction: all checks passed",
    "test_critic_target": "critic target: all checks passed",
    "test_policy_loss": "policy loss: all checks passed",
}
LAST_CHECK = "# Checks of Exercise 2, step 3 (the policy loss)"  # the policy-loss check cell begins so


def _menu(page, menu: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{menu}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{item}$")).first.click()


def _wait_idle(page, timeout_ms: int = 180_000) -> None:
    """The kernel is idle and no cell waits to run (no ``[*]`` prompt)."""
    page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\| Idle")).wait_for(timeout=timeout_ms)
    page.wait_for_function("() => !Array.from(document.querySelectorAll('.jp-InputPrompt'))"
                           ".some(p => p.textContent.includes('*'))", timeout=timeout_ms)


def answer(page, hub: Hub, name: str) -> None:
    """Open the fetched notebook, type the master's solution into both answer cells, then run every cell up to the
    last check (Run > Run All Above Selected Cell, then that cell) in the student's own kernel, as a student checks
    their work before submitting, and save. The saved file must hold both answers, and each check's output must
    say it passed."""
    page.goto(f"{hub.url}/user/{name}/lab/tree/{settings.ASSIGNMENT}/ddpg_pendulum.ipynb")
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\| Idle")).wait_for(timeout=180_000)  # the kernel
    for grade_id in ANSWERS:
        signature = {"select_action": "def select_action(self, state):", "backward": "def backward(self):"}[grade_id]
        cell = page.locator(".jp-Notebook .jp-CodeCell").filter(has_text="%%add_to DDPGAgent").filter(
            has_text=signature).filter(has_text="raise NotImplementedError()")
        cell.first.scroll_into_view_if_needed()
        editor = cell.first.locator(".cm-content")
        editor.click()
        page.keyboard.press("Control+a")
        page.keyboard.insert_text(solution_source(grade_id))
        page.keyboard.press("Escape")
    last = page.locator(".jp-Notebook .jp-CodeCell").filter(has_text=LAST_CHECK).first
    last.scroll_into_view_if_needed()
    last.locator(".jp-InputPrompt").click()  # selects the (read-only) cell without editing it
    _menu(page, "Run", "Run All Above Selected Cell")
    _wait_idle(page)
    _menu(page, "Run", "Run Selected Cell")
    _wait_idle(page)
    page.keyboard.press("Control+s")
    path = Path(f"/home/{name}/{settings.ASSIGNMENT}/ddpg_pendulum.ipynb")
    deadline = time.monotonic() + 30
    while True:  # the saved file holds both answers, exactly, and the outputs of every cell up to the last check
        nb = json.loads(path.read_text())
        ids = [c["metadata"].get("nbgrader", {}).get("grade_id") for c in nb["cells"]]
        sources = {g: "".join(c["source"]) for g, c in zip(ids, nb["cells"])}
        upto = nb["cells"][:ids.index("test_policy_loss") + 1]
        ran = [c for c in upto if c["cell_type"] == "code"]
        if all(sources.get(g) == solution_source(g) for g in ANSWERS) and all(c["execution_count"] for c in ran):
            break
        if time.monotonic() > deadline:
            shot(page, f"{name}-checks")
            raise AssertionError(f"{name}'s saved notebook does not hold the typed answers and the checks' outputs: "
                                 f"{ {g: sources.get(g, '')[-300:] for g in ANSWERS} }")
        time.sleep(0.5)
    errors = [o for c in ran for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors, f"{name}'s cells up to the last check failed: {errors}"
    for grade_id, passed in CHECKS.items():
        cell = nb["cells"][ids.index(grade_id)]
        printed = "".join("".join(o["text"]) for o in cell["outputs"] if o["output_type"] == "stream")  # str or lines
        assert passed in printed, f"{name}'s check {grade_id} did not pass in their kernel: {printed[-500:]}"


def grade_by_hand(page, hub: Hub, student: str, grade_id: str, score: float) -> None:
    """The instructor types ``score`` into ``student``'s answer ``grade_id`` in the formgrader on the hub (it saves
    on the box's change event)."""
    base = f"{hub.url}/user/{INSTRUCTOR}"
    page.goto(f"{base}/formgrader/gradebook/{settings.ASSIGNMENT}/ddpg_pendulum")  # what the instructor opens
    page.wait_for_selector("tbody tr")
    listed = page.request.get(f"{base}/formgrader/api/submitted_notebooks/{settings.ASSIGNMENT}/ddpg_pendulum")
    assert listed.ok, f"the formgrader's list of submissions: HTTP {listed.status}"
    ids = [s["id"] for s in listed.json() if s["student"] == student]
    assert len(ids) == 1, f"{student} has {len(ids)} submissions in the formgrader"
    page.goto(f"{base}/formgrader/submissions/{ids[0]}")  # the link of the student's row in that list
    box = page.locator(f"input.score#{grade_id}")
    box.wait_for(timeout=60_000)
    box.scroll_into_view_if_needed()
    with page.expect_response(lambda r: "/formgrader/api/grade/" in r.url and r.request.method == "PUT",
                              timeout=30_000) as saved:
        box.fill(f"{score:g}")
        box.press("Tab")
    assert saved.value.ok, f"saving {grade_id} in the formgrader failed: HTTP {saved.value.status}"
    assert json.loads(saved.value.text())["manual_score"] == score


def submit(page) -> None:
    page.goto(page.url.split("/lab")[0] + "/lab")
    page.wait_for_selector("#jp-main-dock-panel")
    open_assignments(page)
    fetched = rows(page, "fetched").filter(has_text=settings.ASSIGNMENT).first
    fetched.locator('.item_status button:text("Submit")').click()
    rows(page, "submitted").filter(has_text=settings.ASSIGNMENT).first.wait_for()


def fetch_feedback(page) -> None:
    open_assignments(page)
    submitted = rows(page, "submitted").filter(has_text=settings.ASSIGNMENT).first
    submitted.wait_for()
    submitted.locator('button:text("Fetch Feedback")').first.click()
    page.locator("#submitted_assignments_list").get_by_text("view feedback").first.wait_for()


def wait_for_pregrade(hub: Hub, student: str, statuses: set[str], count: int = 1) -> list[dict]:
    """The service's state entries of ``student``'s submissions, once ``count`` of them have reached one of
    ``statuses`` (its state file, read as root)."""
    path = hub.pregrade / "pregrade_state.json"
    deadline = time.monotonic() + PREGRADE_TIMEOUT
    while time.monotonic() < deadline:
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            state = {"submissions": {}}
        mine = sorted((e for e in state["submissions"].values() if e["student"] == student and e.get("released")),
                      key=lambda e: e["timestamp"])
        if sum(e["status"] in statuses for e in mine) >= count:
            return mine
        time.sleep(1)
    raise AssertionError(f"no pre-grade of {student} reached {statuses} in {PREGRADE_TIMEOUT} s; the service's "
                         f"log is in the hub's log:\n{(hub.base / 'hub.log').read_text()[-4000:]}")


def official_submissions(course: Path) -> list[str]:
    """The students with a submission in the official gradebook (read-only)."""
    import sqlite3

    with sqlite3.connect(f"file:{course / 'gradebook.db'}?mode=ro", uri=True) as db:
        return [row[0] for row in db.execute("SELECT student_id FROM submitted_assignment")]


def feedback_text(page, hub: Hub, name: str, timestamp: str) -> str:
    """The text of ``name``'s fetched feedback page of the submission at ``timestamp``, as their browser shows it."""
    path = Path(f"/home/{name}/{settings.ASSIGNMENT}/feedback/{timestamp}/ddpg_pendulum.html")
    deadline = time.monotonic() + 30  # Fetch Feedback's copy may still be under way
    while not path.is_file() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert path.is_file(), sorted(str(p) for p in path.parent.parent.glob("*/*"))
    page.goto(f"{hub.url}/user/{name}/files/{path.relative_to(f'/home/{name}')}")
    return page.locator("body").inner_text()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


# ---- the term ------------------------------------------------------------------------------------------------------

def test_a_term_on_the_hub(hub: Hub) -> None:
    from playwright.sync_api import sync_playwright

    started = time.monotonic()
    # 1. the instructor releases the assignment, as their Unix user (their JupyterLab's terminal would do the same)
    hub.nbgrader("generate_assignment", settings.ASSIGNMENT, "--force")
    hub.nbgrader("release_assignment", settings.ASSIGNMENT)
    assert (hub.exchange / settings.COURSE_ID / "outbound" / settings.ASSIGNMENT / "ddpg_pendulum.ipynb").is_file()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            # the instructor's formgrader serves the course: the assignment, released
            teach_ctx, teach = login(browser, hub, INSTRUCTOR)
            teach.goto(f"{hub.url}/user/{INSTRUCTOR}/formgrader/manage_assignments")
            row = teach.locator("tr").filter(has_text=settings.ASSIGNMENT).filter(has_text="released").first
            row.wait_for()
            shot(teach, "instructor-formgrader")
            menu = nbgrader_menu(teach, hub, INSTRUCTOR)
            assert {"Assignment List", "Formgrader"} <= menu, menu

            # 2. alice: fetch, answer, submit (on time)
            alice_ctx, alice = login(browser, hub, ALICE)
            menu = nbgrader_menu(alice, hub, ALICE)
            assert "Assignment List" in menu and not {"Formgrader", "Formgrader (local)"} & menu, menu
            fetch(alice)
            shot(alice, "alice-fetched")
            answer(alice, hub, ALICE)
            submit(alice)
            shot(alice, "alice-submitted")

            # grading on submit: the service pre-grades alice's submission; she fetches it in the Assignments tab
            pregrade_started = time.monotonic()
            (first,) = wait_for_pregrade(hub, ALICE, {"graded"})
            print(f"alice's pre-grade released {time.monotonic() - pregrade_started:.0f} s after her submit")
            assert official_submissions(hub.course) == [], "a pre-grade reached the official gradebook"
            fetch_feedback(alice)
            text = feedback_text(alice, hub, ALICE, first["timestamp"])
            shot(alice, "alice-pregrade-page")
            from autograder.parts import PARTS

            for part in PARTS:  # each part's verdict, with the visible check's message ("passed" here)
                assert re.search(rf"{re.escape(part.title)}\s+{part.points:g}\s*/\s*{part.points:g}\s+passed",
                                 text), (part.title, text[:3000])
            assert re.search(r"Autograded: 10(\.0)? / 10", text), text[:3000]
            assert "The grade of record is the instructor's grade after the due date" in text, text[:3000]
            assert re.search(r"next pre-grade possible at \d\d:\d\d", text), text[:3000]
            assert "HIDDEN" not in text and BOB not in text
            # a second submission inside the limit: a page that says when the next pre-grade is possible
            alice.goto(f"{hub.url}/user/{ALICE}/lab")
            submit(alice)
            _, second = wait_for_pregrade(hub, ALICE, {"graded", "queued"}, count=2)
            assert second["status"] == "queued", second
            alice.goto(f"{hub.url}/user/{ALICE}/lab")
            alice.wait_for_selector("#jp-main-dock-panel")
            fetch_feedback(alice)
            text = feedback_text(alice, hub, ALICE, second["timestamp"])
            shot(alice, "alice-pregrade-later")
            assert re.search(r"next pre-grade possible at \d\d:\d\d", text) and "grade of record" in text, text
            assert hub.pregrade.stat().st_uid == pwd.getpwnam(INSTRUCTOR).pw_uid  # the service ran as the instructor

            # the due date falls between the two submissions
            time.sleep(1.5)
            due = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
            hub.nbgrader("db", "assignment", "add", settings.ASSIGNMENT, f"--duedate={due}")
            time.sleep(1.5)

            # 3. bob: the same, after the due date
            bob_ctx, bob = login(browser, hub, BOB)
            fetch(bob)
            answer(bob, hub, BOB)
            submit(bob)
            (late,) = wait_for_pregrade(hub, BOB, {"closed"})  # after the due date: no pre-grade, a page says so
            assert late["status"] == "closed", late
            assert official_submissions(hub.course) == [], "a pre-grade reached the official gradebook"

            # neither student reaches the instructor's server or a formgrader through the hub
            for page, name in ((alice, ALICE), (bob, BOB)):
                resp = page.goto(f"{hub.url}/user/{INSTRUCTOR}/lab")
                assert f"/user/{INSTRUCTOR}/lab" not in page.url or (resp and resp.status >= 400), page.url
                resp = page.goto(f"{hub.url}/user/{name}/formgrader")
                assert resp is not None and resp.status == 404, f"{name}'s server serves a formgrader"

            # bob, in his terminal, tries what `nbgrader collect` would believe (docs/hub.md, "Collecting"): he renames
            # his late submission to a time before the due date (and writes that time in its timestamp.txt), and
            # makes a folder named for alice, with a later time and an empty notebook
            inbound = hub.exchange / settings.COURSE_ID / "inbound"
            (real,) = [n for n in os.listdir(inbound) if n.startswith(f"{BOB}+")]
            bob_stamp = real.split("+")[2]
            early = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=2)).strftime(
                "%Y-%m-%d %H:%M:%S.%f UTC")
            later = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=2)).strftime(
                "%Y-%m-%d %H:%M:%S.%f UTC")
            forged = f"{ALICE}+{settings.ASSIGNMENT}+{later}+forged"
            hub.run_as(BOB, ["/usr/bin/python3", "-c", (
                "import os, sys; inbound, real, early, forged = sys.argv[1:]\n"
                "back = os.path.join(inbound, real.replace(real.split('+')[2], early))\n"
                "os.rename(os.path.join(inbound, real), back)\n"
                "open(os.path.join(back, 'timestamp.txt'), 'w').write(early)\n"
                "os.mkdir(os.path.join(inbound, forged))\n"
                "open(os.path.join(inbound, forged, 'ddpg_pendulum.ipynb'), 'w').write("
                "'{\"cells\": [], \"metadata\": {}, \"nbformat\": 4, \"nbformat_minor\": 5}')\n"
                "open(os.path.join(inbound, forged, 'timestamp.txt'), 'w').write(forged.split('+')[2])\n"),
                str(inbound), real, early, forged])

            # 4. the instructor collects (checking each folder's owner, links and time), grades in the sandbox,
            # writes and releases feedback
            collected_run = hub.run_as(INSTRUCTOR, [
                str(HUB_VENV / "bin" / "python"), "-m", "autograder.hub.collect", "--course", str(hub.course),
                "--exchange", str(hub.exchange), "--group", GROUPS["DDPG_STUDENTS"]], cwd=REPO, check=False)
            print(collected_run.stdout[-3000:], collected_run.stderr[-2000:])
            assert collected_run.returncode == 0, collected_run.stdout + collected_run.stderr
            assert re.search(rf"^\| {BOB} \|.*\| collected: .*the later time counts", collected_run.stdout, re.M)
            assert re.search(r"^\| alice \| .*forged \|.*\| refused: not owned by the student it names",
                             collected_run.stdout.replace(ALICE, "alice"), re.M), collected_run.stdout
            for name in STUDENTS:
                assert (hub.course / "submitted" / name / settings.ASSIGNMENT / "timestamp.txt").is_file()
            # the grading on submit service refused the forgery too, and took bob's renamed folder as after the due
            # date (its state file, read as root)
            deadline, entries = time.monotonic() + 60, {}
            while time.monotonic() < deadline and len(entries) < 2:
                entries = {n: e for n, e in json.loads((hub.pregrade / "pregrade_state.json").read_text())[
                    "submissions"].items() if n == forged or (n != real and n.endswith("+" + real.split("+")[3]))}
                time.sleep(1)
            assert entries[forged]["status"] == "refused", entries
            assert entries[forged]["why"] == "not owned by the student it names", entries
            (renamed,) = [e for n, e in entries.items() if n != forged]
            assert renamed["status"] == "closed", renamed
            graded = hub.run_as(INSTRUCTOR, [str(HUB_VENV / "bin" / "python"), "-m", "autograder.grade",
                                             "--course", str(hub.course), "--jobs", "1"], cwd=REPO, timeout=1200)
            print(graded.stdout[-3000:])
            scores = read_totals(hub.course)
            # the course's policy (autograder/late.py): 10 % of the notebook's points (code and written answers)
            # per started day late; bob is seconds late, so one day
            assert scores[ALICE][:3] == (10.0, 0.0, 0.0), scores
            code, penalty, late_s, max_score = scores[BOB]
            assert code == 10.0 and 0 < late_s < 24 * 3600, scores
            assert penalty == pytest.approx(0.10 * max_score) and penalty > 0, scores
            # the instructor grades one of alice's written answers by hand, in the formgrader on the hub
            question, points = next(iter(manual_cells(MASTER).items()))
            grade_by_hand(teach, hub, ALICE, question, points / 2)
            shot(teach, "instructor-graded-by-hand")
            assert read_totals(hub.course)[ALICE][0] == 10.0, "grading by hand changed the autograded score"
            released = hub.run_as(INSTRUCTOR, [str(HUB_VENV / "bin" / "python"), "-m", "autograder.hub.feedback",
                                               "--course", str(hub.course)], cwd=REPO)
            print(released.stdout[-2000:])

            # 5. each student fetches their feedback in the Assignments tab, and gets their own page only
            pages = {}
            for page, name in ((alice, ALICE), (bob, BOB)):
                page.goto(f"{hub.url}/user/{name}/lab")
                page.wait_for_selector("#jp-main-dock-panel")
                fetch_feedback(page)
                shot(page, f"{name}-feedback")
                # the page of the collected (last) submission is the instructor's: it replaced the service's
                # (its folder is named by the time of the student's own submit: bob's, not the time of record)
                collected = (hub.course / "submitted" / name / settings.ASSIGNMENT / "timestamp.txt").read_text()
                if name == BOB:
                    collected = bob_stamp
                fetched = Path(f"/home/{name}/{settings.ASSIGNMENT}/feedback/{collected.strip()}/ddpg_pendulum.html")
                others = set(fetched.parent.parent.glob("*/*.html")) - {fetched}
                assert len(others) == (1 if name == ALICE else 0), others  # alice's first pre-grade stays hers
                expected = hub.course / "feedback" / name / settings.ASSIGNMENT / "ddpg_pendulum.html"
                assert fetched.read_bytes() == expected.read_bytes(), f"{name} got another page than theirs"
                pages[name] = feedback_text(page, hub, name, collected.strip())
                shot(page, f"{name}-feedback-page")
            assert pages[ALICE] != pages[BOB]
            assert sorted(official_submissions(hub.course)) == sorted(STUDENTS)  # the official run's, and only once
            assert "pre-grade" not in pages[ALICE] and "pre-grade" not in pages[BOB]
            for name, expected_total in ((ALICE, 10.0 + points / 2), (BOB, 10.0 - penalty)):
                total = re.search(r"Total: ([0-9.]+) / ([0-9.]+)", pages[name])
                assert total and float(total.group(1)) == pytest.approx(expected_total), (name, total)
            other = {ALICE: BOB, BOB: ALICE}
            for name, text in pages.items():
                assert other[name] not in text, f"{name}'s feedback names {other[name]}"
            assert "late" in pages[BOB].lower()

            # 6. isolation through the file system, as each student's Unix user
            exchange_course = hub.exchange / settings.COURSE_ID
            for name in STUDENTS:
                them = other[name]
                forbidden = [
                    Path(f"/home/{them}"), Path(f"/home/{them}/{settings.ASSIGNMENT}/ddpg_pendulum.ipynb"),
                    *Path(f"/home/{them}/{settings.ASSIGNMENT}/feedback").glob("*/*.html"),
                    exchange_course / "inbound", exchange_course / "feedback",
                    hub.course, hub.course / "source" / settings.ASSIGNMENT / "ddpg_pendulum.ipynb",
                    hub.course / "gradebook.db", hub.course / ".grading_secret",
                    hub.course / "submitted" / them / settings.ASSIGNMENT / "ddpg_pendulum.ipynb",
                    hub.course / "feedback" / them / settings.ASSIGNMENT / "ddpg_pendulum.html",
                    hub.pregrade, hub.pregrade / "gradebook.db", hub.pregrade / "pregrade_state.json",
                    hub.pregrade / "submitted" / ALICE / settings.ASSIGNMENT / "ddpg_pendulum.ipynb",
                ]
                readable = [str(path) for path in forbidden if hub.can_read(name, path)]
                assert not readable, f"{name} can read: {readable}"
                # what nbgrader's exchange keeps readable by name only (unguessable names in unlistable folders)
                by_name = [path for path in [*exchange_course.glob(f"inbound/{them}+*/*.ipynb"),
                                             *exchange_course.glob("feedback/*.html")]
                           if hub.can_read(name, path)]
                print(f"{name}: readable by exact name only (folders not listable): {[str(p) for p in by_name]}")
        finally:
            browser.close()
    print(f"the term took {time.monotonic() - started:.0f} s")


def read_totals(course: Path) -> dict[str, tuple[float, float, float, float]]:
    """``{student: (autograded score, late penalty, seconds late, the assignment's maximum)}`` from the course's
    gradebook."""
    from nbgrader.api import Gradebook

    totals = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for name in STUDENTS:
            sub = gb.find_submission(settings.ASSIGNMENT, name)
            totals[name] = (float(sub.code_score), float(sub.late_submission_penalty or 0.0),
                            float(sub.total_seconds_late), float(sub.max_score))
    return totals
