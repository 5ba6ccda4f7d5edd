"""How every command's ``--help`` reads: plain placeholders, and help text shown as written.

Typer labels an option's value with its Python type (``<str>``, ``<list[str]>``,
and ``<bool>`` even on a flag such as ``--help``). Each option here gets a
placeholder instead: the one its declaration names (``--set KEY=VALUE``), else
the kind of value it takes (TEXT, INTEGER, NUMBER, PATH, or the choices
``a|b``), and a flag none; an argument is named in capitals (``RUN_DIRS...``).
On the terminal Typer reads help text as rich markup, which would swallow
``[ray]`` in ``pip install 'glmbench[ray]'``: there every help text is escaped,
so it shows as written. The docs' command reference (``scripts/docgen.py``) reads
the same commands, unescaped.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

__all__ = ["tidy"]

_KINDS = {int: "INTEGER", float: "NUMBER", str: "TEXT", bool: "BOOLEAN", Path: "PATH"}


def _placeholder(param: Any) -> str:
    """What an option's value is called in help: its choices, else the kind of value (of each, for a list)."""
    described = getattr(param, "type_descriptor", None)
    if described is None:  # a Typer older than its type descriptors: click's own type
        return str(getattr(param.type, "name", "value")).split()[0].upper()
    if described.choices:
        return "|".join(str(getattr(choice, "value", choice)) for choice in described.choices)
    kind = described.annotation
    if typing.get_origin(kind) in (list, tuple):
        kind = next(iter(typing.get_args(kind)), str)
    if isinstance(kind, type) and issubclass(kind, Path):
        return "PATH"
    return _KINDS.get(kind, "VALUE")


def _argument_usage(param: Any) -> Any:
    """``RUN_DIRS...`` (required) or ``[FILE]`` (optional) in the usage line, as click writes them."""

    def pieces(ctx: Any) -> list[str]:
        name = param.metavar + ("..." if param.nargs != 1 else "")
        return [name if param.required else f"[{name}]"]

    return pieces


def _tidy_params(command: Any, terminal: bool) -> None:
    from rich.markup import escape

    for param in command.params:
        if param.param_type_name == "argument":
            if param.metavar is None:
                param.metavar = param.name.upper()
            # Its name says what it is; Typer would add the Python type beside it.
            param.display_type_rich = lambda ctx: None
            param.get_usage_pieces = _argument_usage(param)
        elif param.metavar is None:
            param.metavar = "" if param.is_flag or param.count else _placeholder(param)
        if terminal and param.help:
            param.help = escape(param.help)


def _flag_help_option(command: Any) -> None:
    """``--help`` is made when help is asked for, not declared: it gets no placeholder either, as a flag."""
    made = command.get_help_option

    def help_option(ctx: Any) -> Any:
        option = made(ctx)
        if option is not None and option.metavar is None:
            option.metavar = ""
        return option

    command.get_help_option = help_option


def tidy(command: Any, *, terminal: bool) -> Any:
    """``command`` and every command under it with plain placeholders (and, for the ``terminal``, help text
    escaped from rich markup); the same command, changed in place."""
    from rich.markup import escape

    _tidy_params(command, terminal)
    _flag_help_option(command)
    if terminal:
        command.help = escape(command.help) if command.help else command.help
        command.short_help = escape(command.short_help) if command.short_help else command.short_help
    for sub in getattr(command, "commands", {}).values():
        tidy(sub, terminal=terminal)
    return command
