"""Reading YAML settings files and validating them, with errors that name the field path.

One loader for every file a user writes: experiment files, load suites, backend
configs, the simulator's settings and BFCL suites, read through
:func:`~glmbench.util.yamlsafe.load_yaml` (no alias bomb). A YAML mistake names
the file and the line; a validation mistake names each bad field as a dotted path
(``workloads.burst.request_rate: Input should be greater than 0``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from glmbench.errors import GlmbenchError
from glmbench.util.yamlsafe import load_yaml

__all__ = ["validation_message", "read_text", "parse_yaml", "read_yaml", "validate", "load_model"]

M = TypeVar("M", bound=BaseModel)


def validation_message(exc: ValidationError, where: str,
                       given: Callable[[tuple[Any, ...]], str | None] | None = None) -> str:
    """One line naming each bad field path and why.

    ``given`` names the option that set a field (``--num-prompts``, ``--set tp=0``), or None for one the
    file at ``where`` set: a value the user typed is named as they typed it, never as the field it became.
    """
    typed, parts = [], []
    for err in exc.errors():
        option = given(tuple(err["loc"])) if given is not None else None
        if option is not None:
            typed.append(f"{option}: {err['msg'].removeprefix('Value error, ')}")
            continue
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        parts.append(f"{loc}: {err['msg']}")
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
        raise GlmbenchError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}", "fix the file") from None


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
        raise GlmbenchError(validation_message(exc, where, given), hint) from None


def load_model(model: type[M], path: Path, what: str = "file", hint: str = "fix the field named above") -> M:
    """Read a YAML file and validate it as ``model``."""
    return validate(model, read_yaml(path, what) or {}, str(path), hint)
