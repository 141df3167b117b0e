"""The receiver over HTTP on a loopback port: what is accepted, what is refused, what reaches the inbox."""

from __future__ import annotations

import json
import time

import pytest

from airbyte_platform.events.inbox import open_inbox

from .conftest import (
    AIRBYTE_TOKEN,
    TRIGGER_TOKEN,
    airbyte_notification,
    database_unreachable,
    signed_headers,
    stripe_event,
)

AUTH = {"Authorization": f"Bearer {TRIGGER_TOKEN}"}


def test_health(receiver):
    response = receiver.session.get(f"{receiver.url}/health", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "inbox": "postgresql"}


def test_signed_stripe_event_is_stored_then_acknowledged_and_a_redelivery_is_stored_once(receiver):
    body = stripe_event("evt_100", "invoice.paid")
    first = receiver.post_stripe(body)
    assert (first.status_code, first.json()) == (200, {"status": "accepted", "event_id": "evt_100"})
    again = receiver.post_stripe(body)  # Stripe redelivers with a fresh signature
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    with open_inbox(receiver.inbox_dsn) as inbox:
        [stored] = inbox.read_after("event_driven_sync", None)
    assert (stored.event_id, stored.source, stored.kind) == ("evt_100", "stripe", "invoice.paid")
    assert stored.payload.encode() == body  # the verified raw body, byte for byte


def test_a_roll_signed_with_old_and_new_secrets_is_accepted(receiver):
    from airbyte_platform.events.stripe_signature import stripe_signature_header

    body = stripe_event("evt_roll")
    header = stripe_signature_header(body, ["whsec_retired", "whsec_test_events_secret"])
    headers = {"Stripe-Signature": header, "Content-Type": "application/json"}
    assert receiver.post_stripe(body, headers).status_code == 200


@pytest.mark.parametrize(
    ("headers_for", "status", "message"),
    [
        (lambda body: {"Content-Type": "application/json"}, 400, "missing Stripe-Signature"),
        (lambda body: signed_headers(body, secret="whsec_wrong"), 400, "no v1 signature"),
        (lambda body: signed_headers(body, timestamp=int(time.time()) - 600), 400, "stale or replayed"),
        (lambda body: signed_headers(body, timestamp=int(time.time()) + 600), 400, "in the future"),
    ],
    ids=["missing", "wrong-secret", "stale", "future"],
)
def test_untrusted_stripe_deliveries_are_refused_and_not_stored(receiver, headers_for, status, message):
    body = stripe_event("evt_bad")
    response = receiver.post_stripe(body, headers_for(body))
    assert response.status_code == status
    assert message in response.json()["error"]
    assert receiver.stored() == []


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b'{"id": "evt_1", ', 400, "malformed JSON"),
        (b'{"type": "charge.succeeded"}', 422, 'string "id" and "type"'),
        (b'{"id": "", "type": "charge.succeeded"}', 422, 'string "id" and "type"'),
        (b'{"id": 7, "type": "charge.succeeded"}', 422, 'string "id" and "type"'),
        (b"[1, 2]", 422, 'string "id" and "type"'),
    ],
)
def test_signed_but_malformed_stripe_bodies_are_refused(receiver, body, status, message):
    response = receiver.post_stripe(body)
    assert (response.status_code, message in response.json()["error"]) == (status, True)
    assert receiver.stored() == []


def test_oversized_bodies_are_refused_declared_or_streamed(receiver):
    limit = receiver.config.max_body_bytes
    big = json.dumps({"id": "evt_big", "type": "x", "pad": "x" * limit}).encode()
    declared = receiver.post_stripe(big)
    assert declared.status_code == 413 and "WEBHOOK_MAX_BODY_BYTES" in declared.json()["error"]
    # Chunked transfer: no Content-Length to refuse up front; the stream is cut at the limit.
    streamed = receiver.post(
        "/webhooks/stripe", data=iter([big[:40_000], big[40_000:]]), headers=signed_headers(big)
    )
    assert streamed.status_code == 413
    assert receiver.stored() == []


def test_airbyte_notifications_need_the_path_token(receiver):
    payload = airbyte_notification(77, "stripe_to_postgres")
    assert receiver.post("/webhooks/airbyte/wrong-token", json=payload).status_code == 403
    accepted = receiver.post(f"/webhooks/airbyte/{AIRBYTE_TOKEN}", json=payload)
    assert accepted.json() == {"status": "accepted", "event_id": "airbyte-job-ws-77-succeeded"}
    assert receiver.post(f"/webhooks/airbyte/{AIRBYTE_TOKEN}", json=payload).json()["status"] == "duplicate"
    with open_inbox(receiver.inbox_dsn) as inbox:
        [stored] = inbox.read_after("airbyte_notifications", None)
    assert (stored.source, stored.kind) == ("airbyte", "sync.succeeded")


