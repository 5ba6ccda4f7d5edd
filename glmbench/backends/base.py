"""The backend seam: what each serving backend knows about itself.

A backend is one module in :mod:`glmbench.backends.builtin` with a ``BACKEND`` object that follows
:class:`Backend`: its command line built from a :class:`BackendConfig`, the
endpoints that say it is ready, and how to read speculative-decoding acceptance
and the prefix cache's hit rate from what it exports. Launching, waiting and stopping are shared
(:mod:`glmbench.backends.launch`); nothing in shared code asks which backend it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import aiohttp
from pydantic import BaseModel, ValidationError

from glmbench.backends.config import BackendConfig
from glmbench.backends.process import ServerProcess
from glmbench.errors import GlmbenchError
from glmbench.metrics.server import parse_prometheus, spec_acceptance

__all__ = ["Backend", "BaseBackend", "Server", "Scrape", "Scraper", "PlainMetrics", "fetch_metrics", "prefix_share",
           "vllm_prefix_hits"]

Scrape = dict[str, Any]
"""One scrape of a server: ``{"metrics": {name: value}, ...}`` plus backend-specific parts."""


@dataclass
class Server:
    """A server ready for requests: where it is and, if glmbench started it, the process."""

    name: str
    base_url: str
    model: str
    version: str | None = None
    process: ServerProcess | None = None
    env: dict[str, str] = field(default_factory=dict)
    backend: Backend | None = None

    @property
    def command(self) -> list[str] | None:
        return self.process.command if self.process else None

    def exit_code(self) -> int | None:
        """The process's exit code once it has died; None while it runs or when not ours."""
        return self.process.proc.poll() if self.process else None

    @property
    def port(self) -> int:
        """The port of ``base_url``."""
        return int(self.base_url.rsplit(":", 1)[1].split("/")[0])

    def stop(self) -> bool:
        """Stop the process group if glmbench started it; True once its port is free again."""
        if self.process is None:
            return True
        self.process.stop()
        from glmbench.backends.process import wait_port_free

        return wait_port_free(self.port, 10)


class Backend(Protocol):
    """What a serving backend knows about itself."""

    name: ClassVar[str]
    package: ClassVar[str]
    install_hint: ClassVar[str]
    default_config: ClassVar[str]
    readiness: ClassVar[tuple[str, ...]]
    warmup_path: ClassVar[str]
    startup_s: ClassVar[float]
    multinode: ClassVar[str | None]
    uses_gpus: ClassVar[bool]
    # The model of the config's ``options`` (``--set options.KEY`` is checked against it); None: free-form.
    options_model: ClassVar[type[BaseModel] | None]

    def program(self, cfg: BackendConfig, python: str) -> list[str]:
        """The program part of the command: ``[python, -m, module]`` or the backend's own executable."""
        ...

    def args(self, cfg: BackendConfig, port: int) -> list[str]:
        """Every argument after the program, from the config."""
        ...

    def check(self, cfg: BackendConfig) -> None:
        """Raise :class:`GlmbenchError` when the config holds a value this backend does not take."""
        ...

    def serves_http(self, cfg: BackendConfig) -> bool:
        """Whether this process answers HTTP: every single-node server, and rank 0 of one over several nodes."""
        ...

    async def scrape(self, session: aiohttp.ClientSession, root_url: str) -> Scrape:
        """The server's own figures right now (never raises)."""
        ...

    def acceptance(self, before: Scrape, after: Scrape) -> dict[str, float] | None:
        """Mean acceptance length (and rate where defined) of speculative decoding between two scrapes."""
        ...

    def prefix_hits(self, before: Scrape, after: Scrape) -> dict[str, Any] | None:
        """The prefix cache's ``prefix_hit_rate`` (0 to 1) between two scrapes and its ``prefix_source``."""
        ...

    def server_figures(self, before: Scrape, after: Scrape) -> dict[str, Any] | None:
        """Everything the server's own figures say between two scrapes: acceptance and prefix hits."""
        ...

    def adapt_request(self, payload: dict[str, Any]) -> None:
        """Rewrite a benchmark request body in place for this server's dialect (most need nothing)."""
        ...

    def gpus_per_node(self, cfg: BackendConfig) -> int:
        """GPUs to reserve on each node the server spans (a placement on Ray)."""
        ...

    def draft_tokens(self, cfg: BackendConfig) -> int | None:
        """Tokens one speculative step drafts (k: a step gives at most k + 1 tokens); None without speculation."""
        ...

    def request_seconds(self, cfg: BackendConfig) -> tuple[float, float]:
        """A rough TTFT and inter-token latency in seconds, for a plan's duration estimate only."""
        ...

    def with_settings_file(self, cfg: BackendConfig, path: Path, sets: Sequence[str]) -> BackendConfig:
        """``cfg`` with a settings file of this backend's own over its options (``--sim-config``), ``sets`` last."""
        ...

    def answer_book_sets(self, cfg: BackendConfig, book: Path, quick: bool = True) -> list[str]:
        """``--set`` items, applied before the user's own, under which a server of ``cfg`` answers tool-calling
        requests from the answer book ``book`` (:mod:`glmbench.sim.answers`), quickly unless ``quick`` is False
        (an experiment's server keeps the timing its load points measure); none for a server with a model of its
        own, or one that ``cfg`` already gives a book."""
        ...


