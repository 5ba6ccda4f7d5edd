"""BurstGPT's trace (CSV): ``Timestamp`` in seconds, ``Request tokens``, ``Response tokens``, model and log type.

Rows with no request or no response tokens (failed requests) are left out.
From ``HPMLL/BurstGPT``; it does not say what prompts share.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from glmbench.datasets.traces.base import TraceRequest
from glmbench.datasets.traces.csvtrace import CSVFormat

__all__ = ["FORMAT", "BurstGPTFormat"]

_COLUMNS = ("Timestamp", "Request tokens", "Response tokens")


class BurstGPTFormat(CSVFormat):
    """BurstGPT's trace."""

    name = "burstgpt"
    columns = _COLUMNS

    def read(self, path: Path) -> Iterator[TraceRequest]:
        for line_no, row in self.rows(path):
            try:
                at_ns = round(float(row["Timestamp"]) * 1e9)
                request, response = int(float(row["Request tokens"])), int(float(row["Response tokens"]))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"line {line_no}: not a BurstGPT row ({exc})") from None
            if request > 0 and response > 0:
                yield TraceRequest(at_ns, request, response)


FORMAT = BurstGPTFormat()
