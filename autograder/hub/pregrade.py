"""Grading on submit: the hub's managed service ``ddpg-pregrade`` (docs/hub.md, "Grading on submit").

    python -m autograder.hub.pregrade            # what the hub runs, as the instructor's Unix user (never root)
    python -m autograder.hub.pregrade --once     # one look at the exchange, its pre-grades to their end, then exit

It never takes a request: what it reads of a student is what they submitted, and it answers through nbgrader's
own feedback channel. Every ``DDPG_PREGRADE_POLL`` seconds (2), and as soon as a pre-grade ends, it:

1. **notices** each new folder of the exchange's ``inbound/`` (``{student}+ddpg+{timestamp}+{random}``, written
   by the student's ``nbgrader submit``). A folder is taken only if it is a real folder, owned by the Unix user it
   names, a member of the students' group; anything else is recorded as refused (in the log and the state file)
   and never read. Its time is :func:`autograder.hub.exchange.examine`'s (a backdated name counts at the
   time the exchange received the folder). Only the newest submission of a student waits in the queue: a newer one
   replaces it.
2. **limits**: a student is pre-graded at most once per ``DDPG_PREGRADE_INTERVAL`` seconds and
   ``DDPG_PREGRADE_PER_DAY`` times in any 24 hours (:func:`next_allowed`). A submission that must wait gets a short
   page at once, "next pre-grade possible at 14:05", and is graded then (if no newer one replaced it). After the
   due date (the official gradebook's, read-only) nothing more is pre-graded: the grade is the instructor's
   ``make grade``; a submission after it gets a page that says so.
3. **pre-grades** each allowed submission on one of ``DDPG_PREGRADE_JOBS`` workers, as soon as one is free
   (:mod:`autograder.hub.verdict_only`): the submission is copied (the folder opened once, without following a
   link, and checked again to be the student's; the files at its top only, regular files only, capped;
   :func:`copy_submission`) into the service's own nbgrader course folder (``DDPG_PREGRADE_DIR``: the course's
   ``nbgrader_config.py`` and ``source/``, its own release and secret), read by :mod:`autograder.ingest`, and
   its verdict run (the sandbox of ``make grade``) decides each part against the reference, by the same code as
   ``make grade``. No notebook run and no ``nbgrader autograde``: they make the outputs and the gradebook of a
   grade of record, which a pre-grade is not. While no pre-grade is under way, the course is copied afresh and,
   if the master, the config or the grader changed, the release is made again and the master's own solution is
   pre-graded first: if it does not pass, each student gets a page that says the grader is at fault.
4. **hands back** each page the moment its pre-grade ends (:func:`autograder.feedback.pregrade_page`: each part's
   verdict with the visible check's message, no hidden test, no reference value, then the submission's code and
   text) with a notice on top (it is a pre-grade, the grade of record is the instructor's after the due date, the
   next pre-grade's time), beside the submission's own ``timestamp.txt`` and ``submission_secret.txt``, through
   nbgrader's ``release_feedback``: the student clicks *Fetch Feedback* in the Assignments tab. The page's name in
   the exchange is a hash of that submission's secret: only the student who submitted can find it. The
   instructor's later ``release_feedback`` of the same submission replaces it with the grade of record.

The official course folder, its gradebook, the formgrader and ``make export`` never see a pre-grade: all of it is
in ``DDPG_PREGRADE_DIR``. The state file there (``pregrade_state.json``) records every folder seen and what became of
it and each student's pre-grade times: a restarted service resumes the queue and never grades again a submission
it released. A submission whose grading was cut by a restart is graded again (it was never released).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder import feedback, ingest
from autograder.course_folder import (
    ASSIGNMENT,
    CONFIG_NAME,
    COURSE_ID,
    feedback_page,
    source_dir,
    submitted_root,
)
from autograder.hub.exchange import (
    Received,
    Submission,
    copy_submission,
    due_date,
    examine,
    inbound_dir,
    parse_name,
    parse_time,
    read_keys,
    student_uid,
)
from autograder.hub.verdict_only import PreGrade, VerdictOnly
from autograder.text import shown

STATE_NAME = "pregrade_state.json"
STATE_VERSION = 1
DAY_S = 24 * 3600.0
MAX_TAKEN_PER_STUDENT = 100
"""Submission folders of one student the service takes (records and may grade); the ones after are left alone (not
recorded, logged once): a student who makes folders by the thousand cannot grow the state file without end."""
MAX_REFUSED_RECORDED = 1000
"""Refused folders recorded in the state file (and logged one by one); the ones after are kept in memory only, and
logged once."""
FINISHED = ("graded", "replaced", "refused", "closed", "failed")
"""Statuses of a submission the service is done with: never looked at again."""


class StateError(RuntimeError):
    """The state file cannot be used; the message says what was expected, what was found and how to fix it."""


@dataclass(frozen=True)
class Limits:
    """How often one student may be pre-graded."""

    interval_s: float = 900.0
    per_day: int = 8

    def describe(self) -> str:
        return f"one pre-grade every {_duration(self.interval_s)} and {self.per_day} a day per student"


def _duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return f"{hours} hour{'s' if hours > 1 else ''}"
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes > 1 else ''}"
    return f"{seconds:g} seconds"


def next_allowed(graded: list[float], now: float, limits: Limits) -> float:
    """When the next pre-grade of a student is allowed, given the times of their pre-grades (seconds since the
    epoch): not before ``interval_s`` after the last one, and not while ``per_day`` of them fall in the last 24
    hours. A time at or before ``now`` means: now."""
    recent = sorted(t for t in graded if t > now - DAY_S)
    at = now
    if recent:
        at = max(at, recent[-1] + limits.interval_s)
    if len(recent) >= limits.per_day:
        at = max(at, recent[-limits.per_day] + DAY_S)
    return at


def clock(at: float, limits: Limits) -> str:
    """``14:05 UTC`` (rounded up to the minute), or ``14:04:37 UTC`` when the interval is under two minutes."""
    if limits.interval_s < 120:
        return time.strftime("%H:%M:%S %Z", time.localtime(at))
    return time.strftime("%H:%M %Z", time.localtime(-(-at // 60) * 60))


# ------------------------------------------------------------------------------------------- the state file
def empty_state() -> dict[str, Any]:
    return {"version": STATE_VERSION, "submissions": {}, "students": {}}


def load_state(path: Path) -> dict[str, Any]:
    """The state file's content; a fresh state when there is none.

    Raises:
        StateError: the file is not a state this service wrote (not JSON, another shape or version).
    """
    try:
        text = path.read_text()
    except FileNotFoundError:
        return empty_state()
    fix = (f"fix: look at it, then move it aside (mv {path} {path}.broken) and restart the service; it then takes "
           "every submission now in inbound/ as new and pre-grades each student's newest one once")
    try:
        state = json.loads(text)
    except ValueError as err:
        raise StateError(f"{path}: expected the pre-grading service's JSON state, got unreadable JSON ({err}); "
                         f"{fix}") from None
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        got = state.get("version") if isinstance(state, dict) else type(state).__name__
        raise StateError(f"{path}: expected a state of version {STATE_VERSION}, got {shown(got, 40)!r}; {fix}")
    subs, students = state.get("submissions"), state.get("students")
    if not isinstance(subs, dict) or not isinstance(students, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("student"), str) and isinstance(v.get("status"), str)
            for v in subs.values()) or not all(
            isinstance(v, dict) and isinstance(v.get("graded"), list)
            and all(isinstance(t, (int, float)) for t in v["graded"])
            and (v.get("queued") is None or isinstance(subs.get(v["queued"]), dict)
                 and isinstance(subs[v["queued"]].get("timestamp"), str))
            for v in students.values()):
        raise StateError(f"{path}: expected 'submissions' ({{folder: {{student, status}}}}) and 'students' "
                         f"({{name: {{graded: [times], queued: a folder of 'submissions' or null}}}}), got another "
                         f"shape; {fix}")
    return state


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Write the state whole, then rename it over the old one: a crash leaves the old or the new, never half."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(state, out, indent=1, sort_keys=True)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------------ the pages
def notice(student: str, title: str, paragraphs: list[str]) -> str:
    """A short page (no grade in it) handed out through the same channel as a feedback page (``paragraphs``:
    HTML made by the caller, any student text in it escaped)."""
    return feedback.document(f"Pre-grade: {student}",
                             [f"<h1>{html.escape(title)}</h1>", *(f"<p>{p}</p>" for p in paragraphs)])


RECORD = ("This is a pre-grade, made automatically when you submitted: it is not your grade. The grade of record is "
          "the instructor's grade after the due date, of the submission you handed in last.")


# ------------------------------------------------------------------------------------------------ the service
@dataclass
class Tick:
    """What one look at the exchange did (for the log, the tests and the benchmark)."""

    noticed: list[str] = field(default_factory=list)
    graded: list[str] = field(default_factory=list)
    """Submission folders pre-graded and released."""
    deferred: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    released: dict[str, float] = field(default_factory=dict)
    """``{folder: time}`` of each page put in the exchange (the service's clock)."""



GradeFn = Callable[[str], PreGrade]
"""``student -> PreGrade`` of the submission copied into the service's ``submitted/<student>/ddpg/``."""


class Pregrader:
    """The service's state and its steps; :meth:`tick` is one look at the exchange."""

    def __init__(self, folder: Path, course: Path, exchange: Path, limits: Limits, jobs: int = 2,
                 uid_of: Callable[[str], int | None] | None = None, grade: GradeFn | None = None,
                 prepare: Callable[[], None] | None = None, clock_fn: Callable[[], float] = time.time,
                 log: Callable[[str], None] | None = None) -> None:
        """
        Args:
            folder: the service's own course folder (``DDPG_PREGRADE_DIR``), made if missing (mode 700).
            course: the official course folder (read only: its config, source and due date).
            exchange: nbgrader's exchange root (``inbound/`` and ``feedback/`` are under ``<exchange>/<course id>``).
            limits: how often one student may be pre-graded.
            jobs: submissions pre-graded at once.
            uid_of: ``student -> uid`` of a student of the course (None: not one); default, the Unix user in the
                students' group of the hub's settings.
            grade: pre-grades one copied-in submission (default: :meth:`VerdictOnly.grade` on ``folder``).
            prepare: makes the release and passes the preflight when they are not current, or raises
                :class:`GraderBroken` (default: :meth:`VerdictOnly.prepare`).
        """
        from autograder.hub import settings

        self.folder, self.course, self.exchange = folder, course, exchange
        self.limits, self.jobs, self.now = limits, jobs, clock_fn
        group = settings.students_group()
        self.uid_of = uid_of or (lambda name: student_uid(name, group))
        self.log = log or (lambda line: print(line, flush=True))
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if grade is None or prepare is None:
            grader = VerdictOnly(folder, log=self.log, warm=jobs)  # one warm sandbox per worker
            grade, prepare = grade or grader.grade, prepare or grader.prepare
        self.grade, self.prepare = grade, prepare
        self.pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="pregrade")
        self.running: dict[Future[PreGrade], tuple[str, str]] = {}
        """Pre-grades under way: ``future -> (folder, student)``."""
        self.state_path = folder / STATE_NAME
        self.state = load_state(self.state_path)
        self.ignored: set[str] = set()
        """Folders past the caps: not recorded, not looked at again while the service runs."""
        self.capped: set[str] = set()
        """Students past :data:`MAX_TAKEN_PER_STUDENT` (logged once each)."""
        self.taken = Counter(v["student"] for v in self.state["submissions"].values() if v["status"] != "refused")
        self.refused = sum(v["status"] == "refused" for v in self.state["submissions"].values())
        self._resume()

    @property
    def inbound(self) -> Path:
        return inbound_dir(self.exchange)

    # -- state helpers
    def _student(self, name: str) -> dict[str, Any]:
        return self.state["students"].setdefault(name, {"graded": [], "queued": None})

    def _set(self, name: str, status: str, why: str = "") -> None:
        entry = self.state["submissions"][name]
        entry.update(status=status, at=self.now())
        if why:
            entry["why"] = why

    def _resume(self) -> None:
        """A submission left 'grading' by a stopped service was never released: it goes back to the queue."""
        for name, entry in self.state["submissions"].items():
            if entry["status"] == "grading":
                student = self._student(entry["student"])
                if student.get("queued") in (None, name):
                    student["queued"] = name
                    entry["status"] = "queued"
                else:
                    entry["status"] = "replaced"

    # -- 1. notice
    def check(self, sub: Submission) -> Received | str:
        """The folder ``sub``'s time if it is taken, else why not (:func:`autograder.hub.exchange.examine`)."""
        return examine(self.inbound, sub, self.uid_of(sub.student))

    def _refuse(self, name: str, student: str, why: str) -> None:
        """Record ``name`` as refused (in memory only past :data:`MAX_REFUSED_RECORDED`)."""
        if self.refused >= MAX_REFUSED_RECORDED:
            self.ignored.add(name)
            if len(self.ignored) == 1:
                self.log(f"more than {MAX_REFUSED_RECORDED} refused folders in inbound/: the next ones are neither "
                         "recorded nor logged one by one (look at who makes them: `ls -ln` of inbound/)")
            return
        self.refused += 1
        self.state["submissions"][name] = {"student": student, "status": "refused", "at": self.now(), "why": why}
        self.log(f"refused {shown(name, 120)}: {why}")

    def scan(self, tick: Tick) -> None:
        try:
            names = sorted(e.name for e in os.scandir(self.inbound))
        except FileNotFoundError:
            return
        seen = self.state["submissions"]
        for name in names:
            if name in seen or name in self.ignored:
                continue
            sub = parse_name(name)
            if sub is None:
                self._refuse(name, "", "not a submission's name")
                continue
            received = self.check(sub)  # its time: a backdated name counts at the time the exchange received it
            if isinstance(received, str):
                self._refuse(name, sub.student, received)
                continue
            if self.taken[sub.student] >= MAX_TAKEN_PER_STUDENT:
                self.ignored.add(name)
                if sub.student in self.capped:
                    continue
                self.capped.add(sub.student)
                self.log(f"{shown(name, 120)}: left alone, {shown(sub.student, 40)} has made more than "
                         f"{MAX_TAKEN_PER_STUDENT} submissions (the instructor's collect still takes their newest)")
                continue
            self.taken[sub.student] += 1
            seen[name] = {"student": sub.student, "status": "new", "at": self.now(), "timestamp": received.text}
            if received.note:
                self.log(f"{shown(name, 120)}: {received.note}")
            tick.noticed.append(name)
            student = self._student(sub.student)
            older = student.get("queued")
            if older and parse_time(seen[older]["timestamp"]) > received.seconds:
                self._set(name, "replaced", "an older submission than the one queued")
                continue
            if older:
                self._set(older, "replaced", f"replaced by {name}")
            student["queued"] = name
            self._set(name, "queued")

    # -- 2. limit, 3. grade, 4. hand back
    def tick(self, block: bool = True) -> Tick:
        """One look at the exchange: notice, hand back the pages of the pre-grades that ended, limit, start the
        pre-grades that may start on the free workers. Without ``block`` (the service's loop) that is all: a page
        goes out at the first look after its pre-grade ends, and a submission that arrives meanwhile starts as soon
        as a worker is free. With ``block`` (the tests, ``--once``) it goes on until nothing is under way and
        nothing queued may start. The state is saved after each step that changes what a restart must know."""
        tick = Tick()
        self.scan(tick)
        while True:
            self.collect(tick)
            pages, start = self.limit(tick)
            if pages:
                self.release(pages, tick)
            if start:
                self.start(start, tick)
            save_state(self.state_path, self.state)
            if not block or not self.running:
                return tick
            wait(list(self.running), return_when=FIRST_COMPLETED)

    def idle(self, seconds: float) -> None:
        """Wait ``seconds``, or less if a pre-grade under way ends first (its page goes out at the next tick)."""
        if self.running:
            wait(list(self.running), timeout=seconds, return_when=FIRST_COMPLETED)
        else:
            time.sleep(seconds)

    def busy(self) -> set[str]:
        """Students whose pre-grade is under way."""
        return {student for _, student in self.running.values()}

    def limit(self, tick: Tick) -> tuple[dict[str, str], list[str]]:
        """Step 2: the notices to hand back now (``{folder: page}``: closed by the due date, deferred by the rate
        limit) and the queued submissions that may start, as many as there are free workers."""
        due = due_date(self.course)
        now = self.now()
        start, pages = [], {}
        free = self.jobs - len(self.running)
        busy = self.busy()
        for student, info in sorted(self.state["students"].items()):
            name = info.get("queued")
            if not name or student in busy:
                continue
            entry = self.state["submissions"][name]
            submitted = parse_time(entry["timestamp"]) or now
            if due is not None and (submitted > due or now > due):
                info["queued"] = None
                self._set(name, "closed")
                tick.closed.append(name)
                pages[name] = notice(student, "No pre-grade after the due date", [
                    f"Your submission of {html.escape(entry['timestamp'])} came after the due date "
                    f"({time.strftime('%Y-%m-%d %H:%M %Z', time.localtime(due))})"
                    if submitted > due else "The due date passed before this submission's turn came "
                    f"({time.strftime('%Y-%m-%d %H:%M %Z', time.localtime(due))}).",
                    "Pre-grading stops at the due date. The grade of record is the instructor's grade after the due "
                    "date, of the submission you handed in last."])
                continue
            at = next_allowed(info["graded"], now, self.limits)
            if at <= now:
                if len(start) < free:
                    start.append(name)
            elif not entry.get("noticed"):
                entry["noticed"] = True
                tick.deferred.append(name)
                pages[name] = notice(student, "Submission received: pre-grade later", [
                    f"Your submission of {html.escape(entry['timestamp'])} was received.",
                    f"Pre-grades are limited to {self.limits.describe()}: the next pre-grade possible at "
                    f"<b>{clock(at, self.limits)}</b>. Then the service pre-grades the newest submission you have "
                    "made by that time; its page replaces this one (click Fetch Feedback again).",
                    html.escape(RECORD, quote=False)])
        return pages, start

    def prepare_course(self) -> None:
        """The service's course folder: the official course's ``nbgrader_config.py`` and ``source/``, fresh
        whenever no pre-grade is under way (an instructor's fix of the master reaches the next pre-grade)."""
        shutil.copy2(self.course / CONFIG_NAME, self.folder / CONFIG_NAME)
        dest = source_dir(self.folder)
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(source_dir(self.course), dest, ignore=shutil.ignore_patterns(".ipynb_checkpoints",
                                                                                        "__pycache__"))

    def start(self, names: list[str], tick: Tick) -> None:
        """Step 3: copy each submission in and start its pre-grade on a free worker. When no pre-grade is under
        way, the course is copied afresh first and the release and preflight made again if they are stale; if the
        grader is broken, nothing starts and each student gets a page that says so (not a zero)."""
        if not self.running:
            try:
                self.prepare_course()
                self.prepare()
            except Exception as err:  # noqa: BLE001 - GraderBroken, or the course could not be copied
                self.log(f"the grader is broken, nothing pre-graded: {shown(err, 2000)}")
                pages = {}
                for name in names:
                    self._finish(name, "failed", "the grader is broken")
                    tick.failed.append(name)
                    pages[name] = self.failure_page(name, grader_fault=True)
                self.release(pages, tick)
                return
        for name in names:
            student = self.state["submissions"][name]["student"]
            shutil.rmtree(feedback_page(self.folder, student).parent, ignore_errors=True)
            try:
                notes = copy_submission(self.inbound / name, submitted_root(self.folder) / student / ASSIGNMENT,
                                        self.uid_of(student)).notes
            except ingest.Refused as err:  # changed since it was noticed: not graded
                self.log(f"{shown(name, 120)}: refused: {err}")
                shutil.rmtree(submitted_root(self.folder) / student, ignore_errors=True)
                self._finish(name, "refused", str(err))
                continue
            for note in notes:
                self.log(f"{shown(name, 120)}: {note}")
            self._set(name, "grading")
            self.running[self.pool.submit(self._timed, student)] = (name, student)

    def _timed(self, student: str) -> PreGrade:
        started = time.perf_counter()
        try:
            return self.grade(student)
        finally:
            self.log(f"pre-graded {shown(student, 40)} in {time.perf_counter() - started:.1f} s")

    def _dequeue(self, name: str) -> None:
        """``name`` is no longer its student's queued submission (if it still was)."""
        info = self._student(self.state["submissions"][name]["student"])
        if info.get("queued") == name:
            info["queued"] = None

    def _finish(self, name: str, status: str, why: str = "") -> None:
        """``name`` leaves the queue with ``status``."""
        self._dequeue(name)
        self._set(name, status, why)

    def collect(self, tick: Tick) -> None:
        """Step 4: hand back the page of every pre-grade that has ended, one release each (never waits)."""
        for future in [f for f in self.running if f.done()]:
            name, student = self.running.pop(future)
            try:
                outcome = future.result()
            except Exception as err:  # noqa: BLE001 - the grader's own failure: said so, never a zero
                outcome = PreGrade(None, why=f"{type(err).__name__}: {shown(err, 300)}", grader_fault=True)
            self.release(self.page(name, student, outcome, tick), tick)
            save_state(self.state_path, self.state)

    def page(self, name: str, student: str, outcome: PreGrade, tick: Tick) -> dict[str, str]:
        """``{name: page}`` of one ended pre-grade; the submission leaves the queue (graded, or failed)."""
        if outcome.verdicts is None:
            self.log(f"{shown(name, 120)}: not pre-graded: {shown(outcome.why, 300)}")
            self._finish(name, "failed", outcome.why[:300])
            tick.failed.append(name)
            return {name: self.failure_page(name, outcome.grader_fault, outcome.notes)}
        now = self.now()
        info = self._student(student)
        info["graded"].append(now)  # counted before the page states the next time
        at = next_allowed(info["graded"], now, self.limits)
        due = due_date(self.course)
        due_text = time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(due)) if due else "not set yet"
        preface = ("<div class='verdict' style='border-color:#1f6feb'>"
                   f"<p><b>{html.escape(RECORD, quote=False)}</b> Due date: {html.escape(due_text)}.</p>"
                   f"<p>Pre-graded at {time.strftime('%H:%M:%S %Z', time.localtime(now))}, from your submission "
                   f"of {html.escape(self.state['submissions'][name]['timestamp'])}. Pre-grades are "
                   f"limited to {self.limits.describe()}: the next pre-grade possible at "
                   f"<b>{clock(at, self.limits)}</b>.</p></div>")
        self._dequeue(name)  # still "grading": release() marks it graded once its page is out
        return {name: feedback.pregrade_page(student, outcome.notebook, outcome.verdicts, outcome.notes, preface)}

    def failure_page(self, name: str, grader_fault: bool, notes: list[str] | None = None) -> str:
        student = self.state["submissions"][name]["student"]
        if grader_fault:
            first = ("The grader failed on its side while pre-grading this submission: this says nothing about "
                     "your work. The instructor has been told in the service's log.")
        else:
            first = "The grader found no notebook it could read in this submission."
        items = [html.escape(str(n), quote=False) for n in notes or []]
        return notice(student, "This submission could not be pre-graded", [
            first, *items,
            "This changes nothing for your grade of record: the instructor grades the submission you handed in "
            "last, after the due date.", f"Pre-grades are limited to {self.limits.describe()}."])

    def release(self, pages: dict[str, str], tick: Tick) -> None:
        """Put each page in the service's ``feedback/<student>/ddpg/`` with its submission's ``timestamp.txt`` and
        ``submission_secret.txt`` (read from the exchange's copy as ingest reads files), and run ``nbgrader
        release_feedback`` once for all of them. Pages of another batch are not in that folder any more."""
        shutil.rmtree(self.folder / "feedback", ignore_errors=True)
        released = []
        for name, text in pages.items():
            student = self.state["submissions"][name]["student"]
            try:
                timestamp, secret = read_keys(self.inbound / name, self.uid_of(student))
            except (ingest.Refused, ValueError) as err:
                self.log(f"{shown(name, 120)}: no page released: {err}")
                continue
            out = feedback_page(self.folder, student)
            out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            out.write_text(text)
            (out.parent / "timestamp.txt").write_text(timestamp)
            (out.parent / "submission_secret.txt").write_text(secret)
            released.append(name)
        if not released:
            return
        try:
            release_feedback(self.folder, self.exchange)
        except Exception as err:  # noqa: BLE001 - nbgrader's ExchangeError, OSError: the batch is not released
            self.log(f"release_feedback failed: {shown(err, 2000)}")
            for name in released:
                if self.state["submissions"][name]["status"] == "grading":
                    self._set(name, "failed", "release_feedback failed")
            return
        self.mark_released(released, tick)

    def mark_released(self, names: list[str], tick: Tick) -> None:
        """Record that the pages of ``names`` are in the exchange: a submission being graded is now graded (and
        counts against its student's limit), and none of them is released again."""
        at = self.now()
        for name in names:
            tick.released[name] = at
            entry = self.state["submissions"][name]
            if entry["status"] == "grading":
                self._set(name, "graded")
                tick.graded.append(name)
            entry["released"] = True
            self.log(f"released a page for {shown(name, 120)} ({entry['status']})")


