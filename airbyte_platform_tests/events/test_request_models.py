"""The request models of the receiver (trigger, Airbyte notification, Stripe event): each rejection
over HTTP on a loopback receiver, with its status, the intake reason it is counted under, and a
message that names what to fix (the field, the job, the known jobs and connections)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from airbyte_platform.events.inbox import IntakeKey, open_inbox
from airbyte_platform.events.receiver import ReceiverConfig, build_receiver_app
from airbyte_platform.events.routes import (
    TRIGGER_JOBS,
    ConnectionRunConfig,
    TriggerError,
    parse_trigger,
    validate_trigger,
)
from airbyte_platform.settings import Settings, load_settings
from airbyte_platform_tests.ports import free_port

from .conftest import (
    AIRBYTE_TOKEN,
    TEST_SECRETS,
    TRIGGER_TOKEN,
    airbyte_notification,
    serve_in_thread,
    signed_headers,
)

AUTH = {"Authorization": f"Bearer {TRIGGER_TOKEN}"}
JSON = {"Content-Type": "application/json"}


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    counts: dict[IntakeKey, int]  # the intake counters after the receiver stopped (every count flushed)
    stored: list[str]


@pytest.fixture
def send_once(settings: Settings, pg_inbox_dsn: str) -> Iterator[Callable[..., Answer]]:
    """POST one request to a fresh receiver, stop it (its writer flushes the refusal counts), and
    return the answer with the inbox's counters and stored ids."""
    stopped: list[Any] = []

    def send(path: str, body: bytes, headers: dict[str, str]) -> Answer:
        config = ReceiverConfig(
            settings=settings, secrets=TEST_SECRETS, inbox_dsn=pg_inbox_dsn, max_body_bytes=64 * 1024
        )
        port = free_port()
        server, thread = serve_in_thread(build_receiver_app(config), port, config)
        stopped.append((server, thread))
        try:
            response = requests.post(f"http://127.0.0.1:{port}{path}", data=body, headers=headers, timeout=10)
        finally:
            server.should_exit = True
            thread.join(10)
        with open_inbox(pg_inbox_dsn) as inbox:
            return Answer(response.status_code, response.json(), inbox.intake_counts(), inbox.event_ids())

    yield send
    for server, thread in stopped:
        server.should_exit = True
        thread.join(10)


def _raw(body: Any) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


# -- trigger ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "status", "reason", "fragments"),
    [
        (b'{"job": ', 400, "malformed_json", ["malformed JSON: EOF while parsing"]),
        ([1, 2], 422, "invalid_event", ['expected a JSON object: {"job": "<job name>"']),
        (
            {"run_config": {}},
            422,
            "unknown_job",
            ['"job" is missing', "known jobs: airbyte_event_driven_sync (run_config: connection_id)"],
        ),
        ({"job": 5}, 422, "unknown_job", ["unknown job 5;", "postgres_cdc_replication (no run_config)"]),
        (
            {"job": "airbyte_event_driven_sync", "run_config": {}},
            422,
            "invalid_trigger",
            ["airbyte_event_driven_sync (run_config: connection_id): run_config is missing connection_id"],
        ),
        (
            {"job": "airbyte_event_driven_sync", "run_config": {"connection_id": 42}},
            422,
            "unknown_connection",
            ["unknown connection_id 42; known: stripe_to_s3, stripe_to_postgres, hubspot_to_postgres"],
        ),
        (
            {"job": "event_driven_sync", "run_config": "fast"},
            422,
            "invalid_trigger",
            ["run_config of event_driven_sync must be a JSON object, got a string"],
        ),
        (
            {"job": "postgres_cdc_replication", "run_config": {"force": True, "slot": "s"}},
            422,
            "invalid_trigger",
            ["postgres_cdc_replication (no run_config) does not take force, slot"],
        ),
        (
            {"job": "event_driven_sync", "event_id": ""},
            422,
            "bad_idempotency_key",
            ["the idempotency key must be printable text of 1 to 200 characters"],
        ),
        ({"job": "event_driven_sync", "event_id": 7}, 422, "bad_idempotency_key", ["printable text"]),
        ({"job": "event_driven_sync", "event_id": "a\nb"}, 422, "bad_idempotency_key", ["printable text"]),
        ({"job": "event_driven_sync", "event_id": "k" * 201}, 422, "bad_idempotency_key", ["1 to 200"]),
        (
            # every problem is named; the counter takes the most telling one
            {
                "job": "airbyte_event_driven_sync",
                "run_config": {"connection_id": "nope", "dry_run": True},
                "event_id": " ",
            },
            422,
            "unknown_connection",
            ["unknown connection_id 'nope'", "does not take dry_run", "idempotency key"],
        ),
    ],
    ids=[
        "not-json",
        "not-an-object",
        "no-job",
        "job-not-a-name",
        "missing-key",
        "connection-not-a-string",
        "run-config-not-an-object",
        "unexpected-keys",
        "empty-event-id",
        "event-id-not-text",
        "event-id-not-printable",
        "event-id-too-long",
        "several-problems",
    ],
)
def test_a_bad_trigger_is_refused_counted_and_told_what_to_fix(send_once, body, status, reason, fragments):
    answer = send_once("/webhooks/trigger", _raw(body), {**AUTH, **JSON})
    assert answer.status == status
    for fragment in fragments:
        assert fragment in answer.body["error"]
    assert answer.counts == {IntakeKey("trigger", "rejected", reason): 1}
    assert answer.stored == []


