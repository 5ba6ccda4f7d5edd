"""The stand-ins for SGLang and LightLLM: their real command lines, glmbench's simulator behind them.

``glmbench/sim/standins`` holds fake top-level ``sglang`` and ``lightllm``
packages whose launch modules call :func:`sglang_main` and
:func:`lightllm_main`. Each parses its arguments with the real launcher's
flags (a table dumped from the real parser, see :mod:`glmbench.sim.flag_table`),
so a misspelt or unknown flag exits with code 2 as it would on the real
server; runs the same checks the real launcher makes on the speculative
settings (exit code 1); and then serves the simulator in that dialect.

Timing comes from the environment, not the command line, which must stay the
real one:

- ``GLMBENCH_STANDIN_TTFT_MS`` (default 20) and ``GLMBENCH_STANDIN_ITL_MS`` (default 2);
- ``GLMBENCH_STANDIN_SPEC_ACCEPT`` (default 0.7): chance each draft token is accepted;
- ``GLMBENCH_STANDIN_STARTUP_S`` (default 1.0): time spent "loading";
- ``GLMBENCH_STANDIN_EXIT_AFTER_S`` (unset): die with exit code 3 that long after start.

Over several nodes (SGLang ``--nnodes --node-rank --dist-init-addr``, LightLLM
``--nnodes --node_rank --nccl_host --nccl_port``) the ranks meet as the real
ones do before serving: rank 0 listens on the given address and waits for every
other rank to connect and name itself, then serves HTTP (the joined ranks show
in its ``server_args`` as ``joined_ranks``); the other ranks serve nothing and
stay until rank 0 goes. Rank 0 exits when a rank drops out, as a server whose
collective lost a member does.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from pydantic import ValidationError

from glmbench.sim.config import SimConfig
from glmbench.sim.flag_table import load_table, parser_from_table
from glmbench.sim.standins_path import standins_dir

__all__ = ["ENV_DEFAULTS", "StandinError", "sglang_settings", "lightllm_settings", "sglang_main", "lightllm_main"]

ENV_DEFAULTS: dict[str, float | None] = {
    "GLMBENCH_STANDIN_TTFT_MS": 20.0,
    "GLMBENCH_STANDIN_ITL_MS": 2.0,
    "GLMBENCH_STANDIN_SPEC_ACCEPT": 0.7,
    "GLMBENCH_STANDIN_STARTUP_S": 1.0,
    "GLMBENCH_STANDIN_EXIT_AFTER_S": None,
}
# GLM-4.7-Flash thinks by default when a reasoning parser is set; a few tokens show the reasoning field.
_REASONING_TOKENS = 4
# SGLang's SpeculativeAlgorithm members (0.5.23); NEXTN is an alias of EAGLE.
_SGLANG_SPEC_ALGORITHMS = {"DFLASH", "UNO", "DSPARK", "EAGLE", "EAGLE3", "FROZEN_KV_MTP", "STANDALONE", "NGRAM", "NONE"}


class StandinError(Exception):
    """A command line the real launcher would refuse after parsing it (it exits with code 1)."""


def _env(environ: Mapping[str, str]) -> dict[str, float | None]:
    values = dict(ENV_DEFAULTS)
    for name in ENV_DEFAULTS:
        raw = environ.get(name)
        if raw is None or raw == "":
            continue
        try:
            values[name] = float(raw)
        except ValueError:
            raise StandinError(f"{name}={raw!r} is not a number") from None
    return values


def _timing(env: dict[str, float | None]) -> dict[str, Any]:
    return {"ttft_ms": env["GLMBENCH_STANDIN_TTFT_MS"], "itl_ms": env["GLMBENCH_STANDIN_ITL_MS"],
            "startup_s": env["GLMBENCH_STANDIN_STARTUP_S"]}


def _config(data: dict[str, Any]) -> SimConfig:
    try:
        return SimConfig.model_validate(data)
    except ValidationError as exc:
        raise StandinError(str(exc)) from None


def sglang_parser() -> argparse.ArgumentParser:
    """The flags of ``python -m sglang.launch_server`` (sglang 0.5.23), without prefix matching."""
    return parser_from_table(load_table(standins_dir() / "sglang" / "server_args.json"))


def lightllm_parser() -> argparse.ArgumentParser:
    """The flags of ``python -m lightllm.server.api_server``, without prefix matching."""
    return parser_from_table(load_table(standins_dir() / "lightllm" / "server" / "api_cli.json"))


def _sglang_spec(args: argparse.Namespace) -> int:
    """Resolve the speculative settings in place as SGLang does for GLM-4.x MoE; the draft tokens per step."""
    if args.speculative_algorithm is None:
        return 0
    algorithm = args.speculative_algorithm.upper()
    algorithm = "EAGLE" if algorithm == "NEXTN" else algorithm
    if algorithm not in _SGLANG_SPEC_ALGORITHMS:
        raise StandinError(f"Unknown speculative algorithm name: {args.speculative_algorithm}")
    args.speculative_algorithm = None if algorithm == "NONE" else algorithm
    if args.speculative_algorithm is None:
        return 0
    steps, topk, drafts = args.speculative_num_steps, args.speculative_eagle_topk, args.speculative_num_draft_tokens
    if steps is None:
        if topk is not None or drafts is not None:
            raise StandinError("speculative_eagle_topk and speculative_num_draft_tokens must be None when "
                               "speculative_num_steps is None (they are chosen together)")
        steps, topk, drafts = 3, 1, 4  # SGLang's choice for Glm4MoeLiteForCausalLM
    if topk is None:
        raise StandinError("--speculative-num-steps needs --speculative-eagle-topk and --speculative-num-draft-tokens")
    if topk == 1 or drafts is None:
        drafts = steps + 1  # SGLang forces this for topk 1
    args.speculative_num_steps, args.speculative_eagle_topk, args.speculative_num_draft_tokens = steps, topk, drafts
    return max(0, min(drafts - 1, steps))


def sglang_settings(argv: Sequence[str], environ: Mapping[str, str] = os.environ,
                    version: str = "glmbench-sim") -> tuple[SimConfig, str, int]:
    """(simulator settings, host, port) for an SGLang command line; argparse exits 2 on a bad flag."""
    args = sglang_parser().parse_args(list(argv))
    env = _env(environ)
    spec_tokens = _sglang_spec(args)
    if args.served_model_name is None:
        args.served_model_name = args.model_path
    server_args = {**vars(args), "version": version}
    settings = _config({
        "dialect": "sglang", "model": args.served_model_name, **_timing(env), "metrics": bool(args.enable_metrics),
        "spec_tokens": spec_tokens, "spec_accept": env["GLMBENCH_STANDIN_SPEC_ACCEPT"] if spec_tokens else 0.0,
        "reasoning_tokens": _REASONING_TOKENS if args.reasoning_parser else 0,
        "max_running": args.max_running_requests or 0, "seed": args.random_seed or 0, "server_args": server_args,
    })
    return settings, args.host, args.port


def _lightllm_checks(args: argparse.Namespace) -> None:
    """The checks of LightLLM's ``api_start.normal_or_p_d_start`` that a GLM command line can trip."""
    if args.model_dir is None:
        raise StandinError("--model_dir is required")
    if args.mtp_mode is not None:
        if args.mtp_draft_model_dir is None:
            args.mtp_draft_model_dir = [args.model_dir] * args.mtp_step
        if not args.mtp_step > 0:
            raise StandinError("--mtp_mode needs --mtp_step > 0")
    elif args.mtp_draft_model_dir is not None or args.mtp_step != 0:
        raise StandinError("--mtp_step and --mtp_draft_model_dir need --mtp_mode")
    if not args.disable_chunked_prefill:
        if args.batch_max_tokens is None:
            args.batch_max_tokens = 16384 // args.dp
        if args.chunked_prefill_size is None:
            args.chunked_prefill_size = args.batch_max_tokens // 2
        if args.batch_max_tokens < args.chunked_prefill_size:
            raise StandinError("chunked prefill mode, batch_max_tokens must >= chunked_prefill_size, "
                               f"but got {args.batch_max_tokens}, {args.chunked_prefill_size}")


