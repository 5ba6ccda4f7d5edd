"""Commands whose options are the fields of an options model, and options that several commands share.

:func:`options_command` turns a function ``body(options: Model, *, own options...)``
into the Typer command: one option per field that carries a
:class:`~glmbench.util.flag.Flag` for the command (name, type and default from
the field; help, spelling and short form from the flag), the body's own options
(those that are not the model's, such as what server to start) placed among
them, and the model built from what was given before the body runs. Typer reads
a command's options from its signature, so the command's ``__signature__`` is
generated; nothing passes values on by ``locals()``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError

from glmbench.errors import GlmbenchError
from glmbench.util.flag import Flag, flag_of

__all__ = ["ApiKey", "BackendName", "ConfigName", "Endpoint", "ModelName", "Sets", "option_fields", "options_command"]

M = TypeVar("M", bound=BaseModel)
Body = Callable[..., None]

# The key is never an option of a model (no options object may carry it into a file): each command takes it beside.
ApiKey = Annotated[str | None, typer.Option(help="Bearer key; default $OPENAI_API_KEY. Never stored.",
                                            show_default=False, metavar="KEY")]

# The server of a command that evaluates one (bfcl, equivalence run): a running endpoint, or a backend to start.
Endpoint = Annotated[str | None, typer.Option(help="A running server (URL ending in /v1).", metavar="URL")]
BackendName = Annotated[str | None, typer.Option(help="Backend to start (or, with --endpoint, what it is).",
                                                 metavar="NAME")]
ConfigName = Annotated[str | None, typer.Option(help="Backend config: a name from configs/ or a YAML path.",
                                                metavar="NAME|PATH")]
Sets = Annotated[list[str] | None, typer.Option("--set", help="Override a backend config field: KEY=VALUE, dotted "
                                                "for nested; repeatable.", metavar="KEY=VALUE")]
ModelName = Annotated[str | None, typer.Option(help="Model name (default: the first at /v1/models) or path.",
                                               metavar="NAME|PATH")]


def option_fields(model: type[BaseModel], command: str) -> dict[str, Flag]:
    """The fields of ``model`` that are options of ``command``, in the model's order, with their flags."""
    taken = ((name, flag_of(info)) for name, info in model.model_fields.items())
    return {name: flag for name, flag in taken if flag is not None and flag.taken_by(command)}


def _parameter(model: type[BaseModel], name: str, flag: Flag) -> inspect.Parameter:
    """The Typer parameter of one field: ``name: Annotated[T, typer.Option(...)] = default``."""
    info = model.model_fields[name]
    kind: Any = flag.read_as or info.annotation
    if info.is_required():
        default: Any = inspect.Parameter.empty
    else:
        # A factory's default (an empty list) is the model's to make: the option says "not given" with None.
        default = None if info.default_factory is not None else info.default
    if default is None:
        kind = kind | None
    # Typer spells the name itself; an option spelt otherwise, or with a short form, is spelt in full.
    decls = [flag.spelling(name), *([flag.short] if flag.short else [])] if flag.name or flag.short else []
    option = typer.Option(*decls, help=flag.help, show_default=flag.show_default, metavar=flag.metavar)
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[kind, option])


def _aliases(model: type[BaseModel], name: str, flag: Flag) -> dict[str, inspect.Parameter]:
    """The older spellings of one field's option, as options of their own kept out of ``--help`` (the help shows
    one name per option), by the parameter name each is given under."""
    kind: Any = flag.read_as or model.model_fields[name].annotation
    kind = kind | None
    return {f"_{name}_as_{i}": inspect.Parameter(
                f"_{name}_as_{i}", inspect.Parameter.KEYWORD_ONLY, default=None,
                annotation=Annotated[kind, typer.Option(alias, hidden=True, help=f"The same as {flag.spelling(name)}.")])
            for i, alias in enumerate(flag.aliases)}


def _validated(model: type[M], values: dict[str, Any], command: str) -> M:
    """The model from the options given (None: not given, the model's default), a bad value named by its flag."""
    try:
        return model.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0])
        flag = option_fields(model, command)[field].spelling(field)
        message = err["msg"].removeprefix("Value error, ")
        if not message.startswith(flag):
            # As the option parser words its own errors, so every bad value reads alike.
            message = f"Invalid value for '{flag}': {message}"
        raise GlmbenchError(message, "fix the option named above") from None


def options_command(model: type[M], command: str, *,
                    before: Mapping[str, Sequence[str]] | None = None) -> Callable[[Body], Body]:
    """Make ``body(options, *, own...)`` the command ``command``, its options the fields of ``model`` and its own.

    ``before`` places the body's own options in ``--help``: ``{"workload":
    ("backend", "config")}`` shows ``--backend`` and ``--config`` just before
    ``--workload``; own options not placed come last. The body's parameters
    other than the first are its own options, declared as any Typer option.
    """
    placed = dict(before or {})

    def build(body: Body) -> Body:
        # eval_str: Typer needs the Annotated objects themselves, not the strings of postponed annotations.
        _, *own = inspect.signature(body, eval_str=True).parameters.values()
        own_by_name = {p.name: p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own}
        fields = option_fields(model, command)
        unknown = (set(placed) - set(fields)) | ({n for names in placed.values() for n in names} - set(own_by_name))
        if unknown:
            raise TypeError(f"{command}: before= names {sorted(unknown)}, not options of it")
        params: list[inspect.Parameter] = []
        alias_of: dict[str, str] = {}
        for name, flag in fields.items():
            params += [own_by_name.pop(n) for n in placed.get(name, ())]
            params.append(_parameter(model, name, flag))
            aliases = _aliases(model, name, flag)
            params += aliases.values()
            alias_of.update(dict.fromkeys(aliases, name))
        params += own_by_name.values()

        def run_command(**given: Any) -> None:
            values = {name: given.pop(name) for name in fields}
            for alias, name in alias_of.items():
                value = given.pop(alias)
                if value is not None and values[name] in (None, model.model_fields[name].default):
                    values[name] = value
            options = _validated(model, values, command)
            body(options, **given)

        run_command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        run_command.__name__, run_command.__qualname__ = body.__name__, body.__qualname__
        run_command.__doc__, run_command.__module__ = body.__doc__, body.__module__
        return run_command

    return build
