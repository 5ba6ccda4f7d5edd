"""Workloads as data: a suite file names the dataset, the request shape and the load profiles."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from glmbench.errors import GlmbenchError, did_you_mean
from glmbench.load.schedule import arrival_offsets_ns
from glmbench.util.config_file import load_model
from glmbench.util.paths import shipped_file, shipped_names

__all__ = ["DatasetSpec", "RequestSpec", "Workload", "Suite", "load_suite", "suite_path"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# The fields that shape each dataset's requests (DatasetSpec.shape): ShareGPT's come from its file.
_SHAPE: dict[str, tuple[str, ...]] = {
    "sharegpt": (), "random": ("random_",), "sessions": ("session_turns", "think_time_ms"),
    "trace": ("time_scale", "trace_start_s", "trace_end_s"), "shared-prefix": ("gsp_",),
}


class DatasetSpec(_Strict):
    """Which prompts to send.

    ``sessions``: multi-turn chat sessions from ShareGPT conversations (``num_prompts`` of them, each at most
    ``session_turns`` user turns), every turn sending the conversation so far with the model's own earlier
    replies, ``think_time_ms`` after the previous reply ended (:mod:`glmbench.load.sessions`).

    ``trace``: the requests of a trace file (``trace_path``), due at the trace's own times divided by
    ``time_scale``, which replace the workload's rate (:mod:`glmbench.datasets.replay`). ``shared-prefix``:
    SGLang's generated-shared-prefix groups (:mod:`glmbench.datasets.shared_prefix`). Both give the
    predicted prefix hit rate, over blocks of ``prefix_block_tokens``.
    """

    name: Literal["sharegpt", "random", "sessions", "trace", "shared-prefix"] = "sharegpt"
    num_prompts: int = Field(default=2000, ge=1)
    session_turns: int = Field(default=4, ge=1, description="sessions: user turns per session at most")
    think_time_ms: float = Field(default=0.0, ge=0, description="sessions: the user's pause before each next turn")
    seed: int = 0
    source: Literal["auto", "hub", "package"] = "auto"
    path: str | None = None
    tokenizer: str | None = None
    random_input_len: int = Field(default=1024, ge=1)
    random_output_len: int = Field(default=128, ge=1)
    random_range_ratio: float = Field(default=0.0, ge=0.0, lt=1.0)
    trace_path: str | None = Field(default=None, description="trace: the trace file")
    trace_format: str = Field(default="auto", description="trace: mooncake, azure, burstgpt, or auto (from the file)")
    time_scale: float = Field(default=1.0, gt=0, description="trace: replay speed, 2 is twice as fast")
    trace_start_s: float = Field(default=0.0, ge=0, description="trace: replay from this many seconds in")
    trace_end_s: float | None = Field(default=None, gt=0, description="trace: replay up to this many seconds in")
    gsp_num_groups: int = Field(default=64, ge=1, description="shared-prefix: system prompts")
    gsp_prompts_per_group: int = Field(default=16, ge=1, description="shared-prefix: prompts per system prompt")
    gsp_system_prompt_len: int = Field(default=2048, ge=1, description="shared-prefix: system prompt tokens")
    gsp_question_len: int = Field(default=128, ge=1, description="shared-prefix: question tokens")
    gsp_output_len: int = Field(default=256, ge=1, description="shared-prefix: output tokens")
    prefix_block_tokens: int | None = Field(
        default=None, ge=1, description="the predicted prefix hit rate's block; None: 512 for a Mooncake trace "
                                        "(its hash ids' block), 16 for shared-prefix (vLLM's block)")

    def shape(self) -> dict[str, Any]:
        """The settings of this dataset that shape its requests (lengths, turns, the replayed window), by field
        name: two runs that differ in one did not ask the same work of the server. The prompt count, the file
        and the seed are not among them."""
        return {key: value for key, value in self.model_dump().items() if key.startswith(_SHAPE[self.name])}

    @model_validator(mode="after")
    def _trace_has_a_file(self) -> DatasetSpec:
        if self.name == "trace" and not self.trace_path:
            raise ValueError("a trace dataset replays a file: give trace_path (--trace-path)")
        if self.trace_end_s is not None and self.trace_end_s <= self.trace_start_s:
            raise ValueError("trace_end_s must be after trace_start_s")
        return self


class RequestSpec(_Strict):
    """How each request is sent."""

    api: Literal["chat", "completions"] = "chat"
    temperature: float = Field(default=0.0, ge=0.0)
    ignore_eos: bool = True
    # The whole request, from sending to the stream's end (--timeout).
    timeout_s: float = Field(default=600.0, gt=0)
    # The longest silence between two reads, the wait for the first byte included
    # (--stall-timeout); None leaves only the whole-request limit.
    stall_timeout_s: float | None = Field(default=None, gt=0)
    continuous_usage: bool = True
    # "wire": plain sockets with kernel receive stamps for http:// (https:// always uses aiohttp).
    http_client: Literal["wire", "aiohttp"] = "wire"
    extra_body: dict[str, Any] = Field(default_factory=dict)


class Workload(_Strict):
    """A load profile: when requests arrive and how many may be in flight.

    ``request_rate`` None sends every request at t = 0 (with ``max_concurrency``
    set, that is a closed loop: the next request leaves when one finishes).
    Otherwise arrivals are a gamma process of mean ``request_rate`` per second;
    ``burstiness`` 1 is Poisson, below 1 burstier, above 1 more regular.
    """

    title: str
    request_rate: float | None = Field(default=None, gt=0)
    max_concurrency: int | None = Field(default=None, ge=1)
    burstiness: float = Field(default=1.0, gt=0)
    num_prompts: int | None = Field(default=None, ge=1)
    ramp: Literal["linear", "exponential"] | None = Field(
        default=None, description="the rate moves from request_rate to ramp_to over the workload")
    ramp_to: float | None = Field(default=None, gt=0, description="the rate a ramp ends at (req/s)")

    @model_validator(mode="after")
    def _ramp_has_ends(self) -> Workload:
        if (self.ramp is None) != (self.ramp_to is None):
            raise ValueError("a rate ramp needs both ramp (linear or exponential) and ramp_to (req/s)")
        if self.ramp is not None and self.request_rate is None:
            raise ValueError("a rate ramp starts at request_rate: give one")
        return self

    def offsets_ns(self, count: int, seed: int) -> list[int]:
        """When each of ``count`` requests is due, in ns from the start (:func:`arrival_offsets_ns`)."""
        return arrival_offsets_ns(count, self.request_rate, self.burstiness, seed, self.ramp, self.ramp_to)

    @field_validator("request_rate", mode="before")
    @classmethod
    def _inf_is_burst(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in ("inf", "infinity"):
            return None
        if isinstance(value, float) and math.isinf(value):
            return None
        return value

    def describe(self, arrivals: str | None = None) -> str:
        """A short phrase for tables: 'all at t=0', 'Poisson 10 req/s, cap 512'.

        ``arrivals`` names a dataset's own arrival times ('trace FILE x2'), which replace the rate.
        """
        if arrivals is not None:
            base = arrivals
        elif self.request_rate is None:
            base = "closed loop" if self.max_concurrency else "all at t=0"
        else:
            kind = "Poisson" if self.burstiness == 1.0 else f"gamma(k={self.burstiness:g})"
            base = f"{kind} {self.request_rate:g} req/s"
            if self.ramp is not None:
                base += f" ramping ({self.ramp}) to {self.ramp_to:g} req/s"
        return base + (f", cap {self.max_concurrency}" if self.max_concurrency else "")


class Suite(_Strict):
    """A named set of workloads over one dataset."""

    schema_version: int = 1
    name: str
    description: str = ""
    dataset: DatasetSpec = DatasetSpec()
    request: RequestSpec = RequestSpec()
    workloads: dict[str, Workload]

    @model_validator(mode="after")
    def _sessions_chat(self) -> Suite:
        if self.dataset.name == "sessions" and self.request.api != "chat":
            raise ValueError("chat sessions send the conversation as messages: use the chat API (api: chat)")
        return self

    def select(self, name: str) -> list[tuple[str, Workload]]:
        """The workloads to run for ``--workload NAME`` (``all`` runs every one in order)."""
        if name == "all":
            return list(self.workloads.items())
        names = [n.strip() for n in name.split(",") if n.strip()]
        unknown = [n for n in names if n not in self.workloads]
        if unknown or not names:
            raise GlmbenchError(
                f"unknown workload {', '.join(unknown) or name!r} in suite {self.name!r}"
                + (did_you_mean(unknown[0], self.workloads) if unknown else ""),
                f"choose from {', '.join(self.workloads)} or all",
            )
        return [(n, self.workloads[n]) for n in names]


def suite_path(name_or_path: str) -> Path:
    """A suite file: a path, or the name of a suite shipped with glmbench."""
    given = Path(name_or_path).expanduser()
    if given.suffix in (".yaml", ".yml") or given.exists():
        return given
    shipped = shipped_file("suites", name_or_path)
    if shipped is not None:
        return shipped
    raise GlmbenchError(f"unknown suite {name_or_path!r}{did_you_mean(name_or_path, shipped_names('suites'))}",
                        f"pass a suite name ({', '.join(shipped_names('suites'))}) or a path to a suite YAML file")


def load_suite(name_or_path: str) -> Suite:
    """Read and validate a suite file."""
    return load_model(Suite, suite_path(name_or_path), "suite file", "fix the suite file")
