"""Who consumes which event: the route names, and the jobs `POST /webhooks/trigger` may launch.

A route is the name of the consumer that reads an event from the inbox; for runs it is the
Airflow DAG id the Dagster job kept (`airflow_compat.dags`). A trigger body is validated by one
pydantic model, a union discriminated by `"job"` whose members are built from `TRIGGER_JOBS` (each
job's `run_config` model says what it takes). The receiver validates with it before storing, and
the sensors re-validate the stored trigger with the same model (`validate_trigger`), so an event
the receiver accepted is one the sensor can launch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictStr,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from airbyte_platform.core.catalog import declared_connections
from airbyte_platform.core.specs import connection_for_id, connection_id_for
from airbyte_platform.events.validation import malformed_json
from airbyte_platform.settings import Settings

# Stripe → PostgreSQL when Stripe reports activity, at most once per 6 hours (DAG event_driven_sync).
EVENT_DRIVEN_SYNC = "event_driven_sync"
# One connection's sync on demand, `{"connection_id": ...}` (DAG airbyte_event_driven_sync).
AIRBYTE_EVENT_DRIVEN_SYNC = "airbyte_event_driven_sync"
# The CDC slot checks on demand (DAG postgres_cdc_replication).
POSTGRES_CDC_REPLICATION = "postgres_cdc_replication"
# Airbyte sync notifications: no run, the sensor reports the sync on the connection's assets.
AIRBYTE_NOTIFICATIONS = "airbyte_notifications"

STRIPE_CONNECTION = "stripe_to_postgres"  # what event_driven_sync syncs
CDC_CONNECTION = "app_postgres_cdc"  # whose slot postgres_cdc_replication checks

MAX_IDEMPOTENCY_KEY = 200


# -- run_config models, one per kind of job ------------------------------------------------------
class NoRunConfig(BaseModel):
    """A job that takes no run_config: any key is refused (a typo must not pass silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ConnectionRunConfig(NoRunConfig):
    """One connection of this code location: its Airbyte id (locally its name), declared or discovered."""

    connection_id: StrictStr

    @field_validator("connection_id")
    @classmethod
    def _known(cls, connection_id: str, info: ValidationInfo) -> str:
        settings = (info.context or {}).get("settings")
        if not isinstance(settings, Settings):
            raise TypeError("validate a trigger with context={'settings': Settings} (see parse_trigger)")
        if connection_for_id(connection_id, settings) is None and connection_id not in (
            discovered_connection_ids(settings)
        ):
            raise PydanticCustomError("unknown_connection", "not a connection of this code location")
        return connection_id


@dataclass(frozen=True)
class TriggerJob:
    name: str
    what: str
    run_config: type[NoRunConfig] = NoRunConfig  # what the job takes; every field is required

    @property
    def run_config_keys(self) -> tuple[str, ...]:
        return tuple(self.run_config.model_fields)

    def usage(self) -> str:
        if not self.run_config_keys:
            return f"{self.name} (no run_config)"
        return f"{self.name} (run_config: {', '.join(self.run_config_keys)})"


TRIGGER_JOBS: Mapping[str, TriggerJob] = {
    job.name: job
    for job in (
        TriggerJob(AIRBYTE_EVENT_DRIVEN_SYNC, "sync the connection's assets", run_config=ConnectionRunConfig),
        TriggerJob(EVENT_DRIVEN_SYNC, "Stripe → PostgreSQL, if the last sync is older than 6 hours"),
        TriggerJob(POSTGRES_CDC_REPLICATION, "check the CDC slot health and lag"),
    )
}


# -- the trigger body ----------------------------------------------------------------------------
def _printable(key: str) -> str:
    if not key.isprintable():
        raise PydanticCustomError("not_printable", "must be printable text")
    return key


# The caller's key (Idempotency-Key header or "event_id"), so a retried trigger launches once.
IdempotencyKey = Annotated[
    StrictStr,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_IDEMPOTENCY_KEY),
    AfterValidator(_printable),
]
IDEMPOTENCY_KEY = TypeAdapter(IdempotencyKey)


class TriggerRequest(BaseModel):
    """`{"job", "run_config", "event_id"}`; each job's subclass (below) narrows `job` and `run_config`.

    Other top-level keys are ignored (room for a sender's own fields); `run_config` null or absent
    is `{}`."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    job: str
    run_config: NoRunConfig
    event_id: IdempotencyKey | None = None

    def run_config_dict(self) -> dict[str, Any]:
        return self.run_config.model_dump()


def _null_is_empty(value: Any) -> Any:
    return {} if value is None else value


def _request_model(job: TriggerJob) -> type[TriggerRequest]:
    return create_model(
        f"{job.name}_trigger",
        __base__=TriggerRequest,
        job=(Literal[job.name], ...),  # type: ignore[valid-type]
        run_config=(
            Annotated[job.run_config, BeforeValidator(_null_is_empty)],
            Field(default_factory=dict, validate_default=True),
        ),
    )


TRIGGER_REQUEST: TypeAdapter[TriggerRequest] = TypeAdapter(
    Annotated[
        Union[tuple(_request_model(job) for job in TRIGGER_JOBS.values())],  # noqa: UP007
        Field(discriminator="job"),
    ]
)


class TriggerError(ValueError):
    """A trigger the receiver refuses (422, 400 for malformed JSON); the message says what to fix.

    `reason`: one word for the receiver's intake counter (malformed_json, invalid_event,
    unknown_job, unknown_connection, invalid_trigger, bad_idempotency_key)."""

    def __init__(self, message: str, reason: str = "invalid_trigger"):
        super().__init__(message)
        self.reason = reason


def discovered_connection_ids(settings: Settings) -> set[str]:
    """Ids of the workspace's other connections (prod, discovery on), from the stored workspace state
    that the code location's assets were built from: those can be triggered too."""
    if settings.is_local or settings.airbyte is None or settings.airbyte.discovery == "off":
        return set()
    from airbyte_platform.ingestion.airbyte_server.workspace_state import stored_workspace

    snapshot = stored_workspace(settings)
    return {connection.connection_id for connection in snapshot.connections} if snapshot else set()


