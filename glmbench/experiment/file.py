"""An experiment file: server configurations (with grids of overrides) x load points x BFCL and equivalence suites.

``experiments/*.yaml``, validated with field-path errors before anything starts,
then expanded into :class:`Cell` objects (one server configuration each, started
once) holding :class:`Point` objects (one result folder each)::

    schema_version: 1
    name: cpu-sim
    servers:
      - name: fast
        backend: sim
        set: {options.ttft_ms: 50}
        grid: {options.itl_ms: [10, 20]}     # one cell per value (cartesian over several keys)
    load:
      suite: sharegpt
      workloads: [burst]                     # the suite's own workloads, as they are
      concurrency: [1, 8, 32]                # closed loop at each cap
      rate: [2, 5]                           # Poisson arrivals at each rate (req/s)
      options: {num_prompts: 100, dataset: random, input_len: 128, output_len: 64}
    suites:                                  # BFCL suites run against every server
      - bfcl-v3                              # at the suite file's own pace
      - suite: bfcl-v3                       # or as traffic, one point per load (bfcl-v3-c1, -c8, -r2)
        concurrency: [1, 8]
        rate: [2]
        options: {categories: [simple, multi_turn_base], limit: 50, tool_latency_ms: 100}
      - suite: equivalence                   # an equivalence suite (its file says kind: equivalence; a name alone
        reference: fast itl_ms=10            # does too): one point, each server's outputs against those of the
        options: {max_tokens: 32, loaded: 16} # server this label names (default: the first)
    repeats: 1
    slo: {ttft: 500, tpot: 50, accuracy: 60} # ms; goodput is counted against them; accuracy: a BFCL floor (%),
                                             # overall, or per category as accuracy.simple
    objective: goodput                       # what makes a server best in the report
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from glmbench.backends.choice import Launch
from glmbench.bfcl.suite import BFCLSuite
from glmbench.equivalence.suite import EquivalenceSuite
from glmbench.errors import GlmbenchError, closest, did_you_mean
from glmbench.load.options import RunOptions
from glmbench.load.workload import load_suite, suite_path
from glmbench.util.config_file import FieldError, load_model, read_yaml, validate
from glmbench.util.paths import NAME_RULE, is_safe_name, shipped_file, shipped_names

__all__ = ["MAX_CELLS", "BFCLPoints", "CapacitySpec", "Cell", "Experiment", "LoadSpec", "Point", "ServerSpec", "SuitePoints",
           "SweepSpec", "burst_workload", "cell_label", "count_cells", "equivalence_suite", "experiment_path",
           "folder_name", "load_experiment", "set_value", "suite_kind", "suite_label"]

# More server configurations than anyone can start one after another; the cartesian product of a grid
# is counted before it is built, so a grid of 10^12 is refused at once instead of filling memory.
MAX_CELLS = 10_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _unknown(path: str, what: str, given: set[str], known: set[str]) -> FieldError | None:
    """The error of keys of ``given`` not in ``known``, each at ``path.KEY``, with the likely one (or a few of
    the known, when none is likely); None when every key is known."""
    shown = sorted(known)

    def why(key: str) -> str:
        meant = closest(key, shown)
        if meant is not None:
            return f"unknown {what}; did you mean {meant}?"
        return f"unknown {what} (known: {', '.join(shown[:8])}{', ...' if len(shown) > 8 else ''})"

    unknown = sorted(set(given) - known)
    return FieldError(*((f"{path}.{key}", why(key)) for key in unknown)) if unknown else None


class ServerSpec(_Strict):
    """One server configuration, or a grid of them: a backend or config, fixed overrides, and a grid."""

    name: str | None = Field(None, description="what reports call it (default: the backend or config)")
    backend: str | None = None
    config: str | None = None
    model: str | None = None
    set: dict[str, Any] = Field(default_factory=dict, description="config overrides, dotted keys as --set")
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="overrides to expand, one cell per combination")

    @field_validator("name")
    @classmethod
    def _a_folder_name(cls, value: str | None) -> str | None:
        # The name starts the cell's folder name: ".." would put it beside the experiment, not in it.
        if value is not None and not is_safe_name(value):
            raise ValueError(f"{value[:80]!r} cannot name a folder: use {NAME_RULE}")
        return value

    @model_validator(mode="after")
    def _something_to_start(self) -> ServerSpec:
        if not (self.backend or self.config):
            raise ValueError("a server needs a backend or a config")
        if any(not values for values in self.grid.values()):
            raise ValueError("a grid key needs at least one value")
        return self


class CapacitySpec(_Strict):
    """Find the highest load at which every SLO holds: bracket by doubling (or halving), then bisect.

    A load holds when at least ``attainment`` of its requests meet every SLO
    (0.99 with ``slo: {ttft: 500}`` is "p99 TTFT within 500 ms", jointly for
    several SLOs, as DistServe's goodput counts them). The boundary point is run
    a second time before the search ends.
    """

    by: Literal["rate", "concurrency"] = "rate"
    start: float = Field(1.0, gt=0, description="the first load tried (req/s, or requests in flight)")
    max: float = Field(1024.0, gt=0, description="the highest load tried")
    tolerance: float = Field(0.1, gt=0, description="stop when the interval is this narrow, relative to its low end")
    attainment: float = Field(0.99, gt=0, le=1, description="share of requests that must meet every SLO")
    max_probes: int = Field(12, ge=2)


class SweepSpec(_Strict):
    """GuideLLM's sweep profile: a synchronous pass (one request at a time), a throughput pass (all at
    once), then ``points`` Poisson rates evenly spaced between the two request rates measured."""

    points: int = Field(5, ge=1)


class LoadSpec(_Strict):
    """The load points run against every server: suite workloads, a concurrency ladder, a rate ladder."""

    suite: str = "sharegpt"
    workloads: list[str] = Field(default_factory=list)
    concurrency: list[int] = Field(default_factory=list)
    rate: list[float] = Field(default_factory=list)
    sweep: SweepSpec | None = None
    capacity: CapacitySpec | None = None
    options: dict[str, Any] = Field(default_factory=dict, description="run options for every point "
                                    "(num_prompts, dataset, input_len, ...)")

    @model_validator(mode="after")
    def _points(self) -> LoadSpec:
        if not (self.workloads or self.concurrency or self.rate or self.sweep or self.capacity):
            raise ValueError("load needs workloads, a concurrency or rate ladder, a sweep or a capacity search")
        if any(c < 1 for c in self.concurrency) or any(r <= 0 for r in self.rate):
            raise ValueError("concurrency values must be >= 1 and rates > 0")
        bad = {"workload", "max_concurrency", "request_rate", "repeat", "results_dir", "run_id", "label", "goodput"}
        if bad & set(self.options):
            raise ValueError(f"options may not set {', '.join(sorted(bad & set(self.options)))}: "
                             "the experiment sets them per point")
        unknown = _unknown("options", "run option", set(self.options), set(RunOptions.model_fields) - bad)
        if unknown:
            raise unknown
        ramped = {"ramp", "ramp_to"} & set(self.options)
        unpaced = [name for name, given in (("concurrency", self.concurrency), ("sweep", self.sweep),
                                            ("capacity", self.capacity)) if given]
        if ramped and unpaced:
            raise ValueError(f"a rate ramp (options.{'/'.join(sorted(ramped))}) moves a rate: {', '.join(unpaced)} "
                             "points have none; put the ramp in an experiment of rate: points (it ramps each rate "
                             "to ramp_to)")
        return self


def suite_kind(name_or_path: str) -> str | None:
    """What a suite file says it is (its ``kind``: ``bfcl``, ``equivalence``...), None when it cannot be read
    (the suite's own check says why, before anything starts)."""
    try:
        data = read_yaml(suite_path(name_or_path), "suite file")
    except GlmbenchError:
        return None
    kind = data.get("kind") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else None


def suite_label(name_or_path: str, kind: str) -> str:
    """The point label of a suite entry: the suite's name (a file's stem), prefixed with its kind unless it
    starts with it (``bfcl-v3``, ``bfcl-mini``, ``equivalence``, ``equivalence-short``)."""
    short = Path(name_or_path).stem if name_or_path.endswith((".yaml", ".yml")) else name_or_path
    return short if short.startswith(kind) else f"{kind}-{short}"


def equivalence_suite(name_or_path: str, fields: dict[str, Any] | None = None) -> EquivalenceSuite:
    """An equivalence suite file with ``fields`` set as given (an experiment entry's options), validated."""
    path = suite_path(name_or_path)
    data = read_yaml(path, "suite file") or {}
    if not isinstance(data, dict) or data.get("kind") != "equivalence":
        raise GlmbenchError(f"{path} is not an equivalence suite", "see suites/equivalence.yaml for the shape")
    return validate(EquivalenceSuite, {**data, **(fields or {})}, str(path), "fix the options or the suite file")


class SuitePoints(_Strict):
    """A suite run against every server; the suite file's ``kind`` decides what it is.

    - ``kind: bfcl``: BFCL at the suite's own pace, or as traffic at each load of a ladder (one point per
      concurrency and per rate); ``options`` are the suite's fields.
    - ``kind: equivalence``: one point, the suite's prompts asked at temperature 0 alone and under load; each
      server's outputs are compared with those of the server ``reference`` names (a server's label; default the
      first); ``options`` are the suite's fields (:class:`~glmbench.equivalence.suite.EquivalenceSuite`).
    """

    suite: str = "bfcl-v3"
    concurrency: list[int] = Field(default_factory=list, description="BFCL: a closed loop at each cap")
    rate: list[float] = Field(default_factory=list, description="BFCL: Poisson arrivals at each rate (entries/s)")
    reference: str | None = Field(None, description="equivalence: the server whose outputs the others' are compared "
                                  "with, by its label (default: the first server)")
    options: dict[str, Any] = Field(default_factory=dict, description="the suite's fields for every point "
                                    "(BFCL: categories, limit, mode, tool_latency_ms, ...; equivalence: max_tokens, "
                                    "loaded, sharegpt, bfcl, require_alone, ...)")

    @property
    def kind(self) -> Literal["bfcl", "equivalence"]:
        """``equivalence`` when the suite file says so, else ``bfcl`` (BFCL suites came first)."""
        return "equivalence" if suite_kind(self.suite) == "equivalence" else "bfcl"

    @model_validator(mode="after")
    def _valid(self) -> SuitePoints:
        if self.kind == "equivalence":
            return self._valid_equivalence()
        if self.reference is not None:
            raise ValueError(f"reference is for an equivalence suite, and {self.suite} is not one (its file says "
                             "kind: bfcl)")
        if any(c < 1 for c in self.concurrency) or any(r <= 0 for r in self.rate):
            raise ValueError("concurrency values must be >= 1 and rates > 0")
        paced = {"concurrency", "request_rate", "stream"} & set(self.options)
        if paced:
            raise ValueError(f"options may not set {', '.join(sorted(paced))}: the ladder sets them per point")
        self._check_options(BFCLSuite, "BFCL option", {"concurrency", "request_rate", "stream", "kind",
                                                       "schema_version"})
        return self

    def _check_options(self, model: type[BaseModel], what: str, taken: set[str]) -> None:
        """``options`` over the suite file, validated as ``model``: a field the entry sets is named at its
        ``options.FIELD``. The file's own mistakes are named in the file when its point is checked, as is a
        file that cannot be read; both before anything starts."""
        unknown = _unknown("options", what, set(self.options), set(model.model_fields) - taken)
        if unknown:
            raise unknown
        try:
            data = read_yaml(suite_path(self.suite), "suite file") or {}
        except GlmbenchError:
            return
        if not isinstance(data, dict):
            return
        try:
            model.model_validate({**data, **self.options})
        except ValidationError as exc:
            ours = [(f"options.{'.'.join(str(p) for p in err['loc'])}", err["msg"].removeprefix("Value error, "))
                    for err in exc.errors() if err["loc"] and err["loc"][0] in self.options]
            if ours:
                raise FieldError(*ours) from None

    def _valid_equivalence(self) -> SuitePoints:
        if self.concurrency or self.rate:
            raise ValueError("an equivalence suite is one point, asked alone and then among options.loaded others: "
                             "concurrency and rate are for BFCL ladders")
        self._check_options(EquivalenceSuite, "equivalence option", {"kind", "schema_version"})
        return self

    def loads(self) -> list[tuple[str, dict[str, Any]]]:
        """Each point's label suffix and the suite fields that pace it (the suite's own pace without a ladder)."""
        out: list[tuple[str, dict[str, Any]]] = [(f"c{c}", {"concurrency": c}) for c in self.concurrency]
        out += [(f"r{r:g}", {"request_rate": r, "concurrency": None}) for r in self.rate]
        return out or [("", {})]


BFCLPoints = SuitePoints
"""The name of :class:`SuitePoints` from when suites were only BFCL's."""


def _slo_key(key: str) -> bool:
    return key in ("ttft", "tpot", "e2e", "accuracy") or key.startswith("accuracy.")


class Experiment(_Strict):
    """A whole experiment file."""

    schema_version: Literal[1] = 1
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    description: str = ""
    servers: list[ServerSpec] = Field(min_length=1)
    load: LoadSpec | None = None
    suites: list[SuitePoints] = Field(default_factory=list, description="suites run against every server: "
                                      "a name (a BFCL suite at its own pace, or an equivalence suite), a "
                                      "BFCL ladder of loads, or an equivalence suite with its reference")
    repeats: int = Field(1, ge=1)
    slo: dict[str, float] = Field(default_factory=dict, description="ttft, tpot, e2e: ms, for goodput; accuracy, "
                                  "accuracy.CATEGORY: the least BFCL accuracy (%) a point may have")

    @field_validator("suites", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        # A name alone is an entry with the suite file's own settings: validated as one, its errors at suites.N.
        return [{"suite": v} if isinstance(v, str) else v for v in value] if isinstance(value, list) else value

    @field_validator("slo")
    @classmethod
    def _slo_keys(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = [k for k in value if not _slo_key(k)]
        if unknown:
            raise ValueError(f"unknown SLO {', '.join(unknown)}; known: ttft, tpot, e2e (ms), accuracy and "
                             "accuracy.CATEGORY (%)")
        from glmbench.bfcl.categories import names
        from glmbench.bfcl.versions import VERSIONS

        known = {c for version in VERSIONS for c in names(version)} | {"OVERALL"}  # v3's names and v4's
        categories = [k.split(".", 1)[1] for k in value if k.startswith("accuracy.")]
        wrong = [c for c in categories if c not in known]
        if wrong:
            raise ValueError(f"unknown BFCL category {', '.join(wrong)} in an accuracy floor")
        return value

    @property
    def latency_slo(self) -> dict[str, float]:
        """The latency SLOs (ms), which goodput counts against."""
        return {k: v for k, v in self.slo.items() if k in ("ttft", "tpot", "e2e")}

    @property
    def accuracy_floor(self) -> dict[str, float]:
        """The least BFCL accuracy (%) a point may have, by category (``OVERALL`` for ``accuracy``)."""
        return {("OVERALL" if k == "accuracy" else k.split(".", 1)[1]): v for k, v in self.slo.items()
                if k == "accuracy" or k.startswith("accuracy.")}
    objective: Literal["goodput", "capacity", "throughput", "ttft", "bfcl"] = Field(
        "goodput", description="what makes a server best in the report: the most goodput under the SLOs, the "
        "highest capacity, the most output tok/s, the lowest p99 TTFT, or the best BFCL overall")

    @model_validator(mode="after")
    def _work(self) -> Experiment:
        if self.load is None and not self.suites:
            raise ValueError("an experiment needs load points or suites")
        if self.load is not None and self.load.capacity is not None and not self.latency_slo:
            raise ValueError("a capacity search needs slo: the capacity is the highest load at which they hold")
        return self

    def options(self, data: dict[str, Any]) -> RunOptions:
        """Run options from ``data``, validated (a user error names the field)."""
        return validate(RunOptions, data, "load options", "fix load.options in the experiment file",
                        given=lambda loc: self.option_field(str(loc[0])) if loc else None)

    def option_field(self, name: str) -> str:
        """Where the file sets the run option ``name``: ``load.options.num_prompts``, a ladder's ``load.rate``."""
        return {"max_concurrency": "load.concurrency", "request_rate": "load.rate", "suite": "load.suite",
                "workload": "load.workloads"}.get(name, f"load.options.{name}")

    def probe_options(self, by: str, value: float) -> RunOptions:
        """The run options of one load probe (a closed loop at ``value`` in flight, or Poisson at ``value`` req/s)."""
        assert self.load is not None
        key = "max_concurrency" if by == "concurrency" else "request_rate"
        return self.options({**self.common_options(), "workload": burst_workload(self.load.suite),
                             key: int(value) if by == "concurrency" else value})

    def burst_options(self) -> RunOptions:
        """The run options of a throughput pass: every request at once, no cap."""
        assert self.load is not None
        return self.options({**self.common_options(), "workload": burst_workload(self.load.suite)})

    def common_options(self) -> dict[str, Any]:
        assert self.load is not None
        return {**self.load.options, "suite": self.load.suite, "repeat": self.repeats,
                "goodput": [f"{k}:{v:g}" for k, v in self.latency_slo.items()]}


@dataclass
class Point:
    """One result folder: a load point (its run options), a BFCL suite (and the fields that pace it), or an
    equivalence suite (its fields, and the label of the cell whose outputs every cell's are compared with)."""

    label: str
    kind: Literal["load", "bfcl", "equivalence"]
    options: RunOptions | None = None
    suite: str | None = None
    suite_fields: dict[str, Any] = field(default_factory=dict)
    reference: str | None = None


@dataclass
class Cell:
    """One server configuration, started once for all its points."""

    label: str
    launch: Launch
    overrides: dict[str, Any]
    points: list[Point] = field(default_factory=list)
    server: int = 0
    """The index of the experiment's server entry it comes from: errors about it name ``servers.N``."""

    @property
    def folder(self) -> str:
        """The cell's folder under the experiment folder."""
        return folder_name(self.label, "server")


def folder_name(label: str, field: str) -> str:
    """The folder of a cell or point labelled ``label``: the label with anything but letters, digits and
    ``-_.=`` made ``_``, leading dots dropped (``./my.yaml`` is a config path, not a hidden folder).

    A label that leaves no name (``..``) is a user error naming ``field``, where it came from.
    """
    safe = "".join(c if c.isalnum() or c in "-_.=" else "_" for c in label).lstrip(".")
    if not is_safe_name(safe):
        raise GlmbenchError(f"{field} {label[:80]!r} makes no folder name", f"name it with {NAME_RULE}")
    return safe


def experiment_path(name_or_path: str) -> Path:
    """An experiment file: a path, or the name of one shipped in ``experiments/``."""
    given = Path(name_or_path).expanduser()
    if given.suffix in (".yaml", ".yml") or given.exists():
        return given
    shipped = shipped_file("experiments", name_or_path)
    if shipped is None:
        known = shipped_names("experiments")
        raise GlmbenchError(f"unknown experiment {name_or_path!r}{did_you_mean(name_or_path, known)}",
                            f"pass a name ({', '.join(known)}) or a path to an experiment YAML file")
    return shipped


def load_experiment(name_or_path: str | Path) -> Experiment:
    """Read and validate an experiment file (a field-path error names what to fix)."""
    return load_model(Experiment, experiment_path(str(name_or_path)), "experiment file")


def set_value(value: Any) -> str:
    """A value as ``--set`` reads it (YAML): booleans lower case, lists and mappings as JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def _shown(value: Any) -> str:
    """A value in a cell's label: short (``off`` for null, ``method:mtp/...`` for a mapping)."""
    if value is None:
        return "off"
    if isinstance(value, dict):
        return "/".join(f"{k}:{_shown(v)}" for k, v in value.items())
    return set_value(value)


def cell_label(spec: ServerSpec, combo: dict[str, Any]) -> str:
    base = spec.name or spec.config or spec.backend or "server"
    extra = " ".join(f"{key.rsplit('.', 1)[-1]}={_shown(v)}" for key, v in combo.items())
    return f"{base} {extra}".strip()


def burst_workload(suite_name: str) -> str:
    """The suite's workload that sends everything at once: with a cap it is a closed loop, with a rate an open one."""
    suite = load_suite(suite_name)
    for name, workload in suite.workloads.items():
        if workload.request_rate is None and workload.max_concurrency is None:
            return name
    raise GlmbenchError(f"suite {suite.name!r} has no workload without a rate or cap to build ladders on",
                        "add one (request_rate: inf), or use load.workloads instead of ladders")


def count_cells(experiment: Experiment) -> int:
    """How many server configurations the experiment has: each server, times the sizes of its grid's keys."""
    return sum(math.prod(len(values) for values in spec.grid.values()) for spec in experiment.servers)
