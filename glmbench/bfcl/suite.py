"""A BFCL suite as data: categories, request style, mode, scoring rules and sampling settings."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from glmbench.bfcl.categories import NAMES, names, same_category
from glmbench.bfcl.registry import default_rule_set, get_rule_set
from glmbench.bfcl.versions import DEFAULT_VERSION, VERSIONS, check_version, version_info
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
    rule set of the suite's release (v3: the published table's, v4: BFCL v4's).

    ``bfcl_version`` is the BFCL release asked (:mod:`glmbench.bfcl.versions`):
    ``2025.6.8`` (v3, the default: every suite and run written before v4) or
    ``2026.3.23`` (v4, today's leaderboard). ``categories`` are that release's
    names (v4: ``simple_python``, ``simple_java``, ``simple_javascript``, ...); all
    of its categories when not given.
    """

    model_config = ConfigDict(extra="forbid")

    schema_version: int = 1
    kind: Literal["bfcl"] = "bfcl"
    name: str = "bfcl-v3"
    description: str = ""
    bfcl_version: str = Field(DEFAULT_VERSION, description="the BFCL release asked: 2025.6.8 (v3) or 2026.3.23 (v4)")
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
    embedding_model: str | None = Field(None, description="a local sentence-transformers model folder for BFCL v4's "
                                        "memory_vector (BFCL uses all-MiniLM-L6-v2); without it memory_vector is not "
                                        "run")

    @model_validator(mode="before")
    @classmethod
    def _release_defaults(cls, data: Any) -> Any:
        """A v4 suite that names no categories, style or scoring gets v4's: its categories, its first rule set."""
        if not isinstance(data, dict) or data.get("bfcl_version", DEFAULT_VERSION) == DEFAULT_VERSION:
            return data
        version = data["bfcl_version"]
        if version not in VERSIONS:
            return data  # refused by the field's own validator, which names the known versions
        data = dict(data)
        data.setdefault("categories", list(names(version)))
        for key in ("style", "scoring"):
            data.setdefault(key, default_rule_set(version).name)
        return data

    @field_validator("bfcl_version")
    @classmethod
    def _known_version(cls, value: str) -> str:
        return check_version(value)  # an unknown version is a ValueError naming the known ones

    @field_validator("categories")
    @classmethod
    def _known(cls, value: list[str], info: ValidationInfo) -> list[str]:
        # bfcl_version is validated first (it comes first): its release's names are the known ones.
        version = info.data.get("bfcl_version") or DEFAULT_VERSION
        known = names(version)
        unknown = [c for c in value if c not in known]
        if unknown:
            # A name of the other release (v3's simple in a v4 suite) is told its name in this one.
            renamed = next((r for other in VERSIONS if other != version
                            if (r := same_category(unknown[0], other, version)) and r != unknown[0]), None)
            hint = f"; did you mean {renamed}?" if renamed else did_you_mean(unknown[0], known)
            elsewhere = next((v for v in VERSIONS if v != version and unknown[0] in names(v)), None)
            if elsewhere:
                hint += (f" ({unknown[0]} is BFCL {version_info(elsewhere).label}'s: a suite with bfcl_version "
                         f"{elsewhere}, such as bfcl-{version_info(elsewhere).label})")
            raise ValueError(f"unknown categor{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}"
                             f"{hint} (known: {', '.join(known)})")
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
