"""Output equivalence end to end: one server's outputs to a fixed prompt set, and two runs' outputs compared.

:func:`run_equivalence` asks the suite's prompts (:mod:`glmbench.equivalence`)
one at a time and under load and stores every output in a result folder
(``outputs.jsonl``, ``summary.json`` with the server's own batch invariance);
:func:`diff_equivalence` compares a candidate folder's outputs with a
reference's and says whether the suite's gates hold. Neither prints.
"""

from __future__ import annotations

import os
from collections import Counter
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from glmbench.api.interrupted import RunInterrupted
from glmbench.api.launch import Launch, PreparedLaunch, prepare, redacted_config
from glmbench.api.manifest import build_manifest, finish_manifest
from glmbench.api.progress import Progress
from glmbench.api.serving import open_endpoint, serve
from glmbench.backends.base import Server
from glmbench.equivalence.diff import Gate, OutputDiff, batch_invariance, diff_outputs, gates
from glmbench.equivalence.run import OUTPUTS, ask_prompts, read_outputs
from glmbench.equivalence.suite import EquivalenceSuite
from glmbench.errors import GlmbenchError
from glmbench.load.workload import suite_path
from glmbench.results.schema import EquivalenceSummary
from glmbench.results.store import RunStore, load_equivalence_summary, new_run_id
from glmbench.util.config_file import read_yaml, validate
from glmbench.util.loop import run_async

__all__ = ["EquivalenceResult", "Gate", "diff_equivalence", "load_equivalence_suite", "run_equivalence"]


@dataclass
class EquivalenceResult:
    """What an equivalence run left: its folder, status, summary and outputs."""

    path: Path
    status: str
    summary: EquivalenceSummary | None = None
    outputs: list[dict[str, Any]] = field(default_factory=list)

    def failure(self) -> GlmbenchError | None:
        """Why this result cannot be vouched for (exit 1), or None."""
        if self.outputs and all(o.get("error") for o in self.outputs):
            return GlmbenchError(f"every request failed (first: {self.outputs[0]['error']})",
                                 "check the server and --endpoint/--model; the reasons are in outputs.jsonl",
                                 exit_code=1)
        return None


def load_equivalence_suite(name_or_path: str = "equivalence", overrides: dict[str, Any] | None = None) -> EquivalenceSuite:
    """An equivalence suite file (``suites/equivalence.yaml``) with overrides (None leaves the file's value)."""
    path = suite_path(name_or_path)
    data = read_yaml(path, "suite file") or {}
    if not isinstance(data, dict) or data.get("kind") != "equivalence":
        raise GlmbenchError(f"{path} is not an equivalence suite", "see suites/equivalence.yaml for the shape")
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return validate(EquivalenceSuite, data, str(path), "fix the option or the suite file")


