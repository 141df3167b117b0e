"""Every manifest under deploy/ parses and validates offline: Kubernetes kinds against the pinned Kubernetes
version's schemas (kubernetes-validate, strict), custom resources against the CRD schemas kept in
deploy/schemas/crds, overlays as `kubectl kustomize` renders them."""

from __future__ import annotations

import copy
import json

import jsonschema
import kubernetes_validate
import pytest
import yaml

from airbyte_platform_tests.deploy.deploy_files import (
    BASE,
    DEPLOY,
    ENVIRONMENTS,
    KUBERNETES_VERSION,
    KUSTOMIZE,
    SCHEMAS,
    Document,
    base_documents,
    crd_validators,
    find,
    is_core,
    kubectl,
    kustomization,
    kustomization_dirs,
    only,
    overlay_patches,
    rendered_overlay,
    yaml_documents,
)


def validate(body: dict) -> None:
    """Raise with the reason when `body` is not a valid resource for the pinned Kubernetes version."""
    if is_core(body):
        kubernetes_validate.validate(body, KUBERNETES_VERSION, strict=True)
        return
    validator = crd_validators().get((body["apiVersion"], body["kind"]))
    assert validator is not None, (
        f"no CRD schema kept for {body['apiVersion']} {body['kind']}: add its openAPIV3Schema under "
        f"{SCHEMAS / 'crds'} (see deploy/schemas/README.md)"
    )
    validator.validate(body)


def test_every_yaml_and_json_file_under_deploy_parses() -> None:
    files = sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
    assert files, "deploy/ has no manifests"
    for path in files:
        if path.suffix == ".json":
            json.loads(path.read_text())
        else:
            assert yaml_documents(path), f"{path} holds no YAML document"


def test_kustomizations_name_files_that_exist() -> None:
    for directory in kustomization_dirs():
        spec = kustomization(directory)
        for entry in spec.get("resources", []):
            assert (directory / entry).exists(), f"{directory}/kustomization.yaml: {entry} does not exist"
        for patch in spec.get("patches", []):
            assert (directory / patch["path"]).is_file(), f"{directory}: patch {patch['path']} is missing"
    overlays = {d.name for d in kustomization_dirs() if d.parent.name == "overlays"}
    assert overlays == set(ENVIRONMENTS)


@pytest.mark.parametrize("doc", base_documents(), ids=str)
def test_base_resource_validates(doc: Document) -> None:
    validate(doc.body)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_overlay_patches_target_a_base_resource(environment: str) -> None:
    base = {(d.kind, d.name) for d in base_documents()}
    for patch in overlay_patches(environment):
        assert (patch.kind, patch.name) in base, f"{patch} patches nothing in the base"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_rendered_overlay_validates(environment: str) -> None:
    if kubectl() is None:
        pytest.skip("kubectl is not installed: the overlays cannot be rendered (the base is validated)")
    rendered = rendered_overlay(environment)
    base = base_documents()
    assert {(d["kind"], d["metadata"]["name"]) for d in rendered} == {(d.kind, d.name) for d in base}
    for body in rendered:
        assert body["metadata"].get("namespace") == "dagster", f"{body['kind']} is not in namespace dagster"
        validate(body)


def test_kubernetes_validation_catches_a_misspelled_field() -> None:
    """The validators are strict: a typo fails instead of being silently dropped by the API server."""
    deployment = copy.deepcopy(only(base_documents(), "Deployment", "webhook-receiver").body)
    deployment["spec"]["replica"] = deployment["spec"].pop("replicas")
    with pytest.raises(kubernetes_validate.ValidationError, match="replica"):
        validate(deployment)


def test_crd_validation_catches_a_misspelled_field_and_a_bad_enum() -> None:
    external_secret = only(base_documents(), "ExternalSecret", "airbyte-platform-secrets").body
    misspelled = copy.deepcopy(external_secret)
    misspelled["spec"]["secretStoreRefs"] = misspelled["spec"].pop("secretStoreRef")
    with pytest.raises(jsonschema.ValidationError, match="secretStoreRefs"):
        validate(misspelled)
    bad_kind = copy.deepcopy(external_secret)
    bad_kind["spec"]["secretStoreRef"]["kind"] = "ClusterStore"
    with pytest.raises(jsonschema.ValidationError, match="ClusterStore"):
        validate(bad_kind)


def test_every_custom_resource_has_a_kept_schema() -> None:
    custom = [d for d in base_documents() if not is_core(d.body)]
    assert {d.kind for d in custom} >= {"ExternalSecret"}
    for doc in custom:
        assert (doc.body["apiVersion"], doc.kind) in crd_validators(), f"{doc}: no kept CRD schema"


def test_external_secrets_reference_a_cluster_secret_store() -> None:
    for doc in find(base_documents(), "ExternalSecret"):
        assert doc.body["spec"]["secretStoreRef"]["kind"] == "ClusterSecretStore", doc


def test_base_holds_no_namespace_object_and_names_the_namespace_once() -> None:
    """The namespace is the platform team's (docs/operations.md creates it); the kustomizations set it."""
    assert not find(base_documents(), "Namespace")
    for directory in kustomization_dirs():
        assert kustomization(directory).get("namespace") == "dagster", directory


def test_manifest_files_are_plain_yaml_without_templating() -> None:
    """Kustomize manifests are applied as written: a Helm or Jinja placeholder would reach the cluster."""
    for path in sorted(KUSTOMIZE.rglob("*.yaml")):
        text = path.read_text()
        assert "{{" not in text and "{%" not in text, f"{path} contains template syntax"
    assert (BASE / "kustomization.yaml").is_file()
    yaml.safe_load((BASE / "kustomization.yaml").read_text())


# Monitoring resources (the operations issue adds them under deploy/): the kept schemas accept a plain one
# and reject a typo, so the manifests written against them are checked like the rest.
MONITORING_EXAMPLES = [
    {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "webhook-receiver"},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": "webhook-receiver"}},
            "endpoints": [{"port": "http", "path": "/metrics", "interval": "30s"}],
        },
    },
    {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "airbyte-platform"},
        "spec": {
            "groups": [
                {
                    "name": "airbyte-platform",
                    "rules": [{"alert": "SyncFailed", "expr": "increase(x[1h]) > 0", "for": "5m"}],
                }
            ]
        },
    },
]


@pytest.mark.parametrize("example", MONITORING_EXAMPLES, ids=lambda e: e["kind"])
def test_monitoring_schemas_accept_a_plain_resource_and_reject_a_typo(example: dict) -> None:
    validate(example)
    typo = copy.deepcopy(example)
    typo["spec"]["selectors" if example["kind"] == "ServiceMonitor" else "group"] = {}
    with pytest.raises(jsonschema.ValidationError):
        validate(typo)
    bad_duration = copy.deepcopy(example)
    if example["kind"] == "ServiceMonitor":
        bad_duration["spec"]["endpoints"][0]["interval"] = "30 seconds"
    else:
        bad_duration["spec"]["groups"][0]["rules"][0]["for"] = "5 minutes"
    with pytest.raises(jsonschema.ValidationError, match=r"seconds|minutes"):
        validate(bad_duration)
