"""Feedback pages that can go out before the deadline (``make feedback``).

    python -m autograder.feedback                  # every autograded student of autograder/course/
    python -m autograder.feedback --course DIR --student alice

One HTML page per student, written where ``nbgrader generate_feedback`` writes its pages
(``feedback/<student>/ddpg/ddpg_pendulum.html``), with the graded submission's ``timestamp.txt`` and
``submission_secret.txt`` beside it, as ``generate_feedback`` leaves them: ``nbgrader release_feedback`` needs both
(the page's name in the exchange is a hash of that secret, which only the student who submitted holds, so only they
can fetch it). Both are read from the autograded copy of the submission (:func:`submission_keys`), as data: a
student whose files are missing or unusable (a submission copied in by hand has no secret) gets the page without
them, and the command names them: ``release_feedback`` would stop at their page, ``python -m
autograder.hub.feedback`` holds it back. A page shows:

* the score of each graded part (from the gradebook), and for each failed part the grader's message, which names
  the mistake the way the notebook's visible checks do; no test code of the grader and no reference value is in
  it (there is none in the notebook either: the verdict is decided in ``autograder/verdict.py``);
* each answer graded by hand, in the notebook's order: its points out of its maximum (or "not graded yet"), and the
  grader's comment typed in the formgrader (nbgrader's ``Comment`` in the gradebook), beside the answer itself;
* the submission as the grader ran it: markdown rendered as HTML (math as MathML, no script needed; sanitized
  by ``autograder.outputs.markdown_to_html``), code as text, outputs sanitized (``autograder.outputs``); the page
  carries a Content-Security-Policy that forbids every script and every load from the network;
* no videos: grading shortens training to 2 episodes, so a video of that agent would mislead; the page says so;
* the sums as ``make export`` reports them: autograded, graded by hand (and how many answers wait for a grader),
  the late penalty of the course's policy (``autograder/late.py``) with the days it counted, and the total.

:func:`pregrade_page` is the page of a pre-grade (the hub's grading on submit, ``autograder/hub/verdict_only.py``):
the same table of parts and the same cells, from the verdict run's decisions and the ingested notebook (its code
and text, no outputs: nothing ran the notebook), with no gradebook behind it.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat

from autograder import export
from autograder.build_notebooks import question_of
from autograder.course_folder import (
    ASSIGNMENT,
    COURSE_DIR,
    NOTEBOOK,
    autograded_dir,
    autograded_notebook,
    autograded_students,
    cell_scores,
    feedback_page,
    gradebook_url,
)
from autograder.ingest import Refused, read_regular
from autograder.late import percent_per_day
from autograder.outputs import markdown_to_html, sanitize_output
from autograder.parts import BY_ID, PARTS, TOTAL
from autograder.text import shown, table_cell
from autograder.trusted import REPORT_NAME, SUBMITTED, is_graded_test

KEY_FILES = ("timestamp.txt", "submission_secret.txt")
"""What ``nbgrader release_feedback`` reads beside each page."""
KEY_BYTES = 1024
"""The most read of either file (nbgrader writes a timestamp of 26 characters and a secret of 32)."""
SECRET = re.compile(r"[0-9a-f]{16,256}")
"""A submission secret as ``nbgrader submit`` writes it (hexadecimal)."""
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
VIDEO_NOTE = ("Videos are left out of this page: while grading, training is shortened to 2 episodes, so a video of "
              "that agent would show an untrained pendulum. Run the notebook yourself to watch yours.")
SAVED_VIDEO_NOTE = "Videos are left out of this page: open your notebook to watch the ones you saved."
"""The note in place of a video when the outputs are the student's own (``notebook_outputs = SUBMITTED``)."""
STYLE = """
body { font-family: sans-serif; max-width: 60em; margin: 2em auto; line-height: 1.4; color: #222; }
table { border-collapse: collapse; } td, th { border: 1px solid #bbb; padding: 0.3em 0.6em; text-align: left; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; white-space: pre-wrap; }
.passed { color: #1a7f37; } .failed { color: #b42318; } .cell { margin: 1em 0; } .note { color: #555; }
.verdict { border-left: 4px solid #b42318; padding-left: 0.8em; } .verdict.ok { border-color: #1a7f37; }
.answer { border-left: 4px solid #1f6feb; padding-left: 0.8em; } .comment { background: #fff8c5; padding: 0.4em 0.6em; }
"""


