"""A format_sensitivity reply back into calls, as BFCL 2026.3.23 decodes each return format, executing nothing.

BFCL's prompt-mode decoder (``default_decode_ast_prompting`` and ``ast_parse``), step by step:

1. the text loses leading and trailing backticks, newlines and spaces, and is wrapped in ``[`` ... ``]``
   where it does not start or end with them;
2. with the tool-call tag, only what the first ``<TOOLCALL>...</TOOLCALL>`` holds is read (none: a failure);
3. the return format's reading:

   - ``python``: the text (less outer quotes) is a call or a list of calls; each call's keyword arguments
     are its arguments (positional ones are dropped), read from constants, lists, dicts, tuples, names (their
     name as text), a negated constant, a call without keywords (its source text) and one with keywords
     (a nested ``{name: arguments}``); arithmetic is computed (BFCL ``eval``\\ s it; here
     :mod:`glmbench.bfcl.pyexpr` computes it over plain data);
   - ``json``: from the first ``[`` to the last ``]``, then its first ``[{...}, ...]`` run, read as JSON:
     each object's ``function`` and ``parameters`` (text that is not JSON decodes to no calls);
   - ``verbose_xml``: the first ``<functions>...</functions>``, each ``<function name=..>`` and its
     ``<param name=.. type=.. value=..>`` (inside ``<params>`` when there is one);
   - ``concise_xml``: the same element, each ``<param name=.. type=..>`` with its value as its text.

   An XML value is typed by its ``type``: ``integer`` and ``float`` are converted (a failure fails the
   reply), ``boolean`` is whether it reads ``true``, ``null`` is None, ``array``/``tuple``/``object``/``dict``
   are read as a Python literal (:func:`ast.literal_eval`, which evaluates literals only), anything else
   stays text.

Then BFCL requires every call to be ``{name: {arguments}}`` (``decoder_wrong_output_format`` otherwise).
A failure is reported as BFCL's error type with its reason, and the reply fails. glmbench's own bounds: a
reply over :data:`~glmbench.glm.limits.MAX_CALL_TEXT_CHARS` is not read; an XML value over
:data:`~glmbench.glm.limits.MAX_LITERAL_TEXT_CHARS` is not converted (the reply fails); a call whose
arguments are over the value bounds keeps its name with ``{}`` and ``refused``, as elsewhere. An XML
document type (entities) cannot occur: inside ``<functions>`` it is an XML syntax error, for BFCL too.
"""

from __future__ import annotations

import ast
import json
import re
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from glmbench.bfcl.agentic.format_sensitivity import parse_config
from glmbench.bfcl.decoding import call_dict
from glmbench.bfcl.pyexpr import evaluate
from glmbench.bfcl.text_calls import jsonable
from glmbench.glm.limits import MAX_CALL_TEXT_CHARS, MAX_LITERAL_TEXT_CHARS, text_size, value_problem

__all__ = ["FormatReply", "decode_format_reply", "encode_calls", "truth_reply", "DECODER_FAILED", "WRONG_OUTPUT_FORMAT"]

DECODER_FAILED = "ast_decoder:decoder_failed"
WRONG_OUTPUT_FORMAT = "ast_decoder:decoder_wrong_output_format"

_TAG = re.compile(r"<TOOLCALL>(.*?)</TOOLCALL>", re.DOTALL)
_FUNCTIONS = re.compile(r"<functions>(.*?)</functions>", re.DOTALL)
_OUTER_LIST = re.compile(r"\[.*\]", re.DOTALL)
_LIST_START = re.compile(r"\[\s*\{")
_LIST_END = re.compile(r"\}\s*\]")


class _Failed(Exception):
    """The reply does not decode: BFCL's error type and why."""

    def __init__(self, error_type: str, why: str) -> None:
        super().__init__(why)
        self.error_type = error_type
        self.why = why


