"""``glmbench parsers``: each backend's own glm47/glm45 parsers against glmbench's reference, as tables.

Rendering only: :func:`glmbench.api.parsers.run_conformance` does the work.
Parser output is model text: every piece of it is shown through
:func:`~glmbench.util.text.rich_text` on the terminal, or
:func:`~glmbench.util.text.md_text` and :func:`~glmbench.util.text.one_line`
in markdown (``--format md``, what the docs show).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from glmbench.util.text import md_text, one_line, rich_text

__all__ = ["register", "conformance_tables", "conformance_console"]

_FORMATS = ("table", "md", "json")


def _cell(counts: dict[str, int] | None) -> str:
    if not counts:
        return "-"
    cell = f"{counts['agree']} / {counts['differ']}"
    return cell + (f" / {counts['crash']} crash" if counts["crash"] else "")


def conformance_tables(result: Any, show: int = 20) -> list[str]:
    """The markdown lines of the tables and the differing cases (what the command prints and README shows)."""
    from glmbench.conformance.compare import MODE_TITLES

    lines: list[str] = []
    for b in result.backends:
        lines.append(f"### {md_text(b.backend)} {md_text(b.version or '')} ({md_text(b.config)}): "
                     f"{md_text(b.parsers.get('tool') or '')} + {md_text(b.parsers.get('reasoning') or '')}")
        lines.append("")
        lines.append("agree / differ (/ crash) per mode; " + "; ".join(
            f"{m}: {MODE_TITLES[m]}" for m in b.modes))
        lines.append("")
        lines.append("| class | cases | " + " | ".join(b.modes) + " |")
        lines.append("|---|---:|" + "---:|" * len(b.modes))
        for row in b.rows:
            name = f"**{row.kind}**" if row.kind == "all" else md_text(row.kind)
            lines.append(f"| {name} | {row.cases} | " + " | ".join(_cell(row.counts.get(m)) for m in b.modes) + " |")
        lines.append("")
        if b.differences:
            lines.append(f"Differing cases ({len(b.differences)}, first {min(show, len(b.differences))}); "
                         "expected, then what the parser gave:")
            lines.append("")
            for d in b.differences[:show]:
                lines.append(f"- `{md_text(d.case_id)}` [{', '.join(d.modes)}] {md_text(_what(d))}")
                lines.append(f"  - expected: {md_text(one_line(json.dumps(d.expected, ensure_ascii=False), 240))}")
                if d.note:
                    lines.append(f"  - note: {md_text(d.note)}")
            lines.append("")
        if b.bfcl_effect:
            lines.append("BFCL effect: stored prompt-mode replies decoded by this backend's parser, "
                         "scored by glmbench's checkers, beside glmbench's own parse")
            lines.append("")
            lines.append("| rules | category | entries | glmbench parse | backend parse | gained | lost |")
            lines.append("|---|---|---:|---:|---:|---:|---:|")
            for e in b.bfcl_effect:
                lines.append(f"| {e.rules} | {md_text(e.category)} | {e.total} | {_pct(e.reference_correct, e.total)} | "
                             f"{_pct(e.backend_correct, e.total)} | {e.gained} | {e.lost} |")
            lines.append("")
    return lines


def _what(d: Any) -> str:
    """What the parser gave for a differing case: its crash, or the fields that differ and its parse."""
    if d.crash:
        return f"crash: {one_line(d.crash, 200)}"
    return f"{', '.join(d.fields)}: {one_line(json.dumps(d.got, ensure_ascii=False), 240)}"


def _pct(n: int, total: int) -> str:
    return f"{100.0 * n / total:.2f}% ({n})" if total else "-"


def conformance_console(result: Any, show: int = 20) -> list[Any]:
    """The same tables as :func:`conformance_tables`, as rich tables for the terminal (model text never markup)."""
    from rich.table import Table

    from glmbench.conformance.compare import MODE_TITLES

    out: list[Any] = []
    for b in result.backends:
        title = (f"{b.backend} {b.version or ''} ({b.config}): {b.parsers.get('tool') or ''} + "
                 f"{b.parsers.get('reasoning') or ''}")
        table = Table(title=rich_text(title), title_justify="left",
                      caption=rich_text("agree / differ (/ crash) per mode; "
                                        + "; ".join(f"{m}: {MODE_TITLES[m]}" for m in b.modes)), caption_justify="left")
        table.add_column("class")
        table.add_column("cases", justify="right")
        for mode in b.modes:
            table.add_column(mode, justify="right")
        for row in b.rows:
            table.add_row(rich_text(row.kind, "bold" if row.kind == "all" else ""), str(row.cases),
                          *(_cell(row.counts.get(m)) for m in b.modes))
        out.append(table)
        if b.differences:
            cases = Table(title=rich_text(f"Differing cases ({len(b.differences)}, first "
                                          f"{min(show, len(b.differences))})"), title_justify="left")
            for name in ("case", "modes", "the parser gave", "expected"):
                cases.add_column(name, overflow="fold")
            for d in b.differences[:show]:
                expected = one_line(json.dumps(d.expected, ensure_ascii=False), 240)
                cases.add_row(rich_text(d.case_id), ", ".join(d.modes), rich_text(_what(d)),
                              rich_text(expected + (f" (note: {d.note})" if d.note else "")))
            out.append(cases)
        if b.bfcl_effect:
            effect = Table(title=rich_text("BFCL effect: stored prompt-mode replies decoded by this backend's "
                                           "parser, scored by glmbench's checkers, beside glmbench's own parse"),
                           title_justify="left")
            for name in ("rules", "category", "entries", "glmbench parse", "backend parse", "gained", "lost"):
                effect.add_column(name, justify="left" if name in ("rules", "category") else "right")
            for e in b.bfcl_effect:
                effect.add_row(e.rules, rich_text(e.category), str(e.total), _pct(e.reference_correct, e.total),
                               _pct(e.backend_correct, e.total), str(e.gained), str(e.lost))
            out.append(effect)
    return out


def parsers(
    config: Annotated[Optional[list[str]], typer.Option(
        "--config", help="A backend config (repeatable): its launch.venv/python runs the driver, its "
        "tool_call_parser/reasoning_parser name the parsers.")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="KEY=VALUE over every config (repeatable).")] = None,
    tokenizer: Annotated[Optional[str], typer.Option(
        help="A GLM-4.7 tokenizer folder (default: the config's model folder).")] = None,
    bfcl_data: Annotated[Optional[str], typer.Option(help="A BFCL data folder (default: the cache, when there).")] = None,
    bfcl: Annotated[bool, typer.Option("--bfcl/--no-bfcl", help="Add one case per single-turn BFCL entry.")] = True,
    bfcl_limit: Annotated[Optional[int], typer.Option(min=1, help="At most this many BFCL cases per category.")] = None,
    bfcl_run: Annotated[Optional[Path], typer.Option(
        help="A stored prompt-mode BFCL run: rescore its replies through each backend's parser.")] = None,
    mode: Annotated[Optional[list[str]], typer.Option(
        help="whole, tokens, chunks (repeatable; default all).")] = None,
    show: Annotated[int, typer.Option(min=0, help="Differing cases to list per backend.")] = 20,
    format: Annotated[str, typer.Option("--format", "-f", metavar="FORMAT", help="table (on the terminal), "
                                        "md (the same tables as markdown) or json (everything).")] = "table",
    timeout: Annotated[float, typer.Option(help="Seconds a driver may take.")] = 900.0,
) -> None:
    """Check each backend's own glm47/glm45 parsers against glmbench's on the same raw GLM-4.7 replies."""
    from glmbench.api.parsers import run_conformance
    from glmbench.conformance.compare import MODES
    from glmbench.errors import GlmbenchError, did_you_mean

    if format not in _FORMATS:
        raise GlmbenchError(f"--format {format}: no such format{did_you_mean(format, _FORMATS)}",
                            f"use one of {', '.join(_FORMATS)}")
    result = run_conformance(config or [], set_ or [], tokenizer, bfcl_data, bfcl, bfcl_limit, bfcl_run,
                             mode or MODES, timeout)
    if format == "json":
        data = {"tokenizer": result.tokenizer, "bfcl_source": result.bfcl_source, "cases": len(result.cases),
                "notes": result.notes, "backends": [asdict(b) for b in result.backends]}
        print(json.dumps(data, ensure_ascii=True, indent=1))
        return
    hand = sum(1 for c in result.cases if not c.kind.startswith("bfcl:"))
    shown = md_text if format == "md" else str
    from_bfcl = (f"{len(result.cases) - hand} from BFCL ({shown(result.bfcl_source)})" if result.bfcl_source
                 else "no BFCL cases")
    head = [f"{len(result.cases)} cases ({hand} hand-written, {from_bfcl}); tokenizer {shown(result.tokenizer)}",
            *(f"* {shown(note)}" for note in result.notes)]
    if format == "md":
        print("\n".join([*head, "", *conformance_tables(result, show)]))
        return
    from glmbench.util.text import safe_console

    console = safe_console(width=140)
    for item in [*map(rich_text, head), *conformance_console(result, show)]:
        console.print(item)


def register(app: typer.Typer) -> None:
    app.command("parsers")(parsers)
