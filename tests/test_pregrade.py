"""The pre-grading service's own logic, fast (autograder/hub/pregrade.py): the rate limit, the state file (a
restart resumes and never grades again what it released; a corrupt file stops it with a clear message), the queue
(a student's newest submission only, each page out as soon as its pre-grade ends, a broken grader said to be at
fault), what it refuses to read, and the small pieces around it (``grade.py --student``, the preflight's
remembered pass; ``feedback.read_keys``).

The pre-grades and ``nbgrader release_feedback`` are stubbed here (recorded, not run). The real pre-grades, in the
sandbox, decide every submission of the catalog in tests/test_autograder.py (``catalog_verdicts``); the whole
service, through the exchange, runs in tests/test_hub.py (on a live hub, in the browser) and
benchmarks/bench_pregrade.py.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time

import nbformat
import pytest

from autograder import feedback, grade, preflight_cache
from autograder.build_notebooks import copy_course
from autograder.course_folder import ASSIGNMENT, COURSE_ID, feedback_page
from autograder.hub import exchange, pregrade
from autograder.hub.pregrade import Limits, Pregrader, StateError, next_allowed
from autograder.hub.verdict_only import GraderBroken, PreGrade
from autograder.parts import PARTS
from autograder.verdict import Verdict

SECRET = "ab" * 64
T0 = 1_800_000_000.0  # a fixed "now" (2027-01-15 08:00 UTC)


def stamp(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S.000000 UTC", time.gmtime(t))


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Service(Pregrader):
    """The service with its release recorded instead of run (``pages``: what each tick would hand out)."""

    released: list[dict[str, str]]

    def release(self, pages, tick):  # noqa: ANN001 - the parent's signature
        self.released.append(dict(pages))
        self.mark_released(list(pages), tick)  # what the real release records once nbgrader has released them


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    """The pages' times in UTC, whatever the machine's zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def world(tmp_path, monkeypatch):
    """A course folder, an exchange with an inbound folder, a clock, a grader that records its calls and
    'grades' every student it is given, and a stub page writer."""
    course = tmp_path / "course"
    (course / "source" / ASSIGNMENT).mkdir(parents=True)
    (course / "nbgrader_config.py").write_text("c = get_config()\n")
    (course / "source" / ASSIGNMENT / "ddpg_pendulum.ipynb").write_text("{}")
    inbound = tmp_path / "exchange" / COURSE_ID / "inbound"
    inbound.mkdir(parents=True)
    calls: list[str] = []

    def fake_grade(student: str) -> PreGrade:
        """Every part passed, except for a student named broken*: the grader fails on them."""
        calls.append(student)
        if student.startswith("broken"):
            return PreGrade(None, why="the grader's sandbox is broken", grader_fault=True)
        return PreGrade([Verdict(part, True, "passed") for part in PARTS], nbformat.v4.new_notebook())

    clock = Clock()

    def make(limits: Limits = Limits(interval_s=60, per_day=3)) -> Service:
        service = Service(tmp_path / "pregrade", course, tmp_path / "exchange", limits, jobs=2,
                          uid_of=lambda name: os.getuid(), grade=fake_grade, prepare=lambda: None, clock_fn=clock,
                          log=lambda line: None)
        service.released = []
        return service

    return {"course": course, "inbound": inbound, "calls": calls, "clock": clock, "make": make, "tmp": tmp_path}


def submit(world, student: str, at: float | None = None, secret: str = SECRET) -> str:
    """A submission folder as ``nbgrader submit`` makes it in inbound/; returns its name."""
    at = world["clock"].now if at is None else at
    name = f"{student}+{ASSIGNMENT}+{stamp(at)}+{abs(hash((student, at))) % 10**8:08d}"
    folder = world["inbound"] / name
    folder.mkdir()
    (folder / "ddpg_pendulum.ipynb").write_text('{"cells": [], "nbformat": 4}')
    (folder / "timestamp.txt").write_text(stamp(at))
    (folder / "submission_secret.txt").write_text(secret)
    return name


# ---- the rate limit ------------------------------------------------------------------------------------------------

