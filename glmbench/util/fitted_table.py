"""A rich table that fits the console it is printed on: no cell is cut, emptied or broken inside a word.

rich fits a table too wide for the console by folding cells character by
character and, past that, by shrinking columns to nothing: a figure becomes
``-96`` over ``6,``, a name ``worklo…``, a whole column blank. A
:class:`FittedTable` is laid out at print time for the width it gets instead:

- a cell breaks only between words: a name or a figure (``577 (-966, -62.6%)``,
  ``sim itl_ms=10 (best)``) only at a space outside brackets, a column of words
  (``words=True``: a reason, a schedule) at any space; headers at any space;
- when the columns cannot all fit so, the table is printed as several tables
  of fewer columns, its key columns (the first ``keys``) repeated in each;
- when not even the keys and one more column fit, each row is printed as a
  block of ``header: value`` lines.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Column", "FittedTable"]


@dataclass(frozen=True)
class Column:
    """A column: its header, which side its cells keep to, and whether they are words (may break at any space)."""

    header: str
    justify: Literal["left", "right"] = "left"
    words: bool = False


def _chunks(line: str, words: bool) -> list[str]:
    """``line`` in the pieces it may break between, each with the spaces after it: at every space for words,
    else at a space outside brackets (``577 (-966, -62.6%)`` is two pieces)."""
    out, start, depth = [], 0, 0
    for i, ch in enumerate(line):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(depth - 1, 0)
        elif ch == " " and (words or depth == 0) and i + 1 < len(line) and line[i + 1] != " " and i + 1 > start:
            out.append(line[start:i + 1])
            start = i + 1
    out.append(line[start:])
    return out


def _width(text: str) -> int:
    from rich.cells import cell_len

    return cell_len(text)


def _least(text: Any, words: bool) -> int:
    """The narrowest a cell can be without breaking inside a piece."""
    return max((_width(c.rstrip()) for line in text.plain.split("\n") for c in _chunks(line, words)), default=0)


def _most(text: Any) -> int:
    """The width of a cell on one line (each of its own lines)."""
    return max((_width(line) for line in text.plain.split("\n")), default=0)


def _wrap(text: Any, width: int, words: bool) -> Any:
    """``text`` (a rich Text) broken between pieces into lines of at most ``width`` (a piece wider stays whole)."""
    from rich.text import Text

    if _most(text) <= width:
        return text
    lines = []
    for line in text.split("\n", allow_blank=True):
        offsets, used, at = [], 0, 0
        for piece in _chunks(line.plain, words):
            if used and used + _width(piece.rstrip()) > width:
                offsets.append(at)
                used = 0
            used += _width(piece)
            at += len(piece)
        lines += [part.copy() for part in line.divide(offsets)]
    for part in lines:
        part.rstrip()
    return Text("\n").join(lines)


class FittedTable:
    """Headers, rows and a title, drawn as one rich table when they fit the console, else as several tables of
    fewer columns (the first ``keys`` columns in each), else row by row (a rich renderable)."""

    def __init__(self, title: Any, columns: Sequence[Column], rows: Sequence[Sequence[Any]], keys: int = 1,
                 **table: Any) -> None:
        from rich.text import Text

        self.title = title
        self.columns = list(columns)
        self.rows = [[c if isinstance(c, Text) else Text(str(c)) for c in row] for row in rows]
        self.keys = min(keys, len(self.columns))
        self.table = {"title_justify": "left", **table}
        self._headers = [Text(c.header) for c in self.columns]
        self._least = [max([_least(h, True)] + [_least(r[i], c.words) for r in self.rows], default=0) or 1
                       for i, (h, c) in enumerate(zip(self._headers, self.columns))]
        self._cells = [max([_most(r[i]) for r in self.rows], default=0) for i in range(len(self.columns))]
        self._most = [max(_most(h), cells) or 1 for h, cells in zip(self._headers, self._cells)]

    def _fits(self, shown: Sequence[int], width: int) -> bool:
        return sum(self._least[i] for i in shown) + 3 * len(shown) + 1 <= width

    def _groups(self, width: int) -> list[list[int]] | None:
        """The columns after the keys in groups that each fit beside the keys, in order; None when one does not."""
        keys, rest = list(range(self.keys)), list(range(self.keys, len(self.columns)))
        if self._fits(keys + rest, width):
            return [rest]
        if not rest:
            return None
        groups: list[list[int]] = [[]]
        for i in rest:
            if not self._fits(keys + [i], width):
                return None
            if not self._fits(keys + groups[-1] + [i], width):
                groups.append([])
            groups[-1].append(i)
        # As many tables, with the columns spread evenly over them when that fits too.
        size = -(-len(rest) // len(groups))
        even = [rest[i:i + size] for i in range(0, len(rest), size)]
        if len(even) == len(groups) and all(self._fits(keys + g, width) for g in even):
            return even
        return groups

    def _widths(self, shown: Sequence[int], width: int) -> list[int]:
        """Each shown column's width: at least its least; the room left goes first to the key columns' cells, then
        to the other names' and figures' cells (each on one line), then to the headers, then to the words (which
        read as well on several lines), the columns nearest whole first."""
        widths = [self._least[i] for i in shown]
        room = width - sum(widths) - 3 * len(shown) - 1
        cells = [max(self._cells[i], self._least[i]) for i in shown]
        headers = [max(self._least[i], _most(self._headers[i])) for i in shown]
        for wanted in ([c if i < self.keys else 0 for i, c in zip(shown, cells)],
                       [0 if self.columns[i].words else c for i, c in zip(shown, cells)], headers,
                       [self._most[i] for i in shown]):
            for j in sorted(range(len(shown)), key=lambda j: wanted[j] - widths[j]):
                more = max(0, min(room, wanted[j] - widths[j]))
                widths[j] += more
                room -= more
        return widths

    def _table(self, title: Any, shown: Sequence[int], width: int) -> Any:
        from rich.table import Table

        table = Table(title=title, **self.table)
        widths = self._widths(shown, width)
        for i, w in zip(shown, widths):
            table.add_column(_wrap(self._headers[i], w, True), justify=self.columns[i].justify, width=w, no_wrap=True)
        for row in self.rows:
            table.add_row(*(_wrap(row[i], w, self.columns[i].words) for i, w in zip(shown, widths)))
        return table

    def _stacked(self) -> Iterator[Any]:
        from rich.text import Text

        if self.title:
            yield self.title
        for row in self.rows:
            names = Text(" · ").join(row[:self.keys] or [Text("-")])
            names.stylize("bold")
            yield names
            for header, cell in zip(self._headers[self.keys:], row[self.keys:]):
                yield Text.assemble("  ", header, ": ", cell)

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from rich.text import Text

        width = options.max_width
        groups = self._groups(width)
        if groups is None:
            yield from self._stacked()
            return
        keys = list(range(self.keys))
        for n, group in enumerate(groups, 1):
            title = self.title
            if len(groups) > 1:
                title = Text.assemble(self.title or "", f" ({n} of {len(groups)})")
            yield self._table(title, keys + group, width)
