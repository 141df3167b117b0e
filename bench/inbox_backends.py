"""The webhook inbox (PostgreSQL from pgserver, as `make dev` runs it) with and without the
group-commit thread: receiver intake rate, and the sensor's drain of a backlog.

History: this benchmark compared SQLite with PostgreSQL, and that measurement (2026-12-05, the
`inbox_backends` entry of bench/results.json, SQLite rows included) removed SQLite: PostgreSQL met
the receiver's absolute targets (1,000/s, p99 < 50 ms), SQLite's only advantage was intake headroom
(figures, and what it cost bench/webhooks.py's ratio, in `airbyte_platform/events/inbox/__init__.py`).
With one backend left, it keeps the other decision honest: whether the group-commit writer still
earns its keep (a quick run after the removal: 2,915 accepted/s against 1,018 per event, 2.86x).

1. Intake: the real receiver app (served as `python -m airbyte_platform.events.receiver` serves it:
   uvicorn, one process, no access log, gc frozen) takes `--events` distinct signed Stripe events
   (~1.5 KB each) over `--connections` keep-alive connections; every 200 is an accepted event, and
   the inbox's row count is checked afterwards. Writer variants:
   - `group_commit`: today's writer thread (one transaction for everything queued, up to 512);
   - `commit_per_event`: the same thread with batches of one (one transaction, one fsync, per event);
   - `per_request`: no writer thread: each request commits its own transaction in a worker thread
     on one of `--connections` inbox connections (PostgreSQL's own WAL-flush coalescing is then
     the only group commit).
   Baseline of the section: group commit (today's writer). Rounds alternate the variants
   (`--rounds`, median reported) so load drift hits all of them.
2. Drain: `--backlog` Stripe events already in the inbox, the real `event_driven_sync` sensor
   evaluated back to back from an empty cursor (each evaluation opens the inbox, acknowledges its
   start position and reads 500 events, as under the daemon) until it reports nothing new; the
   sum of evaluation times, and the bare `read_after` pages for comparison.

Usage: .venv/bin/python bench/inbox_backends.py [--events N] [--connections C] [--rounds R]
       [--backlog B] [--quick]
Writes the `inbox_backends` key of bench/results.json (not with --quick) and prints a table.
Also `--serve VARIANT PORT DSN`: one receiver variant, started by the benchmark itself.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import itertools
import json
import os
import platform
import queue
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from results_file import RESULTS, merge_results
from webhooks import SECRET, free_port, load, raw_request, start, stripe_body

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))  # runnable as a plain script from any directory

WRITERS = ("group_commit", "commit_per_event", "per_request")
BACKENDS = ("postgresql",)
BASELINE = "postgresql/group_commit"


# -- receiver variants (run in the server process) -------------------------------------------------
def writer_factory(variant: str, dsn: str, connections: int) -> Any:
    from airbyte_platform.events.inbox import Inbox, NewEvent, WriteOutcome, open_inbox
    from airbyte_platform.events.inbox.group_commit import GroupCommitWriter

    class PerRequestWriter(GroupCommitWriter):
        """No writer thread: each request is its own transaction on a free inbox connection."""

        def __init__(self, inbox: Inbox):
            super().__init__(inbox)
            self._free: queue.SimpleQueue[Inbox] = queue.SimpleQueue()
            self._opened = [inbox, *(open_inbox(dsn) for _ in range(connections - 1))]
            for opened in self._opened:
                self._free.put(opened)

        def start(self) -> None:
            pass

        def stop(self, timeout: float = 10.0) -> None:
            self._flush_counts()
            for opened in self._opened[1:]:
                opened.close()

        def _with_connection(self, work: Any) -> Any:
            inbox = self._free.get()
            try:
                return work(inbox)
            finally:
                self._free.put(inbox)

        async def write(self, event: NewEvent) -> WriteOutcome:
            counts = self._take_counts()
            [outcome] = await asyncio.to_thread(
                self._with_connection, lambda i: i.insert_batch([event], counts)
            )
            return outcome

        async def ping(self) -> None:
            await asyncio.to_thread(self._with_connection, lambda i: i.ping())

    if variant == "group_commit":
        return GroupCommitWriter
    if variant == "commit_per_event":
        return lambda inbox: GroupCommitWriter(inbox, max_batch=1)
    if variant == "per_request":
        return PerRequestWriter
    raise SystemExit(f"unknown writer variant {variant!r}; known: {', '.join(WRITERS)}")


def serve(variant: str, port: int, dsn: str, connections: int) -> None:
    import uvicorn

    from airbyte_platform.events.receiver.app import build_receiver_app
    from airbyte_platform.events.receiver.config import receiver_config
    from airbyte_platform.events.receiver.server import server_config
    from airbyte_platform.settings import get_settings

    config = receiver_config(get_settings(), inbox_dsn=dsn)
    app = build_receiver_app(config, writer=writer_factory(variant, dsn, connections))
    gc.collect()
    gc.freeze()  # as the receiver's command does
    server_settings = server_config(
        app, config, host="127.0.0.1", port=port, access_log=False, log_level="warning"
    )
    uvicorn.Server(server_settings).run()


# -- the benchmark -------------------------------------------------------------------------------
def postgres_dsn(pg_root: Path, database: str) -> str:
    from airbyte_platform.local_services.postgres import local_postgres_uri

    return local_postgres_uri(pg_root, database)


def stored_count(dsn: str) -> int:
    from airbyte_platform.events.inbox import open_inbox

    with open_inbox(dsn) as inbox:
        return inbox.count()


def intake(
    dsns: dict[str, str], work: Path, env: dict[str, str], args: argparse.Namespace
) -> dict[str, dict[str, Any]]:
    variants = [f"{backend}/{writer}" for backend, writer in itertools.product(BACKENDS, WRITERS)]
    rounds: dict[str, list[dict[str, float]]] = {variant: [] for variant in variants}
    for round_ in range(args.rounds):
        order = variants if round_ % 2 == 0 else variants[::-1]
        for variant in order:
            backend, writer = variant.split("/")
            dsn = dsns[f"{variant}#{round_}"]
            port = free_port()
            server = start(
                [
                    sys.executable,
                    __file__,
                    "--serve",
                    writer,
                    str(port),
                    dsn,
                    "--pool",
                    str(args.connections),
                ],
                port,
                env,
                work / f"{backend}_{writer}.log",
            )
            try:
                load(
                    port, [raw_request(port, f"evt_warm_{round_}_{i}") for i in range(200)], args.connections
                )
                requests_ = [raw_request(port, f"evt_{round_}_{i}") for i in range(args.events)]
                figures = load(port, requests_, args.connections)
            finally:
                server.terminate()
                server.wait(20)
            stored = stored_count(dsn)
            if stored != 200 + args.events:
                raise RuntimeError(
                    f"{variant}: inbox holds {stored} events, {200 + args.events} were acknowledged"
                )
            rounds[variant].append(figures)
            print(f"round {round_ + 1} {variant}: {figures['per_s']:,.0f} accepted/s, p99 {figures['p99_ms']} ms", flush=True)  # fmt: skip
    result: dict[str, dict[str, Any]] = {}
    for variant, measured in rounds.items():
        ordered = sorted(measured, key=lambda r: r["per_s"])
        result[variant] = {**ordered[len(ordered) // 2], "rounds_per_s": [r["per_s"] for r in measured]}
    return result


def fill(dsn: str, count: int) -> float:
    from airbyte_platform.events.inbox import NewEvent, open_inbox
    from airbyte_platform.events.routes import EVENT_DRIVEN_SYNC

    began = time.perf_counter()
    with open_inbox(dsn) as inbox:
        for start_at in range(0, count, 500):
            inbox.insert_batch(
                [
                    NewEvent(
                        event_id=f"evt_backlog_{i}",
                        source="stripe",
                        route=EVENT_DRIVEN_SYNC,
                        kind="charge.succeeded",
                        payload=stripe_body(f"evt_backlog_{i}").decode(),
                        received_at=time.time(),
                    )
                    for i in range(start_at, min(count, start_at + 500))
                ]
            )
    return time.perf_counter() - began


def drain(dsn: str, backlog: int) -> dict[str, Any]:
    import dagster as dg

    from airbyte_platform.events.inbox import open_inbox
    from airbyte_platform.events.resources import WebhookInboxResource
    from airbyte_platform.events.routes import EVENT_DRIVEN_SYNC
    from airbyte_platform.events.sensors.stripe_sync import build_event_driven_sync_sensor

    fill_s = fill(dsn, backlog)
    sensor = build_event_driven_sync_sensor(dg.DefaultSensorStatus.RUNNING)  # the 6-hour rule, as deployed
    resources = {"webhook_inbox": WebhookInboxResource(dsn=dsn)}
    evaluations: list[float] = []
    run_requests = 0
    cursor: str | None = None
    with dg.instance_for_test() as instance:
        while True:
            began = time.perf_counter()
            context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
            result = sensor.evaluate_tick(context)
            evaluations.append(time.perf_counter() - began)
            if result.cursor in (None, cursor):
                break  # "no new events": the backlog is drained
            cursor = result.cursor
            run_requests += len(result.run_requests)
    began = time.perf_counter()
    read = 0
    position = None
    with open_inbox(dsn) as inbox:
        while page := inbox.read_after(EVENT_DRIVEN_SYNC, position, 500):
            read += len(page)
            position = page[-1].position
    read_s = time.perf_counter() - began
    if read != backlog or sum(1 for _ in evaluations) != -(-backlog // 500) + 1:
        raise RuntimeError(f"drain read {read} events in {len(evaluations)} evaluations, backlog {backlog}")
    return {
        "backlog": backlog,
        "drain_s": round(sum(evaluations), 2),
        "evaluations": len(evaluations),
        "evaluation_ms_p50": round(statistics.median(evaluations) * 1000, 1),
        "run_requests": run_requests,
        "read_after_only_s": round(read_s, 3),
        "fill_s": round(fill_s, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve", nargs=3, metavar=("VARIANT", "PORT", "DSN"), help=argparse.SUPPRESS)
    parser.add_argument("--pool", type=int, default=16, help=argparse.SUPPRESS)
    parser.add_argument("--events", type=int, default=2000, help="accepted events per variant and round")
    parser.add_argument("--connections", type=int, default=16, help="concurrent keep-alive connections")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backlog", type=int, default=10_000, help="events the sensor drains")
    parser.add_argument("--quick", action="store_true", help="small run, results.json untouched")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.serve:
        variant, port, dsn = args.serve
        serve(variant, int(port), dsn, args.pool)
        return 0
    if args.quick:
        args.events, args.rounds, args.backlog = 500, 1, 2000

    from airbyte_platform.local_services.postgres import stop_local_postgres

    load_average = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    began = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="bench_inbox_"))
    work.chmod(0o755)  # pgserver runs PostgreSQL as its own user when run as root
    pg_root = work / "pg"
    env = {**os.environ, "AIRBYTE_PLATFORM_HOME": str(work / "home"), "STRIPE_WEBHOOK_SECRET": SECRET}
    env.pop("AIRBYTE_PLATFORM_MODE", None)
    try:
        dsns: dict[str, str] = {}
        for round_, backend, writer in itertools.product(range(args.rounds), BACKENDS, WRITERS):
            name = f"{backend}_{writer}_{round_}"
            dsns[f"{backend}/{writer}#{round_}"] = postgres_dsn(pg_root, name)
        measured = intake(dsns, work, env, args)
        drains = {"postgresql": drain(postgres_dsn(pg_root, "drain"), args.backlog)}
    finally:
        stop_local_postgres(pg_root)
        shutil.rmtree(work, ignore_errors=True)

    baseline = measured[BASELINE]["per_s"]
    figures = {
        "intake": measured,
        "ratio_to_baseline": {k: round(v["per_s"] / baseline, 3) for k, v in measured.items()},
        "group_commit_gain": {
            backend: round(
                measured[f"{backend}/group_commit"]["per_s"]
                / measured[f"{backend}/commit_per_event"]["per_s"],
                2,
            )
            for backend in BACKENDS
        },
        "drain": drains,
        "setup": f"{args.events:,} distinct signed Stripe events per variant and round after 200 warm-up ones, "
        f"{args.connections} keep-alive connections, {args.rounds} rounds alternating the order (median); "
        f"PostgreSQL 16 from pgserver (Unix socket, default fsync/synchronous_commit); "
        f"drain: {args.backlog:,}-event backlog, event_driven_sync sensor evaluated back to back",
        "baseline": BASELINE,
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average at start {load_average}",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["bench/inbox_backends.py", *sys.argv[1:]]),
        "total_seconds": round(time.monotonic() - began),
        "load_average_at_end": [round(x, 1) for x in os.getloadavg()],
    }
    print()
    print(f"| backend / writer | accepted/s | p50 ms | p99 ms | vs {BASELINE} |")
    print("|---|---|---|---|---|")
    for variant, result in measured.items():
        ratio = figures["ratio_to_baseline"][variant]
        print(f"| {variant} | {result['per_s']:,.0f} | {result['p50_ms']} | {result['p99_ms']} | {ratio} |")
    for backend, result in drains.items():
        print(f"| drain {backend} | {result['drain_s']} s for {result['backlog']:,} events ({result['evaluations']} evaluations) | | | |")  # fmt: skip
    if not args.quick:
        merge_results("inbox_backends", figures, args.results)
        print(f"\nwritten to {args.results}")
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