@dataclass
class FormatReply:
    """A decoded reply: its calls as records store them (:func:`~glmbench.bfcl.decoding.call_dict`), or why
    it does not decode (``error``, BFCL's error type first; empty when it decoded)."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""


def decode_format_reply(text: str | None, config: str) -> FormatReply:
    """The calls of ``text`` answered under format_sensitivity variant ``config`` (see the module's docstring)."""
    variant = parse_config(config)
    text = text or ""
    if len(text) > MAX_CALL_TEXT_CHARS:
        return FormatReply([], f"{DECODER_FAILED}: {len(text):,} characters of text, over {text_size(MAX_CALL_TEXT_CHARS)}")
    try:
        decoded = _decode(text, variant.return_format, variant.tool_call_tag)
    except _Failed as exc:
        return FormatReply([], f"{exc.error_type}: {exc.why}")
    return FormatReply([_stored(name, arguments) for name, arguments in decoded])


def _stored(name: Any, arguments: dict[Any, Any]) -> dict[str, Any]:
    problem = value_problem(arguments)
    if problem:
        return call_dict(str(name), {}, problem)
    return call_dict(name if isinstance(name, str) else str(name), jsonable(arguments))


def _decode(text: str, return_format: str, tagged: bool) -> list[tuple[Any, dict[Any, Any]]]:
    text = text.strip("`\n ")
    if not text.startswith("["):
        text = "[" + text
    if not text.endswith("]"):
        text = text + "]"
    if tagged:
        match = _TAG.search(text)
        if match is None:
            raise _Failed(DECODER_FAILED, "no <TOOLCALL> tag")
        text = match.group(1).strip()
    if return_format == "python":
        calls = _python(text)
    elif return_format == "json":
        calls = _json(text)
    else:
        match = _FUNCTIONS.search(text)
        if match is None:
            raise _Failed(DECODER_FAILED, "no <functions> element")
        calls = _xml(match.group(0), verbose=return_format == "verbose_xml")
    out = []
    for name, arguments in calls:
        if not isinstance(arguments, dict):
            raise _Failed(WRONG_OUTPUT_FORMAT, f"the arguments of {str(name)[:80]!r} are not an object")
        out.append((name, arguments))
    return out


# -- python ---------------------------------------------------------------------------------------


def _python(text: str) -> list[tuple[Any, Any]]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # model text: its odd literals are no warning of glmbench's
            tree = ast.parse(text.strip().strip("'"), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise _Failed(DECODER_FAILED, f"not Python: {type(exc).__name__}") from None
    body = tree.body
    items = [body] if isinstance(body, ast.Call) else getattr(body, "elts", None)
    if items is None:
        raise _Failed(DECODER_FAILED, "not a call or a list of calls")
    calls = []
    for item in items:
        if not isinstance(item, ast.Call):
            raise _Failed(DECODER_FAILED, "a list item is not a call")
        calls.append(_py_call(item))
    return calls


def _py_call(node: ast.Call) -> tuple[str, dict[Any, Any]]:
    parts = []
    func = node.func
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
    return ".".join(reversed(parts)), {kw.arg: _py_value(kw.value) for kw in node.keywords}


def _py_value(node: ast.AST | None) -> Any:
    """One argument's value, as BFCL's ``resolve_ast_by_type`` reads it; what it cannot read fails the reply."""
    if isinstance(node, ast.Constant):
        return "..." if node.value is Ellipsis else node.value
    if isinstance(node, ast.UnaryOp):
        # BFCL negates the operand's constant whatever the operator (+x, not x and ~x included).
        operand = node.operand
        if not isinstance(operand, ast.Constant):
            raise _Failed(DECODER_FAILED, "an operator on a non-constant")
        try:
            value: Any = operand.value
            return -value
        except TypeError:
            raise _Failed(DECODER_FAILED, f"cannot negate {type(operand.value).__name__}") from None
    if isinstance(node, ast.List):
        return [_py_value(v) for v in node.elts]
    if isinstance(node, ast.Dict):
        try:
            return {_py_value(k): _py_value(v) for k, v in zip(node.keys, node.values)}
        except TypeError:
            raise _Failed(DECODER_FAILED, "an unhashable dict key") from None
    if isinstance(node, ast.BinOp):
        try:
            return evaluate(node, {})
        except Exception as exc:  # noqa: BLE001 - plain data only: any error is one eval raises too
            raise _Failed(DECODER_FAILED, f"arithmetic that does not compute: {type(exc).__name__}") from None
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Call):
        if not node.keywords:
            return ast.unparse(node)
        name, arguments = _py_call(node)
        return {name: arguments}
    if isinstance(node, ast.Tuple):
        return tuple(_py_value(v) for v in node.elts)
    if isinstance(node, ast.Subscript):
        return ast.unparse(node.value) + "[" + ast.unparse(node.slice) + "]"
    raise _Failed(DECODER_FAILED, f"unsupported value: {type(node).__name__}")


# -- json -----------------------------------------------------------------------------------------


def _json(text: str) -> list[tuple[Any, Any]]:
    outer = _OUTER_LIST.search(text)
    if outer is not None:
        text = outer.group(0)
    # BFCL's r"\[\s*{.*?}\s*(?:,\s*{.*?}\s*)*\]" always matches from the first "[{" to the first "}]" after it
    # (spaces allowed inside both): found here without its backtracking.
    start = _LIST_START.search(text)
    if start is not None:
        end = _LIST_END.search(text, start.end())
        if end is not None:
            text = text[start.start():end.end()]
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return []  # BFCL: text that is not JSON is no calls
    except (ValueError, RecursionError) as exc:  # an integer too long, nesting too deep: BFCL's decoder raises
        raise _Failed(DECODER_FAILED, f"JSON that does not load: {type(exc).__name__}") from None
    if not isinstance(value, (list, dict, str)):
        raise _Failed(DECODER_FAILED, f"JSON {type(value).__name__} is not a list")
    calls = []
    for item in value:
        if not isinstance(item, dict):
            continue
        if "function" not in item or "parameters" not in item:
            raise _Failed(DECODER_FAILED, "a call without 'function' or 'parameters'")
        name = item["function"]
        if isinstance(name, (list, dict)):
            raise _Failed(DECODER_FAILED, "a function name that is not text")
        calls.append((name, item["parameters"]))
    return calls


# -- xml ------------------------------------------------------------------------------------------


def _xml(text: str, verbose: bool) -> list[tuple[Any, Any]]:
    try:
        root = ET.fromstring(text)
    except (ET.ParseError, ValueError, RecursionError, MemoryError) as exc:
        raise _Failed(DECODER_FAILED, f"not XML: {exc}") from None
    calls = []
    for function in root.findall("function"):
        if "name" not in function.attrib:
            raise _Failed(DECODER_FAILED, "a <function> without a name")
        arguments: dict[Any, Any] = {}
        if verbose:
            holder = function.find("params")
            for param in (holder if holder is not None else function).findall("param"):
                arguments[param.attrib.get("name")] = _typed(param.attrib.get("value", ""),
                                                             param.attrib.get("type", "string"))
        else:
            for param in function.findall("param"):
                if "name" not in param.attrib:
                    raise _Failed(DECODER_FAILED, "a <param> without a name")
                arguments[param.attrib["name"]] = _typed((param.text or "").strip(),
                                                         param.attrib.get("type", "string"))
        calls.append((function.attrib["name"], arguments))
    return calls


def _typed(raw: str, kind: str) -> Any:
    """An XML value converted by its ``type`` as BFCL converts it."""
    try:
        if kind == "integer":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        raise _Failed(DECODER_FAILED, f"{raw[:80]!r} is not a{'n' if kind == 'integer' else ''} {kind}") from None
    if kind == "boolean":
        return raw.lower() == "true"
    if kind == "null":
        return None
    if kind in ("array", "tuple", "object", "dict"):
        if len(raw) > MAX_LITERAL_TEXT_CHARS:
            raise _Failed(DECODER_FAILED, f"a value of {len(raw):,} characters, over {text_size(MAX_LITERAL_TEXT_CHARS)}")
        try:
            return ast.literal_eval(raw)
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError) as exc:
            raise _Failed(DECODER_FAILED, f"{raw[:80]!r} is not a Python literal ({type(exc).__name__})") from None
    return raw


