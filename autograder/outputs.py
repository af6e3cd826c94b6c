"""Outputs that came out of a sandbox, made safe to store and to show in a browser.

Whatever a submission printed or displayed is data from an untrusted program. Before it goes into the autograded
notebook (which the formgrader and the feedback render as HTML), :func:`sanitize_outputs` keeps only known
output types and MIME types, cuts them to a byte budget, and cleans HTML with nh3 (the Ammonia sanitizer): no
script, no event handler, no ``javascript:`` URL, no ``style`` (nothing laid over the page), and nothing the page
would load: the only URLs kept in ``src`` are ``data:`` videos and images, which the notebook's video cells need.

The student's markdown cells go the same way (:func:`sanitize_markdown_source`, called on the grading host for
every markdown cell of the autograded notebook), and :func:`markdown_to_html` renders one for the feedback, math
as MathML.
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
HTML_TAGS = 10_000
"""Most tags (``<``) an HTML output may hold; past it the HTML is left out (its plain text stays): cleaning
deeply nested HTML takes time that grows with the square of its depth (90 000 nested ``div``: 22 s)."""
OUTPUTS_PER_CELL = 200
"""Most outputs kept of one cell (a saved notebook holds one stream output per stream; a figure, a video, a
table are one each); the rest is cut, with a note."""
OUTPUTS_PER_NOTEBOOK = 2_000
"""Most outputs kept of one notebook, all cells together (:func:`sanitize_outputs`' ``max_outputs``)."""


#: ``data:`` URLs an output may embed (the notebook's videos and figures); nothing else is ever loaded by a page
#: that shows an output: no http(s) or protocol-relative URL (a beacon to the student), no relative one (a request
#: to the Jupyter server that serves the formgrader, with the instructor's cookies).
OUTPUT_DATA_URLS = ("data:video/mp4;base64,", "data:image/png;base64,", "data:image/jpeg;base64,")
#: What a markdown image may show: an image pasted into the cell (nbconvert turns ``attachment:`` into ``data:``).
MARKDOWN_IMAGE_URLS = ("data:image/png;", "data:image/jpeg;", "data:image/gif;", "attachment:")
_SCHEME = re.compile(r"\s*([a-zA-Z][a-zA-Z0-9+.-]*):")


def _plain_link(value: str) -> bool:
    """A link that only a click follows: http(s), mailto, or within the page or the site (no ``javascript:``,
    ``data:`` or other scheme)."""
    scheme = _SCHEME.match(value)
    return scheme is None or scheme.group(1).lower() in ("http", "https", "mailto")


def _embedded(value: str, allowed: tuple[str, ...]) -> bool:
    return value.strip().lower().startswith(allowed)


def _clean_html(html: str) -> str:
    """An HTML output cleaned by nh3: no script, no event handler, no ``style`` attribute or element (nothing
    positioned over the page, no CSS ``url()``), and nothing loaded from anywhere: ``src`` and ``poster`` only as
    the ``data:`` URLs of ``OUTPUT_DATA_URLS``; links only those of :func:`_plain_link`."""
    import nh3

    def keep(tag: str, attribute: str, value: str) -> str | None:
        if attribute in ("src", "poster"):
            return value if tag in ("video", "source", "img") and _embedded(value, OUTPUT_DATA_URLS) else None
        if attribute == "href":
            return value if _plain_link(value) else None
        return value

    tags = set(nh3.ALLOWED_TAGS) | {"video", "source", "figure", "figcaption"}
    attributes = {**{k: set(v) for k, v in nh3.ALLOWED_ATTRIBUTES.items()},
                  "video": {"src", "controls", "loop", "autoplay", "muted", "playsinline", "width", "height",
                            "poster"},
                  "source": {"src", "type"}, "img": {"src", "alt", "width", "height"}}
    return nh3.clean(html, tags=tags, attributes=attributes, attribute_filter=keep,
                     url_schemes={"http", "https", "mailto", "data"}, clean_content_tags={"script", "style"})


def _text(value: Any) -> str:
    if isinstance(value, list):
        value = "".join(v for v in value if isinstance(v, str))
    return value if isinstance(value, str) else ""


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _valid_base64(value: str) -> bool:
    try:
        base64.b64decode(value, validate=True)
        return True
    except (binascii.Error, ValueError):
        return False


def execution_count(value: Any) -> int | None:
    """An execution count as a notebook may hold it (a non-negative int below 2**31), else None: a ``true`` or a
    100-digit number from a submission would make the autograded notebook invalid."""
    return value if type(value) is int and 0 <= value < 2**31 else None


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
                                      traceback=[_text(t)[:5000] for t in _list(out.get("traceback"))[:50]])
    if kind in ("display_data", "execute_result"):
        data = out.get("data") if isinstance(out.get("data"), dict) else {}
        kept: dict[str, str] = {}
        for mime in KEPT_MIME:
            value = _text(data.get(mime))
            if not value:
                continue
            if mime == "text/html":
                if value.count("<") <= HTML_TAGS:
                    kept[mime] = _clean_html(value)
            elif mime.startswith("image/"):
                if _valid_base64(value.replace("\n", "")):
                    kept[mime] = value
            else:
                kept[mime] = value[:TEXT_CHARS]
        if not kept:
            return None
        if kind == "execute_result":
            return nbformat.v4.new_output("execute_result", data=kept,
                                          execution_count=execution_count(out.get("execution_count")))
        return nbformat.v4.new_output("display_data", data=kept)
    return None