def _markdown(text: str, attachments: Any = None) -> str:
    return markdown_to_html(text, attachments if isinstance(attachments, dict) else None)


def _output_html(out: Any, video_note: str = VIDEO_NOTE) -> str:
    clean = sanitize_output(out)
    if clean is None:
        return ""
    kind = clean.output_type
    if kind == "stream":
        return f"<pre>{html.escape(ANSI.sub('', clean.text))}</pre>"
    if kind == "error":
        text = "\n".join(ANSI.sub("", t) for t in clean.traceback) or f"{clean.ename}: {clean.evalue}"
        return f"<pre class='failed'>{html.escape(text)}</pre>"
    data = clean.get("data", {})
    if "image/png" in data:
        return f"<img alt='figure' src='data:image/png;base64,{data['image/png'].strip()}'>"
    if "text/html" in data:
        if "<video" in data["text/html"]:
            return f"<p class='note'>{html.escape(video_note)}</p>"
        return data["text/html"]
    if "text/plain" in data:
        return f"<pre>{html.escape(data['text/plain'])}</pre>"
    return ""


def _grades(course: Path, student: str) -> dict[str, dict[str, Any]]:
    """``{grade_id: {"score", "max", "comment"}}`` of the student's notebook in the gradebook: the score (None
    while nobody graded it), its maximum, and the comment on its cell (the grader's, typed in the formgrader, else
    nbgrader's own, such as "No response." for an answer left as released)."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(gradebook_url(course)) as gb:
        try:
            nb = gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student)
        except MissingEntry:
            return {}
        comments = {c.name: c.comment for c in nb.comments}
        scores = cell_scores(nb)
        return {g.name: {"score": scores[g.name], "max": float(g.max_score), "comment": comments.get(g.name)}
                for g in nb.grades}


def _question_title(question: str, grade_id: str) -> str:
    """``1. Stability`` from a question that starts with ``**1. Stability** (3 points) ...``; else the grade_id."""
    bold = re.match(r"\s*\*\*(.+?)\*\*", question)
    return bold.group(1).strip() if bold else grade_id


def _answers(nb: nbformat.NotebookNode) -> dict[str, tuple[int, str]]:
    """``{grade_id: (cell index, title)}`` of the notebook's answers graded by hand, in the notebook's order."""
    found = {}
    for index, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and meta.get("grade") and meta.get("grade_id") not in BY_ID:
            found[meta["grade_id"]] = (index, _question_title(question_of(nb.cells, index), meta["grade_id"]))
    return found


def _hand_score(grade: dict[str, Any] | None) -> str:
    if grade is None:
        return "not graded yet"
    if grade["score"] is None:
        return f"not graded yet (out of {grade['max']:g})"
    return f"{grade['score']:g} / {grade['max']:g}"


def _comment(grade: dict[str, Any] | None) -> str:
    return _markdown(grade["comment"]) if grade and grade.get("comment") else ""


def _sums(course: Path, row: dict[str, str], manual_ids: list[str]) -> str:
    """The autograded and manual sums, the late penalty and the total of one student's export row, as HTML."""
    auto_max = TOTAL
    max_total = row.get("max_total") or f"{auto_max:g}"
    lines = [f"<b>Autograded: {html.escape(row.get('autograded', '0'))} / {auto_max:g}</b>"]
    if manual_ids:
        waiting = sum(row.get(gid, "") == "" for gid in manual_ids)
        lines.append(f"Graded by hand: {html.escape(row.get('manual', '0'))} / {float(max_total) - auto_max:g}"
                     + (f" ({waiting} of {len(manual_ids)} answers not graded yet)" if waiting else ""))
    days = int(row.get("days_late") or 0)
    if days:
        percent = percent_per_day(course)
        rule = f" (late policy: {percent:g}% of the points per started day)" if percent is not None else ""
        lines.append(f"Handed in {days} day{'s' if days > 1 else ''} after the due date: "
                     f"{html.escape(row.get('late_penalty', '0'))} points off{rule}")
    lines.append(f"<b>Total: {html.escape(row.get('total', '0'))} / {html.escape(max_total)}</b>")
    return "<p>" + "<br>".join(lines) + "</p>"


