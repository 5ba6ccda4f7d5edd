"""The simulator's dialects (vLLM, SGLang, LightLLM) and the stand-ins that start it from the real command lines.

In-process tests run the server in the test's event loop; the ``e2e`` ones
start the stand-ins as processes with the exact launch commands glmbench uses
for SGLang and LightLLM, with ``glmbench/sim/standins`` on ``PYTHONPATH``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from glmbench.backends.process import ServerProcess, free_port
from glmbench.errors import GlmbenchError
from glmbench.sim.config import SimConfig
from glmbench.sim.dialects import DIALECTS
from glmbench.sim.flag_table import dump_parser, load_table, parser_from_table
from glmbench.sim.run import start_in_loop
from glmbench.sim.standin import (
    StandinError,
    lightllm_settings,
    sglang_parser,
    sglang_settings,
)
from glmbench.sim.standins_path import standins_dir
from glmbench.util.config_file import validate
from glmbench.util.loop import run_async

FAST = {"ttft_ms": 5, "itl_ms": 1}
CHAT = {"messages": [{"role": "user", "content": "hello there"}], "max_tokens": 8, "ignore_eos": True, "stream": True}


def _sglang_cmd(port: int) -> list[str]:
    return [sys.executable, "-m", "sglang.launch_server", "--model-path", "M", "--host", "127.0.0.1",
            "--port", str(port), "--tp-size", "4", "--tool-call-parser", "glm47", "--reasoning-parser", "glm45",
            "--speculative-algorithm", "EAGLE", "--speculative-num-steps", "3", "--speculative-eagle-topk", "1",
            "--speculative-num-draft-tokens", "4", "--mem-fraction-static", "0.8",
            "--served-model-name", "glm-4.7-flash", "--enable-metrics"]


def _lightllm_cmd(port: int) -> list[str]:
    return [sys.executable, "-m", "lightllm.server.api_server", "--model_dir", "M", "--host", "127.0.0.1",
            "--port", str(port), "--tp", "1", "--max_req_total_len", "202752", "--chunked_prefill_size", "8192",
            "--llm_prefill_att_backend", "fa3", "--llm_decode_att_backend", "flashinfer",
            "--graph_max_batch_size", "512", "--tool_call_parser", "glm47", "--reasoning_parser", "glm45",
            "--mtp_step", "4", "--mtp_mode", "eagle_with_att", "--mtp_draft_model_dir", "M"]


@contextlib.asynccontextmanager
async def _serve(**settings) -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    runner, port = await start_in_loop(SimConfig(**settings))
    try:
        async with aiohttp.ClientSession() as session:
            yield session, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def _stream(session: aiohttp.ClientSession, url: str, body: dict) -> list[dict]:
    """The JSON events of a stream, ``[DONE]`` as the string."""
    async with session.post(url, json=body) as resp:
        assert resp.status == 200
        text = (await resp.read()).decode()
    events = [line[len("data: "):] for line in text.split("\n\n") if line]
    return [e if e == "[DONE]" else json.loads(e) for e in events]


async def _text(session: aiohttp.ClientSession, url: str, method: str = "GET") -> tuple[int, str]:
    async with session.request(method, url) as resp:
        return resp.status, await resp.text()


def _deltas(events: list) -> list[dict]:
    return [e["choices"][0]["delta"] for e in events if isinstance(e, dict) and e["choices"]]


# --- health while loading -------------------------------------------------------------------------------


def test_dialects_are_found_by_module_and_an_unknown_one_names_the_field():
    assert list(DIALECTS) == ["lightllm", "sglang", "vllm"]
    assert all(cls.name == name for name, cls in DIALECTS.items())
    assert SimConfig(dialect="sglang").dialect == "sglang"
    with pytest.raises(GlmbenchError, match=r"^sim\.yaml: dialect: Input should be 'lightllm', 'sglang' or 'vllm'"):
        validate(SimConfig, {"dialect": "tgi"}, "sim.yaml")


@pytest.mark.parametrize(("dialect", "paths"), [("vllm", ["/health"]), ("sglang", ["/health", "/health_generate"])])
def test_health_is_503_while_loading_then_200(dialect, paths):
    async def main():
        async with _serve(dialect=dialect, startup_s=0.4, **FAST) as (s, base):
            for path in paths:
                assert (await _text(s, base + path))[0] == 503
            async with s.post(base + "/v1/chat/completions", json=CHAT) as resp:
                assert resp.status == 503
            await asyncio.sleep(0.45)
            for path in paths:
                assert await _text(s, base + path) == (200, "")

    run_async(main())


def test_lightllm_does_not_listen_until_loaded_then_says_ok():
    port = free_port()

    async def main():
        starting = asyncio.ensure_future(start_in_loop(SimConfig(dialect="lightllm", startup_s=0.5, **FAST),
                                                       port=port))
        await asyncio.sleep(0.2)
        with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=1):
            pass
        runner, bound = await starting
        try:
            assert bound == port
            async with aiohttp.ClientSession() as s:
                base = f"http://127.0.0.1:{port}"
                for method, path in [("GET", "/health"), ("GET", "/healthz"), ("HEAD", "/health")]:
                    status, body = await _text(s, base + path, method)
                    assert status == 200 and (method == "HEAD" or json.loads(body) == {"message": "Ok"})
        finally:
            await runner.cleanup()

    run_async(main())


# --- streams: usage policy, reasoning field, event shape --------------------------------------------------


def test_vllm_usage_only_on_request_and_reasoning_field_from_settings():
    async def main():
        async with _serve(reasoning_tokens=2, reasoning_field="reasoning_content", **FAST) as (s, base):
            url = base + "/v1/chat/completions"
            plain = await _stream(s, url, CHAT)
            assert plain[-1] == "[DONE]" and all("usage" not in e for e in plain[:-1])
            assert "reasoning_content" in _deltas(plain)[0] and _deltas(plain)[0]["role"] == "assistant"
            asked = await _stream(s, url, {**CHAT, "stream_options": {"include_usage": True}})
            assert asked[-2]["usage"]["completion_tokens"] == 8 and asked[-2]["choices"] == []
            # vLLM adds usage to every chunk only when include_usage is on as well.
            lone = await _stream(s, url, {**CHAT, "stream_options": {"continuous_usage_stats": True}})
            assert all("usage" not in e for e in lone[:-1])

    run_async(main())


def test_sglang_stream_shape_and_usage_policy():
    async def main():
        async with _serve(dialect="sglang", reasoning_tokens=2, spec_tokens=3, spec_accept=1.0, **FAST) as (s, base):
            url = base + "/v1/chat/completions"
            plain = await _stream(s, url, CHAT)
            deltas = _deltas(plain)
            assert deltas[0] == {"role": "assistant", "content": ""}  # a role-only chunk first
            assert "reasoning_content" in deltas[1] and "reasoning" not in deltas[1]
            assert plain[-1] == "[DONE]" and all("usage" not in e for e in plain[:-1])
            # ignore_eos is honoured: exactly max_tokens, in steps of up to 4 tokens.
            asked = await _stream(s, url, {**CHAT, "stream_options": {"include_usage": True}})
            assert asked[-2]["choices"] == [] and asked[-2]["usage"]["completion_tokens"] == 8
            assert asked[-2]["usage"]["reasoning_tokens"] == 2
            every = await _stream(s, url, {**CHAT, "stream_options": {"continuous_usage_stats": True}})
            assert all("usage" in e for e in every[1:-1]) and every[-2]["usage"]["completion_tokens"] == 8

    run_async(main())


def test_sglang_can_send_usage_by_default():
    async def main():
        args = {"stream_response_default_include_usage": True}
        async with _serve(dialect="sglang", server_args=args, **FAST) as (s, base):
            events = await _stream(s, base + "/v1/chat/completions", CHAT)
            assert events[-2]["usage"]["completion_tokens"] == 8

    run_async(main())


def test_lightllm_always_ends_with_usage_and_streams_one_event_per_token():
    async def main():
        async with _serve(dialect="lightllm", reasoning_tokens=2, spec_tokens=3, spec_accept=1.0, **FAST) as (s, base):
            url = base + "/v1/chat/completions"
            for options in (None, {"include_usage": False}, {"include_usage": True, "continuous_usage_stats": True}):
                body = {**CHAT, "stream_options": options} if options is not None else CHAT
                events = await _stream(s, url, body)
                assert events[-1] == "[DONE]"
                assert events[-2]["choices"] == [] and events[-2]["usage"]["completion_tokens"] == 8
                assert events[-2]["usage"]["prompt_tokens_details"] == {"cached_tokens": 0}
                assert all("usage" not in e for e in events[:-2])  # never per chunk
                deltas = _deltas(events)
                assert deltas[0] == {"role": "assistant", "content": ""}
                assert [d.get("reasoning") for d in deltas[1:3]] == ["the ", "model "]
                # Every token its own event although the steps carry up to 4.
                assert len(deltas) == 1 + 8 and all(len(d) == 1 for d in deltas[1:])

    run_async(main())


def test_lightllm_native_generate_and_generate_stream():
    async def main():
        async with _serve(dialect="lightllm", **FAST) as (s, base):
            body = {"inputs": "hello world", "parameters": {"max_new_tokens": 5, "ignore_eos": True}}
            async with s.post(base + "/generate", json=body) as resp:
                out = await resp.json()
            assert out["generated_text"] == ["the model streams a token "]
            assert (out["count_output_tokens"], out["finish_reason"], out["prompt_tokens"]) == (5, "length", 2)
            async with s.post(base + "/generate_stream", json=body) as resp:
                assert resp.headers["Content-Type"].startswith("text/event-stream")
                raw = (await resp.read()).decode()
            lines = [line for line in raw.split("\n\n") if line]
            assert all(line.startswith("data:{") for line in lines) and "[DONE]" not in raw
            events = [json.loads(line[len("data:"):]) for line in lines]
            assert [e["token"]["count_output_tokens"] for e in events] == [1, 2, 3, 4, 5]
            assert [e["finished"] for e in events] == [False] * 4 + [True]
            assert events[-1]["finish_reason"] == "length" and events[0]["finish_reason"] is None
            assert set(events[0]) == {"token", "generated_text", "finished", "finish_reason", "details", "input_usage"}
            assert "".join(e["token"]["text"] for e in events) == out["generated_text"][0]

    run_async(main())


# --- metrics and server info ------------------------------------------------------------------------------


def test_sglang_metrics_and_server_info():
    async def main():
        args = {"served_model_name": "glm-4.7-flash", "tp_size": 4}
        async with _serve(dialect="sglang", spec_tokens=3, spec_accept=0.7, server_args=args, **FAST) as (s, base):
            info = json.loads((await _text(s, base + "/server_info"))[1])
            assert "avg_spec_accept_length" not in info["internal_states"][0]  # nothing decoded yet
            await _stream(s, base + "/v1/chat/completions", {**CHAT, "max_tokens": 40})
            info = json.loads((await _text(s, base + "/server_info"))[1])
            old = json.loads((await _text(s, base + "/get_server_info"))[1])
            assert old["served_model_name"] == info["served_model_name"] == "glm-4.7-flash"
            spec = (info["speculative_algorithm"], info["speculative_num_draft_tokens"])
            assert info["tp_size"] == 4 and spec == ("EAGLE", 4)
            accept = info["internal_states"][0]["avg_spec_accept_length"]
            assert 1.0 <= accept <= 4.0
            text = (await _text(s, base + "/metrics"))[1]
        labels = 'engine_type="unified",model_name="glm-4.7-flash",moe_ep_rank="0",pp_rank="0",tp_rank="0"'
        assert f"sglang:num_running_reqs{{{labels}}} 0.0" in text
        assert f"sglang:num_queue_reqs{{{labels}}} 0.0" in text
        assert f"sglang:spec_accept_length{{{labels}}} {accept!r}" in text and "sglang:spec_accept_rate{" in text
        stream = 'engine_type="unified",is_streaming="true",model_name="glm-4.7-flash"'
        assert f"sglang:generation_tokens_total{{{stream}}} 40.0" in text
        assert f"sglang:num_requests_total{{{stream}}} 1.0" in text and "sglang:prompt_tokens_total{" in text
        assert "# TYPE sglang:num_requests_total counter" in text

    run_async(main())


def test_sglang_serves_metrics_only_when_enabled():
    async def main():
        async with _serve(dialect="sglang", metrics=False, **FAST) as (s, base):
            assert (await _text(s, base + "/metrics"))[0] == 404

    run_async(main())


def test_lightllm_metrics_and_tokens_per_step_histogram():
    async def main():
        args = {"model_name": "default_model_name", "mtp_step": 2}
        async with _serve(dialect="lightllm", spec_tokens=2, spec_accept=1.0, server_args=args, **FAST) as (s, base):
            before = (await _text(s, base + "/metrics"))[1]
            await _stream(s, base + "/v1/chat/completions", {**CHAT, "max_tokens": 9})  # steps 3+3+3
            text = (await _text(s, base + "/metrics"))[1]
        label = '{model_name="default_model_name"}'
        assert "lightllm_request_mtp_avg_token_per_step_count" not in before  # no samples before a request ends
        for name, value in [("lightllm_request_count_total", "1.0"), ("lightllm_request_success_total", "1.0"),
                            ("lightllm_generation_tokens_total", "9.0"), ("lightllm_num_running_reqs", "0.0"),
                            ("lightllm_queue_size", "0.0")]:
            assert f"{name}{label} {value}" in text
        hist = "lightllm_request_mtp_avg_token_per_step"
        assert "lightllm_prompt_tokens_total{" in text and f"# TYPE {hist} histogram" in text
        buckets = [line for line in text.splitlines() if line.startswith(f"{hist}_bucket")]
        les = [line.split('le="')[1].split('"')[0] for line in buckets]
        assert les == [f"{1 + i / 10:.1f}" for i in range(20)] + ["+Inf"]
        assert buckets[-1].endswith(" 1.0") and buckets[-2].endswith(" 0.0")  # 3.0 tokens/step > 2.9
        assert f"lightllm_request_mtp_avg_token_per_step_sum{label} 3.0" in text
        assert f"lightllm_request_mtp_avg_token_per_step_count{label} 1.0" in text

    run_async(main())


def test_vllm_metrics_keep_vllm_names():
    async def main():
        async with _serve(spec_tokens=2, spec_accept=1.0, **FAST) as (s, base):
            await _stream(s, base + "/v1/chat/completions", {**CHAT, "max_tokens": 9})
            text = (await _text(s, base + "/metrics"))[1]
        assert 'vllm:spec_decode_num_drafts_total{model_name="glm-4.7-flash-sim"} 3' in text
        assert 'vllm:spec_decode_num_accepted_tokens_total{model_name="glm-4.7-flash-sim"} 6' in text

    run_async(main())


# --- the stand-ins' flags ---------------------------------------------------------------------------------


@pytest.mark.parametrize("table", ["sglang/server_args.json", "lightllm/server/api_cli.json"])
def test_flag_tables_rebuild_the_parser_they_were_dumped_from(table):
    data = load_table(standins_dir() / table)
    again = dump_parser(parser_from_table(data), data["source"], data["prog"])
    assert again["args"] == data["args"]


def test_sglang_flags_are_the_real_ones():
    parser = sglang_parser()
    args = parser.parse_args(["--model", "M", "--tensor-parallel-size", "2", "--data-parallel-size", "2"])
    assert (args.model_path, args.tp_size, args.dp_size, args.port, args.host) == ("M", 2, 2, 30000, "127.0.0.1")
    for bad in (["--model-path", "M", "--tp", "2"],  # a prefix, not a flag
                ["--model-path", "M", "--tp_size", "2"],
                ["--model-path", "M", "--reasoning-parser", "glm47"],  # no such reasoning parser
                ["--tp-size", "2"]):  # --model-path is required
        with pytest.raises(SystemExit) as exc:
            parser.parse_args(bad)
        assert exc.value.code == 2


def test_sglang_spec_settings_follow_sglang_resolution():
    settings, host, port = sglang_settings(_sglang_cmd(1234)[3:], environ={})
    assert (host, port, settings.dialect, settings.model) == ("127.0.0.1", 1234, "sglang", "glm-4.7-flash")
    assert (settings.spec_tokens, settings.spec_accept, settings.metrics) == (3, 0.7, True)
    assert (settings.ttft_ms, settings.itl_ms, settings.startup_s) == (20, 2, 1.0)
    auto, _, _ = sglang_settings(["--model-path", "M", "--speculative-algorithm", "nextn"],
                                 environ={"GLMBENCH_STANDIN_SPEC_ACCEPT": "0.5"})
    assert (auto.spec_tokens, auto.spec_accept, auto.server_args["speculative_num_draft_tokens"]) == (3, 0.5, 4)
    assert auto.server_args["speculative_algorithm"] == "EAGLE" and auto.model == "M" and not auto.metrics
    for bad in (["--model-path", "M", "--speculative-algorithm", "EAGLE", "--speculative-eagle-topk", "1"],
                ["--model-path", "M", "--speculative-algorithm", "MEDUSA"]):
        with pytest.raises(StandinError):
            sglang_settings(bad, environ={})


def test_lightllm_flags_and_mtp_checks():
    settings, _, port = lightllm_settings(_lightllm_cmd(4321)[3:], environ={"GLMBENCH_STANDIN_TTFT_MS": "7"})
    assert (port, settings.dialect, settings.model) == (4321, "lightllm", "M")
    assert (settings.spec_tokens, settings.ttft_ms, settings.max_running) == (4, 7, 256)
    assert settings.server_args["llm_decode_att_backend"] == ["flashinfer"]
    named, _, _ = lightllm_settings(["--model_dir", "/models/GLM-4.7-Flash/"], environ={})
    assert (named.model, named.spec_tokens) == ("GLM-4.7-Flash", 0)
    assert named.server_args["model_name"] == "default_model_name"
    for bad in (["--model_dir", "M", "--mtp_step", "2"], ["--model_dir", "M", "--mtp_mode", "eagle_with_att"],
                ["--model_dir", "M", "--chunked_prefill_size", "32768"]):
        with pytest.raises(StandinError):
            lightllm_settings(bad, environ={})
    for bad in (["--model_dir", "M", "--tp-size", "1"], ["--model_dir", "M", "--mtp_mode", "mtp"],
                ["--model_dir", "M", "--llm_decode_att_backend", "fa4"]):
        with pytest.raises(SystemExit) as exc:
            lightllm_settings(bad, environ={})
        assert exc.value.code == 2


# --- the stand-ins as processes ---------------------------------------------------------------------------


def _standin_env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(standins_dir()), os.environ.get("PYTHONPATH")]))
    return {"PYTHONPATH": path, "GLMBENCH_STANDIN_STARTUP_S": "0.5", **extra}


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _wait_for_status(url: str, timeout_s: float = 10) -> int:
    """The first HTTP status ``url`` answers with (connection refused is waited out)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            return _get(url)[0]
        except (urllib.error.URLError, OSError):
            time.sleep(0.02)
    raise AssertionError(f"{url} never answered")


