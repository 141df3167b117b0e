"""`python -m airbyte_platform.events.receiver [--host H] [--port P] [--inbox DSN]`.

Defaults come from the settings (WEBHOOK_HOST, WEBHOOK_PORT, WEBHOOK_INBOX_DSN); the options exist
for tests and benchmarks that run a receiver beside the real one.
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from collections.abc import Sequence
from dataclasses import replace

import uvicorn
from starlette.routing import BaseRoute

from airbyte_platform.events.inbox import InboxError
from airbyte_platform.events.receiver.app import build_receiver_app
from airbyte_platform.events.receiver.config import receiver_config
from airbyte_platform.events.receiver.protocol import HttpLimits
from airbyte_platform.events.receiver.server import server_config
from airbyte_platform.events.webhook_secrets import WebhookSecretError
from airbyte_platform.settings import SettingsError, get_settings


def main(argv: list[str] | None = None, extra_routes: Sequence[BaseRoute] = ()) -> int:
    """Run the receiver; `extra_routes` (e.g. a `Mount` of another Starlette app) are served too."""
    parser = argparse.ArgumentParser(prog="python -m airbyte_platform.events.receiver", description=__doc__)
    parser.add_argument("--host", help="listen address (default WEBHOOK_HOST, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (default WEBHOOK_PORT, 8765)")
    parser.add_argument(
        "--inbox",
        help="inbox DSN, postgresql://... (default WEBHOOK_INBOX_DSN, locally the PostgreSQL under the home)",
    )
    parser.add_argument("--no-access-log", action="store_true", help="do not log every request")
    parser.add_argument("--log-level", default="info")
    defaults = HttpLimits()
    parser.add_argument(
        "--head-timeout", type=float, default=defaults.head_timeout,
        help=f"seconds to receive a request's headers (default {defaults.head_timeout:g})",
    )  # fmt: skip
    parser.add_argument(
        "--body-timeout", type=float, default=defaults.body_timeout,
        help=f"seconds to receive a request's body (default {defaults.body_timeout:g})",
    )  # fmt: skip
    parser.add_argument(
        "--max-connections", type=int, default=defaults.max_connections,
        help=f"open connections before new requests get 503 (default {defaults.max_connections})",
    )  # fmt: skip
    args = parser.parse_args(argv)
    limits = replace(
        defaults,
        head_timeout=args.head_timeout,
        body_timeout=args.body_timeout,
        max_connections=args.max_connections,
    )
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    try:
        settings = get_settings()
        config = receiver_config(settings, inbox_dsn=args.inbox, http_limits=limits)
    except (SettingsError, WebhookSecretError, InboxError) as exc:
        print(f"webhook receiver cannot start: {exc}", file=sys.stderr)
        return 2
    webhooks = settings.webhooks
    assert webhooks is not None
    if not args.inbox and not settings.is_local and webhooks.inbox_dsn_var is None:
        logging.getLogger(__name__).warning(
            "WEBHOOK_INBOX_DSN is not set: the webhook inbox lives in ANALYTICS_POSTGRES_DSN; a long "
            "write transaction on that server delays (never loses) events, a dedicated database avoids it"
        )
    app = build_receiver_app(config, extra_routes=extra_routes)
    # Everything imported so far (dagster, pydantic, ...) lives as long as the process. Left to
    # the cyclic GC, each full collection re-scans it: a ~100 ms pause every few thousand
    # requests here, which was most of the p99. Frozen objects are skipped by every collection.
    gc.collect()
    gc.freeze()
    server = uvicorn.Server(
        server_config(
            app,
            config,
            host=args.host or webhooks.host,
            port=args.port or webhooks.port,
            access_log=not args.no_access_log,
            log_level=args.log_level,
        )
    )
    try:
        server.run()
    except KeyboardInterrupt:
        # uvicorn has shut down gracefully (in-flight requests answered) and re-raises the SIGINT it
        # caught: a Ctrl-C of make dev is a normal stop, not a traceback.
        return 0
    # uvicorn exits quietly when the lifespan fails (the inbox could not be opened): say so.
    return 0 if server.started else 3


if __name__ == "__main__":
    sys.exit(main())
