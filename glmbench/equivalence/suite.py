"""What an equivalence check asks: its prompt set, how many tokens, with what logprobs, under which loads.

A suite file says ``kind: equivalence`` (``suites/equivalence.yaml``); every
field has a default, so the check also runs without one.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from glmbench.bfcl.categories import NAMES, traits

__all__ = ["EquivalenceSuite"]


class EquivalenceSuite(BaseModel):
    """The prompt set and how it is asked; the gates a comparison of two runs must pass."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = 1
    kind: Literal["equivalence"] = "equivalence"
    name: str = "equivalence"
    description: str = ""
    sharegpt: int = Field(24, ge=0, description="ShareGPT prompts (a conversation's first turn)")
    bfcl: int = Field(16, ge=0, description="BFCL single-turn prompts, with their tools")
    bfcl_categories: list[str] = Field(default_factory=lambda: ["simple", "multiple", "parallel", "irrelevance"])
    conversations: int = Field(4, ge=0, description="long ShareGPT conversations, asked for their next reply")
    conversation_turns: int = Field(7, ge=3, description="turns of history a conversation brings (odd: it ends "
                                    "with the user's)")
    api: Literal["completions", "chat"] = Field(
        "completions", description="completions: glmbench renders the GLM-4.7 prompt and compares the raw output, "
        "reasoning and tool-call markup included; chat: the server's template and parsers")
    max_tokens: int = Field(64, ge=1, description="output tokens per prompt (the model may stop earlier)")
    enable_thinking: bool = True
    seed: int = Field(0, description="the prompts' sampling seed, and the seed sent with every request")
    logprobs: int = Field(2, ge=0, le=8, description="top alternatives asked per token (0: none); the margin "
                          "between the first two at a difference tells numerics from a bug")
    loaded: int = Field(32, ge=0, description="in flight for the pass under load, each prompt among this many "
                        "others (0: only the pass one at a time)")
    timeout_s: float = Field(300.0, gt=0)
    require_alone: float = Field(1.0, ge=0, le=1, description="the least share of prompts whose output must match "
                                 "the reference's exactly, one at a time")
    require_loaded: float | None = Field(None, ge=0, le=1, description="the same under load (None: not gated)")
    dataset_source: Literal["auto", "hub", "package"] = "auto"
    dataset_path: str | None = None
    bfcl_source: Literal["auto", "dir", "cache", "hub"] = "auto"
    bfcl_data_dir: str | None = None

    @field_validator("bfcl_categories")
    @classmethod
    def _single_turn(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in NAMES]
        if unknown:
            raise ValueError(f"unknown categories {', '.join(unknown)}; known: {', '.join(NAMES)}")
        multi = [c for c in value if traits(c).multi_turn]
        if multi:
            raise ValueError(f"{', '.join(multi)}: multi-turn categories need a conversation played against the "
                             "server; the check takes single-turn prompts (long conversations come from ShareGPT)")
        return value