def test_rate_limit_interval_and_daily_cap():
    limits = Limits(interval_s=900, per_day=3)
    assert next_allowed([], T0, limits) == T0
    assert next_allowed([T0 - 100], T0, limits) == T0 + 800  # 15 minutes after the last one
    assert next_allowed([T0 - 1000], T0, limits) == T0  # the interval is over
    three = [T0 - 20_000, T0 - 10_000, T0 - 1000]
    assert next_allowed(three, T0, limits) == T0 - 20_000 + 86_400  # the oldest of the day's 3 leaves the window
    assert next_allowed([T0 - 90_000, T0 - 10_000, T0 - 1000], T0, limits) == T0  # one of them is a day old


def test_clock_rounds_up_to_the_minute_and_shows_seconds_for_short_limits():
    at = 1_800_000_030.0  # 08:00:30 UTC
    assert pregrade.clock(at, Limits(interval_s=900)) == "08:01 UTC"
    assert pregrade.clock(at, Limits(interval_s=20)) == "08:00:30 UTC"


# ---- the batch ------------------------------------------------------------------------------------------------------

def released(service: Service) -> dict[str, str]:
    """Every page the service handed out, by submission folder (the last one of each)."""
    return {name: page for pages in service.released for name, page in pages.items()}


def test_everything_queued_is_pre_graded_newest_submission_only_one_page_each(world):
    service = world["make"]()
    old = submit(world, "alice", at=T0 - 30)
    new = submit(world, "alice", at=T0 - 10)
    bob = submit(world, "bob")
    carol = submit(world, "carol")
    tick = service.tick()
    assert sorted(world["calls"]) == ["alice", "bob", "carol"]  # two workers: the third starts when one is free
    assert sorted(tick.graded) == sorted([new, bob, carol])
    assert service.state["submissions"][old]["status"] == "replaced"
    assert [len(pages) for pages in service.released] == [1, 1, 1]  # each page goes out on its own
    pages = released(service)
    assert sorted(pages) == sorted([new, bob, carol])
    assert "grade of record is the instructor's grade after the due date" in pages[new]
    assert "next pre-grade possible at" in pages[new]
    assert "Autograded: 10 / 10" in pages[new] and "action selection" in pages[new]
    # the submission's own copy went in through ingest's readers
    assert (world["tmp"] / "pregrade" / "submitted" / "alice" / ASSIGNMENT / "submission_secret.txt").is_file()


def test_a_page_goes_out_as_soon_as_its_pre_grade_ends(world):
    """The service's loop does not wait for the slowest pre-grade: alice's page is out while bob's still runs,
    and carol, who submits meanwhile, starts on the worker alice freed."""
    service = world["make"]()
    gate = threading.Event()
    plain = service.grade

    def grade(student: str) -> PreGrade:
        if student == "bob":
            gate.wait(30)
        return plain(student)

    service.grade = grade
    alice, bob = submit(world, "alice"), submit(world, "bob")
    service.tick(block=False)
    deadline = time.monotonic() + 10
    while "alice" not in world["calls"] or not any(f.done() for f in service.running):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    carol = submit(world, "carol")
    tick = service.tick(block=False)
    assert tick.graded == [alice] and service.state["submissions"][bob]["status"] == "grading"
    assert service.state["submissions"][carol]["status"] == "grading"  # started on alice's worker
    gate.set()
    tick = service.tick()
    assert sorted(tick.graded) == sorted([bob, carol])


def test_a_broken_grader_is_said_to_be_at_fault_and_costs_no_pre_grade(world):
    """The master's solution does not pass (the preflight): nothing is pre-graded, each student is told that the
    grader is at fault (not a zero), and the next submission is pre-graded once the grader works."""
    service = world["make"]()
    broken = True

    def prepare() -> None:
        if broken:
            raise GraderBroken("the master's solution, pre-graded as a submission, scored 0/10")

    service.prepare = prepare
    name = submit(world, "alice")
    tick = service.tick()
    assert tick.failed == [name] and world["calls"] == []
    page = released(service)[name]
    assert "The grader failed on its side" in page and "0/10" not in page and "Autograded" not in page
    assert service.state["students"]["alice"]["graded"] == []  # not counted against the rate limit
    broken = False
    world["clock"].now += 1
    again = submit(world, "alice")
    assert service.tick().graded == [again]