def test_airbyte_test_button_is_answered_but_not_stored(receiver):
    response = receiver.post(
        f"/webhooks/airbyte/{AIRBYTE_TOKEN}", json={"text": "Hello World! This is a test"}
    )
    assert response.status_code == 200 and response.json()["status"] == "ignored"
    missing = receiver.post(f"/webhooks/airbyte/{AIRBYTE_TOKEN}", json={"data": {"jobId": "seven"}})
    assert missing.status_code == 422
    assert (
        "data.jobId (integer), data.connection.id (string), data.success (boolean)" in missing.json()["error"]
    )
    assert receiver.stored() == []


def test_trigger_needs_the_bearer_token(receiver):
    body = {"job": "airbyte_event_driven_sync", "run_config": {"connection_id": "hubspot_to_postgres"}}
    anonymous = receiver.post("/webhooks/trigger", json=body)
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert (
        receiver.post("/webhooks/trigger", json=body, headers={"Authorization": "Bearer nope"}).status_code
        == 401
    )
    assert receiver.stored() == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"job": "drop_everything"}, "unknown job 'drop_everything'; known jobs: airbyte_event_driven_sync"),
        ({"job": "airbyte_event_driven_sync"}, "run_config is missing connection_id"),
        (
            {"job": "airbyte_event_driven_sync", "run_config": {"connection_id": "nope"}},
            "unknown connection_id 'nope'; known: stripe_to_s3, stripe_to_postgres",
        ),
        ({"job": "postgres_cdc_replication", "run_config": {"force": True}}, "does not take force"),
        ({"job": "event_driven_sync", "run_config": [1]}, "must be a JSON object"),
    ],
)
def test_bad_triggers_get_422_saying_what_is_accepted(receiver, body, message):
    response = receiver.post("/webhooks/trigger", json=body, headers=AUTH)
    assert response.status_code == 422
    assert message in response.json()["error"]
    assert receiver.stored() == []


def test_trigger_is_stored_with_its_job_and_idempotency_key(receiver):
    body = {"job": "airbyte_event_driven_sync", "run_config": {"connection_id": "hubspot_to_postgres"}}
    headers = {**AUTH, "Idempotency-Key": "deploy-42"}
    accepted = receiver.post("/webhooks/trigger", json=body, headers=headers)
    assert (accepted.status_code, accepted.json()["event_id"]) == (202, "trigger-deploy-42")
    assert receiver.post("/webhooks/trigger", json=body, headers=headers).json()["status"] == "duplicate"
    unkeyed = receiver.post("/webhooks/trigger", json=body, headers=AUTH)  # no key: a new event each time
    assert unkeyed.status_code == 202
    with open_inbox(receiver.inbox_dsn) as inbox:
        stored = inbox.read_after("airbyte_event_driven_sync", None)
    assert len(stored) == 2
    assert stored[0].data() == {
        "job": "airbyte_event_driven_sync",
        "run_config": {"connection_id": "hubspot_to_postgres"},
    }


def test_an_unreachable_inbox_answers_503_and_acknowledges_nothing(receiver):
    assert receiver.post_stripe(stripe_event("evt_ok")).status_code == 200
    with database_unreachable(receiver.inbox_dsn):  # the database goes away under the receiver
        failed = receiver.post_stripe(stripe_event("evt_lost"))
        assert failed.status_code == 503 and failed.headers["Retry-After"] == "5"
        assert receiver.session.get(f"{receiver.url}/health", timeout=5).status_code == 503
    assert receiver.stored() == ["evt_ok"]
    assert receiver.post_stripe(stripe_event("evt_lost")).status_code == 200  # the sender's retry
    assert receiver.stored() == ["evt_ok", "evt_lost"]


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_a_body_not_declared_json_gets_415_saying_what_to_send(receiver, content_type):
    body = stripe_event("evt_type")
    headers = signed_headers(body)
    headers.pop("Content-Type")
    if content_type:
        headers["Content-Type"] = content_type
    response = receiver.post_stripe(body, headers)
    assert response.status_code == 415
    assert "Content-Type: application/json" in response.json()["error"]
    assert response.headers["Accept-Post"] == "application/json"
    trigger = receiver.post(
        "/webhooks/trigger",
        data=b'{"job": "event_driven_sync"}',
        headers={**AUTH, "Content-Type": "text/plain"},
    )
    assert trigger.status_code == 415
    assert receiver.stored() == []


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "APPLICATION/JSON", "application/vnd.api+json"]
)
def test_json_media_types_with_parameters_are_accepted(receiver, content_type):
    body = stripe_event("evt_ok_type")
    response = receiver.post_stripe(body, {**signed_headers(body), "Content-Type": content_type})
    assert response.status_code == 200 and receiver.stored() == ["evt_ok_type"]


