"""A local, stateful stand-in for Airbyte's public API (and the two config-API calls dagster-airbyte makes).

Tests and benchmarks run the real workspace resource (and dagster-airbyte itself) against it:
loopback only, jobs that move pending -> running -> succeeded/failed/cancelled over (optionally
compressed) time, and fault injection (5xx, 429 with Retry-After, dropped connections before or
after the request is processed, latency, any status on any route).
"""

from airbyte_platform_tests.airbyte_server.fake_airbyte.clock import ScaledClock
from airbyte_platform_tests.airbyte_server.fake_airbyte.faults import FaultInjector, FaultRule
from airbyte_platform_tests.airbyte_server.fake_airbyte.server import Exchange, FakeAirbyteServer
from airbyte_platform_tests.airbyte_server.fake_airbyte.state import FakeAirbyteState, JobPlan, StreamConf

__all__ = [
    "Exchange",
    "FakeAirbyteServer",
    "FakeAirbyteState",
    "FaultInjector",
    "FaultRule",
    "JobPlan",
    "ScaledClock",
    "StreamConf",
]
