"""A BFCL suite as data: categories, request style, mode, scoring rules and sampling settings."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from glmbench.bfcl.categories import NAMES
from glmbench.bfcl.registry import default_rule_set, get_rule_set
from glmbench.errors import did_you_mean
from glmbench.load.workload import Workload

__all__ = ["BFCLSuite"]


class BFCLSuite(BaseModel):
    """What a BFCL run asks and how it is scored.

    ``style`` names the rule set whose requests are sent (:mod:`glmbench.bfcl.rulesets`:
    its messages and its tool conversion). ``mode`` ``native`` sends OpenAI
    ``tools`` and reads the server's parsed ``tool_calls``; ``prompt`` renders the
    GLM-4.7 prompt itself, sends a text completion and parses the raw output with
    glmbench's own glm47 parser. Every rule set always scores the stored
    responses; ``scoring`` names the one shown first. Both default to the first
    rule set (the published table's).
    """

    model_config = ConfigDict(extra="forbid")

    schema_version: int = 1
    kind: Literal["bfcl"] = "bfcl"
    name: str = "bfcl-v3"
    description: str = ""
    categories: list[str] = Field(default_factory=lambda: list(NAMES))
    style: str = Field(default_factory=lambda: default_rule_set().name)
    mode: Literal["native", "prompt"] = "native"
    scoring: str = Field(default_factory=lambda: default_rule_set().name)
    temperature: float = Field(0.0, ge=0)
    max_tokens: int = Field(1024, ge=1)
    enable_thinking: bool = True
    stream: bool = Field(True, description="stream every request through glmbench's own client, on the load "
                         "schedule below, with the full latency record; false asks unstreamed, as BFCL's harness "
                         "does, with concurrency only and no per-request timing")
    concurrency: int | None = Field(8, ge=1, description="entries in flight at most (a multi-turn entry holds its "
                                    "slot for its whole conversation); null: no cap")
    request_rate: float | None = Field(None, gt=0, description="entries arriving per second (a gamma process, "
                                       "Poisson with burstiness 1); null: all at once, up to the cap")
    burstiness: float = Field(1.0, gt=0, description="the arrival process's shape: 1 Poisson, below 1 burstier")
    tool_latency_ms: float = Field(0.0, ge=0, description="a multi-turn step that returns tool results leaves this "
                                   "long after the reply that called the tools: the tools' own time")
    seed: int = Field(0, description="seed of the arrival schedule")
    timeout_s: float = Field(300.0, gt=0)
    retries: int = Field(0, ge=0, description="retries of a request on transport errors and HTTP 5xx; an entry a "
                         "retry answered still counts by its failed first attempt")
    limit: int | None = Field(None, ge=1, description="at most this many entries per category (a quick run)")
    source: Literal["auto", "dir", "cache", "hub"] = "auto"
    data_dir: str | None = None

    @field_validator("categories")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in NAMES]
        if unknown:
            raise ValueError(f"unknown categor{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}"
                             f"{did_you_mean(unknown[0], NAMES)} (known: {', '.join(NAMES)})")
        return value

    @model_validator(mode="after")
    def _paced(self) -> BFCLSuite:
        if not self.stream and (self.request_rate is not None or self.tool_latency_ms):
            raise ValueError("request_rate and tool_latency_ms need streamed traffic: an unstreamed run (stream: "
                             "false, --no-stream) asks at most `concurrency` at once and nothing else")
        if not self.stream and self.concurrency is None:
            raise ValueError("an unstreamed run (stream: false, --no-stream) needs a concurrency")
        return self

    @field_validator("style", "scoring")
    @classmethod
    def _rule_set(cls, value: str) -> str:
        get_rule_set(value)  # an unknown name is a ValueError naming the known ones
        return value

    def workload(self) -> Workload:
        """The arrival schedule the entries are asked on, as a load run's."""
        return Workload(title=f"{self.name} entries", request_rate=self.request_rate,
                        max_concurrency=self.concurrency, burstiness=self.burstiness)
