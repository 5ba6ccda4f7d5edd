"""Backend configurations as data: one YAML file per backend and mode under ``configs/``.

A config names the backend, the model, parallelism, parsers, speculative
decoding, extra flags and environment, and how the server is launched (a local
executable or module, optionally in a given venv; a container image; or an
endpoint someone else runs). ``--model`` and ``--set key=value`` override any
field; dotted keys reach nested ones (``--set speculative.num_speculative_tokens=3``).
"""

from __future__ import annotations

import copy
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from glmbench.errors import GlmbenchError, closest, did_you_mean
from glmbench.util.config_file import parse_yaml, read_text, validation_message
from glmbench.util.paths import shipped_file, shipped_names
from glmbench.util.yamlsafe import load_yaml

__all__ = ["LaunchSpec", "NodeRank", "BackendConfig", "load_backend_config", "apply_overrides", "config_path",
           "config_names", "check_set_keys"]

# The model of a backend's ``options`` (the simulator's settings), by backend name; None where they are free-form.
OptionsModel = Callable[[str], type[BaseModel] | None]


def _set_name(item: str, origins: Mapping[str, str] | None) -> str:
    """How an error names the override ``KEY=VALUE``: as the ``--set`` the user typed, or, for a key ``origins``
    places in a file, as that field and the key (``servers.0.set: options.itl_ms``)."""
    key = item.partition("=")[0].strip()
    return f"{origins[key]}: {key}" if origins and key in origins else f"--set {item}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LaunchSpec(_Strict):
    """How the server process is started.

    ``local``: the backend's own command (``entry: cli``, e.g. ``vllm serve``) or
    its Python module (``entry: module``, e.g. ``python -m sglang.launch_server``),
    from ``venv`` or ``python`` when given, else from PATH. ``container``: the
    same command inside ``image`` with ``runtime`` (docker or podman).
    ``external``: nothing is started; ``endpoint`` is a server someone else runs.
    """

    kind: Literal["local", "container", "external"] = "local"
    entry: Literal["cli", "module"] = "module"
    python: str | None = None
    venv: str | None = None
    image: str | None = None
    runtime: Literal["docker", "podman"] = "docker"
    container_args: list[str] = Field(default_factory=list)
    endpoint: str | None = None
    # default= by keyword: mypy reads only a keyword default as one, and LaunchSpec() is built bare below.
    cpus: list[int] | None = Field(default=None, description="pin the server (and its children) to these "
                                   "cores; the load client then keeps off them")


class NodeRank(_Strict):
    """Which rank of a server over several nodes this process is, and where rank 0 meets the others.

    Filled in by whoever places the ranks (``glmbench experiment run --on ray``), not by hand.
    """

    rank: int = Field(ge=0)
    head: str = Field(description="HOST:PORT on rank 0's node where the ranks meet (SGLang --dist-init-addr, "
                      "LightLLM --nccl_host/--nccl_port, vLLM --data-parallel-address/--data-parallel-rpc-port)")

    @property
    def host(self) -> str:
        return self.head.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.head.rsplit(":", 1)[1])

    @field_validator("head")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError("write HOST:PORT")
        return value


