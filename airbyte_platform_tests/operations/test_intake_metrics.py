"""Webhook intake counters: real requests (good, redelivered, refused for every reason) to a real
receiver, counted into its inbox, then read by the exporter in its own process as another pod would,
scraped over HTTP and parsed with prometheus_client's parser."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from airbyte_platform.events.inbox import IntakeKey, NewEvent, open_inbox
from airbyte_platform.events.inbox_dsn import inbox_dsn_for
from airbyte_platform.events.receiver import ReceiverConfig, build_receiver_app
from airbyte_platform.settings import load_settings
from airbyte_platform_tests.events.conftest import (
    AIRBYTE_TOKEN,
    TEST_SECRETS,
    TRIGGER_TOKEN,
    serve_in_thread,
    signed_headers,
    stripe_event,
)
from airbyte_platform_tests.operations.conftest import new_home
from airbyte_platform_tests.ports import free_port

pytestmark = pytest.mark.xdist_group("operations_intake")
COUNTER = "airbyte_platform_webhook_requests_total"
MAX_BODY = 4096

# What the requests below must add up to: (source, outcome, reason) -> count.
EXPECTED = {
    ("stripe", "accepted", ""): 2,
    ("stripe", "duplicate", ""): 2,
    ("stripe", "rejected", "bad_signature"): 2,
    ("stripe", "rejected", "malformed_json"): 1,
    ("stripe", "rejected", "invalid_event"): 1,
    ("stripe", "rejected", "wrong_content_type"): 1,
    ("stripe", "rejected", "too_large"): 1,
    ("stripe", "rejected", "method_not_allowed"): 1,
    ("airbyte", "rejected", "bad_token"): 1,
    ("airbyte", "rejected", "unknown_route"): 1,
    ("airbyte", "ignored", "test_notification"): 1,
    ("trigger", "rejected", "bad_token"): 1,
    ("trigger", "rejected", "unknown_job"): 1,
    ("trigger", "rejected", "unknown_connection"): 1,
    ("trigger", "accepted", ""): 1,
    ("unknown", "rejected", "unknown_route"): 1,
}


def send_every_kind_of_request(url: str) -> None:
    """Each request's status is asserted too: a count is only right if the answer was."""

    def post(path: str, status: int, **kwargs: object) -> None:
        response = requests.post(f"{url}{path}", timeout=30, **kwargs)  # type: ignore[arg-type]
        assert response.status_code == status, (path, response.status_code, response.text)

    good, other = stripe_event("evt_intake_1"), stripe_event("evt_intake_2")
    post("/webhooks/stripe", 200, data=good, headers=signed_headers(good))
    post("/webhooks/stripe", 200, data=good, headers=signed_headers(good))  # Stripe redelivers
    post("/webhooks/stripe", 200, data=other, headers=signed_headers(other))
    post("/webhooks/stripe/", 200, data=other, headers=signed_headers(other))
    post("/webhooks/stripe", 400, data=good, headers=signed_headers(good, secret="whsec_wrong"))
    post("/webhooks/stripe", 400, data=good, headers={"Content-Type": "application/json"})  # unsigned
    broken = b'{"id": "evt_broken", '
    post("/webhooks/stripe", 400, data=broken, headers=signed_headers(broken))
    no_id = json.dumps({"type": "charge.succeeded"}).encode()
    post("/webhooks/stripe", 422, data=no_id, headers=signed_headers(no_id))
    post("/webhooks/stripe", 415, data=good, headers={**signed_headers(good), "Content-Type": "text/plain"})
    huge = stripe_event("evt_huge")[:-1] + b', "pad": "' + b"x" * MAX_BODY + b'"}'
    post("/webhooks/stripe", 413, data=huge, headers=signed_headers(huge))
    assert requests.get(f"{url}/webhooks/stripe", timeout=30).status_code == 405

    notification = {"data": {"connection": {"id": "c"}}}
    post("/webhooks/airbyte/not-the-token", 403, json=notification)
    post(f"/webhooks/airbyte/{AIRBYTE_TOKEN}/extra", 404, json=notification)
    post(f"/webhooks/airbyte/{AIRBYTE_TOKEN}", 200, json={"text": "Hello World! This is a test from Airbyte"})

    bearer = {"Authorization": f"Bearer {TRIGGER_TOKEN}"}
    post("/webhooks/trigger", 401, json={"job": "event_driven_sync"})
    post("/webhooks/trigger", 422, json={"job": "no_such_job"}, headers=bearer)
    post(
        "/webhooks/trigger",
        422,
        json={"job": "airbyte_event_driven_sync", "run_config": {"connection_id": "no_such_connection"}},
        headers=bearer,
    )
    post(
        "/webhooks/trigger",
        202,
        json={"job": "airbyte_event_driven_sync", "run_config": {"connection_id": "stripe_to_s3"}},
        headers=bearer,
    )
    post("/some/secret-looking/path", 404, json={})


