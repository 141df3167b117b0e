"""The one place that reads the process environment.

Everything else receives a `Settings` object (or `dg.EnvVar` references built from the variable
names kept here), so the mode is decided once and a missing prod variable is reported together
with every other missing variable, in a single error.

Variable names are the ones the Airflow deployment used (see shared/seeds), plus aliases the
seeds use interchangeably (`AIRBYTE_STRIPE_PG_CONNECTION_ID` for
`AIRBYTE_STRIPE_POSTGRES_CONNECTION_ID`, ...).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

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
    "ANALYTICS_POSTGRES_DSN",
)


class SettingsError(ValueError):
    """Raised once with every problem found, so a deployment is fixed in one pass."""

    def __init__(self, mode: str, problems: list[str]):
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"airbyte_platform cannot start in {mode!r} mode; fix these environment variables:\n{listing}"
        )


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
    # saved workspace snapshot, fetched once when missing), "live" (fetch at every load), "off".
    discovery: Literal["snapshot", "live", "off"] = "snapshot"
    # Browser URL of the Airbyte UI for job links (AIRBYTE_API_URL is often an in-cluster address).
    webapp_url: str | None = None

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
    inbox_dsn: str  # sqlite:///path locally, postgresql://... in prod
    max_body_bytes: int
    host: str
    port: int
    # WEBHOOK_INBOX_DSN when set: a postgresql:// DSN carries a password, so it is read through dg.EnvVar
    # and `inbox_dsn` keeps only the local SQLite default.
    inbox_dsn_var: str | None = None


@dataclass(frozen=True)
class CdcSettings:
    source_dsn_var: str | None
    slot_name: str
    max_lag_seconds: int
    max_lag_bytes: int


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
    connectors_dir: Path = PROJECT_ROOT / ".local" / "connectors"

    @property
    def is_local(self) -> bool:
        return self.mode == "local"

    @property
    def state_dir(self) -> Path:
        return self.home / "state"


class _Reader:
    """Collects problems instead of raising on the first, so the error lists them all."""

    def __init__(self, environ: Mapping[str, str]):
        self.environ = environ
        self.problems: list[str] = []

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.environ.get(name)
        if value is None or not value.strip():
            return default
        return value.strip()

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
        if self.get(name) is not None:
            return name
        if required:
            self.problems.append(f"{name} is not set ({why})")
        return None

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

    connection_ids: dict[str, str] = {}
    for canonical, aliases in CONNECTION_ID_VARIABLES.items():
        found = env.first_of((canonical, *aliases))
        if found:
            connection_ids[canonical] = found[1]
        elif prod:
            alias_note = f" (or {', '.join(aliases)})" if aliases else ""
            env.problems.append(
                f"{canonical}{alias_note} is not set (the Airbyte connection id, from the Airbyte UI URL)"
            )

    airbyte = _airbyte_settings(env, prod)
    databricks = _databricks_settings(env, prod)
    snowflake = _snowflake_settings(env, prod)
    webhooks = WebhookSettings(
        stripe_secret_var=env.secret_var("STRIPE_WEBHOOK_SECRET", "verifies Stripe-Signature", required=prod),
        airbyte_token_var=env.secret_var(
            "AIRBYTE_WEBHOOK_TOKEN", "secret path token of Airbyte notifications", required=prod
        ),
        trigger_token_var=env.secret_var(
            "WEBHOOK_TRIGGER_TOKEN", "bearer token of POST /webhooks/trigger", required=prod
        ),
        inbox_dsn=f"sqlite:///{home / 'webhooks' / 'inbox.sqlite3'}",
        inbox_dsn_var=env.secret_var(
            "WEBHOOK_INBOX_DSN", "the webhook inbox, postgresql://... in prod", required=False
        ),
        max_body_bytes=env.integer(
            "WEBHOOK_MAX_BODY_BYTES", 1_048_576, "largest accepted webhook body", minimum=1024
        )
        or 1_048_576,
        host=env.get("WEBHOOK_HOST") or "127.0.0.1",
        port=env.integer("WEBHOOK_PORT", 8765, "port of the webhook receiver", minimum=1) or 8765,
    )
    cdc = CdcSettings(
        source_dsn_var=env.secret_var("CDC_SOURCE_DSN", "the CDC source PostgreSQL DSN", required=prod),
        slot_name=env.get("CDC_SLOT_NAME") or "airbyte_slot",
        max_lag_seconds=env.integer(
            "CDC_MAX_LAG_SECONDS", 300, "max_lag_seconds of postgres_cdc_replication", minimum=1
        )
        or 300,
        max_lag_bytes=env.integer(
            "CDC_MAX_LAG_BYTES", 256 * 1024 * 1024, "largest tolerated WAL backlog", minimum=1
        )
        or 256 * 1024 * 1024,
    )
    postgres_dsn_var = env.secret_var(
        "ANALYTICS_POSTGRES_DSN", "the PostgreSQL that Airbyte writes to (data checks read it)", required=prod
    )

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
        connectors_dir=Path(env.get("AIRBYTE_CONNECTORS_DIR") or home / "connectors").resolve(),
    )


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
        username_var="AIRBYTE_API_USERNAME" if has_basic else None,
        password_var=env.secret_var(
            "AIRBYTE_API_PASSWORD", "password of AIRBYTE_API_USERNAME", required=prod and has_basic
        ),
        client_id_var="AIRBYTE_CLIENT_ID" if has_client else None,
        client_secret_var=env.secret_var(
            "AIRBYTE_CLIENT_SECRET", "secret of AIRBYTE_CLIENT_ID", required=prod and has_client
        ),
        cloud=cloud,
        discovery=discovery,  # type: ignore[arg-type]
        webapp_url=env.url("AIRBYTE_WEBAPP_URL", "the Airbyte UI, for links to sync jobs", required=False),
    )


def _databricks_settings(env: _Reader, prod: bool) -> DatabricksSettings:
    mode = (env.get("DATABRICKS_TRANSFORM_MODE") or "run_now").lower()
    if mode not in ("run_now", "pipes"):
        env.problems.append(f"DATABRICKS_TRANSFORM_MODE={mode!r} must be run_now or pipes")
        mode = "run_now"
    return DatabricksSettings(
        host=env.url("DATABRICKS_HOST", "the Databricks workspace URL", required=prod),
        token_var=env.secret_var("DATABRICKS_TOKEN", "Databricks personal access token", required=prod),
        stripe_job_id=env.integer(
            "DATABRICKS_STRIPE_JOB_ID", None, "the Databricks job processing Stripe data", minimum=1
        )
        if (env.get("DATABRICKS_STRIPE_JOB_ID") or not (prod and mode == "run_now"))
        else _missing(
            env,
            "DATABRICKS_STRIPE_JOB_ID",
            "the Databricks job processing Stripe data (DATABRICKS_TRANSFORM_MODE=run_now)",
        ),
        transform_mode=mode,  # type: ignore[arg-type]
        pipes_cluster_id=env.get("DATABRICKS_CLUSTER_ID")
        if (env.get("DATABRICKS_CLUSTER_ID") or not (prod and mode == "pipes"))
        else _missing(
            env,
            "DATABRICKS_CLUSTER_ID",
            "the cluster Pipes submissions run on (DATABRICKS_TRANSFORM_MODE=pipes)",
        ),
    )


def _snowflake_settings(env: _Reader, prod: bool) -> SnowflakeSettings:
    why = "Snowflake connection"
    return SnowflakeSettings(
        account=env.require("SNOWFLAKE_ACCOUNT", why) if prod else env.get("SNOWFLAKE_ACCOUNT"),
        user=env.require("SNOWFLAKE_USER", why) if prod else env.get("SNOWFLAKE_USER"),
        password_var=env.secret_var("SNOWFLAKE_PASSWORD", why, required=prod),
        warehouse=env.get("SNOWFLAKE_WAREHOUSE"),
        database=env.get("SNOWFLAKE_DATABASE") or "ANALYTICS",
        schema=env.get("SNOWFLAKE_SCHEMA") or "PUBLIC",
        role=env.get("SNOWFLAKE_ROLE"),
        host=env.get("SNOWFLAKE_HOST"),
        port=env.integer("SNOWFLAKE_PORT", None, "port of SNOWFLAKE_HOST", minimum=1),
        protocol=_protocol(env, "SNOWFLAKE_PROTOCOL"),
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
