"""Bounds on what one tool call from a model may cost to decode: its text, and the value it decodes to.

A reply is data from a server glmbench does not control, so every decoder
bounds it before the work that grows with it:

- :data:`MAX_CALL_TEXT_CHARS` (1 MiB): one tool call's text, as JSON arguments
  or a GLM-4.7 ``<tool_call>`` block. A reply of 1,024 tokens is about 4 KB, so
  this leaves a wide margin; JSON decodes at about 6 bytes of memory per
  character of dense lists, so the bound costs little.
- :data:`MAX_LITERAL_TEXT_CHARS` (256 KiB): text parsed as Python source with
  :mod:`ast` (a call written as text, a Python-literal argument value). The
  parser builds a node per token, about 500 bytes of memory per character of a
  dense list: some 130 MB and 0.3 s at the bound, where 80 MB of text would take
  40 GB.
- :data:`MAX_ARGUMENT_DEPTH` (100): containers nested in one call's arguments,
  the arguments object included. BFCL's calls nest three or four deep; every
  later step that walks the value (JSON-safe conversion, ``repr``, copying,
  storing with :mod:`orjson`, whose own limit is 255) recurses, so the bound
  keeps them far from Python's recursion limit.
- :data:`MAX_ARGUMENT_ITEMS` (100,000): values (containers, keys and scalars) in
  one call's arguments; :data:`MAX_CALL_TEXT_CHARS` bounds their strings.
- :data:`MAX_INT_DIGITS` (4,000): digits of one integer. Python's ``json``,
  ``int()`` and ``repr`` refuse more than 4,300 by default, so a bigger integer
  could not be written back either.

:func:`value_problem` checks a decoded value against these with a loop, never
recursion, so a value nested 10^5 deep costs a few steps and a clear reason.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "MAX_CALL_TEXT_CHARS", "MAX_LITERAL_TEXT_CHARS", "MAX_ARGUMENT_DEPTH", "MAX_ARGUMENT_ITEMS", "MAX_INT_DIGITS",
    "text_size", "value_problem",
]

MAX_CALL_TEXT_CHARS = 1 << 20
MAX_LITERAL_TEXT_CHARS = 1 << 18
MAX_ARGUMENT_DEPTH = 100
MAX_ARGUMENT_ITEMS = 100_000
MAX_INT_DIGITS = 4_000

_INT_BOUND = 10 ** MAX_INT_DIGITS


def text_size(chars: int) -> str:
    """A bound in characters as a reader says it: ``1 MiB``, ``256 KiB``."""
    if chars % (1 << 20) == 0:
        return f"{chars >> 20} MiB"
    if chars % (1 << 10) == 0:
        return f"{chars >> 10} KiB"
    return f"{chars:,} characters"


def value_problem(value: Any, what: str = "arguments") -> str | None:
    """Why ``value`` (decoded data: containers, strings, numbers) is over the bounds, or None.

    The reason starts with ``what`` (``"arguments"``, ``"argument 'x'"``): ``"arguments: nested deeper
    than 100 levels"``.
    Lists, tuples, sets and dicts (subclasses too) are walked with an explicit
    stack; anything else counts as one scalar. Stops at the first bound passed,
    so the cost is at most :data:`MAX_ARGUMENT_ITEMS` steps.
    """
    items = 0
    chars = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        items += 1
        if isinstance(item, (str, bytes)):
            chars += len(item)
            if chars > MAX_CALL_TEXT_CHARS:
                return f"{what}: more than {text_size(MAX_CALL_TEXT_CHARS)} of text"
        elif isinstance(item, int) and not isinstance(item, bool):
            if not -_INT_BOUND < item < _INT_BOUND:
                return f"{what}: an integer of more than {MAX_INT_DIGITS:,} digits"
        elif isinstance(item, (list, tuple, set, frozenset, dict)):
            if depth > MAX_ARGUMENT_DEPTH:
                return f"{what}: nested deeper than {MAX_ARGUMENT_DEPTH} levels"
            size = 2 * len(item) if isinstance(item, dict) else len(item)
            if items + len(stack) + size > MAX_ARGUMENT_ITEMS:
                return f"{what}: more than {MAX_ARGUMENT_ITEMS:,} values"
            if isinstance(item, dict):
                for key, child in item.items():
                    stack.append((key, depth + 1))
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
    return None