def _raw_size(out: Any) -> int:
    """The JSON size of an output as it came (an upper bound of what cleaning leaves, but for escaping)."""
    try:
        return len(json.dumps(out))
    except (ValueError, TypeError, RecursionError):
        return 0  # not JSON as given: sanitize_output keeps nothing of it


def sanitize_outputs(outputs: Any, budget: int, max_outputs: int = OUTPUTS_PER_CELL) -> tuple[list[NotebookNode], int]:
    """Sanitized outputs of one cell, at most ``max_outputs`` of them within ``budget`` bytes; returns them and the
    bytes they use. An output over what is left of the budget as it came is cut before it is cleaned (cleaning
    costs time)."""
    kept: list[NotebookNode] = []
    used = 0
    for out in outputs if isinstance(outputs, list) else []:
        if len(kept) >= max_outputs or used + _raw_size(out) > budget:
            kept.append(nbformat.v4.new_output("stream", name="stderr", text=CUT))
            break
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


class OutputBudget:
    """What is left of one notebook's output caps, spent cell by cell: ``cell_bytes`` per cell and
    ``notebook_bytes`` in all, at most :data:`OUTPUTS_PER_CELL` outputs per cell and :data:`OUTPUTS_PER_NOTEBOOK`
    in all. Shared by the outputs a run streamed and the outputs a student saved."""

    def __init__(self, cell_bytes: int, notebook_bytes: int) -> None:
        self.cell_bytes, self.bytes_left, self.outputs_left = cell_bytes, notebook_bytes, OUTPUTS_PER_NOTEBOOK

    def sanitize(self, outputs: Any) -> list[NotebookNode]:
        """One cell's outputs, sanitized (:func:`sanitize_outputs`) within what is left; what they use is spent."""
        kept, used = sanitize_outputs(outputs, min(self.cell_bytes, self.bytes_left),
                                      max(0, min(OUTPUTS_PER_CELL, self.outputs_left)))
        self.bytes_left -= used
        self.outputs_left -= len(kept)
        return kept


# ------------------------------------------------------------------------------------------ markdown cells
def _pygments_classes() -> set[str]:
    from pygments.token import STANDARD_TYPES

    return {c for c in STANDARD_TYPES.values() if c}


