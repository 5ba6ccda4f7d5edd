"""``glmbench tiny-model``: the folder loads and generates in transformers like the real GLM-4.7-Flash."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytest.importorskip("torch", reason="tiny-model needs torch: pip install 'glmbench[model]'")
pytest.importorskip("transformers", reason="tiny-model needs transformers: pip install 'glmbench[model]'")
pytest.importorskip("tokenizers", reason="tiny-model needs tokenizers: pip install 'glmbench[model]'")
pytest.importorskip("safetensors", reason="tiny-model needs safetensors: pip install 'glmbench[model]'")

from glmbench.errors import GlmbenchError  # noqa: E402
from glmbench.tiny.model import MTP_FILE, build_tiny_model, describe_tiny_model  # noqa: E402
from glmbench.tiny.tokenizer import ADDED_TOKENS, EOS_TOKENS  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def tokenizer(tiny_model_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_config_has_the_real_architecture_and_what_vllm_cpu_needs(tiny_model_dir):
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert config["model_type"] == "glm4_moe_lite"
    assert config["architectures"] == ["Glm4MoeLiteForCausalLM"]
    assert config["dtype"] == "bfloat16"
    assert config["num_hidden_layers"] == 2
    assert config["first_k_dense_replace"] == 1
    assert config["num_nextn_predict_layers"] == 1
    assert config["kv_lora_rank"] + config["qk_rope_head_dim"] == 576
    assert config["n_shared_experts"] == 1 and config["num_experts_per_tok"] == 2
    assert config["max_position_embeddings"] >= 4096
    generation = json.loads((tiny_model_dir / "generation_config.json").read_text())
    assert generation["eos_token_id"] == config["eos_token_id"]


def test_tokenizer_carries_glm_tokens_and_the_chat_template(tiny_model_dir, tokenizer):
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert (tiny_model_dir / "chat_template.jinja").is_file()
    assert len(tokenizer) == config["vocab_size"]
    for token in ADDED_TOKENS:
        assert len(tokenizer.encode(token, add_special_tokens=False)) == 1, token
    assert tokenizer.convert_tokens_to_ids(list(EOS_TOKENS)) == config["eos_token_id"]
    assert tokenizer.pad_token_id == config["pad_token_id"]

    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text.startswith("[gMASK]<sop>")
    assert "<|user|>" in text and "<|assistant|>" in text
    # As in the real tokenizer, <think> and <tool_call> are added but not special:
    # they survive skip_special_tokens, so reasoning and tool-call parsers see them.
    ids = tokenizer.encode("<think>a</think><tool_call>f</tool_call><|user|>", add_special_tokens=False)
    assert tokenizer.decode(ids, skip_special_tokens=True) == "<think>a</think><tool_call>f</tool_call>"


def test_model_loads_and_generates(tiny_model_dir, tokenizer):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert model.dtype == torch.bfloat16
    assert type(model.model.layers[0].mlp).__name__ == "Glm4MoeLiteMLP"
    assert type(model.model.layers[1].mlp).__name__ == "Glm4MoeLiteMoE"
    text = tokenizer.apply_chat_template([{"role": "user", "content": "Hello"}], tokenize=False,
                                         add_generation_prompt=True)
    inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    out = model.generate(**inputs, max_new_tokens=4, do_sample=False)
    assert 1 <= out.shape[1] - inputs["input_ids"].shape[1] <= 4


def test_mtp_layer_is_stored_apart_under_the_names_vllm_loads(tiny_model_dir):
    from safetensors import safe_open

    with safe_open(str(tiny_model_dir / MTP_FILE), framework="pt") as f:
        names = set(f.keys())
    for part in ("enorm", "hnorm", "eh_proj", "shared_head.head", "embed_tokens",
                 "self_attn.kv_a_proj_with_mqa", "mlp.experts.0.gate_proj", "mlp.shared_experts.up_proj"):
        assert any(name.startswith(f"model.layers.2.{part}") for name in names), part
    info = describe_tiny_model(tiny_model_dir)
    assert info.layers == 2 and info.vocab_size == 4096 and info.params > 0 and info.mtp_params > 0


def test_same_seed_gives_identical_weights(tiny_model_dir, tmp_path):
    again = build_tiny_model(tmp_path / "again", seed=0)
    assert _sha256(again / "model.safetensors") == _sha256(tiny_model_dir / "model.safetensors")
    assert _sha256(again / MTP_FILE) == _sha256(tiny_model_dir / MTP_FILE)
    assert _sha256(again / "tokenizer.json") == _sha256(tiny_model_dir / "tokenizer.json")
    other = build_tiny_model(tmp_path / "other", seed=1)
    assert _sha256(other / "model.safetensors") != _sha256(tiny_model_dir / "model.safetensors")


def test_a_non_empty_folder_is_refused_without_force(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(GlmbenchError, match="not empty"):
        build_tiny_model(tmp_path, seed=0)
    res = run_cli("tiny-model", str(tmp_path))
    assert res.returncode == 2
    assert "--force" in res.stderr and "Traceback" not in res.stderr


def test_force_replaces_the_model_and_keeps_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    (tmp_path / "model-00001-of-00002.safetensors").write_bytes(b"stale")
    build_tiny_model(tmp_path, seed=0, force=True)
    assert (tmp_path / "notes.txt").read_text() == "keep me"
    assert not (tmp_path / "model-00001-of-00002.safetensors").exists()
    assert (tmp_path / "model.safetensors").is_file()


def test_a_rendered_tool_call_survives_the_tokenizer_and_parses_back(tokenizer):
    # What a server does with the model's output: ids -> text without special
    # tokens -> the glm47/glm45 parsers. The call must come back typed by the schema.
    import orjson

    from glmbench.glm import parse_tool_calls, render_call

    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"zip": {"type": "string"}, "days": {"type": "integer"}}}}}]
    text = "checking the forecast</think>" + render_call("get_weather", {"zip": "75001", "days": 3})
    ids = tokenizer.encode(text, add_special_tokens=False)
    decoded = tokenizer.decode(ids, skip_special_tokens=True)
    assert decoded == text
    parsed = parse_tool_calls(decoded, tools, thinking=True)
    assert parsed.reasoning == "checking the forecast" and parsed.content is None
    [call] = parsed.tool_calls
    assert call["function"]["name"] == "get_weather"
    assert orjson.loads(call["function"]["arguments"]) == {"zip": "75001", "days": 3}


def test_tokenizer_carries_a_response_template_for_transformers_serve(tokenizer):
    # transformers serve parses reasoning and tool calls only through this template.
    prefix = tokenizer.apply_chat_template([{"role": "user", "content": "weather?"}], tokenize=False,
                                           add_generation_prompt=True)
    assert prefix.endswith("<|assistant|><think>")
    text = ("need weather</think>Checking.<tool_call>get_weather<arg_key>city</arg_key><arg_value>Paris"
            "</arg_value></tool_call><|user|>")
    parsed = tokenizer.parse_response(text, prefix=prefix)
    assert parsed["thinking"] == "need weather" and parsed["content"] == "Checking."
    assert parsed["tool_calls"] == [{"type": "function", "function": {"name": "get_weather",
                                                                      "arguments": {"city": "Paris"}}}]
