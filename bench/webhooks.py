"""Webhook receiver throughput and latency vs a bare Starlette endpoint, and 2xx → run request time.

1. `POST /webhooks/stripe` of the real receiver (`python -m airbyte_platform.events.receiver`):
   Stripe signature verified, JSON parsed, event committed to the PostgreSQL inbox (the one
   backend: PostgreSQL 16 from pgserver on a Unix socket, fsync on, group commit) before the 200.
   Every request is a distinct, freshly signed ~1.5 KB event, so every 200 is an accepted event.
2. Baseline, same run, same server settings (uvicorn, one process, no access log): a bare
   Starlette `POST` endpoint that returns 200 without reading anything.
   Rounds alternate baseline / receiver (`--rounds`, median reported) so load drift hits both.
   The client is an asyncio HTTP/1.1 keep-alive client with `--connections` connections, in this
   process: on 2 cores, the server gets one and the client the other.
3. 2xx → run request: events are posted to the receiver at random moments while the real
   `event_driven_sync` sensor is evaluated every 30 s (Dagster's default sensor interval, the
   daemon's cadence emulated here), its cursor starting after the throughput rounds' events;
   latency = time of the evaluation returning the event's run request - time its 2xx arrived.

Usage: .venv/bin/python bench/webhooks.py [--events N] [--rounds R] [--connections C] [--ticks T] [--quick]
Writes the `webhooks` key of bench/results.json (merged: the other benchmarks' keys stay; not with
--quick) and prints a markdown table. The full run takes about 2.5 minutes, 90 s of which are the
three 30-s sensor intervals; --quick takes under a minute.
Also `bench/webhooks.py --serve-bare PORT`: the baseline server, started by the benchmark itself.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from results_file import RESULTS, merge_results

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))  # runnable as a plain script from any directory

SECRET = "whsec_bench_only"
TARGETS = {"accepted_per_s": 1000, "p99_ms": 50, "ratio": 1 / 3}


# -- servers --------------------------------------------------------------------------------------
def serve_bare(port: int) -> None:
    """The baseline: Starlette + uvicorn with an endpoint that does nothing."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    async def nothing(request: Any) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    app = Starlette(routes=[Route("/webhooks/stripe", nothing, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning", server_header=False)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start a server and wait until it answers. Its output goes to `log`: a pipe nobody reads
    would fill up and block the server mid-benchmark."""
    import requests

    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, cwd=PROJECT, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{command} exited: {log.read_text()[-2000:]}")
        try:
            requests.get(f"http://127.0.0.1:{port}/health", timeout=1)  # any answer: it listens
            return process
        except requests.ConnectionError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{command} did not listen on {port}: {log.read_text()[-2000:]}")


# -- load -----------------------------------------------------------------------------------------
def stripe_body(event_id: str) -> bytes:
    charge = {
        "id": f"ch_{event_id[4:]}",
        "object": "charge",
        "amount": random.randint(100, 100_000),
        "currency": "usd",
        "customer": f"cus_{random.randint(1, 10**9)}",
        "description": "Subscription update",
        "metadata": {"order_id": str(random.randint(1, 10**9)), "source": "bench"},
        "billing_details": {"address": {"city": "Lisbon", "country": "PT", "line1": "Rua Augusta 1"}},
        "outcome": {"network_status": "approved_by_network", "risk_level": "normal", "type": "authorized"},
        "payment_method_details": {
            "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030}
        },
        "receipt_url": "https://pay.stripe.com/receipts/acct_1/ch_1/rcpt_" + "x" * 40,
        "status": "succeeded",
    }
    event = {
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "type": "charge.succeeded",
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "data": {"object": charge},
    }
    return json.dumps(event).encode()


def raw_request(port: int, event_id: str) -> bytes:
    from airbyte_platform.events.stripe_signature import stripe_signature_header

    body = stripe_body(event_id)
    head = (
        f"POST /webhooks/stripe HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Stripe-Signature: {stripe_signature_header(body, SECRET)}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _connection(port: int, requests_: list[bytes], latencies: list[float], statuses: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for raw in requests_:
            started = time.perf_counter()
            writer.write(raw)
            # One read for the whole head: the client shares the two cores with the server, so
            # its own parsing cost is kept small (it is the same for both servers).
            head = await reader.readuntil(b"\r\n\r\n")
            marker = head.lower().find(b"content-length:")
            length = int(head[marker + 15 : head.index(b"\r\n", marker)]) if marker >= 0 else 0
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            statuses.append(int(head[9:12]))
    finally:
        writer.close()


async def _load(port: int, requests_: list[bytes], connections: int) -> tuple[float, list[float], list[int]]:
    latencies: list[float] = []
    statuses: list[int] = []
    shares = [requests_[i::connections] for i in range(connections)]
    started = time.perf_counter()
    await asyncio.gather(*(_connection(port, share, latencies, statuses) for share in shares))
    return time.perf_counter() - started, latencies, statuses


def load(port: int, requests_: list[bytes], connections: int) -> dict[str, float]:
    try:  # uvloop, as the servers use (uvicorn picks it when installed): less client CPU per request
        import uvloop

        elapsed, latencies, statuses = uvloop.run(_load(port, requests_, connections))
    except ImportError:
        elapsed, latencies, statuses = asyncio.run(_load(port, requests_, connections))
    ok = sum(1 for s in statuses if s == 200)
    if ok != len(requests_):
        raise RuntimeError(
            f"{len(requests_) - ok} of {len(requests_)} requests did not get 200: {set(statuses)}"
        )
    latencies.sort()
    return {
        "per_s": round(ok / elapsed, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
        "requests": len(requests_),
    }


def median_round(rounds: list[dict[str, float]]) -> dict[str, float]:
    rounds = sorted(rounds, key=lambda r: r["per_s"])
    return {**rounds[len(rounds) // 2], "rounds_per_s": [r["per_s"] for r in rounds]}


# -- 2xx → run request ----------------------------------------------------------------------------
def sensor_latency(receiver_port: int, inbox_dsn: str, ticks: int, interval: float) -> dict[str, Any]:
    import dagster as dg
    import requests

    from airbyte_platform.events.resources import WebhookInboxResource
    from airbyte_platform.events.sensors.stripe_sync import build_event_driven_sync_sensor
    from airbyte_platform.events.stripe_signature import stripe_signature_header

    # Interval 0: the 6-hour rule off, so every event gets its own run request to time.
    sensor = build_event_driven_sync_sensor(dg.DefaultSensorStatus.RUNNING, sync_interval=dt.timedelta(0))
    resources = {"webhook_inbox": WebhookInboxResource(dsn=inbox_dsn)}
    instance = dg.DagsterInstance.ephemeral()
    acknowledged: dict[str, float] = {}
    session = requests.Session()

    def evaluate(cursor: str | None) -> tuple[str | None, list[str], float]:
        began = time.perf_counter()
        context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
        result = sensor.evaluate_tick(context)
        return result.cursor or cursor, [r.run_key for r in result.run_requests], time.perf_counter() - began

    # Start after what the throughput rounds stored (tens of thousands of events, 500 read per
    # evaluation): a cursor pinned at the inbox's last position, as after a long-running sensor.
    from airbyte_platform.events.inbox import open_inbox
    from airbyte_platform.events.routes import EVENT_DRIVEN_SYNC

    position = None
    with open_inbox(inbox_dsn) as inbox:
        while page := inbox.read_after(EVENT_DRIVEN_SYNC, position, limit=20_000):
            position = page[-1].position
    cursor: str | None = json.dumps({"position": position})
    latencies: list[float] = []
    evaluations: list[float] = []
    rng = random.Random(7)
    for tick in range(ticks):
        tick_at = time.monotonic() + interval
        # Events at random moments of the interval, as webhooks arrive.
        moments = sorted(rng.uniform(0, interval * 0.98) for _ in range(8))
        window_start = time.monotonic()
        for i, moment in enumerate(moments):
            time.sleep(max(0.0, window_start + moment - time.monotonic()))
            event_id = f"evt_latency_{tick}_{i}"
            body = stripe_body(event_id)
            response = session.post(
                f"http://127.0.0.1:{receiver_port}/webhooks/stripe",
                data=body,
                headers={
                    "Stripe-Signature": stripe_signature_header(body, SECRET),
                    "Content-Type": "application/json",
                },
                timeout=5,
            )
            response.raise_for_status()
            acknowledged[event_id] = time.monotonic()
        time.sleep(max(0.0, tick_at - time.monotonic()))
        cursor, run_keys, took = evaluate(cursor)
        done = time.monotonic()
        evaluations.append(took)
        latencies.extend(done - acknowledged[key] for key in run_keys if key in acknowledged)
    if len(latencies) != len(acknowledged):
        raise RuntimeError(f"{len(acknowledged)} events acknowledged, {len(latencies)} run requests")
    latencies.sort()
    return {
        "sensor_interval_s": interval,
        "ticks": ticks,
        "events": len(latencies),
        "mean_s": round(statistics.mean(latencies), 1),
        "p50_s": round(latencies[len(latencies) // 2], 1),
        "max_s": round(latencies[-1], 1),
        "evaluation_ms_p50": round(sorted(evaluations)[len(evaluations) // 2] * 1000, 1),
    }


# -- main -----------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--events", type=int, default=10_000, help="requests per round (default 10,000)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--ticks", type=int, default=3, help="sensor evaluations timed (30 s apart)")
    parser.add_argument("--quick", action="store_true", help="small run, results.json untouched")
    parser.add_argument("--results", type=Path, default=RESULTS, help="JSON file whose `webhooks` key is set")
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return 0
    if args.quick:
        args.events, args.rounds, args.ticks = 2000, 1, 1

    load_average = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    from airbyte_platform.events.local_inbox import local_inbox_dsn
    from airbyte_platform.local_services.postgres import stop_local_postgres_under

    work = Path(tempfile.mkdtemp(prefix="bench_webhooks_"))
    work.chmod(0o755)  # as root, pgserver runs PostgreSQL as its own user, which must enter it
    inbox_dsn = local_inbox_dsn(work)  # a PostgreSQL of its own under `work`, stopped at the end
    env = {**os.environ, "AIRBYTE_PLATFORM_HOME": str(work / "home"), "STRIPE_WEBHOOK_SECRET": SECRET}
    env.pop("AIRBYTE_PLATFORM_MODE", None)
    receiver_port, bare_port = free_port(), free_port()
    began = time.monotonic()
    receiver = start(
        [sys.executable, "-m", "airbyte_platform.events.receiver", "--port", str(receiver_port), "--inbox",
         inbox_dsn, "--no-access-log", "--log-level", "warning"],
        receiver_port,
        env,
        work / "receiver.log",
    )  # fmt: skip
    bare = start(
        [sys.executable, __file__, "--serve-bare", str(bare_port)], bare_port, env, work / "bare.log"
    )
    try:
        warm = [raw_request(receiver_port, f"evt_warm_{i}") for i in range(500)]
        load(receiver_port, warm, args.connections)
        load(bare_port, [raw_request(bare_port, f"evt_warm_{i}") for i in range(500)], args.connections)
        bare_rounds, durable_rounds = [], []
        for round_ in range(args.rounds):
            # Requests are built (and signed) before the clock starts; signatures stay valid for 300 s.
            bare_rounds.append(
                load(
                    bare_port,
                    [raw_request(bare_port, f"evt_b{round_}_{i}") for i in range(args.events)],
                    args.connections,
                )
            )
            durable_rounds.append(load(receiver_port, [raw_request(receiver_port, f"evt_d{round_}_{i}") for i in range(args.events)], args.connections))  # fmt: skip
            print(f"round {round_ + 1}: bare {bare_rounds[-1]['per_s']:,.0f}/s, receiver {durable_rounds[-1]['per_s']:,.0f}/s", flush=True)  # fmt: skip
        from airbyte_platform.events.inbox import open_inbox

        with open_inbox(inbox_dsn) as inbox:
            stored = inbox.count()
        expected = 500 + args.events * args.rounds
        if stored != expected:
            raise RuntimeError(f"inbox holds {stored} events, {expected} were acknowledged")
        durable, baseline = median_round(durable_rounds), median_round(bare_rounds)
        latency = sensor_latency(receiver_port, inbox_dsn, args.ticks, 30.0)
    finally:
        for process in (receiver, bare):
            process.terminate()
            process.wait(20)
        stop_local_postgres_under(work)
        shutil.rmtree(work, ignore_errors=True)  # the inbox of a full run is tens of MB

    ratio = round(durable["per_s"] / baseline["per_s"], 3)
    figures = {
        "receiver_durable": {**durable, "inbox_rows_verified": stored},
        "bare_starlette": baseline,
        "ratio_receiver_to_bare": ratio,
        "targets_met": {
            "accepted_per_s>=1000": durable["per_s"] >= TARGETS["accepted_per_s"],
            "p99_ms<50": durable["p99_ms"] < TARGETS["p99_ms"],
            "ratio>=1/3": ratio >= TARGETS["ratio"],
        },
        "two_xx_to_run_request": latency,
        "setup": f"{args.connections} keep-alive connections, {args.events:,} distinct signed events per round, "
        f"{args.rounds} alternating rounds (median), PostgreSQL inbox (pgserver, Unix socket, fsync on) with group commit",
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average at start {load_average}",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["bench/webhooks.py", *sys.argv[1:]]),
        "total_seconds": round(time.monotonic() - began),
    }
    print()
    print("| figure | receiver (durable) | bare Starlette |")
    print("|---|---|---|")
    print(f"| requests/s | {durable['per_s']:,.0f} | {baseline['per_s']:,.0f} |")
    print(f"| p50 latency | {durable['p50_ms']} ms | {baseline['p50_ms']} ms |")
    print(f"| p99 latency | {durable['p99_ms']} ms | {baseline['p99_ms']} ms |")
    print(f"| ratio | {ratio} | 1 |")
    print(
        f"| 2xx → run request (30 s interval) | mean {latency['mean_s']} s, p50 {latency['p50_s']} s, "
        f"max {latency['max_s']} s | |"
    )
    if not args.quick:
        merge_results("webhooks", figures, args.results)
        print(f"\nwrote the webhooks key of {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
