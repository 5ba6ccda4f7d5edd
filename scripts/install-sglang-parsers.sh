#!/usr/bin/env bash
# SGLang's glm47/glm45 parsers in a venv of their own, for `glmbench parsers` (its sglang driver).
#
# Not run by .ci/run, and not installed on the CPU test machine: every SGLang parser module
# (sglang.srt.function_call.glm47_moe_detector, sglang.srt.parser.reasoning_parser) is inside the
# `sglang` package, whose sglang/__init__.py runs
#   from sglang.srt.utils.hf_transformers_patches import apply_all   (sglang/__init__.py:21)
#   -> sglang/srt/utils/__init__.py:2  from sglang.srt.utils.common import *
#   -> sglang/srt/utils/common.py:89-91  import torch; import torch.distributed; import triton
# so the parsers cannot be imported without torch and triton. PyPI's torch for Linux x86_64 is the
# CUDA build (with its nvidia-* wheels; about 5.7 GB in a venv, measured with sglang 0.5.23).
# This script therefore needs a torch index: TORCH_INDEX_URL (e.g. https://download.pytorch.org/whl/cpu
# for the CPU build); without it, it stops and says so.
#
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu scripts/install-sglang-parsers.sh
#   glmbench parsers --config sglang --set launch.venv=~/.cache/glmbench/sglang-parsers-venv --tokenizer DIR
set -euo pipefail
VENV="${SGLANG_PARSERS_VENV:-$HOME/.cache/glmbench/sglang-parsers-venv}"
SGLANG="${SGLANG_REQUIREMENT:-sglang==0.5.23}"
PY="${PYTHON:-python3.11}"
if [ -z "${TORCH_INDEX_URL:-}" ]; then
  echo "error: SGLang's parser modules import torch and triton (sglang/__init__.py -> sglang.srt.utils.common);" >&2
  echo "next: set TORCH_INDEX_URL to a torch index (e.g. https://download.pytorch.org/whl/cpu) and run again" >&2
  exit 2
fi
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
# sglang itself without its serving dependencies, then what the parser modules import, nothing more
"$VENV/bin/python" -m pip install -q --no-deps "$SGLANG"
"$VENV/bin/python" -m pip install -q --index-url "$TORCH_INDEX_URL" torch
"$VENV/bin/python" -m pip install -q triton numpy orjson psutil pybase64 requests packaging pydantic \
  partial_json_parser msgspec openai transformers
"$VENV/bin/python" -c "import sglang.srt.function_call.glm47_moe_detector, sglang.srt.parser.reasoning_parser" \
  || { echo "error: SGLang's parsers still do not import in $VENV (see above)" >&2; exit 1; }
echo "$VENV"
