"""Run the fake Airbyte server alone: `python -m airbyte_platform_tests.airbyte_server.fake_airbyte`.

Prints one JSON line (url, workspace id) on stdout once it listens, then serves until killed.
Benchmarks use it to keep the server's CPU out of the measured process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading

from airbyte_platform_tests.airbyte_server.fake_airbyte.clock import ScaledClock
from airbyte_platform_tests.airbyte_server.fake_airbyte.server import FakeAirbyteServer
from airbyte_platform_tests.airbyte_server.fake_airbyte.state import FakeAirbyteState, JobPlan


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--connections", type=int, default=3)
    parser.add_argument("--streams", type=int, default=3)
    parser.add_argument("--destinations", type=int, default=10)
    parser.add_argument("--time-scale", type=float, default=1.0, help="simulated seconds per real second")
    parser.add_argument("--epoch", type=float, default=None, help="real time at which simulated time starts")
    parser.add_argument("--unique-stream-names", action="store_true", help="c<i>_stream_<j> stream names")
    parser.add_argument("--job-seconds", type=float, default=2.0, help="default job duration (simulated)")
    args = parser.parse_args(argv)

    clock = ScaledClock(args.time_scale, args.epoch) if args.epoch else ScaledClock(args.time_scale)
    state = FakeAirbyteState(clock=clock, default_plan=JobPlan(duration_seconds=args.job_seconds))
    workspace_id = state.seed(
        args.connections, args.streams, args.destinations, unique_stream_names=args.unique_stream_names
    )
    server = FakeAirbyteServer(state, port=args.port).start()
    print(json.dumps({"url": server.url, "workspace_id": workspace_id}), flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    server.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