def test_every_route_answers_with_a_trailing_slash_without_redirecting(receiver):
    body = stripe_event("evt_slash")
    stripe = receiver.session.post(
        f"{receiver.url}/webhooks/stripe/", data=body, headers=signed_headers(body), allow_redirects=False
    )
    airbyte = receiver.session.post(
        f"{receiver.url}/webhooks/airbyte/{AIRBYTE_TOKEN}/",
        json=airbyte_notification(5, "stripe_to_s3"),
        allow_redirects=False,
    )
    trigger = receiver.session.post(
        f"{receiver.url}/webhooks/trigger/",
        json={"job": "event_driven_sync"},
        headers=AUTH,
        allow_redirects=False,
    )
    health = receiver.session.get(f"{receiver.url}/health/", allow_redirects=False)
    assert [r.status_code for r in (stripe, airbyte, trigger, health)] == [200, 200, 202, 200]
    assert len(receiver.stored()) == 3


def test_airbyte_notifications_are_deduplicated_by_workspace_job_and_status(receiver):
    url = f"/webhooks/airbyte/{AIRBYTE_TOKEN}"

    def notify(workspace: str, job_id: int, success: bool) -> str:
        payload = airbyte_notification(job_id, "stripe_to_s3", success=success)
        payload["data"]["workspace"]["id"] = workspace
        response = receiver.post(url, json=payload)
        assert response.status_code == 200
        return response.json()["status"]

    assert notify("ws-a", 9, success=False) == "accepted"
    assert notify("ws-b", 9, success=False) == "accepted"  # another workspace's job 9
    assert notify("ws-a", 9, success=True) == "accepted"  # the same job, now succeeded
    assert notify("ws-a", 9, success=False) == "duplicate"  # a redelivery
    with open_inbox(receiver.inbox_dsn) as inbox:
        stored = inbox.read_after("airbyte_notifications", None)
    assert [(e.data()["data"]["workspace"]["id"], e.kind) for e in stored] == [
        ("ws-a", "sync.failed"),
        ("ws-b", "sync.failed"),
        ("ws-a", "sync.succeeded"),
    ]


def test_extra_routes_are_served_beside_the_webhooks(start_receiver, pg_inbox_dsn, settings):
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Mount, Route

    from airbyte_platform.events.receiver import ReceiverConfig, build_receiver_app
    from airbyte_platform.events.receiver.access_log import redact_path

    from .conftest import TEST_SECRETS, free_port, serve_in_thread

    async def dags(request):
        return JSONResponse({"dag_id": request.path_params["dag_id"]})

    facade = Starlette(routes=[Route("/dags/{dag_id}", dags)])
    config = ReceiverConfig(
        settings=settings, secrets=TEST_SECRETS, inbox_dsn=pg_inbox_dsn, max_body_bytes=65536
    )
    port = free_port()
    server, thread = serve_in_thread(
        build_receiver_app(config, extra_routes=[Mount("/api/v1", facade)]), port, config
    )
    try:
        import requests

        assert requests.get(f"http://127.0.0.1:{port}/api/v1/dags/stripe", timeout=5).json() == {
            "dag_id": "stripe"
        }
        assert requests.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
    finally:
        server.should_exit = True
        thread.join(10)
    # The mounted app's literal segments stay readable in the access log; its parameters do not.
    assert redact_path("/api/v1/dags/secret-dag?x=1") == "/api/v1/dags/***?***"


def test_successful_health_probes_stay_out_of_the_access_log_and_failures_do_not():
    import logging

    from airbyte_platform.events.receiver.access_log import HealthyProbeFilter

    def record(method: str, path: str, status: int) -> logging.LogRecord:
        # uvicorn's access record: client, method, path, HTTP version, status
        return logging.LogRecord(
            "uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
            ("127.0.0.1:1", method, path, "1.1", status), None,
        )  # fmt: skip

    probe = HealthyProbeFilter()
    assert not probe.filter(record("GET", "/health", 200))
    assert not probe.filter(record("GET", "/health/", 200))
    assert probe.filter(record("GET", "/health", 503))  # an unhealthy receiver is worth a line
    assert probe.filter(record("POST", "/webhooks/stripe", 200))
