"""Reading deploy/ the way the cluster will: manifests, kustomizations, Helm values, the kept schemas.

Everything here is offline: Kubernetes schemas come from the kubernetes-validate package (pinned
Kubernetes version below), custom resources and the Dagster chart's values from the schemas kept in
deploy/schemas/. Only the overlay rendering needs a binary (`kubectl kustomize`), and the tests that use
it say so when it is missing.
"""

from __future__ import annotations

import ast
import copy
import inspect
import json
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource

from airbyte_platform import settings as settings_module

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"
KUSTOMIZE = DEPLOY / "kustomize"
BASE = KUSTOMIZE / "base"
HELM = DEPLOY / "helm"
SCHEMAS = DEPLOY / "schemas"
DOCKERFILE = DEPLOY / "Dockerfile"

# The Kubernetes version the manifests are validated against (kubernetes-validate's schemas).
KUBERNETES_VERSION = "1.32"
ENVIRONMENTS = ("dev", "prod")
HELM_RELEASE = "dagster"
CODE_LOCATION = "airbyte-platform"  # the user deployment's name in the Helm values

# The Kubernetes definitions the Dagster chart's schema points at (it names an online copy).
_CHART_K8S_REF = "https://kubernetesjsonschema.dev/v1.18.0/_definitions.json#/definitions/"


@dataclass(frozen=True)
class Document:
    path: Path
    index: int
    body: dict[str, Any]

    @property
    def kind(self) -> str:
        return self.body.get("kind", "")

    @property
    def name(self) -> str:
        return self.body.get("metadata", {}).get("name", "")

    def __str__(self) -> str:
        return f"{self.path.relative_to(REPO_ROOT)}#{self.index} {self.kind}/{self.name}"


def yaml_documents(path: Path) -> list[dict[str, Any]]:
    """The YAML documents of a file (a fresh copy: callers may change them)."""
    return copy.deepcopy(_parsed(path, path.stat().st_mtime_ns))


@cache
def _parsed(path: Path, mtime_ns: int) -> list[dict[str, Any]]:
    with path.open() as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def deploy_yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def kustomization_dirs() -> list[Path]:
    return sorted(p.parent for p in KUSTOMIZE.rglob("kustomization.yaml"))


def kustomization(directory: Path) -> dict[str, Any]:
    return yaml_documents(directory / "kustomization.yaml")[0]


def base_documents() -> list[Document]:
    """Every resource the base lists (complete manifests, as applied)."""
    docs = []
    for name in kustomization(BASE)["resources"]:
        path = BASE / name
        docs.extend(Document(path, i, body) for i, body in enumerate(yaml_documents(path)))
    return docs


def overlay_patches(environment: str) -> list[Document]:
    directory = KUSTOMIZE / "overlays" / environment
    docs = []
    for patch in kustomization(directory).get("patches", []):
        path = directory / patch["path"]
        docs.extend(Document(path, i, body) for i, body in enumerate(yaml_documents(path)))
    return docs


def find(docs: list[Document], kind: str, name: str | None = None) -> list[Document]:
    return [d for d in docs if d.kind == kind and (name is None or d.name == name)]


def only(docs: list[Document], kind: str, name: str) -> Document:
    found = find(docs, kind, name)
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def settings_data(environment: str) -> dict[str, str]:
    """The settings ConfigMap of an environment: base data with the overlay's keys merged over it
    (what a strategic-merge patch does to a ConfigMap's `data` map)."""
    data = dict(only(base_documents(), "ConfigMap", "airbyte-platform-settings").body["data"])
    for patch in find(overlay_patches(environment), "ConfigMap", "airbyte-platform-settings"):
        data.update(patch.body.get("data", {}))
    return data


def kubectl() -> str | None:
    return shutil.which("kubectl")


