"""Ingest (autograder/ingest.py): every file a student controls is hostile data on the grading host.

Fast tests on the real released notebook, with real symlinks, FIFOs, sparse files and hard links. The same attacks
go through the whole `python -m autograder.grade` in tests/test_host_attacks.py.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import nbformat
import pytest

from autograder import ingest, outputs
from autograder.text import shown, table_cell

A, NB = "ddpg", "ddpg_pendulum"


REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def release():
    return nbformat.read(REPO / "notebooks" / f"{NB}.ipynb", as_version=4)


def _folder(tmp_path, student="alice"):
    folder = tmp_path / "submitted" / student / A
    folder.mkdir(parents=True)
    return folder


def _put(folder, release, mutate=None, name=f"{NB}.ipynb"):
    nb = json.loads(nbformat.writes(release))
    if mutate:
        mutate(nb)
    (folder / name).write_text(json.dumps(nb))


def _run(tmp_path, release, student="alice", caps=ingest.CAPS):
    return ingest.ingest(tmp_path / "submitted", student, A, NB, release, caps)


def _meta(nb, gid):
    return next(c.metadata["nbgrader"] for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid)


def _index(nb, gid):
    return next(i for i, c in enumerate(nb["cells"]) if c["metadata"].get("nbgrader", {}).get("grade_id") == gid)


def test_an_honest_submission_comes_back_as_released(tmp_path, release):
    _put(_folder(tmp_path), release)
    got = _run(tmp_path, release)
    assert got.notes == [] and got.gradable
    assert [c.source for c in got.notebook.cells] == [c.source for c in release.cells]
    assert [c.metadata.get("nbgrader") for c in got.notebook.cells] == \
        [c.metadata.get("nbgrader") for c in release.cells]
    nbformat.validate(got.notebook)


def test_nbgrader_metadata_always_comes_from_the_release(tmp_path, release):
    def mutate(nb):
        meta = nb["cells"][_index(nb, "select_action")]["metadata"]["nbgrader"]
        meta.update(schema_version=4, points=1000, grade=True)
        test = nb["cells"][_index(nb, "test_select_action")]
        test["source"] = "pass  # no checks"
        test["metadata"]["nbgrader"]["points"] = 99
    _put(_folder(tmp_path), release, mutate)
    got = _run(tmp_path, release)
    assert _meta(got.notebook, "select_action") == _meta(release, "select_action")
    assert _meta(got.notebook, "test_select_action")["points"] == 2
    test = next(c for c in got.notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_select_action")
    assert test.source == next(c.source for c in release.cells
                               if c.metadata.get("nbgrader", {}).get("grade_id") == "test_select_action")


def test_a_copied_exercise_cell_grades_the_last_copy_and_says_so(tmp_path, release):
    def mutate(nb):
        i = _index(nb, "select_action")
        copy = json.loads(json.dumps(nb["cells"][i]))
        copy["source"] = "%%add_to DDPGAgent\ndef select_action(self, state):\n    return 'second'\n"
        nb["cells"].insert(i + 1, copy)
    _put(_folder(tmp_path), release, mutate)
    got = _run(tmp_path, release)
    graded = [c for c in got.notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "select_action"]
    assert len(graded) == 1 and "second" in graded[0].source
    assert any("select_action appears more than once" in n for n in got.notes)


def test_deleted_and_unknown_graded_cells(tmp_path, release):
    def mutate(nb):
        del nb["cells"][_index(nb, "test_critic_target")]
        plain = next(c for c in nb["cells"] if "nbgrader" not in c["metadata"])
        plain["metadata"]["nbgrader"] = {"grade_id": "\x1b]0;owned\x07", "grade": True, "points": 50}
    _put(_folder(tmp_path), release, mutate)
    got = _run(tmp_path, release)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in got.notebook.cells]
    assert ids == [c.metadata.get("nbgrader", {}).get("grade_id") for c in release.cells]  # put back in place
    assert "cell test_critic_target missing: put back as released" in got.notes
    unknown = next(n for n in got.notes if n.startswith("unknown graded cell"))
    assert "\x1b" not in unknown and "\\x1b" in unknown


def test_outputs_attachments_and_metadata_are_dropped(tmp_path, release):
    def mutate(nb):
        cell = nb["cells"][_index(nb, "answer_stability")]
        cell["attachments"] = {"a.png": {"image/png": "AAAA"}}
        cell["metadata"]["jupyter"] = {"source_hidden": True}
        code = nb["cells"][_index(nb, "select_action")]
        code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "All parts passed: 10 / 10"}]
        nb["metadata"]["evil"] = {"x": [1] * 10}
    _put(_folder(tmp_path), release, mutate)
    got = _run(tmp_path, release)
    text = nbformat.writes(got.notebook)
    assert "All parts passed" not in text and "attachments" not in text and "evil" not in text
    assert "source_hidden" not in text
    assert "pasted attachments removed from 1 cell(s)" in got.notes


def test_submitted_outputs_are_kept_only_when_asked_sanitized_and_at_the_rebuilt_cells(tmp_path, release):
    """``keep_outputs``: each kept code cell's saved outputs land at its index in the rebuilt notebook (a deleted
    cell put back and a copied cell shift nothing), made safe like any run's output; a markdown cell's and a put-back
    cell's have none."""
    def mutate(nb):
        del nb["cells"][_index(nb, "test_critic_target")]  # put back as released: no outputs
        i = _index(nb, "select_action")
        nb["cells"].insert(i + 1, json.loads(json.dumps(nb["cells"][i])))  # a copy: both keep their outputs
        nb["cells"][i]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["first ", "copy"]}]
        nb["cells"][i + 1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "second copy"}]
        nb["cells"][i + 1]["execution_count"] = True  # not a count: would make the notebook invalid
        code = next(c for c in nb["cells"] if c["cell_type"] == "code" and "nbgrader" not in c["metadata"])
        code["execution_count"] = 7
        code["outputs"] = [
            {"output_type": "display_data", "data": {"text/html": "<b>kept</b><script>alert(1)</script>",
                                                     "application/javascript": "alert(2)"}},
            {"output_type": "display_data", "data": {"image/png": "not base64 at all!"}},
            {"output_type": "execute_result", "execution_count": 10**40, "data": {"text/plain": "42"}},
            "not an output", {"output_type": "clear_output"},
            *[{"output_type": "stream", "name": "stdout", "text": "x" * 300_000}] * 10]
    _put(_folder(tmp_path), release, mutate)
    assert _run(tmp_path, release).outputs is None  # not asked for: nothing kept
    got = ingest.ingest(tmp_path / "submitted", "alice", A, NB, release, keep_outputs=True)
    by_index = {r["index"]: r for r in got.outputs}
    cells = got.notebook.cells
    assert all(cells[i].cell_type == "code" for i in by_index)
    firsts = [i for i, c in enumerate(cells) if c.source.startswith("%%add_to DDPGAgent\ndef select_action")]
    assert [by_index[i]["outputs"] for i in firsts] == [
        [{"output_type": "stream", "name": "stdout", "text": "first copy"}],
        [{"output_type": "stream", "name": "stdout", "text": "second copy"}]]
    assert by_index[firsts[1]]["execution_count"] is None
    assert _index(got.notebook, "test_critic_target") not in by_index  # put back as released
    plain = next(r for r in got.outputs if r["execution_count"] == 7)
    html, result, *streams, cut = plain["outputs"]  # the image (nothing valid) and the non-outputs: gone
    assert html["data"] == {"text/html": "<b>kept</b>"}
    assert result["output_type"] == "execute_result" and result["execution_count"] is None
    assert result["data"] == {"text/plain": "42"}
    assert 0 < len(streams) < 10 and all(len(o["text"]) == outputs.TEXT_CHARS for o in streams)
    assert cut["name"] == "stderr" and "output cut by the grader" in cut["text"]  # the cell's cap
    assert len(json.dumps(got.outputs)) < ingest.CAPS.cell_output_bytes * 2


