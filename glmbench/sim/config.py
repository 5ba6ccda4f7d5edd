"""Settings of the simulated server: dialect, latency model, speculative decoding, reasoning, faults."""

from __future__ import annotations

import math
import pkgutil
import random
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticKnownError

from glmbench.errors import GlmbenchError
from glmbench.util.config_file import read_yaml, validate

__all__ = ["dialect_names", "Distribution", "Divergence", "Fault", "SimConfig", "FAULTS", "load_sim_config"]

Distribution = Literal["fixed", "normal", "lognormal", "exponential"]
Fault = Literal["http500", "cut", "badjson", "stall"]
FAULTS: tuple[Fault, ...] = get_args(Fault)


def dialect_names() -> list[str]:
    """The dialects the simulator speaks: the modules of ``glmbench/sim/dialects/``, one each.

    Read as names from the folder, not imported: the dialects import this module.
    """
    folder = Path(__file__).with_name("dialects")
    return sorted(m.name for m in pkgutil.iter_modules([str(folder)]) if not m.name.startswith("_"))


def draw(rng: random.Random, mean: float, dist: Distribution, cv: float) -> float:
    """One draw with the given mean and coefficient of variation (never negative)."""
    if mean <= 0 or dist == "fixed" or (cv <= 0 and dist != "exponential"):
        return max(0.0, mean)
    if dist == "normal":
        return max(0.0, rng.gauss(mean, cv * mean))
    if dist == "lognormal":
        sigma2 = math.log1p(cv * cv)
        return rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))
    return rng.expovariate(1.0 / mean)


