"""Hand-written edge cases: each raw reply with the parse it must give, one class per table row.

The classes: ``thinking`` (reasoning on and off, opened twice, never closed),
``call-position`` (a call right after ``</think>``, inside the reasoning, after
text, with thinking off), ``zero-args``, ``typed-args`` (string-typed numbers and
booleans, numbers, booleans, a string that looks like JSON), ``nested`` (objects
and arrays), ``unicode-escapes``, ``glm45-layout`` (GLM-4.5/4.6 newlines),
``several-calls``, ``malformed`` (cut off, unclosed, missing value, prose after
the tag, an unknown function), ``whitespace`` (at the edges, in names and keys).

Where a reply is broken, the expectation is glmbench's documented choice (the
block's text stays in the content, no call): a parser that recovers more or
less differs, and the table says so.
"""

from __future__ import annotations

from glmbench.conformance.corpus import (
    Case,
    Expected,
    ExpectedCall,
    plain_case,
    reply_case,
)

__all__ = ["TOOLS", "edge_cases"]


def _tool(name: str, properties: dict, required: list[str] | None = None, description: str = "") -> dict:
    return {"type": "function", "function": {
        "name": name, "description": description or f"{name} tool",
        "parameters": {"type": "object", "properties": properties, "required": required or []}}}


TOOLS: list[dict] = [
    _tool("get_weather", {
        "zip": {"type": "string", "description": "postal code, e.g. 75001"},
        "days": {"type": "integer"},
        "units": {"type": "string", "enum": ["metric", "imperial"]},
        "detailed": {"type": "boolean"},
        "threshold": {"type": "number"},
    }, ["zip"], "Weather forecast for a postal code."),
    _tool("get_time", {}, description="The current time; no arguments."),
    _tool("set_flag", {"flag": {"type": "string"}, "note": {"type": "string"}}, ["flag"]),
    _tool("search", {
        "query": {"type": "string"},
        "filters": {"type": "object", "properties": {"min": {"type": "integer"},
                                                     "tags": {"type": "array", "items": {"type": "string"}}}},
        "points": {"type": "array", "items": {"type": "object"}},
    }, ["query"]),
]

_W = "get_weather"


def _call(name: str, **arguments) -> ExpectedCall:
    return ExpectedCall(name, arguments)


def _thinking() -> list[Case]:
    k = "thinking"
    return [
        plain_case("thinking.on", k, TOOLS, "The user greets me. No tool is needed.", "Hello! How can I help?"),
        plain_case("thinking.off", k, TOOLS, None, "Hello! How can I help?", thinking=False),
        plain_case("thinking.empty-reasoning", k, TOOLS, None, "Straight to the answer."),
        reply_case("thinking.opened-again", k, "<think>I repeat the opening tag.</think>The answer.", TOOLS,
                   Expected("I repeat the opening tag.", "The answer.")),
        reply_case("thinking.never-closed", k, "I was still thinking when the tokens ran out", TOOLS,
                   Expected("I was still thinking when the tokens ran out", None),
                   note="cut off while reasoning: all reasoning"),
        reply_case("thinking.cut-inside-end-tag", k, "Almost done</thi", TOOLS,
                   Expected("Almost done</thi", None), note="cut off inside </think>"),
    ]


def _call_position() -> list[Case]:
    k = "call-position"
    weather = _call(_W, zip="75001", days=3)
    body = "<tool_call>get_weather<arg_key>zip</arg_key><arg_value>75001</arg_value>" \
           "<arg_key>days</arg_key><arg_value>3</arg_value></tool_call>"
    return [
        plain_case("call.after-think", k, TOOLS, "I need the forecast.", None, [weather]),
        reply_case("call.inside-reasoning", k, "I need the forecast, so I call the tool." + body, TOOLS,
                   Expected("I need the forecast, so I call the tool.", None, (weather,)),
                   note="a <tool_call> before </think> ends the reasoning (DESIGN.md section 7)"),
        reply_case("call.inside-reasoning-then-think-end", k, "Calling now." + body + "</think>", TOOLS,
                   Expected("Calling now.", "</think>", (weather,)),
                   note="the reasoning already ended at <tool_call>: a later </think> is answer text"),
        plain_case("call.after-text", k, TOOLS, "I need the forecast.", "Let me check the weather.", [weather]),
        plain_case("call.thinking-off", k, TOOLS, None, None, [weather], thinking=False),
        plain_case("call.thinking-off-after-text", k, TOOLS, None, "Checking.", [weather], thinking=False),
    ]


