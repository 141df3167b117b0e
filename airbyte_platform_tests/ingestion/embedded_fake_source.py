"""A tiny Airbyte-protocol source for the embedded runner's tests, run as `python:<this file>`.

It speaks the real protocol over stdout (spec/check/discover/read with --config/--catalog/--state)
and misbehaves on request, so each failure mode is exercised through a real subprocess:

config = {
  "records": 100,          # stream `items`: ids 0..records-1, cursor `updated_at` = id + 1
  "events": 10,            # stream `events` (no primary key): seq 1..events
  "updated_ids": [3, 4],   # re-emitted after the others with newer cursors, named "item <id> v<k+2>"
  "state_every": 25,       # a STATE message every N records (and one at the end)
  "delay": 0.0,            # seconds to sleep per record: a slow source
  "fail": {"mode": "malformed" | "crash" | "trace" | "stderr_death" | "unselected_stream" | "hang"
           | "stop_early", "after": 50},
  "check_fails": false,
  "undeclared_field": false, "bad_amount_every": 0,
  "keyless_records": 0,    # items: extra records whose `id` is missing, null or not an integer (in turn)
  "emit_state": true,      # false: a source that never checkpoints
  "state_type": "STREAM",  # "GLOBAL": one shared log position (a CDC source); see `read_global`
  "statuses": false,       # emit STREAM_STATUS traces (STARTED, RUNNING, COMPLETE)
  "pid_file": null,        # `read` writes its process id there first
  "changes": null,         # items as a change log instead: [[id, cursor, name], ...] in cursor order
  "calls_file": null,      # each command (check, discover, read) appends its name there
  "overrides_file": null,  # JSON merged over this config when a command runs: the source changes
                           # between syncs while the connection's config stays the same
}
"stop_early" exits 0 without finishing the stream (no COMPLETE status, no final STATE); "hang" stops
writing and ignores SIGTERM, as a connector blocked in a network call would.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path
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
            "keyless_records": {"type": "integer"},
            "emit_state": {"type": "boolean"},
            "state_type": {"enum": ["STREAM", "GLOBAL"]},
            "statuses": {"type": "boolean"},
            "pid_file": {"type": "string"},
            "changes": {"type": "array"},
            "calls_file": {"type": "string"},
            "overrides_file": {"type": "string"},
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
    if config.get("changes") is not None:
        return [(cursor, item(i, cursor, config) | {"name": name}) for i, cursor, name in config["changes"]]
    count = config["records"]
    produced = [(i + 1, item(i, i + 1, config)) for i in range(count)]
    for k, item_id in enumerate(config.get("updated_ids", [])):
        produced.append(
            (count + 1 + k, item(item_id, count + 1 + k, config) | {"name": f"item {item_id} v{k + 2}"})
        )
    base = len(produced)
    for k in range(config.get("keyless_records", 0)):
        record = item(10_000 + k, base + 1 + k, config) | {"name": f"keyless {k}"}
        if k % 3 == 0:
            del record["id"]
        else:
            record["id"] = None if k % 3 == 1 else f"not-an-id-{k}"
        produced.append((base + 1 + k, record))
    return produced


def fail(mode: str, stream: str, pid_file: str | None = None) -> None:
    sys.stdout.flush()
    if mode == "malformed":
        print("this line is not JSON", flush=True)
        time.sleep(30)  # the runner must stop us, not wait for us
        if pid_file:  # proof that it waited for us instead
            Path(f"{pid_file}.survived").write_text("the runner waited for the connector")
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
    elif mode == "stop_early":
        sys.stdout.flush()
        sys.exit(0)
    elif mode == "hang":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        sys.stdout.flush()
        time.sleep(3600)


def status(stream: str, value: str) -> None:
    emit(
        {
            "type": "TRACE",
            "trace": {
                "type": "STREAM_STATUS",
                "emitted_at": EMITTED_AT,
                "stream_status": {"stream_descriptor": {"name": stream}, "status": value},
            },
        }
    )


def read(config: dict[str, Any], catalog: dict[str, Any], state: list[dict[str, Any]]) -> None:
    if config.get("pid_file"):
        with open(config["pid_file"], "w") as handle:
            handle.write(str(os.getpid()))
    if config.get("state_type") == "GLOBAL":
        read_global(config, catalog, state)
        return
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
    modes = {c["stream"]["name"]: c["destination_sync_mode"] for c in catalog["streams"]}
    emit({"type": "LOG", "log": {"level": "INFO", "message": f"destination sync modes {modes}"}})
    statuses = config.get("statuses", False)
    if config.get("emit_state", True) is False:
        every = 1 << 62
    for configured in catalog["streams"]:
        name = configured["stream"]["name"]
        incremental = configured["sync_mode"] == "incremental" and config.get("emit_state", True)
        after = cursors.get(name) if configured["sync_mode"] == "incremental" else None
        cursor = after
        if statuses:
            status(name, "STARTED")
        for position, (value, record) in enumerate(rows(name, config), start=1):
            if after is not None and value <= after:
                continue
            if failure and emitted == failure.get("after", 0):
                fail(failure["mode"], name, config.get("pid_file"))
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
        if statuses:
            status(name, "COMPLETE")


def position_of(stream: str, value: int) -> int:
    """GLOBAL mode: the change's position in the source's one log (items' cursor; events 10 apart)."""
    return value * 10 if stream == "events" else value


def read_global(config: dict[str, Any], catalog: dict[str, Any], state: list[dict[str, Any]]) -> None:
    """A CDC-like source: one log position shared by all streams (`shared_state`), per-stream
    `stream_states` echoed back. It refuses a state file holding more than one GLOBAL state, since
    it could not know which log position to resume from."""
    globals_ = [s for s in state if s.get("type") == "GLOBAL"]
    if len(globals_) > 1:
        sys.stderr.write(f"refusing {len(globals_)} GLOBAL states: {json.dumps(globals_)}\n")
        sys.exit(4)
    after = globals_[0]["global"]["shared_state"]["position"] if globals_ else 0
    emit({"type": "LOG", "log": {"level": "INFO", "message": f"resuming from log position {after}"}})
    position = after
    names = [configured["stream"]["name"] for configured in catalog["streams"]]
    for name in names:
        for value, record in rows(name, config):
            if position_of(name, value) > after:
                emit({"type": "RECORD", "record": {"stream": name, "data": record, "emitted_at": EMITTED_AT}})
                position = max(position, position_of(name, value))
    emit(
        {
            "type": "STATE",
            "state": {
                "type": "GLOBAL",
                "global": {
                    "shared_state": {"position": position},
                    "stream_states": [
                        {"stream_descriptor": {"name": name}, "stream_state": {"read_up_to": position}}
                        for name in names
                    ],
                },
            },
        }
    )


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
    if config.get("overrides_file"):
        with open(config["overrides_file"]) as handle:
            config |= json.load(handle)
    if config.get("calls_file"):
        with open(config["calls_file"], "a") as handle:
            handle.write(args.command + "\n")
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
