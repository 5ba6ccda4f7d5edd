"""A tiny random-weight GLM-4.7-Flash: the real architecture at toy size, built offline in seconds.

The folder it writes is a Hugging Face model folder that transformers
(``AutoModelForCausalLM``, ``AutoTokenizer``), ``transformers serve`` and vLLM's
CPU backend load like the real ``zai-org/GLM-4.7-Flash``: ``model_type:
glm4_moe_lite``, MLA attention, layer 0 dense and layer 1 a routed MoE with a
shared expert, GLM's tokens and chat template, and one MTP layer for
speculative decoding. Its outputs are noise; it exists so that launchers,
parsers and the load path can be tested against real servers without a GPU.

Shapes that matter to servers: ``kv_lora_rank + qk_rope_head_dim`` is 576 (512
+ 64), the only latent size vLLM's CPU MLA decode kernel is compiled for (other
sizes pass ``/health`` and crash on the first request), and
``first_k_dense_replace`` is written into ``config.json`` explicitly because
vLLM reads it while transformers only needs ``mlp_layer_types``.

The MTP layer (``model.layers.2.*``, as the real checkpoint's ``model.layers.47.*``)
is stored in its own ``mtp.safetensors`` with no index file: vLLM reads every
``*.safetensors`` in the folder and takes the layer for ``--speculative-config
'{"method": "mtp"}'``, while transformers reads only ``model.safetensors`` and so
loads without an unexpected-weights warning.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glmbench.errors import GlmbenchError
from glmbench.tiny.tokenizer import (
    ADDED_TOKENS,
    EOS_TOKENS,
    PAD_TOKEN,
    save_tiny_tokenizer,
    train_tiny_tokenizer,
)

__all__ = ["MTP_FILE", "TINY_SHAPE", "TinyModelSummary", "build_tiny_model", "chat_template", "describe_tiny_model"]

_INSTALL_HINT = "pip install 'glmbench[model]'"
MTP_FILE = "mtp.safetensors"

# Key names as in the real config.json; sizes shrunk, except the MLA latent (512 + 64 = 576).
TINY_SHAPE: dict[str, Any] = {
    "hidden_size": 128,
    "intermediate_size": 256,
    "moe_intermediate_size": 64,
    "num_hidden_layers": 2,
    "first_k_dense_replace": 1,
    "num_nextn_predict_layers": 1,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "q_lora_rank": 64,
    "kv_lora_rank": 512,
    "qk_nope_head_dim": 64,
    "qk_rope_head_dim": 64,
    "v_head_dim": 64,
    "n_routed_experts": 8,
    "n_shared_experts": 1,
    "num_experts_per_tok": 2,
    "n_group": 1,
    "topk_group": 1,
    "topk_method": "noaux_tc",
    "norm_topk_prob": True,
    "routed_scaling_factor": 1.8,
    "hidden_act": "silu",
    "rms_norm_eps": 1e-5,
    "max_position_embeddings": 8192,
    "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0},
    "rope_interleave": True,
    "attention_bias": False,
    "tie_word_embeddings": False,
}
# Keys that servers read but transformers' Glm4MoeLiteConfig does not declare; written
# into config.json whatever the installed transformers keeps on save.
_EXPLICIT_KEYS = ("first_k_dense_replace", "num_nextn_predict_layers", "topk_method")
# The real generation_config.json samples at temperature 1.0, top-p 0.95.
_GENERATION = {"do_sample": True, "temperature": 1.0, "top_p": 0.95}
# Names a build writes; --force replaces these and any other weights, nothing else.
_OUTPUTS = ("config.json", "generation_config.json", "model.safetensors", MTP_FILE, "tokenizer.json",
            "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json")

# Stand-in until glmbench/glm/chat_template.jinja exists: the GLM-4.7 turn markers only.
_PLACEHOLDER_TEMPLATE = (
    "[gMASK]<sop>{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>"
    "{% if enable_thinking is defined and not enable_thinking %}</think>{% else %}<think>{% endif %}"
    "{% endif %}"
)


@dataclass(frozen=True)
class TinyModelSummary:
    """What a built folder holds: parameter counts (MTP layer apart), layers and vocabulary."""

    path: Path
    params: int
    mtp_params: int
    layers: int
    vocab_size: int
    tokenizer_size: int


def _require_packages() -> None:
    missing = []
    for name in ("torch", "transformers", "tokenizers", "safetensors"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise GlmbenchError(f"building a tiny model needs {', '.join(missing)}", _INSTALL_HINT)


def chat_template() -> str:
    """GLM-4.7's chat template as glmbench ships it, or a minimal stand-in while it is missing."""
    from importlib import resources

    try:
        return resources.files("glmbench.glm").joinpath("chat_template.jinja").read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError):
        return _PLACEHOLDER_TEMPLATE


