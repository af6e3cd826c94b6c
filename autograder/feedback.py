"""Feedback pages that can go out before the deadline (``make feedback``).

    python -m autograder.feedback                  # every autograded student of autograder/
    python -m autograder.feedback --course DIR --student alice

One HTML page per student, written where ``nbgrader generate_feedback`` writes its pages
(``feedback/<student>/ddpg/ddpg_pendulum.html``), so that ``nbgrader release_feedback`` hands it out. A page shows:

* the score of each graded part (from the gradebook), and for each failed part the grader's message, which names
  the mistake the way the notebook's visible checks do; no test code of the grader and no reference value is in
  it (there is none in the notebook either: the verdict is decided in ``autograder/verdict.py``);
* the submission as the grader ran it: markdown rendered with raw HTML escaped, code as text, outputs sanitized
  (``autograder.outputs``); the page carries a Content-Security-Policy that forbids every script;
* no videos: grading shortens training to 2 episodes, so a video of that agent would mislead; the page says so.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
from pathlib import Path
from typing import Any

import nbformat

from autograder.build_notebooks import ASSIGNMENT, NOTEBOOK
from autograder.outputs import sanitize_output
from autograder.parts import BY_ID, PARTS
from autograder.trusted import REPORT_NAME, is_graded_test

HERE = Path(__file__).resolve().parent
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
VIDEO_NOTE = ("Videos are left out of this page: while grading, training is shortened to 2 episodes, so a video of "
              "that agent would show an untrained pendulum. Run the notebook yourself to watch yours.")
STYLE = """
body { font-family: sans-serif; max-width: 60em; margin: 2em auto; line-height: 1.4; color: #222; }
table { border-collapse: collapse; } td, th { border: 1px solid #bbb; padding: 0.3em 0.6em; text-align: left; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; white-space: pre-wrap; }
.passed { color: #1a7f37; } .failed { color: #b42318; } .cell { margin: 1em 0; } .note { color: #555; }
.verdict { border-left: 4px solid #b42318; padding-left: 0.8em; } .verdict.ok { border-color: #1a7f37; }
"""


def _markdown(text: str) -> str:
    import mistune
    import nh3

    return nh3.clean(mistune.create_markdown(escape=True, plugins=["table"])(text))


def _output_html(out: Any) -> str:
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
            return f"<p class='note'>{html.escape(VIDEO_NOTE)}</p>"
        return data["text/html"]
    if "text/plain" in data:
        return f"<pre>{html.escape(data['text/plain'])}</pre>"
    return ""


def _scores(course: Path, student: str) -> dict[str, float | None]:
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        try:
            nb = gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student)
        except MissingEntry:
            return {}
        return {g.name: g.score for g in nb.grades}


def page(course: Path, student: str) -> str:
    """The feedback page of one autograded student."""
    folder = course / "autograded" / student / ASSIGNMENT
    nb = nbformat.read(folder / f"{NOTEBOOK}.ipynb", as_version=4)
    report_path = folder / REPORT_NAME
    report = json.loads(report_path.read_text()) if report_path.is_file() else {"parts": {}, "notes": []}
    scores = _scores(course, student)
    rows, total, total_max = [], 0.0, 0.0
    for part in PARTS:
        verdict = report["parts"].get(part.grade_id, {})
        score = scores.get(part.grade_id)
        total += score or 0.0
        total_max += part.points
        ok = verdict.get("passed", False)
        message = "passed" if ok else verdict.get("message", "not graded")
        rows.append(f"<tr><td>{html.escape(part.title)}</td><td>{'' if score is None else f'{score:g}'} / "
                    f"{part.points:g}</td><td class='{'passed' if ok else 'failed'}'>{html.escape(message)}</td></tr>")
    others = {k: v for k, v in scores.items() if k not in BY_ID}
    for grade_id, score in others.items():  # manually graded answers
        total += score or 0.0
        rows.append(f"<tr><td>{html.escape(grade_id)} (graded by hand)</td><td>"
                    f"{'not graded yet' if score is None else f'{score:g}'}</td><td></td></tr>")
    notes = "".join(f"<li>{html.escape(str(n))}</li>" for n in report.get("notes", []))
    body = [f"<h1>Feedback: {html.escape(student)}, assignment {html.escape(ASSIGNMENT)}</h1>",
            f"<p><b>Autograded: {total:g} / {total_max:g}</b></p>",
            "<table><tr><th>part</th><th>score</th><th>grader's message</th></tr>" + "".join(rows) + "</table>",
            f"<ul class='note'>{notes}</ul>" if notes else "",
            "<p class='note'>Each part was decided by the grader outside your notebook, by running your methods on "
            "fixtures of its own and comparing with the reference solution. Below is your notebook as the grader "
            f"ran it (training shortened to 2 episodes). {html.escape(VIDEO_NOTE)}</p>", "<hr>"]
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            body.append(f"<div class='cell'>{_markdown(cell.source)}</div>")
        elif cell.cell_type == "code":
            body.append(f"<div class='cell'><pre>{html.escape(cell.source)}</pre>")
            if is_graded_test(cell):
                grade_id = cell.metadata["nbgrader"].get("grade_id")
                verdict = report["parts"].get(grade_id, {})
                ok = verdict.get("passed", False)
                body.append(f"<div class='verdict{' ok' if ok else ''}'><b>{html.escape(grade_id)}</b>: "
                            f"{html.escape(verdict.get('message', 'not graded'))}</div>")
            else:
                body.extend(_output_html(o) for o in cell.get("outputs", []))
            body.append("</div>")
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
            f"<title>Feedback: {html.escape(student)}</title><style>{STYLE}</style></head><body>"
            + "\n".join(body) + "</body></html>")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write one feedback page per autograded student.")
    parser.add_argument("--course", type=Path, default=HERE, help="the nbgrader course directory")
    parser.add_argument("--student", action="append", help="only these students (repeatable)")
    args = parser.parse_args(argv)
    course = args.course.resolve()
    root = course / "autograded"
    students = args.student or sorted(p.parent.name for p in root.glob(f"*/{ASSIGNMENT}") if p.is_dir())
    if not students:
        print(f"No autograded submissions in {root}: run `make grade` first.")
        return 0
    for student in students:
        out = course / "feedback" / student / ASSIGNMENT / f"{NOTEBOOK}.html"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(page(course, student))
        print(f"wrote {out.relative_to(course)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
