"""The ``glmbench`` command and its one error boundary."""

from __future__ import annotations

import signal
import sys
from typing import Annotated, Any

import typer

from glmbench.errors import GlmbenchError
from glmbench.util.text import visible

__all__ = ["app", "command", "main"]

app = typer.Typer(
    name="glmbench",
    help="Benchmark and evaluation harness for GLM-4.7-Flash across serving backends.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Every command, its subcommands included, takes -h as --help.
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(given: bool) -> None:
    if given:
        from glmbench import __version__

        typer.echo(f"glmbench {__version__}")
        raise typer.Exit()


@app.callback()
def _glmbench(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print glmbench's version and exit.")] = False,
) -> None:
    """The options of ``glmbench`` itself, before a command (the help is the app's own)."""


def _register() -> None:
    from glmbench.cli import (
        bfcl,
        compare,
        data,
        equivalence,
        experiment,
        parsers,
        report,
        run,
        serve,
        sim,
        tiny_model,
    )

    run.register(app)
    sim.register(app)
    report.register(app)
    tiny_model.register(app)
    serve.register(app)
    bfcl.register(app)
    data.register(app)
    compare.register(app)
    experiment.register(app)
    equivalence.register(app)
    parsers.register(app)


def command(terminal: bool = False) -> Any:
    """The click command behind ``glmbench``, every subcommand registered, its help tidied
    (:func:`glmbench.cli.help.tidy`; ``terminal``: help text escaped from rich markup, as the terminal reads it)."""
    from glmbench.cli.help import tidy

    if not app.registered_commands:
        _register()
    return tidy(typer.main.get_command(app), terminal=terminal)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


# The option parser's error type: click's, which Typer may carry as its own copy.
_UsageErrors: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def _usage_error(exc: Exception) -> None:
    """The option parser's errors as the same two lines as every other mistake."""
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "glmbench"
    if type(exc).__name__ == "NoArgsIsHelpError":  # bare ``glmbench``: the help, as before
        print(exc.format_message(), file=sys.stderr)  # type: ignore[attr-defined]
        sys.exit(exc.exit_code)  # type: ignore[attr-defined]
    message = " ".join(exc.format_message().split())  # type: ignore[attr-defined]
    print(f"error: {visible(message)}", file=sys.stderr)
    print(f"next: see {command} --help", file=sys.stderr)
    sys.exit(exc.exit_code)  # type: ignore[attr-defined]


def main() -> None:
    """Entry point: user mistakes become one line and an exit code, never a traceback.

    SIGTERM (a CI job's timeout, ``kill``, Ray, Kubernetes) is taken as Ctrl-C, so a
    server that glmbench started is stopped either way and what was measured is
    kept. It is raised as an interrupt directly rather than passed on as SIGINT:
    a background job of a non-interactive shell starts with SIGINT ignored, and
    SIGTERM must stop it all the same. Inside the event loop
    (:func:`glmbench.util.loop.run_async`) SIGTERM cancels the main task as
    Ctrl-C does, so every command winds down the same way.
    """
    glmbench = command(terminal=True)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        code = glmbench(standalone_mode=False)
    except GlmbenchError as exc:
        # Server text (a log tail, an error body) can be part of the message: shown, never executed.
        print(f"error: {visible(exc.message, keep_newlines=True)}", file=sys.stderr)
        if exc.hint:
            print(f"next: {visible(exc.hint)}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except _UsageErrors as exc:
        _usage_error(exc)
    except (KeyboardInterrupt, typer.Abort):
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