def _clean_rendered_markdown(html: str) -> str:
    """HTML rendered from a markdown cell, cleaned: what nbconvert itself writes is kept (heading ids and their
    anchor links, highlighted code, a table's column alignment, ``$...$`` math as text); scripts, event handlers,
    ``style`` (but a table cell's ``text-align``), classes of the page's own CSS (Bootstrap's ``modal-backdrop``
    covers the formgrader's page as well as a ``position: fixed`` does), links to other schemes than http, https,
    mailto, and every image but one pasted into the cell (``MARKDOWN_IMAGE_URLS``) go."""
    import nh3

    def keep(tag: str, attribute: str, value: str) -> str | None:
        if attribute == "src":
            return value if tag == "img" and _embedded(value, MARKDOWN_IMAGE_URLS) else None
        if attribute == "href":
            return value if _plain_link(value) else None
        return value

    tags = set(nh3.ALLOWED_TAGS) | {"details", "summary", "figure", "figcaption"}
    attributes = {**{k: set(v) for k, v in nh3.ALLOWED_ATTRIBUTES.items()},
                  "*": {"title", "lang", "dir", "align"}, "img": {"src", "alt", "width", "height"},
                  "a": {"href", "title"}, "details": {"open"},
                  **{f"h{level}": {"id"} for level in range(1, 7)}}
    attributes["th"] = attributes["th"] | {"style"}
    attributes["td"] = attributes["td"] | {"style"}
    return nh3.clean(html, tags=tags, attributes=attributes, attribute_filter=keep, link_rel=None,
                     url_schemes={"http", "https", "mailto", "data", "attachment"},
                     clean_content_tags={"script", "style"}, filter_style_properties={"text-align"},
                     allowed_classes={"a": {"anchor-link"}, "div": {"highlight"}, "span": _pygments_classes()})


def _nbconvert_markdown(source: str, renderer: Any = None) -> str:
    """``source`` rendered as nbconvert renders a markdown cell (its mistune parser with math), attachments left as
    ``attachment:`` links."""
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    if renderer is None:
        renderer = IPythonRenderer(escape=False, attachments={}, embed_images=False)
        renderer._embed_image_or_attachment = lambda url: url  # type: ignore[method-assign]
    return str(MarkdownWithMath(renderer=renderer).render(source))


def sanitize_markdown_source(source: str) -> str:
    """A markdown cell's source (a student's answer, or any markdown cell of a submission), safe for the
    formgrader and nbconvert to render: unchanged if the HTML it renders to holds nothing the sanitizer removes
    (the assignment's own cells, a plain answer with math); else that HTML cleaned (:func:`_clean_rendered_markdown`:
    no script, no style or overlay, nothing loaded from the network), written on one line inside a ``<div>`` so that
    rendering it as markdown again passes it through as one raw HTML block (no markdown of it is parsed anew)."""
    import html as html_lib

    rendered = _nbconvert_markdown(source)
    cleaned = _clean_rendered_markdown(rendered)

    def same(html: str) -> str:
        return re.sub(r"\s*/>", ">", html_lib.unescape(html))

    if same(cleaned) == same(rendered):
        return source
    return "<div>" + cleaned.replace("\r", "").replace("\n", "&#10;") + "</div>"


def safe_markdown(source: str) -> str:
    """The former name of :func:`sanitize_markdown_source`."""
    return sanitize_markdown_source(source)


# MathML that Chromium and Firefox render (MathML Core), and the attributes latex2mathml writes; no href, no style.
MATHML_TAGS = {"math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msup", "msub", "msubsup", "mfrac",
               "msqrt", "mroot", "mover", "munder", "munderover", "mtable", "mtr", "mtd", "mstyle", "mpadded",
               "mphantom", "merror", "mmultiscripts", "mprescripts", "none", "semantics", "annotation", "menclose"}
MATHML_ATTRIBUTES = {"math": {"display"}, "*": {"mathvariant", "stretchy", "fence", "separator", "lspace", "rspace",
                                                 "accent", "accentunder", "columnalign", "rowalign", "linethickness",
                                                 "displaystyle", "scriptlevel", "width", "height", "depth", "form",
                                                 "largeop", "movablelimits", "symmetric", "minsize", "maxsize",
                                                 "columnspan", "rowspan", "notation", "encoding"}}


