"""The variables the deployment sets are exactly the ones settings.py reads, and every pod that loads the
settings gets a complete, valid prod environment (secrets from External Secrets, the rest from the
ConfigMap), checked both ways."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import pytest

from airbyte_platform.settings import ENVIRONMENT_VARIABLES, SettingsError, load_settings
from airbyte_platform_tests.deploy.deploy_files import (
    ENVIRONMENTS,
    Document,
    base_documents,
    code_location,
    dockerfile_env,
    dockerfile_stages,
    find,
    helm_values,
    only,
    secret_variables,
    settings_data,
)

# Variables settings.py reads that the deployment deliberately leaves unset, with the reason.
NOT_DEPLOYED: dict[str, str] = {
    "AIRBYTE_STRIPE_PG_CONNECTION_ID": "alias of AIRBYTE_STRIPE_POSTGRES_CONNECTION_ID, which is set",
    "AIRBYTE_STRIPE_CONNECTION_ID": "alias of AIRBYTE_STRIPE_POSTGRES_CONNECTION_ID, which is set",
    "AIRBYTE_HUBSPOT_PG_CONNECTION_ID": "alias of AIRBYTE_HUBSPOT_CONNECTION_ID, which is set",
    "AIRBYTE_CLIENT_ID": "self-managed Airbyte with basic auth (the seeds); Cloud: docs/operations.md",
    "AIRBYTE_CLIENT_SECRET": "self-managed Airbyte with basic auth (the seeds); Cloud: docs/operations.md",
    "AIRBYTE_CLOUD": "self-managed Airbyte in the `integration` namespace",
    "AIRBYTE_WORKSPACE_ID": "a self-managed Airbyte with one workspace needs none",
    "AIRBYTE_CONNECTORS_DIR": "local mode only: Airbyte runs the connectors in prod",
    "DATABRICKS_CLUSTER_ID": "only for DATABRICKS_TRANSFORM_MODE=pipes; the deployment runs the existing job",
    "SNOWFLAKE_HOST": "endpoint override (PrivateLink, a proxy), unset: the account's default endpoint",
    "SNOWFLAKE_PORT": "endpoint override, unset with SNOWFLAKE_HOST",
    "SNOWFLAKE_PROTOCOL": "endpoint override, unset with SNOWFLAKE_HOST",
    "DAGSTER_WEBSERVER_HOST": "make dev only: the chart runs the webserver",
    "DAGSTER_WEBSERVER_PORT": "make dev only: the chart runs the webserver",
    "DAGSTER_MAX_CONCURRENT_RUNS": "make dev only: the chart's run queue (values.yaml concurrency.runs)",
    "AIRBYTE_MAX_CONCURRENT_SYNC_RUNS": "make dev only: the chart's tag limit on airbyte/sync",
    "AIRBYTE_PENDING_TIMEOUT_MINUTES": "optional: the default pending limit applies",
    "AIRBYTE_JOB_LIMITS": "optional: per-connection limits live in connections.yaml",
    "AIRBYTE_LARGE_SYNC_CONNECTION_ID": "optional: the seeds' large-sync tuning, when a team has one",
    "AIRBYTE_LARGE_SYNC_TIMEOUT_MINUTES": "optional, with AIRBYTE_LARGE_SYNC_CONNECTION_ID",
    "AIRBYTE_LARGE_SYNC_MAX_RETRIES": "optional, with AIRBYTE_LARGE_SYNC_CONNECTION_ID",
    "AIRBYTE_LARGE_SYNC_CHECK_INTERVAL_SECONDS": "optional, with AIRBYTE_LARGE_SYNC_CONNECTION_ID",
    "AIRBYTE_STRIPE_BACKUP_CONNECTION_ID": "optional: resilient_sync's backup connection, when a team has one",
    "AIRBYTE_STRIPE_FALLBACK_CONNECTOR": "optional: resilient_sync's embedded fallback when Airbyte is down",
    "AIRBYTE_STRIPE_FALLBACK_SOURCE_CONFIG": "optional, with AIRBYTE_STRIPE_FALLBACK_CONNECTOR (a secret)",
    "NOTIFY_EMAIL_TO": "notifications are configured per team (docs/operations.md)",
    "NOTIFY_EMAIL_FROM": "notifications are configured per team (docs/operations.md)",
    "NOTIFY_ON": "notifications are configured per team (docs/operations.md)",
    "NOTIFY_ROUTES": "notifications are configured per team (docs/operations.md)",
    "NOTIFY_ATTEMPTS": "notifications are configured per team (docs/operations.md)",
    "NOTIFY_WEBHOOK_URL": "notifications are configured per team (docs/operations.md)",
    "DAGSTER_UI_URL": "notifications are configured per team (docs/operations.md)",
    "SMTP_HOST": "notifications are configured per team (docs/operations.md)",
    "SMTP_PORT": "notifications are configured per team (docs/operations.md)",
    "SMTP_SECURITY": "notifications are configured per team (docs/operations.md)",
    "SMTP_USERNAME": "notifications are configured per team (docs/operations.md)",
    "SMTP_PASSWORD": "notifications are configured per team (docs/operations.md)",
    "SLACK_TOKEN": "notifications are configured per team (docs/operations.md)",
    "SLACK_CHANNEL": "notifications are configured per team (docs/operations.md)",
    "SLACK_API_URL": "notifications are configured per team (docs/operations.md)",
    "METRICS_HOST": "the exporter's own Deployment (deploy/monitoring) sets it",
    "METRICS_PORT": "the exporter's own Deployment (deploy/monitoring) sets it",
    "GX_CONTEXT_ROOT_DIR": "optional: a team's own GX project (mounted into the image); bundled checkpoints otherwise",
    "WEBHOOK_HOST": "",  # set on the receiver only (below), listed here to say so
    "WEBHOOK_PORT": "",
}
RECEIVER_ONLY = {"WEBHOOK_HOST", "WEBHOOK_PORT"}
# Set on the Airflow REST API facade only (deploy/kustomize/base/airflow-api.yaml).
FACADE_ONLY = {
    "AIRFLOW_API_HOST",
    "AIRFLOW_API_PORT",
    "DAGSTER_WEBSERVER_URL",
    "AIRFLOW_API_USERNAME",
    "AIRFLOW_API_PASSWORD",
}

# Variables the deployment sets that are not settings: the runtime's and Dagster's own.
NOT_SETTINGS: dict[str, str] = {
    "PATH": "the image's virtualenv first",
    "PYTHONUNBUFFERED": "logs reach kubectl logs at once",
    "PYTHONDONTWRITEBYTECODE": "read-only root filesystems",
    "DAGSTER_HOME": "Dagster's instance folder, where the chart mounts dagster.yaml",
    "DAGSTER_GRPC_MAX_RX_BYTES": "Dagster's gRPC message limit (a 5,000-connection location passes 100 MB)",
    "DAGSTER_GRPC_MAX_SEND_BYTES": "Dagster's gRPC message limit (a 5,000-connection location passes 100 MB)",
}
GRPC_LIMITS = ("DAGSTER_GRPC_MAX_RX_BYTES", "DAGSTER_GRPC_MAX_SEND_BYTES")
# Fields of a run pod the Downward API passes as variables, with a value such a pod would see.
DOWNWARD_API = {"metadata.labels['dagster/run-id']": "0c9a8f3e-5d1b-4f7e-9a2c-3b4d5e6f7a8b"}
# Secrets that Dagster's instance configuration reads (not settings), and the ExternalSecret-written
# Secret each comes from.
INSTANCE_SECRETS = {"DAGSTER_PG_PASSWORD": "dagster-postgresql"}


class RecordingEnviron(Mapping[str, str]):
    """An environment that remembers every name read from it."""

    def __init__(self, values: Mapping[str, str]):
        self.values = dict(values)
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.read.add(name)
        return self.values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


def names_read(values: Mapping[str, str]) -> set[str]:
    environ = RecordingEnviron(values)
    with contextlib.suppress(SettingsError):  # a prod environment missing variables still reads every name
        load_settings(environ)
    return environ.read


def test_environment_variables_is_exactly_what_load_settings_reads() -> None:
    scenarios = [
        {},
        {"AIRBYTE_PLATFORM_MODE": "prod"},
        {"AIRBYTE_PLATFORM_MODE": "prod", "AIRBYTE_CLOUD": "true"},
        {"AIRBYTE_PLATFORM_MODE": "prod", "DATABRICKS_TRANSFORM_MODE": "pipes"},
        {"AIRBYTE_PLATFORM_MODE": "prod", "AIRBYTE_CLIENT_ID": "id", "AIRBYTE_API_USERNAME": "u"},
    ]
    # Every name is also read as AIRFLOW_VAR_<NAME> (Airflow's form), which needs no listing of its own.
    read = {name.removeprefix("AIRFLOW_VAR_") for name in set().union(*(names_read(s) for s in scenarios))}
    listed = set(ENVIRONMENT_VARIABLES)
    assert read - listed == set(), "load_settings reads variables missing from ENVIRONMENT_VARIABLES"
    assert listed - read == set(), "ENVIRONMENT_VARIABLES lists variables load_settings never reads"


@dataclass
class PodEnvironment:
    """What one kind of pod gets: literal values, and secret keys (values unknown here)."""

    name: str
    values: dict[str, str] = field(default_factory=dict)
    secret_keys: set[str] = field(default_factory=set)

    @property
    def names(self) -> set[str]:
        return set(self.values) | self.secret_keys

    def for_settings(self) -> dict[str, str]:
        """The environment the pod's process sees, with a stand-in for each secret value."""
        return {**dict.fromkeys(self.secret_keys, "from-the-secret-manager"), **self.values}


