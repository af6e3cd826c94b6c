"""Outputs that came out of a sandbox, made safe to store and to show in a browser.

Whatever a submission printed or displayed is data from an untrusted program. Before it goes into the autograded
notebook (which the formgrader and the feedback render as HTML), :func:`sanitize_outputs` keeps only known
output types and MIME types, cuts them to a byte budget, and cleans HTML with nh3 (the Ammonia sanitizer): no
script, no event handler, no ``javascript:`` URL; the only ``data:`` URLs kept are videos and images, which
the notebook's video cells need.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

import nbformat
from nbformat import NotebookNode

TEXT_CHARS = 200_000
KEPT_MIME = ("text/plain", "text/html", "image/png", "image/jpeg")
CUT = "\n[output cut by the grader: over the size kept per cell]\n"


def _clean_html(html: str) -> str:
    import nh3

    def keep(tag: str, attribute: str, value: str) -> str | None:
        if attribute in ("src", "href", "poster"):
            lowered = value.strip().lower()
            if lowered.startswith("data:"):
                allowed = ("data:video/mp4;base64,", "data:image/png;base64,", "data:image/jpeg;base64,")
                return value if lowered.startswith(allowed) and tag in ("video", "source", "img") else None
            if not lowered.startswith(("http://", "https://")) and ":" in lowered.split("/")[0]:
                return None
        return value

    tags = set(nh3.ALLOWED_TAGS) | {"video", "source", "figure", "figcaption"}
    attributes = {**{k: set(v) for k, v in nh3.ALLOWED_ATTRIBUTES.items()},
                  "video": {"src", "controls", "loop", "autoplay", "muted", "playsinline", "width", "height",
                            "poster"},
                  "source": {"src", "type"}, "img": {"src", "alt", "width", "height"},
                  "div": {"style"}, "span": {"style"}}
    return nh3.clean(html, tags=tags, attributes=attributes, attribute_filter=keep,
                     url_schemes={"http", "https", "data"}, clean_content_tags={"script", "style"})


def _text(value: Any) -> str:
    if isinstance(value, list):
        value = "".join(v for v in value if isinstance(v, str))
    return value if isinstance(value, str) else ""


def _valid_base64(value: str) -> bool:
    try:
        base64.b64decode(value, validate=True)
        return True
    except (binascii.Error, ValueError):
        return False


def sanitize_output(out: Any) -> NotebookNode | None:
    """One output made safe, or None if nothing of it can be kept."""
    if not isinstance(out, dict):
        return None
    kind = out.get("output_type")
    if kind == "stream":
        name = out.get("name") if out.get("name") in ("stdout", "stderr") else "stdout"
        return nbformat.v4.new_output("stream", name=name, text=_text(out.get("text"))[:TEXT_CHARS])
    if kind == "error":
        return nbformat.v4.new_output("error", ename=_text(out.get("ename"))[:200],
                                      evalue=_text(out.get("evalue"))[:2000],
                                      traceback=[_text(t)[:5000] for t in (out.get("traceback") or [])[:50]])
    if kind in ("display_data", "execute_result"):
        data = out.get("data") if isinstance(out.get("data"), dict) else {}
        kept: dict[str, str] = {}
        for mime in KEPT_MIME:
            value = _text(data.get(mime))
            if not value:
                continue
            if mime == "text/html":
                kept[mime] = _clean_html(value)
            elif mime.startswith("image/"):
                if _valid_base64(value.replace("\n", "")):
                    kept[mime] = value
            else:
                kept[mime] = value[:TEXT_CHARS]
        if not kept:
            return None
        if kind == "execute_result":
            count = out.get("execution_count")
            return nbformat.v4.new_output("execute_result", data=kept,
                                          execution_count=count if isinstance(count, int) else None)
        return nbformat.v4.new_output("display_data", data=kept)
    return None


def sanitize_outputs(outputs: Any, budget: int) -> tuple[list[NotebookNode], int]:
    """Sanitized outputs of one cell, within ``budget`` bytes; returns them and the bytes they use."""
    kept: list[NotebookNode] = []
    used = 0
    for out in outputs if isinstance(outputs, list) else []:
        clean = sanitize_output(out)
        if clean is None:
            continue
        size = len(json.dumps(clean))
        if used + size > budget:
            kept.append(nbformat.v4.new_output("stream", name="stderr", text=CUT))
            break
        kept.append(clean)
        used += size
    return kept, used


_ACTIVE = re.compile(r"<\s*/?\s*(script|iframe|object|embed|style|link|meta|base|form|svg|math)\b|\bon[a-z]+\s*=|"
                     r"javascript\s*:|vbscript\s*:|data\s*:\s*text/html", re.I)
MARKDOWN_NOTE = "\n\n*[The grader removed active HTML (scripts, event handlers) from this cell.]*\n"


def sanitize_markdown(source: str) -> str:
    """A markdown cell's source, with any active HTML (scripts, event handlers, ``javascript:`` URLs, frames)
    removed by nh3 and a note appended; a cell without any is returned as it is (so that ``a < b`` in prose or
    maths is left alone). nbconvert and the formgrader render raw HTML in markdown as it stands."""
    if not _ACTIVE.search(source):
        return source
    import nh3

    cleaned = nh3.clean(source, clean_content_tags={"script", "style"})
    return re.sub(r"(?i)(java|vb)script\s*:", "removed-url:", cleaned) + MARKDOWN_NOTE