class Divergence(BaseModel):
    """Where the replies to some prompts leave the prompt's own sequence (``outputs: by-prompt`` only)."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(description="a substring of the prompt text: the prompts this spec applies to")
    at: int = Field(ge=0, description="the 0-based output position of the first different token")
    margin: float = Field(0.01, ge=0, description="top-1 minus top-2 logprob at that position, diverged or not")
    when: Literal["always", "loaded", "alone", "never"] = Field(
        "always", description="always; loaded: only when the server held more than one request at receipt (itself "
        "included, as answer_law counts); alone: only when it held just this one; never: the prompt has the margin "
        "at that position but this server does not flip it (a reference whose logprobs show the near tie)")


class SimConfig(BaseModel):
    """How the simulated server behaves. Times in milliseconds, as on the command line."""

    model_config = ConfigDict(extra="forbid")

    dialect: str = Field("vllm", description="whose server to look like: routes, health, metrics, stream shape "
                         "(a module of glmbench.sim.dialects)")
    startup_s: float = Field(0.0, ge=0, description="seconds after start while the server is still loading")
    metrics: bool = Field(True, description="serve /metrics (SGLang serves it only with --enable-metrics)")
    answers: str | None = Field(None, description="JSON Lines answer book: scripted tool calls per question "
                                "(see glmbench.sim.answers), for testing function-calling evaluations")
    answer_law: list[tuple[float, Annotated[float, Field(ge=0, le=1)]]] | None = Field(
        None, description="how load makes scripted replies wrong: [in_flight, p_right] points, in_flight "
        "increasing, linear between them and flat beyond the ends; in_flight counts the requests the server holds "
        "(running and queued) when a request arrives, itself included, and p_right is the chance its reply is the "
        "book's answer rather than one call to sim_wrong_answer (wrong under every BFCL rule set). The draws use "
        "their own generator seeded by seed, so they do not move the latency draws. None: always the book's answer")
    server_args: dict[str, Any] = Field(
        default_factory=dict, description="launch arguments the server reports (SGLang /server_info, LightLLM "
        "/get_server_info); the stand-ins fill it from their command line")
    model: str = "glm-4.7-flash-sim"
    ttft_ms: float = Field(100.0, ge=0)
    ttft_dist: Distribution = "fixed"
    ttft_cv: float = Field(0.0, ge=0)
    prefill_ms_per_1k: float = Field(0.0, ge=0, description="extra TTFT per 1000 prompt tokens (the uncached ones, "
                                     "with prefix_cache: see prefill_hit_discount)")
    prefix_cache: bool = Field(False, description="model a prefix cache (vLLM's automatic prefix caching, SGLang's "
                               "radix cache): a prompt's leading full blocks already seen are hits, counted in each "
                               "dialect's /metrics under the real server's names and in the truth log")
    prefix_block_tokens: int = Field(16, ge=1, description="tokens per cache block (vLLM's block size on GPU; 1 is "
                                     "SGLang's token-wise radix cache), in the simulator's token pieces of the prompt "
                                     "text")
    prefix_cache_blocks: int = Field(0, ge=0, description="the cache's capacity in blocks, least recently used "
                                     "evicted first (0: unlimited)")
    prefill_hit_discount: float = Field(1.0, ge=0, le=1, description="the share of prefill time a hit token saves: "
                                        "TTFT's prefill part is prefill_ms_per_1k * (prompt tokens - this * hit "
                                        "tokens) / 1000 (1: only uncached tokens are prefilled; 0: hits save nothing)")
    ttft_ms_per_in_flight: float = Field(
        0.0, ge=0, description="extra TTFT per other request the server holds (running and queued) when a request "
        "arrives: TTFT = ttft_ms draw + prefill_ms_per_1k * prefilled tokens / 1000 + this * (in_flight - 1)")
    itl_ms: float = Field(20.0, ge=0)
    itl_dist: Distribution = "fixed"
    itl_cv: float = Field(0.0, ge=0)
    batch_slowdown: float = Field(0.0, ge=0, description="ITL grows by this fraction per other running request")
    decode: Literal["per-request", "batched"] = Field(
        "per-request", description="per-request: each stream on its own ITL schedule; batched: as a GPU batch, "
        "one step clock every itl_ms for all running requests, every stream's chunk written at the same step "
        "(first tokens at the first step after prefill; itl_cv and batch_slowdown do not apply)")
    max_running: int = Field(0, ge=0, description="requests decoded at once; more wait in a queue (0: no limit)")
    spec_tokens: int = Field(0, ge=0, description="draft tokens per step (MTP/EAGLE); 0 turns it off")
    spec_accept: float = Field(0.0, ge=0, le=1, description="chance that each draft token is accepted")
    spec_accept_answers: float | None = Field(
        None, ge=0, le=1, description="chance that each draft token of an answer book's reply is accepted (tool-call "
        "JSON is easier to draft than prose); None: spec_accept, as for every other reply")
    reasoning_tokens: int = Field(0, ge=0, description="tokens streamed as reasoning before the answer")
    reasoning_field: Literal["reasoning", "reasoning_content"] = Field(
        "reasoning", description="delta field of reasoning in the vllm dialect (the others have a fixed one)")
    default_max_tokens: int = Field(256, ge=1)
    outputs: Literal["cycle", "by-prompt"] = Field(
        "cycle", description="what replies say: cycle, the same placeholder words whatever the prompt; by-prompt, "
        "words drawn from the SHA-256 of the prompt text, the same on every request and process whatever the seed, "
        "load or dialect (and, without ignore_eos, a length between half and all of max_tokens from it too)")
    logprob_margin: float = Field(
        3.0, ge=0, description="top-1 minus top-2 logprob at every output position, where a request asks for "
        "logprobs (completions logprobs: k; chat logprobs: true, top_logprobs: k)")
    diverge: list[Divergence] = Field(
        default_factory=list, description="by-prompt only: for prompts containing a spec's prompt (the first "
        "matching spec), the output leaves the prompt's own sequence at position at (its top-2 candidate there), "
        "with a margin-wide near tie at that position in every run, then goes on differently; same length")
    seed: int = 0
    faults: dict[Fault, float] = Field(default_factory=dict)

    @field_validator("dialect")
    @classmethod
    def _known_dialect(cls, name: str) -> str:
        known = dialect_names()
        if name not in known:
            # The error a Literal of the names would give.
            quoted = [repr(k) for k in known]
            expected = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
            raise PydanticKnownError("literal_error", {"expected": expected})
        return name

    @field_validator("answer_law")
    @classmethod
    def _law_increases(cls, law: list[tuple[float, float]] | None) -> list[tuple[float, float]] | None:
        if law is not None and (not law or any(a[0] >= b[0] for a, b in zip(law, law[1:]))):
            raise ValueError("give at least one [in_flight, p_right] point, in_flight increasing")
        return law

    @field_validator("diverge")
    @classmethod
    def _diverge_needs_by_prompt(cls, diverge: list[Divergence], info: ValidationInfo) -> list[Divergence]:
        if diverge and info.data.get("outputs") != "by-prompt":
            raise ValueError('diverge needs outputs "by-prompt": set outputs to "by-prompt", or drop diverge')
        return diverge

    def step_tokens(self, rng: random.Random, accept: float | None = None) -> int:
        """Tokens one decode step emits: 1, plus the accepted prefix of the drafts (each accepted with chance
        ``accept``, by default ``spec_accept``)."""
        accept = self.spec_accept if accept is None else accept
        accepted = 0
        while accepted < self.spec_tokens and rng.random() < accept:
            accepted += 1
        return 1 + accepted

    def pick_fault(self, rng: random.Random) -> str | None:
        """The fault this request suffers, if any (faults' chances add up)."""
        roll, edge = rng.random(), 0.0
        for name in FAULTS:
            edge += self.faults.get(name, 0.0)
            if roll < edge:
                return name
        return None


def load_sim_config(path: Path | None, overrides: dict[str, Any]) -> SimConfig:
    """A :class:`SimConfig` from an optional YAML file (a bare sim file, or a backend config's ``options``) plus values."""
    data: dict[str, Any] = {}
    if path is not None:
        data = read_yaml(path, "sim config") or {}
        if not isinstance(data, dict):
            raise GlmbenchError(f"{path} must be a mapping of sim settings", "see configs/sim.yaml")
        # A backend config keeps the settings under ``options``; a bare sim file under ``sim``.
        data = dict((data.get("options", {}) if "backend" in data else data.get("sim", data)) or {})
    data.update({k: v for k, v in overrides.items() if v is not None})
    return validate(SimConfig, data, "sim config", "fix the value named above")