def external_secret_keys(secret_name: str) -> set[str]:
    written = [
        d
        for d in find(base_documents(), "ExternalSecret")
        if d.body["spec"].get("target", {}).get("name", d.name) == secret_name
    ]
    assert len(written) == 1, f"the Secret {secret_name} is not written by exactly one ExternalSecret"
    return {item["secretKey"] for item in written[0].body["spec"]["data"]}


def image_env() -> dict[str, str]:
    return dockerfile_env(dockerfile_stages()[-1])


def add_env_from(pod: PodEnvironment, environment: str, config_maps: list[str], secrets: list[str]) -> None:
    for name in config_maps:
        assert name == "airbyte-platform-settings", f"{pod.name} reads an unknown ConfigMap {name}"
        pod.values.update(settings_data(environment))
    for name in secrets:
        pod.secret_keys |= external_secret_keys(name)


def code_server_environment(environment: str) -> PodEnvironment:
    """The code server, and the run pods that inherit its environment (includeConfigInLaunchedRuns)."""
    values = helm_values(environment)
    location = code_location(values)
    pod = PodEnvironment("code server and run pods", values=dict(image_env()))
    add_env_from(
        pod,
        environment,
        [c["name"] for c in location.get("envConfigMaps", [])],
        [s["name"] for s in location.get("envSecrets", [])],
    )
    env = location.get("env", {})
    pod.values.update(env if isinstance(env, dict) else {e["name"]: e["value"] for e in env})
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    add_env_from(
        pod,
        environment,
        [c["name"] for c in launcher["envConfigMaps"]],
        [s["name"] for s in launcher["envSecrets"]],
    )
    for item in launcher["envVars"]:
        name, _, value = item.partition("=")
        pod.values[name] = value
    for item in launcher.get("runK8sConfig", {}).get("containerConfig", {}).get("env", []):
        if "value" in item:
            pod.values[item["name"]] = item["value"]
            continue
        # Run pods only: the Downward API, from a label the K8sRunLauncher puts on every run pod.
        path = item["valueFrom"]["fieldRef"]["fieldPath"]
        assert path in DOWNWARD_API, f"run pods: {item['name']} from an unknown field {path}"
        pod.values[item["name"]] = DOWNWARD_API[path]
    return pod


