"""The speed tables of one load run, under the name callers outside report/ import (``glmbench run``'s
terminal output, tests): the columns and notes live in :mod:`glmbench.report.load_run`, the tables in
:mod:`glmbench.report.formats.terminal`."""

from __future__ import annotations

from glmbench.report.formats.terminal import speed_tables as rich_tables
from glmbench.report.load_run import (
    CLIENT_COLUMNS,
    COUNT_COLUMNS,
    DETAIL_METRICS,
    PUBLISHED_COLUMNS,
    detail_rows,
    notes,
)

__all__ = ["PUBLISHED_COLUMNS", "COUNT_COLUMNS", "DETAIL_METRICS", "CLIENT_COLUMNS", "rich_tables", "detail_rows",
           "notes"]
