"""Collecting from nbgrader's exchange without believing it (autograder/hub/collect.py), fast, on a folder laid
out as the exchange is: every attack here works against ``nbgrader collect`` (docs/hub.md, "Collecting").

Ownership is judged through the ``uid_of`` the collector is given: a folder named for alice that this test's user
made, while alice's uid is another, is exactly bob's folder named for alice on a hub (tests/test_hub.py makes one
as a real second user).
"""

from __future__ import annotations

import json
import os
import time

import pytest

from autograder.course_folder import ASSIGNMENT, COURSE_ID, submitted_root
from autograder.hub import collect as collect_mod
from autograder.hub import exchange
from autograder.hub.collect import collect, table
from autograder.hub.exchange import RECEIVED_GRACE_S, nbgrader_time, parse_time, time_of_record
from autograder.lock import course_lock

ME = os.getuid()
NOTEBOOK = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


@pytest.fixture
def world(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    inbound = tmp_path / "exchange" / COURSE_ID / "inbound"
    inbound.mkdir(parents=True)
    return {"course": course, "exchange": tmp_path / "exchange", "inbound": inbound, "tmp": tmp_path}


def submit(world, student: str, at: float, text: str = "mine", name_time: str | None = None) -> str:
    """A folder in inbound/ as ``nbgrader submit`` makes it (or as a student makes it by hand: any name time)."""
    stamp = name_time or nbgrader_time(at)
    name = f"{student}+{ASSIGNMENT}+{stamp}+{abs(hash((student, at, text))) % 10**8:08d}"
    folder = world["inbound"] / name
    folder.mkdir()
    (folder / "ddpg_pendulum.ipynb").write_text(json.dumps({**NOTEBOOK, "metadata": {"who": text}}))
    (folder / "timestamp.txt").write_text(stamp)
    (folder / "submission_secret.txt").write_text("ab" * 64)
    return name


def collected(world, student: str) -> tuple[str, str]:
    """(whose notebook, timestamp.txt) of ``student``'s collected submission."""
    dest = submitted_root(world["course"]) / student / ASSIGNMENT
    who = json.loads((dest / "ddpg_pendulum.ipynb").read_text())["metadata"]["who"]
    return who, (dest / "timestamp.txt").read_text()


def run(world, uids=None, **kw):
    uids = {"alice": ME, "bob": ME} if uids is None else uids
    return {row.status + ":" + (row.student or row.folder): row
            for row in collect(world["course"], world["exchange"], uids.get, **kw)}


def test_time_of_record_believes_the_name_only_within_the_grace():
    at = 1_800_000_000.0
    honest = time_of_record(nbgrader_time(at), at + 2)
    assert (honest.seconds, honest.text, honest.note) == (at, nbgrader_time(at), None)
    late = time_of_record(nbgrader_time(at), at + RECEIVED_GRACE_S + 1)
    assert late.seconds == at + RECEIVED_GRACE_S + 1 and late.text == nbgrader_time(late.seconds)
    assert "the later time counts" in late.note
    future = time_of_record(nbgrader_time(at + 3600), at)  # a name later than its folder: only makes it later
    assert future.seconds == at + 3600
    with pytest.raises(ValueError, match="expected a time"):
        time_of_record("yesterday", at)
    assert parse_time(nbgrader_time(at)) == at


def test_an_honest_submission_counts_at_the_time_in_its_name(world):
    now = time.time()
    name = submit(world, "alice", now)
    rows = run(world)
    assert rows["collected:alice"].folder == name and rows["collected:alice"].note == ""
    assert collected(world, "alice") == ("mine", nbgrader_time(now))


def test_a_backdated_folder_counts_at_the_time_the_exchange_received_it(world):
    """The student makes a folder by hand, its name and its timestamp.txt two days before now (before the due
    date), and removes their real, late one: nbgrader collect would take the name's time."""
    before = time.time()
    submit(world, "bob", before - 2 * 24 * 3600)
    rows = run(world)
    row = rows["collected:bob"]
    assert "the later time counts" in row.note and "the exchange received it" in row.note
    who, stamp = collected(world, "bob")
    assert parse_time(stamp) >= before - 1, stamp  # its ctime: now, not two days ago
    assert "the later time counts" in table(list(rows.values()))


ALICE, BOB = 40_001, 40_002
"""Two uids of nobody on this machine: as root the test gives each folder its owner with chown."""


@pytest.fixture
def owners():
    """Folders owned by two other users need root (CI runs as root; tests/test_hub.py does the same with real
    users)."""
    if os.geteuid() != 0:
        if os.environ.get("REQUIRE_HUB"):
            pytest.fail("REQUIRE_HUB is set but this test is not root: it needs chown for two owners")
        pytest.skip("needs root (chown to two other uids)")
    return {"alice": ALICE, "bob": BOB}


def owned(world, name: str, uid: int) -> str:
    os.chown(world["inbound"] / name, uid, uid)
    return name


def test_a_folder_named_for_another_student_is_refused_and_never_replaces_theirs(world, owners):
    """bob makes ``alice+ddpg+<a later time>+x``: nbgrader collect takes it as alice's newest submission (it only
    warns that its owner is another)."""
    now = time.time()
    own = owned(world, submit(world, "alice", now - 10, text="alice's own"), ALICE)
    forged = owned(world, submit(world, "alice", now + 3600, text="bob's forgery"), BOB)
    rows = run(world, uids=owners)
    assert rows["collected:alice"].folder == own
    assert collected(world, "alice")[0] == "alice's own"
    (refused,) = [r for r in rows.values() if r.status == "refused"]
    assert (refused.folder, refused.note) == (forged, "not owned by the student it names")
    assert "not owned by the student it names" in table(list(rows.values()))


def test_a_name_outside_the_course_and_a_link_for_a_folder_are_refused(world, owners):
    now = time.time()
    own = owned(world, submit(world, "alice", now, text="alice's own"), ALICE)
    (world["inbound"] / f"mallory+{ASSIGNMENT}+{nbgrader_time(now)}+x").mkdir()  # not a student of the course
    os.symlink(world["inbound"] / own, world["inbound"] / f"bob+{ASSIGNMENT}+{nbgrader_time(now + 60)}+y")
    (world["inbound"] / f"bob+{ASSIGNMENT}+not a time+z").mkdir()
    os.chown(world["inbound"] / f"bob+{ASSIGNMENT}+not a time+z", BOB, BOB)
    rows = collect(world["course"], world["exchange"], owners.get)
    notes = sorted(r.note for r in rows if r.status == "refused")
    assert notes == ["its name holds no time nbgrader writes", "not a folder", "not a student of the course"]
    assert not (submitted_root(world["course"]) / "bob").exists()  # the link to alice's folder was not followed
    assert collected(world, "alice")[0] == "alice's own"


def test_a_notebook_that_is_a_link_to_the_master_is_not_copied(world, owners):
    """nbgrader collect copies with shutil.copytree, which follows links: the course's master (solutions,
    hidden tests) would be collected as bob's notebook and graded 10/10."""
    master = world["tmp"] / "master.ipynb"
    master.write_text(json.dumps({**NOTEBOOK, "metadata": {"who": "the master, with the solutions"}}))
    name = submit(world, "bob", time.time())
    notebook = world["inbound"] / name / "ddpg_pendulum.ipynb"
    notebook.unlink()
    os.symlink(master, notebook)
    owned(world, name, BOB)
    rows = run(world, uids=owners)
    assert "ddpg_pendulum.ipynb" in rows["collected:bob"].note, rows
    dest = submitted_root(world["course"]) / "bob" / ASSIGNMENT
    assert not (dest / "ddpg_pendulum.ipynb").exists()
    assert not any("solutions" in p.read_text(errors="replace") for p in dest.iterdir())


def test_a_newer_submission_updates_an_older_one_never_and_a_failed_copy_keeps_the_old(world, owners, monkeypatch):
    now = time.time()
    owned(world, submit(world, "alice", now - 30, text="first"), ALICE)  # all three within the grace: honest
    assert "collected:alice" in run(world, uids=owners)
    assert "unchanged:alice" in run(world, uids=owners)
    owned(world, submit(world, "alice", now - 20, text="second"), ALICE)
    assert "updated:alice" in run(world, uids=owners)
    assert collected(world, "alice")[0] == "second"
    owned(world, submit(world, "alice", now - 10, text="third"), ALICE)

    def broken(src, dest, uid):  # noqa: ANN001 - the disk fills during the copy
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(collect_mod, "copy_submission", broken)
    rows = run(world, uids=owners)
    assert "failed:alice" in rows and "is kept" in rows["failed:alice"].note
    assert collected(world, "alice")[0] == "second"


def test_the_command_refuses_during_a_grading_run_and_without_an_exchange(world, capsys):
    with course_lock(world["course"]):
        code = collect_mod.main(["--course", str(world["course"]), "--exchange", str(world["exchange"])])
    assert code == 2 and "Another grading run holds this course" in capsys.readouterr().err
    code = collect_mod.main(["--course", str(world["course"]), "--exchange", str(world["tmp"] / "nowhere")])
    err = capsys.readouterr().err
    assert code == 2 and "expected nbgrader's inbound folder at" in err and "--exchange" in err


def submitted_now(world, student: str, uid: int, text: str) -> tuple[str, float]:
    """A folder made, filled and given its owner under another name, then renamed to one with the time of the
    rename: its ctime and its files' are within microseconds of its name's time, however loaded the machine."""
    tmp = owned(world, submit(world, student, 0.0, text=text), uid)
    at = time.time()
    name = f"{student}+{ASSIGNMENT}+{nbgrader_time(at)}+{tmp.split('+')[3]}"
    os.rename(world["inbound"] / tmp, world["inbound"] / name)
    return name, at


def test_a_file_rewritten_in_an_on_time_folder_counts_when_it_was_rewritten(world, owners, monkeypatch):
    """The student owns the files of their on-time folder and rewrites the notebook in place after the due date:
    the folder's ctime does not move, the file's does. (The grace is made 1 s here, so that "later" is 1.5 s.)"""
    monkeypatch.setattr(exchange, "RECEIVED_GRACE_S", 1.0)
    kept, alice_at = submitted_now(world, "alice", ALICE, "on time")
    rewritten, _ = submitted_now(world, "bob", BOB, "on time")
    time.sleep(1.5)
    notebook = world["inbound"] / rewritten / "ddpg_pendulum.ipynb"
    notebook.write_text(json.dumps({**NOTEBOOK, "metadata": {"who": "rewritten after the due date"}}))
    rewrite = os.lstat(notebook).st_ctime
    assert os.lstat(world["inbound"] / rewritten).st_ctime < rewrite - 1  # the folder did not move
    rows = run(world, uids=owners)
    assert rows["collected:alice"].note == "" and collected(world, "alice")[1] == nbgrader_time(alice_at), rows
    assert "the later time counts" in rows["collected:bob"].note, rows
    who, stamp = collected(world, "bob")
    assert who == "rewritten after the due date" and parse_time(stamp) >= rewrite - 1e-6  # %f: whole µs
    assert kept != rewritten