def test_a_bad_idempotency_header_is_refused_even_with_a_good_event_id(send_once):
    body = _raw({"job": "event_driven_sync", "event_id": "fine"})
    answer = send_once("/webhooks/trigger", body, {**AUTH, **JSON, "Idempotency-Key": "k" * 201})
    assert (answer.status, answer.counts) == (
        422,
        {IntakeKey("trigger", "rejected", "bad_idempotency_key"): 1},
    )
    assert "idempotency key" in answer.body["error"]


def test_a_trigger_without_run_config_is_stored_with_the_normalised_body(send_once, pg_inbox_dsn):
    body = _raw(
        {"job": "event_driven_sync", "run_config": None, "event_id": "  deploy-7 ", "note": "kept out"}
    )
    answer = send_once("/webhooks/trigger", body, {**AUTH, **JSON})
    assert (answer.status, answer.body["event_id"]) == (202, "trigger-deploy-7")
    with open_inbox(pg_inbox_dsn) as inbox:
        [stored] = inbox.read_after("event_driven_sync", None)
    assert stored.data() == {"job": "event_driven_sync", "run_config": {}}  # what the sensor re-validates
    assert answer.counts == {IntakeKey("trigger", "accepted"): 1}


def test_every_trigger_job_is_a_member_of_the_model_with_its_own_run_config(settings):
    for job in TRIGGER_JOBS.values():
        config = {key: "stripe_to_postgres" for key in job.run_config_keys}
        assert validate_trigger(job.name, config, settings) == config
        with pytest.raises(TriggerError, match=f"{job.name} .* does not take surprise"):
            validate_trigger(job.name, {**config, "surprise": 1}, settings)


def test_the_sensors_validation_is_the_receivers_and_names_the_connections_of_the_settings(tmp_path):
    """The sensor re-validates a stored trigger with the same model and the settings of its own
    process: the known ids in the message are those settings' ids."""
    settings = load_settings(
        {"AIRBYTE_PLATFORM_HOME": str(tmp_path), "AIRBYTE_STRIPE_S3_CONNECTION_ID": "c-1"}
    )
    stored = parse_trigger(
        _raw({"job": "airbyte_event_driven_sync", "run_config": {"connection_id": "c-1"}}), settings
    )
    assert stored.run_config_dict() == validate_trigger(stored.job, {"connection_id": "c-1"}, settings)
    with pytest.raises(TriggerError) as refused:
        validate_trigger("airbyte_event_driven_sync", {"connection_id": "c-2"}, settings)
    assert refused.value.reason == "unknown_connection"
    assert "unknown connection_id 'c-2'; known: c-1, stripe_to_postgres" in str(refused.value)


def test_the_connection_model_needs_the_settings_in_its_context():
    with pytest.raises(TypeError, match="context=\\{'settings'"):
        ConnectionRunConfig.model_validate({"connection_id": "stripe_to_s3"})


# -- Airbyte notification --------------------------------------------------------------------------
NOT_A_NOTIFICATION = 'not an Airbyte sync notification: expected a JSON object with "data"'


@pytest.mark.parametrize(
    ("body", "status", "reason", "fragment"),
    [
        (b'{"data": ', 400, "malformed_json", "malformed JSON: EOF while parsing"),
        ([1], 422, "invalid_event", NOT_A_NOTIFICATION),
        ({"data": "sync done"}, 422, "invalid_event", NOT_A_NOTIFICATION),
        ({"text": 5}, 422, "invalid_event", NOT_A_NOTIFICATION),  # not the Test button either
        (
            {"data": {"jobId": 9, "connection": {"id": 2}, "success": "yes"}},
            422,
            "invalid_event",
            "Airbyte notification is missing data.connection.id (string), data.success (boolean)",
        ),
        (
            {"data": {"jobId": True, "connection": {"id": "c"}, "success": True}},
            422,
            "invalid_event",
            "Airbyte notification is missing data.jobId (integer)",
        ),
    ],
    ids=["not-json", "not-an-object", "data-not-an-object", "text-not-a-string", "two-fields", "bool-job-id"],
)
def test_a_bad_airbyte_notification_is_refused_counted_and_told_what_is_missing(
    send_once, body, status, reason, fragment
):
    answer = send_once(f"/webhooks/airbyte/{AIRBYTE_TOKEN}", _raw(body), JSON)
    assert (answer.status, fragment in answer.body["error"]) == (status, True)
    assert answer.counts == {IntakeKey("airbyte", "rejected", reason): 1}
    assert answer.stored == []


def test_informative_airbyte_fields_of_a_new_format_never_lose_the_notification(send_once):
    body = airbyte_notification(12, "stripe_to_postgres", recordsCommitted="many", workspace="ws-as-text")
    answer = send_once(f"/webhooks/airbyte/{AIRBYTE_TOKEN}", _raw(body), JSON)
    assert (answer.status, answer.body["event_id"]) == (200, "airbyte-job-unknown-workspace-12-succeeded")
    assert answer.counts == {IntakeKey("airbyte", "accepted"): 1}


# -- Stripe event ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"[1, 2]", "the body is not a JSON object"),
        (b'{"type": "charge.succeeded"}', '"id" is missing'),
        (b'{"id": "", "type": "charge.succeeded"}', '"id" is empty'),
        (b'{"id": "evt_1", "type": 5}', '"type" is not a string'),
        (b'{"object": "event"}', '"id" is missing, "type" is missing'),
    ],
)
def test_a_signed_stripe_body_without_its_fields_is_refused_naming_them(send_once, body, fragment):
    answer = send_once("/webhooks/stripe", body, signed_headers(body))
    assert answer.status == 422
    assert 'a Stripe event needs a string "id" and "type"' in answer.body["error"]
    assert fragment in answer.body["error"]
    assert answer.counts == {IntakeKey("stripe", "rejected", "invalid_event"): 1}
