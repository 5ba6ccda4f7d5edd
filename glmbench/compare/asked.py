"""What a run asked of the server at one workload, and where two runs asked differently.

Two runs' figures are like for like only when they asked the same work: as
many prompts, from the same dataset with the same lengths, counted the same
way, on the same schedule (arrival rate, concurrency cap). A run of 30 prompts
has a shorter ramp and fewer tail samples than one of 200, so its throughput
and tail latencies differ whatever the server does. :func:`asked` reads what
a run asked from its files (the summary row, the manifest, ``config.yaml``);
:func:`differences` names each setting two runs differ in and what the
difference makes not like for like. ``compare`` notes them and ``history``
marks the points whose workload differs from their series' first.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from glmbench.results.schema import Manifest

__all__ = ["Asked", "Difference", "asked", "differences", "difference_note"]

_EVERY = "no figure is like for like"
# Each setting, in the order notes name them, with what a difference in it makes not like for like.
_CONSEQUENCE = {
    "dataset": f"the prompts differ: {_EVERY}",
    "num_prompts": "throughput and tail latencies are not like for like",
    "schedule": f"the load differs: {_EVERY}",
    "token counts": "prompt lengths and max_tokens are counted differently: lengths are not like for like",
    "api": f"the prompts the server sees differ: {_EVERY}",
    "ignore_eos": f"reply lengths differ (a reply may stop before max_tokens): {_EVERY}",
}
_SHAPE = f"prompt or reply lengths differ: {_EVERY}"

Asked = dict[str, str]
"""A run's settings at one workload, each as a table shows it, by name (``num_prompts``: ``200``)."""


class Difference(NamedTuple):
    """One setting two runs asked differently: its name, each side's value, and what it makes not like for like."""

    name: str
    baseline: str
    candidate: str
    consequence: str

    def note(self) -> str:
        """``num_prompts differs: 200 vs 30: throughput and tail latencies are not like for like``."""
        return f"{self.name} differs: {self.baseline} vs {self.candidate}: {self.consequence}"


def _config(folder: Path) -> Mapping[str, Any]:
    """The run's suite from its config.yaml, validated: dataset, request and workloads (empty when it has none or
    it does not read as today's suite)."""
    from pydantic import ValidationError

    from glmbench.errors import GlmbenchError
    from glmbench.load.workload import DatasetSpec, RequestSpec, Workload
    from glmbench.util.config_file import read_yaml

    path = folder / "config.yaml"
    if not path.is_file():
        return {}
    try:
        suite = (read_yaml(path) or {}).get("suite")
        if not suite:
            return {}  # a BFCL or equivalence run's config holds its own suite
        return {"dataset": DatasetSpec.model_validate(suite.get("dataset") or {}),
                "request": RequestSpec.model_validate(suite.get("request") or {}),
                "workloads": {name: Workload.model_validate(w) for name, w in (suite.get("workloads") or {}).items()}}
    except (GlmbenchError, ValidationError, AttributeError, TypeError):
        return {}


def asked(folder: Path, manifest: Manifest | None, row: Mapping[str, Any]) -> Asked:
    """What the run in ``folder`` asked at the workload of its summary ``row``; a setting its files do not record
    (a published table has no schedule) is left out."""
    out: Asked = {}
    dataset = manifest.dataset if manifest is not None else {}
    config = _config(folder)
    spec = config.get("dataset")
    name = dataset.get("name") or (spec.name if spec is not None else None)
    if name:
        out["dataset"] = str(name)
    prompts = row.get("num_prompts")
    if not isinstance(prompts, int):
        workload = config.get("workloads", {}).get(row.get("workload"))
        prompts = (workload.num_prompts if workload is not None else None) or (
            spec.num_prompts if spec is not None else dataset.get("num_prompts"))
    if isinstance(prompts, int):
        out["num_prompts"] = str(prompts)
    if row.get("description"):
        out["schedule"] = str(row["description"])
    if isinstance(dataset.get("approximate_tokens"), bool):
        out["token counts"] = "approximate (no tokenizer)" if dataset["approximate_tokens"] else "the model's tokenizer"
    if spec is not None:
        out.update({key: f"{value:g}" if isinstance(value, float) else str(value)
                    for key, value in spec.shape().items()})
    request = config.get("request")
    if request is not None:
        out["api"] = request.api
        out["ignore_eos"] = str(request.ignore_eos)
    return out


def differences(baseline: Asked, candidate: Asked) -> list[Difference]:
    """The settings both record and ask differently, in the order of :data:`_CONSEQUENCE` then the dataset's own."""
    names = [n for n in _CONSEQUENCE if n in baseline] + [n for n in baseline if n not in _CONSEQUENCE]
    found = [Difference(n, baseline[n], candidate[n], _CONSEQUENCE.get(n, _SHAPE))
             for n in names if n in candidate and baseline[n] != candidate[n]]
    if any(d.name == "dataset" for d in found):
        # Another dataset's lengths are its own: the dataset's difference says it all.
        found = [d for d in found if d.name in _CONSEQUENCE]
    return found


def difference_note(found: Difference, workloads: list[str], every: bool) -> str:
    """A comparison's note for ``found`` at ``workloads`` (named unless they are ``every`` compared one)."""
    return found.note() if every else f"{', '.join(workloads)}: {found.note()}"
