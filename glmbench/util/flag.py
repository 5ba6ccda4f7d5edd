"""How a field of an options model is given on the command line, declared beside the field itself.

A model field carries a :class:`Flag` in its ``Annotated`` metadata::

    num_prompts: Annotated[int | None, Flag("Prompts per workload.")] = None

and the CLI builds the command's option from the field: its name, type and
default from the field, the rest from the flag. So an option is one field in
one place, and the library model stays free of the CLI toolkit (this module
imports nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Flag", "flag_of"]


@dataclass(frozen=True)
class Flag:
    """A field's command-line option: its help and what differs from the field.

    ``name`` is the spelling when it is not the field's (``--timeout`` for
    ``timeout_s``); ``short`` a one-letter form (``-w``); ``commands`` the
    commands that take it, empty for every command built from the model;
    ``read_as`` the type the option parser reads when the field's own type is not
    one it can read (a JSON object as text), the model's validator converting it;
    ``aliases`` older spellings still taken (``--max-concurrency`` for
    ``--concurrency``); ``metavar`` the value's placeholder in help when the
    kind of value (TEXT, INTEGER) says too little (``KEY:MS``).
    """

    help: str
    name: str | None = None
    short: str | None = None
    commands: tuple[str, ...] = ()
    show_default: bool = True
    read_as: type | None = None
    aliases: tuple[str, ...] = ()
    metavar: str | None = None

    def spelling(self, field: str) -> str:
        """The option as a user types it: ``name``, or the field's name in kebab case."""
        return self.name or "--" + field.replace("_", "-")

    def taken_by(self, command: str) -> bool:
        """Whether ``command`` has this option."""
        return not self.commands or command in self.commands


def flag_of(field_info: Any) -> Flag | None:
    """The :class:`Flag` of a pydantic field (its ``FieldInfo``), or None for a field that is no option."""
    return next((m for m in getattr(field_info, "metadata", ()) if isinstance(m, Flag)), None)