def release_feedback(folder: Path, exchange: Path) -> None:
    """nbgrader's own ``release_feedback`` of every page in ``folder``'s ``feedback/``, run in this process (the
    command's 3 s of start-up are a fifth of a lone pre-grade's latency): the same naming (a hash of each
    submission's secret), permissions and atomic move as ``nbgrader release_feedback ddpg``.

    Raises:
        nbgrader.exchange.abc.ExchangeError: nbgrader refused (its message says why).
    """
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default import ExchangeReleaseFeedback
    from traitlets.config import Config

    config = Config()
    config.CourseDirectory.root = str(folder)
    config.CourseDirectory.course_id = COURSE_ID
    config.CourseDirectory.assignment_id = ASSIGNMENT
    config.Exchange.root = str(exchange)
    config.Exchange.path_includes_course = False
    coursedir = CourseDirectory(config=config)
    ExchangeReleaseFeedback(coursedir=coursedir, authenticator=Authenticator(config=config), config=config).start()


def from_settings(**kwargs: Any) -> Pregrader:
    """The service as the hub's settings describe it (autograder/hub/settings.py)."""
    from autograder.hub import settings

    limits = Limits(settings.pregrade_interval_s(), settings.pregrade_per_day())
    return Pregrader(settings.pregrade_dir(), settings.course_dir(), settings.exchange_dir(), limits,
                     jobs=settings.pregrade_jobs(), **kwargs)


def main(argv: list[str] | None = None) -> int:
    from autograder.hub import settings

    parser = argparse.ArgumentParser(description="Pre-grade each submission of the hub's exchange on arrival.")
    parser.add_argument("--once", action="store_true", help="one look at the exchange, then exit")
    args = parser.parse_args(argv)
    if os.geteuid() == 0:
        print("The pre-grading service never runs as root: run it as the instructor who owns the course folder "
              "(the hub does, from DDPG_PREGRADE_USER or the course folder's owner).", file=sys.stderr)
        return 2
    try:
        service = from_settings()
    except (StateError, ValueError) as err:
        print(f"ddpg-pregrade cannot start: {err}", file=sys.stderr)
        return 2
    service.log(f"ddpg-pregrade: watching {service.inbound}, {service.limits.describe()}, course {service.folder}")
    poll = settings.pregrade_poll_s()
    while True:
        tick = service.tick(block=args.once)
        if args.once:
            return 0 if not tick.failed else 1
        service.idle(poll)


if __name__ == "__main__":
    sys.exit(main())
