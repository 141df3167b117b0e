"""A tiny Airbyte-protocol source for the embedded runner's tests, run as `python:<this file>`.

It speaks the real protocol over stdout (spec/check/discover/read with --config/--catalog/--state)
and misbehaves on request, so each failure mode is exercised through a real subprocess:

config = {
  "records": 100,          # stream `items`: ids 0..records-1, cursor `updated_at` = id + 1
  "events": 10,            # stream `events` (no primary key): seq 1..events
  "updated_ids": [3, 4],   # re-emitted after the others with a newer cursor (an upsert)
  "state_every": 25,       # a STATE message every N records (and one at the end)
  "delay": 0.0,            # seconds to sleep per record: a slow source
  "fail": {"mode": "malformed" | "crash" | "trace" | "stderr_death" | "unselected_stream", "after": 50},
  "check_fails": false,
  "undeclared_field": false, "bad_amount_every": 0,
}
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from typing import Any

SPEC = {
    "connectionSpecification": {
        "type": "object",
        "required": ["records"],
        "properties": {
            "records": {"type": "integer", "minimum": 0},
            "events": {"type": "integer", "minimum": 0},
            "updated_ids": {"type": "array", "items": {"type": "integer"}},
            "state_every": {"type": "integer", "minimum": 1},
            "delay": {"type": "number"},
            "fail": {"type": "object"},
            "check_fails": {"type": "boolean"},
            "undeclared_field": {"type": "boolean"},
            "bad_amount_every": {"type": "integer"},
        },
    }
}

ITEMS_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "updated_at": {"type": "integer"},
        "name": {"type": ["null", "string"]},
        "amount": {"type": ["null", "number"]},
        "ratio": {"type": "number"},
        "active": {"type": "boolean"},
        "created": {"type": "string", "format": "date-time"},
        "attrs": {"type": ["null", "object"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "note": {"type": ["null", "string"]},  # always null: its type must still come from the schema
    },
}
EVENTS_SCHEMA = {
    "type": "object",
    "properties": {"seq": {"type": "integer"}, "kind": {"type": "string"}},
}
CATALOG = [
    {
        "name": "items",
        "json_schema": ITEMS_SCHEMA,
        "supported_sync_modes": ["full_refresh", "incremental"],
        "source_defined_primary_key": [["id"]],
        "default_cursor_field": ["updated_at"],
    },
    {
        "name": "events",
        "json_schema": EVENTS_SCHEMA,
        "supported_sync_modes": ["full_refresh", "incremental"],
        "default_cursor_field": ["seq"],
    },
]
EMITTED_AT = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")


def item(item_id: int, cursor: int, config: dict[str, Any]) -> dict[str, Any]:
    every = config.get("bad_amount_every") or 0
    record: dict[str, Any] = {
        "id": item_id,
        "updated_at": cursor,
        "name": f"item {item_id}",
        "amount": "not a number" if every and item_id % every == 0 else item_id * 1.5,
        "ratio": float("nan") if item_id % 7 == 6 else 0.5,  # json.dumps prints NaN, as Python connectors do
        "active": item_id % 2 == 0,
        "created": f"2026-01-{1 + item_id % 28:02d}T12:00:00Z",
        "attrs": {"color": "red", "size": item_id % 3},
        "tags": ["a", "b"][: item_id % 3],
        "note": None,
    }
    if config.get("undeclared_field"):
        record["surprise"] = {"n": item_id}
    return record


def rows(stream: str, config: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """(cursor, record) pairs of a stream, in cursor order."""
    if stream == "events":
        return [(seq, {"seq": seq, "kind": "click"}) for seq in range(1, config.get("events", 10) + 1)]
    count = config["records"]
    produced = [(i + 1, item(i, i + 1, config)) for i in range(count)]
    for k, item_id in enumerate(config.get("updated_ids", [])):
        produced.append(
            (count + 1 + k, item(item_id, count + 1 + k, config) | {"name": f"item {item_id} v2"})
        )
    return produced


def fail(mode: str, stream: str) -> None:
    sys.stdout.flush()
    if mode == "malformed":
        print("this line is not JSON", flush=True)
        time.sleep(30)  # the runner must stop us, not wait for us
    elif mode == "crash":
        sys.stderr.write("Traceback (most recent call last):\nRuntimeError: boom while reading\n")
        sys.stderr.flush()
        os._exit(3)
    elif mode == "trace":
        emit(
            {
                "type": "TRACE",
                "trace": {
                    "type": "ERROR",
                    "emitted_at": EMITTED_AT,
                    "error": {
                        "message": "The API answered 401 Unauthorized",
                        "internal_message": "HTTPError 401",
                        "failure_type": "config_error",
                        "stream_descriptor": {"name": stream},
                    },
                },
            }
        )
        sys.stdout.flush()
        sys.exit(1)
    elif mode == "stderr_death":
        sys.stderr.write("fatal: killed by the out-of-memory killer\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    elif mode == "unselected_stream":
        emit({"type": "RECORD", "record": {"stream": "ghosts", "data": {"id": 1}, "emitted_at": EMITTED_AT}})


def read(config: dict[str, Any], catalog: dict[str, Any], state: list[dict[str, Any]]) -> None:
    cursors = {
        s["stream"]["stream_descriptor"]["name"]: s["stream"]["stream_state"]["cursor"]
        for s in state
        if s.get("type") == "STREAM"
    }
    failure = config.get("fail") or {}
    every = config.get("state_every", 25)
    delay = config.get("delay", 0.0)
    emitted = 0
    selected = [configured["stream"]["name"] for configured in catalog["streams"]]
    emit(
        {
            "type": "LOG",
            "log": {"level": "INFO", "message": f"reading streams {selected} with state {cursors}"},
        }
    )
    for configured in catalog["streams"]:
        name = configured["stream"]["name"]
        incremental = configured["sync_mode"] == "incremental"
        after = cursors.get(name) if incremental else None
        cursor = after
        for position, (value, record) in enumerate(rows(name, config), start=1):
            if after is not None and value <= after:
                continue
            if failure and emitted == failure.get("after", 0):
                fail(failure["mode"], name)
            emit({"type": "RECORD", "record": {"stream": name, "data": record, "emitted_at": EMITTED_AT}})
            emitted += 1
            cursor = value
            if delay:
                sys.stdout.flush()
                time.sleep(delay)
            if incremental and position % every == 0:
                emit_state(name, cursor)
        if incremental and cursor is not None:
            emit_state(name, cursor)


def emit_state(stream: str, cursor: int) -> None:
    emit(
        {
            "type": "STATE",
            "state": {
                "type": "STREAM",
                "stream": {"stream_descriptor": {"name": stream}, "stream_state": {"cursor": cursor}},
            },
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["spec", "check", "discover", "read"])
    parser.add_argument("--config")
    parser.add_argument("--catalog")
    parser.add_argument("--state")
    args = parser.parse_args()
    if args.command == "spec":
        emit({"type": "SPEC", "spec": SPEC})
        return
    with open(args.config) as handle:
        config = json.load(handle)
    if args.command == "check":
        status = "FAILED" if config.get("check_fails") else "SUCCEEDED"
        emit({"type": "CONNECTION_STATUS", "connectionStatus": {"status": status, "message": "bad api key"}})
    elif args.command == "discover":
        emit({"type": "CATALOG", "catalog": {"streams": CATALOG}})
    else:
        with open(args.catalog) as handle:
            catalog = json.load(handle)
        state: list[dict[str, Any]] = []
        if args.state:
            with open(args.state) as handle:
                state = json.load(handle)
        read(config, catalog, state)


if __name__ == "__main__":
    main()
