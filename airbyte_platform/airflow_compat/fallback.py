"""What `fallback_sync` of resilient_sync syncs, and which alternative it takes for a failure.

- The Airbyte server answers (the primary's job failed: a source outage, a bad write, ...): the
  backup connection AIRBYTE_STRIPE_BACKUP_CONNECTION_ID, synced on the server like any connection.
- The Airbyte server is unreachable (connection errors, timeouts or 5xx after every request retry,
  probed when the fallback starts): the embedded runner running AIRBYTE_STRIPE_FALLBACK_CONNECTOR,
  with the secret AIRBYTE_STRIPE_FALLBACK_SOURCE_CONFIG, into the deployment's destination.
- Locally the primary already is the embedded runner: AIRBYTE_STRIPE_FALLBACK_CONNECTOR, if set.
With no alternative for the situation, the fallback fails naming the variable to set.
"""

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from airbyte_platform.core.catalog import ConnectionSpec, LocalStandIn, connection_named
from airbyte_platform.ingestion.sync_assets import declared_target
from airbyte_platform.ingestion.sync_target import SyncTarget
from airbyte_platform.settings import Settings

CONNECTION_NAME = "stripe_to_postgres"  # AIRBYTE_STRIPE_PG_CONNECTION_ID in the seeds' DAG
FALLBACK = "fallback_sync"
PATH_BACKUP, PATH_EMBEDDED = "backup_connection", "embedded_runner"
BACKUP_VARIABLE = "AIRBYTE_STRIPE_BACKUP_CONNECTION_ID"
CONNECTOR_VARIABLE = "AIRBYTE_STRIPE_FALLBACK_CONNECTOR"
CONFIG_VARIABLE = "AIRBYTE_STRIPE_FALLBACK_SOURCE_CONFIG"


@dataclass(frozen=True)
class ResiliencePlan:
    """Built when the code location loads: what each path syncs, in this mode."""

    connection: ConnectionSpec
    local: bool
    primary: SyncTarget | None  # what the `airbyte` resource syncs (embedded runner locally, Airbyte in prod)
    backup: SyncTarget | None  # prod: the backup connection, when its variable is set
    embedded: SyncTarget | None  # the connection as read by the fallback connector, when one is set
    embedded_config_var: str | None
    connectors_dir: Path

    @property
    def primary_id(self) -> str:
        assert self.primary is not None
        return self.primary.name if self.local else self.primary.connection_id


def resilience_plan(settings: Settings, connection: ConnectionSpec | None = None) -> ResiliencePlan:
    connection = connection or connection_named(CONNECTION_NAME)
    fallback = settings.resilient_sync
    embedded = None
    if fallback.embedded_connector:
        embedded = dataclasses.replace(
            connection,
            local=LocalStandIn(
                connector=fallback.embedded_connector,
                # Locally the stand-in's config applies unless a fallback config is given.
                config=dict(connection.local.config) if settings.is_local else {},
                inactivity_timeout_seconds=connection.local.inactivity_timeout_seconds,
            ),
        )
    embedded_target = declared_target(embedded, settings) if embedded is not None else None
    if settings.is_local:
        primary, backup = declared_target(connection, settings), None
    else:
        if connection.connection_id_variable not in settings.connection_ids:
            # The connection is not set up in this deployment: the job loads, and says so when run.
            return _unconfigured_plan(settings, connection, embedded_target)
        primary = declared_target(connection, settings, None)
        backup = (
            dataclasses.replace(
                primary,
                connection_id=fallback.backup_connection_id,
                name=f"{connection.name} (backup)",
                op_name=FALLBACK,
                id_source=BACKUP_VARIABLE,
            )
            if fallback.backup_connection_id
            else None
        )
    return ResiliencePlan(
        connection=connection,
        local=settings.is_local,
        primary=primary,
        backup=backup,
        embedded=embedded_target,
        embedded_config_var=fallback.embedded_config_var,
        connectors_dir=settings.connectors_dir,
    )


def _unconfigured_plan(
    settings: Settings, connection: ConnectionSpec, embedded: SyncTarget | None
) -> ResiliencePlan:
    fallback = settings.resilient_sync
    return ResiliencePlan(
        connection=connection,
        local=False,
        primary=None,
        backup=None,
        embedded=embedded,
        embedded_config_var=fallback.embedded_config_var,
        connectors_dir=settings.connectors_dir,
    )