def lightllm_settings(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> tuple[SimConfig, str, int]:
    """(simulator settings, host, port) for a LightLLM command line; argparse exits 2 on a bad flag."""
    args = lightllm_parser().parse_args(list(argv))
    env = _env(environ)
    _lightllm_checks(args)
    served = args.model_name
    if served == "default_model_name":
        served = os.path.basename(args.model_dir.rstrip("/"))
    spec_tokens = args.mtp_step if args.mtp_mode else 0
    settings = _config({
        "dialect": "lightllm", "model": served, **_timing(env),
        "spec_tokens": spec_tokens, "spec_accept": env["GLMBENCH_STANDIN_SPEC_ACCEPT"] if spec_tokens else 0.0,
        "reasoning_tokens": _REASONING_TOKENS if args.reasoning_parser else 0,
        "max_running": args.running_max_req_size, "server_args": vars(args),
    })
    return settings, args.host, args.port


def _ranks(settings: SimConfig) -> tuple[int, int, str, int] | None:
    """(nodes, this rank, meeting host, meeting port) of a command line over several nodes, else None."""
    args = settings.server_args
    nodes = int(args.get("nnodes") or 1)
    if nodes <= 1:
        return None
    host: Any  # as the command line gave it: SGLang's split from one text, LightLLM's parsed by its flag table
    port: Any
    if args.get("dist_init_addr"):  # SGLang
        host, _, port = str(args["dist_init_addr"]).rpartition(":")
    else:  # LightLLM
        host, port = args.get("nccl_host"), args.get("nccl_port")
    if not host or not str(port).isdigit():
        raise StandinError("a server over several nodes needs the address where its ranks meet")
    rank = int(args.get("node_rank") or 0)
    if not 0 <= rank < nodes:
        raise StandinError(f"node rank {rank} is not below nnodes {nodes}")
    return nodes, rank, str(host), int(port)


def _meet_as_head(backend: str, nodes: int, host: str, port: int, timeout_s: float) -> list[int]:
    """Rank 0: wait for every other rank to connect and name itself; then watch them (exit when one goes)."""
    import socket
    import threading

    server = socket.create_server((host, port))
    server.settimeout(timeout_s)
    joined: dict[int, socket.socket] = {}
    while len(joined) < nodes - 1:
        try:
            conn, _ = server.accept()
        except TimeoutError:
            raise StandinError(f"only ranks {sorted(joined)} joined within {timeout_s:g} s") from None
        line = conn.makefile("r").readline().split()
        if len(line) == 2 and line[0] == "rank" and line[1].isdigit() and 0 < int(line[1]) < nodes:
            joined[int(line[1])] = conn
            print(f"{backend} stand-in: rank {line[1]} joined", flush=True)
    server.close()

    def watch(rank: int, conn: socket.socket) -> None:
        conn.recv(1)  # blocks until the rank goes (it never sends more)
        print(f"{backend} stand-in: error: rank {rank} left; the collective is broken", file=sys.stderr, flush=True)
        os._exit(1)

    for rank, conn in joined.items():
        threading.Thread(target=watch, args=(rank, conn), daemon=True).start()
    return sorted(joined)


def _join(backend: str, rank: int, host: str, port: int, timeout_s: float) -> NoReturn:
    """A rank other than 0: connect to rank 0, name itself, and stay until rank 0 goes."""
    import socket
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            conn = socket.create_connection((host, port), timeout=5)
            break
        except OSError:
            if time.monotonic() > deadline:
                print(f"{backend} stand-in: error: rank 0 at {host}:{port} did not answer within {timeout_s:g} s",
                      file=sys.stderr, flush=True)
                sys.exit(1)
            time.sleep(0.2)
    conn.sendall(f"rank {rank}\n".encode())
    conn.settimeout(None)
    print(f"{backend} stand-in: rank {rank} joined rank 0 at {host}:{port}; serving no HTTP", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    conn.recv(1)
    print(f"{backend} stand-in: rank 0 went; rank {rank} exits", flush=True)
    sys.exit(0)


def _run(backend: str, settle) -> NoReturn:
    from glmbench.sim.run import serve_forever

    try:
        settings, host, port = settle()
        exit_after = _env(os.environ)["GLMBENCH_STANDIN_EXIT_AFTER_S"]
        ranks = _ranks(settings)
        if ranks is not None:
            nodes, rank, meet_host, meet_port = ranks
            if rank > 0:
                _join(backend, rank, meet_host, meet_port, timeout_s=120)
            joined = _meet_as_head(backend, nodes, meet_host, meet_port, timeout_s=120)
            settings = settings.model_copy(update={"server_args": {**settings.server_args, "joined_ranks": joined}})
    except StandinError as exc:
        print(f"{backend} stand-in: error: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    except OSError as exc:
        print(f"{backend} stand-in: error: cannot meet the other ranks: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    print(f"glmbench stand-in for {backend} (simulated server, not a model): {settings.model} at {host}:{port}, "
          f"loading for {settings.startup_s:g} s", flush=True)

    def ready(bound: int) -> None:
        print(f"{backend} stand-in: ready at http://{host}:{bound}", flush=True)

    try:
        serve_forever(settings, host, port, on_ready=ready, exit_after_s=exit_after)
    except OSError as exc:
        print(f"{backend} stand-in: error: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr, flush=True)
        sys.exit(1)
    sys.exit(0)


def sglang_main(argv: Sequence[str], version: str = "glmbench-sim") -> NoReturn:
    """``python -m sglang.launch_server ARGS`` on the stand-in."""
    _run("sglang", lambda: sglang_settings(argv, os.environ, version))


def lightllm_main(argv: Sequence[str]) -> NoReturn:
    """``python -m lightllm.server.api_server ARGS`` on the stand-in."""
    _run("lightllm", lambda: lightllm_settings(argv, os.environ))