MATH_PER_CELL = 300  # formulas of one markdown cell converted to MathML (about 0.4 s); the rest stay TeX
MATH_CHARS = 5000  # longest formula converted


def tex_to_mathml(tex: str, display: bool = False) -> str:
    """TeX as sanitized MathML (latex2mathml; rendered by the browser, with no script and no network); TeX that
    latex2mathml cannot convert is shown as code."""
    import html as html_lib

    import nh3
    from latex2mathml.converter import convert

    def keep(tag: str, attribute: str, value: str) -> str | None:  # nothing shifted over its neighbours
        return None if value.strip().startswith("-") and attribute in ("width", "lspace", "rspace") else value

    try:
        mathml = convert(tex, display="block" if display else "inline")
    except Exception:  # noqa: BLE001 - any TeX latex2mathml does not know: shown as written
        fence = "$$" if display else "$"
        return f"<code>{html_lib.escape(fence + tex + fence)}</code>"
    return nh3.clean(mathml, tags=MATHML_TAGS, attributes=MATHML_ATTRIBUTES, attribute_filter=keep,
                     url_schemes=set(), clean_content_tags={"script", "style"})


def markdown_to_html(source: str, attachments: dict | None = None) -> str:
    """A markdown cell as HTML for a page that runs no script (the feedback): rendered as nbconvert renders it,
    math (``$...$``, ``$$...$$``, ``\\begin{...}``) as MathML (:func:`tex_to_mathml`), images pasted into the cell
    (``attachments``) embedded, then sanitized (:func:`_clean_rendered_markdown`). Math inside raw HTML (a source
    that :func:`sanitize_markdown_source` rewrote) stays TeX."""
    import html as html_lib
    import secrets

    from nbconvert.filters.markdown_mistune import IPythonRenderer

    mark, maths = secrets.token_hex(6), []

    class MathMLRenderer(IPythonRenderer):
        def _math(self, tex: str, display: bool) -> str:
            if len(maths) < MATH_PER_CELL and len(tex) <= MATH_CHARS:
                maths.append(tex_to_mathml(tex, display))
            else:  # a flood of math costs the host seconds per cell: shown as written past the caps
                fence = "$$" if display else "$"
                maths.append(f"<code>{html_lib.escape(fence + tex + fence)}</code>")
            return f"\ue000{mark}{len(maths) - 1}\ue001"

        def inline_math(self, body: str) -> str:
            return self._math(body, False)

        def block_math(self, body: str) -> str:
            return self._math(body, True)

        def latex_environment(self, name: str, body: str) -> str:
            return self._math(f"\\begin{{{name}}}{body}\\end{{{name}}}", True)

    renderer = MathMLRenderer(escape=False, attachments=attachments if isinstance(attachments, dict) else {},
                              embed_images=False)
    cleaned = _clean_rendered_markdown(_nbconvert_markdown(source, renderer))
    return re.sub(f"\ue000{mark}(\\d+)\ue001", lambda m: maths[int(m.group(1))], cleaned)


from traitlets import Bool  # noqa: E402

try:
    from nbconvert.preprocessors import Preprocessor as _Preprocessor
except ImportError:  # pragma: no cover - nbconvert is the grading host's dependency
    _Preprocessor = object  # type: ignore[assignment,misc]


class SanitizeMarkdown(_Preprocessor):  # type: ignore[misc,valid-type]
    """nbgrader autograde preprocessor: every markdown cell of the autograded notebook made safe to render
    (:func:`sanitize_markdown_source`). The student writes markdown cells; the formgrader and the feedback render
    them as HTML, and nbconvert passes a markdown cell's raw HTML through."""

    enabled = Bool(True).tag(config=True)  # nbconvert's preprocessors are off unless enabled

    def preprocess_cell(self, cell: NotebookNode, resources: dict[str, Any], index: int
                        ) -> tuple[NotebookNode, dict[str, Any]]:
        if cell.cell_type == "markdown" and isinstance(cell.source, str):
            cell.source = sanitize_markdown_source(cell.source)
        return cell, resources
