"""Manual launch through the receiver: `python -m airbyte_platform.events.trigger JOB [--connection-id ID]`.

The Airflow DAG `airbyte_event_driven_sync` was triggered by hand with `{"connection_id": ...}`.
Here the same request goes to `POST /webhooks/trigger` of the running receiver (bearer token from
the settings), so a manual launch takes the path a webhook takes: the same validation, the same
inbox, one run per idempotency key, launched by the trigger sensor. (In the Dagster UI the
equivalent is launching the job with only that connection's assets selected.)

    python -m airbyte_platform.events.trigger airbyte_event_driven_sync --connection-id <id>
    python -m airbyte_platform.events.trigger postgres_cdc_replication
    python -m airbyte_platform.events.trigger airbyte_event_driven_sync --config '{"connection_id": "<id>"}' --key deploy-42
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import requests

from airbyte_platform.events.routes import TRIGGER_JOBS
from airbyte_platform.events.webhook_secrets import WebhookSecretError, resolve_webhook_secrets
from airbyte_platform.settings import Settings, SettingsError, get_settings


def send_trigger(
    url: str,
    token: str,
    job: str,
    run_config: dict[str, Any],
    idempotency_key: str | None = None,
    timeout: float = 10.0,
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    return requests.post(
        f"{url.rstrip('/')}/webhooks/trigger",
        json={"job": job, "run_config": run_config},
        headers=headers,
        timeout=timeout,
    )


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m airbyte_platform.events.trigger",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("job", choices=sorted(TRIGGER_JOBS))
    parser.add_argument("--connection-id", help="shortcut for --config '{\"connection_id\": ...}'")
    parser.add_argument("--config", help="run_config as a JSON object")
    parser.add_argument("--key", help="idempotency key: the same key never launches twice")
    parser.add_argument("--url", help="receiver URL (default http://WEBHOOK_HOST:WEBHOOK_PORT)")
    args = parser.parse_args(argv)
    try:
        run_config = json.loads(args.config) if args.config else {}
    except json.JSONDecodeError as exc:
        parser.error(f"--config is not JSON: {exc}")
    if not isinstance(run_config, dict):
        parser.error("--config must be a JSON object")
    if args.connection_id:
        run_config["connection_id"] = args.connection_id
    try:
        settings = settings or get_settings()
        token = resolve_webhook_secrets(settings).trigger_token
    except (SettingsError, WebhookSecretError) as exc:
        print(f"cannot send the trigger: {exc}", file=sys.stderr)
        return 2
    webhooks = settings.webhooks
    assert webhooks is not None
    host = "127.0.0.1" if webhooks.host in ("0.0.0.0", "::") else webhooks.host
    url = args.url or f"http://{host}:{webhooks.port}"
    try:
        response = send_trigger(url, token, args.job, run_config, args.key)
    except requests.RequestException as exc:
        print(
            f"the webhook receiver at {url} did not answer ({exc}); is `make dev` running?", file=sys.stderr
        )
        return 1
    print(f"{response.status_code} {response.text}")
    return 0 if response.ok else 1


if __name__ == "__main__":
    sys.exit(main())
