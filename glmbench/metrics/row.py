"""A workload's summary row as a typed model, its metric fields generated from the registry.

Rows travel as plain dicts (``LoadSummary.rows``, summary.json, every report
reads ``row["workload"]``); this model is the check a row passes on its way
there. Keys it does not declare stay allowed: a runner may add its own.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from glmbench.metrics.registry import METRICS, published

__all__ = ["SummaryRow", "validated_row"]


class _RowFields(BaseModel):
    """The row's fields that are not metrics: what ran, the client's verdict, and the load runner's extras."""

    model_config = ConfigDict(extra="allow")

    workload: str
    title: str
    goodput_slos: dict[str, float] | None = None
    # The client's self-check (glmbench.metrics.client). Rows written before client_flags existed lack it.
    client_flags: list[str] | None = Field(None, description=(
        "the figures the client's own lateness moved past their bars (the self-check): ttft, itl, e2e (late reads), "
        "ttft_due, e2e_due and offered_load (late sends; offered_load also for a concurrency cap not held)"))
    client_saturated: bool = Field(description="whether client_flags names any figure: the row's figures are not all "
                                               "ones the client can vouch for (marked * in tables)")
    client_warning: str | None = Field(description=(
        "one line: which figures are off, why (the loop delay, the merged reads, the issue lag, the cap) and what to "
        "do; None when nothing is flagged"))
    receive_stamps: str | None = Field(None, description=(
        "what stamped the chunks: kernel (the socket's receive time), user (the client's read) or mixed"))
    errors: dict[str, int]
    description: str | None = None
    num_prompts: int | None = None
    approximate_tokens: bool | None = None
    dataset: str | None = None
    interrupted: bool | None = None


def _metric_fields() -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for m in METRICS:
        # A family's statistic is None when no request had a value; a one-value metric always has one.
        kind = (float | None) if m.stats else m.kind
        for key in m.keys:
            fields[key] = (kind, ...) if m.always else (kind | None, None)
    for m in published():
        if m.stats:
            fields[m.published_key] = (float | None, ...)
    return fields


SummaryRow = create_model(
    "SummaryRow", __base__=_RowFields, __module__=__name__, **_metric_fields(),
    __doc__="""One workload's summary: every registered metric with its type, plus what ran and the client's verdict.

    Fields the registry marks ``always`` are required; goodput, spec acceptance and
    the runner's extras only when present. Undeclared keys are kept as they are.
    """,
)


def validated_row(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` checked against :class:`SummaryRow`, as the plain dict it is stored as, keys in their original order.

    Only keys the row had come back (an optional metric it lacks stays absent),
    so summary.json keeps the same keys as before the model existed.
    """
    dumped = SummaryRow.model_validate(row).model_dump(exclude_unset=True)
    return {key: dumped[key] for key in row}
