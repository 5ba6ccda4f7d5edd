"""Text from a server or a model, made safe to show: it is data, never markup or terminal commands.

A model name, an error message or a log line can carry terminal escapes
(``\\x1b]0;title\\x07``, ``\\x1b[2J``), rich markup (``[/]``, ``[link=...]``),
markdown or HTML (``<script>``). Everything glmbench shows passes through one of
these before it reaches a terminal, a rich renderable or a markdown file; the
HTML report escapes with :func:`html.escape` on top of :func:`visible`.
"""

from __future__ import annotations

import unicodedata
from typing import Any

__all__ = ["visible", "one_line", "md_text", "csv_cell", "rich_text", "safe_console"]

# Format characters that reorder or hide text on screen ("trojan source"); other
# format characters, such as the zero-width joiner inside emoji, are harmless.
_BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _shown(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: Any, keep_newlines: bool = False) -> str:
    """``text`` with every control character written out (``\\x1b``), so the terminal executes none.

    Tabs stay; newlines stay only with ``keep_newlines`` (a log tail), else they
    are shown as ``\\n``.
    """
    text = str(text)
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch == "\t" or (ch == "\n" and keep_newlines):
            out.append(ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch in _BIDI or unicodedata.category(ch) == "Cc" or ch in "\u2028\u2029":
            out.append(_shown(ch))
        else:
            out.append(ch)
    return "".join(out)


def one_line(text: Any, limit: int = 200) -> str:
    """Whitespace runs collapsed to one space, control characters made visible, cut to ``limit``."""
    return visible(" ".join(str(text).split()))[:limit]


_MD_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`*_[]|~"})


def md_text(text: Any) -> str:
    """Plain text for a markdown line or table cell: no markup, no HTML, no link, one line."""
    shown = visible(text).translate(_MD_SPECIAL)
    return shown.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def csv_cell(value: Any) -> Any:
    """A CSV cell: text with its control characters written out (one line), numbers and None as they are."""
    return visible(value) if isinstance(value, str) else value


def rich_text(text: Any, style: str = "") -> Any:
    """A :class:`rich.text.Text` of ``text``: rich never reads it as markup."""
    from rich.text import Text

    return Text(visible(text, keep_newlines=True), style=style)


def safe_console(stderr: bool = False, width: int | None = None) -> Any:
    """A rich console that never reads a printed string as markup or emoji codes.

    Data is still made visible first (:func:`rich_text`, :func:`visible`): rich
    passes escape sequences through. ``width`` applies when the stream is not a
    terminal (CI logs).
    """
    from rich.console import Console

    out = Console(stderr=stderr, markup=False, emoji=False, highlight=False)
    if width and not out.is_terminal:
        out = Console(stderr=stderr, markup=False, emoji=False, highlight=False, width=width)
    return out
