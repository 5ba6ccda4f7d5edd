"""Parser conformance: run each backend's own glm47/glm45 parsers over the corpus, and rescore BFCL through them.

:func:`run_conformance` returns a :class:`ConformanceResult` and never prints. A
backend is named by a config (``vllm-cpu-tiny``) whose ``launch.venv`` or
``launch.python`` is the interpreter the launcher would use, and whose
``tool_call_parser``/``reasoning_parser`` name the parsers; the driver runs there.
The corpus is the hand-written edge cases plus, when BFCL data is found, one reply
per single-turn BFCL entry rendered from its ground truth.

With ``bfcl_run``, a stored prompt-mode BFCL run (its records keep each raw
completion) is decoded again by each backend's parser and scored by glmbench's
checkers, beside glmbench's own parse of the same text: the points a backend's
parser would cost or win on those replies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glmbench.api.launch import Launch, resolve_config
from glmbench.backends.config import BackendConfig
from glmbench.backends.launch import backend_python
from glmbench.conformance.compare import MODES, ClassRow, Difference, differences, table
from glmbench.conformance.corpus import Case, ground_truth_case, plain_case
from glmbench.conformance.driver import DriverAnswer, run_driver
from glmbench.conformance.edge_cases import edge_cases
from glmbench.errors import GlmbenchError

__all__ = ["ConformanceResult", "BackendConformance", "BFCLEffectRow", "run_conformance", "bfcl_cases"]

_TOKENIZER_HINT = ("pass --tokenizer DIR, a GLM-4.7 tokenizer folder (glmbench tiny-model ./models/tiny-glm "
                   "builds one with GLM-4.7's special tokens)")


@dataclass(frozen=True)
class BFCLEffectRow:
    """One category (or ``OVERALL``) under one rule set: glmbench's parse vs the backend's, on the same replies."""

    backend: str
    rules: str
    category: str
    total: int
    reference_correct: int
    backend_correct: int
    gained: int  # entries the backend's parse passes and glmbench's fails
    lost: int  # entries glmbench's parse passes and the backend's fails


@dataclass
class BackendConformance:
    """One backend's answer: where it ran, its version and parser classes, the table and the differing cases."""

    backend: str
    config: str
    python: str
    version: str | None
    parsers: dict[str, Any]
    modes: tuple[str, ...]
    rows: list[ClassRow]
    differences: list[Difference]
    bfcl_effect: list[BFCLEffectRow] = field(default_factory=list)


@dataclass
class ConformanceResult:
    """Every backend's conformance over one corpus."""

    cases: list[Case]
    tokenizer: str
    bfcl_source: str | None
    backends: list[BackendConformance]
    notes: list[str] = field(default_factory=list)


def _config(name: str, sets: Sequence[str]) -> BackendConfig:
    cfg = resolve_config(Launch(config=name, sets=list(sets)))
    if cfg.launch.kind != "local":
        raise GlmbenchError(f"the {name} config launches a {cfg.launch.kind} server: its parsers run elsewhere",
                            "pass a config with launch.kind local and launch.venv (or launch.python) set")
    return cfg


def _tokenizer(given: str | None, configs: Sequence[BackendConfig]) -> str:
    if given:
        path = Path(given).expanduser()
        if not (path / "tokenizer.json").is_file() and not (path / "tokenizer_config.json").is_file():
            raise GlmbenchError(f"no tokenizer in {given}", _TOKENIZER_HINT)
        return str(path.resolve())
    for cfg in configs:
        path = Path(cfg.model).expanduser()
        if (path / "tokenizer.json").is_file():
            return str(path.resolve())
    raise GlmbenchError("the parsers need a GLM-4.7 tokenizer and no config's model folder has one", _TOKENIZER_HINT)


