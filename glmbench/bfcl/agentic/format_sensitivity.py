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

import copy
import dataclasses
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
           "selected_ids", "variant_id", "system_prompt", "function_documents", "CATEGORY", "VARIANT_PREFIX", "NATIVE_NOT_RUN",
           "load_entries", "variant_of", "source_entry", "messages", "FormatSpread", "spread"]

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


CATEGORY = "format_sensitivity"
VARIANT_PREFIX = "format_sensitivity:"
"""The category a variant's entries are counted under is this and its config: one row per variant."""
NATIVE_NOT_RUN = "needs prompt mode (--mode prompt): its variants are system prompts, answered in text"
_PYTHON_HINT = " Note that the provided function is in Python 3 syntax."


def load_entries(limit: int | None = None, source: str = "auto", data_dir: str | Path | None = None,
                 wheel: Path | None = None) -> list[Any]:
    """The entries format_sensitivity asks: each of BFCL's 200 entries (the first ``limit`` of them) under each of
    the 26 variants, entry by entry, with BFCL's ids (:func:`variant_id`, numbered over all 5,200).

    Each is a :class:`~glmbench.bfcl.data.LoadedEntry` of category ``format_sensitivity`` with the source entry's
    question, functions and ground truth, and in ``extra`` its ``variant`` (the config), ``source_id`` and
    ``source_category``."""
    from glmbench.bfcl.data import LoadedEntry, load_bfcl
    from glmbench.bfcl.versions import V4

    wanted = selected_ids(wheel)
    loaded, _ = load_bfcl(list(wanted), source, data_dir, V4)
    # BFCL takes them category by category (in the list's order), each in its file's order.
    chosen = {i for ids in wanted.values() for i in ids}
    ordered = [e for category in wanted for e in loaded if e.category == category and e.id in chosen]
    missing = sum(len(ids) for ids in wanted.values()) - len(ordered)
    if missing:
        raise GlmbenchError(f"{missing} of format_sensitivity's entries are not in the BFCL v4 data read",
                            "read BFCL v4 from its wheel (source auto or cache)")
    out = []
    for n, source_entry in enumerate(ordered[:limit] if limit else ordered):
        for k, config in enumerate(CONFIGS):
            out.append(LoadedEntry(id=variant_id(n * len(CONFIGS) + k, config, source_entry.id), category=CATEGORY,
                                   question=source_entry.question, function=source_entry.function,
                                   ground_truth=source_entry.ground_truth, version=V4,
                                   extra={"variant": config, "source_id": source_entry.id,
                                          "source_category": source_entry.category}))
    return out


def variant_of(entry: Any) -> str:
    """The config a format_sensitivity entry is asked under (from its ``extra``, else its id)."""
    extra = getattr(entry, "extra", None) or {}
    config = extra.get("variant") or (entry.id.split(":")[1] if entry.id.count(":") == 2 else "")
    parse_config(config)
    return str(config)


def source_entry(entry: Any) -> Any:
    """The entry a format_sensitivity entry asks, as its own category has it: what the AST checker judges."""
    extra = getattr(entry, "extra", None) or {}
    source_id = extra.get("source_id") or entry.id.split(":")[-1]
    category = extra.get("source_category") or source_id.rsplit("_", 1)[0]
    return dataclasses.replace(entry, id=source_id, category=category)


def messages(entry: Any, wheel: Path | None = None) -> list[dict[str, Any]]:
    """The first turn of a format_sensitivity entry with its variant's system prompt, as BFCL's prompting
    handlers send it: the prompt opens the system message the question has, else is one of its own.

    The functions it shows carry BFCL's Python hint twice: BFCL hints each source category's functions when it
    loads them, then hints the format_sensitivity entries again (their category is Python too)."""
    functions = copy.deepcopy(entry.function)
    for function in functions:
        function["description"] = str(function.get("description", "")) + _PYTHON_HINT + _PYTHON_HINT
    text = system_prompt(variant_of(entry), functions, wheel)
    turn = [dict(m) for m in (entry.question[0] if entry.question else [])]
    if turn and turn[0].get("role") == "system":
        turn[0]["content"] = text + "\n\n" + str(turn[0].get("content", ""))
        return turn
    return [{"role": "system", "content": text}, *turn]


