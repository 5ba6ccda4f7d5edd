"""The docs site: generated references that list everything, links that lead somewhere, examples that run.

``mkdocs build --strict`` (in .ci/run) checks the built site; these tests check
what the site is made of without MkDocs: the command and metric references
rendered from the code (``scripts/docgen.py``), every relative link in docs/
and README.md, each worked example of docs/extending.md run for real, and the
facts pages state about the code: the modules they name exist, the README's
import layers are pyproject.toml's.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import REPO

DOCS = REPO / "docs"
EXAMPLES = DOCS / "examples"


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    # Registered as imported modules are, so that pydantic can resolve the postponed annotations of its models.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _source(module: str) -> Path:
    """A module's file, found without importing it (a copy loaded from it reads the registries as they are now)."""
    spec = importlib.util.find_spec(module)
    assert spec and spec.origin
    return Path(spec.origin)


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
    # The row's described fields beside the metrics: the client's self-check among them.
    assert "client_flags" in rows and "offered_load" in rows["client_flags"] and "client_warning" in rows


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


def _dropped_in(package: ModuleType, example: str, tmp_path: Path, clear: Callable[[], None]) -> Iterator[None]:
    """An example module put where ``package``'s registry looks (its ``__path__``), then taken away."""
    shutil.copy(EXAMPLES / example, tmp_path / example)
    package.__path__.append(str(tmp_path))
    clear()
    try:
        yield
    finally:
        package.__path__.remove(str(tmp_path))
        sys.modules.pop(f"{package.__name__}.{Path(example).stem}", None)
        clear()


@pytest.fixture
def lengths_search(tmp_path: Path) -> Iterator[None]:
    from glmbench.experiment import searches

    yield from _dropped_in(searches, "lengths.py", tmp_path, searches.searches.cache_clear)


def test_the_example_search_kind_registers_and_plans_its_points(lengths_search: None) -> None:
    from pydantic import Field

    from glmbench.experiment.cells import cells
    from glmbench.experiment.file import Experiment, LoadSpec, ServerSpec
    from glmbench.experiment.searches import (
        adaptive_kinds,
        get_search,
        plans,
        registered,
    )

    search = get_search("lengths")
    assert [s.name for s in registered()] == ["ladder", "lengths", "sweep", "capacity"]
    assert "lengths" not in adaptive_kinds()

    class WithLengths(LoadSpec):
        """LoadSpec with the field the page adds to it in glmbench/experiment/file.py."""

        lengths: list[int] = Field(default_factory=list)

    experiment = Experiment(name="lengths", servers=[ServerSpec(backend="sim")], load=WithLengths(
        concurrency=[4], lengths=[128, 1024], options={"num_prompts": 20, "output_len": 16}))
    assert search.applies(experiment)
    assert not search.applies(Experiment(name="ladder", servers=[ServerSpec(backend="sim")],
                                         load=WithLengths(concurrency=[4])))
    (cell,) = cells(experiment)  # the plan every server runs: the ladder's point, then this search's
    assert [(p.label, p.kind) for p in cell.points] == [("c4", "load"), ("len128", "load"), ("len1024", "load")]
    for point, tokens in zip(cell.points[1:], (128, 1024)):
        assert point.options is not None
        assert (point.options.workload, point.options.dataset, point.options.input_len) == ("burst", "random", tokens)
        assert (point.options.output_len, point.options.num_prompts, point.options.max_concurrency) == (16, 20, None)
    # It decides nothing as it runs: no probe, no outcome, nothing of its own in --dry-run's account.
    assert search.next_probe(experiment, []) is None and search.outcome(experiment, []) is None
    assert search.describe(experiment) is None and plans(experiment) == [] and search.summary(None) == {}


def test_the_example_search_kind_is_gone_once_removed() -> None:
    from glmbench.experiment.searches import searches

    assert list(searches()) == ["ladder", "sweep", "capacity"]


@pytest.fixture
def capped_rules(tmp_path: Path) -> Iterator[None]:
    import glmbench.bfcl.rulesets as plugins
    from glmbench.bfcl import registry

    yield from _dropped_in(plugins, "capped.py", tmp_path, registry._found.cache_clear)


