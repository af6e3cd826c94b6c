"""What the formgrader and the feedback show of a submission (autograder/outputs.py), in milliseconds: nothing laid
over the page, nothing loaded from the network, math rendered without a script. The same hostile content goes
through the real formgrader in Chromium in tests/test_formgrader.py."""

from __future__ import annotations

import re

import pytest

from autograder import outputs

BEACON = "http://127.0.0.1:9/"
OVERLAY = ("<div style=\"position:fixed;top:0;left:0;width:100vw;height:100vh;z-index:99999;background:#fff "
           f"url({BEACON}css.png)\">All parts passed: 10 / 10</div>")
HOSTILE_HTML = [
    OVERLAY,
    f"<img src='{BEACON}img.png'>", "<img src='//127.0.0.1:9/relative-protocol.png'>", "<img src='/logout'>",
    f"<style>body {{ background: url({BEACON}style.png) }}</style>",
    f"<video poster='{BEACON}poster.png' src='{BEACON}v.mp4'></video>",
    f"<svg><image href='{BEACON}svg.png'/></svg>", f"<table background='{BEACON}bg.png'><tr><td>x</td></tr></table>",
    "<span class='modal-backdrop in'>x</span>", f"<link rel=stylesheet href='{BEACON}sheet.css'>",
]


def _loads(html: str) -> list[str]:
    """Every URL the HTML would load or apply as style: src, poster, background, srcset, CSS url(), and any
    style attribute or element."""
    found = re.findall(r"\b(?:src|poster|background|srcset)\s*=\s*[\"']?([^\"'\s>]+)", html, re.I)
    found += re.findall(r"url\(", html, re.I) + re.findall(r"\bstyle\s*=|<style|<link", html, re.I)
    return found


@pytest.mark.parametrize("html", HOSTILE_HTML)
def test_html_outputs_keep_no_style_and_load_nothing(html):
    out = outputs.sanitize_output({"output_type": "display_data", "data": {"text/html": html}})
    kept = out.data["text/html"] if out is not None else ""
    assert _loads(kept) == [], kept
    assert not re.search(r"class=\"[^\"]*modal", kept)


def test_html_outputs_keep_the_notebooks_videos_figures_and_links():
    html = ("<video controls src='data:video/mp4;base64,AAAA'></video><img src='data:image/png;base64,iVBO'>"
            "<a href='https://gymnasium.farama.org'>docs</a><b>bold</b>")
    kept = outputs.sanitize_output({"output_type": "display_data", "data": {"text/html": html}}).data["text/html"]
    assert 'src="data:video/mp4;base64,AAAA"' in kept and 'src="data:image/png;base64,iVBO"' in kept
    assert 'href="https://gymnasium.farama.org"' in kept and "<b>bold</b>" in kept


@pytest.mark.parametrize("source", HOSTILE_HTML + [
    f"![beacon]({BEACON}md.png)", "![beacon](//127.0.0.1:9/md.png)", f"<img src={BEACON}raw.png> and $x$",
    # markdown of the rewritten HTML must not be parsed anew: a blank line in a code block ends an HTML block
    f"```\ncode\n\n\n![beacon]({BEACON}in-code.png)\n```\n<span style='position:fixed'>x</span>",
])
def test_markdown_sources_keep_no_style_and_load_nothing(source):
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    clean = outputs.sanitize_markdown_source(source)
    html = markdown2html_mistune(clean)  # as the formgrader renders the cell
    assert _loads(html) == [], html
    assert not re.search(r"class=\"[^\"]*modal", html) and "<img src=" not in html
    assert outputs.sanitize_markdown_source(clean) == clean, "sanitizing twice changes nothing more"


def test_plain_answers_are_left_as_written():
    for answer in ("With $\\gamma = 0.9$ the return stays near $-800$; **why**: the horizon $1/(1-\\gamma)$.",
                   "| run | return |\n|:--|--:|\n| a | -150 |", "```python\nLR = 1e-2\n```"):
        assert outputs.sanitize_markdown_source(answer) == answer


def test_markdown_to_html_renders_math_as_mathml_and_html_sanitized():
    html = outputs.markdown_to_html(
        "Target $y = r + \\gamma (1 - d)\\, Q'(s', \\mu'(s'))$\n\n$$\\frac{1}{1-\\gamma}$$\n\n"
        f"<b>bold</b> <img src='{BEACON}x.png'> $\\href{{{BEACON}}}{{a}}$ $\\text{{<img src={BEACON}t.png>}}$ "
        "$\\frac{$")
    assert '<math display="inline">' in html and "<mi>γ</mi>" in html
    assert '<math display="block">' in html and "<mfrac>" in html
    assert "<b>bold</b>" in html and "&lt;b&gt;" not in html
    assert "127.0.0.1" not in html and _loads(html) == []
    assert "<code>$\\frac{$</code>" in html, "TeX that cannot be converted is shown as written"
    assert "$" not in html.replace("<code>$\\frac{$</code>", "")


def test_a_flood_of_math_costs_little_and_stays_tex_past_the_cap():
    import time

    start = time.perf_counter()
    html = outputs.markdown_to_html("$x^2$ " * 5000)
    assert time.perf_counter() - start < 5
    assert html.count("<math") == outputs.MATH_PER_CELL and "<code>$x^2$</code>" in html
