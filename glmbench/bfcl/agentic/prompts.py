"""BFCL v4's fixed prompt texts, read from the wheel's ``constants/default_prompts.py`` without running it.

The module is parsed with :mod:`ast`; a top-level assignment whose value is a
literal (or a name of an earlier literal, inside a dict) is taken as it is. So
the texts the model sees are BFCL's own, byte for byte, and nothing of the file
is executed.
"""

from __future__ import annotations

import ast
import threading
from pathlib import Path
from typing import Any

from glmbench.bfcl.agentic.wheel import read_member, v4_wheel
from glmbench.errors import GlmbenchError

__all__ = ["bfcl_prompts", "prompt"]

_MEMBER = "bfcl_eval/constants/default_prompts.py"
_lock = threading.Lock()
_cache: dict[Path, dict[str, Any]] = {}


def _value(node: ast.expr, known: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name) and node.id in known:
        return known[node.id]
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise ValueError("not a literal")
        return {_value(k, known): _value(v, known) for k, v in zip(node.keys, node.values) if k is not None}
    return ast.literal_eval(node)


def bfcl_prompts(wheel: Path | None = None) -> dict[str, Any]:
    """Every literal top-level constant of BFCL v4's ``default_prompts.py``, by name."""
    path = v4_wheel(wheel)
    with _lock:
        if path in _cache:
            return _cache[path]
    try:
        tree = ast.parse(read_member(path, _MEMBER))
    except SyntaxError as exc:
        raise GlmbenchError(f"cannot parse {_MEMBER} in {path}: {exc}", "delete the wheel and fetch it again") from None
    known: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                known[node.targets[0].id] = _value(node.value, known)
            except (ValueError, TypeError, SyntaxError, RecursionError):
                continue  # an expression (a sum of texts, say): not needed here
    with _lock:
        _cache[path] = known
    return known


def prompt(name: str, wheel: Path | None = None) -> Any:
    """BFCL's constant ``name`` (say ``MEMORY_AGENT_SETTINGS``); one it no longer has is an error."""
    prompts = bfcl_prompts(wheel)
    if name not in prompts:
        raise GlmbenchError(f"{_MEMBER} of the BFCL v4 wheel has no literal {name}",
                            "this glmbench reads bfcl-eval==2026.3.23's prompts; fetch that wheel")
    return prompts[name]