def test_a_first_submission_is_graded_at_once_on_a_running_clock(world):
    service = world["make"]()
    clock = world["clock"]
    service.now = lambda: setattr(clock, "now", clock.now + 0.001) or clock.now  # time passes at every look
    name = submit(world, "alice")
    assert service.tick().graded == [name]


def test_a_second_submission_inside_the_limit_waits_and_is_told_when(world):
    service = world["make"](Limits(interval_s=60, per_day=3))
    submit(world, "alice")
    service.tick()
    world["clock"].now += 10
    second = submit(world, "alice")
    tick = service.tick()
    assert tick.deferred == [second] and len(world["calls"]) == 1
    page = service.released[-1][second]
    assert "next pre-grade possible at" in page and "08:01:00 UTC" in page  # T0 + 60 s
    assert "grade of record" in page
    world["clock"].now += 20
    assert service.tick().graded == [] and len(service.released) == 2  # told once, not again
    world["clock"].now += 31  # the minute is over: the waiting submission is graded
    tick = service.tick()
    assert tick.graded == [second] and world["calls"] == ["alice", "alice"]


def test_a_grader_failure_is_reported_to_that_student_only(world):
    service = world["make"]()
    ok, broken = submit(world, "alice"), submit(world, "broken1")
    tick = service.tick()
    assert tick.graded == [ok] and tick.failed == [broken]
    page = released(service)[broken]
    assert "could not be pre-graded" in page and "The grader failed on its side" in page


def test_after_the_due_date_nothing_is_graded(world):
    db = sqlite3.connect(world["course"] / "gradebook.db")
    db.execute("CREATE TABLE assignment (name TEXT, duedate DATETIME)")
    db.execute("INSERT INTO assignment VALUES (?, ?)", (ASSIGNMENT, stamp(T0 - 5)[:-4]))
    db.commit()
    db.close()
    service = world["make"]()
    late = submit(world, "alice")
    tick = service.tick()
    assert tick.closed == [late] and world["calls"] == []
    assert "after the due date" in service.released[0][late]


def test_a_backdated_folder_counts_at_the_time_the_exchange_received_it(world):
    """A folder made by hand with a name from two days before it was made (before the due date): the service
    takes the time the exchange received it (its ctime), so the due date closes it."""
    real_now = time.time()
    db = sqlite3.connect(world["course"] / "gradebook.db")
    db.execute("CREATE TABLE assignment (name TEXT, duedate DATETIME)")
    db.execute("INSERT INTO assignment VALUES (?, ?)", (ASSIGNMENT, stamp(real_now - 24 * 3600)[:-4]))
    db.commit()
    db.close()
    world["clock"].now = real_now
    service = world["make"]()
    backdated = submit(world, "bob", at=real_now - 2 * 24 * 3600)
    tick = service.tick()
    assert tick.closed == [backdated] and world["calls"] == []
    assert pregrade.parse_time(service.state["submissions"][backdated]["timestamp"]) >= real_now - 1


# ---- what it refuses to read -----------------------------------------------------------------------------------------

def test_folders_it_does_not_take(world):
    service = world["make"]()
    (world["inbound"] / "not-a-submission").mkdir()
    target = world["tmp"] / "elsewhere"
    target.mkdir()
    (world["inbound"] / f"mallory+{ASSIGNMENT}+{stamp(T0)}+x").symlink_to(target)
    submit(world, "eve")
    service.uid_of = lambda name: {"eve": None, "mallory": os.getuid()}.get(name, os.getuid() + 1)
    submit(world, "bob")  # owned by another uid than bob's
    tick = service.tick()
    assert world["calls"] == [] and tick.graded == []
    whys = sorted(e.get("why") for e in service.state["submissions"].values())
    assert whys == ["not a folder", "not a student of the course", "not a submission's name",
                    "not owned by the student it names"]