def _unreachable(exc: BaseException) -> bool:
    """True when the error says the Airbyte server could not be reached (transport errors, or
    transient answers that outlasted every retry), as opposed to Airbyte answering with an error."""
    from airbyte_platform.ingestion.airbyte_server.errors import (
        AirbyteRetriesExhaustedError,
        AirbyteTransientError,
        is_transient_exception,
    )

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, AirbyteRetriesExhaustedError | AirbyteTransientError) or is_transient_exception(
            seen
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _server_answers(context: dg.OpExecutionContext, airbyte: Any, target: Any) -> bool:
    """Probe the Airbyte server with the connection the fallback would sync (a 4xx is an answer)."""
    try:
        airbyte.get_client().get_connection(target.connection_id, not_found_hint=target.not_found_hint)
    except Exception as exc:
        if _unreachable(exc):
            context.log.warning(f"Airbyte server unreachable: {exc}")
            return False
        context.log.warning(f"Airbyte server answers, with an error: {exc}")
    return True


def choose_fallback(context: dg.OpExecutionContext, plan: ResiliencePlan) -> tuple[str, Any, Any, str]:
    """(path, resource, target, id) of the alternative for this failure; a Failure naming what to set."""
    if plan.local:
        if plan.embedded is None:
            raise dg.Failure(
                description=f"primary_sync failed and, in local mode, it already is the embedded runner: no "
                f"alternative is configured. Set {CONNECTOR_VARIABLE} (e.g. pypi:airbyte-source-stripe==5.14.0, "
                f"its config in {CONFIG_VARIABLE}) to fall back to another connector.",
                allow_retries=False,
            )
        return _embedded_path(context, plan)
    airbyte = context.resources.airbyte
    if _server_answers(context, airbyte, plan.backup or plan.primary):
        if plan.backup is None:
            raise dg.Failure(
                description="primary_sync failed and the Airbyte server answers, but no backup connection is "
                f"configured: set {BACKUP_VARIABLE} to the id of a connection into the same destination "
                f"(the embedded fallback, {CONNECTOR_VARIABLE}, is used only when the server is unreachable).",
                allow_retries=False,
            )
        return PATH_BACKUP, airbyte, plan.backup, plan.backup.connection_id
    if plan.embedded is None:
        raise dg.Failure(
            description="primary_sync failed and the Airbyte server is unreachable, but no embedded fallback "
            f"is configured: set {CONNECTOR_VARIABLE} (e.g. pypi:airbyte-source-stripe==5.14.0) and "
            f"{CONFIG_VARIABLE} (the source's config, JSON) to sync with the embedded runner.",
            allow_retries=False,
        )
    return _embedded_path(context, plan)


def _embedded_path(context: dg.OpExecutionContext, plan: ResiliencePlan) -> tuple[str, Any, Any, str]:
    from airbyte_platform.ingestion.embedded_resource import EmbeddedAirbyteResource

    assert plan.embedded is not None
    # The destinations resource of the deployment: the same lake and PostgreSQL Airbyte writes to.
    runner = EmbeddedAirbyteResource(
        destinations=context.resources.destinations, connectors_dir=str(plan.connectors_dir)
    )
    connection = _embedded_connection(plan)
    return (
        PATH_EMBEDDED,
        runner,
        dataclasses.replace(plan.embedded, declared=connection),
        connection.local.connector,
    )


def _embedded_connection(plan: ResiliencePlan) -> ConnectionSpec:
    """The connection with the fallback connector and its config (the secret read only now, by EnvVar)."""
    assert plan.embedded is not None and plan.embedded.declared is not None
    connection = plan.embedded.declared
    if plan.embedded_config_var is None:
        return connection
    raw = dg.EnvVar(plan.embedded_config_var).get_value()
    try:
        config = json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        # The value is a secret: say where it is wrong, never what it holds.
        raise dg.Failure(
            description=f"{plan.embedded_config_var} is not valid JSON (line {exc.lineno}, column {exc.colno})",
            allow_retries=False,
        ) from None
    if not isinstance(config, dict):
        raise dg.Failure(description=f"{plan.embedded_config_var} must be a JSON object", allow_retries=False)
    return dataclasses.replace(connection, local=dataclasses.replace(connection.local, config=config))