def _part_rows(parts: dict[str, dict[str, Any]], scores: dict[str, float | None]) -> list[str]:
    """One table row per autograded part: its title, score and the grader's message (``parts``: the report's)."""
    rows = []
    for part in PARTS:
        verdict = parts.get(part.grade_id, {})
        score = scores.get(part.grade_id)
        ok = verdict.get("passed", False)
        message = "passed" if ok else verdict.get("message", "not graded")
        rows.append(f"<tr><td>{html.escape(part.title)}</td><td>{'' if score is None else f'{score:g}'} / "
                    f"{part.points:g}</td><td class='{'passed' if ok else 'failed'}'>{html.escape(message)}</td></tr>")
    return rows


def _cells(nb: nbformat.NotebookNode, parts: dict[str, dict[str, Any]], answers: dict[str, tuple[int, str]],
           grades: dict[str, dict[str, Any]], video_note: str = VIDEO_NOTE) -> list[str]:
    """The notebook, cell by cell: markdown rendered, code as text with its (sanitized) outputs (a video replaced
    by ``video_note``), each graded test cell with its part's verdict, each answer graded by hand with its points
    and the grader's comment."""
    body = []
    answer_at = {index: (grade_id, title) for grade_id, (index, title) in answers.items()}
    for index, cell in enumerate(nb.cells):
        if index in answer_at:
            grade_id, title = answer_at[index]
            grade = grades.get(grade_id)
            comment = _comment(grade)
            body.append(f"<div class='cell answer'><p><b>Your answer to {html.escape(title)}</b>: "
                        f"{_hand_score(grade)}</p>{_markdown(cell.source, cell.get('attachments'))}"
                        + (f"<div class='comment'><b>Grader's comment:</b> {comment}</div>" if comment else "")
                        + "</div>")
        elif cell.cell_type == "markdown":
            body.append(f"<div class='cell'>{_markdown(cell.source, cell.get('attachments'))}</div>")
        elif cell.cell_type == "code":
            body.append(f"<div class='cell'><pre>{html.escape(cell.source)}</pre>")
            if is_graded_test(cell):
                grade_id = cell.metadata["nbgrader"].get("grade_id")
                verdict = parts.get(grade_id, {})
                ok = verdict.get("passed", False)
                body.append(f"<div class='verdict{' ok' if ok else ''}'><b>{html.escape(grade_id)}</b>: "
                            f"{html.escape(verdict.get('message', 'not graded'))}</div>")
            else:
                body.extend(_output_html(o, video_note) for o in cell.get("outputs", []))
            body.append("</div>")
    return body


def document(title: str, body: list[str]) -> str:
    """A whole page: ``title`` (escaped here), the page's style, the Content-Security-Policy that forbids every
    script and every load from the network, and ``body`` (HTML, joined by lines)."""
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
            + "\n".join(body) + "</body></html>")


def _outputs_note(saved: bool) -> str:
    """Where the outputs below come from: the student's own (``saved``) or the grader's run."""
    if saved:
        return ("Below is your notebook with the outputs you saved in it (the grader did not run it again; what "
                "could not be shown safely was left out).")
    return f"Below is your notebook as the grader ran it (training shortened to 2 episodes). {html.escape(VIDEO_NOTE)}"