def test_folders_past_the_caps_are_left_alone_and_never_grow_the_state(world, monkeypatch):
    """A student who makes folders by the hundred, and names nobody's, cannot grow the state file without end."""
    monkeypatch.setattr(pregrade, "MAX_TAKEN_PER_STUDENT", 3)
    monkeypatch.setattr(pregrade, "MAX_REFUSED_RECORDED", 2)
    lines: list[str] = []
    service = world["make"]()
    service.log = lines.append
    mine = [submit(world, "mallory", at=T0 + i) for i in range(6)]
    for i in range(5):
        (world["inbound"] / f"junk-{i}").mkdir()
    service.tick()
    subs = service.state["submissions"]
    assert sorted(n for n in subs if subs[n]["student"] == "mallory") == sorted(mine)[:3]
    assert sum(v["status"] == "refused" for v in subs.values()) == 2
    assert sum("more than 3 submissions" in line for line in lines) == 1, lines
    assert sum("more than 2 refused folders" in line for line in lines) == 1, lines
    size = len(json.dumps(service.state))
    for i in range(6, 40):
        submit(world, "mallory", at=T0 + i)
        (world["inbound"] / f"junk-{i}").mkdir()
    service.tick()
    assert len(json.dumps(service.state)) < size + 200  # the rate limit's times only


def test_copy_submission_reads_regular_files_only(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "ddpg_pendulum.ipynb").write_text("{}")
    (src / "secret-link").symlink_to("/etc/passwd")
    os.mkfifo(src / "pipe")
    notes = exchange.copy_submission(src, tmp_path / "dest").notes
    assert sorted(p.name for p in (tmp_path / "dest").iterdir()) == ["ddpg_pendulum.ipynb"]
    assert any("symlink" in n for n in notes) and any("FIFO" in n for n in notes)


# ---- the state file -------------------------------------------------------------------------------------------------

def test_a_restart_resumes_and_never_grades_again(world):
    service = world["make"]()
    graded = submit(world, "alice")
    service.tick()
    world["clock"].now += 5
    waiting = submit(world, "alice")
    service.tick()
    restarted = world["make"]()
    assert restarted.tick().graded == [] and len(world["calls"]) == 1  # nothing graded twice
    world["clock"].now += 60
    assert restarted.tick().graded == [waiting]  # the queue survived the restart
    assert restarted.state["submissions"][graded]["status"] == "graded"


def test_a_submission_cut_by_a_restart_is_graded_again(world):
    service = world["make"]()
    name = submit(world, "alice")
    service.scan(pregrade.Tick())
    service._set(name, "grading")
    pregrade.save_state(service.state_path, service.state)  # as a service killed mid-grade left it
    assert world["make"]().tick().graded == [name]


@pytest.mark.parametrize("content", ["{not json", json.dumps({"version": 99}), json.dumps([1, 2]),
                                     json.dumps({"version": 1, "submissions": {"x": 3}, "students": {}}),
                                     json.dumps({"version": 1, "submissions": {},
                                                 "students": {"alice": {"graded": [], "queued": "gone"}}})])
def test_a_corrupt_state_file_stops_the_service_with_a_clear_message(world, content):
    folder = world["tmp"] / "pregrade"
    folder.mkdir()
    (folder / pregrade.STATE_NAME).write_text(content)
    with pytest.raises(StateError, match=r"expected .*got .*fix: .*mv .*broken"):
        world["make"]()


# ---- around it ------------------------------------------------------------------------------------------------------

def test_read_keys_takes_what_nbgrader_submit_writes_only(tmp_path):
    (tmp_path / "timestamp.txt").write_text("2026-12-07 11:30:00.123456 UTC")
    (tmp_path / "submission_secret.txt").write_text(SECRET)
    assert feedback.read_keys(tmp_path) == ("2026-12-07 11:30:00.123456 UTC", SECRET)
    (tmp_path / "submission_secret.txt").write_text("../../etc/passwd")
    with pytest.raises(ValueError, match="expected the hexadecimal secret"):
        feedback.read_keys(tmp_path)
    (tmp_path / "submission_secret.txt").unlink()
    (tmp_path / "submission_secret.txt").symlink_to(tmp_path / "timestamp.txt")
    with pytest.raises(feedback.Refused, match="symlink"):
        feedback.read_keys(tmp_path)


def test_preflight_key_follows_the_master(tmp_path):
    course = copy_course(tmp_path / "course")
    key = preflight_cache.key(course)
    assert not preflight_cache.passed(course, key)
    preflight_cache.record(course, key)
    assert preflight_cache.passed(course, key) and preflight_cache.key(course) == key
    master = course / "source" / ASSIGNMENT / "ddpg_pendulum.ipynb"
    master.write_bytes(master.read_bytes() + b"\n")
    assert not preflight_cache.passed(course, preflight_cache.key(course))


