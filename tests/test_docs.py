"""The docs site: generated references that list everything, links that lead somewhere, examples that run.

``mkdocs build --strict`` (in .ci/run) checks the built site; these tests check
what the site is made of without MkDocs: the command and metric references
rendered from the code (``scripts/docgen.py``), every relative link in docs/
and README.md, and each worked example of docs/extending.md run for real.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
import unicodedata
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import REPO

DOCS = REPO / "docs"
EXAMPLES = DOCS / "examples"


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def docgen() -> ModuleType:
    return _load(REPO / "scripts" / "docgen.py", "glmbench_docgen")


# ---- the generated references


def test_the_command_reference_lists_every_command_and_option(docgen: ModuleType) -> None:
    page = docgen.cli_reference()
    headings = set(re.findall(r"^#{2,4} (glmbench.*)$", page, re.MULTILINE))
    paths = [path for path, _, _ in docgen.commands()]
    assert {"glmbench run", "glmbench bench", "glmbench experiment run", "glmbench data fetch"} <= set(paths)
    assert set(paths) == headings
    sections = re.split(r"^#{2,4} (?=glmbench)", page, flags=re.MULTILINE)[1:]
    by_path = {s.split("\n", 1)[0]: s for s in sections}
    for path, command, ctx in docgen.commands():
        section = by_path[path]
        for param in command.get_params(ctx):
            if getattr(param, "hidden", False):
                continue
            if param.param_type_name == "argument":
                assert f"| `{param.metavar or param.name}" in section, (path, param.name)
            else:
                assert all(f"{opt}" in section for opt in param.opts), (path, param.name)


def test_the_metric_reference_lists_every_metric(docgen: ModuleType) -> None:
    from glmbench.metrics.registry import ACCURACY, METRICS

    page = docgen.metrics_reference()
    rows = {line.split("|")[1].strip(" `"): line for line in page.splitlines() if line.startswith("| `")}
    for m in (*METRICS, ACCURACY):
        assert m.tag in rows, m.tag
        assert m.title in rows[m.tag] and (m.unit in rows[m.tag])
        if m.calc is not None:
            assert " ".join(m.calc.description.split())[:40] in rows[m.tag]
    assert "lower is better" in rows["ttft"] and "higher is better" in rows["output_tok_s"]


def test_each_generated_page_has_its_note_in_the_repository(docgen: ModuleType) -> None:
    """The build renders them in place of a committed note, so links to them work in the repository too."""
    for rel in docgen.GENERATED:
        note = (DOCS / rel).read_text()
        assert "generated" in note and "scripts/docgen.py" in note, rel


# ---- links


def _slug(heading: str) -> str:
    """The anchor of a heading as MkDocs (Python-Markdown's toc) and GitHub both make it, for plain headings."""
    text = unicodedata.normalize("NFKD", re.sub(r"`|\*", "", heading))
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def _anchors(text: str) -> set[str]:
    lines, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return {_slug(m) for m in re.findall(r"^#{1,6} (.+?)\s*$", "\n".join(lines), re.MULTILINE)}


def _links(text: str) -> list[str]:
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    text = re.sub(r"`[^`\n]*`", "", text)
    return re.findall(r"\]\(([^)\s]+)\)", text)


def _pages() -> list[Path]:
    return [REPO / "README.md", *sorted(p for p in DOCS.rglob("*.md") if EXAMPLES not in p.parents)]


def test_every_internal_link_leads_to_a_page_and_heading_that_exist(docgen: ModuleType) -> None:
    generated = {DOCS / rel: render() for rel, render in docgen.GENERATED.items()}
    broken, checked = [], 0
    for page in _pages():
        text = generated.get(page) or page.read_text()
        for link in _links(text):
            if re.match(r"[a-z]+:", link):
                continue  # http(s), mailto: not ours to check offline
            target, _, anchor = link.partition("#")
            path = (page.parent / target).resolve() if target else page
            checked += 1
            if not path.is_file():
                broken.append(f"{page.relative_to(REPO)}: {link} (no such file)")
            elif anchor and path.suffix == ".md":
                body = generated.get(path) or path.read_text()
                if anchor not in _anchors(body):
                    broken.append(f"{page.relative_to(REPO)}: {link} (no heading #{anchor})")
    assert not broken, "\n".join(broken)
    assert checked > 30


def test_every_docs_page_is_in_the_site_nav() -> None:
    nav = (REPO / "mkdocs.yml").read_text()
    for page in _pages()[1:]:
        assert f": {page.relative_to(DOCS)}" in nav, page


def test_readme_keeps_the_two_commands_and_ci_runs_its_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    install = ("python3 -m venv .venv && . .venv/bin/activate && python -m pip install -c constraints.txt -e . "
               "&& glmbench run --backend sim --workload all --num-prompts 200")
    test = "python -m pip install -c constraints.txt -e '.[test]' && python -m pytest"
    assert f"```bash\n{install}\n```" in readme and f"```bash\n{test}\n```" in readme
    ci = (REPO / ".ci" / "run").read_text().rstrip().splitlines()
    assert ci[-1] == test
    assert any(line.startswith("mkdocs build --strict") for line in ci)


# ---- the worked examples of docs/extending.md


def test_the_example_backend_registers_and_builds_its_launch_command(tmp_path: Path) -> None:
    from glmbench.backends import builtin
    from glmbench.backends.config import load_backend_config
    from glmbench.backends.launch import plan_launch
    from glmbench.backends.registry import backends, get_backend

    shutil.copy(EXAMPLES / "myserver.py", tmp_path / "myserver.py")
    builtin.__path__.append(str(tmp_path))
    backends.cache_clear()
    try:
        backend = get_backend("myserver")
        assert "myserver" in backends() and "vllm" in backends()
        cfg = load_backend_config(str(EXAMPLES / "myserver.yaml"))
        plan = plan_launch(backend, cfg)
    finally:
        builtin.__path__.remove(str(tmp_path))
        sys.modules.pop(f"{builtin.__name__}.myserver", None)
        backends.cache_clear()
    assert plan.command == [
        sys.executable, "-m", "myserver.serve", "--model", "zai-org/GLM-4.7-Flash",
        "--served-model-name", "glm-4.7-flash", "--host", "127.0.0.1", "--port", str(plan.port),
        "--tensor-parallel-size", "4", "--tool-call-parser", "glm47", "--reasoning-parser", "glm45",
    ]
    assert plan.base_url == f"http://127.0.0.1:{plan.port}/v1"
    assert "myserver" not in backends()


def test_the_example_metric_computes_from_records(docgen: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    from glmbench.metrics import registry
    from glmbench.results.records import RequestRecord

    example = _load(EXAMPLES / "decode_time.py", "docs_example_decode_time")

    def record(i: int, chunks_ms: list[float], ok: bool = True) -> RequestRecord:
        return RequestRecord("burst", i, 10, 8, due_ns=0, send_ns=0, wire_ns=1,
                             chunk_ns=[int(c * 1e6) for c in chunks_ms], ok=ok, output_tokens=len(chunks_ms))

    records = [record(0, [1, 3, 5]), record(1, [2, 8]), record(2, [4]), record(3, [1, 100], ok=False)]
    summary = example.DecodeTime().summarize(records)
    assert summary["decode_ms_mean"] == pytest.approx(5.0) and summary["decode_ms_max"] == pytest.approx(6.0)
    assert set(summary) == set(example.DECODE.keys)
    assert example.DECODE.label("p99") == "decode time p99 (ms)" and example.DECODE.better == "lower"
    assert example.DECODE.tag not in {m.tag for m in registry.METRICS}
    # Declared in the registry, it is in the generated reference with its description.
    monkeypatch.setattr(registry, "METRICS", (*registry.METRICS, example.DECODE))
    assert "| `decode` | `decode_ms_{mean,p50,p90,p99,std,max}` | decode time | ms | lower is better" in (
        docgen.metrics_reference())


def test_the_example_bfcl_category_is_known(monkeypatch: pytest.MonkeyPatch) -> None:
    from glmbench.bfcl import categories

    example = _load(EXAMPLES / "bfcl_category.py", "docs_example_bfcl_category")
    row = example.SIMPLE_UNITS
    assert row.name not in categories.TABLE
    monkeypatch.setattr(categories, "_ROWS", (*categories._ROWS, row))
    monkeypatch.setitem(categories.TABLE, row.name, row)
    categories._check_table()  # the table still holds together
    assert categories.traits(row.name) is row
    assert row.file_name == "BFCL_v3_simple_units.json" and row.answer == "calls" and row.doc_language == "python"
    assert not row.multi_turn and not row.relevance_only and categories.not_run_reason(row.name) is None
    assert all(row.name not in categories.in_group(g) for g in categories.GROUPS)
