"""Student-controlled text made safe to show a person: in a terminal line, a log, a Markdown table.

Everything a submission controls (its student id, file names, grade_ids, messages from the sandbox) goes through
:func:`shown` before the grading host prints it: control characters (escape sequences that set a window title,
write the clipboard with OSC 52 or erase lines), bidirectional overrides and line breaks become visible escapes,
so a submission can never forge or hide a line of the instructor's output.
"""

from __future__ import annotations

import unicodedata

BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}
"""Characters that reorder the text around them (a "Trojan source" row that reads differently than it is)."""


def shown(text: object, limit: int = 300) -> str:
    """``text`` as one printable line of at most ``limit`` characters (plus ``...`` when cut).

    Control characters (C0, DEL, C1), bidirectional overrides and any other non-printable character become
    ``\\xNN`` or ``\\uNNNN``; a line break becomes ``\\n``.

    >>> shown("ok\\x1b]0;pwned\\x07")
    'ok\\\\x1b]0;pwned\\\\x07'
    """
    out = []
    for ch in str(text):
        if ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append(" ")
        elif ch in BIDI or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    line = "".join(out)
    return line if len(line) <= limit else line[:limit] + "..."


def table_cell(text: object, limit: int = 300) -> str:
    """:func:`shown`, and fit for one cell of a Markdown table (a ``|`` would start a new column)."""
    return shown(text, limit).replace("|", "/")