def page(course: Path, student: str, row: dict[str, str] | None = None, preface: str = "") -> str:
    """The feedback page of one autograded student (``row``: the student's row of ``autograder.export.rows``;
    read from the gradebook when not given; ``preface``: HTML put first, made by the caller from no student
    text)."""
    if row is None:
        row = next((r for r in export.rows(course)[1] if r["student_id"] == student), {})
    nb = nbformat.read(autograded_notebook(course, student), as_version=4)
    report_path = autograded_dir(course, student) / REPORT_NAME
    report = json.loads(report_path.read_text()) if report_path.is_file() else {"parts": {}, "notes": []}
    saved = report.get("outputs") == SUBMITTED  # the course's c.SandboxedGrading.notebook_outputs
    grades = _grades(course, student)
    answers = _answers(nb)
    rows = _part_rows(report["parts"], {name: grade["score"] for name, grade in grades.items()})
    # answers graded by hand, in the notebook's order (then any the notebook lacks): points, maximum, comment
    manual_ids = list(answers) + [k for k in grades if k not in BY_ID and k not in answers]
    for grade_id in manual_ids:
        title = answers[grade_id][1] if grade_id in answers else grade_id
        rows.append(f"<tr><td>{html.escape(title)} (graded by hand)</td><td>{_hand_score(grades.get(grade_id))}</td>"
                    f"<td>{_comment(grades.get(grade_id))}</td></tr>")
    days = int(row.get("days_late") or 0)
    if days:
        rows.append(f"<tr><td>late penalty ({days} day{'s' if days > 1 else ''} late)</td>"
                    f"<td>&minus;{html.escape(row.get('late_penalty', '0'))}</td><td></td></tr>")
    notes = "".join(f"<li>{html.escape(str(n))}</li>" for n in report.get("notes", []))
    body = [f"<h1>Feedback: {html.escape(student)}, assignment {html.escape(ASSIGNMENT)}</h1>", preface,
            _sums(course, row, manual_ids),
            "<table><tr><th>part</th><th>score</th><th>grader's message or comment</th></tr>" + "".join(rows)
            + "</table>",
            f"<ul class='note'>{notes}</ul>" if notes else "",
            "<p class='note'>Each part was decided by the grader outside your notebook, by running your methods on "
            f"fixtures of its own and comparing with the reference solution. {_outputs_note(saved)}</p>", "<hr>"]
    body += _cells(nb, report["parts"], answers, grades, SAVED_VIDEO_NOTE if saved else VIDEO_NOTE)
    return document(f"Feedback: {student}", body)


PREGRADE_NOTE = ("Each part was decided by the grader outside your notebook, by running your methods on fixtures of "
                 "its own and comparing with the reference solution. A pre-grade runs only the code above the "
                 "checks (the given cells and your methods), not the rest of your notebook: below are your code "
                 "and your text, without outputs. Your answers to the questions are graded by hand, after the "
                 "due date.")


def pregrade_page(student: str, nb: nbformat.NotebookNode, verdicts: list[Any], notes: list[str],
                  preface: str = "") -> str:
    """The page of one pre-grade (:mod:`autograder.hub.verdict_only`): each part's verdict and the grader's
    message, then the submission's code and text as ingest rebuilt it (no outputs: nothing ran the notebook).

    Args:
        student: the student (escaped here).
        nb: the ingested notebook.
        verdicts: each part's :class:`autograder.verdict.Verdict`.
        notes: what ingest refused or repaired, how the verdict run ended (escaped here).
        preface: HTML put first, made by the caller from no student text.
    """
    parts = {v.part.grade_id: {"passed": v.passed, "message": v.message} for v in verdicts}
    scores = {v.part.grade_id: v.score for v in verdicts}
    answers = _answers(nb)
    rows = _part_rows(parts, scores)
    rows += [f"<tr><td>{html.escape(title)} (graded by hand)</td><td>not pre-graded</td><td></td></tr>"
             for _, title in answers.values()]
    items = "".join(f"<li>{html.escape(str(n))}</li>" for n in notes)
    body = [f"<h1>Pre-grade: {html.escape(student)}, assignment {html.escape(ASSIGNMENT)}</h1>", preface,
            f"<p><b>Autograded: {sum(scores.values()):g} / {TOTAL:g}</b></p>",
            "<table><tr><th>part</th><th>score</th><th>grader's message</th></tr>" + "".join(rows) + "</table>",
            f"<ul class='note'>{items}</ul>" if items else "",
            f"<p class='note'>{html.escape(PREGRADE_NOTE)}</p>", "<hr>"]
    body += _cells(nb, parts, answers, {})
    return document(f"Pre-grade: {student}", body)