class BaseBackend:
    """Shared parts: a module entry, ``/metrics`` scraping, speculative settings checked by a model."""

    name: ClassVar[str]
    package: ClassVar[str]
    install_hint: ClassVar[str]
    default_config: ClassVar[str]
    readiness: ClassVar[tuple[str, ...]] = ("/health",)
    warmup_path: ClassVar[str] = "/v1/models"
    module: ClassVar[str | None] = None
    cli: ClassVar[tuple[str, ...]] = ()
    speculative_model: ClassVar[type[BaseModel] | None] = None
    options_model: ClassVar[type[BaseModel] | None] = None
    # How the backend spans nodes, for the error of one that cannot (None: it runs on one node only).
    multinode: ClassVar[str | None] = None
    # Rough seconds from start to ready, for a plan's duration estimate only.
    startup_s: ClassVar[float] = 60.0
    # Whether a config's tp x dp are GPUs to reserve (a placement on Ray); the simulator needs none.
    uses_gpus: ClassVar[bool] = True

    def program(self, cfg: BackendConfig, python: str) -> list[str]:
        if cfg.launch.entry == "cli" and self.cli:
            return list(self.cli)
        if self.module is None:
            return list(self.cli)
        return [python, "-m", self.module]

    def args(self, cfg: BackendConfig, port: int) -> list[str]:
        raise NotImplementedError

    def speculative(self, cfg: BackendConfig) -> BaseModel | None:
        """The config's ``speculative`` block, validated by this backend's own model."""
        if not cfg.speculative:
            return None
        if self.speculative_model is None:
            raise GlmbenchError(f"{self.name} has no speculative decoding", "remove 'speculative' from the config")
        try:
            return self.speculative_model.model_validate(cfg.speculative)
        except ValidationError as exc:
            from glmbench.util.config_file import validation_message

            raise GlmbenchError(validation_message(exc, f"{self.name} speculative"),
                                "fix the speculative block of the config") from None

    def check(self, cfg: BackendConfig) -> None:
        self.speculative(cfg)
        if cfg.nodes > 1 and self.multinode is None:
            raise GlmbenchError(f"{self.name} runs on one node; this config asks for nodes: {cfg.nodes}",
                                "set nodes: 1, or use a backend that spans nodes (sglang, lightllm, vllm)")

    def serves_http(self, cfg: BackendConfig) -> bool:
        return cfg.node is None or cfg.node.rank == 0

    async def scrape(self, session: aiohttp.ClientSession, root_url: str) -> Scrape:
        return {"metrics": await fetch_metrics(session, root_url)}

    def acceptance(self, before: Scrape, after: Scrape) -> dict[str, float] | None:
        return None

    def prefix_hits(self, before: Scrape, after: Scrape) -> dict[str, Any] | None:
        return None

    def server_figures(self, before: Scrape, after: Scrape) -> dict[str, Any] | None:
        return _merged(self.acceptance(before, after), self.prefix_hits(before, after))

    def adapt_request(self, payload: dict[str, Any]) -> None:
        return None

    def draft_tokens(self, cfg: BackendConfig) -> int | None:
        return None  # no speculative decoding unless the backend reads its own block

    def gpus_per_node(self, cfg: BackendConfig) -> int:
        """GPUs to reserve on each node the server spans (none for a backend that uses none)."""
        if cfg.gpus is not None:
            return cfg.gpus
        return cfg.gpus_per_node if self.uses_gpus else 0

    def request_seconds(self, cfg: BackendConfig) -> tuple[float, float]:
        # A GPU server's order of magnitude; right within a factor of a few, which an estimate needs.
        return 0.2, 0.02

    def with_settings_file(self, cfg: BackendConfig, path: Path, sets: Sequence[str]) -> BackendConfig:
        raise GlmbenchError(f"a settings file (--sim-config) is for the simulator; {self.name} takes none",
                            "drop --sim-config, or run --backend sim")

    def answer_book_sets(self, cfg: BackendConfig, book: Path, quick: bool = True) -> list[str]:
        return []  # a model answers for itself


