"""The Dagster chart's values: valid against the chart's values schema, and saying what the deployment
promises (external PostgreSQL, K8sRunLauncher, our queued run coordinator protecting Airbyte, one sync
per connection, our image running our code location, the webserver and the daemon)."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import dagster as dg
import jsonschema
import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._serdes import ConfigurableClassData

from airbyte_platform.ingestion.sync_ops import SYNC_RUN_TAG
from airbyte_platform.ingestion.sync_run_coordinator import CLASS as SYNC_RUN_COORDINATOR_CLASS
from airbyte_platform.ingestion.sync_run_coordinator import MODULE as SYNC_RUN_COORDINATOR_MODULE
from airbyte_platform.ingestion.sync_run_coordinator import SyncRunCoordinator
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
    # SQLAlchemy 2.1 would pick psycopg 3 for postgresql://, which breaks dagster-postgres' webserver pool.
    assert postgresql["postgresqlScheme"] == "postgresql+psycopg2"
    secret_name = values["global"]["postgresqlSecretName"]
    written = [
        d for d in find(base_documents(), "ExternalSecret") if d.body["spec"]["target"]["name"] == secret_name
    ]
    assert len(written) == 1, f"no ExternalSecret writes the Secret {secret_name} the chart reads"
    keys = {item["secretKey"] for item in written[0].body["spec"]["data"]}
    assert "postgresql-password" in keys


def rendered_instance(values: dict) -> dict:
    """The parts of the instance's dagster.yaml the chart renders from these values, following its
    templates (helpers/instance/_postgresql.tpl, _run-coordinator.tpl, _concurrency.tpl), including the
    conflicts its _concurrency.tpl refuses."""
    postgresql = values["postgresql"]
    storage = {
        "postgres_db": {
            "username": postgresql["postgresqlUsername"],
            "password": {"env": "DAGSTER_PG_PASSWORD"},
            "hostname": postgresql["postgresqlHost"],
            "db_name": postgresql["postgresqlDatabase"],
            "port": postgresql["service"]["port"],
            "params": postgresql["postgresqlParams"],
            **({"scheme": postgresql["postgresqlScheme"]} if postgresql.get("postgresqlScheme") else {}),
        }
    }
    instance: dict = {
        f"{kind}_storage": {"module": f"dagster_postgres.{module}", "class": cls, "config": storage}
        for kind, module, cls in (
            ("run", "run_storage", "PostgresRunStorage"),
            ("event_log", "event_log", "PostgresEventLogStorage"),
            ("schedule", "schedule_storage", "PostgresScheduleStorage"),
        )
    }
    coordinator = values["dagsterDaemon"]["runCoordinator"]
    queued: dict = {}
    if coordinator["type"] == "CustomRunCoordinator":
        custom = coordinator["config"]["customRunCoordinator"]
        instance["run_coordinator"] = {
            "module": custom["module"],
            "class": custom["class"],
            "config": custom["config"],
        }
    else:
        queued = coordinator["config"]["queuedRunCoordinator"]
        config = {
            name: queued[key]
            for key, name in (
                ("maxConcurrentRuns", "max_concurrent_runs"),
                ("tagConcurrencyLimits", "tag_concurrency_limits"),
                ("dequeueIntervalSeconds", "dequeue_interval_seconds"),
            )
            if queued.get(key)
        }
        instance["run_coordinator"] = {
            "module": "dagster._core.run_coordinator",
            "class": coordinator["type"],
            **({"config": config} if config else {}),
        }
    concurrency = values.get("concurrency") or {}
    if concurrency.get("enabled"):
        pools, runs = concurrency.get("pools") or {}, concurrency.get("runs") or {}
        assert not (runs.get("maxConcurrentRuns") is not None and queued.get("maxConcurrentRuns") is not None)
        assert not (runs.get("tagConcurrencyLimits") and queued.get("tagConcurrencyLimits"))
        rendered_pools = {
            name: pools[key]
            for key, name in (
                ("defaultLimit", "default_limit"),
                ("granularity", "granularity"),
                ("opGranularityRunBuffer", "op_granularity_run_buffer"),
            )
            if pools.get(key) is not None
        }
        rendered_runs = {}
        if runs.get("maxConcurrentRuns") is not None:
            rendered_runs["max_concurrent_runs"] = runs["maxConcurrentRuns"]
        if runs.get("tagConcurrencyLimits"):
            rendered_runs["tag_concurrency_limits"] = runs["tagConcurrencyLimits"]
        instance["concurrency"] = {
            **({"pools": rendered_pools} if rendered_pools else {}),
            **({"runs": rendered_runs} if rendered_runs else {}),
        }
    if values.get("additionalInstanceConfig"):
        instance.update(values["additionalInstanceConfig"])
    return instance


def check_instance(instance: dict, folder: Path) -> dict:
    """Dagster's own validation of an instance configuration (what every Dagster process does first)."""
    (folder / "dagster.yaml").write_text(yaml.safe_dump(instance))
    config, _ = dagster_instance_config(str(folder))
    return config


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_rendered_instance_is_one_dagster_accepts(environment: str, tmp_path: Path) -> None:
    config = check_instance(rendered_instance(helm_values(environment)), tmp_path)
    assert config["run_storage"]["config"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
    # The run queue is ours: Dagster's queued run coordinator that tags the runs that sync.
    coordinator = config["run_coordinator"]
    assert (coordinator["module"], coordinator["class"]) == (
        SYNC_RUN_COORDINATOR_MODULE,
        SYNC_RUN_COORDINATOR_CLASS,
    )
    built = ConfigurableClassData(
        coordinator["module"], coordinator["class"], yaml.safe_dump(coordinator.get("config") or {})
    ).rehydrate(as_type=QueuedRunCoordinator)
    assert isinstance(built, SyncRunCoordinator)  # the daemon runs the queue only for a QueuedRunCoordinator


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_run_queue_takes_its_limits_from_concurrency(environment: str) -> None:
    """Dagster refuses run limits both in `concurrency` and in the coordinator's config only for its own
    class name; for ours, `concurrency` silently wins. So the coordinator's config sets none, and an
    instance with the rendered coordinator and `concurrency` queues by the deployment's limits."""
    rendered = rendered_instance(helm_values(environment))
    coordinator_config = rendered["run_coordinator"].get("config") or {}
    assert not {"max_concurrent_runs", "tag_concurrency_limits"} & set(coordinator_config)
    overrides = {"run_coordinator": rendered["run_coordinator"], "concurrency": rendered["concurrency"]}
    with dg.instance_for_test(overrides=overrides) as instance:
        assert isinstance(instance.run_coordinator, SyncRunCoordinator)
        queue = instance.get_concurrency_config().run_queue_config
    assert queue is not None, "the daemon would not run the queue"
    runs = rendered["concurrency"]["runs"]
    assert queue.max_concurrent_runs == runs["max_concurrent_runs"]
    assert list(queue.tag_concurrency_limits) == runs["tag_concurrency_limits"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_runs_are_kubernetes_jobs_queued_behind_the_airbyte_sync_limit(
    environment: str, tmp_path: Path
) -> None:
    values = helm_values(environment)
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    runs = check_instance(rendered_instance(values), tmp_path)["concurrency"]["runs"]
    limits = {(limit["key"], limit.get("value")): limit["limit"] for limit in runs["tag_concurrency_limits"]}
    sync_limit = limits.get((SYNC_RUN_TAG, "true"))
    assert sync_limit is not None, "no tag concurrency limit on airbyte/sync=true (Airbyte worker protection)"
    assert 1 <= sync_limit <= runs["max_concurrent_runs"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_pools_allow_one_sync_per_connection(environment: str, tmp_path: Path) -> None:
    pools = check_instance(rendered_instance(helm_values(environment)), tmp_path)["concurrency"]["pools"]
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
    # The webserver and the daemon load the instance's run coordinator, which is ours.
    for component in ("dagsterWebserver", "dagsterDaemon"):
        image = values[component]["image"]
        assert (image["repository"], str(image["tag"])) == (
            location["image"]["repository"],
            str(location["image"]["tag"]),
        ), f"{component} must run the release's image"


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
    for name, pod in (
        ("code server", code_location(values)["podSecurityContext"]),
        ("webserver", values["dagsterWebserver"]["podSecurityContext"]),
        ("daemon", values["dagsterDaemon"]["podSecurityContext"]),
    ):
        assert pod["runAsNonRoot"] is True, name
        assert pod["runAsUser"] == 10001, name  # the image's user (test_dockerfile checks the USER line)
    # The webserver's container listens on the Service's port: below 1024, which uid 10001 may bind only so.
    port = values["dagsterWebserver"]["service"]["port"]
    sysctls = {
        s["name"]: s["value"] for s in values["dagsterWebserver"]["podSecurityContext"].get("sysctls", [])
    }
    assert port >= 1024 or int(sysctls.get("net.ipv4.ip_unprivileged_port_start", "1024")) <= port
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
