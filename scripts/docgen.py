"""The docs site's reference pages, rendered from the code so they cannot drift from it.

``reference/cli.md`` comes from the Typer app (click's own view of every command:
usage, arguments, options with their defaults) and ``reference/metrics.md`` from
the metric registry (``glmbench/metrics/registry.py``: tag, summary-row keys,
title, unit, direction, description). Nothing generated is written into
``docs/``: MkDocs loads this file as a hook (``hooks:`` in ``mkdocs.yml``) and,
for each of those pages, builds the rendered text in place of the short note
that is committed under the same name (the note says where the page comes from
to someone reading the repository). ``python scripts/docgen.py DIR`` writes the
pages out to look at.

It lives outside the ``glmbench`` package because it reads the CLI, the top
layer, and the layers contract lets nothing below the CLI import it.
"""

from __future__ import annotations

import html
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["GENERATED", "cli_reference", "commands", "metrics_reference", "on_page_read_source"]


def _cell(text: str) -> str:
    """Text for a markdown table cell: one line, no HTML, no accidental emphasis or column break."""
    text = " ".join(html.escape(text, quote=False).split())
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*").replace("`", "\\`")


def _root() -> Any:
    """The click command behind ``glmbench``, every subcommand registered, placeholders as ``--help`` shows them."""
    from glmbench.cli import app as cli_app

    return cli_app.command()


def commands() -> Iterator[tuple[str, Any, Any]]:
    """Every command and group under ``glmbench`` as ``(path, command, context)``, depth first, in the
    order they are registered. Typer carries its own copy of click, so groups are told by their
    ``commands`` rather than by click's class."""

    def walk(command: Any, ctx: Any) -> Iterator[tuple[str, Any, Any]]:
        yield ctx.command_path, command, ctx
        for name, sub in getattr(command, "commands", {}).items():
            if not sub.hidden:
                yield from walk(sub, sub.make_context(name, [], parent=ctx, resilient_parsing=True))

    root = _root()
    yield from walk(root, root.make_context("glmbench", [], resilient_parsing=True))


def _params_table(command: Any, ctx: Any) -> list[str]:
    rows = []
    for param in command.get_params(ctx):
        if getattr(param, "hidden", False):
            continue
        record = param.get_help_record(ctx)
        if record is None:  # an argument without help: its name is all there is
            record = (param.metavar or param.name, "")
        names, text = record
        kind = "argument" if param.param_type_name == "argument" else "option"
        rows.append(f"| `{names.replace('`', '')}` | {kind} | {_cell(text)} |")
    if not rows:
        return []
    return ["| argument or option | kind | what it does |", "|---|---|---|", *rows]


def cli_reference() -> str:
    """Every command's help, usage, arguments and options as markdown, one section per command."""
    out = [
        "# Command reference",
        "",
        "Generated from the Typer app (`glmbench/cli/`) each time the site is built: every command, its",
        "usage, its arguments and its options with their defaults, as `glmbench COMMAND --help` prints",
        "them. The commands at a glance, with examples, are in the [README](../index.md#commands).",
        "",
    ]
    for path, command, ctx in commands():
        level = "#" * min(2 + path.count(" ") - 1, 4) if " " in path else "##"
        out += [f"{level} {path}", ""]
        if command.help:
            out += [" ".join(line.strip() for line in command.help.strip().splitlines()[:1]), ""]
            rest = command.help.strip().split("\n\n")[1:]
            for para in rest:
                out += [" ".join(para.split()), ""]
        out += ["```text", " ".join(command.get_usage(ctx).split()), "```", ""]
        subs = {n: s for n, s in getattr(command, "commands", {}).items() if not s.hidden}
        if subs:
            out += ["| command | what it does |", "|---|---|"]
            out += [f"| `{path} {name}` | {_cell(sub.get_short_help_str(limit=200))} |" for name, sub in subs.items()]
            out.append("")
        table = _params_table(command, ctx)
        if table:
            out += [*table, ""]
    return "\n".join(out)


def _better(better: str | None) -> str:
    return {"higher": "higher is better", "lower": "lower is better"}.get(better or "", "a fact, not a figure of merit")


def metrics_reference() -> str:
    """Every registered metric: tag, summary-row keys, title, unit, direction and description, as markdown."""
    from glmbench.metrics.base import ALL_STATS
    from glmbench.metrics.registry import ACCURACY, METRICS, lookup
    from glmbench.metrics.row import SummaryRow

    out = [
        "# Metric reference",
        "",
        "Generated from the metric registry (`glmbench/metrics/registry.py`) each time the site is built:",
        "every figure of a load run's summary row, in the row's order, with the name tables and plots give",
        "it, its unit, which direction is better and whether `glmbench compare` judges it. How each is",
        "measured is told in [Load runs and metrics](../load.md#what-is-measured-and-how).",
        "",
        f"A latency family is stored under `{{tag}}_ms_{{stat}}` for each statistic ({', '.join(ALL_STATS)});",
        "records keep raw nanoseconds and summaries milliseconds. Metrics not marked *always* appear only",
        "with SLOs, a speculative-decoding server or the load runner's extras.",
        "",
        "| tag | summary-row keys | title | unit | direction | compared | always | description |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in (*METRICS, ACCURACY):
        keys = f"`{m.tag}_ms_{{{','.join(m.stats)}}}`" if m.stats else f"`{m.tag}`"
        description = (getattr(m, "description", "") or (m.calc.description if m.calc else "")).strip()
        if m is ACCURACY:
            description = description or "a BFCL category's accuracy (percent of entries passed), and OVERALL's"
        if m.published:
            description = "; ".join(filter(None, [description, f"the published table's \"{m.published}\""]))
        out.append(f"| `{m.tag}` | {keys} | {_cell(m.title)} | {_cell(m.unit) or '-'} | {_better(m.better)} | "
                   f"{'yes' if m.compared else 'no'} | {'yes' if m.always else 'no'} | {_cell(description) or '-'} |")
    out += ["", "## The row's other fields", "",
            "Fields of the summary row that are no metric, described in its model (`glmbench/metrics/row.py`):",
            "", "| field | description |", "|---|---|"]
    out += [f"| `{name}` | {_cell(field.description)} |" for name, field in SummaryRow.model_fields.items()
            if field.description and lookup(name) is None]
    out.append("")
    return "\n".join(out)


GENERATED: dict[str, Callable[[], str]] = {
    "reference/cli.md": cli_reference,
    "reference/metrics.md": metrics_reference,
}
"""The generated pages, by their path under ``docs/``."""


def on_page_read_source(page: Any, config: Any) -> str | None:
    """MkDocs hook: a generated page's markdown, rendered now; None (read the file) for every other page."""
    render = GENERATED.get(page.file.src_uri)
    return render() if render else None


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python scripts/docgen.py OUT_DIR")
    for rel, render in GENERATED.items():
        target = Path(sys.argv[1]) / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render())
        print(target)
