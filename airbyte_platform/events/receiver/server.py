"""The uvicorn server of a receiver app: its HTTP limits, shared by the command and the tests."""

from __future__ import annotations

import uvicorn
from starlette.types import ASGIApp

from airbyte_platform.events.receiver.config import ReceiverConfig
from airbyte_platform.events.receiver.protocol import bounded_httptools_protocol


def server_config(
    app: ASGIApp,
    config: ReceiverConfig,
    *,
    host: str,
    port: int,
    access_log: bool = True,
    log_level: str = "info",
) -> uvicorn.Config:
    limits = config.http_limits
    # The receiver app's endpoints count the refusals made below it (431, 408) with their own.
    endpoints = getattr(getattr(app, "state", None), "endpoints", None)
    on_refused = getattr(endpoints, "protocol_refused", None)
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=bounded_httptools_protocol(limits, on_refused),
        limit_concurrency=limits.max_connections,  # 503 beyond it (uvicorn's own)
        timeout_keep_alive=limits.keep_alive_timeout,
        access_log=access_log,
        log_level=log_level,
        server_header=False,
        timeout_graceful_shutdown=10,
        lifespan="on",
    )
