"""A BFCL suite as data: categories, request style, mode, scoring rules and sampling settings."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from glmbench.bfcl.categories import NAMES, RULE_SETS

__all__ = ["BFCLSuite", "Rules"]

Rules = Literal["lightllm", "bfcl"]
# pydantic needs the names written out; they must stay the category table's rule sets.
if get_args(Rules) != RULE_SETS:
    raise ImportError(f"BFCLSuite's rule sets {get_args(Rules)} differ from the category table's {RULE_SETS}")


class BFCLSuite(BaseModel):
    """What a BFCL run asks and how it is scored.

    ``style`` is how each entry becomes a request: ``lightllm`` as the published
    table's script (a fixed system prompt, the first message of the first turn,
    BFCL types mapped, dotted names as they are), ``bfcl`` as BFCL's own
    function-calling handler (the whole first turn, dotted names as ``_``).
    ``mode`` ``native`` sends OpenAI ``tools`` and reads the server's parsed
    ``tool_calls``; ``prompt`` renders the GLM-4.7 prompt itself, sends a text
    completion and parses the raw output with glmbench's own glm47 parser.
    Both rule sets always score the stored responses; ``scoring`` picks the one
    shown first.
    """

    model_config = ConfigDict(extra="forbid")

    schema_version: int = 1
    kind: Literal["bfcl"] = "bfcl"
    name: str = "bfcl-v3"
    description: str = ""
    categories: list[str] = Field(default_factory=lambda: list(NAMES))
    style: Literal["lightllm", "bfcl"] = "lightllm"
    mode: Literal["native", "prompt"] = "native"
    scoring: Rules = "lightllm"
    temperature: float = Field(0.0, ge=0)
    max_tokens: int = Field(1024, ge=1)
    enable_thinking: bool = True
    concurrency: int = Field(8, ge=1)
    timeout_s: float = Field(300.0, gt=0)
    retries: int = Field(2, ge=0, description="retries of a request on transport errors and HTTP 5xx")
    limit: int | None = Field(None, ge=1, description="at most this many entries per category (a quick run)")
    source: Literal["auto", "dir", "cache", "hub"] = "auto"
    data_dir: str | None = None

    @field_validator("categories")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in NAMES]
        if unknown:
            raise ValueError(f"unknown categories {', '.join(unknown)}; known: {', '.join(NAMES)}")
        return value
