"""``run`` and ``bench`` take their run options from RunOptions' fields: a new field is a new option, in --help."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
import typer
import typer.testing
from pydantic import BaseModel, Field

from glmbench.cli.options import option_fields, options_command
from glmbench.load.options import RunOptions
from glmbench.util.flag import Flag, flag_of
from tests.conftest import run_cli

# The commands built from RunOptions.
COMMANDS = ("run", "bench")


def _click_command(name: str) -> Any:
    from glmbench.cli import app as cli_app

    if not cli_app.app.registered_commands:
        cli_app._register()
    return typer.main.get_command(cli_app.app).commands[name]  # type: ignore[attr-defined]


def test_every_run_option_is_an_option_of_a_command_built_from_it() -> None:
    """A field without a Flag would be an option that no command takes; a misspelt command takes it nowhere."""
    for name, info in RunOptions.model_fields.items():
        flag = flag_of(info)
        assert flag is not None, f"RunOptions.{name} has no Flag: give it one (its help on the command line)"
        assert set(flag.commands) <= set(COMMANDS), f"RunOptions.{name}: commands {flag.commands}"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_run_option_of_a_command_is_in_its_help(command: str) -> None:
    """What users read: each option of the command, spelt as its Flag says, in ``--help``, and no other."""
    res = run_cli(command, "--help")
    assert res.returncode == 0, res.stderr
    shown = {word for line in res.stdout.splitlines() for word in line.replace("│", " ").split()[:2]}
    for name, info in RunOptions.model_fields.items():
        flag = flag_of(info)
        assert flag is not None
        spelt = {flag.spelling(name), *([flag.short] if flag.short else [])}
        if flag.taken_by(command):
            assert spelt <= shown, f"{command} --help lacks {spelt - shown}"
        else:
            assert not spelt & shown, f"{command} --help shows {spelt & shown}, which it does not take"


@pytest.mark.parametrize("command", COMMANDS)
def test_each_option_is_its_field(command: str) -> None:
    """The option parser's view: name, short form, help and default come from the field and its Flag."""
    params = {p.name: p for p in _click_command(command).params}
    for name, flag in option_fields(RunOptions, command).items():
        option, info = params[name], RunOptions.model_fields[name]
        assert option.opts == [flag.spelling(name), *([flag.short] if flag.short else [])]
        assert option.help == flag.help
        assert option.show_default == flag.show_default
        assert option.default == (None if info.default_factory else info.default)


class Options(BaseModel):
    """A small options model, as RunOptions declares its fields."""

    suite: Annotated[str, Flag("Suite.")] = "sharegpt"
    warmup: Annotated[int | None, Field(ge=0), Flag("Requests sent first and not measured.")] = None
    only_run: Annotated[list[str], Flag("Run only.", name="--only", commands=("run",))] = Field(default_factory=list)


def test_an_option_is_one_field() -> None:
    """The contributor's path: a new field with a Flag is an option of the commands it names, given to the body."""
    seen: list[tuple[Options, dict[str, Any]]] = []

    @options_command(Options, "run", before={"warmup": ("endpoint",)})
    def run(options: Options, *, endpoint: Annotated[str | None, typer.Option(help="Server.")] = None) -> None:
        """Run."""
        seen.append((options, {"endpoint": endpoint}))

    @options_command(Options, "bench")
    def bench(options: Options) -> None:
        """Bench."""
        seen.append((options, {}))

    app = typer.Typer()
    app.command("run")(run)
    app.command("bench")(bench)
    runner = typer.testing.CliRunner()
    res = runner.invoke(app, ["run", "--warmup", "3", "--only", "a", "--endpoint", "http://x/v1"])
    assert res.exit_code == 0, res.output
    assert seen.pop() == (Options(warmup=3, only_run=["a"]), {"endpoint": "http://x/v1"})
    assert [p.name for p in typer.main.get_command(app).commands["run"].params] == [  # type: ignore[attr-defined]
        "suite", "endpoint", "warmup", "only_run"]
    assert runner.invoke(app, ["bench", "--only", "a"]).exit_code == 2  # not bench's
    assert runner.invoke(app, ["bench"]).exit_code == 0 and seen.pop() == (Options(), {})
    # A bad value is a user error naming its flag, as the option parser names its own.
    from glmbench.errors import GlmbenchError

    with pytest.raises(GlmbenchError, match=r"Invalid value for '--warmup'"):
        runner.invoke(app, ["bench", "--warmup", "-1"], catch_exceptions=False)


def test_a_misplaced_own_option_fails_when_the_command_is_declared() -> None:
    with pytest.raises(TypeError, match="not options of it"):
        @options_command(Options, "run", before={"workload": ("endpoint",)})
        def run(options: Options, *, endpoint: Annotated[str | None, typer.Option()] = None) -> None:
            """Run."""