def test_text_that_is_not_unicode_is_replaced_and_the_class_goes_on(tmp_path, release):
    """A lone surrogate (``"\\ud800"``: valid JSON, no valid UTF-8) in an answer's source, an HTML output and a
    stream would stop the HTML cleaner, the answer's hash or the writing of the copy: it becomes U+FFFD, with a
    note."""
    def mutate(nb):
        nb["cells"][_index(nb, "answer_stability")]["source"] = "my answer \ud800"
        code = next(c for c in nb["cells"] if c["cell_type"] == "code" and "nbgrader" not in c["metadata"])
        code["outputs"] = [{"output_type": "display_data", "data": {"text/html": "<b>\ud800</b>"}},
                           {"output_type": "stream", "name": "stdout", "text": "x\udfff"}]
    _put(_folder(tmp_path), release, mutate)
    got = ingest.ingest(tmp_path / "submitted", "alice", A, NB, release, keep_outputs=True)
    assert got.gradable and any("not valid Unicode" in n for n in got.notes)
    assert "\ufffd" in got.notebook.cells[_index(got.notebook, "answer_stability")].source
    kept = next(r for r in got.outputs if r["outputs"])["outputs"]
    assert kept[0]["data"]["text/html"].startswith("<b>\ufffd") and kept[1]["text"].startswith("x\ufffd")
    folder = ingest.write(got, tmp_path / "copy", A, NB)
    nbformat.validate(nbformat.read(folder / f"{NB}.ipynb", as_version=4))