def read_keys(folder: Path) -> tuple[str, str]:
    """``(timestamp, secret)`` from the ``timestamp.txt`` and ``submission_secret.txt`` in ``folder``, which a
    student's ``nbgrader submit`` wrote. Read as ingest reads a submission's files
    (:func:`autograder.ingest.read_regular`: regular files only, never through a link, at most :data:`KEY_BYTES`);
    the timestamp must be one nbgrader can parse, the secret plain hexadecimal.

    Raises:
        Refused: a file is missing, not a regular file, or too big.
        ValueError: a file's text is not what ``nbgrader submit`` writes (UnicodeDecodeError included).
    """
    from nbgrader.utils import parse_utc

    timestamp = read_regular(folder / "timestamp.txt", KEY_BYTES).decode("utf-8").strip()
    try:
        parse_utc(timestamp)
    except Exception as err:  # noqa: BLE001 - whatever dateutil raises, it is not a timestamp
        raise ValueError(f"timestamp.txt: expected a date as nbgrader submit writes it, got {shown(timestamp, 40)!r}") \
            from err
    secret = read_regular(folder / "submission_secret.txt", KEY_BYTES).decode("utf-8").strip()
    if not SECRET.fullmatch(secret):
        raise ValueError("submission_secret.txt: expected the hexadecimal secret nbgrader submit writes, got "
                         f"{len(secret)} characters of something else")
    return timestamp, secret


def submission_keys(course: Path, student: str) -> tuple[str, str]:
    """:func:`read_keys` of the submission graded for ``student``: the copies of the two files that the grader
    put in ``autograded/<student>/ddpg/`` (so the page goes out under the secret of the very submission it
    grades, even if the student submitted again since)."""
    return read_keys(autograded_dir(course, student))


def write_keys(course: Path, student: str) -> str | None:
    """Write ``timestamp.txt`` and ``submission_secret.txt`` beside ``student``'s page (:func:`submission_keys`);
    remove stale ones first. Returns None, or why they could not be written (safe to print)."""
    folder = feedback_page(course, student).parent
    for name in KEY_FILES:
        (folder / name).unlink(missing_ok=True)
    try:
        timestamp, secret = submission_keys(course, student)
    except (Refused, ValueError) as err:
        return str(err)
    (folder / "timestamp.txt").write_text(timestamp)
    (folder / "submission_secret.txt").write_text(secret)
    return None


def write_pages(course: Path, students: list[str],
                preface: Callable[[str], str] | None = None) -> dict[str, str]:
    """Write the page of each of ``students`` and the two files beside it that ``release_feedback`` reads.

    Args:
        course: the course folder.
        students: autograded students.
        preface: ``student -> HTML`` put first on that student's page (the pre-grading service's notice).

    Returns:
        ``{student: why}`` of each page written without its ``timestamp.txt``/``submission_secret.txt``.
    """
    table = {row["student_id"]: row for row in export.rows(course)[1]}  # one pass over the gradebook
    unkeyed = {}
    for student in students:
        out = feedback_page(course, student)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(page(course, student, table.get(student, {}), preface(student) if preface else ""))
        why = write_keys(course, student)
        if why:
            unkeyed[student] = why
        print(f"wrote {out.relative_to(course)}" + (f" (cannot be released: {why})" if why else ""))
    return unkeyed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write one feedback page per autograded student.")
    parser.add_argument("--course", type=Path, default=COURSE_DIR, help="the nbgrader course folder")
    parser.add_argument("--student", action="append", help="only these students (repeatable)")
    args = parser.parse_args(argv)
    course = args.course.resolve()
    students = args.student or autograded_students(course)
    if not students:
        print(f"No autograded submissions in {course / 'autograded'}: run `make grade` first.")
        return 0
    unkeyed = write_pages(course, students)
    if unkeyed:
        print(f"{len(unkeyed)} page(s) without the submission's timestamp.txt and submission_secret.txt (fine for "
              "pages handed out by your LMS or e-mail; `nbgrader release_feedback` needs them and would stop at these "
              "pages: collect and grade those submissions through nbgrader's exchange, or release with `python -m "
              "autograder.hub.feedback`, which holds such pages back): "
              + "; ".join(f"{table_cell(s, 40)}: {why}" for s, why in unkeyed.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