class BackendConfig(_Strict):
    """A backend and mode: what to serve and exactly how to start it."""

    schema_version: int = 1
    backend: str
    description: str = ""
    model: str = "zai-org/GLM-4.7-Flash"
    served_model_name: str | None = "glm-4.7-flash"
    host: str = "127.0.0.1"
    port: int = Field(0, ge=0, le=65535, description="0 picks a free port")
    tp: int = Field(1, ge=1)
    dp: int = Field(1, ge=1)
    nodes: int = Field(1, ge=1, description="nodes the server spans: one rank per node, HTTP on rank 0")
    gpus: int | None = Field(None, ge=0, description="GPUs the server takes on each node (default: tp x dp / nodes; "
                             "the simulator: 0)")
    node: NodeRank | None = Field(None, description="this process's rank of a server over several nodes")
    tool_call_parser: str | None = "glm47"
    reasoning_parser: str | None = "glm45"
    speculative: dict[str, Any] | None = None
    extra_args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict, description="backend-specific settings")
    launch: LaunchSpec = LaunchSpec()
    startup_timeout_s: float = Field(1800.0, gt=0)
    scrape_interval_s: float = Field(5.0, gt=0)

    @field_validator("env", mode="before")
    @classmethod
    def _env_as_text(cls, value: Any) -> Any:
        # YAML and --set read 1 and 0.5 as numbers; the environment holds text.
        if isinstance(value, dict):
            return {k: (str(v).lower() if isinstance(v, bool) else str(v)) if v is not None else "" for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _ranks(self) -> BackendConfig:
        if self.node is not None and self.node.rank >= self.nodes:
            raise ValueError(f"node.rank {self.node.rank} is not below nodes {self.nodes}")
        return self

    @property
    def gpus_per_node(self) -> int:
        """GPUs each node gives the server, as the config asks (``gpus``, else tp x dp over its nodes); whether
        they are GPUs to reserve is the backend's to say (:meth:`~glmbench.backends.base.BaseBackend.gpus_per_node`)."""
        if self.gpus is not None:
            return self.gpus
        return -(-self.tp * self.dp // self.nodes)

    @property
    def source_label(self) -> str:
        """One phrase for tables: the backend and, when on, its speculative method."""
        spec = self.speculative or {}
        method = spec.get("method") or spec.get("algorithm") or spec.get("mode")
        return f"{self.backend}+{method}" if method else self.backend


def config_names() -> list[str]:
    """The names of every backend config shipped in ``configs/`` (what ``--config`` takes besides a path)."""
    return shipped_names("configs")


def config_path(name_or_path: str) -> Path:
    """A config file: a path, or the name of one shipped in ``configs/`` (``vllm-mtp``)."""
    given = Path(name_or_path).expanduser()
    if given.suffix in (".yaml", ".yml") or given.exists():
        if not given.is_file():
            raise GlmbenchError(f"backend config not found: {given}", "check --config, or run glmbench backends")
        return given
    shipped = shipped_file("configs", name_or_path)
    if shipped is None:
        raise GlmbenchError(f"no backend config named {name_or_path!r}{did_you_mean(name_or_path, config_names())}",
                            f"pass one of {', '.join(config_names())} (glmbench backends lists them), "
                            "or a YAML path")
    return shipped


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The settings model a field holds (``LaunchSpec``, ``NodeRank | None``), or None for a value or a mapping."""
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    for kind in typing.get_args(annotation) if union else (annotation,):
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            return kind
    return None


def _unknown_key(named: str, head: str, name: str, known: Sequence[str], owner: str) -> GlmbenchError:
    """``--set HEAD.NAME=VALUE`` where ``HEAD`` has no ``NAME``: the key as typed, the likely one, the valid ones."""
    meant = closest(name, known)
    return GlmbenchError(f"{named}: {owner} {name!r}" + (f"; did you mean {head}.{meant}?" if meant else ""),
                         f"valid keys under {head}.: {', '.join(known)}")


def check_set_keys(items: Sequence[str], backend: str | None = None,
                   options_model: OptionsModel | None = None, origins: Mapping[str, str] | None = None) -> None:
    """Every ``--set KEY=VALUE`` names a field of a backend config (or of ``backend``'s options), before any is
    applied: a typo names the key the user wrote, the one they likely meant and the valid ones, not the file.

    ``origins`` places keys given in a file rather than by ``--set`` (an experiment's ``servers.0.set``): their
    errors name that field."""
    options = options_model(backend) if options_model and backend else None
    option_names = [n for n in options.model_fields if n != "model"] if options else []
    fields = list(BackendConfig.model_fields)
    for item in items:
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not key:
            continue  # not KEY=VALUE: apply_overrides says how to write it
        head, _, rest = key.partition(".")
        named = _set_name(item, origins)
        if head not in fields:
            if head in option_names:
                raise GlmbenchError(f"{named}: {head} is one of {backend}'s options, not a field of the config",
                                    f"write options.{head} instead" if origins and key in origins
                                    else f"write --set options.{head}={value}")
            near_option = closest(key, option_names)
            meant = closest(key, fields) or (f"options.{near_option}" if near_option else None)
            raise GlmbenchError(f"{named}: a backend config has no field {head!r}"
                                + (f"; did you mean {meant}?" if meant else ""),
                                f"valid keys: {', '.join(fields)}"
                                + (f"; {backend}'s options as options.KEY" if option_names else ""))
        sub = rest.partition(".")[0]
        if not sub:
            continue
        if head == "options" and options is not None and sub not in option_names:
            raise _unknown_key(named, head, sub, option_names, f"{backend} has no option")
        nested = _model_of(BackendConfig.model_fields[head].annotation)
        if nested is not None and sub not in nested.model_fields:
            raise _unknown_key(named, head, sub, list(nested.model_fields), f"{head} has no field")


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise GlmbenchError(f"--set {key}: {part} is not a mapping", "set the whole field instead")
        node = child
    node[parts[-1]] = value


def apply_overrides(data: dict[str, Any], items: list[str]) -> dict[str, Any]:
    """``["tp=1", "speculative.num_speculative_tokens=3"]`` applied to a config mapping (values read as YAML)."""
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise GlmbenchError(f"bad --set {item!r}", "write KEY=VALUE, e.g. --set tp=1 or --set launch.venv=/opt/vllm")
        try:
            value = load_yaml(raw, f"--set {key.strip()}") if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        _set_dotted(data, key.strip(), value)
    return data


# (path, text) -> the parsed data: an experiment resolves one config file for each of up to thousands of
# cells, and parsing YAML is most of that time; reading the text is not, and a changed file parses anew.
_PARSED: dict[tuple[str, str], Any] = {}


def _config_data(path: Path) -> Any:
    """The YAML data of a config file (a copy: the caller applies overrides to it)."""
    text = read_text(path, "backend config")
    key = (str(path), text)
    if key not in _PARSED:
        if len(_PARSED) > 64:
            _PARSED.clear()
        _PARSED[key] = parse_yaml(text, path)
    return copy.deepcopy(_PARSED[key])


def _given_by(items: Sequence[str], origins: Mapping[str, str] | None = None) -> Callable[[tuple[Any, ...]], str | None]:
    """For a validation error's field path, the ``--set`` that wrote it (``--set tp=0``), if one did (named where
    ``origins`` places it: :func:`_set_name`)."""
    keys = {tuple(item.partition("=")[0].strip().split(".")): item for item in items}

    def given(loc: tuple[Any, ...]) -> str | None:
        path = tuple(str(p) for p in loc)
        found = [item for key, item in keys.items() if path[:len(key)] == key or key[:len(path)] == path]
        return _set_name(found[-1], origins) if found else None

    return given


def load_backend_config(name_or_path: str, overrides: list[str] | None = None,
                        model: str | None = None, options_model: OptionsModel | None = None,
                        origins: Mapping[str, str] | None = None) -> BackendConfig:
    """Read a backend config, apply ``--set`` and ``--model``, validate.

    ``options_model`` gives a backend's options model, so that ``--set options.KEY`` is checked
    against it too; a bad ``--set`` is named as the user wrote it, never as the file's field, or, for a key
    ``origins`` places in a file (an experiment's ``servers.0.set``), as that field and the key.
    """
    path = config_path(name_or_path)
    data = _config_data(path) or {}
    if not isinstance(data, dict) or "backend" not in data:
        raise GlmbenchError(f"{path} is not a backend config (no 'backend' key)", "see configs/vllm.yaml for the shape")
    sets = list(overrides or [])
    check_set_keys(sets, str(data["backend"]), options_model, origins)
    apply_overrides(data, sets)
    if model:
        data["model"] = model
    given = _given_by(sets, origins)
    fix = "fix the value named above" if origins else "fix the --set value"
    try:
        cfg = BackendConfig.model_validate(data)
    except ValidationError as exc:
        by_set = all(given(tuple(err["loc"])) for err in exc.errors())
        raise GlmbenchError(validation_message(exc, str(path), given, BackendConfig),
                            fix if by_set else "fix the field named above") from None
    options = options_model(cfg.backend) if options_model else None
    if options is not None and any(given(("options", key)) for key in cfg.options):
        # The backend checks its settings before it starts; a bad value a --set gave is named now, as typed.
        try:
            options.model_validate(cfg.options)
        except ValidationError as exc:
            if all(given(("options", *err["loc"])) for err in exc.errors()):
                raise GlmbenchError(validation_message(exc, str(path), lambda loc: given(("options", *loc))),
                                    fix) from None
    return cfg
