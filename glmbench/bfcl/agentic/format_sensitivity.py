"""BFCL v4's format_sensitivity: the same 200 entries asked under 26 prompt formats, and how much the score moves.

As BFCL 2026.3.23 defines it (``utils.get_all_format_sensitivity_configs``,
``model_handler/utils.formulate_system_prompt``, ``eval_runner.format_sensitivity_runner``):

- the entries: the ids listed in ``BFCL_v4_format_sensitivity.json`` (200, from
  the non-live and live AST categories), each asked once per variant, in prompt
  mode only (the variant is the system prompt), scored by the AST checker as
  Python entries;
- the variants (:data:`CONFIGS`, 26): every return format (python, json,
  verbose_xml, concise_xml) x tool-call tag or not x function-document format
  (python, xml, json) in plain text and the classic style (24), plus markdown
  (python returns, no tag, json documents, classic) and the experimental style
  (python returns, no tag, json documents, plain text);
- what is measured, over the variants' accuracies (correct / asked, per variant):
  the largest minus the smallest (``max_delta``), the sample standard deviation
  (``std``) and variance, in percentage points (variance in points squared),
  rounded to 2 places; with one variant, all three are 0.

It is not scored: BFCL lists it outside every group and the overall, and so does
glmbench (reported apart, :func:`spread`).
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glmbench.bfcl.agentic.prompts import prompt
from glmbench.bfcl.agentic.wheel import read_member, v4_wheel
from glmbench.errors import GlmbenchError

__all__ = ["RETURN_FORMATS", "DOC_FORMATS", "CONFIGS", "DEFAULT_CONFIG", "FormatVariant", "parse_config",
           "selected_ids", "variant_id", "system_prompt", "FormatSpread", "spread"]

RETURN_FORMATS = ("python", "json", "verbose_xml", "concise_xml")
DOC_FORMATS = ("python", "xml", "json")
_BASE = "ret_fmt={}&tool_call_tag={}&func_doc_fmt={}&prompt_fmt={}&style={}"
CONFIGS: tuple[str, ...] = tuple(
    [_BASE.format(r, tag, doc, "plaintext", "classic") for r in RETURN_FORMATS for tag in ("True", "False")
     for doc in DOC_FORMATS]
    + [_BASE.format("python", "False", "json", "markdown", "classic"),
       _BASE.format("python", "False", "json", "plaintext", "experimental")])
DEFAULT_CONFIG = _BASE.format("python", "False", "json", "plaintext", "classic")
"""BFCL's default prompt format: the one every other prompt-mode category is asked in."""

_PATTERN = re.compile(r"^ret_fmt=(python|json|verbose_xml|concise_xml)&tool_call_tag=(True|False)"
                      r"&func_doc_fmt=(python|xml|json)&prompt_fmt=(plaintext|markdown)&style=(classic|experimental)$")


@dataclass(frozen=True)
class FormatVariant:
    """One prompt format: how calls are to be written, whether inside ``<TOOLCALL>``, how functions are shown,
    the prompt's layout and its wording style."""

    return_format: str
    tool_call_tag: bool
    doc_format: str
    prompt_format: str
    style: str


def parse_config(text: str) -> FormatVariant:
    """A variant from BFCL's config text (``ret_fmt=...&style=...``); anything else is an error naming the form."""
    match = _PATTERN.match(text)
    if match is None:
        raise GlmbenchError(f"not a BFCL format_sensitivity config: {text!r}",
                            "write it as ret_fmt=..&tool_call_tag=..&func_doc_fmt=..&prompt_fmt=..&style=..")
    ret, tag, doc, layout, style = match.groups()
    return FormatVariant(ret, tag == "True", doc, layout, style)


def selected_ids(wheel: Path | None = None) -> dict[str, list[str]]:
    """The entry ids format_sensitivity asks, by category, as BFCL lists them."""
    path = v4_wheel(wheel)
    return {str(k): [str(i) for i in v] for k, v in
            json.loads(read_member(path, "bfcl_eval/data/BFCL_v4_format_sensitivity.json")).items()}


def variant_id(index: int, config: str, entry_id: str) -> str:
    """BFCL's id of one entry asked under one variant: ``format_sensitivity_<n>:<config>:<entry id>``."""
    return f"format_sensitivity_{index}:{config}:{entry_id}"


def system_prompt(config: str, functions: list[dict[str, Any]], wheel: Path | None = None) -> str:
    """The system prompt of variant ``config`` for ``functions`` (BFCL's texts from the wheel).

    Function documents are rendered in the json format (as BFCL: ``json.dumps(functions, indent=4)``); the
    python and xml renderings are not written here yet, and asking for them is an error saying so.
    """
    variant = parse_config(config)
    if variant.doc_format != "json":
        raise GlmbenchError(f"format_sensitivity's {variant.doc_format} function documents are not rendered by "
                            "this glmbench", "run the json-document variants only")
    style = prompt("PROMPT_STYLE_TEMPLATES", wheel)[variant.style]
    returns = prompt("OUTPUT_FORMAT_MAPPING", wheel)[variant.return_format]
    types = prompt("PARAM_TYPE_MAPPING", wheel)[variant.return_format]
    call_format = style["tool_call_with_tag" if variant.tool_call_tag else "tool_call_no_tag"].format(
        output_format=returns, param_types=types)
    tools = style["available_tools"].format(format=variant.doc_format, functions=json.dumps(functions, indent=4))
    layout = prompt("PROMPT_TEMPLATE_MAPPING", wheel)[variant.prompt_format]
    return str(layout.format(persona=style["persona"], task=style["task"], tool_call_format=call_format,
                             multiturn_behavior=style["multiturn_behavior"], available_tools=tools))


@dataclass(frozen=True)
class FormatSpread:
    """How much the accuracy moves across prompt formats: in percentage points, as BFCL reports it."""

    max_delta: float
    std: float
    variance: float
    by_config: dict[str, tuple[int, int]]

    def accuracy(self, config: str) -> float:
        """One variant's accuracy, in percent."""
        correct, total = self.by_config[config]
        return 100.0 * correct / total


def spread(by_config: Mapping[str, tuple[int, int]]) -> FormatSpread:
    """BFCL's format_sensitivity figures from each variant's (entries passed, entries asked)."""
    counts = {c: (int(ok), int(n)) for c, (ok, n) in by_config.items() if n}
    accuracies = [ok / n for ok, n in counts.values()]
    if len(accuracies) > 1:
        return FormatSpread(round((max(accuracies) - min(accuracies)) * 100, 2),
                            round(statistics.stdev(accuracies) * 100, 2),
                            round(statistics.variance(accuracies) * 100 ** 2, 2), counts)
    return FormatSpread(0.0, 0.0, 0.0, counts)