def bfcl_cases(categories: Sequence[str] | None = None, data_dir: str | None = None, source: str = "auto",
               limit: int | None = None) -> tuple[list[Case], str]:
    """One case per single-turn BFCL entry: its ground truth rendered as GLM-4.7 writes calls (BFCL's own tools).

    Categories judged on making no call get a plain answer. Returns the cases and
    where the data came from.
    """
    from glmbench.bfcl.categories import NAMES, traits
    from glmbench.bfcl.convert import bfcl_tools, sent_name
    from glmbench.bfcl.data import load_bfcl

    wanted = [c for c in (categories or NAMES) if traits(c).answer in ("calls", "none")]
    entries, info = load_bfcl(wanted, "dir" if data_dir else source, data_dir)
    cases: list[Case] = []
    seen: dict[str, int] = {}
    for entry in entries:
        seen[entry.category] = seen.get(entry.category, 0) + 1
        if limit and seen[entry.category] > limit:
            continue
        toolset = bfcl_tools(entry.function, entry.category)
        first = entry.question[0][0] if entry.question and entry.question[0] else {}
        user = str(first.get("content", ""))
        kind = f"bfcl:{entry.category}"
        if traits(entry.category).answer == "none":
            cases.append(plain_case(f"bfcl.{entry.id}", kind, toolset.tools, "No function fits the question.",
                                    "None of the functions I have can answer that.", user=user))
            continue
        truth = [(sent_name(name, toolset.names), params) for name, params in _ground_truth(entry)]
        cases.append(ground_truth_case(f"bfcl.{entry.id}", kind, toolset.tools, truth, user))
    return cases, info.source


def _ground_truth(entry: Any) -> list[tuple[str, dict[str, Any]]]:
    truth = entry.ground_truth
    if isinstance(truth, dict):
        truth = [truth]
    out = []
    for item in truth or []:
        if isinstance(item, dict):
            for name, params in item.items():
                out.append((name, params if isinstance(params, dict) else {}))
    return out


def run_conformance(configs: Sequence[str], sets: Sequence[str] = (), tokenizer: str | None = None,
                    bfcl_data: str | None = None, bfcl: bool = True, bfcl_limit: int | None = None,
                    bfcl_run: Path | None = None, modes: Sequence[str] = MODES,
                    timeout_s: float = 900.0) -> ConformanceResult:
    """Each config's backend parsers over the corpus (and ``bfcl_run``'s stored replies); nothing printed.

    ``bfcl_data``: a BFCL data folder (else the cache, when there); ``bfcl=False``
    leaves the BFCL cases out. A config that cannot run its driver is an error
    naming the interpreter and the next step.
    """
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise GlmbenchError(f"unknown mode {', '.join(unknown)}", f"pick from {', '.join(MODES)}")
    cfgs = [(name, _config(name, sets)) for name in configs]
    if not cfgs:
        raise GlmbenchError("no backend config given", "pass --config NAME (e.g. vllm-cpu-tiny)")
    tok = _tokenizer(tokenizer, [c for _, c in cfgs])
    cases, notes, source = edge_cases(), [], None
    if bfcl:
        try:
            more, source = bfcl_cases(data_dir=bfcl_data, limit=bfcl_limit)
            cases += more
        except GlmbenchError as exc:
            if bfcl_data:
                raise
            notes.append(f"no BFCL cases: {exc.message} ({exc.hint})")
    stored = _stored_replies(bfcl_run, bfcl_data) if bfcl_run else None
    out = []
    for name, cfg in cfgs:
        if not cfg.tool_call_parser or not cfg.reasoning_parser:
            raise GlmbenchError(f"the {name} config names no tool_call_parser/reasoning_parser",
                                "--set tool_call_parser=glm47 --set reasoning_parser=glm45")
        python = backend_python(cfg)
        answer = run_driver(cfg.backend, python, cases, tok, cfg.tool_call_parser, cfg.reasoning_parser, modes,
                            timeout_s, env=dict(cfg.env))
        done = BackendConformance(cfg.backend, name, python, answer.version, answer.parsers, answer.modes,
                                  table(cfg.backend, cases, answer.results, answer.modes),
                                  differences(cfg.backend, cases, answer.results, answer.modes))
        if stored is not None:
            done.bfcl_effect = _bfcl_effect(cfg, python, tok, stored, timeout_s)
        out.append(done)
    return ConformanceResult(cases, tok, source, out, notes)


# -- the BFCL effect ----------------------------------------------------------------------------

@dataclass
class _Stored:
    records: list[dict[str, Any]]
    entries: dict[str, Any]
    reference: dict[str, dict[str, Any]]  # id -> glmbench's verdicts
    cases: list[Case]
    thinking: bool