def _zero_args() -> list[Case]:
    k = "zero-args"
    return [
        plain_case("zero-args.bare", k, TOOLS, "Time is needed.", None, [_call("get_time")]),
        reply_case("zero-args.newline", k, "Time is needed.</think><tool_call>get_time\n</tool_call>", TOOLS,
                   Expected("Time is needed.", None, (_call("get_time"),))),
        plain_case("zero-args.then-call", k, TOOLS, "Two calls.", None,
                   [_call("get_time"), _call(_W, zip="10001")]),
    ]


def _typed_args() -> list[Case]:
    k = "typed-args"
    return [
        plain_case("typed.string-zip", k, TOOLS, "Zip codes are strings.", None, [_call(_W, zip="75001")],
                   note="a string-typed value spelled as a number stays a string"),
        plain_case("typed.string-zero-padded", k, TOOLS, "Leading zero.", None, [_call(_W, zip="02134")]),
        plain_case("typed.string-true", k, TOOLS, "A string flag.", None, [_call("set_flag", flag="true")]),
        plain_case("typed.string-null", k, TOOLS, "A string that says null.", None,
                   [_call("set_flag", flag="null", note="1.5")]),
        plain_case("typed.integer-boolean-number", k, TOOLS, "Typed values.", None,
                   [_call(_W, zip="75001", days=7, detailed=True, threshold=2.5)]),
        plain_case("typed.enum", k, TOOLS, "An enum.", None, [_call(_W, zip="75001", units="metric")]),
        plain_case("typed.string-json-text", k, TOOLS, "JSON-looking text.", None,
                   [_call("set_flag", flag="[1, 2]", note='{"a": 1}')]),
        plain_case("typed.string-spaces", k, TOOLS, "Spaces are part of the value.", None,
                   [_call("set_flag", flag="  padded  ")], note="a string value keeps its spaces"),
    ]


def _nested() -> list[Case]:
    k = "nested"
    return [
        plain_case("nested.object", k, TOOLS, "Filters.", None,
                   [_call("search", query="shoes", filters={"min": 2, "tags": ["red", "wide"]})]),
        plain_case("nested.array-of-objects", k, TOOLS, "Points.", None,
                   [_call("search", query="map", points=[{"x": 1, "y": -2.5}, {"x": 0, "label": None}])]),
        plain_case("nested.empty", k, TOOLS, "Empty containers.", None,
                   [_call("search", query="all", filters={}, points=[])]),
    ]


def _unicode() -> list[Case]:
    k = "unicode-escapes"
    return [
        plain_case("unicode.text", k, TOOLS, "Städte: Zürich, 東京.", "Voilà — 🚀",
                   [_call("search", query="Zürich 東京 🚀")]),
        plain_case("unicode.escapes", k, TOOLS, "Quotes and backslashes.", None,
                   [_call("set_flag", flag='say "hi"\\n', note="C:\\path\\to\\file\tand a tab")]),
        plain_case("unicode.newline-in-value", k, TOOLS, "Two lines.", None,
                   [_call("set_flag", flag="line one\nline two")]),
        plain_case("unicode.markup-in-value", k, TOOLS, "Markup.", None,
                   [_call("set_flag", flag="<b>bold</b> & <i>x</i>")]),
        plain_case("unicode.nested-unicode", k, TOOLS, "Tags.", None,
                   [_call("search", query="q", filters={"tags": ["ü", "日本", "\u00a0nbsp"]})]),
    ]


def _glm45_layout() -> list[Case]:
    k = "glm45-layout"
    one = ("<tool_call>get_weather\n<arg_key>zip</arg_key>\n<arg_value>75001</arg_value>\n"
           "<arg_key>days</arg_key>\n<arg_value>3</arg_value>\n</tool_call>")
    return [
        reply_case("glm45.one-call", k, "Forecast needed.</think>\n" + one, TOOLS,
                   Expected("Forecast needed.", None, (_call(_W, zip="75001", days=3),))),
        reply_case("glm45.two-calls", k, "Two.</think>\n" + one + "\n" + one.replace("75001", "10001"), TOOLS,
                   Expected("Two.", None, (_call(_W, zip="75001", days=3), _call(_W, zip="10001", days=3)))),
        reply_case("glm45.zero-args", k, "Time.</think>\n<tool_call>get_time\n</tool_call>", TOOLS,
                   Expected("Time.", None, (_call("get_time"),))),
        reply_case("glm45.thinking-off", k, one, TOOLS, Expected(None, None, (_call(_W, zip="75001", days=3),)),
                   thinking=False),
    ]