@cache
def rendered_overlay(environment: str) -> list[dict[str, Any]]:
    """`kubectl kustomize` of an overlay (the caller skips when kubectl is missing)."""
    binary = kubectl()
    assert binary is not None
    out = subprocess.run(
        [binary, "kustomize", str(KUSTOMIZE / "overlays" / environment)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc is not None]


# ---- Helm values -------------------------------------------------------------------------------------


def helm_merge(base: Any, override: Any) -> Any:
    """Helm's merge of values files: maps merge key by key, anything else (lists included) replaces."""
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = helm_merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(override)


def helm_values(environment: str) -> dict[str, Any]:
    common = yaml_documents(HELM / "values.yaml")[0]
    return helm_merge(common, yaml_documents(HELM / f"values-{environment}.yaml")[0])


def code_location(values: Mapping[str, Any]) -> dict[str, Any]:
    deployments = values["dagster-user-deployments"]["deployments"]
    found = [d for d in deployments if d["name"] == CODE_LOCATION]
    assert len(found) == 1, f"the Helm values must hold one user deployment named {CODE_LOCATION}"
    return found[0]


# ---- schemas -----------------------------------------------------------------------------------------


def _kubernetes_definitions() -> Resource:
    # Not the strict variant: the chart extends some Kubernetes objects with its own keys (a probe's
    # `enabled`), which strict definitions would reject.
    folder = f"v{KUBERNETES_VERSION}.0-local"
    path = resources.files("kubernetes_validate") / "kubernetes-json-schema" / folder / "_definitions.json"
    return Resource.from_contents(json.loads(path.read_text()))


def _strip(schema: Any, keyword: str) -> Any:
    if isinstance(schema, dict):
        return {k: _strip(v, keyword) for k, v in schema.items() if k != keyword}
    if isinstance(schema, list):
        return [_strip(v, keyword) for v in schema]
    return schema


@cache
def chart_values_validator() -> jsonschema.Draft7Validator:
    """The Dagster chart's values schema, for an override file rather than the chart's full values.

    Helm validates the chart's defaults merged with ours, and the defaults fill every `required` key;
    without the defaults file, `required` is dropped. Everything else stays: unknown keys where the
    chart forbids them, types, enums, and the Kubernetes objects (probes, resources, security
    contexts) against the pinned Kubernetes version's definitions instead of the online copy.
    """
    text = (SCHEMAS / "dagster-helm-values.schema.json").read_text()
    k8s = _kubernetes_definitions()
    text = text.replace(_CHART_K8S_REF, f"{k8s.id()}#/$defs/")
    schema = _strip(json.loads(text), "required")
    return jsonschema.Draft7Validator(schema, registry=k8s @ Registry())


def _strict(schema: Any) -> Any:
    """Kubernetes' strict field validation: a field the CRD schema does not define is an error."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@cache
def crd_validators() -> dict[tuple[str, str], jsonschema.Draft7Validator]:
    """(apiVersion, kind) -> validator, for every CRD schema kept in deploy/schemas/crds."""
    validators = {}
    for path in sorted((SCHEMAS / "crds").glob("*.yaml")):
        crd = yaml_documents(path)[0]
        api_version = f"{crd['group']}/{crd['version']}"
        schema = {**crd["openAPIV3Schema"], "$defs": crd.get("$defs", {})}
        validators[(api_version, crd["kind"])] = jsonschema.Draft7Validator(_strict(schema))
    return validators


def is_core(body: Mapping[str, Any]) -> bool:
    """Kinds of Kubernetes itself (validated by kubernetes-validate), as opposed to custom resources."""
    group = body["apiVersion"].rpartition("/")[0]
    return group == "" or group.endswith(".k8s.io") or "." not in group


def walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, scalar) for every scalar in a YAML/JSON value."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from walk(item, f"{path}[{i}]")
    else:
        yield path, value


# ---- Dockerfile --------------------------------------------------------------------------------------


def dockerfile_stages() -> list[list[Any]]:
    """The Dockerfile's instructions (the `dockerfile` package's parser, BuildKit's grammar), per stage."""
    import dockerfile

    stages: list[list[Any]] = []
    for command in dockerfile.parse_file(str(DOCKERFILE)):
        if command.cmd.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(command)
    return stages


def dockerfile_env(stage: list[Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    for command in stage:
        if command.cmd.upper() == "ENV":
            values = list(command.value)
            env.update(zip(values[::2], values[1::2], strict=True))
    return env


# ---- settings ------------------------------------------------------------------------------------------


def secret_variables() -> set[str]:
    """Variables settings.py reads as secrets (`secret_var`: only ever through dg.EnvVar)."""
    tree = ast.parse(inspect.getsource(settings_module))
    names = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "secret_var"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(node.args[0].value)
    return names
