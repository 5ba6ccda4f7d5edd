"""Reading YAML settings files and validating them, with errors that name the field path.

One loader for every file a user writes: experiment files, load suites, backend
configs, the simulator's settings and BFCL suites, read through
:func:`~glmbench.util.yamlsafe.load_yaml` (no alias bomb). A YAML mistake names
the file and the line; a validation mistake names each bad field as a dotted path
(``workloads.burst.request_rate: Input should be greater than 0``).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from glmbench.errors import GlmbenchError, closest
from glmbench.util.yamlsafe import load_yaml

__all__ = ["FieldError", "validation_message", "read_text", "parse_yaml", "read_yaml", "validate", "load_model",
           "yaml_problem"]

M = TypeVar("M", bound=BaseModel)


class FieldError(ValueError):
    """A validator's error about fields below the one it checks (``options.categories`` of a suite entry).

    Each of ``errors`` is ``(path, message)``, the path relative to the field the validator checks (``""`` for
    that field itself): :func:`validation_message` names each at its whole path in the file.
    """

    def __init__(self, *errors: tuple[str, str]) -> None:
        super().__init__("; ".join(f"{path}: {message}" if path else message for path, message in errors))
        self.errors = list(errors)


def _unwrapped(kind: Any) -> Any:
    """``X`` of ``Annotated[X, ...]``, ``X | None`` or a union with one model among its members."""
    while True:
        origin = typing.get_origin(kind)
        if origin is typing.Annotated:
            kind = typing.get_args(kind)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(kind) if a is not type(None)]
            models = [a for a in members if isinstance(a, type) and issubclass(a, BaseModel)]
            if len(members) == 1 or len(models) == 1:
                kind = members[0] if len(members) == 1 else models[0]
            else:
                return kind
        else:
            return kind


def _fields_at(model: type[BaseModel] | None, loc: Sequence[Any]) -> list[str]:
    """The field names of the model found at ``loc`` in ``model`` (through lists and mappings), or []."""
    kind: Any = model
    for part in loc:
        kind = _unwrapped(kind)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            field = kind.model_fields.get(str(part))
            if field is None:
                return []
            kind = field.annotation
        elif typing.get_origin(kind) in (list, dict, tuple) and typing.get_args(kind):
            kind = typing.get_args(kind)[-1]
        else:
            return []
    kind = _unwrapped(kind)
    return list(kind.model_fields) if isinstance(kind, type) and issubclass(kind, BaseModel) else []


def _message(err: Any, model: type[BaseModel] | None) -> list[tuple[tuple[Any, ...], str]]:
    """Each bad field path of one pydantic error and why, in the words of the file (an unknown field names the
    likely one, not pydantic's "Extra inputs are not permitted"; a validator's :class:`FieldError` its fields)."""
    loc = tuple(err["loc"])
    if err["type"] == "extra_forbidden" and loc:
        known = _fields_at(model, loc[:-1])
        meant = closest(str(loc[-1]), known)
        shown = ", ".join(known[:8]) + (", ..." if len(known) > 8 else "")
        return [(loc, "unknown field" + (f"; did you mean {meant}?" if meant else f" (known: {shown})" if known else ""))]
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, FieldError):
        return [((*loc, *path.split(".")) if path else loc, text) for path, text in cause.errors]
    return [(loc, err["msg"].removeprefix("Value error, "))]


def validation_message(exc: ValidationError, where: str,
                       given: Callable[[tuple[Any, ...]], str | None] | None = None,
                       model: type[BaseModel] | None = None) -> str:
    """One line naming each bad field path and why.

    ``given`` names the option that set a field (``--num-prompts``, ``--set tp=0``), or None for one the
    file at ``where`` set: a value the user typed is named as they typed it, never as the field it became.
    ``model`` (the one validated) lets an unknown field name the likely one.
    """
    typed, parts = [], []
    for err in exc.errors():
        for loc, text in _message(err, model):
            option = given(loc) if given is not None else None
            if option is not None:
                typed.append(f"{option}: {text}")
                continue
            parts.append(f"{'.'.join(str(p) for p in loc) or '(top level)'}: {text}")
    # One option can set a field of many workloads: said once.
    return "; ".join([*dict.fromkeys(typed), *([f"{where}: " + "; ".join(parts)] if parts else [])])


def read_text(path: Path, what: str = "file") -> str:
    """A settings file's text; a missing or unreadable file is a user's mistake with the next step."""
    try:
        return Path(path).read_text()
    except FileNotFoundError:
        raise GlmbenchError(f"{what} not found: {path}", "check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GlmbenchError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}", "check the path") from None


def parse_yaml(text: str, path: Path) -> Any:
    """The YAML document in ``text``, read from ``path``; a syntax error or an alias bomb names the file."""
    try:
        return load_yaml(text, str(path))
    except yaml.YAMLError as exc:
        raise GlmbenchError(f"{path} is not valid YAML: {yaml_problem(exc)}", "fix the file") from None


def yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML syntax error in one line: where (line and column, from 1), what, and what it was inside."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if mark is None or not problem:
        return str(exc).splitlines()[0]
    context, started = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    inside = f" ({context}" + (f" from line {started.line + 1}, column {started.column + 1}" if started else "") + ")"
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" + (inside if context else "")


def read_yaml(path: Path, what: str = "file") -> Any:
    """A YAML document; a missing file or a syntax error is a user's mistake with the next step."""
    return parse_yaml(read_text(path, what), path)


def validate(model: type[M], data: Any, where: str, hint: str = "fix the field named above",
             given: Callable[[tuple[Any, ...]], str | None] | None = None) -> M:
    """``model`` from ``data``; a validation error names every bad field path (as the option that set it, where
    ``given`` names one: see :func:`validation_message`)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise GlmbenchError(validation_message(exc, where, given, model), hint) from None


def load_model(model: type[M], path: Path, what: str = "file", hint: str = "fix the field named above") -> M:
    """Read a YAML file and validate it as ``model``."""
    return validate(model, read_yaml(path, what) or {}, str(path), hint)