def system_prompt(config: str, functions: list[dict[str, Any]], wheel: Path | None = None) -> str:
    """The system prompt of variant ``config`` for ``functions`` (BFCL's texts from the wheel, the function
    documents rendered as :func:`function_documents` does)."""
    variant = parse_config(config)
    style = prompt("PROMPT_STYLE_TEMPLATES", wheel)[variant.style]
    returns = prompt("OUTPUT_FORMAT_MAPPING", wheel)[variant.return_format]
    types = prompt("PARAM_TYPE_MAPPING", wheel)[variant.return_format]
    call_format = style["tool_call_with_tag" if variant.tool_call_tag else "tool_call_no_tag"].format(
        output_format=returns, param_types=types)
    tools = style["available_tools"].format(format=variant.doc_format,
                                            functions=function_documents(functions, variant.doc_format))
    layout = prompt("PROMPT_TEMPLATE_MAPPING", wheel)[variant.prompt_format]
    return str(layout.format(persona=style["persona"], task=style["task"], tool_call_format=call_format,
                             multiturn_behavior=style["multiturn_behavior"], available_tools=tools))


def function_documents(functions: list[dict[str, Any]], doc_format: str) -> str:
    """``functions`` as a variant shows them: ``json`` (indented JSON), ``xml`` (``<function>`` blocks) or
    ``python`` (a ``# Function:`` header and a docstring each), laid out as BFCL 2026.3.23 lays them out."""
    if doc_format == "json":
        return json.dumps(functions, indent=4)
    if doc_format == "xml":
        return "\n".join(_xml_function(f) for f in functions)
    if doc_format == "python":
        return "\n\n".join(part for f in functions for part in (_python_function(f), "\n"))
    raise GlmbenchError(f"unknown format_sensitivity function-document format {doc_format!r}",
                        f"use one of {', '.join(DOC_FORMATS)}")


def _described(meta: dict[str, Any]) -> str:
    """A parameter's description, with its allowed values appended when it has them."""
    text = str(meta.get("description", ""))
    return text + f" Enum values: {meta['enum']}." if "enum" in meta else text


def _xml_param(name: str, meta: dict[str, Any], required: list[str] | None, level: int) -> str:
    pad = "  " * level
    kind = meta.get("type", "string")
    if "items" in meta and "type" in meta["items"]:
        kind = f"{kind}[{meta['items']['type']}]"
    elif "additionalProperties" in meta:
        kind = f"{kind}[{meta['additionalProperties'].get('type', 'string')}]"
    needed = "true" if required is None or name in required else "false"
    # BFCL writes the attributes comma-separated, then drops every comma of the tag (in names and defaults too).
    attributes = f'name="{name}", type="{kind}", required="{needed}"'
    if "default" in meta:
        attributes += f' default="{meta["default"]!r}"'
    lines = [f"{pad}<param {attributes.replace(',', '')}>\n", f"{pad}  <desc>{_described(meta)}</desc>\n"]
    if "properties" in meta:
        lines.append(f"{pad}  <params>\n")
        lines += [_xml_param(n, m, meta.get("required"), level + 2) for n, m in meta["properties"].items()]
        lines.append(f"{pad}  </params>\n")
    lines.append(f"{pad}</param>\n")
    return "".join(lines)


def _xml_function(function: dict[str, Any]) -> str:
    schema = function["parameters"]
    params = "".join(_xml_param(n, m, schema.get("required"), 2) for n, m in schema.get("properties", {}).items())
    return (f'<function name="{function["name"]}">\n  <desc>{function.get("description", "")}</desc>\n'
            f"  <params>\n{params}  </params>\n</function>\n")


_PY_TYPES = {"string": "str", "number": "float", "integer": "int", "boolean": "bool"}


def _py_type(meta: dict[str, Any]) -> str:
    kind = meta.get("type", "string")
    if kind in _PY_TYPES:
        return _PY_TYPES[kind]
    if kind in ("array", "list", "tuple") and "items" in meta:
        return f"list[{_py_type(meta['items'])}]"
    if kind in ("object", "dict"):
        return f"dict[str, {_py_type(meta['additionalProperties'])}]" if "additionalProperties" in meta else "dict"
    return str(kind)


def _python_param(name: str, meta: dict[str, Any], depth: int) -> list[str]:
    default = f", default={meta['default']!r}" if "default" in meta else ""
    lines = [f"{' ' * (8 + 4 * depth)}{name} ({_py_type(meta)}{default}): {_described(meta)}\n"]
    for child, child_meta in meta.get("properties", {}).items():
        lines += _python_param(child, child_meta, depth + 1)
    return lines


def _python_function(function: dict[str, Any]) -> str:
    lines = [f"# Function: {function['name']}\n", '    """\n', f"    {function.get('description', '')}\n\n"]
    properties = function.get("parameters", {}).get("properties", {})
    if properties:
        lines.append("    Args:\n")
        for name, meta in properties.items():
            lines += _python_param(name, meta, 0)
    lines.append('    """\n')
    return "".join(lines)


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