def known_connection_ids(settings: Settings) -> list[str]:
    ids: list[str] = []
    for connection in declared_connections():
        try:
            ids.append(connection_id_for(connection, settings))
        except KeyError:
            continue
    return ids


# Which intake reason wins when one body has several problems (the message lists them all).
_REASON_ORDER = (
    "invalid_event",
    "unknown_job",
    "unknown_connection",
    "invalid_trigger",
    "bad_idempotency_key",
)
_KNOWN_JOBS = "; ".join(job.usage() for job in TRIGGER_JOBS.values())
_EXPECTED_BODY = 'expected a JSON object: {"job": "<job name>", "run_config": {...}}'


def _problem(error: ErrorDetails, settings: Settings) -> tuple[str, str]:
    """(reason, message) for one pydantic error of the trigger model, in the sender's terms."""
    kind, loc, value = error["type"], error["loc"], error["input"]
    if not loc and kind in ("dict_type", "model_type", "model_attributes_type"):
        return "invalid_event", _EXPECTED_BODY
    if kind == "union_tag_not_found":
        return "unknown_job", f'"job" is missing; known jobs: {_KNOWN_JOBS}'
    if kind == "union_tag_invalid":
        job = value.get("job") if isinstance(value, dict) else None
        return "unknown_job", f"unknown job {job!r}; known jobs: {_KNOWN_JOBS}"
    job = TRIGGER_JOBS[str(loc[0])]
    field = loc[1] if len(loc) > 1 else None
    if field == "event_id":
        return "bad_idempotency_key", _idempotency_key_problem()
    if field != "run_config":  # not reached with today's model; say where, whatever it is
        return "invalid_trigger", f"{'.'.join(map(str, loc[1:]))}: {error['msg']}"
    key = loc[2] if len(loc) > 2 else None
    if key is None:
        return "invalid_trigger", f"run_config of {job.name} must be a JSON object, got {_json_type(value)}"
    if kind == "missing":
        return "invalid_trigger", f"{job.usage()}: run_config is missing {key}"
    if key == "connection_id":
        return (
            "unknown_connection",
            f"unknown connection_id {value!r}; known: {', '.join(known_connection_ids(settings))}",
        )
    return "invalid_trigger", f"run_config.{key} of {job.name}: {error['msg']}"


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


def _idempotency_key_problem() -> str:
    return f"the idempotency key must be printable text of 1 to {MAX_IDEMPOTENCY_KEY} characters"


def trigger_error(exc: ValidationError, settings: Settings) -> TriggerError:
    """One TriggerError for every problem of the body: the first reason by `_REASON_ORDER`, all messages."""
    problems: list[tuple[str, str]] = []
    unexpected: dict[str, list[str]] = {}  # job -> keys it does not take: one message per job
    for error in exc.errors(include_url=False):
        if error["type"] == "extra_forbidden" and len(error["loc"]) == 3:
            unexpected.setdefault(str(error["loc"][0]), []).append(str(error["loc"][2]))
        else:
            problems.append(_problem(error, settings))
    for job, keys in unexpected.items():
        problems.append(("invalid_trigger", f"{TRIGGER_JOBS[job].usage()} does not take {', '.join(keys)}"))
    problems.sort(key=lambda problem: _REASON_ORDER.index(problem[0]))
    messages = list(dict.fromkeys(message for _, message in problems))
    return TriggerError("; ".join(messages), reason=problems[0][0])


def parse_trigger(body: bytes | Mapping[str, Any] | Any, settings: Settings) -> TriggerRequest:
    """The trigger in `body` (raw JSON, or already parsed), or TriggerError saying what to fix."""
    context = {"settings": settings}
    try:
        if isinstance(body, bytes | str):
            return TRIGGER_REQUEST.validate_json(body, context=context)
        return TRIGGER_REQUEST.validate_python(body, context=context)
    except ValidationError as exc:
        not_json = malformed_json(exc)
        if not_json:
            raise TriggerError(not_json, reason="malformed_json") from None
        raise trigger_error(exc, settings) from None


def validate_trigger(job_name: Any, run_config: Any, settings: Settings) -> dict[str, Any]:
    """The run config to store for this trigger, or TriggerError saying what to fix."""
    return parse_trigger({"job": job_name, "run_config": run_config}, settings).run_config_dict()


def idempotency_key(header: str | None, body_key: str | None) -> str | None:
    """The Idempotency-Key header (checked like `event_id`) or else the body's `event_id`."""
    if not header:
        return body_key
    try:
        return IDEMPOTENCY_KEY.validate_python(header)
    except ValidationError:
        raise TriggerError(_idempotency_key_problem(), reason="bad_idempotency_key") from None