def workload_environment(environment: str, deployment_name: str, pod_name: str) -> PodEnvironment:
    deployment = only(base_documents(), "Deployment", deployment_name)
    (container,) = deployment.body["spec"]["template"]["spec"]["containers"]
    pod = PodEnvironment(pod_name, values=dict(image_env()))
    add_env_from(
        pod,
        environment,
        [e["configMapRef"]["name"] for e in container.get("envFrom", []) if "configMapRef" in e],
        [e["secretRef"]["name"] for e in container.get("envFrom", []) if "secretRef" in e],
    )
    for item in container.get("env", []):
        if item["name"] in INSTANCE_SECRETS:
            # Dagster's dagster.yaml (the chart's ConfigMap) reads it: from the chart's own secret.
            assert item["valueFrom"]["secretKeyRef"]["name"] == INSTANCE_SECRETS[item["name"]], item
            continue
        assert "value" in item, f"{pod_name}: {item['name']} must be a literal (secrets come via envFrom)"
        pod.values[item["name"]] = item["value"]
    return pod


def receiver_environment(environment: str) -> PodEnvironment:
    return workload_environment(environment, "webhook-receiver", "webhook receiver")


def facade_environment(environment: str) -> PodEnvironment:
    return workload_environment(environment, "airflow-api", "airflow REST API facade")


def settings_pods(environment: str) -> list[PodEnvironment]:
    return [
        code_server_environment(environment),
        receiver_environment(environment),
        facade_environment(environment),
    ]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_deployment_sets_exactly_the_variables_settings_reads(environment: str) -> None:
    set_names = set().union(*(pod.names for pod in settings_pods(environment))) - set(NOT_SETTINGS)
    expected = set(ENVIRONMENT_VARIABLES) - (set(NOT_DEPLOYED) - RECEIVER_ONLY)
    assert set_names - set(ENVIRONMENT_VARIABLES) == set(), "the deployment sets variables nothing reads"
    assert expected - set_names == set(), "settings.py reads variables the deployment never sets"
    assert set_names & (set(NOT_DEPLOYED) - RECEIVER_ONLY) == set()
    assert set(NOT_DEPLOYED) <= set(ENVIRONMENT_VARIABLES), "NOT_DEPLOYED names a variable nothing reads"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("pod", ["code server and run pods", "webhook receiver", "airflow REST API facade"])