@pytest.mark.e2e
def test_sglang_standin_starts_from_the_real_command(tmp_path):
    port = free_port()
    server = ServerProcess(_sglang_cmd(port), tmp_path / "sglang.log", env=_standin_env())
    try:
        base = f"http://127.0.0.1:{port}"
        assert _wait_for_status(base + "/health") == 503  # listening, still loading
        server.wait_ready(base + "/health", 10, poll_s=0.05)
        models = json.loads(_get(base + "/v1/models")[1])
        assert models["data"][0]["id"] == "glm-4.7-flash" and models["data"][0]["owned_by"] == "sglang"
        body = json.dumps({**CHAT, "stream": False}).encode()
        request = urllib.request.Request(base + "/v1/chat/completions", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as resp:
            answer = json.loads(resp.read())
        assert answer["usage"]["completion_tokens"] == 8 and "reasoning_content" in answer["choices"][0]["message"]
        info = json.loads(_get(base + "/server_info")[1])
        assert info["version"] == "0.0.0+glmbench.standin" and info["tp_size"] == 4
        assert "avg_spec_accept_length" in info["internal_states"][0]
        assert b"sglang:spec_accept_length{" in _get(base + "/metrics")[1]
    finally:
        server.stop()
    assert server.proc.returncode == 0


@pytest.mark.e2e
def test_lightllm_standin_starts_from_the_real_command(tmp_path):
    port = free_port()
    server = ServerProcess(_lightllm_cmd(port), tmp_path / "lightllm.log", env=_standin_env())
    try:
        base = f"http://127.0.0.1:{port}"
        assert _wait_for_status(base + "/healthz") == 200  # refused until loaded, never 503
        status, body = _get(base + "/health")
        assert (status, json.loads(body)) == (200, {"message": "Ok"})
        assert json.loads(_get(base + "/v1/models")[1])["data"][0]["id"] == "M"
        assert b'lightllm_num_running_reqs{model_name="default_model_name"}' in _get(base + "/metrics")[1]
    finally:
        server.stop()


@pytest.mark.e2e
@pytest.mark.parametrize(("command", "bad"), [(_sglang_cmd, "--tp_size"), (_lightllm_cmd, "--tp-size")])
def test_standins_refuse_a_misspelt_flag_with_exit_code_2(command, bad):
    cmd = command(free_port())
    good = "--tp-size" if bad == "--tp_size" else "--tp"
    cmd[cmd.index(good)] = bad
    res = subprocess.run(cmd, env={**os.environ, **_standin_env()}, capture_output=True, text=True, timeout=30)
    assert res.returncode == 2, res.stderr
    assert bad in res.stderr


@pytest.mark.e2e
def test_standin_dies_with_exit_code_3_when_told(tmp_path):
    port = free_port()
    env = _standin_env(GLMBENCH_STANDIN_STARTUP_S="0", GLMBENCH_STANDIN_EXIT_AFTER_S="1.5")
    server = ServerProcess(_sglang_cmd(port), tmp_path / "sglang.log", env=env)
    try:
        server.wait_ready(f"http://127.0.0.1:{port}/health", 10, poll_s=0.05)
        assert server.proc.wait(timeout=10) == 3
        assert "simulated crash" in Path(tmp_path / "sglang.log").read_text()
    finally:
        server.stop()


@pytest.mark.e2e
def test_glmbench_sim_takes_dialect_and_startup_flags(tmp_path):
    port = free_port()
    cmd = [sys.executable, "-m", "glmbench", "sim", "--port", str(port), "--dialect", "sglang", "--startup-s", "0.3",
           "--settings", '{"ttft_ms": 1, "itl_ms": 1}']
    server = ServerProcess(cmd, tmp_path / "sim.log")
    try:
        base = f"http://127.0.0.1:{port}"
        assert _wait_for_status(base + "/health_generate") == 503
        server.wait_ready(base + "/health_generate", 10, poll_s=0.05)
        assert json.loads(_get(base + "/server_info")[1])["internal_states"]
    finally:
        server.stop()
