"""``glmbench parsers``: each backend's own glm47/glm45 parsers against glmbench's reference, as tables.

Rendering only: :func:`glmbench.api.parsers.run_conformance` does the work.
Parser output is model text: every piece of it is shown through
:func:`~glmbench.util.text.md_text` or :func:`~glmbench.util.text.one_line`.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from glmbench.util.text import md_text, one_line

__all__ = ["register", "conformance_tables"]


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
                what = f"crash: {one_line(d.crash, 200)}" if d.crash else \
                    f"{', '.join(d.fields)}: {one_line(json.dumps(d.got, ensure_ascii=False), 240)}"
                lines.append(f"- `{md_text(d.case_id)}` [{', '.join(d.modes)}] {md_text(what)}")
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
                def pct(n: int, total: int = e.total) -> str:
                    return f"{100.0 * n / total:.2f}% ({n})" if total else "-"
                lines.append(f"| {e.rules} | {md_text(e.category)} | {e.total} | {pct(e.reference_correct)} | "
                             f"{pct(e.backend_correct)} | {e.gained} | {e.lost} |")
            lines.append("")
    return lines


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
    format: Annotated[str, typer.Option("--format", help="md (tables) or json (everything).")] = "md",
    timeout: Annotated[float, typer.Option(help="Seconds a driver may take.")] = 900.0,
) -> None:
    """Check each backend's own glm47/glm45 parsers against glmbench's on the same raw GLM-4.7 replies."""
    from glmbench.api.parsers import run_conformance
    from glmbench.conformance.compare import MODES
    from glmbench.errors import GlmbenchError

    if format not in ("md", "json"):
        raise GlmbenchError(f"unknown format {format}", "use --format md or --format json")
    result = run_conformance(config or [], set_ or [], tokenizer, bfcl_data, bfcl, bfcl_limit, bfcl_run,
                             mode or MODES, timeout)
    if format == "json":
        data = {"tokenizer": result.tokenizer, "bfcl_source": result.bfcl_source, "cases": len(result.cases),
                "notes": result.notes, "backends": [asdict(b) for b in result.backends]}
        print(json.dumps(data, ensure_ascii=True, indent=1))
        return
    hand = sum(1 for c in result.cases if not c.kind.startswith("bfcl:"))
    from_bfcl = (f"{len(result.cases) - hand} from BFCL ({md_text(result.bfcl_source)})" if result.bfcl_source
                 else "no BFCL cases")
    print(f"{len(result.cases)} cases ({hand} hand-written, {from_bfcl}); tokenizer {md_text(result.tokenizer)}")
    for note in result.notes:
        print(f"* {md_text(note)}")
    print()
    print("\n".join(conformance_tables(result, show)))


def register(app: typer.Typer) -> None:
    app.command("parsers")(parsers)
