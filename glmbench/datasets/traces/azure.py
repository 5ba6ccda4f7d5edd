"""Azure's LLM inference trace (CSV): ``TIMESTAMP`` (a date and time), ``ContextTokens``, ``GeneratedTokens``.

The 2023 and 2024 traces of ``Azure/AzurePublicDataset`` (code and conversation);
they do not say what prompts share.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from glmbench.datasets.traces.base import TraceRequest
from glmbench.datasets.traces.csvtrace import CSVFormat

__all__ = ["FORMAT", "AzureFormat", "timestamp_ns"]

_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")


def timestamp_ns(text: str) -> int:
    """``2023-11-16 18:15:46.6805900`` as ns since the epoch (UTC), every fraction digit kept."""
    text = text.strip()
    whole, _, fraction = text.partition(".")
    zone = ""
    for sign in ("+", "-", "Z"):
        # a zone after the fraction: 46.68+00:00
        if sign in fraction:
            fraction, zone = fraction[: fraction.index(sign)], fraction[fraction.index(sign):]
            break
    stamp = datetime.fromisoformat(whole + zone.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    if fraction and not fraction.isdigit():
        raise ValueError(f"bad fraction of a second in {text!r}")
    return int(stamp.timestamp()) * 1_000_000_000 + int((fraction or "0")[:9].ljust(9, "0"))


class AzureFormat(CSVFormat):
    """Azure's LLM inference trace."""

    name = "azure"
    columns = _COLUMNS

    def read(self, path: Path) -> Iterator[TraceRequest]:
        for line_no, row in self.rows(path):
            try:
                yield TraceRequest(timestamp_ns(row["TIMESTAMP"]), int(row["ContextTokens"]),
                                   int(row["GeneratedTokens"]))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"line {line_no}: not an Azure trace row ({exc})") from None


FORMAT = AzureFormat()