def _several() -> list[Case]:
    k = "several-calls"
    return [
        plain_case("several.two-same", k, TOOLS, "Two cities.", None,
                   [_call(_W, zip="75001"), _call(_W, zip="10001")]),
        plain_case("several.three-mixed", k, TOOLS, "Three tools.", "On it.",
                   [_call("get_time"), _call(_W, zip="75001", days=2), _call("set_flag", flag="on")]),
        reply_case("several.newline-between", k,
                   "Two.</think><tool_call>get_time</tool_call>\n<tool_call>set_flag<arg_key>flag</arg_key>"
                   "<arg_value>x</arg_value></tool_call>", TOOLS,
                   Expected("Two.", None, (_call("get_time"), _call("set_flag", flag="x")))),
    ]


def _malformed() -> list[Case]:
    k = "malformed"
    cut = "<tool_call>get_weather<arg_key>zip</arg_key><arg_value>750"
    unclosed = "<tool_call>get_weather<arg_key>zip</arg_key><arg_value>75001</arg_value>"
    no_value = "<tool_call>get_weather<arg_key>zip</arg_key></tool_call>"
    prose = "<tool_call> is the tag I would use, but I will not call anything."
    return [
        reply_case("malformed.cut-in-value", k, "Calling.</think>" + cut, TOOLS, Expected("Calling.", cut),
                   note="cut off inside a value: no call, the text is content"),
        reply_case("malformed.no-close-tag", k, "Calling.</think>" + unclosed, TOOLS,
                   Expected("Calling.", unclosed), note="no </tool_call>: no call"),
        reply_case("malformed.key-without-value", k, "Calling.</think>" + no_value, TOOLS,
                   Expected("Calling.", no_value), note="a key with no value: no call"),
        reply_case("malformed.prose-after-tag", k, "Explaining.</think>" + prose, TOOLS,
                   Expected("Explaining.", prose), note="prose after <tool_call> is no name"),
        plain_case("malformed.unknown-function", k, TOOLS, "A function not offered.", None,
                   [_call("delete_everything", confirm=True)],
                   note="a well-formed call to a function not in tools is still a call"),
        reply_case("malformed.good-then-cut", k,
                   "Two.</think><tool_call>get_time</tool_call>" + cut, TOOLS,
                   Expected("Two.", cut, (_call("get_time"),)), note="the whole call is kept, the cut one is text"),
    ]


def _whitespace() -> list[Case]:
    k = "whitespace"
    return [
        reply_case("space.edges", k,
                   "\n\n  Padded reasoning.  \n</think>\n\n<tool_call>get_time</tool_call>\n\n", TOOLS,
                   Expected("Padded reasoning.", None, (_call("get_time"),))),
        reply_case("space.answer-edges", k, "Think.</think>\n\n  The answer.  \n", TOOLS,
                   Expected("Think.", "The answer.")),
        reply_case("space.around-name", k,
                   "Call.</think><tool_call> get_weather <arg_key>zip</arg_key><arg_value>75001</arg_value>"
                   "</tool_call>", TOOLS, Expected("Call.", None, (_call(_W, zip="75001"),))),
        reply_case("space.around-key", k,
                   "Call.</think><tool_call>get_weather<arg_key> zip </arg_key><arg_value>75001</arg_value>"
                   "</tool_call>", TOOLS, Expected("Call.", None, (_call(_W, zip="75001"),))),
        reply_case("space.between-pairs", k,
                   "Call.</think><tool_call>get_weather <arg_key>zip</arg_key> <arg_value>75001</arg_value> "
                   "<arg_key>days</arg_key>  <arg_value>2</arg_value> </tool_call>", TOOLS,
                   Expected("Call.", None, (_call(_W, zip="75001", days=2),))),
    ]


def edge_cases() -> list[Case]:
    """Every hand-written case, in table order."""
    return [*_thinking(), *_call_position(), *_zero_args(), *_typed_args(), *_nested(), *_unicode(),
            *_glm45_layout(), *_several(), *_malformed(), *_whitespace()]
