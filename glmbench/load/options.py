"""The options of a load run as one typed model, shared by ``run``, ``bench``, experiments and Python callers.

Each field is also its command-line option: the :class:`~glmbench.util.flag.Flag`
beside it says its help, its spelling where that is not the field's name, and
which commands take it; ``glmbench run`` and ``glmbench bench`` are built from
these fields (:mod:`glmbench.cli.options`), in this order. So a new option is
one field here, plus where :meth:`RunOptions.suite_and_workloads` applies it.
The model lives in the load package, below the library layer, so the CLI can
build its commands without importing the library (``glmbench --help`` stays
instant).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from glmbench.errors import GlmbenchError
from glmbench.load.workload import Suite, Workload, load_suite
from glmbench.util.config_file import validation_message
from glmbench.util.flag import Flag, flag_of
from glmbench.util.paths import NAME_RULE, is_safe_name

__all__ = ["RunOptions"]

# Options that override the suite's dataset, request and workload settings, by section.
_DATASET = {"num_prompts": "num_prompts", "seed": "seed", "dataset": "name", "dataset_path": "path",
            "dataset_source": "source", "tokenizer": "tokenizer", "input_len": "random_input_len",
            "output_len": "random_output_len", "session_turns": "session_turns", "think_time_ms": "think_time_ms",
            **{key: key for key in ("trace_path", "trace_format", "time_scale", "trace_start_s", "trace_end_s",
                                    "gsp_num_groups", "gsp_prompts_per_group", "gsp_system_prompt_len",
                                    "gsp_question_len", "gsp_output_len", "prefix_block_tokens")}}
_REQUEST = {"api": "api", "timeout_s": "timeout_s", "stall_timeout_s": "stall_timeout_s", "http_client": "http_client"}
_WORKLOAD = ("request_rate", "max_concurrency", "burstiness", "ramp", "ramp_to")


def _option_of(loc: tuple[Any, ...], named: Callable[[str], str] | None = None) -> str | None:
    """The option that set the suite field at ``loc`` (``dataset.num_prompts``: ``--num-prompts``), if one did;
    ``named`` names an option field as its caller shows it (an experiment's ``load.options.num_prompts``)."""
    section, key = (str(loc[0]), str(loc[-1])) if loc else ("", "")
    fields = {"dataset": _DATASET, "request": _REQUEST, "workloads": {k: k for k in _WORKLOAD}}.get(section, {})
    field = next((option for option, name in fields.items() if name == key), None)
    if field is None:
        return None
    if named is not None:
        return named(field)
    flag = flag_of(RunOptions.model_fields[field])
    return flag.spelling(field) if flag else None


def _validated_suite(data: dict[str, Any], named: Callable[[str], str] | None = None) -> Suite:
    """The suite with the options applied; a bad value names the option it came from, as typed."""
    try:
        return Suite.model_validate(data)
    except ValidationError as exc:
        raise GlmbenchError(validation_message(exc, "run settings", lambda loc: _option_of(loc, named)),
                            "fix the option named above") from None


class RunOptions(BaseModel):
    """A load run: the suite and its workloads, overrides of the suite, SLOs, repeats and where results go.

    None leaves the suite's own value. The API key is not an option: it is passed
    beside, so that no options object ever carries it into a file.
    """

    model_config = ConfigDict(extra="forbid")

    workload: Annotated[str, Flag("Workload of the suite, a comma list, or 'all'.", short="-w")] = "burst"
    suite: Annotated[str, Flag("Suite name or YAML path.")] = "sharegpt"
    # The suite's own model validates these once applied, naming the field it sets.
    num_prompts: Annotated[int | None, Flag("Prompts per workload (default: the suite's; sharegpt: 2000).")] = None
    seed: Annotated[int | None, Flag("Seed of the dataset shuffle and arrival times.")] = None
    request_rate: Annotated[float | None, Flag("Override the arrival rate (req/s) of every workload.")] = None
    max_concurrency: Annotated[int | None, Flag("Override the in-flight cap of every workload.", name="--concurrency",
                                                aliases=("--max-concurrency",))] = None
    burstiness: Annotated[float | None, Flag("Gamma shape of arrivals: 1 Poisson, <1 burstier.")] = None
    ramp: Annotated[str | None, Flag("Ramp the arrival rate from --request-rate to --ramp-to over each "
                                     "workload: linear or exponential.")] = None
    ramp_to: Annotated[float | None, Flag("The rate (req/s) a --ramp ends at.")] = None
    dataset: Annotated[str | None, Flag("sharegpt, random, sessions (multi-turn chats from ShareGPT), trace (replay "
                                        "--trace-path) or shared-prefix (SGLang's generated-shared-prefix).")] = None
    dataset_path: Annotated[str | None, Flag("ShareGPT JSON file to read.")] = None
    dataset_source: Annotated[str | None, Flag("Where ShareGPT comes from without a path: auto, hub, package.")] = None
    tokenizer: Annotated[str | None, Flag("Folder or tokenizer.json for exact token counts.")] = None
    input_len: Annotated[int | None, Flag("Random dataset: prompt tokens.")] = None
    output_len: Annotated[int | None, Flag("Random dataset: output tokens.")] = None
    session_turns: Annotated[int | None, Flag("Sessions dataset: user turns per chat session at most.")] = None
    think_time_ms: Annotated[float | None, Flag("Sessions dataset: the user's pause before each next turn (ms).")] = None
    trace_path: Annotated[str | None, Flag("Trace to replay at its own arrival times (implies --dataset trace): "
                                           "Mooncake JSONL, Azure or BurstGPT CSV.")] = None
    trace_format: Annotated[str | None, Flag("Trace: mooncake, azure, burstgpt, or auto (from the file's first "
                                             "line).")] = None
    time_scale: Annotated[float | None, Flag("Trace: replay speed; 2 replays it twice as fast.")] = None
    trace_start_s: Annotated[float | None, Flag("Trace: replay from this many seconds after its first request.",
                                                name="--trace-start")] = None
    trace_end_s: Annotated[float | None, Flag("Trace: replay up to this many seconds after its first request.",
                                              name="--trace-end")] = None
    gsp_num_groups: Annotated[int | None, Flag("Shared-prefix: groups, one system prompt each.")] = None
    gsp_prompts_per_group: Annotated[int | None, Flag("Shared-prefix: prompts per group.")] = None
    gsp_system_prompt_len: Annotated[int | None, Flag("Shared-prefix: system prompt tokens.")] = None
    gsp_question_len: Annotated[int | None, Flag("Shared-prefix: question tokens, each prompt its own.")] = None
    gsp_output_len: Annotated[int | None, Flag("Shared-prefix: output tokens.")] = None
    prefix_block_tokens: Annotated[int | None, Flag("Block size (tokens) of the predicted prefix hit rate "
                                                    "(default: 512 for a Mooncake trace, 16 for shared-prefix).")] = None
    api: Annotated[str | None, Flag("chat (default) or completions.")] = None
    extra_body: Annotated[dict[str, Any] | None, Flag("JSON merged into every request body.", read_as=str,
                                                      metavar="JSON")] = None
    timeout_s: Annotated[float | None, Flag("Limit on each whole request in seconds, from sending to the stream's "
                                            "end (default 600); a request past it fails.", name="--timeout")] = None
    stall_timeout_s: Annotated[float | None, Flag("Limit in seconds on the silence between two reads of a stream, "
                                                  "the wait for the first byte included (default: none).",
                                                  name="--stall-timeout")] = None
    http_client: Annotated[str | None, Flag("wire (glmbench's own HTTP reader with kernel receive stamps, the "
                                            "default) or aiohttp; https:// always uses aiohttp.",
                                            show_default=False)] = None
    goodput: Annotated[list[str], Flag("SLO as KEY:MS (ttft, tpot, e2e); repeatable.",
                                       metavar="KEY:MS")] = Field(default_factory=list)
    results_dir: Annotated[Path, Flag("Where result folders go.")] = Path("results")
    label: Annotated[str | None, Flag("What reports call this run (default: its folder name).")] = None
    run_id: Annotated[str | None, Flag("The result folder's name (default: time, backend, workloads).")] = None
    # Repeats need a server glmbench started (the same one, for every repeat): not bench's.
    repeat: Annotated[int, Field(ge=1), Flag("Run the workloads N times against the same server "
                                             "(results/<run-id>/repeat-i/).", commands=("run",))] = 1
    client_workers: Annotated[int | None, Field(ge=1), Flag(
        "Client processes, one event loop and core each; records merge on one clock. Default: chosen per workload "
        "from its expected chunk rate and the free cores.", show_default=False)] = None

    @field_validator("run_id")
    @classmethod
    def _a_folder_name(cls, value: str | None) -> str | None:
        # Checked here too, so a bad --run-id fails before a dataset is read or a server starts.
        if value is not None and not is_safe_name(value):
            raise ValueError(f"--run-id {value[:80]!r} cannot name a folder: use {NAME_RULE}")
        return value

    @field_validator("extra_body", mode="before")
    @classmethod
    def _json_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                value = None if not value.strip() else value
            if not isinstance(value, dict):
                raise ValueError('--extra-body is not a JSON object: write it as JSON, e.g. '
                                 '\'{"chat_template_kwargs": {"enable_thinking": false}}\'')
        return value

    def suite_and_workloads(self, point: str | None = None,
                            named: Callable[[str], str] | None = None) -> tuple[Suite, list[tuple[str, Workload]]]:
        """The suite with these overrides applied, validated, and the workloads chosen.

        A workload whose load an option overrides is titled by the load that runs (``burst (closed loop, cap
        8)``). ``point`` names the one workload chosen after a load point (an experiment's ``c8``, ``r20``,
        ``sweep-3``, ``cap-c16``): its summary row, progress line and table say that name, not the suite's, so
        history and compare tell the points apart. ``named`` names a bad option's field as the caller's user
        wrote it (default: its command-line option, ``--num-prompts``).
        """
        suite = load_suite(self.suite)
        data = suite.model_dump()
        ds, req = data["dataset"], data["request"]
        for option, key in _DATASET.items():
            if getattr(self, option) is not None:
                ds[key] = getattr(self, option)
        if self.dataset_path:
            ds["name"] = self.dataset or "sharegpt"
        if self.trace_path:
            ds["name"] = self.dataset or "trace"
        for option, key in _REQUEST.items():
            if getattr(self, option) is not None:
                req[key] = getattr(self, option)
        if self.extra_body:
            req["extra_body"] = {**req["extra_body"], **self.extra_body}
        for wl in data["workloads"].values():
            if self.num_prompts is not None:
                wl["num_prompts"] = None
            for key in _WORKLOAD:
                if getattr(self, key) is not None:
                    wl[key] = getattr(self, key)
        suite = _validated_suite(data, named)
        if any(getattr(self, key) is not None for key in _WORKLOAD):
            # The suite's title names its own rate or cap; say what actually runs.
            suite = suite.model_copy(update={"workloads": {
                name: wl.model_copy(update={"title": f"{name} ({wl.describe()})"})
                for name, wl in suite.workloads.items()}})
        chosen = suite.select(self.workload)
        if point is not None and len(chosen) == 1 and chosen[0][0] != point:
            name, wl = chosen[0]
            chosen = [(point, wl.model_copy(update={"title": f"{point} ({wl.describe()})"}))]
        return suite, chosen
