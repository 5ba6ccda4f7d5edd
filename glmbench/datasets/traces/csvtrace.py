"""Reading a CSV trace: its header checked, its rows as dicts with the line each came from."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

__all__ = ["header_has", "csv_rows", "CSVFormat"]


def header_has(first_line: str, columns: tuple[str, ...]) -> bool:
    """True when the CSV header ``first_line`` names every one of ``columns``."""
    names = {name.strip().strip('"') for name in first_line.split(",")}
    return set(columns) <= names


def csv_rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) of every data row; ValueError when the header lacks one of ``columns``."""
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, skipinitialspace=True)
        missing = [c for c in columns if c not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"line 1: the header lacks {', '.join(missing)}")
        for row in reader:
            yield reader.line_num, row


class CSVFormat:
    """A trace format that is a CSV file with ``columns`` (at least): recognised by its header, read row by row.

    Subclasses set ``name`` and ``columns`` and turn each row into a request in ``read``.
    """

    name: str
    columns: tuple[str, ...]
    block_tokens: int | None = None  # CSV traces carry no block ids: nothing shared to predict

    def recognises(self, first_line: str) -> bool:
        return header_has(first_line, self.columns)

    def rows(self, path: Path) -> Iterator[tuple[int, dict[str, str]]]:
        return csv_rows(path, self.columns)