async def fetch_metrics(session: aiohttp.ClientSession, root_url: str, path: str = "/metrics") -> dict[str, float] | None:
    """Prometheus text at ``root_url + path``, parsed; None when there is none."""
    try:
        async with session.get(f"{root_url}{path}", timeout=aiohttp.ClientTimeout(total=5)) as resp:
            if resp.status != 200:
                return None
            return parse_prometheus(await resp.text())
    except (aiohttp.ClientError, asyncio.TimeoutError, TimeoutError, UnicodeDecodeError):
        return None


async def fetch_json(session: aiohttp.ClientSession, url: str) -> Any:
    """A JSON document, or None (never raises)."""
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as resp:
            if resp.status != 200:
                return None
            return await resp.json(content_type=None)
    except (aiohttp.ClientError, asyncio.TimeoutError, TimeoutError, ValueError):
        return None


def flag_pairs(pairs: Sequence[tuple[str, Any]]) -> list[str]:
    """``[("--tp", 4), ("--x", None), ("--flag", True)]`` to ``["--tp", "4", "--flag"]``: None drops, True is a bare flag."""
    out: list[str] = []
    for flag, value in pairs:
        if value is None or value is False:
            continue
        out.append(flag)
        if value is not True:
            out.append(str(value))
    return out


def metric_delta(before: Mapping[str, float] | None, after: Mapping[str, float] | None, name: str) -> float:
    """How much a counter grew between two scrapes (0 when either lacks it)."""
    if not before or not after:
        return 0.0
    return after.get(name, 0.0) - before.get(name, 0.0)


def prefix_share(before: Scrape, after: Scrape, hits: str, queries: str, source: str) -> dict[str, Any] | None:
    """``prefix_hit_rate``: how much counter ``hits`` grew over how much ``queries`` grew, both in tokens.

    None when either scrape has no metrics, ``queries`` is not in the later one
    or did not grow (no prompt was looked up: no requests, or the cache is off).
    ``source`` names the counters, for the row's ``prefix_source``.
    """
    b, a = before.get("metrics"), after.get("metrics")
    if not b or not a or queries not in a:
        return None
    looked_up = metric_delta(b, a, queries)
    if looked_up <= 0:
        return None
    return {"prefix_hit_rate": metric_delta(b, a, hits) / looked_up, "prefix_source": source}


# vLLM V1's counters, in tokens: queries are every prompt token looked up, hits those the cache served
# (counted at scheduling); earlier V1 releases named them vllm:gpu_prefix_cache_*.
_VLLM_PREFIX = (("vllm:prefix_cache_hits_total", "vllm:prefix_cache_queries_total"),
                ("vllm:gpu_prefix_cache_hits_total", "vllm:gpu_prefix_cache_queries_total"))


def vllm_prefix_hits(before: Scrape, after: Scrape) -> dict[str, Any] | None:
    """The prefix hit rate from vLLM's counters between two scrapes (None with prefix caching off)."""
    for hits, queries in _VLLM_PREFIX:
        found = prefix_share(before, after, hits, queries, f"{hits} / {queries}")
        if found is not None:
            return found
    return None


def _merged(*parts: Mapping[str, Any] | None) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    for part in parts:
        out.update(part or {})
    return out or None


class Scraper(Protocol):
    """Reads a server's own figures: what a load run needs of a backend (its ``scrape``, ``acceptance``,
    ``prefix_hits``, and ``server_figures``, the two together)."""

    async def scrape(self, session: aiohttp.ClientSession, root_url: str) -> Scrape: ...
    def acceptance(self, before: Scrape, after: Scrape) -> dict[str, float] | None: ...
    def prefix_hits(self, before: Scrape, after: Scrape) -> dict[str, Any] | None: ...
    def server_figures(self, before: Scrape, after: Scrape) -> dict[str, Any] | None: ...


class PlainMetrics:
    """A :class:`Scraper` for a server of unknown kind: ``/metrics``, read with vLLM's counter names."""

    async def scrape(self, session: aiohttp.ClientSession, root_url: str) -> Scrape:
        return {"metrics": await fetch_metrics(session, root_url)}

    def acceptance(self, before: Scrape, after: Scrape) -> dict[str, float] | None:
        if not before.get("metrics") or not after.get("metrics"):
            return None
        return spec_acceptance(before["metrics"], after["metrics"])

    def prefix_hits(self, before: Scrape, after: Scrape) -> dict[str, Any] | None:
        return vllm_prefix_hits(before, after)

    def server_figures(self, before: Scrape, after: Scrape) -> dict[str, Any] | None:
        return _merged(self.acceptance(before, after), self.prefix_hits(before, after))
