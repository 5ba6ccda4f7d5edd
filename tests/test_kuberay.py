"""examples/kuberay-rayjob.yaml: a RayJob that KubeRay's CRD schema accepts, and that runs
glmbench's experiment on the Ray cluster it makes, as the file's comments say.

The schema is the ``ray.io/v1`` openAPIV3Schema of KubeRay's RayJob CRD, vendored in
tests/data/kuberay/ (its README says from where). It is read as the API server reads it:
``x-kubernetes-int-or-string`` as integer or string, ``nullable`` as null allowed, and
unknown fields as errors (what ``kubectl apply`` asks for by default, --validate=strict)
except where the schema keeps them (``x-kubernetes-preserve-unknown-fields``, maps).
The schema's CEL rules (``x-kubernetes-validations``) are not evaluated: the example sets
none of the fields that carry one, and a test says so.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from jsonschema.protocols import Validator

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "kuberay-rayjob.yaml"
SCHEMA = Path(__file__).resolve().parent / "data" / "kuberay" / "ray.io_rayjobs.v1.v1.7.0.schema.json"


def structural(node: Any) -> Any:
    """A copy of a CRD's openAPIV3Schema in plain JSON Schema terms, as the API server applies it."""
    if isinstance(node, list):
        return [structural(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: structural(value) for key, value in node.items()}
    if out.get("x-kubernetes-int-or-string") and "anyOf" not in out:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    keeps_unknown = out.get("x-kubernetes-preserve-unknown-fields") or out.get("x-kubernetes-embedded-resource")
    if "properties" in out and "additionalProperties" not in out and not keeps_unknown:
        out["additionalProperties"] = False
    return out


FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("int32")
def _int32(value: object) -> bool:
    return not isinstance(value, int) or -(2**31) <= value < 2**31


@FORMATS.checks("int64")
def _int64(value: object) -> bool:
    return not isinstance(value, int) or -(2**63) <= value < 2**63


@pytest.fixture(scope="module")
def crd() -> dict[str, Any]:
    return json.loads(SCHEMA.read_text())


@pytest.fixture(scope="module")
def validator(crd: dict[str, Any]) -> Validator:
    schema = structural(crd["openAPIV3Schema"])
    jsonschema.Draft4Validator.check_schema(schema)  # OpenAPI 3.0's schemas are draft 4's, less a few keywords
    return jsonschema.Draft4Validator(schema, format_checker=FORMATS)


@pytest.fixture(scope="module")
def documents() -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(EXAMPLE.read_text()) if doc is not None]


@pytest.fixture(scope="module")
def rayjob(documents: list[dict[str, Any]]) -> dict[str, Any]:
    (job,) = [doc for doc in documents if doc.get("kind") == "RayJob"]
    return job


def errors(validator: Validator, manifest: dict[str, Any]) -> list[str]:
    return [f"{e.json_path}: {e.message}" for e in validator.iter_errors(manifest)]