def _check_target(out_dir: Path, force: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise GlmbenchError(f"{out_dir} is a file, not a folder", "pick a folder path")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise GlmbenchError(f"{out_dir} is not empty", "pass --force to replace the model there, or pick a new folder")


def _padded(n: int, multiple: int = 64) -> int:
    return -(-n // multiple) * multiple


def _mtp_tensors(saved: Path, shape: dict[str, Any], vocab_size: int) -> dict[str, Any]:
    """Random weights for one MTP layer at index ``num_hidden_layers``, named as vLLM's loader expects.

    Its decoder block has the shapes of the last (MoE) layer; around it sit the
    MTP parts: ``enorm``, ``hnorm``, ``eh_proj``, ``shared_head`` and a copy of
    the embedding (the real checkpoint stores one too).
    """
    import torch
    from safetensors import safe_open

    last, mtp = shape["num_hidden_layers"] - 1, shape["num_hidden_layers"]
    hidden = shape["hidden_size"]

    def normal(*dims: int) -> torch.Tensor:
        return torch.empty(*dims, dtype=torch.float32).normal_(0.0, 0.02).to(torch.bfloat16)

    # Read the saved file, not the live model: transformers 5 fuses experts in memory
    # and writes them back per expert (experts.N.gate_proj), the names servers load.
    with safe_open(str(saved), framework="pt") as f:
        state = {name: f.get_tensor(name) for name in f.keys()}
    out: dict[str, torch.Tensor] = {}
    prefix = f"model.layers.{last}."
    for name, tensor in sorted(state.items()):
        if not name.startswith(prefix):
            continue
        new = f"model.layers.{mtp}." + name[len(prefix):]
        if name.endswith("norm.weight"):
            out[new] = torch.ones_like(tensor)
        elif name.endswith("e_score_correction_bias"):
            out[new] = torch.zeros_like(tensor)
        else:
            out[new] = normal(*tensor.shape)
    ones = torch.ones(hidden, dtype=torch.bfloat16)
    out[f"model.layers.{mtp}.enorm.weight"] = ones.clone()
    out[f"model.layers.{mtp}.hnorm.weight"] = ones.clone()
    out[f"model.layers.{mtp}.eh_proj.weight"] = normal(hidden, 2 * hidden)
    out[f"model.layers.{mtp}.shared_head.norm.weight"] = ones.clone()
    out[f"model.layers.{mtp}.shared_head.head.weight"] = normal(vocab_size, hidden)
    out[f"model.layers.{mtp}.embed_tokens.weight"] = state["model.embed_tokens.weight"].clone()
    return out


def _write_model(work: Path, seed: int, tokenizer: Any) -> None:
    import torch
    from safetensors.torch import save_file
    from transformers import GenerationConfig, Glm4MoeLiteConfig, Glm4MoeLiteForCausalLM

    eos_ids = [tokenizer.convert_tokens_to_ids(t) for t in EOS_TOKENS]
    pad_id = tokenizer.convert_tokens_to_ids(PAD_TOKEN)
    # The real model pads 154856 tokens to 154880 rows; here the tokenizer is trained to fill
    # the rows exactly, since a random model would otherwise emit ids no tokenizer can decode.
    vocab_size = _padded(len(tokenizer))
    config = Glm4MoeLiteConfig(**TINY_SHAPE, vocab_size=vocab_size, pad_token_id=pad_id,
                               eos_token_id=eos_ids, bos_token_id=None,
                               architectures=["Glm4MoeLiteForCausalLM"])
    # fork_rng: seeding must not leak into the caller's random state.
    with torch.random.fork_rng(devices=[]), _quiet_transformers():
        torch.manual_seed(seed)
        model = Glm4MoeLiteForCausalLM._from_config(config, dtype=torch.bfloat16)
        model.generation_config = GenerationConfig(eos_token_id=eos_ids, pad_token_id=pad_id, **_GENERATION)
        model.save_pretrained(str(work))
        mtp = _mtp_tensors(work / "model.safetensors", TINY_SHAPE, vocab_size)
    save_file({k: v.contiguous() for k, v in mtp.items()}, str(work / MTP_FILE), metadata={"format": "pt"})

    path = work / "config.json"
    written = json.loads(path.read_text())
    written.update({key: TINY_SHAPE[key] for key in _EXPLICIT_KEYS})
    if written.get("bos_token_id") is None:  # the real config has no bos_token_id
        written.pop("bos_token_id", None)
    path.write_text(json.dumps(dict(sorted(written.items())), indent=2) + "\n")


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    """No progress bars from transformers: the library never prints."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _move_into(work: Path, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    stale = [out_dir / name for name in _OUTPUTS] + list(out_dir.glob("*.safetensors"))
    stale += list(out_dir.glob("*.safetensors.index.json"))
    for path in stale:
        if path.is_file() or path.is_symlink():
            path.unlink()
    umask = os.umask(0)
    os.umask(umask)
    for path in sorted(work.iterdir()):
        path.chmod(0o666 & ~umask)  # files made in a private temp folder come out 0600
        shutil.move(str(path), str(out_dir / path.name))


def build_tiny_model(out_dir: Path | str, seed: int = 0, force: bool = False, vocab_size: int = 4096) -> Path:
    """Write a tiny random GLM-4.7-Flash (``glm4_moe_lite``) model folder and return its path.

    ``seed`` fixes the weights (the same seed gives byte-identical safetensors
    with the same torch and transformers); the tokenizer is the same for every
    seed. ``vocab_size`` is the model's vocabulary (a multiple of 64): BPE tokens
    plus GLM's 36 added tokens, padded like the real model if the corpus runs out. A
    non-empty ``out_dir`` is refused unless ``force``, which replaces the files a
    build writes and any other weights there, and leaves other files alone.
    """
    out_dir = Path(out_dir)
    if vocab_size % 64 or vocab_size < 1024:
        raise GlmbenchError(f"vocab size {vocab_size} must be a multiple of 64, at least 1024", "try 4096")
    _check_target(out_dir, force)
    _require_packages()
    parent = out_dir.parent if out_dir.parent.exists() else None
    with tempfile.TemporaryDirectory(prefix=".tiny-model-", dir=parent) as tmp:
        work = Path(tmp)
        tokenizer = train_tiny_tokenizer(vocab_size - len(ADDED_TOKENS))
        hf_tokenizer = save_tiny_tokenizer(tokenizer, work, chat_template())
        _write_model(work, seed, hf_tokenizer)
        _move_into(work, out_dir)
    return out_dir


def _safetensors_params(path: Path) -> int:
    """Parameter count from a safetensors header alone (no torch needed)."""
    if not path.is_file():
        return 0
    with path.open("rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
    total = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        count = 1
        for dim in info["shape"]:
            count *= dim
        total += count
    return total


def describe_tiny_model(path: Path | str) -> TinyModelSummary:
    """Read a built folder's sizes back from ``config.json``, the tokenizer and the weight headers."""
    path = Path(path)
    config = json.loads((path / "config.json").read_text())
    tokenizer = json.loads((path / "tokenizer.json").read_text())
    tokenizer_size = len(tokenizer["model"]["vocab"]) + len(tokenizer.get("added_tokens", []))
    return TinyModelSummary(
        path=path,
        params=_safetensors_params(path / "model.safetensors"),
        mtp_params=_safetensors_params(path / MTP_FILE),
        layers=int(config["num_hidden_layers"]),
        vocab_size=int(config["vocab_size"]),
        tokenizer_size=tokenizer_size,
    )