def test_outputs_that_would_cost_the_host_time_are_left_out(tmp_path, release):
    """Deeply nested HTML (its cleaning grows with the square of the depth) keeps only its plain text; a cell
    keeps at most OUTPUTS_PER_CELL outputs and a notebook OUTPUTS_PER_NOTEBOOK, then a note."""
    def mutate(nb):
        codes = [c for c in nb["cells"] if c["cell_type"] == "code" and "nbgrader" not in c["metadata"]]
        codes[0]["outputs"] = [{"output_type": "display_data",
                                "data": {"text/html": "<div>" * (outputs.HTML_TAGS + 1), "text/plain": "a table"}},
                               {"output_type": "display_data", "data": {"text/html": "<div>" * 90_000}}]
        nb["cells"] += [nbformat.v4.new_code_cell("print('.')") for _ in range(15)]  # 16+ cells of 300
        for code in codes[1:] + nb["cells"][-15:]:
            code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "."}] * 300
    _put(_folder(tmp_path), release, mutate)
    got = ingest.ingest(tmp_path / "submitted", "alice", A, NB, release, keep_outputs=True)
    first, *rest = [r["outputs"] for r in got.outputs if r["outputs"]]
    assert first == [{"output_type": "display_data", "metadata": {}, "data": {"text/plain": "a table"}}]
    assert all(len(kept) <= outputs.OUTPUTS_PER_CELL + 1 and "output cut" in kept[-1]["text"] for kept in rest)
    dots = [sum(o["text"] == "." for o in kept) for kept in rest]
    assert len(rest) > 10 and sum(dots) <= outputs.OUTPUTS_PER_NOTEBOOK and dots[-1] == 0  # the notebook's cap


@pytest.mark.parametrize("payload,note", [
    (b"not json at all", "not valid JSON"),
    (b"[" + b"[],{}," * 120_000 + b"[]]", "JSON objects and arrays"),
    (b"[" * 50_000 + b"]" * 50_000, "nested too deep"),
    (json.dumps({"cells": "x", "nbformat": 4}).encode(), "no list of cells"),
    (json.dumps({"cells": [], "nbformat": 3}).encode(), "not a version-4 notebook"),
])
def test_a_notebook_that_cannot_be_read_is_refused_with_a_reason(tmp_path, release, payload, note):
    (_folder(tmp_path) / f"{NB}.ipynb").write_bytes(payload)
    got = _run(tmp_path, release)
    assert not got.gradable
    assert any(note in n for n in got.notes), got.notes


def test_caps_on_size_cells_and_nesting(tmp_path, release):
    caps = ingest.Caps(notebook_bytes=2_000_000, cells=300)
    folder = _folder(tmp_path)
    # 100 000 empty cells
    (folder / f"{NB}.ipynb").write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                                                    "cells": [{"cell_type": "code", "source": ""}] * 3000}))
    assert "more than 300 cells (3000)" in " ".join(_run(tmp_path, release, caps=caps).notes)
    # a notebook over the size cap: refused before it is parsed
    (folder / f"{NB}.ipynb").write_bytes(b" " * 2_000_001)
    assert any("over 1.90735 MB" in n for n in _run(tmp_path, release, caps=caps).notes)


