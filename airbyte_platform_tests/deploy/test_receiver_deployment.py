"""The webhook receiver's Deployment, Service, Ingress and PodDisruptionBudget agree with the receiver they
run; and the receiver, started with the Deployment's own arguments, finishes a request in flight when
Kubernetes sends SIGTERM (rolling update, node drain) and stores its event."""

from __future__ import annotations

import ast
import inspect
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from airbyte_platform.events.inbox import open_inbox
from airbyte_platform.events.receiver import build_receiver_app, receiver_config
from airbyte_platform.events.receiver import server as receiver_server
from airbyte_platform.events.stripe_signature import stripe_signature_header
from airbyte_platform.settings import load_settings
from airbyte_platform_tests.deploy.deploy_files import ENVIRONMENTS, base_documents, only, settings_data
from airbyte_platform_tests.ports import free_port

STRIPE_SECRET = "whsec_deploy_test_secret"


def receiver() -> dict[str, Any]:
    return only(base_documents(), "Deployment", "webhook-receiver").body


def container() -> dict[str, Any]:
    (found,) = receiver()["spec"]["template"]["spec"]["containers"]
    return found


def receiver_routes(tmp_path: Path) -> set[str]:
    settings = load_settings({"AIRBYTE_PLATFORM_HOME": str(tmp_path), "STRIPE_WEBHOOK_SECRET": STRIPE_SECRET})
    # Routes only: the app opens its inbox when it starts serving, never here.
    unused_inbox = "postgresql://receiver@127.0.0.1:1/webhooks"
    return {
        route.path for route in build_receiver_app(receiver_config(settings, inbox_dsn=unused_inbox)).routes
    }


def graceful_shutdown_seconds() -> float:
    """The receiver's own `timeout_graceful_shutdown` (read from its source, where uvicorn is started)."""
    for node in ast.walk(ast.parse(inspect.getsource(receiver_server))):
        if isinstance(node, ast.keyword) and node.arg == "timeout_graceful_shutdown":
            return float(ast.literal_eval(node.value))
    raise AssertionError("the receiver sets no timeout_graceful_shutdown: SIGTERM would drop requests")


def test_two_replicas_and_a_disruption_budget_that_keeps_one() -> None:
    spec = receiver()["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pdb = only(base_documents(), "PodDisruptionBudget", "webhook-receiver").body
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == spec["selector"]["matchLabels"]


def test_service_reaches_the_receiver_port() -> None:
    service = only(base_documents(), "Service", "webhook-receiver").body["spec"]
    pod_labels = receiver()["spec"]["template"]["metadata"]["labels"]
    assert all(pod_labels.get(k) == v for k, v in service["selector"].items())
    port_names = {p["name"] for p in container()["ports"]}
    assert {p["targetPort"] for p in service["ports"]} <= port_names


def test_readiness_asks_health_and_liveness_only_that_the_server_listens(tmp_path: Path) -> None:
    """/health fails while the inbox database is down: that must take a pod out of the Service, not
    restart it."""
    ports = {p["name"] for p in container()["ports"]}
    readiness = container()["readinessProbe"]["httpGet"]
    assert readiness["path"] in receiver_routes(tmp_path)
    assert readiness["port"] in ports
    for probe in ("startupProbe", "livenessProbe"):
        assert "httpGet" not in container()[probe], f"{probe} would restart pods during a database outage"
        assert container()[probe]["tcpSocket"]["port"] in ports


def test_termination_leaves_time_to_finish_requests_in_flight() -> None:
    pod = receiver()["spec"]["template"]["spec"]
    pre_stop = container()["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    assert pod["terminationGracePeriodSeconds"] > float(pre_stop[1]) + graceful_shutdown_seconds()


def nginx_size(value: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    value = value.strip().lower()
    return int(value[:-1]) * units[value[-1]] if value[-1] in units else int(value)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_ingress_body_limit_is_the_receivers(environment: str) -> None:
    settings = load_settings({"WEBHOOK_MAX_BODY_BYTES": settings_data(environment)["WEBHOOK_MAX_BODY_BYTES"]})
    assert settings.webhooks is not None
    annotations = only(base_documents(), "Ingress", "webhook-receiver").body["metadata"]["annotations"]
    assert (
        nginx_size(annotations["nginx.ingress.kubernetes.io/proxy-body-size"])
        == settings.webhooks.max_body_bytes
    )


def test_ingress_is_tls_and_exposes_only_the_webhooks(tmp_path: Path) -> None:
    spec = only(base_documents(), "Ingress", "webhook-receiver").body["spec"]
    tls_hosts = {host for entry in spec["tls"] for host in entry["hosts"]}
    public_paths = []
    for rule in spec["rules"]:
        assert rule["host"] in tls_hosts, f"{rule['host']} is served without TLS"
        public_paths += [p["path"] for p in rule["http"]["paths"]]
    assert public_paths == ["/webhooks/"]
    webhook_routes = {r for r in receiver_routes(tmp_path) if r.startswith("/webhooks/")}
    assert webhook_routes and "/health" not in webhook_routes


def test_resources_are_bounded() -> None:
    resources = container()["resources"]
    assert resources["requests"]["cpu"] and resources["requests"]["memory"]
    assert resources["limits"]["memory"]


# ---- the receiver process, as the Deployment starts it ------------------------------------------------


def wait_for_health(port: int, process: subprocess.Popen, deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the receiver exited with {process.returncode}: {process.stderr.read()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("the receiver did not answer /health")


def test_sigterm_finishes_the_request_in_flight_and_stores_its_event(
    tmp_path: Path, pg_inbox_dsn: str
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRBYTE_", "WEBHOOK_", "STRIPE_"))}
    env.update(
        AIRBYTE_PLATFORM_HOME=str(tmp_path),
        STRIPE_WEBHOOK_SECRET=STRIPE_SECRET,
        **{item["name"]: item["value"] for item in container()["env"] if "value" in item},
    )
    env["DAGSTER_HOME"] = str(tmp_path)  # the manifest's path is the image's
    env.update(WEBHOOK_HOST="127.0.0.1", WEBHOOK_PORT=str(port))  # loopback only in tests
    env["WEBHOOK_INBOX_DSN"] = pg_inbox_dsn  # the inbox secret of the manifest
    args = [sys.executable if a == "python" else a for a in container()["args"]]
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_health(port, process, time.monotonic() + 120)
        body = json.dumps(
            {"id": "evt_in_flight", "object": "event", "type": "charge.succeeded", "data": {"object": {}}}
        ).encode()
        head = (
            f"POST /webhooks/stripe HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            f"Stripe-Signature: {stripe_signature_header(body, STRIPE_SECRET)}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(head + body[:10])  # the request is now in flight
            time.sleep(0.5)  # let the server read the headers
            process.send_signal(signal.SIGTERM)  # what the kubelet sends (through tini) after preStop
            time.sleep(0.5)
            sock.sendall(body[10:])
            answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 2"), answer[:200]
        # uvicorn shuts down, then re-raises SIGTERM to the default handler: the exit says "terminated".
        assert process.wait(timeout=30) in (0, -signal.SIGTERM), process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    with open_inbox(pg_inbox_dsn) as inbox:
        assert "evt_in_flight" in inbox.event_ids()
