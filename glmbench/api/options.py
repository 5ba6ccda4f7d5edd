"""The options of a load run as one typed model, shared by ``run``, ``bench`` and whatever drives runs from Python.

Adding an option is a field here and a flag in the CLI: the CLI passes its
flags by name (:meth:`RunOptions.from_flags`), and the suite overrides below
read the fields.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from glmbench.errors import GlmbenchError
from glmbench.load.workload import Suite, Workload, load_suite
from glmbench.util.config_file import validate
from glmbench.util.paths import NAME_RULE, is_safe_name

__all__ = ["RunOptions"]

# Options that override the suite's dataset, request and workload settings, by section.
_DATASET = {"num_prompts": "num_prompts", "seed": "seed", "dataset": "name", "dataset_path": "path",
            "dataset_source": "source", "tokenizer": "tokenizer", "input_len": "random_input_len",
            "output_len": "random_output_len"}
_REQUEST = {"api": "api", "timeout_s": "timeout_s", "stall_timeout_s": "stall_timeout_s", "http_client": "http_client"}
_WORKLOAD = ("request_rate", "max_concurrency", "burstiness")


class RunOptions(BaseModel):
    """A load run: the suite and its workloads, overrides of the suite, SLOs, repeats and where results go.

    None leaves the suite's own value. The API key is not an option: it is passed
    beside, so that no options object ever carries it into a file.
    """

    model_config = ConfigDict(extra="forbid")

    suite: str = "sharegpt"
    workload: str = Field("burst", description="a workload of the suite, a comma list, or 'all'")
    # The suite's own model validates these once applied, naming the field it sets.
    num_prompts: int | None = None
    seed: int | None = None
    request_rate: float | None = None
    max_concurrency: int | None = None
    burstiness: float | None = None
    dataset: str | None = None
    dataset_path: str | None = None
    dataset_source: str | None = None
    tokenizer: str | None = None
    input_len: int | None = None
    output_len: int | None = None
    api: str | None = None
    extra_body: dict[str, Any] | None = Field(None, description="JSON merged into every request body")
    timeout_s: float | None = None
    stall_timeout_s: float | None = None
    http_client: str | None = Field(None, description="wire (glmbench's own reader, the default) or aiohttp")
    goodput: list[str] = Field(default_factory=list, description="SLOs as KEY:MS (ttft, tpot, e2e)")
    results_dir: Path = Path("results")
    label: str | None = Field(None, description="what reports call the run instead of its folder name")
    run_id: str | None = Field(None, description="the result folder's name (default: time, backend, workloads)")
    repeat: int = Field(1, ge=1)
    client_workers: int | None = Field(None, ge=1, description="client processes; None picks them per workload")

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

    @classmethod
    def from_flags(cls, flags: dict[str, Any]) -> RunOptions:
        """Options from the CLI's flags, taken by field name (flags that are not fields are left out).

        A bad value is named by its flag, as the option parser names its own
        errors (``timeout_s`` is ``--timeout``).
        """
        given = {k: v for k, v in flags.items() if k in cls.model_fields and v is not None}
        try:
            return cls.model_validate(given)
        except ValidationError as exc:
            err = exc.errors()[0]
            flag = "--" + str(err["loc"][0]).removesuffix("_s").replace("_", "-")
            message = err["msg"].removeprefix("Value error, ")
            if not message.startswith(flag):
                message = f"Invalid value for '{flag}': {message}"
            raise GlmbenchError(message, "fix the option named above") from None

    def suite_and_workloads(self) -> tuple[Suite, list[tuple[str, Workload]]]:
        """The suite with these overrides applied, validated, and the workloads chosen."""
        suite = load_suite(self.suite)
        data = suite.model_dump()
        ds, req = data["dataset"], data["request"]
        for option, key in _DATASET.items():
            if getattr(self, option) is not None:
                ds[key] = getattr(self, option)
        if self.dataset_path:
            ds["name"] = self.dataset or "sharegpt"
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
            if self.request_rate is not None or self.max_concurrency is not None:
                # The suite's title names its own rate or cap; say what was actually run.
                wl["title"] = wl["title"].split(" (")[0] + " (overridden)"
        suite = validate(Suite, data, "run settings", "fix the option named above")
        return suite, suite.select(self.workload)
