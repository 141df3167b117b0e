"""The one place that reads the process environment.

Everything else receives a `Settings` object (or `dg.EnvVar` references built from the variable
names kept here), so the mode is decided once and a missing prod variable is reported together
with every other missing variable, in a single error.

Variable names are the ones the Airflow deployment used (see shared/seeds), plus aliases the
seeds use interchangeably (`AIRBYTE_STRIPE_PG_CONNECTION_ID` for
`AIRBYTE_STRIPE_POSTGRES_CONNECTION_ID`, ...).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlparse

_T = TypeVar("_T")

Mode = Literal["local", "prod"]
MODES: tuple[Mode, ...] = ("local", "prod")

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Connection-id variables of the documented connections; the first name is canonical, the rest are
# aliases found in the seeds. The catalog (connections.yaml) refers to the canonical name.
CONNECTION_ID_VARIABLES: dict[str, tuple[str, ...]] = {
    "AIRBYTE_STRIPE_S3_CONNECTION_ID": (),
    "AIRBYTE_STRIPE_POSTGRES_CONNECTION_ID": (
        "AIRBYTE_STRIPE_PG_CONNECTION_ID",
        "AIRBYTE_STRIPE_CONNECTION_ID",
    ),
    "AIRBYTE_HUBSPOT_CONNECTION_ID": ("AIRBYTE_HUBSPOT_PG_CONNECTION_ID",),
    "AIRBYTE_PG_PG_CONNECTION_ID": (),
    "AIRBYTE_SALESFORCE_CONNECTION_ID": (),
}


# Every variable `load_settings` reads, in one public list: the deployment (deploy/) sets exactly these,
# which airbyte_platform_tests/deploy checks both ways, and a test pins this list to what
# `load_settings` actually reads, so a new variable cannot be added here and forgotten there.
ENVIRONMENT_VARIABLES: tuple[str, ...] = (
    "AIRBYTE_PLATFORM_MODE",
    "AIRBYTE_PLATFORM_HOME",
    # the run a run pod executes (Kubernetes: the Downward API, from the pod's `dagster/run-id` label)
    "AIRBYTE_PLATFORM_RUN_ID",
    "AIRBYTE_CONNECTORS_DIR",
    "DATALAKE_ROOT",
    *(name for canonical, aliases in CONNECTION_ID_VARIABLES.items() for name in (canonical, *aliases)),
    "AIRBYTE_API_URL",
    "AIRBYTE_API_USERNAME",
    "AIRBYTE_API_PASSWORD",
    "AIRBYTE_CLIENT_ID",
    "AIRBYTE_CLIENT_SECRET",
    "AIRBYTE_CLOUD",
    "AIRBYTE_WORKSPACE_ID",
    "AIRBYTE_DISCOVERY",
    "AIRBYTE_WEBAPP_URL",
    "DATABRICKS_HOST",
    "DATABRICKS_TOKEN",
    "DATABRICKS_STRIPE_JOB_ID",
    "DATABRICKS_TRANSFORM_MODE",
    "DATABRICKS_CLUSTER_ID",
    "SNOWFLAKE_ACCOUNT",
    "SNOWFLAKE_USER",
    "SNOWFLAKE_PASSWORD",
    "SNOWFLAKE_WAREHOUSE",
    "SNOWFLAKE_DATABASE",
    "SNOWFLAKE_SCHEMA",
    "SNOWFLAKE_ROLE",
    "SNOWFLAKE_HOST",
    "SNOWFLAKE_PORT",
    "SNOWFLAKE_PROTOCOL",
    "STRIPE_WEBHOOK_SECRET",
    "AIRBYTE_WEBHOOK_TOKEN",
    "WEBHOOK_TRIGGER_TOKEN",
    "WEBHOOK_INBOX_DSN",
    "WEBHOOK_MAX_BODY_BYTES",
    "WEBHOOK_HOST",
    "WEBHOOK_PORT",
    "CDC_SOURCE_DSN",
    "CDC_SLOT_NAME",
    "CDC_MAX_LAG_SECONDS",
    "CDC_MAX_LAG_BYTES",
    "CDC_WRITE_HEARTBEAT",
    "ANALYTICS_POSTGRES_DSN",
    # an existing Great Expectations project whose checkpoints the gx_suite checks run (seeds: /opt/airflow/gx)
    "GX_CONTEXT_ROOT_DIR",
    # the local instance of make dev (the Helm values set the same limits in Kubernetes)
    "DAGSTER_WEBSERVER_HOST",
    "DAGSTER_WEBSERVER_PORT",
    "DAGSTER_MAX_CONCURRENT_RUNS",
    "AIRBYTE_MAX_CONCURRENT_SYNC_RUNS",
    # Airbyte job health and tuning
    "AIRBYTE_PENDING_TIMEOUT_MINUTES",
    "AIRBYTE_JOB_LIMITS",
    "AIRBYTE_LARGE_SYNC_CONNECTION_ID",
    "AIRBYTE_LARGE_SYNC_TIMEOUT_MINUTES",
    "AIRBYTE_LARGE_SYNC_MAX_RETRIES",
    "AIRBYTE_LARGE_SYNC_CHECK_INTERVAL_SECONDS",
    # resilient_sync's fallback_sync: a backup connection, or the embedded runner when Airbyte is down
    "AIRBYTE_STRIPE_BACKUP_CONNECTION_ID",
    "AIRBYTE_STRIPE_FALLBACK_CONNECTOR",
    "AIRBYTE_STRIPE_FALLBACK_SOURCE_CONFIG",
    # the Airflow REST API facade
    "AIRFLOW_API_USERNAME",
    "AIRFLOW_API_PASSWORD",
    "AIRFLOW_API_HOST",
    "AIRFLOW_API_PORT",
    "DAGSTER_WEBSERVER_URL",
    # notifications and metrics
    "NOTIFY_EMAIL_TO",
    "NOTIFY_EMAIL_FROM",
    "NOTIFY_ON",
    "NOTIFY_ROUTES",
    "NOTIFY_ATTEMPTS",
    "NOTIFY_WEBHOOK_URL",
    "DAGSTER_UI_URL",
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_SECURITY",
    "SMTP_USERNAME",
    "SMTP_PASSWORD",
    "SLACK_TOKEN",
    "SLACK_CHANNEL",
    "SLACK_API_URL",
    "METRICS_HOST",
    "METRICS_PORT",
)
# Each variable may also be set as AIRFLOW_VAR_<NAME>, the form Airflow deployments used.


class SettingsError(ValueError):
    """Raised once with every problem found, so a deployment is fixed in one pass."""

    def __init__(self, mode: str, problems: list[str]):
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"airbyte_platform cannot start in {mode!r} mode; fix these environment variables "
            f"(each may also be set as Airflow's AIRFLOW_VAR_<NAME>):\n{listing}"
        )


# Integrations a prod deployment may leave out, and the variables that switch each on. An integration
# is enabled as soon as any of its variables is set (then everything it requires must be: one error
# lists what is missing), disabled when none is. The Airbyte server itself is always required in prod;
# each declared connection is enabled by its connection-id variable (CONNECTION_ID_VARIABLES). Locally
# everything is enabled, on its stand-in.
INTEGRATION_VARIABLES: dict[str, tuple[str, ...]] = {
    "databricks": (
        "DATABRICKS_HOST",
        "DATABRICKS_TOKEN",
        "DATABRICKS_STRIPE_JOB_ID",
        "DATABRICKS_CLUSTER_ID",
        "DATABRICKS_TRANSFORM_MODE",
    ),
    "snowflake": (
        "SNOWFLAKE_ACCOUNT",
        "SNOWFLAKE_USER",
        "SNOWFLAKE_PASSWORD",
        "SNOWFLAKE_WAREHOUSE",
        "SNOWFLAKE_DATABASE",
        "SNOWFLAKE_SCHEMA",
        "SNOWFLAKE_ROLE",
        "SNOWFLAKE_HOST",
        "SNOWFLAKE_PORT",
        "SNOWFLAKE_PROTOCOL",
    ),
    "cdc": ("CDC_SOURCE_DSN", "CDC_SLOT_NAME", "CDC_MAX_LAG_SECONDS", "CDC_MAX_LAG_BYTES"),
    "webhooks": ("STRIPE_WEBHOOK_SECRET", "AIRBYTE_WEBHOOK_TOKEN", "WEBHOOK_TRIGGER_TOKEN"),
}
# The variable a summary suggests to switch an integration on.
INTEGRATION_SWITCH: dict[str, str] = {
    "databricks": "DATABRICKS_HOST",
    "snowflake": "SNOWFLAKE_ACCOUNT",
    "cdc": "CDC_SOURCE_DSN",
    "webhooks": "STRIPE_WEBHOOK_SECRET",
}
# The declared connection the CDC checks watch: CDC needs it enabled.
CDC_CONNECTION_VARIABLE = "AIRBYTE_PG_PG_CONNECTION_ID"


JOB_LIMIT_FIELDS = ("timeout_minutes", "check_interval", "max_retries", "pending_timeout_minutes")


@dataclass(frozen=True)
class JobLimits:
    """How one connection's Airbyte jobs are waited for (None: the workspace's default).

    The seeds' large-sync values: `timeout_minutes: 720`, `check_interval: 60`, `max_retries: 5`.
    `check_interval` (seconds) caps the interval between two polls; `max_retries` is the retries of
    a transient API failure (the seeds' AirbyteHook(max_retries=...)).
    """

    timeout_minutes: float | None = None
    check_interval: float | None = None
    max_retries: int | None = None
    pending_timeout_minutes: float | None = None


def parse_job_limits(raw: object, where: str) -> JobLimits:
    """`raw` (a mapping from connections.yaml or AIRBYTE_JOB_LIMITS) as JobLimits; ValueError says what to fix."""
    if raw is None:
        return JobLimits()
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where} must be a mapping of {', '.join(JOB_LIMIT_FIELDS)}")
    unknown = sorted(set(raw) - set(JOB_LIMIT_FIELDS))
    if unknown:
        raise ValueError(f"{where}: unknown {', '.join(unknown)} (known: {', '.join(JOB_LIMIT_FIELDS)})")
    values: dict[str, float | int] = {}
    for name, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ValueError(f"{where}.{name} must be a positive number, not {value!r}")
        if name == "max_retries":
            # Resource config carries numbers as floats: 5.0 is five retries.
            if not float(value).is_integer():
                raise ValueError(f"{where}.max_retries must be a whole number, not {value!r}")
            value = int(value)
        values[name] = value
    return JobLimits(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class AirbyteApiSettings:
    """How to reach the Airbyte server in prod. Secrets are kept as variable *names*."""

    api_url: str | None
    workspace_id: str | None
    username_var: str | None
    password_var: str | None
    client_id_var: str | None
    client_secret_var: str | None
    cloud: bool
    # Which workspace connections beyond the declared ones become assets: "snapshot" (from the
    # stored workspace state, fetched once when missing), "live" (fetch at every load), "off".
    discovery: Literal["snapshot", "live", "off"] = "snapshot"
    # Browser URL of the Airbyte UI for job links (AIRBYTE_API_URL is often an in-cluster address).
    webapp_url: str | None = None
    # A job still pending after this long (no worker took it) is reported, cancelled and failed.
    pending_timeout_minutes: int = 30
    # Per connection *name*, for connections not declared in connections.yaml (AIRBYTE_JOB_LIMITS).
    job_limits: Mapping[str, JobLimits] = field(default_factory=dict)

    @property
    def uses_basic_auth(self) -> bool:
        return self.username_var is not None


@dataclass(frozen=True)
class DatabricksSettings:
    host: str | None
    token_var: str | None
    stripe_job_id: int | None
    # "run_now" triggers the existing job (the DAG's DatabricksRunNowOperator); "pipes" submits
    # the transform script in this repo as a one-off run through Dagster Pipes.
    transform_mode: Literal["run_now", "pipes"]
    pipes_cluster_id: str | None


@dataclass(frozen=True)
class SnowflakeSettings:
    account: str | None
    user: str | None
    password_var: str | None
    warehouse: str | None
    database: str
    schema: str
    role: str | None
    # Optional endpoint overrides (a PrivateLink or proxy host; the loopback fakesnow server in tests).
    host: str | None = None
    port: int | None = None
    protocol: str | None = None


@dataclass(frozen=True)
class WebhookSettings:
    stripe_secret_var: str | None
    airbyte_token_var: str | None
    trigger_token_var: str | None
    max_body_bytes: int
    host: str
    port: int
    # WEBHOOK_INBOX_DSN when set: a postgresql:// DSN carries a password, so only the variable's name
    # is kept and the value is read through dg.EnvVar. Unset locally: the local PostgreSQL under the
    # home (`events.local_inbox`); unset in prod: ANALYTICS_POSTGRES_DSN (`events.inbox`).
    inbox_dsn_var: str | None = None


@dataclass(frozen=True)
class CdcSettings:
    source_dsn_var: str | None
    slot_name: str
    max_lag_seconds: int
    max_lag_bytes: int
    # The lag sensor writes a heartbeat row into the source database only when this opts in (off in
    # prod: the application database is not ours to write); otherwise seconds behind come from a
    # source-side heartbeat or the last successful sync.
    write_heartbeat: bool


NotifyEvent = Literal["failure", "success"]
NOTIFY_EVENTS: tuple[NotifyEvent, ...] = ("failure", "success")


@dataclass(frozen=True)
class NotificationRoute:
    """Who hears about a run: the events notified and, per channel, the recipients.

    `slack_channel=None` / empty `email_to` / `webhook=False` leave that channel out of the route.
    """

    on: frozenset[NotifyEvent]
    email_to: tuple[str, ...] = ()
    slack_channel: str | None = None
    webhook: bool = False

    @property
    def is_silent(self) -> bool:
        return not self.on or not (self.email_to or self.slack_channel or self.webhook)


@dataclass(frozen=True)
class NotificationSettings:
    """Run notifications (email over SMTP, Slack, a JSON webhook). Secrets are variable *names*.

    `default` applies to every run; `routes` (NOTIFY_ROUTES) are keyed `job:<job name>` or
    `connection:<connection name>` and, when any of them matches a run, replace the default for it.
    """

    default: NotificationRoute
    routes: Mapping[str, NotificationRoute] = field(default_factory=dict)
    email_from: str = "airbyte-platform@localhost"
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_security: Literal["none", "starttls", "ssl"] = "none"
    smtp_username: str | None = None
    smtp_password_var: str | None = None
    slack_token_var: str | None = None
    slack_api_url: str | None = None  # None: slack-sdk's https://slack.com/api/
    webhook_url_var: str | None = None  # a webhook URL often carries its token: read through dg.EnvVar
    dagster_ui_url: str | None = None  # for links to the run in messages
    attempts: int = 3
    timeout_seconds: float = 10.0

    @property
    def any_channel(self) -> bool:
        return any(not route.is_silent for route in (self.default, *self.routes.values()))


@dataclass(frozen=True)
class MetricsSettings:
    """The Prometheus exporter (`python -m airbyte_platform.operations.metrics`)."""

    host: str = "127.0.0.1"
    port: int = 9464
    recent_runs: int = 1000  # how many of the newest runs give the job names counted per status
    recent_check_evaluations: int = 2000  # latest evaluation per check, among this many


@dataclass(frozen=True)
class InstanceSettings:
    """The Dagster instance of `make dev` and `make demo` (in Kubernetes the Helm values set the same)."""

    webserver_host: str
    webserver_port: int
    max_concurrent_runs: int  # the run queue
    # Runs tagged airbyte/sync that may run at once: the total that protects Airbyte's workers.
    max_concurrent_sync_runs: int


@dataclass(frozen=True)
class LargeSyncSettings:
    """The seeds' tuning for a very large sync (AIRBYTE_LARGE_SYNC_CONNECTION_ID): 12-hour timeout,
    5 retries, a check every minute, unless AIRBYTE_LARGE_SYNC_* override them."""

    connection_id: str
    timeout_minutes: int = 720
    max_retries: int = 5
    check_interval_seconds: int = 60


@dataclass(frozen=True)
class ResilientSyncSettings:
    """The alternatives `fallback_sync` of resilient_sync may take once `primary_sync` failed for good.

    - `backup_connection_id` (AIRBYTE_STRIPE_BACKUP_CONNECTION_ID): another Airbyte connection into the
      same destination, synced on the Airbyte server when the server answers;
    - `embedded_connector` (AIRBYTE_STRIPE_FALLBACK_CONNECTOR, e.g. `pypi:airbyte-source-stripe==5.14.0`)
      with its source config in the secret AIRBYTE_STRIPE_FALLBACK_SOURCE_CONFIG (JSON, read through
      dg.EnvVar): the embedded runner, when the Airbyte server itself is unreachable.
    """

    backup_connection_id: str | None = None
    embedded_connector: str | None = None
    embedded_config_var: str | None = None


@dataclass(frozen=True)
class AirflowApiSettings:
    """The Airflow stable REST API facade (`python -m airbyte_platform.airflow_compat.rest`).

    Credentials are kept as variable *names* (read through dg.EnvVar); the facade refuses to start
    without them, while the code location itself never needs them.
    """

    username_var: str | None
    password_var: str | None
    dagster_webserver_url: str  # where runs are launched and read back (GraphQL), as the UI does
    host: str
    port: int


@dataclass(frozen=True)
class Settings:
    mode: Mode
    home: Path
    lake_root: str
    postgres_dsn_var: str | None  # None locally: the embedded pgserver is used
    connection_ids: Mapping[str, str] = field(default_factory=dict)
    airbyte: AirbyteApiSettings | None = None
    databricks: DatabricksSettings | None = None
    snowflake: SnowflakeSettings | None = None
    webhooks: WebhookSettings | None = None
    cdc: CdcSettings | None = None
    instance: InstanceSettings = field(
        default_factory=lambda: InstanceSettings(
            "127.0.0.1", 3000, max_concurrent_runs=4, max_concurrent_sync_runs=4
        )
    )
    airflow_api: AirflowApiSettings | None = None
    large_sync: LargeSyncSettings | None = None
    resilient_sync: ResilientSyncSettings = field(default_factory=ResilientSyncSettings)
    notifications: NotificationSettings | None = None
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    connectors_dir: Path = PROJECT_ROOT / ".local" / "connectors"
    # A GX project (holding great_expectations.yml or gx/great_expectations.yml) whose checkpoints
    # replace the bundled ones, by name; None: the bundled checkpoints.
    gx_context_root_dir: Path | None = None
    # Integrations of INTEGRATION_VARIABLES that are off (prod only: none of their variables is set).
    disabled: frozenset[str] = frozenset()
    # The run this process executes, when it is a run pod (K8sRunLauncher + the Downward API): its
    # definitions then build only the discovered connections the run selects (run_scope.py).
    run_id: str | None = None

    @property
    def is_local(self) -> bool:
        return self.mode == "local"

    def is_enabled(self, integration: str) -> bool:
        """Whether an integration of INTEGRATION_VARIABLES is on (always, locally)."""
        if integration not in INTEGRATION_VARIABLES:
            raise KeyError(f"unknown integration {integration!r}; known: {', '.join(INTEGRATION_VARIABLES)}")
        return integration not in self.disabled

    def connection_enabled(self, connection_id_variable: str) -> bool:
        """A declared connection is on locally, and in prod when its connection-id variable is set."""
        return self.is_local or connection_id_variable in self.connection_ids

    @property
    def state_dir(self) -> Path:
        return self.home / "state"


# Airflow deployments set Variables as environment variables named AIRFLOW_VAR_<NAME>; every
# variable below is accepted in that form too, so a deployment's environment moves unchanged.
AIRFLOW_VARIABLE_PREFIX = "AIRFLOW_VAR_"


class _Reader:
    """Collects problems instead of raising on the first, so the error lists them all."""

    def __init__(self, environ: Mapping[str, str]):
        self.environ = environ
        self.problems: list[str] = []
        self._conflicts_reported: set[str] = set()

    def _set(self, name: str) -> bool:
        value = self.environ.get(name)
        return value is not None and bool(value.strip())

    def name_of(self, name: str) -> str | None:
        """The variable actually set for `name`: `name` itself, else Airflow's `AIRFLOW_VAR_<name>`."""
        airflow_name = AIRFLOW_VARIABLE_PREFIX + name
        if self._set(name) and self._set(airflow_name):
            if (
                self.environ[name].strip() != self.environ[airflow_name].strip()
                and name not in self._conflicts_reported
            ):
                self._conflicts_reported.add(name)
                self.problems.append(f"{name} and {airflow_name} are both set, to different values: keep one")
            return name
        if self._set(name):
            return name
        return airflow_name if self._set(airflow_name) else None

    def get(self, name: str, default: str | None = None) -> str | None:
        found = self.name_of(name)
        return default if found is None else self.environ[found].strip()

    def first_of(self, names: tuple[str, ...]) -> tuple[str, str] | None:
        for name in names:
            value = self.get(name)
            if value is not None:
                return name, value
        return None

    def require(self, name: str, why: str) -> str | None:
        value = self.get(name)
        if value is None:
            self.problems.append(f"{name} is not set ({why})")
        return value

    def secret_var(self, name: str, why: str, required: bool) -> str | None:
        """Return the variable *name* if it is set, so the value is only read through dg.EnvVar."""
        found = self.name_of(name)
        if found is not None:
            return found
        if required:
            self.problems.append(f"{name} is not set ({why})")
        return None

    def flag(self, name: str, default: bool, why: str) -> bool:
        raw = self.get(name)
        if raw is None:
            return default
        if raw.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if raw.strip().lower() in ("0", "false", "no", "off"):
            return False
        self.problems.append(f"{name}={raw!r} must be true or false ({why})")
        return default

    def integer(self, name: str, default: int | None, why: str, minimum: int = 0) -> int | None:
        raw = self.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            self.problems.append(f"{name}={raw!r} is not an integer ({why})")
            return default
        if value < minimum:
            self.problems.append(f"{name}={value} must be at least {minimum} ({why})")
            return default
        return value

    def json_object(self, name: str, example: str) -> dict[str, Any]:
        """A JSON object variable ({} when unset); a malformed one is a problem showing `example`."""
        raw = self.get(name)
        if raw is None:
            return {}
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError as error:
            self.problems.append(f"{name} is not JSON ({error}); expected e.g. {example}")
            return {}
        if not isinstance(parsed, dict):
            self.problems.append(f"{name} must be a JSON object, e.g. {example}")
            return {}
        return parsed

    def url(
        self, name: str, why: str, required: bool, schemes: tuple[str, ...] = ("http", "https")
    ) -> str | None:
        raw = self.require(name, why) if required else self.get(name)
        if raw is None:
            return None
        parsed = urlparse(raw)
        if parsed.scheme not in schemes or not parsed.netloc:
            self.problems.append(f"{name}={raw!r} is not a {'/'.join(schemes)} URL ({why})")
            return None
        return raw.rstrip("/")


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from `environ` (the process environment by default)."""
    env = _Reader(os.environ if environ is None else environ)
    mode_raw = (env.get("AIRBYTE_PLATFORM_MODE") or "local").lower()
    if mode_raw not in MODES:
        raise SettingsError(
            mode_raw, [f"AIRBYTE_PLATFORM_MODE={mode_raw!r} must be one of {', '.join(MODES)}"]
        )
    mode: Mode = mode_raw  # type: ignore[assignment]
    prod = mode == "prod"

    home = Path(env.get("AIRBYTE_PLATFORM_HOME") or PROJECT_ROOT / ".local").resolve()
    lake_root = env.get("DATALAKE_ROOT") or ("s3://biz-datalake-dev" if prod else str(home / "lake"))

    # A declared connection without its id is left out in prod (its assets, checks and jobs too).
    connection_ids: dict[str, str] = {}
    for canonical, aliases in CONNECTION_ID_VARIABLES.items():
        found = env.first_of((canonical, *aliases))
        if found:
            connection_ids[canonical] = found[1]

    # In prod an integration is on when any of its variables is set; locally everything runs on stand-ins.
    disabled = frozenset(
        part
        for part, names in INTEGRATION_VARIABLES.items()
        if prod and all(env.get(name) is None for name in names)
    )
    required = {part: prod and part not in disabled for part in INTEGRATION_VARIABLES}

    airbyte = _airbyte_settings(env, prod)
    databricks = _integration(env, "databricks", lambda: _databricks_settings(env, required["databricks"]))
    snowflake = _integration(env, "snowflake", lambda: _snowflake_settings(env, required["snowflake"]))
    webhooks = _integration(env, "webhooks", lambda: _webhook_settings(env, required["webhooks"]))
    cdc = _integration(env, "cdc", lambda: _cdc_settings(env, required["cdc"], connection_ids, prod))
    instance = InstanceSettings(
        webserver_host=env.get("DAGSTER_WEBSERVER_HOST") or "127.0.0.1",
        webserver_port=env.integer("DAGSTER_WEBSERVER_PORT", 3000, "port of the Dagster UI", minimum=1)
        or 3000,
        max_concurrent_runs=env.integer(
            "DAGSTER_MAX_CONCURRENT_RUNS", 4, "runs the queue lets run at once", minimum=1
        )
        or 4,
        max_concurrent_sync_runs=env.integer(
            "AIRBYTE_MAX_CONCURRENT_SYNC_RUNS", 4, "runs with Airbyte syncs that may run at once", minimum=1
        )
        or 4,
    )
    postgres_dsn_var = env.secret_var(
        "ANALYTICS_POSTGRES_DSN", "the PostgreSQL that Airbyte writes to (data checks read it)", required=prod
    )

    airflow_api = _airflow_api_settings(env)
    large_sync = _large_sync_settings(env)
    resilient_sync = _resilient_sync_settings(env)
    notifications = _notification_settings(env)
    metrics = MetricsSettings(
        host=env.get("METRICS_HOST") or "127.0.0.1",
        port=env.integer("METRICS_PORT", 9464, "port of the Prometheus exporter", minimum=1) or 9464,
    )

    gx_context_root_dir = _gx_context_root_dir(env)

    if env.problems:
        raise SettingsError(mode, env.problems)
    return Settings(
        mode=mode,
        home=home,
        lake_root=lake_root.rstrip("/"),
        postgres_dsn_var=postgres_dsn_var,
        connection_ids=connection_ids,
        airbyte=airbyte,
        databricks=databricks,
        snowflake=snowflake,
        webhooks=webhooks,
        cdc=cdc,
        instance=instance,
        airflow_api=airflow_api,
        large_sync=large_sync,
        resilient_sync=resilient_sync,
        notifications=notifications,
        metrics=metrics,
        connectors_dir=Path(env.get("AIRBYTE_CONNECTORS_DIR") or home / "connectors").resolve(),
        gx_context_root_dir=gx_context_root_dir,
        disabled=disabled,
        run_id=env.get("AIRBYTE_PLATFORM_RUN_ID") or None,
    )


def _integration(env: _Reader, part: str, read: Callable[[], _T]) -> _T:
    """Read one integration; its problems say which part they belong to and what switched it on."""
    before = len(env.problems)
    settings = read()
    if len(env.problems) > before:
        switched_on = [name for name in INTEGRATION_VARIABLES[part] if env.get(name) is not None]
        why = f"enabled by {', '.join(switched_on)}" if switched_on else "enabled"
        env.problems[before:] = [f"{part} ({why}): {problem}" for problem in env.problems[before:]]
    return settings


def _webhook_settings(env: _Reader, required: bool) -> WebhookSettings:
    # The receiver needs all three secrets (it serves the three endpoints); the code location none.
    return WebhookSettings(
        stripe_secret_var=env.secret_var(
            "STRIPE_WEBHOOK_SECRET", "verifies Stripe-Signature", required=required
        ),
        airbyte_token_var=env.secret_var(
            "AIRBYTE_WEBHOOK_TOKEN", "secret path token of Airbyte notifications", required=required
        ),
        trigger_token_var=env.secret_var(
            "WEBHOOK_TRIGGER_TOKEN", "bearer token of POST /webhooks/trigger", required=required
        ),
        inbox_dsn_var=env.secret_var(
            "WEBHOOK_INBOX_DSN",
            "the webhook inbox, postgresql://... (locally unset: the PostgreSQL under the home)",
            required=False,
        ),
        max_body_bytes=env.integer(
            "WEBHOOK_MAX_BODY_BYTES", 1_048_576, "largest accepted webhook body", minimum=1024
        )
        or 1_048_576,
        host=env.get("WEBHOOK_HOST") or "127.0.0.1",
        port=env.integer("WEBHOOK_PORT", 8765, "port of the webhook receiver", minimum=1) or 8765,
    )


def _cdc_settings(env: _Reader, required: bool, connection_ids: Mapping[str, str], prod: bool) -> CdcSettings:
    if required and CDC_CONNECTION_VARIABLE not in connection_ids:
        env.problems.append(
            f"{CDC_CONNECTION_VARIABLE} is not set (the Airbyte CDC connection whose replication is checked)"
        )
    return CdcSettings(
        source_dsn_var=env.secret_var("CDC_SOURCE_DSN", "the CDC source PostgreSQL DSN", required=required),
        slot_name=env.get("CDC_SLOT_NAME") or "airbyte_slot",
        max_lag_seconds=env.integer(
            "CDC_MAX_LAG_SECONDS", 300, "max_lag_seconds of postgres_cdc_replication", minimum=1
        )
        or 300,
        max_lag_bytes=env.integer(
            "CDC_MAX_LAG_BYTES", 256 * 1024 * 1024, "largest tolerated WAL backlog", minimum=1
        )
        or 256 * 1024 * 1024,
        write_heartbeat=env.flag(
            "CDC_WRITE_HEARTBEAT", not prod, "whether the lag sensor writes heartbeats into the source"
        ),
    )


def _gx_context_root_dir(env: _Reader) -> Path | None:
    raw = env.get("GX_CONTEXT_ROOT_DIR")
    if raw is None:
        return None
    root = Path(raw).expanduser().resolve()
    if not any((root / place / "great_expectations.yml").is_file() for place in (".", "gx")):
        env.problems.append(
            f"GX_CONTEXT_ROOT_DIR={raw!r} is not a Great Expectations project (no great_expectations.yml "
            "in it or in its gx/ folder): point it at the project, e.g. the seeds' /opt/airflow/gx"
        )
        return None
    return root


def _airbyte_settings(env: _Reader, prod: bool) -> AirbyteApiSettings:
    cloud = (env.get("AIRBYTE_CLOUD") or "false").lower() in ("1", "true", "yes")
    api_url = env.url(
        "AIRBYTE_API_URL", "the Airbyte server, e.g. http://airbyte-server:8000", required=prod and not cloud
    )
    has_basic = env.get("AIRBYTE_API_USERNAME") is not None
    has_client = env.get("AIRBYTE_CLIENT_ID") is not None
    if prod and not (has_basic or has_client):
        env.problems.append(
            "AIRBYTE_API_USERNAME/AIRBYTE_API_PASSWORD or AIRBYTE_CLIENT_ID/AIRBYTE_CLIENT_SECRET must be set (Airbyte credentials)"
        )
    workspace_id = env.get("AIRBYTE_WORKSPACE_ID")
    discovery = (env.get("AIRBYTE_DISCOVERY") or "snapshot").lower()
    if discovery not in ("snapshot", "live", "off"):
        env.problems.append(f"AIRBYTE_DISCOVERY={discovery!r} must be snapshot, live or off")
        discovery = "snapshot"
    if prod and cloud:
        if not has_client:
            env.problems.append(
                "AIRBYTE_CLIENT_ID/AIRBYTE_CLIENT_SECRET are required for Airbyte Cloud (AIRBYTE_CLOUD=true)"
            )
        if workspace_id is None:
            env.problems.append("AIRBYTE_WORKSPACE_ID is not set (required for Airbyte Cloud)")
    return AirbyteApiSettings(
        api_url=api_url,
        workspace_id=workspace_id,
        username_var=env.name_of("AIRBYTE_API_USERNAME"),
        password_var=env.secret_var(
            "AIRBYTE_API_PASSWORD", "password of AIRBYTE_API_USERNAME", required=prod and has_basic
        ),
        client_id_var=env.name_of("AIRBYTE_CLIENT_ID"),
        client_secret_var=env.secret_var(
            "AIRBYTE_CLIENT_SECRET", "secret of AIRBYTE_CLIENT_ID", required=prod and has_client
        ),
        cloud=cloud,
        discovery=discovery,  # type: ignore[arg-type]
        webapp_url=env.url("AIRBYTE_WEBAPP_URL", "the Airbyte UI, for links to sync jobs", required=False),
        pending_timeout_minutes=env.integer(
            "AIRBYTE_PENDING_TIMEOUT_MINUTES", 30, "how long an Airbyte job may stay pending", minimum=1
        )
        or 30,
        job_limits=_job_limits(env),
    )


def _airflow_api_settings(env: _Reader) -> AirflowApiSettings:
    # Optional everywhere: only the facade's own process needs the credentials, and it says so.
    why = "basic auth of the Airflow REST API facade"
    return AirflowApiSettings(
        username_var=env.secret_var("AIRFLOW_API_USERNAME", why, required=False),
        password_var=env.secret_var("AIRFLOW_API_PASSWORD", why, required=False),
        dagster_webserver_url=env.url(
            "DAGSTER_WEBSERVER_URL", "the Dagster webserver the facade launches runs through", required=False
        )
        or "http://127.0.0.1:3000",
        host=env.get("AIRFLOW_API_HOST") or "127.0.0.1",
        port=env.integer("AIRFLOW_API_PORT", 8080, "port of the Airflow REST API facade", minimum=1) or 8080,
    )


def _large_sync_settings(env: _Reader) -> LargeSyncSettings | None:
    seeds = LargeSyncSettings(connection_id="")
    tuning = {
        "timeout_minutes": env.integer(
            "AIRBYTE_LARGE_SYNC_TIMEOUT_MINUTES",
            seeds.timeout_minutes,
            "timeout of the large sync",
            minimum=1,
        ),
        "max_retries": env.integer(
            "AIRBYTE_LARGE_SYNC_MAX_RETRIES", seeds.max_retries, "API retries of the large sync", minimum=0
        ),
        "check_interval_seconds": env.integer(
            "AIRBYTE_LARGE_SYNC_CHECK_INTERVAL_SECONDS",
            seeds.check_interval_seconds,
            "longest wait between two checks of the large sync",
            minimum=1,
        ),
    }
    connection_id = env.get("AIRBYTE_LARGE_SYNC_CONNECTION_ID")
    if connection_id is None:
        overrides = [
            name
            for name in (
                "AIRBYTE_LARGE_SYNC_TIMEOUT_MINUTES",
                "AIRBYTE_LARGE_SYNC_MAX_RETRIES",
                "AIRBYTE_LARGE_SYNC_CHECK_INTERVAL_SECONDS",
            )
            if env.get(name) is not None
        ]
        if overrides:
            env.problems.append(
                f"{', '.join(overrides)} set but AIRBYTE_LARGE_SYNC_CONNECTION_ID is not (which connection do they tune?)"
            )
        return None
    return LargeSyncSettings(
        connection_id=connection_id, **{k: v for k, v in tuning.items() if v is not None}
    )


def _resilient_sync_settings(env: _Reader) -> ResilientSyncSettings:
    connector = env.get("AIRBYTE_STRIPE_FALLBACK_CONNECTOR")
    if connector is not None and connector.partition(":")[0] not in ("pypi", "sample", "python"):
        env.problems.append(
            f"AIRBYTE_STRIPE_FALLBACK_CONNECTOR={connector!r} must be pypi:<requirement> "
            "(e.g. pypi:airbyte-source-stripe==5.14.0), sample:<shape> or python:<script>"
        )
    config_var = env.secret_var(
        "AIRBYTE_STRIPE_FALLBACK_SOURCE_CONFIG", "source config of the embedded fallback", required=False
    )
    if config_var is not None and connector is None:
        env.problems.append(
            "AIRBYTE_STRIPE_FALLBACK_SOURCE_CONFIG is set but AIRBYTE_STRIPE_FALLBACK_CONNECTOR is not "
            "(which connector reads with it?)"
        )
    return ResilientSyncSettings(
        backup_connection_id=env.get("AIRBYTE_STRIPE_BACKUP_CONNECTION_ID"),
        embedded_connector=connector,
        embedded_config_var=config_var,
    )


def _job_limits(env: _Reader) -> dict[str, JobLimits]:
    parsed = env.json_object(
        "AIRBYTE_JOB_LIMITS",
        '{"big_connection": {"timeout_minutes": 720, "check_interval": 60, "max_retries": 5}}',
    )
    limits: dict[str, JobLimits] = {}
    for name, value in parsed.items():
        try:
            limits[name] = parse_job_limits(value, f"AIRBYTE_JOB_LIMITS[{name!r}]")
        except ValueError as error:
            env.problems.append(str(error))
    return limits


def _databricks_settings(env: _Reader, required: bool) -> DatabricksSettings:
    mode = (env.get("DATABRICKS_TRANSFORM_MODE") or "run_now").lower()
    if mode not in ("run_now", "pipes"):
        env.problems.append(f"DATABRICKS_TRANSFORM_MODE={mode!r} must be run_now or pipes")
        mode = "run_now"
    return DatabricksSettings(
        host=env.url("DATABRICKS_HOST", "the Databricks workspace URL", required=required),
        token_var=env.secret_var("DATABRICKS_TOKEN", "Databricks personal access token", required=required),
        stripe_job_id=env.integer(
            "DATABRICKS_STRIPE_JOB_ID", None, "the Databricks job processing Stripe data", minimum=1
        )
        if (env.get("DATABRICKS_STRIPE_JOB_ID") or not (required and mode == "run_now"))
        else _missing(
            env,
            "DATABRICKS_STRIPE_JOB_ID",
            "the Databricks job processing Stripe data (DATABRICKS_TRANSFORM_MODE=run_now)",
        ),
        transform_mode=mode,  # type: ignore[arg-type]
        pipes_cluster_id=env.get("DATABRICKS_CLUSTER_ID")
        if (env.get("DATABRICKS_CLUSTER_ID") or not (required and mode == "pipes"))
        else _missing(
            env,
            "DATABRICKS_CLUSTER_ID",
            "the cluster Pipes submissions run on (DATABRICKS_TRANSFORM_MODE=pipes)",
        ),
    )


def _snowflake_settings(env: _Reader, required: bool) -> SnowflakeSettings:
    why = "Snowflake connection"
    return SnowflakeSettings(
        account=env.require("SNOWFLAKE_ACCOUNT", why) if required else env.get("SNOWFLAKE_ACCOUNT"),
        user=env.require("SNOWFLAKE_USER", why) if required else env.get("SNOWFLAKE_USER"),
        password_var=env.secret_var("SNOWFLAKE_PASSWORD", why, required=required),
        warehouse=env.get("SNOWFLAKE_WAREHOUSE"),
        database=env.get("SNOWFLAKE_DATABASE") or "ANALYTICS",
        schema=env.get("SNOWFLAKE_SCHEMA") or "PUBLIC",
        role=env.get("SNOWFLAKE_ROLE"),
        host=env.get("SNOWFLAKE_HOST"),
        port=env.integer("SNOWFLAKE_PORT", None, "port of SNOWFLAKE_HOST", minimum=1),
        protocol=_protocol(env, "SNOWFLAKE_PROTOCOL"),
    )


def _events(env: _Reader, name: str, raw: object, default: frozenset[NotifyEvent]) -> frozenset[NotifyEvent]:
    if raw is None:
        return default
    items = [part.strip().lower() for part in raw.split(",")] if isinstance(raw, str) else raw
    if not isinstance(items, list) or any(item not in NOTIFY_EVENTS for item in items if item):
        env.problems.append(f"{name}={raw!r} must list events among: {', '.join(NOTIFY_EVENTS)}")
        return default
    return frozenset(item for item in items if item)  # type: ignore[misc]


def _addresses(env: _Reader, name: str, raw: object) -> tuple[str, ...]:
    if raw is None:
        return ()
    items = [part.strip() for part in raw.split(",")] if isinstance(raw, str) else raw
    if not isinstance(items, list) or any(not isinstance(a, str) or "@" not in a for a in items if a):
        env.problems.append(
            f"{name}={raw!r} must be e-mail addresses (comma-separated, or a JSON list in routes)"
        )
        return ()
    return tuple(address for address in items if address)


def _notification_routes(env: _Reader, defaults: NotificationRoute) -> dict[str, NotificationRoute]:
    parsed = env.json_object(
        "NOTIFY_ROUTES",
        '{"job:stripe_datalake_pipeline": {"on": ["failure"], "email_to": ["finance@example.com"]}}',
    )
    routes: dict[str, NotificationRoute] = {}
    for key, value in parsed.items():
        where = f"NOTIFY_ROUTES[{key!r}]"
        if not (key.startswith("job:") or key.startswith("connection:")) or not key.partition(":")[2]:
            env.problems.append(f"{where}: keys are 'job:<job name>' or 'connection:<connection name>'")
            continue
        unknown = (
            set(value) - {"on", "email_to", "slack_channel", "webhook"} if isinstance(value, dict) else None
        )
        if unknown is None or unknown:
            env.problems.append(
                f"{where} must be an object with on, email_to, slack_channel, webhook"
                + (f" (unknown: {', '.join(sorted(unknown))})" if unknown else "")
            )
            continue
        slack = value.get("slack_channel")
        if slack is not None and not isinstance(slack, str):
            env.problems.append(f"{where}.slack_channel must be a channel name such as #data-team")
            slack = None
        routes[key] = NotificationRoute(
            on=_events(env, f"{where}.on", value.get("on"), defaults.on),
            email_to=_addresses(env, f"{where}.email_to", value.get("email_to")),
            slack_channel=slack,
            webhook=bool(value.get("webhook", False)),
        )
    return routes


def _notification_settings(env: _Reader) -> NotificationSettings:
    email_to = _addresses(env, "NOTIFY_EMAIL_TO", env.get("NOTIFY_EMAIL_TO"))
    slack_token_var = env.secret_var("SLACK_TOKEN", "Slack bot token of the notifications", required=False)
    slack_channel = env.get("SLACK_CHANNEL")
    webhook_url = env.get("NOTIFY_WEBHOOK_URL")
    if webhook_url is not None and (
        urlparse(webhook_url).scheme not in ("http", "https") or not urlparse(webhook_url).netloc
    ):
        # The value is not echoed: webhook URLs often carry their token.
        env.problems.append("NOTIFY_WEBHOOK_URL is not an http(s) URL (where run notifications are POSTed)")
        webhook_url = None
    default = NotificationRoute(
        on=_events(env, "NOTIFY_ON", env.get("NOTIFY_ON"), frozenset(NOTIFY_EVENTS)),
        email_to=email_to,
        slack_channel=slack_channel if slack_token_var else None,
        webhook=webhook_url is not None,
    )
    routes = _notification_routes(env, default)
    wants_email = any(route.email_to for route in (default, *routes.values()))
    smtp_host = (
        env.require("SMTP_HOST", "the mail server of NOTIFY_EMAIL_TO")
        if wants_email
        else env.get("SMTP_HOST")
    )
    username = env.get("SMTP_USERNAME")
    security = (env.get("SMTP_SECURITY") or ("starttls" if username else "none")).lower()
    if security not in ("none", "starttls", "ssl"):
        env.problems.append(f"SMTP_SECURITY={security!r} must be none, starttls or ssl")
        security = "starttls"
    default_port = {"none": 25, "starttls": 587, "ssl": 465}[security]
    if slack_token_var and not slack_channel and not any(route.slack_channel for route in routes.values()):
        env.problems.append("SLACK_CHANNEL is not set (the channel SLACK_TOKEN posts run notifications to)")
    if any(route.slack_channel for route in routes.values()) and not slack_token_var:
        env.problems.append("SLACK_TOKEN is not set (NOTIFY_ROUTES names a slack_channel)")
    if any(route.webhook for route in routes.values()) and webhook_url is None:
        env.problems.append("NOTIFY_WEBHOOK_URL is not set (NOTIFY_ROUTES asks for the webhook)")
    return NotificationSettings(
        default=default,
        routes=routes,
        email_from=env.get("NOTIFY_EMAIL_FROM") or "airbyte-platform@localhost",
        smtp_host=smtp_host,
        smtp_port=env.integer("SMTP_PORT", default_port, "port of SMTP_HOST", minimum=1) or default_port,
        smtp_security=security,  # type: ignore[arg-type]
        smtp_username=username,
        smtp_password_var=env.secret_var(
            "SMTP_PASSWORD", "password of SMTP_USERNAME", required=username is not None
        ),
        slack_token_var=slack_token_var,
        slack_api_url=env.url("SLACK_API_URL", "Slack's Web API base URL", required=False),
        webhook_url_var="NOTIFY_WEBHOOK_URL" if webhook_url else None,
        dagster_ui_url=env.url("DAGSTER_UI_URL", "the Dagster UI, for links to runs", required=False),
        attempts=env.integer("NOTIFY_ATTEMPTS", 3, "tries per notification channel", minimum=1) or 3,
    )


def _protocol(env: _Reader, name: str) -> str | None:
    value = env.get(name)
    if value is not None and value.lower() not in ("http", "https"):
        env.problems.append(f"{name}={value!r} must be http or https")
        return None
    return value.lower() if value else None


def _missing(env: _Reader, name: str, why: str) -> None:
    env.problems.append(f"{name} is not set ({why})")
    return None


@cache
def get_settings() -> Settings:
    """Settings of this process, read once."""
    return load_settings()
