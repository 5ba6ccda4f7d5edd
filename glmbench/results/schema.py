"""The typed, versioned files of a result folder."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["SCHEMA_VERSION", "BackendInfo", "Manifest", "LoadSummary", "BFCLSummary"]

SCHEMA_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BackendInfo(_Model):
    """What served the run, and exactly how it was started (None for an external endpoint)."""

    name: str
    config: dict[str, Any] | None = Field(default=None, description="the resolved backend config")
    version: str | None = None
    command: list[str] | None = None
    env: dict[str, str] = Field(default_factory=dict)
    url: str
    model: str


class Manifest(_Model):
    """Who, what, where and when of one run."""

    schema_version: int = SCHEMA_VERSION
    run_id: str
    kind: Literal["load", "bfcl", "equivalence"] = "load"
    # complete: every workload ran (all-failed: and no request succeeded); server-died and
    # write-failed (the disk filled): stopped early, what ended is kept; failed: glmbench itself failed.
    status: Literal["running", "complete", "all-failed", "interrupted", "failed", "server-died",
                    "write-failed"] = "running"
    glmbench_version: str
    git_sha: str | None = None
    backend: BackendInfo
    host: dict[str, Any]
    gpu: list[str] = Field(default_factory=list)
    suite: str
    workloads: list[str]
    dataset: dict[str, Any]
    seed: int
    started_at: str
    finished_at: str | None = None
    clock: dict[str, int] = Field(default_factory=dict, description="perf_counter_ns and wall-clock ns read together")
    repeat: int | None = Field(default=None, description="which repeat of a --repeat N run this folder is (1-based)")
    repeats: int = 1
    label: str | None = Field(default=None, description="what reports call this run (run --label, an experiment's point)")
    placement: dict[str, Any] | None = Field(default=None, description="where it ran on a cluster (experiment run --on ray): "
                                             "Ray node id, node address, GPUs and resources assigned, other ranks")


class LoadSummary(_Model):
    """The per-workload summary rows of a load run."""

    schema_version: int = SCHEMA_VERSION
    run_id: str
    kind: Literal["load"] = "load"
    approximate_tokens: bool = False
    aborted: str | None = Field(default=None,
                               description="why the run stopped early (the server died, the disk filled), if it did")
    aborted_by: Literal["server-died", "write-failed"] | None = None
    rows: list[dict[str, Any]] = Field(default_factory=list)


class BFCLSummary(_Model):
    """A BFCL run's tables: one per rule set, rows ``category``, ``accuracy`` (percent), ``correct``, ``total``.

    Rows also carry ``accuracy_low`` and ``accuracy_high``: the accuracy's 95%
    Wilson interval, in percent; None where the accuracy is not correct/total (a
    mean of categories), absent in summaries written before they were added.

    Every rule set scores the same stored responses; ``tables`` is keyed by rule
    set name, in the order they are shown after ``primary``, the one shown first
    (by default the first table). ``not_run`` names the categories asked for that
    were not run, and why.
    """

    schema_version: int = SCHEMA_VERSION
    run_id: str
    kind: Literal["bfcl"] = "bfcl"
    # A rule set's name; which names exist is the BFCL feature's business (glmbench.bfcl.registry),
    # so here it only has to name one of the tables.
    primary: str = ""
    mode: str
    style: str
    tables: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    not_run: dict[str, str] = Field(default_factory=dict)
    interrupted: bool = False
    # Asked as traffic (streamed, on a load schedule): the schedule in words, and the requests' load summary
    # rows, as a load run's (``all`` first, then each traffic class when there are several).
    schedule: str | None = None
    load: list[dict[str, Any]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _primary_is_a_table(self) -> BFCLSummary:
        if not self.primary and self.tables:
            self.primary = next(iter(self.tables))
        elif self.tables and self.primary not in self.tables:
            raise ValueError(f"primary {self.primary!r} is not one of its tables ({', '.join(self.tables)})")
        return self


class EquivalenceSummary(_Model):
    """An equivalence run: the outputs one server gave to a fixed prompt set (``outputs.jsonl``), what was asked,
    and the server's own batch invariance (its outputs one at a time against under load).

    ``passes`` has one row per pass (``alone``, ``loaded``): requests, failures and the median in flight;
    ``batch_invariance`` is that comparison's figures (:meth:`glmbench.equivalence.diff.PassDiff.summary`) and
    ``differences`` its prompts that differ. Comparing two runs is ``glmbench equivalence diff``.
    """

    schema_version: int = SCHEMA_VERSION
    run_id: str
    kind: Literal["equivalence"] = "equivalence"
    suite: str
    api: str
    max_tokens: int
    loaded: int
    prompts: dict[str, int] = Field(default_factory=dict)
    logprobs: bool = False
    passes: list[dict[str, Any]] = Field(default_factory=list)
    batch_invariance: dict[str, Any] | None = None
    differences: list[dict[str, Any]] = Field(default_factory=list)
    require_alone: float = 1.0
    require_loaded: float | None = None
    interrupted: bool = False