def _summary(run_id: str, suite: EquivalenceSuite, prompts: list, outputs: list[dict[str, Any]],
             interrupted: bool) -> EquivalenceSummary:
    passes = []
    for name in ("alone", "loaded"):
        mine = [o for o in outputs if o["pass"] == name]
        if mine:
            flights = sorted(o.get("in_flight") or 0 for o in mine)
            passes.append({"pass": name, "requests": len(mine), "failed": sum(bool(o.get("error")) for o in mine),
                           "in_flight_p50": flights[len(flights) // 2]})
    own = batch_invariance(outputs, run_id)
    return EquivalenceSummary(
        run_id=run_id, suite=suite.name, api=suite.api, max_tokens=suite.max_tokens, loaded=suite.loaded,
        prompts=dict(Counter(p.kind for p in prompts)), logprobs=any(o.get("tokens") for o in outputs),
        passes=passes, batch_invariance=own.summary() if own else None,
        differences=[asdict(d) for d in own.prompts if not d.match] if own else [],
        require_alone=suite.require_alone, require_loaded=suite.require_loaded, interrupted=interrupted)


def run_equivalence(launch: Launch | PreparedLaunch, suite: EquivalenceSuite, api_key: str | None = None,
                    results_dir: Path = Path("results"), progress: Progress | None = None,
                    server: Server | None = None, run_id: str | None = None,
                    label: str | None = None) -> EquivalenceResult:
    """Ask the suite's prompts of the server ``launch`` names (or ``server``, already running, left running) and
    store the outputs; Ctrl-C raises :class:`RunInterrupted` with what was kept."""
    from glmbench.equivalence.prompts import build_prompts
    from glmbench.load.client import Target

    progress = progress or Progress()
    prepared = launch if isinstance(launch, PreparedLaunch) else prepare(launch)
    api_key = api_key or os.environ.get("OPENAI_API_KEY")
    prompts = build_prompts(suite)
    if not prompts:
        raise GlmbenchError("the equivalence suite asks no prompt", "give it sharegpt, bfcl or conversations > 0")
    if prepared.endpoint and server is None:
        open_endpoint(prepared, api_key)
    store = RunStore(results_dir, run_id or new_run_id(prepared.label, label or "equivalence"))
    result = EquivalenceResult(path=store.path, status="failed")
    manifest = None
    interrupted = False
    try:
        with nullcontext(server) if server else serve(prepared, store.server_log, api_key, progress) as server:
            store.write_config({"equivalence_suite": suite.model_dump(mode="json"), "backend": prepared.label,
                                "backend_config": redacted_config(prepared.cfg) if prepared.cfg else None})
            manifest = build_manifest(store, prepared, server, kind="equivalence", suite=suite.name,
                                      workloads=["alone", "loaded"] if suite.loaded else ["alone"],
                                      dataset={"prompts": [p.id for p in prompts]}, seed=suite.seed, label=label)
            store.write_manifest(manifest)
            progress.run_started(f"equivalence: {len(prompts)} prompts, {suite.max_tokens} tokens each, alone"
                                 + (f" and among {suite.loaded}" if suite.loaded else ""),
                                 server.base_url, server.model, store.path)
            progress.workload_started("equivalence", "equivalence", len(prompts) * (2 if suite.loaded else 1)
                                      + suite.loaded)
            backend = prepared.backend
            target = Target(server.base_url, server.model, api_key, backend.adapt_request if backend else None,
                            backend.warmup_path if backend else "/v1/models")
            result.outputs = run_async(ask_prompts(prompts, suite, target, store.path, progress.request_done))
            result.status = "all-failed" if result.failure() else "complete"
    except KeyboardInterrupt:
        result.status, interrupted = "interrupted", True
        result.outputs = read_outputs(store.path / OUTPUTS)
    finally:
        finish_manifest(store, manifest, result.status, progress)
        store.release_reserve()
    result.summary = _summary(store.run_id, suite, prompts, result.outputs, interrupted)
    store.write_summary(result.summary)
    if interrupted:
        raise RunInterrupted(result)
    return result


def diff_equivalence(reference: Path, candidate: Path, require_alone: float | None = None,
                     require_loaded: float | None = None) -> tuple[OutputDiff, list[Gate]]:
    """The candidate run's outputs against the reference run's, and the gates (from the candidate's suite unless
    given) with what was measured."""
    sides = []
    for folder in (reference, candidate):
        summary = load_equivalence_summary(Path(folder))
        sides.append((summary, read_outputs(Path(folder) / OUTPUTS)))
    (ref, ref_out), (cand, cand_out) = sides
    if ref.api != cand.api or ref.max_tokens != cand.max_tokens:
        raise GlmbenchError(f"the runs asked differently ({ref.api}, {ref.max_tokens} tokens vs {cand.api}, "
                            f"{cand.max_tokens} tokens)", "run both with the same equivalence suite")
    diff = diff_outputs(ref_out, cand_out, _label(reference), _label(candidate))
    alone = cand.require_alone if require_alone is None else require_alone
    loaded = cand.require_loaded if require_loaded is None else require_loaded
    return diff, gates(diff, alone, loaded)


def _label(folder: Path) -> str:
    """What a run is called: its manifest's label, else its folder name."""
    from glmbench.results.store import load_manifest

    try:
        return load_manifest(folder).label or Path(folder).name
    except GlmbenchError:
        return Path(folder).name
