"""The prompt set of an equivalence check, and each prompt's request body.

Three kinds, picked the same way every time for a seed: ShareGPT first turns,
BFCL single-turn entries with their tools (sent in BFCL's own style, so a
difference can be read back as a change of the parsed calls and of the
verdict), and long ShareGPT conversations asked for their next reply. Lengths
are bounded so that every prompt fits a small context (a tiny test model's
4,096 tokens): at most :data:`MAX_PROMPT_CHARS` for a ShareGPT prompt and
:data:`MAX_CONVERSATION_CHARS` for a conversation.

With the ``completions`` API glmbench renders the GLM-4.7 prompt itself
(:func:`glmbench.glm.template.render_chat`), so two servers get byte-identical
prompts and their raw outputs (reasoning and tool-call markup included) are
compared; with ``chat`` each server applies its own template and parsers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from glmbench.bfcl.types import BFCLEntry
from glmbench.equivalence.suite import EquivalenceSuite

__all__ = ["Prompt", "build_prompts", "request_body", "MAX_PROMPT_CHARS", "MAX_CONVERSATION_CHARS"]

MAX_PROMPT_CHARS = 4000
MAX_CONVERSATION_CHARS = 8000


@dataclass
class Prompt:
    """One prompt: its id, kind, messages and tools, and for a BFCL one the entry and the sent-name map."""

    id: str
    kind: str  # "sharegpt", "bfcl" or "conversation"
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] = field(default_factory=list)
    entry: BFCLEntry | None = None
    names: dict[str, str] = field(default_factory=dict)


def _sharegpt(suite: EquivalenceSuite) -> tuple[list[Prompt], list[Prompt]]:
    from glmbench.datasets.sharegpt import load_conversations

    wanted_turns = suite.conversation_turns if suite.conversations else 1
    conversations, _ = load_conversations(suite.dataset_source, suite.dataset_path, max_turns=max(2, wanted_turns))
    order = list(range(len(conversations)))
    random.Random(suite.seed).shuffle(order)
    firsts: list[Prompt] = []
    longs: list[Prompt] = []
    for i in order:
        turns = conversations[i]
        if len(firsts) < suite.sharegpt and turns[0].strip() and len(turns[0]) <= MAX_PROMPT_CHARS:
            firsts.append(Prompt(f"sharegpt-{i}", "sharegpt", [{"role": "user", "content": turns[0]}]))
        elif (len(longs) < suite.conversations and len(turns) >= suite.conversation_turns
              and all(t.strip() for t in turns) and sum(map(len, turns)) <= MAX_CONVERSATION_CHARS):
            history = turns[: suite.conversation_turns - (suite.conversation_turns + 1) % 2]  # ends with the user's
            messages = [{"role": "user" if n % 2 == 0 else "assistant", "content": text}
                        for n, text in enumerate(history)]
            longs.append(Prompt(f"conversation-{i}", "conversation", messages))
        if len(firsts) == suite.sharegpt and len(longs) == suite.conversations:
            break
    return firsts, longs


def _bfcl(suite: EquivalenceSuite) -> list[Prompt]:
    from glmbench.bfcl.data import load_bfcl
    from glmbench.bfcl.registry import get_rule_set

    entries, _ = load_bfcl(suite.bfcl_categories, suite.bfcl_source, suite.bfcl_data_dir)
    by_category: dict[str, list[BFCLEntry]] = {}
    for entry in entries:
        by_category.setdefault(entry.category, []).append(entry)
    for i, listed in enumerate(by_category.values()):
        random.Random(suite.seed + i).shuffle(listed)
    picked: list[BFCLEntry] = []
    while len(picked) < suite.bfcl and any(by_category.values()):
        for listed in by_category.values():  # round robin over the categories
            if listed and len(picked) < suite.bfcl:
                picked.append(listed.pop())
    style = get_rule_set("bfcl")  # BFCL's own request style: its tool conversion, no system prompt of glmbench's
    out = []
    for entry in picked:
        tools, names = style.tools(entry)
        out.append(Prompt(f"bfcl-{entry.id}", "bfcl", style.messages(entry), tools, entry, names))
    return out


def build_prompts(suite: EquivalenceSuite) -> list[Prompt]:
    """The suite's prompts, in a fixed order: ShareGPT, BFCL, conversations."""
    firsts, longs = _sharegpt(suite) if suite.sharegpt or suite.conversations else ([], [])
    return firsts + (_bfcl(suite) if suite.bfcl else []) + longs


def request_body(prompt: Prompt, suite: EquivalenceSuite, model: str) -> dict[str, Any]:
    """The request for ``prompt``: greedy, seeded, ``max_tokens`` long, with logprobs when the suite asks."""
    body: dict[str, Any] = {"model": model, "max_tokens": suite.max_tokens, "temperature": 0.0, "seed": suite.seed}
    if suite.api == "completions":
        from glmbench.glm.template import render_chat

        body["prompt"] = render_chat(prompt.messages, tools=prompt.tools or None, add_generation_prompt=True,
                                     enable_thinking=suite.enable_thinking)
        if suite.logprobs:
            body["logprobs"] = suite.logprobs
        return body
    body["messages"] = prompt.messages
    if prompt.tools:
        body["tools"], body["tool_choice"] = prompt.tools, "auto"
    if not suite.enable_thinking:
        body["chat_template_kwargs"] = {"enable_thinking": False}
    if suite.logprobs:
        body["logprobs"], body["top_logprobs"] = True, suite.logprobs
    return body
