"""``glmbench sim``: the simulated server alone, in the foreground."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from glmbench.errors import GlmbenchError
from glmbench.sim.config import dialect_names, load_sim_config

__all__ = ["register"]


def _parse_faults(items: list[str]) -> dict[str, float] | None:
    if not items:
        return None
    faults = {}
    for item in items:
        name, _, chance = item.partition("=")
        try:
            faults[name.strip()] = float(chance)
        except ValueError:
            raise GlmbenchError(f"bad --fault {item!r}", "write NAME=CHANCE, e.g. --fault cut=0.05") from None
    return faults


def sim(
    host: Annotated[str, typer.Option(help="Address to bind; keep 127.0.0.1 unless you mean it.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    # --sim-config, as run's: --config names a backend config everywhere else (kept here so nothing breaks).
    config: Annotated[Optional[Path], typer.Option("--sim-config", "--config", help="YAML file of sim settings: a "
                                                   "bare one, or a backend config's options (configs/sim.yaml).")]
    = None,
    settings_json: Annotated[Optional[str], typer.Option(
        "--settings", metavar="JSON", help="JSON object of simulator settings, over --sim-config: any key a settings "
        "file takes, e.g. answers, answer_law, ttft_ms_per_in_flight; outputs \"by-prompt\", logprob_margin and "
        "diverge for output-equivalence tests (docs: The simulated server).")] = None,
    dialect: Annotated[Optional[str], typer.Option(help="Whose server to look like "
                                                   f"({', '.join(dialect_names())}): its routes, /metrics names and "
                                                   "stream shape.")] = None,
    startup_s: Annotated[Optional[float], typer.Option(help="Seconds the server stays 'loading' after start.")] = None,
    model: Annotated[Optional[str], typer.Option(help="Model name to serve.")] = None,
    ttft_ms: Annotated[Optional[float], typer.Option(help="Mean time to first token.")] = None,
    ttft_dist: Annotated[Optional[str], typer.Option(help="fixed, normal, lognormal or exponential.")] = None,
    ttft_cv: Annotated[Optional[float], typer.Option(help="Coefficient of variation of TTFT.")] = None,
    itl_ms: Annotated[Optional[float], typer.Option(help="Mean time between decode steps.")] = None,
    itl_dist: Annotated[Optional[str], typer.Option(help="fixed, normal, lognormal or exponential.")] = None,
    itl_cv: Annotated[Optional[float], typer.Option(help="Coefficient of variation of ITL.")] = None,
    prefill_ms_per_1k: Annotated[Optional[float], typer.Option(help="Extra TTFT per 1000 prompt tokens.")] = None,
    batch_slowdown: Annotated[Optional[float], typer.Option(help="ITL grows by this fraction per other running request.")] = None,
    max_running: Annotated[Optional[int], typer.Option(help="Requests decoded at once, others queue (0: no limit).")] = None,
    spec_tokens: Annotated[Optional[int], typer.Option(help="Draft tokens per step, as MTP/EAGLE (0: off).")] = None,
    spec_accept: Annotated[Optional[float], typer.Option(help="Chance each draft token is accepted.")] = None,
    reasoning_tokens: Annotated[Optional[int], typer.Option(help="Tokens streamed as reasoning before the answer.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed of the latency draws.")] = None,
    fault: Annotated[list[str], typer.Option(help="NAME=CHANCE with NAME http500, cut, badjson or stall; repeatable.",
                                             metavar="NAME=CHANCE")] = [],  # noqa: B006
    truth_log: Annotated[Optional[Path], typer.Option(help="Write the time each chunk was sent, the load each request "
                                                      "met and what each scripted reply meant here (JSON lines).")] = None,
    cpu: Annotated[Optional[int], typer.Option(help="Pin the server to this core.")] = None,
) -> None:
    """Run the simulated OpenAI-compatible server (a simulator, not a model) until Ctrl-C."""
    from glmbench.sim.run import serve_forever

    base: dict[str, Any] = {}
    if settings_json:
        try:
            loaded = json.loads(settings_json)
        except json.JSONDecodeError:
            loaded = None
        if not isinstance(loaded, dict):
            raise GlmbenchError("--settings is not a JSON object", 'write it as JSON, e.g. \'{"ttft_ms": 50}\'')
        base = loaded
    settings = load_sim_config(config, {**base, **{k: v for k, v in {
        "dialect": dialect, "startup_s": startup_s, "model": model, "ttft_ms": ttft_ms, "ttft_dist": ttft_dist,
        "ttft_cv": ttft_cv, "itl_ms": itl_ms,
        "itl_dist": itl_dist, "itl_cv": itl_cv, "prefill_ms_per_1k": prefill_ms_per_1k,
        "batch_slowdown": batch_slowdown, "max_running": max_running, "spec_tokens": spec_tokens,
        "spec_accept": spec_accept, "reasoning_tokens": reasoning_tokens, "seed": seed,
        "faults": _parse_faults(fault),
    }.items() if v is not None}})

    def ready(bound: int) -> None:
        print(f"glmbench sim: serving {settings.model} at http://{host}:{bound}/v1 in the {settings.dialect} dialect "
              f"(TTFT {settings.ttft_ms:g} ms, ITL {settings.itl_ms:g} ms; simulated, not a model)", flush=True)

    try:
        serve_forever(settings, host, port, truth_log, cpu, ready)
    except OSError as exc:
        raise GlmbenchError(f"cannot listen on {host}:{port}: {exc.strerror}", "pick another --port") from None
    sys.exit(0)


def register(app: typer.Typer) -> None:
    app.command("sim")(sim)