def _stored_replies(run_dir: Path, data_dir: str | None) -> _Stored:
    from glmbench.api.bfcl_run import resumed_suite
    from glmbench.bfcl.categories import traits
    from glmbench.bfcl.data import load_bfcl
    from glmbench.bfcl.runner import RECORDS, read_records, rescore
    from glmbench.conformance.corpus import Expected, reply_case

    suite = resumed_suite(Path(run_dir))
    if suite.mode != "prompt":
        raise GlmbenchError(f"{run_dir} is a native-mode BFCL run: its server already parsed the replies",
                            "pass the folder of a prompt-mode run (glmbench bfcl --mode prompt ...)")
    records = [r for r in read_records(Path(run_dir) / RECORDS).values()
               if r.get("endpoint") == "completions" and not traits(r["category"]).multi_turn]
    if not records:
        raise GlmbenchError(f"no single-turn BFCL records in {run_dir}", "pass a folder written by glmbench bfcl")
    source, where = ("dir", data_dir) if data_dir else (suite.source, suite.data_dir)
    entries, _ = load_bfcl(sorted({r["category"] for r in records}), source, where)
    by_id = {e.id: e for e in entries}
    records = [r for r in records if r["id"] in by_id]
    reference = {r["id"]: r["verdicts"] for r in rescore(records, by_id, suite.enable_thinking)}
    cases = []
    for r in records:
        text = _reply_text(r)
        if text is None:
            continue
        tools = _tools(r, by_id[r["id"]])
        prompt = (r.get("request") or {}).get("prompt") or ""
        case = reply_case(r["id"], f"bfcl:{r['category']}", text, tools, Expected(), suite.enable_thinking)
        cases.append(Case(case.id, case.kind, case.text, case.tools, case.thinking, prompt or case.prompt,
                          case.expected, chunks=case.chunks))
    return _Stored(records, by_id, reference, cases, suite.enable_thinking)


def _reply_text(record: dict[str, Any]) -> str | None:
    response = record.get("response")
    if not isinstance(response, dict) or not response.get("choices"):
        return None
    return response["choices"][0].get("text") or ""


def _tools(record: dict[str, Any], entry: Any) -> list[dict[str, Any]]:
    """The tools the record's request style sent for ``entry``."""
    from glmbench.bfcl.registry import get_rule_set, rule_set_names

    if record.get("style") not in rule_set_names():
        return []  # a request style glmbench does not know: the reply is parsed without tools
    return get_rule_set(record["style"]).tools(entry)[0]


def _bfcl_effect(cfg: BackendConfig, python: str, tokenizer: str, stored: _Stored,
                 timeout_s: float) -> list[BFCLEffectRow]:
    from glmbench.bfcl.decoding import call_dict, decode_call_arguments
    from glmbench.bfcl.registry import rule_set_names, rule_sets
    from glmbench.bfcl.requests import decoded
    from glmbench.bfcl.runner import score_record

    answer: DriverAnswer = run_driver(cfg.backend, python, stored.cases, tokenizer, cfg.tool_call_parser or "",
                                      cfg.reasoning_parser or "", ["whole"], timeout_s, env=dict(cfg.env))
    parsed = {r["id"]: r.get("whole") for r in answer.results}
    tally: dict[tuple[str, str], list[int]] = {}
    for record in stored.records:
        entry = stored.entries[record["id"]]
        reference = stored.reference.get(record["id"])
        if reference is None:
            continue
        whole = parsed.get(record["id"])
        if _reply_text(record) is None:
            verdicts = reference  # the request failed at the API: no reply for any parser
        elif whole is None or "crash" in whole:
            failed = {"ok": False, "reason": f"{cfg.backend}'s parser crashed"}
            verdicts = {rules: failed for rules in rule_set_names()}
        else:
            calls = [call_dict(str(c.get("name") or ""), *decode_call_arguments(c.get("arguments")))
                     for c in whole.get("calls") or []]
            verdicts = score_record({**record, **decoded(calls, whole.get("content"))}, entry)
        for rule_set in rule_sets():
            rules = rule_set.name
            if rule_set.unscored.get(record["category"]):
                continue
            for key in ((rules, record["category"]), (rules, "OVERALL")):
                row = tally.setdefault(key, [0, 0, 0, 0, 0])
                ref_ok, got_ok = bool(reference[rules]["ok"]), bool(verdicts[rules]["ok"])
                row[0] += 1
                row[1] += ref_ok
                row[2] += got_ok
                row[3] += got_ok and not ref_ok
                row[4] += ref_ok and not got_ok
    order = sorted(tally, key=lambda k: (rule_set_names().index(k[0]), k[1] == "OVERALL"))
    return [BFCLEffectRow(cfg.backend, rules, category, *tally[(rules, category)]) for rules, category in order]