def pod_specs(job: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    cluster = job["spec"]["rayClusterSpec"]
    yield "head", cluster["headGroupSpec"]["template"]["spec"]
    for group in cluster["workerGroupSpecs"]:
        yield group["groupName"], group["template"]["spec"]


def first_worker(job: dict[str, Any]) -> dict[str, Any]:
    return job["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]


def containers(job: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for group, spec in pod_specs(job):
        for container in spec.get("containers", []) + spec.get("initContainers", []):
            yield f"{group}/{container['name']}", container


def test_the_schema_is_kuberay_v1_rayjob(crd: dict[str, Any]) -> None:
    source = crd["source"]
    assert source["repository"] == "ray-project/kuberay"
    assert source["path"] == "ray-operator/config/crd/bases/ray.io_rayjobs.yaml"
    assert source["tag"] in SCHEMA.name and re.fullmatch(r"[0-9a-f]{40}", source["commit"])
    assert {"spec", "status"} <= set(crd["openAPIV3Schema"]["properties"])


def test_the_example_is_a_valid_rayjob(validator: Validator, rayjob: dict[str, Any]) -> None:
    assert (rayjob["apiVersion"], rayjob["kind"]) == ("ray.io/v1", "RayJob")
    assert errors(validator, rayjob) == []


def test_an_int_or_string_quantity_is_read_as_kubernetes_does(validator: Validator, rayjob: dict[str, Any]) -> None:
    """``nvidia.com/gpu: 8`` (an integer) and ``memory: 256Gi`` pass; a quantity that is no number fails."""
    limits = first_worker(rayjob)["resources"]["limits"]
    assert isinstance(limits["nvidia.com/gpu"], int) and isinstance(limits["memory"], str)
    broken = copy.deepcopy(rayjob)
    first_worker(broken)["resources"]["limits"]["nvidia.com/gpu"] = "eight"
    assert any("nvidia.com/gpu" in line and "does not match" in line for line in errors(validator, broken))


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        (("spec", "rayClusterSpec", "workerGroupSpecs", 0, "replicas"), [2], "is not of type 'integer'"),
        (("spec", "rayClusterSpec", "headGroupSpec", "rayStartParams", "num-cpus"), 0, "is not of type 'string'"),
        # a typo of shutdownAfterJobFinishes: the raw schema would take it, strict field validation does not
        (("spec", "shutdownAfterJobFinish"), True, "Additional properties are not allowed"),
        (("spec", "activeDeadlineSeconds"), 2**31, "is not a 'int32'"),
    ],
    ids=["replicas-as-list", "rayStartParams-int", "unknown-field", "int32-overflow"],
)
def test_a_broken_manifest_is_rejected(
    validator: Validator, rayjob: dict[str, Any], where: tuple[str | int, ...], value: Any, message: str
) -> None:
    broken = copy.deepcopy(rayjob)
    parent = broken
    for key in where[:-1]:
        parent = parent[key]
    parent[where[-1]] = value
    found = errors(validator, broken)
    assert any(message in line for line in found), found


def test_no_field_with_an_unevaluated_cel_rule_is_set(crd: dict[str, Any], rayjob: dict[str, Any]) -> None:
    def hits(schema: dict[str, Any], value: Any, path: str) -> Iterator[str]:
        if "x-kubernetes-validations" in schema:
            yield path
        if isinstance(value, dict):
            for key, item in value.items():
                sub = schema.get("properties", {}).get(key) or schema.get("additionalProperties")
                if isinstance(sub, dict):
                    yield from hits(sub, item, f"{path}.{key}")
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            for index, item in enumerate(value):
                yield from hits(schema["items"], item, f"{path}[{index}]")

    assert list(hits(crd["openAPIV3Schema"], rayjob, "$")) == []


def test_the_operator_accepts_it(rayjob: dict[str, Any]) -> None:
    """What KubeRay's own validation (ray-operator/controllers/ray/utils/validation.go) checks besides the schema."""
    name, spec = rayjob["metadata"]["name"], rayjob["spec"]
    assert len(name) <= 47 and re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", name)  # a DNS-1035 label; the cluster adds 6
    assert spec["submissionMode"] == "K8sJobMode"
    assert spec["shutdownAfterJobFinishes"] is True
    assert spec["ttlSecondsAfterFinished"] >= 0 and spec["activeDeadlineSeconds"] > 0
    for group in spec["rayClusterSpec"]["workerGroupSpecs"]:
        assert 0 <= group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
    for _, pod in pod_specs(rayjob):
        assert pod["containers"]


def test_the_entrypoint_runs_the_experiment_on_ray(rayjob: dict[str, Any]) -> None:
    args = shlex.split(rayjob["spec"]["entrypoint"])
    assert args[:3] == ["glmbench", "experiment", "run"]
    assert args[args.index("--on") + 1] == "ray"
    experiment = args[3]
    assert not experiment.startswith("-") and (ROOT / experiment).is_file(), experiment
    assert experiment.startswith("experiments/")
    # The path is relative: the head (where the driver runs) starts in the checkout.
    head = rayjob["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert head["workingDir"] == "/opt/glmbench"


def test_the_results_are_on_a_volume_that_head_and_workers_share(
    documents: list[dict[str, Any]], rayjob: dict[str, Any]
) -> None:
    args = shlex.split(rayjob["spec"]["entrypoint"])
    results = args[args.index("--results-dir") + 1]
    claims = set()
    for group, pod in pod_specs(rayjob):
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        mounted = [m for c in pod["containers"] for m in c.get("volumeMounts", []) if m["mountPath"] == results]
        assert len(mounted) == 1, f"{group} does not mount {results}"
        claims.add(volumes[mounted[0]["name"]]["persistentVolumeClaim"]["claimName"])
    assert len(claims) == 1
    (pvc,) = [doc for doc in documents if doc.get("kind") == "PersistentVolumeClaim"]
    assert pvc["metadata"]["name"] in claims
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]  # pods on several nodes


def test_no_secret_is_written_inline(rayjob: dict[str, Any]) -> None:
    secret_like = re.compile(r"TOKEN|KEY|SECRET|PASSWORD", re.IGNORECASE)
    seen = 0
    for where, container in containers(rayjob):
        for env in container.get("env", []):
            if secret_like.search(env["name"]):
                seen += 1
                assert "value" not in env and "secretKeyRef" in env["valueFrom"], f"{where}: {env['name']}"
    assert seen, "the HF token comes from a Secret"
    assert not re.search(r"hf_[A-Za-z0-9]{20,}", EXAMPLE.read_text())  # nor a token pasted anywhere


def test_the_workers_ask_for_gpus_and_the_head_for_none(rayjob: dict[str, Any]) -> None:
    cluster = rayjob["spec"]["rayClusterSpec"]
    assert cluster["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"  # no cell on the head
    for where, container in containers(rayjob):
        gpus = int(container.get("resources", {}).get("limits", {}).get("nvidia.com/gpu", 0))
        assert (gpus > 0) == (not where.startswith("head/")), where
    assert all(group["replicas"] >= 1 for group in cluster["workerGroupSpecs"])


def test_the_image_has_the_ray_of_rayversion(rayjob: dict[str, Any]) -> None:
    version = rayjob["spec"]["rayClusterSpec"]["rayVersion"]
    for where, container in containers(rayjob):
        assert container["image"].rsplit(":", 1)[1].startswith(f"{version}-"), where
    assert f"FROM rayproject/ray:{version}-py311-gpu" in EXAMPLE.read_text()