def _counters(text: str) -> dict[tuple[str, str, str], float]:
    return {
        (s.labels["source"], s.labels["outcome"], s.labels["reason"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == COUNTER
    }


@pytest.fixture
def inbox_env(platform_homes: Path) -> tuple[Path, dict[str, str]]:
    """A platform home and no WEBHOOK_INBOX_DSN: the exporter (its own process) and the receiver
    (this one) must each find the same local inbox, the PostgreSQL under the home."""
    return new_home(platform_homes), {}


@pytest.fixture
def exporter(inbox_env: tuple[Path, dict[str, str]], instance: dg.DagsterInstance) -> Iterator[str]:
    """`python -m airbyte_platform.operations.metrics` on a loopback port, as its own process."""
    home, extra = inbox_env
    port = free_port()
    env = {
        **os.environ,
        **extra,
        "DAGSTER_HOME": instance.root_directory,
        "AIRBYTE_PLATFORM_HOME": str(home),
        "METRICS_HOST": "127.0.0.1",
        "METRICS_PORT": str(port),
    }
    env.pop("AIRBYTE_PLATFORM_MODE", None)
    process = subprocess.Popen([sys.executable, "-m", "airbyte_platform.operations.metrics"], env=env)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 90  # a bound on a loaded machine, not a timing assertion
        while True:
            assert process.poll() is None, f"the exporter exited with {process.returncode}"
            try:
                requests.get(url, timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the exporter did not answer within 90 s"
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_every_request_is_counted_and_exported(inbox_env, exporter):
    home, extra = inbox_env
    settings = load_settings({"AIRBYTE_PLATFORM_HOME": str(home), **extra})
    inbox_dsn = inbox_dsn_for(settings)  # the local default, started by whichever process came first
    before = _counters(requests.get(exporter, timeout=60).text)
    # Exported from the start at 0, so a rate() sees the first request.
    assert before[("stripe", "accepted", "")] == 0 and before[("airbyte", "duplicate", "")] == 0

    config = ReceiverConfig(
        settings=settings, secrets=TEST_SECRETS, inbox_dsn=inbox_dsn, max_body_bytes=MAX_BODY
    )
    port = free_port()
    server, thread = serve_in_thread(build_receiver_app(config), port, config)
    try:
        send_every_kind_of_request(f"http://127.0.0.1:{port}")
        # Accepted and duplicate commit with their events; refusals reach the inbox within the
        # writer's flush interval while the receiver idles: wait (bounded) for the scrape to show them.
        deadline = time.monotonic() + 30
        while (counted := _counters(requests.get(exporter, timeout=60).text)) != {
            **dict.fromkeys(before, 0.0),
            **EXPECTED,
        }:
            assert time.monotonic() < deadline, f"scraped {counted}, expected {EXPECTED}"
            time.sleep(0.3)
    finally:
        server.should_exit = True
        thread.join(10)
    with open_inbox(inbox_dsn) as inbox:  # what was counted accepted is what was stored
        stored = inbox.event_ids()
    assert sorted(e for e in stored if not e.startswith("trigger-")) == ["evt_intake_1", "evt_intake_2"]
    assert len([e for e in stored if e.startswith("trigger-")]) == 1


def test_counts_survive_writers_that_come_and_go(pg_inbox_dsn: str):
    """Receiver pods write their own counter rows; a restart folds the old ones; the sum is exact."""
    dsn = pg_inbox_dsn
    refused = IntakeKey("stripe", "rejected", "bad_signature")

    def pod(index: int) -> None:
        with open_inbox(dsn) as inbox:
            for batch in range(20):
                event = NewEvent(f"evt_{batch}", "stripe", "event_driven_sync", "charge.succeeded", "{}", 0.0)
                inbox.insert_batch([event], {refused: index + 1})

    pods = [threading.Thread(target=pod, args=(i,)) for i in range(3)]
    for thread in pods:
        thread.start()
    for thread in pods:
        thread.join(60)
    with open_inbox(dsn) as inbox:
        expected = {
            IntakeKey("stripe", "accepted"): 20,  # 20 ids, each stored by exactly one pod
            IntakeKey("stripe", "duplicate"): 40,
            refused: 20 * (1 + 2 + 3),
        }
        assert inbox.intake_counts() == expected
        inbox.prune(received_before=0.0)  # a receiver starting: folds the past pods' rows
        assert inbox.intake_counts() == expected
        inbox.insert_batch([], {refused: 1})
        assert inbox.intake_counts()[refused] == 20 * 6 + 1
