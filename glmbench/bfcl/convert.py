"""BFCL function documents as OpenAI ``tools``: BFCL's own conversion and LightLLM's.

BFCL's function-calling handlers (``bfcl`` style) first add a language hint to
each description and, for java and javascript, send every parameter as a
string with its Java/JavaScript type named in the description; then dotted
names become ``_`` names (OpenAI's name pattern has no ``.``), and BFCL's type
names become JSON Schema types (``dict`` -> object, ``float`` -> number with
``format: float``, ``tuple`` -> array, ``any`` and unknown types -> string).
The description suffixes are BFCL's own words, kept so that the prompts match.

LightLLM's script (``lightllm`` style, the published table) maps Python type
names (``dict``, ``list``, ``str``, ``int``, ``float``, ``bool``, ``tuple``,
``NoneType``) wherever a ``type`` key holds one, leaves every other type name
as it is (``any`` included), and sends dotted names as they are.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from glmbench.bfcl.categories import traits
from glmbench.bfcl.java_js import decode_java_js

__all__ = ["ToolSet", "bfcl_tools", "lightllm_tools", "decode_java_js", "language_of", "sent_name"]

# BFCL's map from its type names to JSON Schema (unknown names become "string").
BFCL_TO_JSON_SCHEMA: dict[str, str] = {
    "integer": "integer", "number": "number", "float": "number", "string": "string",
    "boolean": "boolean", "bool": "boolean", "array": "array", "list": "array",
    "dict": "object", "object": "object", "tuple": "array", "any": "string",
    "byte": "integer", "short": "integer", "long": "integer", "double": "number", "char": "string",
    "ArrayList": "array", "Array": "array", "HashMap": "object", "Hashtable": "object",
    "Queue": "array", "Stack": "array", "Any": "string", "String": "string", "Bigint": "integer",
}

# LightLLM's map: Python type names only; anything else is sent unchanged.
LIGHTLLM_TO_JSON_SCHEMA: dict[str, str] = {
    "dict": "object", "list": "array", "str": "string", "int": "integer", "float": "number",
    "bool": "boolean", "NoneType": "null", "tuple": "array",
}

_LANGUAGE_HINT = {
    "java": " Note that the provided function is in Java 8 SDK syntax.",
    "javascript": " Note that the provided function is in JavaScript syntax.",
}
_PYTHON_HINT = " Note that the provided function is in Python 3 syntax."
_FLOAT_HINT = " This is a float type value."


@dataclass(frozen=True)
class ToolSet:
    """Tools as sent, and ``names``: each sent name that differs from BFCL's, mapped to BFCL's name."""

    tools: list[dict[str, Any]]
    names: dict[str, str] = field(default_factory=dict)


def language_of(category: str) -> str:
    """``java``, ``javascript`` or ``python``: the language of a category's function documents."""
    return traits(category).doc_language


def sent_name(name: str, names: dict[str, str] | None) -> str:
    """The name a function was sent under, given a :class:`ToolSet` ``names`` map."""
    if names:
        for sent, original in names.items():
            if original == name:
                return sent
    return name


def bfcl_tools(functions: list[dict[str, Any]], category: str) -> ToolSet:
    """BFCL's OpenAI-style tools for ``functions`` of ``category``, and the map back to BFCL's names."""
    docs = _language_pre_processing(copy.deepcopy(functions), category)
    tools, names = [], {}
    for doc in docs:
        original = doc.get("name", "")
        doc["name"] = original.replace(".", "_")
        if doc["name"] != original:
            names[doc["name"]] = original
        parameters = doc.setdefault("parameters", {})
        parameters["type"] = "object"
        parameters["properties"] = _cast_properties(parameters.get("properties") or {})
        tools.append({"type": "function", "function": doc})
    return ToolSet(tools, names)


def _language_pre_processing(docs: list[dict[str, Any]], category: str) -> list[dict[str, Any]]:
    """BFCL's description hints; java/javascript parameters become strings typed in words."""
    # Only java and javascript are not Python (rest and sql functions are described in Python syntax too).
    language = language_of(category)
    hint = _LANGUAGE_HINT.get(language, _PYTHON_HINT)
    for doc in docs:
        doc["description"] = doc.get("description", "") + hint
        if language == "python":
            continue
        word = "Java" if language == "java" else "JavaScript"
        list_types = ("ArrayList", "Array") if language == "java" else ("array",)
        for prop in (doc.get("parameters", {}).get("properties") or {}).values():
            ptype = prop.get("type")
            text = prop.get("description", "")
            if ptype == "any":
                text += f" This parameter can be of any type of {word} object in string representation."
            else:
                text += f" This is {word} {ptype} type parameter in string representation."
            if ptype in list_types:
                items_type = (prop.pop("items", None) or {}).get("type")
                text += f" The list elements are of type {items_type}; they are not in string representation."
            if language == "javascript" and ptype == "dict" and "properties" in prop:
                schema = json.dumps(prop.pop("properties"))
                text += (" The dictionary entries have the following schema; they are not in string "
                         f"representation. {schema}")
            prop["description"] = text
            prop["type"] = "string"
    return docs


def _json_type(name: Any) -> str:
    return BFCL_TO_JSON_SCHEMA.get(name, "string") if isinstance(name, str) else "string"


def _cast_properties(properties: dict[str, Any]) -> dict[str, Any]:
    """BFCL's type cast: one level of ``items`` (two for arrays of arrays), ``properties`` recursively."""
    for prop in properties.values():
        if "type" not in prop:
            prop["type"] = "string"
        else:
            if prop["type"] == "float":
                prop["format"] = "float"
                prop["description"] = prop.get("description", "") + _FLOAT_HINT
            prop["type"] = _json_type(prop["type"])
        if prop["type"] not in ("array", "object"):
            continue
        if "properties" in prop:
            prop["properties"] = _cast_properties(prop["properties"])
        elif isinstance(prop.get("items"), dict) and "type" in prop["items"]:
            items = prop["items"]
            items["type"] = _json_type(items["type"])
            inner = items.get("items")
            if items["type"] == "array" and isinstance(inner, dict) and "type" in inner:
                inner["type"] = _json_type(inner["type"])
            elif items["type"] == "object" and "properties" in items:
                items["properties"] = _cast_properties(items["properties"])
    return properties


def lightllm_tools(functions: list[Any]) -> list[dict[str, Any]]:
    """LightLLM's tools: Python type names mapped wherever a ``type`` key holds one, names as they are."""
    tools = []
    for doc in functions:
        if isinstance(doc, str):
            doc = json.loads(doc)
        tools.append({"type": "function", "function": {
            "name": doc.get("name", ""),
            "description": doc.get("description", ""),
            "parameters": _lightllm_types(doc.get("parameters", {})),
        }})
    return tools


def _lightllm_types(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {key: (LIGHTLLM_TO_JSON_SCHEMA.get(value, value) if key == "type" and isinstance(value, str)
                      else _lightllm_types(value))
                for key, value in schema.items()}
    if isinstance(schema, list):
        return [_lightllm_types(item) for item in schema]
    return schema
