"""The reader's pages (README.md and docs/*.md) hold together: every relative link leads to a file that exists and,
when it names a section, to a heading of that file; the README links every page of docs/; and docs/students.md,
which students read alone (in the released folder and as the wheel's description), links nothing relative."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
#: Pages that other branches write; a link to them is allowed before they exist.
WRITTEN_ELSEWHERE = {REPO / "docs" / "hub.md"}

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def links(page: Path) -> list[str]:
    """The targets of the page's Markdown links, code blocks left out."""
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.M | re.S)
    return LINK.findall(text)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"`", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.M | re.S)
    return {slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}


def test_slug_matches_githubs_rule():
    assert slug("Instructor walkthrough: one class, from the roster to the gradebook") == \
        "instructor-walkthrough-one-class-from-the-roster-to-the-gradebook"
    assert slug("Python versions and the CPU build of PyTorch") == "python-versions-and-the-cpu-build-of-pytorch"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_lead_to_files_and_headings(page):
    broken = []
    for target in links(page):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if dest in WRITTEN_ELSEWHERE:
            continue
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading with that anchor in {dest.relative_to(REPO)}")
    assert not broken, f"{page.relative_to(REPO)}: {broken}"


def test_the_readme_links_every_page_of_docs():
    linked = {(REPO / target.partition("#")[0]).resolve() for target in links(REPO / "README.md")}
    pages = set((REPO / "docs").glob("*.md")) | WRITTEN_ELSEWHERE
    assert pages <= linked, f"not linked from README.md: {sorted(str(p.relative_to(REPO)) for p in pages - linked)}"


def test_the_student_page_stands_alone():
    relative = [t for t in links(REPO / "docs" / "students.md") if not re.match(r"[a-z]+:", t)]
    assert not relative, f"docs/students.md is read outside the repository; relative links break there: {relative}"


def test_the_readme_stays_short():
    lines = len((REPO / "README.md").read_text().splitlines())
    assert lines <= 160, f"README.md has {lines} lines; move details to a page of docs/"
