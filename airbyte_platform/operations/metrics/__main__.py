"""`python -m airbyte_platform.operations.metrics`: serve /metrics until stopped.

Its own process (and, on Kubernetes, its own Deployment) rather than the webhook receiver: scrapes
query the Dagster instance, which must never slow the receiver's 2xx to Stripe and Airbyte, and
the exporter needs DAGSTER_HOME (the instance's storage) that the receiver does not.
Host and port: METRICS_HOST / METRICS_PORT. The instance: DAGSTER_HOME, as for every Dagster process.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading

import dagster as dg
from prometheus_client import CollectorRegistry, start_http_server

from airbyte_platform.events.cdc.resource import CdcSourceResource
from airbyte_platform.events.cdc.slot import SlotReading
from airbyte_platform.events.inbox import open_inbox
from airbyte_platform.events.inbox_dsn import inbox_dsn_for
from airbyte_platform.operations.metrics.collector import PlatformCollector
from airbyte_platform.settings import Settings, SettingsError, get_settings

log = logging.getLogger("airbyte_platform.operations.metrics")


def build_collector(instance: dg.DagsterInstance, settings: Settings) -> PlatformCollector:
    cdc = settings.cdc
    read_cdc = None
    if cdc is not None and cdc.source_dsn_var:
        # Only a configured source: locally the stand-in would be started just to be measured.
        source = CdcSourceResource(
            dsn=dg.EnvVar(cdc.source_dsn_var).get_value(),
            slot_name=cdc.slot_name,
            max_lag_seconds=cdc.max_lag_seconds,
            max_lag_bytes=cdc.max_lag_bytes,
        )

        def read_cdc() -> tuple[SlotReading, int, int]:
            return source.read_slot(), cdc.max_lag_seconds, cdc.max_lag_bytes

    return PlatformCollector(
        instance, settings.metrics, open_inbox=lambda: open_inbox(inbox_dsn_for(settings)), read_cdc=read_cdc
    )


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # Opening a PostgreSQL-backed instance logs alembic's plugin set-up at INFO: noise in make dev.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        settings = get_settings()
    except SettingsError as error:
        print(f"metrics exporter cannot start: {error}", file=sys.stderr)
        return 2
    registry = CollectorRegistry(auto_describe=False)
    with dg.DagsterInstance.get() as instance:
        registry.register(build_collector(instance, settings))
        host, port = settings.metrics.host, settings.metrics.port
        try:
            server, thread = start_http_server(port, host, registry)
        except OSError as error:
            print(f"metrics exporter cannot listen on {host}:{port} ({error.strerror}): set METRICS_PORT "
                  "(or METRICS_HOST) to a free address", file=sys.stderr)  # fmt: skip
            return 2
        log.info(f"serving /metrics on http://{settings.metrics.host}:{settings.metrics.port}")
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        stop.wait()
        server.shutdown()
        thread.join(timeout=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
