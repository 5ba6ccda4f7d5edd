"""Backend configs and command lines, checked against the seeds' own commands (no process started).

The expected command lines are the model card's (vLLM, SGLang) and the LightLLM
deployment guide's, flag for flag; glmbench only binds 127.0.0.1, picks the port,
and adds SGLang's --enable-metrics.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from glmbench.backends.config import BackendConfig, load_backend_config
from glmbench.backends.launch import plan_launch
from glmbench.backends.registry import backends, get_backend
from glmbench.errors import GlmbenchError
from glmbench.metrics.server import parse_prometheus

CONFIGS = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


def command(name: str, *sets: str) -> tuple[list[str], dict[str, str]]:
    cfg = load_backend_config(name, ["port=8000", *sets])
    plan = plan_launch(get_backend(cfg.backend), cfg)
    return plan.command, plan.env


def after_program(cmd: list[str], program_len: int) -> list[str]:
    return cmd[program_len:]


def test_every_backend_has_a_default_config_and_every_config_builds(tmp_path):
    assert set(backends()) == {"vllm", "sglang", "lightllm", "transformers", "sim"}
    for backend in backends().values():
        assert backend.default_config in CONFIGS
    for name in CONFIGS:
        cfg = load_backend_config(name, ["port=8000", f"model={tmp_path}"] if "tiny" in name else ["port=8000"])
        plan = plan_launch(get_backend(cfg.backend), cfg)
        cmd = plan.command
        # Every server glmbench starts binds to the loopback address only.
        host = cmd[cmd.index("--host") + 1]
        assert host == "127.0.0.1", (name, cmd)
        assert plan.base_url == "http://127.0.0.1:8000/v1"


def test_vllm_mtp_is_the_model_cards_command():
    cmd, env = command("vllm-mtp")
    assert cmd == [
        "vllm", "serve", "zai-org/GLM-4.7-Flash",
        "--host", "127.0.0.1", "--port", "8000",
        "--served-model-name", "glm-4.7-flash",
        "--tensor-parallel-size", "4",
        "--speculative-config", '{"method":"mtp","num_speculative_tokens":1}',
        "--tool-call-parser", "glm47", "--reasoning-parser", "glm45", "--enable-auto-tool-choice",
    ]
    assert env == {}
    cmd3, _ = command("vllm-mtp3")
    assert json.loads(cmd3[cmd3.index("--speculative-config") + 1]) == {"method": "mtp", "num_speculative_tokens": 3}
    base, _ = command("vllm")
    assert "--speculative-config" not in base


def test_vllm_cpu_config_uses_the_api_server_module_from_its_venv(tmp_path):
    cmd, env = command("vllm-cpu-tiny", f"model={tmp_path}")
    assert cmd[0].endswith("vllm-cpu-venv/bin/python")
    assert cmd[1:5] == ["-m", "vllm.entrypoints.openai.api_server", "--model", str(tmp_path)]
    assert "--enforce-eager" in cmd
    assert env["VLLM_HOST_IP"] == "127.0.0.1" and env["VLLM_CPU_KVCACHE_SPACE"] == "1"


def test_sglang_eagle_is_the_model_cards_command():
    cmd, _ = command("sglang-eagle")
    assert cmd[1:3] == ["-m", "sglang.launch_server"]
    assert cmd[3:] == [
        "--model-path", "zai-org/GLM-4.7-Flash",
        "--host", "127.0.0.1", "--port", "8000",
        "--served-model-name", "glm-4.7-flash",
        "--tp-size", "4",
        "--tool-call-parser", "glm47", "--reasoning-parser", "glm45",
        "--speculative-algorithm", "EAGLE", "--speculative-num-steps", "3",
        "--speculative-eagle-topk", "1", "--speculative-num-draft-tokens", "4",
        "--mem-fraction-static", "0.8",
        "--enable-metrics",
    ]
    base, _ = command("sglang")
    assert not any(flag.startswith("--speculative") for flag in base)


def test_lightllm_mtp_is_the_deployment_guides_command(tmp_path):
    model = str(tmp_path)
    cmd, env = command("lightllm-mtp-eagle", f"model={model}")
    assert cmd[1:3] == ["-m", "lightllm.server.api_server"]
    assert cmd[3:] == [
        "--model_dir", model,
        "--tp", "1",
        "--max_req_total_len", "202752",
        "--chunked_prefill_size", "8192",
        "--llm_prefill_att_backend", "fa3",
        "--llm_decode_att_backend", "flashinfer",
        "--graph_max_batch_size", "512",
        "--tool_call_parser", "glm47", "--reasoning_parser", "glm45",
        "--mtp_step", "4", "--mtp_mode", "eagle_with_att", "--mtp_draft_model_dir", model,
        "--host", "127.0.0.1", "--port", "8000",
    ]
    assert env == {"LIGHTLLM_TRITON_AUTOTUNE_LEVEL": "1", "LOADWORKER": "18"}
    vanilla, _ = command("lightllm-mtp-vanilla", f"model={model}")
    assert vanilla[vanilla.index("--mtp_mode") + 1] == "vanilla_with_att"


def test_transformers_serve_loads_the_model_named_on_its_command_line():
    cmd, _ = command("transformers")
    assert cmd[:3] == ["transformers", "serve", "zai-org/GLM-4.7-Flash"]
    backend = get_backend("transformers")
    payload = {"max_tokens": 17, "ignore_eos": True, "stream": True}
    backend.adapt_request(payload)
    assert "ignore_eos" not in payload and json.loads(payload["generation_config"]) == {"min_new_tokens": 17}


def test_set_overrides_nested_fields_and_model_wins(tmp_path):
    cfg = load_backend_config("sglang-eagle", ["tp=1", "speculative.num_steps=5", "speculative.num_draft_tokens=6",
                                               "launch.venv=/opt/sglang", "env.FOO=bar"], model=str(tmp_path))
    assert cfg.tp == 1 and cfg.speculative["num_steps"] == 5 and cfg.model == str(tmp_path)
    assert cfg.env == {"FOO": "bar"}
    cmd = plan_launch(get_backend("sglang"), cfg.model_copy(update={"port": 8000})).command
    assert cmd[0] == "/opt/sglang/bin/python"
    assert "--tp-size" not in cmd  # tp 1 is the default: the flag is left out


@pytest.mark.parametrize(
    ("name", "sets", "message"),
    [
        ("sglang-eagle", ["speculative.eagle_topk=null"], "set num_steps, eagle_topk and num_draft_tokens together"),
        ("sglang-eagle", ["speculative.num_draft_tokens=9"], r"num_draft_tokens = num_steps \+ 1"),
        ("lightllm-mtp-eagle", ["speculative.mode=eagle_no_att"], "speculative: mode"),
        ("vllm-mtp", ["speculative.num_speculative_tokens=0"], "num_speculative_tokens"),
        ("transformers", ["speculative.method=mtp"], "no speculative decoding"),
        ("vllm", ["tp=0"], "--set tp=0: Input should be greater than or equal to 1"),
        ("vllm", ["launch.kind=ssh"], "launch.kind"),
        ("vllm", ["nonsense=1"], "--set nonsense=1: a backend config has no field 'nonsense'"),
    ],
)
def test_bad_config_values_are_one_line_errors(name, sets, message):
    with pytest.raises(GlmbenchError, match=message) as info:
        cfg = load_backend_config(name, sets)
        plan_launch(get_backend(cfg.backend), cfg)
    assert "\n" not in info.value.message


def test_unknown_names_and_files():
    with pytest.raises(GlmbenchError, match="unknown backend 'tgi'"):
        get_backend("tgi")
    with pytest.raises(GlmbenchError, match="no backend config named 'vllm-mtp9'"):
        load_backend_config("vllm-mtp9")
    with pytest.raises(GlmbenchError, match="bad --set 'tp'"):
        load_backend_config("vllm", ["tp"])


def test_a_missing_local_model_folder_names_the_next_step(tmp_path):
    with pytest.raises(GlmbenchError, match="model folder not found: ./models/tiny-glm-missing") as info:
        command("vllm-cpu-tiny", "model=./models/tiny-glm-missing")
    assert "glmbench tiny-model" in info.value.hint


def test_a_taken_port_is_refused_before_starting():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        cfg = load_backend_config("sim", [f"port={port}"])
        with pytest.raises(GlmbenchError, match=f"port {port} is taken"):
            plan_launch(get_backend("sim"), cfg)


def test_container_launch_builds_the_runtime_command(tmp_path):
    cfg = load_backend_config("lightllm-mtp-eagle", ["port=8000", "launch.kind=container",
                                                     "launch.image=ghcr.io/modeltc/lightllm:main"], model=str(tmp_path))
    plan = plan_launch(get_backend("lightllm"), cfg)
    cmd = plan.command
    assert cmd[:9] == ["docker", "run", "--rm", "--name", "glmbench-lightllm-8000", "--network", "host", "--ipc", "host"]
    assert ["--gpus", "all"] == cmd[9:11]
    assert f"{tmp_path}:{tmp_path}:ro" in cmd
    assert "LIGHTLLM_TRITON_AUTOTUNE_LEVEL=1" in cmd and "LOADWORKER=18" in cmd
    i = cmd.index("ghcr.io/modeltc/lightllm:main")
    assert cmd[i + 1:i + 4] == ["python3", "-m", "lightllm.server.api_server"]
    assert plan.env == {} and plan.cleanup == ["docker", "rm", "-f", "glmbench-lightllm-8000"]
    with pytest.raises(GlmbenchError, match="needs launch.image"):
        plan_launch(get_backend("sglang"), load_backend_config("sglang", ["launch.kind=container"]))


def test_secrets_in_the_environment_are_hidden_when_shown():
    cfg = BackendConfig(backend="sim", env={"HF_TOKEN": "hf_secret", "OPENAI_API_KEY": "sk-x", "LOADWORKER": "18"},
                        port=8000)
    plan = plan_launch(get_backend("sim"), cfg)
    shown = plan.describe()
    assert "hf_secret" not in shown and "sk-x" not in shown and "LOADWORKER=18" in shown


# -- acceptance from each backend's own figures ---------------------------------

def test_vllm_acceptance_from_counter_deltas():
    before = {"metrics": parse_prometheus("vllm:spec_decode_num_drafts_total 10\n"
                                          "vllm:spec_decode_num_draft_tokens_total 30\n"
                                          "vllm:spec_decode_num_accepted_tokens_total 12\n")}
    after = {"metrics": parse_prometheus("vllm:spec_decode_num_drafts_total 110\n"
                                         "vllm:spec_decode_num_draft_tokens_total 330\n"
                                         "vllm:spec_decode_num_accepted_tokens_total 162\n")}
    acc = get_backend("vllm").acceptance(before, after)
    assert acc["spec_accept_length"] == pytest.approx(2.5) and acc["spec_accept_rate"] == pytest.approx(0.5)
    assert get_backend("vllm").acceptance(after, after) is None


def test_sglang_acceptance_from_server_info_then_the_gauge():
    backend = get_backend("sglang")
    info = {"server_info": [{"avg_spec_accept_length": 3.2}, {"avg_spec_accept_length": 2.8}]}
    assert backend.acceptance({}, info)["spec_accept_length"] == pytest.approx(3.0)
    gauge = {"metrics": parse_prometheus('sglang:spec_accept_length{model_name="m",tp_rank="0"} 2.6\n'
                                         'sglang:spec_accept_rate{model_name="m",tp_rank="0"} 0.53\n'),
             "server_info": None}
    acc = backend.acceptance({}, gauge)
    assert acc["spec_accept_length"] == pytest.approx(2.6) and acc["spec_accept_rate"] == pytest.approx(0.53)
    assert "gauge" in acc["spec_source"]
    assert backend.acceptance({}, {"metrics": {}, "server_info": None}) is None


def test_lightllm_acceptance_is_the_histograms_mean_over_the_run():
    text = ('lightllm_request_mtp_avg_token_per_step_bucket{{le="+Inf",model_name="m"}} {n}\n'
            'lightllm_request_mtp_avg_token_per_step_sum{{model_name="m"}} {s}\n'
            'lightllm_request_mtp_avg_token_per_step_count{{model_name="m"}} {n}\n')
    before = {"metrics": parse_prometheus(text.format(n=10, s=25.0))}
    after = {"metrics": parse_prometheus(text.format(n=30, s=85.0))}
    acc = get_backend("lightllm").acceptance(before, after)
    assert acc["spec_accept_length"] == pytest.approx(3.0)  # (85 - 25) / (30 - 10)
    assert get_backend("lightllm").acceptance(after, after) is None


@pytest.mark.parametrize("name", [n for n in CONFIGS if n.startswith(("sglang", "lightllm"))])
def test_sglang_and_lightllm_configs_parse_with_the_real_launchers_flags(name, tmp_path):
    # The stand-ins parse with tables dumped from SGLang's and LightLLM's own
    # argument parsers (no prefix matching, real choices, real post-parse checks).
    from glmbench.sim.standin import lightllm_settings, sglang_settings

    cfg = load_backend_config(name, ["port=8000"], model=str(tmp_path))
    plan = plan_launch(get_backend(cfg.backend), cfg)
    argv = plan.command[3:]
    settings, host, port = (sglang_settings if cfg.backend == "sglang" else lightllm_settings)(argv, environ={})
    assert (host, port) == ("127.0.0.1", 8000)
    if cfg.speculative:
        assert settings.spec_tokens > 0
    else:
        assert settings.spec_tokens == 0
