"""Ingest: what a student handed in becomes plain, bounded data before nbgrader or the grader reads it.

Runs on the grading host, first, for every ``submitted/<student>/<assignment>/`` folder. Nothing after this step
(nbgrader's autograde, the sandboxes, the feedback) opens a file whose type, size or links a student controls: it
reads the copy written here, in a folder the host owns (``<course>/.ingested/``).

* **Files**: regular files only. A symlink, a hard link (a second name of a file that may live outside the
  submission), a FIFO, a socket or a device is left out and named; so is a file over its cap, and anything past
  the count and total caps. Every file is opened without following links and checked again once open.
* **The notebook**: read with a cap on its size and on how many JSON objects and arrays it may hold, then
  rebuilt from the released notebook's point of view: the cells' sources and types are kept; outputs,
  attachments and every metadata field are dropped; each cell that nbgrader grades or protects gets its nbgrader
  metadata (schema version, flags, points) from the release, never from the submission; a read-only cell gets
  its source from the release too.
* **Rules for graded cells** (what an honest slip or a hostile edit does):

  - a cell whose grade_id appears more than once (a copied cell): every copy stays where it is, as the student
    ran it; the LAST copy carries the grade_id (its code is the one in effect after "Run All"), the others
    become plain cells;
  - a deleted cell: put back, as released, after the released cell before it;
  - an unknown grade_id: the cell stays, as a plain cell;
  - a changed cell type of an answer cell: the released type.

* **The notebook's name**: ``<notebook>.ipynb``. A submission with exactly one notebook under another name
  (``ddpg_pendulum (1).ipynb``) is graded as that notebook, with a note; with several and none of the right name,
  nothing is graded and the note lists them.

Each refusal or repair becomes a short note (``symlink left out: weights.bin``, ``notebook over 20 MB``,
``cell test_select_action missing: put back as released``) for the score table and the student's report.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from autograder.outputs import OutputBudget, execution_count
from autograder.text import shown
from workshop_lib.grading.limits import DEFAULT_LIMITS

INGESTED_DIR = ".ingested"
"""The host-owned copy of every submission, under the course directory (nbgrader's ``submitted_directory`` while
it autogrades)."""
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}")
"""A student id the grader accepts (the folder name under ``submitted/``)."""
SAFE_NAME = re.compile(r"[\w.+@=,() -]{1,120}")
"""A file or folder name kept from a submission (no control characters, no path separators)."""
FOLDER_NOTE = "folder nested too deep left out"
"""The start of the note for a folder deeper than the caps allow (:func:`_walk`)."""
SKIPPED_DIRS = {".ipynb_checkpoints", "__pycache__", "__MACOSX", ".git"}
"""Folders an honest submission often carries: left out without a note."""


@dataclass(frozen=True)
class Caps:
    """What the host reads of one submission, at most."""

    notebook_bytes: int = 20 * 1024**2
    """Size of the notebook file."""
    notebook_containers: int = 200_000
    """JSON objects and arrays in the notebook (counted as ``{`` and ``[`` bytes, an upper bound)."""
    cells: int = 2_000
    """Cells in the notebook."""
    files: int = 50
    """Other files kept beside the notebook."""
    file_bytes: int = 10 * 1024**2
    """Size of one other file."""
    total_bytes: int = 50 * 1024**2
    """Size of all other files together."""
    entries: int = 1_000
    """Directory entries looked at in the whole submission folder."""
    depth: int = 4
    """Folder depth looked into."""
    cell_output_bytes: int = DEFAULT_LIMITS.cell_output_bytes
    """Outputs kept of one submitted cell, sanitized (only when the course shows the submitted outputs)."""
    output_bytes: int = DEFAULT_LIMITS.notebook_output_bytes
    """Outputs kept of the whole submitted notebook, sanitized (idem)."""


CAPS = Caps()


@dataclass
class Ingested:
    """One student's submission after ingest.

    Attributes:
        student: the student id (safe: it matched :data:`STUDENT_ID`, or the submission was refused).
        notebook: the rebuilt notebook, or None when there is nothing to grade.
        files: other files kept, ``{relative path: bytes}``.
        timestamp: the content of ``timestamp.txt`` (nbgrader's late policy reads it), if usable.
        notes: what was refused or repaired, one short line each (safe to print).
        answers: ``{grade_id: sha256}`` of each answer cell's source (the hand-graded ones among them tell a
            changed answer from an unchanged one after a resubmission).
        outputs: the outputs the student saved, sanitized and capped, one record per code cell of the rebuilt
            notebook (``{"index", "execution_count", "outputs"}``, as a notebook run streams them); ``None``
            unless asked for (``keep_outputs``: the course shows the submitted outputs instead of a re-run's).
    """

    student: str
    notebook: NotebookNode | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    timestamp: str | None = None
    notes: list[str] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)
    outputs: list[dict] | None = None

    @property
    def gradable(self) -> bool:
        return self.notebook is not None


class Refused(Exception):
    """A file that is not read; its message is the note."""


def _mb(n: int) -> str:
    return f"{n / 1024**2:g} MB"


def read_regular(path: Path, cap: int) -> bytes:
    """The bytes of ``path`` if it is a regular file with one name and at most ``cap`` bytes; else
    :class:`Refused`. Never follows a link, never blocks on a FIFO, never reads past the cap."""
    name = shown(path.name, 80)
    try:
        info = os.lstat(path)
    except OSError as err:
        raise Refused(f"{name}: could not be read ({err.strerror})") from None
    kind = _kind(info.st_mode)
    if kind != "file":
        raise Refused(f"{kind} left out: {name}")
    if info.st_nlink > 1:
        raise Refused(f"hard link left out: {name}")
    if info.st_size > cap:
        raise Refused(f"{name} over {_mb(cap)} ({_mb(info.st_size)}): left out")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        raise Refused(f"{name}: could not be opened ({err.strerror})") from None
    try:
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino) or not stat.S_ISREG(opened.st_mode):
            raise Refused(f"{name} changed while it was read: left out")
        chunks, size = [], 0
        while size <= cap:
            chunk = os.read(fd, min(1 << 20, cap + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > cap:
            raise Refused(f"{name} over {_mb(cap)}: left out")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "device"


# ------------------------------------------------------------------------------------------ the folder
def _walk(root: Path, caps: Caps, notes: list[str]) -> list[str]:
    """Relative paths of the regular-looking entries under ``root`` (real folders only, bounded)."""
    found: list[str] = []
    seen = 0
    stack = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as err:
            notes.append(f"folder {shown(folder.name, 80)} could not be read ({err.strerror})")
            continue
        for entry in entries:
            seen += 1
            if seen > caps.entries:
                notes.append(f"more than {caps.entries} files and folders: the rest left out")
                return found
            rel = str(Path(entry.path).relative_to(root))
            if not SAFE_NAME.fullmatch(entry.name) or entry.name in (".", ".."):
                notes.append(f"file name not kept: {shown(entry.name, 80)}")
                continue
            if entry.is_dir(follow_symlinks=False):
                if entry.name in SKIPPED_DIRS:
                    continue
                if depth + 1 > caps.depth:
                    notes.append(f"{FOLDER_NOTE}: {shown(rel, 120)}")
                    continue
                stack.append((Path(entry.path), depth + 1))
                continue
            found.append(rel)
    return sorted(found)


def ingest(submitted: Path, student: str, assignment: str, notebook: str, release_nb: NotebookNode,
           caps: Caps = CAPS, keep_outputs: bool = False) -> Ingested:
    """Read ``submitted/<student>/<assignment>/`` as bounded, plain data (see the module's docstring).

    Args:
        submitted: the course's ``submitted`` folder (what the instructor collected).
        student: the folder name of one student (checked here: it is student-controlled on some setups).
        assignment: the assignment id (``ddpg``).
        notebook: the notebook's name without ``.ipynb``.
        release_nb: the released notebook (``release/<assignment>/<notebook>.ipynb``), made by nbgrader.
        caps: what is read at most.
        keep_outputs: also keep the outputs the student saved, sanitized (``Ingested.outputs``).
    """
    result = Ingested(student=student, outputs=[] if keep_outputs else None)
    if not STUDENT_ID.fullmatch(student):
        result.notes.append(f"folder name {shown(student, 60)!r} is not a usable student id (letters, digits, "
                            "._@+-): rename the folder to the student's id")
        return result
    for path, what in ((submitted / student, "student folder"), (submitted / student / assignment,
                                                                  "assignment folder")):
        try:
            info = os.lstat(path)
        except OSError:
            result.notes.append(f"no {assignment}/ folder: nothing submitted")
            return result
        if not stat.S_ISDIR(info.st_mode):
            result.notes.append(f"the {what} is a {_kind(info.st_mode)}, not a folder: not graded")
            return result
    folder = submitted / student / assignment
    names = _walk(folder, caps, result.notes)
    if not names:
        result.notes.append("empty submission folder: nothing to grade (ask the student to submit again)")
        return result
    notebooks = [n for n in names if "/" not in n and n.endswith(".ipynb")]
    chosen = _choose_notebook(notebooks, notebook, result.notes)
    total = 0
    for rel in names:
        if rel == chosen or rel in notebooks:
            continue
        path = folder / rel
        if rel == "timestamp.txt":
            try:
                result.timestamp = _timestamp(read_regular(path, 200))
            except Refused as err:
                result.notes.append(f"timestamp.txt: {err}: graded as on time")
            continue
        if len(result.files) >= caps.files:
            result.notes.append(f"more than {caps.files} other files: {shown(rel, 80)} and later ones left out")
            break
        try:
            data = read_regular(path, min(caps.file_bytes, caps.total_bytes - total))
        except Refused as err:
            result.notes.append(str(err))
            continue
        total += len(data)
        result.files[rel] = data
    if chosen is None:
        return result
    try:
        raw = read_regular(folder / chosen, caps.notebook_bytes)
        result.notebook = rebuild(parse_notebook(raw, caps, result.notes), release_nb, result, caps)
    except Refused as err:
        result.notes.append(f"notebook {shown(chosen, 80)}: {err}")
        result.notebook = None
    return result


def _choose_notebook(notebooks: list[str], notebook: str, notes: list[str]) -> str | None:
    want = f"{notebook}.ipynb"
    if want in notebooks:
        others = [n for n in notebooks if n != want]
        if others:
            notes.append(f"other notebook(s) not graded: {', '.join(shown(n, 60) for n in others)} (only "
                         f"{want} is; rename the one that holds the work to {want})")
        return want
    if len(notebooks) == 1:
        notes.append(f"graded {shown(notebooks[0], 60)} as {want} (the only notebook; misnamed)")
        return notebooks[0]
    if notebooks:
        notes.append(f"no {want}, and {len(notebooks)} other notebooks: "
                     f"{', '.join(shown(n, 60) for n in notebooks)}; rename the one to grade to {want}")
    else:
        notes.append(f"no notebook: {want} was not submitted")
    return None


def _timestamp(data: bytes) -> str:
    from nbgrader.utils import parse_utc

    text = data.decode("ascii", "replace").strip()
    try:
        parse_utc(text)
    except Exception:  # noqa: BLE001 - any unparseable text is refused the same way
        raise Refused(f"not a date ({shown(text, 40)!r})") from None
    return text


# ---------------------------------------------------------------------------------------- the notebook
def parse_notebook(raw: bytes, caps: Caps = CAPS, notes: list[str] | None = None) -> dict:
    """The notebook's JSON as a dict with a list of cells, within the caps; else :class:`Refused`. Text that is
    not valid Unicode (a lone surrogate such as ``"\\ud800"``, valid JSON that no UTF-8 file can hold) is replaced
    by U+FFFD, with a note in ``notes``: it would stop the HTML cleaner, the answers' hashes and the writing of the
    autograded notebook."""
    if len(raw) > caps.notebook_bytes:
        raise Refused(f"over {_mb(caps.notebook_bytes)}")
    containers = raw.count(b"{") + raw.count(b"[")
    if containers > caps.notebook_containers:
        raise Refused(f"more than {caps.notebook_containers} JSON objects and arrays ({containers}): not read")
    try:
        data = json.loads(raw)
    except RecursionError:
        raise Refused("JSON nested too deep: not read") from None
    except ValueError as err:
        raise Refused(f"not a notebook: not valid JSON ({shown(err, 80)})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise Refused("not a notebook: no list of cells (was it saved as .ipynb by Jupyter?)")
    if data.get("nbformat") != 4:
        raise Refused(f"not a version-4 notebook (nbformat {shown(data.get('nbformat'), 20)}): open and save it "
                      "in JupyterLab 4 or Notebook 7")
    if len(data["cells"]) > caps.cells:
        raise Refused(f"more than {caps.cells} cells ({len(data['cells'])})")
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        data = _valid_unicode(data)
        if notes is not None:
            notes.append("text that is not valid Unicode (lone surrogates) replaced by \N{REPLACEMENT CHARACTER}")
    return data


def _valid_unicode(value: Any) -> Any:
    """``value`` (parsed JSON) with every lone surrogate in its strings and keys replaced by U+FFFD."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if isinstance(value, list):
        return [_valid_unicode(v) for v in value]
    if isinstance(value, dict):
        return {_valid_unicode(k): _valid_unicode(v) for k, v in value.items()}
    return value


def _source(cell: dict) -> str | None:
    source = cell.get("source", "")
    if isinstance(source, list) and all(isinstance(s, str) for s in source):
        return "".join(source)
    return source if isinstance(source, str) else None


def _grade_id(cell: dict) -> str | None:
    meta = cell.get("metadata")
    nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
    gid = nbg.get("grade_id") if isinstance(nbg, dict) else None
    return gid if isinstance(gid, str) else None


def _release_meta(cell: NotebookNode) -> dict:
    return copy.deepcopy(dict(cell.metadata.get("nbgrader", {})))


def rebuild(data: dict, release_nb: NotebookNode, result: Ingested, caps: Caps = CAPS) -> NotebookNode:
    """A fresh notebook made of the submission's cells, with the release's nbgrader metadata (module docstring).

    Notes go to ``result.notes``; answer hashes to ``result.answers``; when ``result.outputs`` is a list, the
    saved outputs of each code cell kept from the submission go there, sanitized (:func:`_kept_outputs`).
    """
    released = {_grade_id(c): c for c in release_nb.cells if _grade_id(c)}
    order = [_grade_id(c) for c in release_nb.cells if _grade_id(c)]
    cells: list[tuple[str | None, NotebookNode]] = []
    saved: dict[int, dict] = {}  # id() of a rebuilt cell -> the submitted cell it came from
    dropped_attachments = 0
    for i, cell in enumerate(data["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            result.notes.append(f"cell {i + 1} is not a code, markdown or raw cell: left out")
            continue
        source = _source(cell)
        if source is None:
            result.notes.append(f"cell {i + 1} has no readable source: left out")
            continue
        dropped_attachments += bool(cell.get("attachments"))
        gid = _grade_id(cell)
        if gid is not None and gid not in released:
            result.notes.append(f"unknown graded cell {shown(gid, 60)!r}: kept as a plain cell")
            gid = None
        kind = cell["cell_type"]
        if gid is not None:
            rel = released[gid]
            meta = rel.metadata.get("nbgrader", {})
            if kind != rel.cell_type:
                result.notes.append(f"cell {gid} was turned into a {kind} cell: graded as a {rel.cell_type} cell")
                kind = rel.cell_type
            if meta.get("locked") and not meta.get("solution"):
                source = rel.source  # read-only as released (nbgrader restores it too)
        cells.append((gid, _new_cell(kind, source)))
        saved[id(cells[-1][1])] = cell
    if dropped_attachments:
        result.notes.append(f"pasted attachments removed from {dropped_attachments} cell(s)")
    # a copied cell: the last copy keeps the grade_id
    last = {gid: k for k, (gid, _) in enumerate(cells) if gid is not None}
    copies = sorted({gid for k, (gid, _) in enumerate(cells) if gid is not None and last[gid] != k})
    for gid in copies:
        result.notes.append(f"cell {gid} appears more than once: the last copy is graded, the others run as "
                            "plain cells")
    cells = [(gid if gid is not None and last[gid] == k else None, cell) for k, (gid, cell) in enumerate(cells)]
    # a deleted cell: put back as released, after the released cell before it
    for n, gid in enumerate(order):
        if gid in last:
            continue
        rel = released[gid]
        result.notes.append(f"cell {gid} missing: put back as released")
        before = {g for g in order[:n]}
        at = max((k + 1 for k, (g, _) in enumerate(cells) if g in before), default=0)
        cells.insert(at, (gid, _new_cell(rel.cell_type, rel.source)))
        last[gid] = at
    nb = nbformat.v4.new_notebook(metadata=copy.deepcopy(release_nb.metadata))
    for k, (gid, cell) in enumerate(cells):
        cell["id"] = f"cell-{k}"
        if gid is not None:
            meta = _release_meta(released[gid])
            cell.metadata["nbgrader"] = meta
            if meta.get("solution"):
                result.answers[gid] = hashlib.sha256(cell.source.encode()).hexdigest()
        nb.cells.append(cell)
    if result.outputs is not None:
        result.outputs = _kept_outputs(nb, saved, caps)
    return nb


def _kept_outputs(nb: NotebookNode, saved: dict[int, dict], caps: Caps) -> list[dict]:
    """The saved outputs of each code cell of ``nb`` that came from a submitted code cell (``saved``), made safe
    by :class:`~autograder.outputs.OutputBudget` within the caps: hostile data like any run's output."""
    records: list[dict] = []
    budget = OutputBudget(caps.cell_output_bytes, caps.output_bytes)
    for k, cell in enumerate(nb.cells):
        submitted = saved.get(id(cell))
        if cell.cell_type != "code" or submitted is None or submitted.get("cell_type") != "code":
            continue
        records.append({"index": k, "execution_count": execution_count(submitted.get("execution_count")),
                        "outputs": budget.sanitize(submitted.get("outputs"))})
    return records


def _new_cell(kind: str, source: str) -> NotebookNode:
    if kind == "code":
        return nbformat.v4.new_code_cell(source)
    if kind == "markdown":
        return nbformat.v4.new_markdown_cell(source)
    return nbformat.v4.new_raw_cell(source)


# ------------------------------------------------------------------------------------------- writing
def write(result: Ingested, dest_root: Path, assignment: str, notebook: str) -> Path:
    """Write a gradable :class:`Ingested` to ``dest_root/<student>/<assignment>/``; return that folder."""
    folder = dest_root / result.student / assignment
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, mode=0o700)
    assert result.notebook is not None
    nbformat.write(result.notebook, folder / f"{notebook}.ipynb")
    if result.timestamp is not None:
        (folder / "timestamp.txt").write_text(result.timestamp + "\n")
    for rel, data in result.files.items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return folder
