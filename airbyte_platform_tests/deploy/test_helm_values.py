"""The Dagster chart's values: valid against the chart's values schema, and saying what the deployment
promises (external PostgreSQL, K8sRunLauncher, the queued run coordinator protecting Airbyte, one sync
per connection, our image running our code location)."""

from __future__ import annotations

import copy
import importlib.util

import jsonschema
import pytest

from airbyte_platform_tests.deploy.deploy_files import (
    ENVIRONMENTS,
    KUSTOMIZE,
    base_documents,
    chart_values_validator,
    code_location,
    find,
    helm_values,
    kustomization,
    walk,
)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_values_validate_against_the_chart_schema(environment: str) -> None:
    errors = sorted(chart_values_validator().iter_errors(helm_values(environment)), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_schema_catches_a_misspelled_key_and_a_bad_kubernetes_object() -> None:
    values = helm_values("prod")
    misspelled = copy.deepcopy(values)
    misspelled["dagsterDaemon"]["runCordinator"] = misspelled["dagsterDaemon"].pop("runCoordinator")
    with pytest.raises(jsonschema.ValidationError, match="runCordinator"):
        chart_values_validator().validate(misspelled)
    bad_probe = copy.deepcopy(values)
    code_location(bad_probe)["livenessProbe"]["periodSeconds"] = "30s"
    with pytest.raises(jsonschema.ValidationError, match="30s"):
        chart_values_validator().validate(bad_probe)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_dagster_storage_is_an_external_postgresql_whose_password_comes_from_an_external_secret(
    environment: str,
) -> None:
    values = helm_values(environment)
    postgresql = values["postgresql"]
    assert postgresql["enabled"] is False
    assert postgresql["postgresqlHost"]
    assert postgresql["postgresqlPassword"] == "", "the password must not be in the values"
    assert values["generatePostgresqlPasswordSecret"] is False
    secret_name = values["global"]["postgresqlSecretName"]
    written = [
        d for d in find(base_documents(), "ExternalSecret") if d.body["spec"]["target"]["name"] == secret_name
    ]
    assert len(written) == 1, f"no ExternalSecret writes the Secret {secret_name} the chart reads"
    keys = {item["secretKey"] for item in written[0].body["spec"]["data"]}
    assert "postgresql-password" in keys


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_runs_are_kubernetes_jobs_queued_behind_the_airbyte_sync_limit(environment: str) -> None:
    values = helm_values(environment)
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    coordinator = values["dagsterDaemon"]["runCoordinator"]
    assert coordinator["enabled"] is True
    assert coordinator["type"] == "QueuedRunCoordinator"
    queued = coordinator["config"]["queuedRunCoordinator"]
    limits = {(limit["key"], limit.get("value")): limit["limit"] for limit in queued["tagConcurrencyLimits"]}
    sync_limit = limits.get(("airbyte/sync", "true"))
    assert sync_limit is not None, "no tag concurrency limit on airbyte/sync=true (Airbyte worker protection)"
    assert 1 <= sync_limit <= queued["maxConcurrentRuns"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_pools_allow_one_sync_per_connection(environment: str) -> None:
    pools = helm_values(environment)["additionalInstanceConfig"]["concurrency"]["pools"]
    assert pools["default_limit"] == 1
    assert pools["granularity"] == "op"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_code_server_runs_our_module_from_the_image_the_receiver_runs(environment: str) -> None:
    values = helm_values(environment)
    location = code_location(values)
    args = location["codeServerArgs"]
    module = args[args.index("-m") + 1]
    assert importlib.util.find_spec(module) is not None, f"{module} is not importable"
    assert location["includeConfigInLaunchedRuns"]["enabled"] is True
    images = kustomization(KUSTOMIZE / "overlays" / environment)["images"]
    receiver_image = only_image(images_by_name(images), "airbyte-platform")
    assert (location["image"]["repository"], str(location["image"]["tag"])) == (
        receiver_image["newName"],
        str(receiver_image["newTag"]),
    ), "the code server and the receiver must run the same image"


def images_by_name(images: list[dict]) -> dict[str, list[dict]]:
    by_name: dict[str, list[dict]] = {}
    for image in images:
        by_name.setdefault(image["name"], []).append(image)
    return by_name


def only_image(by_name: dict[str, list[dict]], name: str) -> dict:
    assert len(by_name.get(name, [])) == 1, f"expected one image entry {name}"
    return by_name[name][0]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_our_image_runs_as_a_non_root_user_and_no_container_escalates(environment: str) -> None:
    values = helm_values(environment)
    pod = code_location(values)["podSecurityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] == 10001  # the image's user (test_dockerfile checks the USER line)
    for name, container in (
        ("code server", code_location(values)["securityContext"]),
        ("webserver", values["dagsterWebserver"]["securityContext"]),
        ("daemon", values["dagsterDaemon"]["securityContext"]),
    ):
        assert container["allowPrivilegeEscalation"] is False, name
        assert container["capabilities"]["drop"] == ["ALL"], name


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_values_hold_no_secret(environment: str) -> None:
    values = helm_values(environment)
    for path, value in walk(values):
        lowered = path.lower()
        if any(word in lowered for word in ("password", "token", "secret", "dsn")) and isinstance(value, str):
            assert value == "" or lowered.endswith(("secretname", ".name")), f"{path} holds a value"