# -- writing calls in a return format (the simulator's answers, the tests' replies) ---------------


def _xml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "dict"
    return "string"


def _xml_text(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def encode_calls(calls: list[tuple[str, dict[str, Any]]], config: str) -> str:
    """``calls`` (name, arguments of plain JSON values) written as variant ``config`` asks a model to write them,
    which :func:`decode_format_reply` reads back as they are (in json, but for a list ending in an object
    inside the arguments: BFCL's reading ends at the first ``}]``)."""
    from xml.sax.saxutils import escape, quoteattr

    variant = parse_config(config)
    if variant.return_format == "python":
        text = "[" + ", ".join(f"{name}({', '.join(f'{k}={v!r}' for k, v in args.items())})"
                               for name, args in calls) + "]"
    elif variant.return_format == "json":
        text = json.dumps([{"function": name, "parameters": args} for name, args in calls])
    elif variant.return_format == "verbose_xml":
        text = "<functions>" + "".join(
            f"<function name={quoteattr(name)}><params>" + "".join(
                f"<param name={quoteattr(k)} type=\"{_xml_type(v)}\" value={quoteattr(_xml_text(v))}/>"
                for k, v in args.items()) + "</params></function>" for name, args in calls) + "</functions>"
    else:
        text = "<functions>" + "".join(
            f"<function name={quoteattr(name)}>" + "".join(
                f"<param name={quoteattr(k)} type=\"{_xml_type(v)}\">{escape(_xml_text(v))}</param>"
                for k, v in args.items()) + "</function>" for name, args in calls) + "</functions>"
    return f"<TOOLCALL>{text}</TOOLCALL>" if variant.tool_call_tag else text


def _first_value(value: Any) -> Any:
    """One acceptable value of a ground-truth parameter: the first of its allowed values that is not the
    "may be omitted" mark, a dict of such values read the same way ("" when it may be omitted)."""
    if isinstance(value, list):
        chosen = next((v for v in value if v != ""), "")
        return _first_value(chosen) if isinstance(chosen, dict) else chosen
    if isinstance(value, dict):
        return {k: v for k, allowed in value.items() if (v := _first_value(allowed)) != ""}
    return value


def truth_reply(entry: Any) -> str:
    """A format_sensitivity entry's ground truth written in its variant's return format (the simulator's answer):
    each call with one acceptable value of every parameter that may not be omitted."""
    from glmbench.bfcl.agentic.format_sensitivity import variant_of

    calls = [(name, {k: v for k, allowed in args.items() if (v := _first_value(allowed)) != ""})
             for call in entry.ground_truth or [] for name, args in call.items()]
    return encode_calls(calls, variant_of(entry))