def test_grade_student_option_refuses_a_missing_folder(tmp_path, capsys):
    course = copy_course(tmp_path / "course")
    (course / "submitted" / "alice" / ASSIGNMENT).mkdir(parents=True)
    status = grade.main(["--course", str(course), "--student", "bob", "--no-sandbox"])
    assert status == 2
    assert "No submission folder for bob" in capsys.readouterr().err


def test_make_feedback_writes_the_graded_submissions_keys_beside_the_page(tmp_path):
    """``make feedback`` leaves what ``nbgrader release_feedback`` reads: the graded submission's two files,
    from its autograded copy; a submission without them (copied in by hand) is named, and gets none."""
    graded = tmp_path / "autograded" / "alice" / ASSIGNMENT
    graded.mkdir(parents=True)
    (graded / "timestamp.txt").write_text("2026-12-07 11:30:00.123456 UTC\n")
    (graded / "submission_secret.txt").write_text(SECRET)
    (tmp_path / "autograded" / "bob" / ASSIGNMENT).mkdir(parents=True)
    for student in ("alice", "bob"):
        feedback_page(tmp_path, student).parent.mkdir(parents=True)
    assert feedback.write_keys(tmp_path, "alice") is None
    beside = feedback_page(tmp_path, "alice").parent
    assert (beside / "timestamp.txt").read_text() == "2026-12-07 11:30:00.123456 UTC"
    assert (beside / "submission_secret.txt").read_text() == SECRET
    assert "timestamp.txt" in feedback.write_keys(tmp_path, "bob")
    assert not list(feedback_page(tmp_path, "bob").parent.iterdir())


def test_a_folder_swapped_for_a_link_after_the_check_is_not_read_through(world):
    """A student who renames their checked folder and puts a link to the course's master in its place: the copy
    reads the folder that was opened, or nothing; never the master."""
    service = world["make"]()
    name = submit(world, "alice")
    service.scan(pregrade.Tick())
    swapped = world["inbound"] / name
    swapped.rename(world["inbound"] / "gone")
    swapped.symlink_to(world["course"] / "source" / ASSIGNMENT)
    bob = submit(world, "bob")
    tick = service.tick()
    assert world["calls"] == ["bob"] and tick.graded == [bob]  # the others are pre-graded
    assert service.state["submissions"][name]["status"] == "refused"
    assert not (world["tmp"] / "pregrade" / "submitted" / "alice").exists()
    with exchange.opened_folder(world["inbound"] / bob, os.getuid()) as root:
        assert sorted(p.name for p in root.iterdir()) == ["ddpg_pendulum.ipynb", "submission_secret.txt",
                                                          "timestamp.txt"]



def test_a_pre_grade_page_runs_nothing_the_submission_wrote():
    """What a student writes reaches their pre-grade page as text: a script, an event handler or a link in a
    markdown cell, HTML in a code cell or in their name, a hostile message in a verdict."""
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("<script>alert(1)</script><img src=x onerror=alert(2)>"
                                      "[a](javascript:alert(3))"),
        nbformat.v4.new_code_cell("print('</pre><script>alert(4)</script>')")])
    verdicts = [Verdict(part, False, "<script>alert(5)</script>") for part in PARTS]
    page = feedback.pregrade_page("<b onmouseover=alert(6)>eve</b>", nb, verdicts, ["<iframe src=x>"])
    from html.parser import HTMLParser

    class Elements(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.found: list[tuple[str, list]] = []

        def handle_starttag(self, tag, attrs):  # noqa: ANN001 - HTMLParser's signature
            self.found.append((tag, attrs))

    parser = Elements()
    parser.feed(page)
    tags = {tag for tag, _ in parser.found}
    assert not tags & {"script", "iframe", "object", "embed"}, tags
    handlers = [(tag, name) for tag, attrs in parser.found for name, _ in attrs if name.startswith("on")]
    assert not handlers, handlers
    links = [value for _, attrs in parser.found for name, value in attrs if name in ("href", "src")]
    assert not any((value or "").strip().lower().startswith("javascript:") for value in links), links
    assert "Autograded: 0 / 10" in page and "&lt;script&gt;alert(4)" in page
