"""Reliability under a crash: signed Stripe events (10% redeliveries, 10% invalid) sent by concurrent
clients while the receiver process is SIGKILLed and restarted mid-load.

The clients behave like Stripe: a connection error or a 5xx is retried (with a fresh signature)
until a 2xx; a 4xx is final. Afterwards: every acknowledged event is in the inbox exactly once, no
invalid event is, and the sensor, evaluated during and after the load, asks for exactly one run per
distinct valid event.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import pytest
import requests

from airbyte_platform.events.inbox import open_inbox
from airbyte_platform.events.resources import WebhookInboxResource
from airbyte_platform.events.sensors.stripe_sync import build_event_driven_sync_sensor

from .conftest import STRIPE_SECRET, free_port, signed_headers, stripe_event
from .sensor_harness import tick

VALID, DUPLICATES, INVALID = 480, 60, 60
SENDERS = 4
KILL_AFTER = 200  # deliveries completed before the SIGKILL


def start_receiver(port: int, inbox_dsn: str, home: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "AIRBYTE_PLATFORM_HOME": str(home), "STRIPE_WEBHOOK_SECRET": STRIPE_SECRET}
    env.pop("AIRBYTE_PLATFORM_MODE", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "airbyte_platform.events.receiver", "--port", str(port), "--inbox", inbox_dsn,
         "--no-access-log", "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"receiver exited: {process.stderr.read().decode() if process.stderr else ''}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("receiver did not become healthy within 60 s")


def deliveries() -> list[tuple[str, str]]:
    """(kind, event id): valid events, redeliveries of some of them, and invalid deliveries, shuffled."""
    rng = random.Random(4)
    valid = [("valid", f"evt_ok_{i:04d}") for i in range(VALID)]
    again = [("valid", event_id) for _, event_id in rng.sample(valid, DUPLICATES)]
    invalid = [
        (kind, f"evt_invalid_{i:03d}")
        for i, kind in enumerate(["wrong_secret", "stale", "malformed"] * (INVALID // 3))
    ]
    everything = valid + again + invalid
    rng.shuffle(everything)
    return everything


def request_for(kind: str, event_id: str) -> tuple[bytes, dict[str, str]]:
    body = stripe_event(event_id)
    if kind == "wrong_secret":
        return body, signed_headers(body, secret="whsec_attacker")
    if kind == "stale":
        return body, signed_headers(body, timestamp=int(time.time()) - 3600)
    if kind == "malformed":
        broken = body[:-5]
        return broken, signed_headers(broken)
    return body, signed_headers(body)  # signed at send time: a retry is signed afresh, as Stripe does


@pytest.mark.timeout(180)
def test_sigkill_mid_load_loses_nothing_and_launches_each_event_once(tmp_path, instance, pg_inbox_dsn):
    home, port = tmp_path / "home", free_port()
    inbox_dsn = pg_inbox_dsn
    url = f"http://127.0.0.1:{port}/webhooks/stripe"
    work = collections.deque(deliveries())
    outcomes: dict[int, list[tuple[str, str, int]]] = collections.defaultdict(list)
    lock = threading.Lock()
    completed = 0
    retries = collections.Counter()

    def send(sender: int) -> None:
        nonlocal completed
        session = requests.Session()
        while True:
            with lock:
                if not work:
                    return
                kind, event_id = work.popleft()
            deadline = time.monotonic() + 90
            while True:
                body, headers = request_for(kind, event_id)
                try:
                    status = session.post(url, data=body, headers=headers, timeout=5).status_code
                except requests.RequestException:
                    status = 0  # connection refused/reset: the receiver is down or was killed mid-request
                if 0 < status < 500 or time.monotonic() > deadline:
                    break
                retries[sender] += 1
                session = requests.Session()
                time.sleep(0.05)
            with lock:
                outcomes[sender].append((kind, event_id, status))
                completed += 1

    process = start_receiver(port, inbox_dsn, home)
    # Interval 0: the 6-hour rule off, so each event must become exactly one run request.
    sensor = build_event_driven_sync_sensor(dg.DefaultSensorStatus.RUNNING, sync_interval=dt.timedelta(0))
    resources = {"webhook_inbox": WebhookInboxResource(dsn=inbox_dsn)}
    run_keys: list[str] = []
    cursor = None

    def evaluate() -> None:
        nonlocal cursor
        result = tick(sensor, instance, resources, cursor=cursor)
        run_keys.extend(r.run_key for r in result.run_requests)
        cursor = result.cursor or cursor

    threads = [threading.Thread(target=send, args=(i,)) for i in range(SENDERS)]
    try:
        for thread in threads:
            thread.start()
        while completed < KILL_AFTER:
            time.sleep(0.01)
        evaluate()  # the sensor reads while the load goes on
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        killed_at = completed
        process = start_receiver(port, inbox_dsn, home)
        for thread in threads:
            thread.join(120)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    results = [outcome for sender in outcomes.values() for outcome in sender]
    assert len(results) == VALID + DUPLICATES + INVALID and KILL_AFTER <= killed_at < len(results)
    assert sum(retries.values()) > 0, "the kill should have interrupted some deliveries"
    acknowledged = {event_id for kind, event_id, status in results if 200 <= status < 300}
    assert {status for kind, _, status in results if kind != "valid"} == {400}
    assert acknowledged == {f"evt_ok_{i:04d}" for i in range(VALID)}  # every valid event eventually got a 2xx

    with open_inbox(inbox_dsn) as inbox:
        stored = inbox.event_ids()
        last_position = inbox.read_after("event_driven_sync", None, limit=10_000)[-1].position
    assert collections.Counter(stored).most_common(1)[0][1] == 1  # exactly once
    assert set(stored) == acknowledged  # nothing acknowledged is missing, no invalid event got in

    for _ in range(5):  # drain what the sensor has not read yet (500 events per evaluation)
        evaluate()
    assert collections.Counter(run_keys).most_common(1)[0][1] == 1
    assert set(run_keys) == acknowledged
    assert json.loads(cursor)["position"] == last_position  # the sensor has read to the end