def test_each_pod_gets_a_complete_valid_prod_environment(environment: str, pod: str) -> None:
    """load_settings accepts what the pod gets: no variable missing, every literal value well-formed."""
    (found,) = [p for p in settings_pods(environment) if p.name == pod]
    loaded = load_settings(found.for_settings())
    assert loaded.mode == "prod"
    assert str(loaded.home) == image_env()["AIRBYTE_PLATFORM_HOME"]
    assert loaded.airbyte is not None and loaded.airbyte.api_url is not None
    assert loaded.airbyte.api_url.startswith("http://airbyte-server.integration.svc.cluster.local:")
    assert loaded.webhooks is not None and loaded.webhooks.inbox_dsn_var == "WEBHOOK_INBOX_DSN"


def test_receiver_listens_on_all_interfaces_on_its_container_port() -> None:
    pod = receiver_environment("prod")
    loaded = load_settings(pod.for_settings())
    assert loaded.webhooks is not None
    assert loaded.webhooks.host == "0.0.0.0"
    deployment = only(base_documents(), "Deployment", "webhook-receiver")
    (container,) = deployment.body["spec"]["template"]["spec"]["containers"]
    assert [p["containerPort"] for p in container["ports"]] == [loaded.webhooks.port]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_secrets_come_only_from_external_secrets(environment: str) -> None:
    secrets = secret_variables()
    assert {"AIRBYTE_API_PASSWORD", "DATABRICKS_TOKEN", "SNOWFLAKE_PASSWORD"} <= secrets
    for pod in settings_pods(environment):
        literal = secrets & set(pod.values)
        assert not literal, f"{pod.name}: {sorted(literal)} set as plain values (use the ExternalSecret)"
    deployed_secrets = set().union(*(pod.secret_keys for pod in settings_pods(environment)))
    assert deployed_secrets <= secrets, "a non-secret setting is stored in the secret manager"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_webserver_and_daemon_get_no_settings_and_no_secrets(environment: str) -> None:
    """They never load the code location (the code server does): giving them secrets only widens exposure."""
    values = helm_values(environment)
    for part in ("dagsterWebserver", "dagsterDaemon"):
        assert set(values[part].get("env") or {}) <= set(GRPC_LIMITS), f"{part}: only Dagster's own variables"
        assert not values[part].get("envConfigMaps"), part
        assert not values[part].get("envSecrets"), part


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_code_server_and_its_clients_share_the_grpc_message_limit(environment: str) -> None:
    """A location too big for one side's limit fails to load (RESOURCE_EXHAUSTED at 5,000 connections)."""
    values = helm_values(environment)
    sides = {
        "webserver": values["dagsterWebserver"].get("env") or {},
        "daemon": values["dagsterDaemon"].get("env") or {},
        "code server": code_location(values).get("env") or {},
    }
    for name in GRPC_LIMITS:
        limits = {side: env.get(name) for side, env in sides.items()}
        assert len(set(limits.values())) == 1 and None not in limits.values(), f"{name}: {limits}"
        assert int(next(iter(limits.values()))) > 100 * 10**6, "at most Dagster's default: too small at scale"


def documents_with_env() -> list[Document]:
    return [d for d in base_documents() if d.kind in ("Deployment", "StatefulSet", "Job", "CronJob")]


def test_every_workload_of_ours_is_covered_by_the_contract() -> None:
    assert sorted(d.name for d in documents_with_env()) == ["airflow-api", "webhook-receiver"], (
        "a new workload under deploy/kustomize: add its environment to settings_pods()"
    )


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_facade_alone_gets_its_credentials_and_webserver_url(environment: str) -> None:
    pods = {pod.name: pod.names for pod in settings_pods(environment)}
    assert pods["airflow REST API facade"] >= FACADE_ONLY
    for name, names in pods.items():
        if name != "airflow REST API facade":
            assert names & FACADE_ONLY == set(), f"{name} gets the facade's {sorted(names & FACADE_ONLY)}"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_run_pods_know_their_run_from_the_label_the_launcher_sets(environment: str) -> None:
    """run_scope.py narrows a run pod's definitions to its run: the id must be the run's own."""
    from dagster_k8s.launcher import K8sRunLauncher

    values = helm_values(environment)
    env = values["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]["containerConfig"]["env"]
    (entry,) = [e for e in env if e["name"] == "AIRBYTE_PLATFORM_RUN_ID"]
    label = entry["valueFrom"]["fieldRef"]["fieldPath"]
    assert label == "metadata.labels['dagster/run-id']"
    # the label dagster-k8s puts on run pods (the run-pod tests run the real launcher end to end)
    assert '"dagster/run-id": run.run_id' in inspect.getsource(K8sRunLauncher._launch_k8s_job_with_args)
    loaded = load_settings(code_server_environment(environment).for_settings())
    assert loaded.run_id == DOWNWARD_API[label]
