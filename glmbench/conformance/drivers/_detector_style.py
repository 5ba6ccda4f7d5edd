"""Drivers for SGLang and LightLLM, whose glm47/glm45 parsers share one shape (LightLLM's are adapted from SGLang's).

A ``ReasoningParser(model_type, stream_reasoning, force_reasoning, ...)`` splits
reasoning from the answer, then a ``FunctionCallParser(tools, tool_call_parser)``
takes calls out of the answer; both have ``parse_non_stream(text)`` and
``parse_stream_chunk(delta)``, as the servers call them. Standard library only;
never imports glmbench.
"""

from __future__ import annotations

import inspect
from typing import Any

from _driver_common import Stream, run_job

__all__ = ["run_detector_driver"]


def _make(cls: Any, **kwargs: Any) -> Any:
    """``cls(**kwargs)`` with only the keyword arguments its signature takes (they vary across versions)."""
    try:
        accepted = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return cls(**kwargs)
    if any(p.kind == p.VAR_KEYWORD for p in accepted.values()):
        return cls(**kwargs)
    return cls(**{k: v for k, v in kwargs.items() if k in accepted})


def run_detector_driver(backend: str, version: str | None, reasoning_cls: Any, calls_cls: Any, tool_cls: Any,
                        job: dict[str, Any], tokenizer: Any = None, request_of: Any = None) -> None:
    """Every case through ``reasoning_cls`` then ``calls_cls``, whole, per token (with a tokenizer) and per chunk."""
    tool_parser, reasoning_parser = job["tool_parser"], job["reasoning_parser"]

    def parsers(case: dict) -> tuple[Any, Any]:
        request = request_of(case) if request_of else None
        reasoning = _make(reasoning_cls, model_type=reasoning_parser, stream_reasoning=True,
                          force_reasoning=bool(case["thinking"]), request=request, tokenizer=tokenizer,
                          tool_call_parser_active=True)
        tools = [tool_cls(**t) for t in case["tools"]]
        calls = _make(calls_cls, tools=tools, tool_call_parser=tool_parser, tokenizer=tokenizer)
        return reasoning, calls

    def whole(case: dict) -> dict:
        reasoning_parser_, calls_parser = parsers(case)
        reasoning, answer = reasoning_parser_.parse_non_stream(case["text"])
        content, items = calls_parser.parse_non_stream(answer or "")
        calls = [{"name": i.name, "arguments": i.parameters} for i in items]
        return {"reasoning": reasoning, "content": content, "calls": calls}

    def stream(case: dict, deltas: list[str]) -> dict:
        reasoning_parser_, calls_parser = parsers(case)
        out = Stream()
        for delta in deltas:
            reasoning, answer = reasoning_parser_.parse_stream_chunk(delta)
            out.add(reasoning=reasoning)
            if answer:
                content, items = calls_parser.parse_stream_chunk(answer)
                out.add(content=content)
                for item in items:
                    out.call(item.tool_index, item.name, item.parameters)
        return out.result()

    def token_deltas(text: str) -> list[str]:
        ids = tokenizer.encode(text, add_special_tokens=False)
        deltas, sent = [], ""
        for k in range(1, len(ids) + 1):
            now = tokenizer.decode(ids[:k], skip_special_tokens=False)
            if now.endswith("\ufffd") and k < len(ids):
                continue
            deltas.append(now[len(sent):])
            sent = now
        if sent != text:
            raise ValueError("the tokenizer does not give this text back token by token")
        return deltas

    modes = {"whole": whole, "chunks": lambda case: stream(case, case["chunks"])}
    if tokenizer is not None:
        modes["tokens"] = lambda case: stream(case, token_deltas(case["text"]))
    names = {"tool": f"{calls_cls.__module__}.{calls_cls.__qualname__}({tool_parser})",
             "reasoning": f"{reasoning_cls.__module__}.{reasoning_cls.__qualname__}({reasoning_parser})"}
    run_job(backend, version, names, modes, job)


def load_tokenizer(path: str) -> Any:
    """The backend environment's transformers tokenizer for ``path``, or None when it cannot be loaded."""
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(path)
    except Exception:  # noqa: BLE001 - without a tokenizer the token-by-token mode is left out
        return None