def _bfcl_entry(category: str, cities: list[str]) -> Any:
    from glmbench.bfcl.types import BFCLEntry

    weather = {"name": "get_weather", "description": "d", "parameters": {
        "type": "dict", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
    return BFCLEntry(f"{category}_0", category, [[{"role": "user", "content": "Weather?"}]], [weather],
                     [{"get_weather": {"city": [c]}} for c in cities])


def _bfcl_record(cities: list[str]) -> dict[str, Any]:
    return {"calls": [{"name": "get_weather", "arguments": {"city": c}} for c in cities], "text_calls": [],
            "names": {}, "error": None}


def test_the_example_rule_set_registers_judges_and_is_a_choice_of_the_cli(capped_rules: None) -> None:
    import typer
    import typer.testing

    from glmbench.bfcl.registry import get_rule_set, rule_set_names, rule_set_title
    from glmbench.bfcl.ruleset import RuleSet
    from glmbench.bfcl.runner import score_record
    from glmbench.bfcl.scoring import summarize
    from glmbench.bfcl.suite import BFCLSuite
    from glmbench.bfcl.types import Verdict

    assert rule_set_names() == ("lightllm", "bfcl", "bfcl-v4", "capped")
    assert isinstance(get_rule_set("capped"), RuleSet)
    assert rule_set_title("capped") == "BFCL v3 AST checker rules, at most 4 calls a reply"
    five = ["Paris", "Rome", "Oslo", "Lima", "Kyiv"]
    verdicts = score_record(_bfcl_record(five), _bfcl_entry("parallel", five))
    assert verdicts["bfcl"]["ok"] is True  # BFCL's rules pass five right calls ...
    assert verdicts["capped"] == {"ok": False, "reason": "5 calls in one reply, more than 4", "rules": "capped"}
    verdicts = score_record(_bfcl_record(["Paris"]), _bfcl_entry("simple", ["Paris"]))
    assert verdicts["capped"] == {"ok": True, "reason": "", "rules": "capped"}  # ... and it agrees under the cap
    rows = summarize({"parallel": [Verdict(False), Verdict(True)]}, "capped")
    assert (rows[0]["category"], rows[0]["accuracy"]) == ("parallel", 50.0)
    assert BFCLSuite(style="capped", scoring="capped").scoring == "capped"
    # The CLI's --style and --scoring take their choices from the registry when the module is imported: a fresh
    # copy of glmbench/cli/bfcl.py, imported now, offers the new one.
    cli = _load(_source("glmbench.cli.bfcl"), "docs_example_cli_bfcl")
    app = typer.Typer()
    cli.register(app)
    runner = typer.testing.CliRunner()
    shown = runner.invoke(app, ["rescore", "--help"], env={"COLUMNS": "250"})
    assert shown.exit_code == 0, shown.output
    assert "<lightllm|bfcl|bfcl-v4|capped>" in shown.output
    assert "capped (BFCL's checker, at most 4 calls a reply)." in shown.output
    refused = runner.invoke(app, ["rescore", "--scoring", "vibes", "."], env={"COLUMNS": "250"})
    assert refused.exit_code == 2 and "capped" in refused.output


def test_the_example_option_is_an_option_of_run_and_bench(monkeypatch: pytest.MonkeyPatch) -> None:
    import typer
    import typer.testing

    from glmbench.cli.options import option_fields
    from glmbench.load import options

    example = _load(EXAMPLES / "temperature.py", "docs_example_temperature")
    assert "temperature" not in options.RunOptions.model_fields
    for command in ("run", "bench"):
        assert list(option_fields(example.WithTemperature, command))[-1] == "temperature"
    # The real run and bench commands, built (as glmbench/cli/run.py builds them) from RunOptions with the field.
    monkeypatch.setattr(options, "RunOptions", example.WithTemperature)
    cli = _load(_source("glmbench.cli.run"), "docs_example_cli_run")
    app = typer.Typer()
    cli.register(app)
    runner = typer.testing.CliRunner()
    for command in ("run", "bench"):
        shown = runner.invoke(app, [command, "--help"], env={"COLUMNS": "250"})
        assert shown.exit_code == 0, shown.output
        assert "--temperature" in shown.output and "Sampling temperature of every request" in shown.output
    # The second edit: suite_and_workloads sets the suite's request temperature from it.
    monkeypatch.setattr(options, "_REQUEST", example.REQUEST)
    suite, _ = example.WithTemperature(temperature=0.7).suite_and_workloads()
    assert suite.request.temperature == 0.7
    assert example.WithTemperature().suite_and_workloads()[0].request.temperature == 0.0
    with pytest.raises(ValueError, match="temperature"):
        example.WithTemperature(temperature=-1)


# ---- facts the pages state


def test_every_module_path_the_pages_name_exists() -> None:
    """Modules move; a page that names ``glmbench/api/experiment.py`` after it moved would send readers nowhere."""
    named: dict[str, list[str]] = {}
    for page in _pages():
        for path in re.findall(r"(?<![\w./~-])((?:glmbench|tests|scripts|docs)/[\w/.-]*\.(?:py|yaml|md))\b",
                               page.read_text()):
            named.setdefault(path, []).append(str(page.relative_to(REPO)))
        for dotted in re.findall(r"\bglmbench(?:\.\w+)+", page.read_text()):
            module = dotted.replace(".", "/")
            if not any((REPO / f"{module}{tail}").exists() for tail in (".py", "/__init__.py")):
                module = module.rsplit("/", 1)[0]  # a name in a module: glmbench.api.experiment.run_experiment
                if not any((REPO / f"{module}{tail}").exists() for tail in (".py", "/__init__.py")):
                    named.setdefault(dotted, []).append(str(page.relative_to(REPO)))
    missing = {path: pages for path, pages in named.items() if not (REPO / path).exists()}
    assert not missing, "\n".join(f"{path}: named in {', '.join(sorted(set(p)))}" for path, p in missing.items())
    assert sum(p.startswith("glmbench/") for p in named) > 10


def test_the_readme_states_the_import_layers_pyproject_declares() -> None:
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    short = [[m.strip().removeprefix("glmbench.") for m in layer.split(":")] for layer in layers]
    stated = " -> ".join(names[0] if len(names) == 1 else "{" + ", ".join(names) + "}" for names in short)
    readme = " ".join((REPO / "README.md").read_text().split())
    assert f"`{stated}`" in readme, stated
