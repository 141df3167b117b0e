"""Done-when, end to end: the receiver started by its one command, configured only through the
environment (the secrets as `make dev` or a pod gets them), a Stripe event signed with that secret
POSTed to it over loopback HTTP, and the sensor as the code location defines it (target job,
resources from the same settings) evaluated with a pinned cursor: exactly one run request of
`event_driven_sync`, and none for the redelivery.

The same receiver runs with its access log on, so the secrets can be looked for in what it logged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
import requests

from airbyte_platform.airflow_compat.dags import DAGS
from airbyte_platform.airflow_compat.jobs import build_airflow_jobs
from airbyte_platform.core.catalog import declared_connections
from airbyte_platform.events.cdc import build_cdc_checks
from airbyte_platform.events.defs import build_events_defs
from airbyte_platform.events.resources import build_events_resources
from airbyte_platform.events.stripe_signature import stripe_signature_header
from airbyte_platform.local_services.postgres import stop_local_postgres_under
from airbyte_platform.settings import Settings, load_settings

from .conftest import airbyte_notification, free_port, stripe_event
from .sensor_harness import connection_keys

# Configured as in a deployment: through the environment, read by the settings and dg.EnvVar.
SECRETS = {
    "STRIPE_WEBHOOK_SECRET": "whsec_e2e_configured_secret_7f3a",
    "AIRBYTE_WEBHOOK_TOKEN": "e2e-airbyte-path-token-91c2",
    "WEBHOOK_TRIGGER_TOKEN": "e2e-trigger-bearer-token-5d0e",
}
SENSOR = "event_driven_sync_webhook_sensor"


@dataclass
class Deployment:
    url: str
    settings: Settings
    defs: dg.Definitions
    log: Path

    def post_stripe(self, body: bytes, secret: str = SECRETS["STRIPE_WEBHOOK_SECRET"]) -> requests.Response:
        header = stripe_signature_header(body, secret)
        return requests.post(
            f"{self.url}/webhooks/stripe",
            data=body,
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
            timeout=10,
        )

    def tick(self, instance: dg.DagsterInstance, cursor: str | None = None):
        sensor = self.defs.get_repository_def().get_sensor_def(SENSOR)
        resources = build_events_resources(self.settings)  # what the code location binds
        context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
        return sensor.evaluate_tick(context)


def code_location(settings: Settings) -> dg.Definitions:
    """The events defs with the real DAG jobs over stand-in assets (same keys, never executed here)."""
    keys = {c.asset_key(s) for c in declared_connections() for s in c.streams}
    keys |= {key for dag in DAGS for key in dag.asset_keys}

    @dg.multi_asset(specs=[dg.AssetSpec(key, skippable=True) for key in sorted(keys)], can_subset=True)
    def stand_in_assets():  # no annotation: Dagster would read it as the outputs' types
        raise NotImplementedError("the syncs and transforms are other areas' tests")

    graph = dg.Definitions.merge(build_events_defs(settings), dg.Definitions(assets=[stand_in_assets]))
    jobs, schedules = build_airflow_jobs(settings, [k for c in build_cdc_checks() for k in c.check_keys])
    return dg.Definitions.merge(
        graph,
        dg.Definitions(
            jobs=jobs,
            schedules=schedules,
            resources={
                **build_events_resources(settings),
                # resilient_sync is an op job needing these; never executed here.
                "airbyte": dg.ResourceDefinition.none_resource(),
                "destinations": dg.ResourceDefinition.none_resource(),
            },
        ),
    )


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    home = tmp_path_factory.mktemp("e2e") / "home"
    environ = {"AIRBYTE_PLATFORM_HOME": str(home), **SECRETS}
    port = free_port()
    log = home.parent / "receiver.log"
    env = {**os.environ, **environ}
    env.pop("AIRBYTE_PLATFORM_MODE", None)
    # No --inbox and no WEBHOOK_INBOX_DSN: the receiver starts the local PostgreSQL under the home, and
    # the sensors' resource (the code location's, another process in `dagster dev`) finds the same one.
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "airbyte_platform.events.receiver", "--port", str(port)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if requests.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "receiver did not become healthy within 60 s"
            time.sleep(0.1)
        # The test process sees the same environment as the receiver: secrets are read via EnvVar.
        with pytest.MonkeyPatch.context() as patch:
            for name, value in environ.items():
                patch.setenv(name, value)
            patch.delenv("AIRBYTE_PLATFORM_MODE", raising=False)
            settings = load_settings()
            yield Deployment(url=url, settings=settings, defs=code_location(settings), log=log)
    finally:
        process.terminate()
        process.wait(20)
        # The local inbox the receiver started under the home outlives it (local servers are
        # shared between processes): whoever owns the home stops it.
        stop_local_postgres_under(home)


def test_signed_stripe_event_launches_exactly_one_run_of_event_driven_sync(deployment, instance):
    body = stripe_event("evt_e2e_0001", "invoice.paid")
    accepted = deployment.post_stripe(body)
    assert (accepted.status_code, accepted.json()) == (
        200,
        {"status": "accepted", "event_id": "evt_e2e_0001"},
    )

    first = deployment.tick(instance)
    [request] = first.run_requests
    assert (request.job_name, request.run_key) == ("event_driven_sync", "evt_e2e_0001")
    assert request.tags["airbyte_platform/event_kind"] == "invoice.paid"
    # The job it names is the DAG's, syncing Stripe → PostgreSQL and nothing else.
    job = deployment.defs.resolve_job_def("event_driven_sync")
    assert set(job.asset_layer.selected_asset_keys) == set(connection_keys("stripe_to_postgres"))

    # Stripe redelivers the same event (freshly signed): acknowledged, stored once, no second run.
    again = deployment.post_stripe(body)
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    second = deployment.tick(instance, cursor=first.cursor)
    assert second.run_requests == []
    assert json.loads(first.cursor) == json.loads(second.cursor or first.cursor)


def test_an_event_signed_with_another_secret_launches_nothing(deployment, instance):
    start = deployment.tick(instance).cursor  # everything already stored is behind this cursor
    refused = deployment.post_stripe(stripe_event("evt_e2e_forged"), secret="whsec_attacker")
    assert refused.status_code == 400 and "no v1 signature" in refused.json()["error"]
    after = deployment.tick(instance, cursor=start)
    assert after.run_requests == [] and "no new event_driven_sync events" in (after.skip_message or "")


def test_secrets_never_reach_the_log_or_a_response(deployment):
    token, bearer = SECRETS["AIRBYTE_WEBHOOK_TOKEN"], SECRETS["WEBHOOK_TRIGGER_TOKEN"]
    responses = [
        requests.post(
            f"{deployment.url}/webhooks/airbyte/{token}",
            json=airbyte_notification(4242, "stripe_to_s3"),
            timeout=10,
        ),
        requests.post(f"{deployment.url}/webhooks/airbyte/{token[:-1]}x", json={}, timeout=10),  # a near miss
        requests.post(
            f"{deployment.url}/webhooks/trigger",
            json={"job": "postgres_cdc_replication"},
            headers={"Authorization": f"Bearer {bearer}"},
            timeout=10,
        ),
        requests.post(
            f"{deployment.url}/webhooks/trigger", json={}, headers={"Authorization": "Bearer no"}, timeout=10
        ),
        deployment.post_stripe(stripe_event("evt_e2e_log"), secret="whsec_wrong"),
    ]
    assert [r.status_code for r in responses] == [200, 403, 202, 401, 400]
    time.sleep(0.3)  # let the access log lines reach the file
    log = deployment.log.read_text()
    assert "POST /webhooks/airbyte/*** HTTP/1.1" in log  # the access log is on, and redacted
    for secret in (*SECRETS.values(), token[:-1]):
        assert secret not in log
        assert not any(secret in r.text for r in responses)