def test_special_files_and_links_never_reach_the_copy(tmp_path, release):
    folder = _folder(tmp_path)
    _put(folder, release)
    secret = tmp_path / ".grading_secret"
    secret.write_text("s3cret")
    (folder / "secret_link").symlink_to(secret)
    (folder / "zero").symlink_to("/dev/zero")
    os.mkfifo(folder / "pipe")
    with open(folder / "sparse.bin", "wb") as f:
        f.truncate(2 * 1024**3)  # 2 GiB, sparse: never copied dense
    os.link(secret, folder / "hard")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(folder / "sock"))
    (folder / "linked_dir").symlink_to(tmp_path)
    (folder / "ok.txt").write_text("kept")
    got = _run(tmp_path, release)
    sock.close()
    assert got.gradable
    assert got.files == {"ok.txt": b"kept"}
    joined = " | ".join(got.notes)
    for note in ("symlink left out: secret_link", "symlink left out: zero", "FIFO left out: pipe",
                 "sparse.bin over 10 MB (2048 MB): left out", "hard link left out: hard", "socket left out: sock",
                 "symlink left out: linked_dir"):
        assert note in joined, joined


def test_a_notebook_that_is_a_symlink_is_not_graded(tmp_path, release, repo):
    folder = _folder(tmp_path)
    (folder / f"{NB}.ipynb").symlink_to(repo / "autograder" / "course" / "source" / A / f"{NB}.ipynb")
    got = _run(tmp_path, release)
    assert not got.gradable
    assert any("symlink left out" in n for n in got.notes), got.notes


def test_a_symlinked_submission_folder_is_not_followed(tmp_path, release):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _put(elsewhere, release)
    (tmp_path / "submitted" / "bob").mkdir(parents=True)
    (tmp_path / "submitted" / "bob" / A).symlink_to(elsewhere)
    got = _run(tmp_path, release, student="bob")
    assert not got.gradable and "is a symlink, not a folder" in got.notes[0]


def test_names_the_notebook_problems_an_instructor_meets(tmp_path, release):
    folder = _folder(tmp_path)
    _put(folder, release, name=f"{NB} (1).ipynb")
    got = _run(tmp_path, release)
    assert got.gradable and got.notes == [f"graded {NB} (1).ipynb as {NB}.ipynb (the only notebook; misnamed)"]
    _put(folder, release, name="scratch.ipynb")
    got = _run(tmp_path, release)
    assert not got.gradable and "2 other notebooks" in got.notes[0]
    _put(folder, release)
    got = _run(tmp_path, release)
    assert got.gradable and "other notebook(s) not graded" in got.notes[0]
    empty = _folder(tmp_path, "carol")
    assert _run(tmp_path, release, "carol").notes == [
        "empty submission folder: nothing to grade (ask the student to submit again)"]
    assert empty.is_dir()


def test_hostile_names_and_ids(tmp_path, release):
    folder = _folder(tmp_path)
    _put(folder, release)
    (folder / "\x1b]52;c;cm0gLXJmIH4=\x07.txt").write_text("x")
    got = _run(tmp_path, release)
    assert got.files == {} and all("\x1b" not in n for n in got.notes)
    bad = tmp_path / "submitted" / "eve\x1b[2K" / A
    bad.mkdir(parents=True)
    got = _run(tmp_path, release, student="eve\x1b[2K")
    assert not got.gradable and "\x1b" not in got.notes[0] and "not a usable student id" in got.notes[0]


def test_timestamp_is_kept_only_if_it_is_a_date(tmp_path, release):
    folder = _folder(tmp_path)
    _put(folder, release)
    (folder / "timestamp.txt").write_text("2026-12-04 10:00:00.000000 UTC\n")
    assert _run(tmp_path, release).timestamp == "2026-12-04 10:00:00.000000 UTC"
    (folder / "timestamp.txt").write_text("yesterday, honest")
    got = _run(tmp_path, release)
    assert got.timestamp is None and "graded as on time" in got.notes[0]


def test_written_copy_holds_only_plain_files(tmp_path, release):
    folder = _folder(tmp_path)
    _put(folder, release)
    (folder / "sub").mkdir()
    (folder / "sub" / "data.csv").write_text("1,2\n")
    got = _run(tmp_path, release)
    out = ingest.write(got, tmp_path / ".ingested", A, NB)
    kinds = {str(p.relative_to(out)): p.is_symlink() for p in out.rglob("*")}
    assert kinds == {f"{NB}.ipynb": False, "sub": False, "sub/data.csv": False}


def test_shown_escapes_terminal_controls_and_table_breaks():
    assert shown("a\x1b]0;title\x07b\nc\u202e") == "a\\x1b]0;title\\x07b\\nc\\u202e"
    assert table_cell("x | y\nz") == "x / y\\nz"
    assert shown("é ok ✓") == "é ok ✓"
