"""The sample Airbyte-protocol sources: protocol output, catalog vs connections.yaml, determinism,
relationships across streams, incremental reads and checkpoints, failure injection, speed."""

from __future__ import annotations

import io
import itertools
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from airbyte_protocol.models import AirbyteMessage

from airbyte_platform.core.catalog import declared_connections
from airbyte_platform.ingestion.sample_sources.cli import main
from airbyte_platform.ingestion.sample_sources.read import CHUNK_RECORDS
from airbyte_platform.ingestion.sample_sources.shapes import SHAPES

MODULE = "airbyte_platform.ingestion.sample_sources"


class Source:
    """Runs one shape's commands in-process (the CLI's `main`) with input files in a temporary folder."""

    def __init__(self, shape: str, folder: Path):
        self.shape = shape
        self.folder = folder

    def _file(self, name: str, document: Any) -> str:
        path = self.folder / name
        path.write_text(json.dumps(document))
        return str(path)

    def run(self, *args: str) -> tuple[int, bytes]:
        out = io.BytesIO()
        code = main([self.shape, *args], out)
        return code, out.getvalue()

    def messages(self, command: str, config: Any = None, **files: Any) -> list[dict[str, Any]]:
        args = [command]
        if config is not None:
            args += ["--config", self._file(f"{command}-config.json", config)]
        for name, document in files.items():
            if document is not None:
                args += [f"--{name}", self._file(f"{command}-{name}.json", document)]
        code, output = self.run(*args)
        messages = [json.loads(line) for line in output.splitlines()]
        assert code == 0, messages[-1:]
        return messages

    def catalog(self, config: Any = None) -> list[dict[str, Any]]:
        return self.messages("discover", config or {"records": 1})[0]["catalog"]["streams"]

    def configured(self, streams: list[str] | None = None, sync_mode: str = "incremental") -> dict[str, Any]:
        return {
            "streams": [
                {
                    "stream": stream,
                    "sync_mode": sync_mode,
                    "destination_sync_mode": "append",
                    "cursor_field": stream["default_cursor_field"],
                }
                for stream in self.catalog()
                if streams is None or stream["name"] in streams
            ]
        }

    def read(
        self, config: dict[str, Any], streams: list[str] | None = None, state: Any = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        return self.messages("read", config, catalog=self.configured(streams, **kwargs), state=state)


def records_by_stream(messages: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for message in messages:
        if message["type"] == "RECORD":
            found[message["record"]["stream"]].append(message["record"]["data"])
    return found


def states(messages: list[dict[str, Any]], stream: str) -> list[dict[str, Any]]:
    return [
        m["state"]
        for m in messages
        if m["type"] == "STATE" and m["state"]["stream"]["stream_descriptor"]["name"] == stream
    ]


@pytest.fixture
def source(tmp_path: Path):
    return lambda shape: Source(shape, tmp_path)


# ------------------------------------------------------------------------------------ the catalog


def test_streams_keys_and_cursors_match_connections_yaml(source):
    sample_connections = [c for c in declared_connections() if c.local.connector.startswith("sample:")]
    assert {c.local.connector.removeprefix("sample:") for c in sample_connections} == set(SHAPES)
    for connection in sample_connections:
        offered = {s["name"]: s for s in source(connection.local.connector.removeprefix("sample:")).catalog()}
        for stream in connection.streams:
            entry = offered[stream.name]
            where = f"{connection.name}.{stream.name}"
            assert entry["source_defined_primary_key"] == [list(stream.primary_key)], where
            assert entry["default_cursor_field"] == [stream.cursor_field], where
            assert entry.get("namespace") == stream.namespace, where
            assert stream.sync_mode in entry["supported_sync_modes"], where
            properties = entry["json_schema"]["properties"]
            assert {*stream.primary_key, stream.cursor_field} <= set(properties), where


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_spec_check_discover_speak_the_airbyte_protocol(source, shape):
    sample = source(shape)
    spec, status, catalog = (
        sample.messages("spec")[0],
        sample.messages("check", {"records": 10, "seed": 1})[0],
        sample.messages("discover", {"records": 10})[0],
    )
    for message in (spec, status, catalog):
        AirbyteMessage.model_validate(message)
    jsonschema.Draft7Validator.check_schema(spec["spec"]["connectionSpecification"])
    assert status["connectionStatus"] == {"status": "SUCCEEDED"}
    for stream in catalog["catalog"]["streams"]:
        jsonschema.Draft7Validator.check_schema(stream["json_schema"])
        assert stream["supported_sync_modes"] == ["full_refresh", "incremental"]


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"records": -1}, "records"),
        ({"records": "ten"}, "records"),
        ({"records": True}, "records"),
        ({"records": 10, "seeds": 3}, "seeds"),
        ({"records": 10, "state_every": 0}, "state_every"),
    ],
)
def test_check_fails_with_a_message_naming_the_bad_setting(source, config, named):
    status = source("stripe").messages("check", config)[0]["connectionStatus"]
    assert status["status"] == "FAILED"
    assert named in status["message"]


def test_read_with_a_bad_config_or_catalog_reports_a_trace_error(source):
    stripe = source("stripe")
    code, output = stripe.run(
        "read", "--config", stripe._file("c.json", {"records": -5}), "--catalog", stripe._file("k.json", {})
    )
    error = json.loads(output.splitlines()[-1])
    assert code == 1 and error["trace"]["type"] == "ERROR"
    assert "records" in error["trace"]["error"]["message"]

    catalog = {"streams": [{"stream": {"name": "payouts"}, "sync_mode": "full_refresh"}]}
    code, output = stripe.run(
        "read",
        "--config",
        stripe._file("c.json", {"records": 5}),
        "--catalog",
        stripe._file("k.json", catalog),
    )
    message = json.loads(output.splitlines()[-1])["trace"]["error"]["message"]
    assert code == 1 and "payouts" in message and "charges" in message


def test_a_malformed_state_value_names_the_stream(source):
    stripe = source("stripe")
    bad_state = [
        {
            "type": "STREAM",
            "stream": {"stream_descriptor": {"name": "charges"}, "stream_state": {"created": "yesterday"}},
        }
    ]
    code, output = stripe.run(
        "read",
        "--config",
        stripe._file("c.json", {"records": 5}),
        "--catalog",
        stripe._file("k.json", stripe.configured(["charges"])),
        "--state",
        stripe._file("s.json", bad_state),
    )
    error = json.loads(output.splitlines()[-1])["trace"]["error"]
    assert code == 1
    assert error["stream_descriptor"] == {"name": "charges"} and "yesterday" in error["message"]


# ------------------------------------------------------------------------------------- the records


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_records_are_valid_protocol_and_match_their_schemas(source, shape):
    sample = source(shape)
    schemas = {s["name"]: s["json_schema"] for s in sample.catalog()}
    messages = sample.read({"records": 120, "seed": 3})
    for message in messages:
        AirbyteMessage.model_validate(message)
    records = records_by_stream(messages)
    assert set(records) == set(schemas)
    for stream, rows in records.items():
        validator = jsonschema.Draft7Validator(schemas[stream])
        for row in rows:
            errors = [e.message for e in validator.iter_errors(row)]
            assert not errors, f"{shape}.{stream}: {errors[:3]}"
            assert set(row) == set(schemas[stream]["properties"]), f"{shape}.{stream}"
        keys = [row[SHAPES[shape].stream(stream).primary_key] for row in rows]
        assert len(keys) == len(set(keys)), f"{shape}.{stream}: duplicate primary keys"


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_output_is_deterministic_and_depends_on_the_seed(source, shape):
    sample = source(shape)
    catalog = sample._file("catalog.json", sample.configured())

    def read(config: dict[str, Any]) -> bytes:
        return sample.run("read", "--config", sample._file("config.json", config), "--catalog", catalog)[1]

    first = read({"records": 60, "seed": 5})
    assert first == read({"records": 60, "seed": 5})
    assert first != read({"records": 60, "seed": 6})


def test_a_bigger_source_only_appends_records(source):
    """Record i does not depend on the size: growing `records` is new data arriving, as in a real source."""
    stripe = source("stripe")
    small = records_by_stream(stripe.read({"records": 50, "seed": 2}))
    large = records_by_stream(stripe.read({"records": CHUNK_RECORDS + 50, "seed": 2}))
    for stream, rows in small.items():
        assert large[stream][: len(rows)] == rows, stream
    assert len(large["charges"]) == CHUNK_RECORDS + 50
    assert len(large["refunds"]) == (CHUNK_RECORDS + 50 - 3 + 9) // 10


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_cursors_increase_strictly_across_chunks(source, shape):
    sample = source(shape)
    records = records_by_stream(sample.read({"records": CHUNK_RECORDS + 10, "seed": 9}))
    for stream in SHAPES[shape].streams:
        values = [stream.cursor.parse(row[stream.cursor_field]) for row in records[stream.name]]
        assert all(a < b for a, b in itertools.pairwise(values)), stream.name


# ------------------------------------------------------------------------------------ relationships


def test_stripe_streams_refer_to_each_other(source):
    records = records_by_stream(source("stripe").read({"records": 400, "seed": 7}))
    customers = {c["id"]: c for c in records["customers"]}
    charges = {c["id"]: c for c in records["charges"]}
    invoices = {i["id"]: i for i in records["invoices"]}
    subscriptions = {s["id"] for s in records["subscriptions"]}
    for charge in charges.values():
        customer = customers[charge["customer"]]
        assert customer["created"] <= charge["created"]
        assert charge["currency"] == customer["currency"]
        assert charge["status"] in ("succeeded", "pending", "failed")
        assert 0 <= charge["amount_refunded"] <= charge["amount"]
        if charge["invoice"]:
            invoice = invoices[charge["invoice"]]
            assert invoice["charge"] == charge["id"] and invoice["customer"] == charge["customer"]
            assert invoice["amount_paid"] == charge["amount"] and charge["paid"]
    paid = [i for i in invoices.values() if i["status"] == "paid"]
    assert paid and all(i["charge"] in charges for i in paid)
    assert all(i["customer"] in customers for i in invoices.values())
    assert all(i["subscription"] in subscriptions for i in invoices.values() if i["subscription"])
    assert all(s["customer"] in customers for s in records["subscriptions"])
    assert records["refunds"]
    for refund in records["refunds"]:
        charge = charges[refund["charge"]]
        assert refund["amount"] == charge["amount_refunded"] > 0
        assert refund["created"] > charge["created"]
        assert charge["refunded"] == (refund["amount"] == charge["amount"])
    assert sum(c["amount_refunded"] > 0 for c in charges.values()) == len(records["refunds"])


def test_hubspot_associations_point_at_existing_records(source):
    records = records_by_stream(source("hubspot").read({"records": 300, "seed": 11}))
    companies = {c["id"]: c for c in records["companies"]}
    contacts = {c["id"]: c for c in records["contacts"]}
    for contact in contacts.values():
        assert contact["companies"] == [contact["properties_associatedcompanyid"]]
        assert companies[contact["companies"][0]]["properties_name"] == contact["properties"]["company"]
    for deal in records["deals"]:
        (contact_id,) = deal["contacts"]
        assert deal["companies"] == contacts[contact_id]["companies"]
        assert deal["properties"]["amount"] == deal["properties_amount"]
        assert deal["properties_pipeline"] == "default" and deal["properties_dealstage"]
        assert deal["properties_closedate"] >= deal["properties_createdate"]


def _salesforce_checksum(fifteen: str) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    return "".join(
        alphabet[sum(1 << bit for bit, char in enumerate(fifteen[block : block + 5]) if char.isupper())]
        for block in (0, 5, 10)
    )


def test_salesforce_ids_and_lookups_are_consistent(source):
    records = records_by_stream(source("salesforce").read({"records": 300, "seed": 13}))
    accounts = {a["Id"] for a in records["Account"]}
    contacts = {c["Id"]: c for c in records["Contact"]}
    for stream, prefix in (("Account", "001"), ("Contact", "003"), ("Opportunity", "006"), ("Lead", "00Q")):
        for row in records[stream]:
            assert len(row["Id"]) == 18 and row["Id"].startswith(prefix)
            assert row["Id"][15:] == _salesforce_checksum(row["Id"][:15])
    assert all(c["AccountId"] in accounts for c in contacts.values())
    for opportunity in records["Opportunity"]:
        assert opportunity["AccountId"] in accounts
        assert opportunity["IsWon"] == (opportunity["StageName"] == "Closed Won")
        assert opportunity["IsClosed"] == opportunity["StageName"].startswith("Closed")
    converted = [lead for lead in records["Lead"] if lead["IsConverted"]]
    assert converted
    for lead in converted:
        assert contacts[lead["ConvertedContactId"]]["AccountId"] == lead["ConvertedAccountId"]


def test_app_postgres_orders_add_up_to_their_items(source):
    records = records_by_stream(source("app_postgres").read({"records": 200, "seed": 17}))
    users = {u["id"] for u in records["users"]}
    items_by_order: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for item in records["order_items"]:
        items_by_order[item["order_id"]].append(item)
    assert len(records["order_items"]) == 3 * len(records["orders"])
    for order in records["orders"]:
        assert order["user_id"] in users
        items = items_by_order[order["id"]]
        assert len(items) == 3
        assert order["total_amount"] == pytest.approx(sum(i["quantity"] * i["unit_price"] for i in items))


# ------------------------------------------------------------------------------------- incremental


def test_incremental_read_checkpoints_and_resumes_strictly_after_the_state(source):
    app = source("app_postgres")
    config = {"records": 100, "seed": 1, "state_every": 30}
    full = app.read(config, ["orders"])
    orders = records_by_stream(full)["orders"]
    checkpoints = states(full, "orders")
    # every 30 records, then the end of the stream; each covers exactly the records before it
    assert [s["sourceStats"]["recordCount"] for s in checkpoints] == [30, 30, 30, 10]
    assert [s["stream"]["stream_state"]["updated_at"] for s in checkpoints] == [
        orders[i]["updated_at"] for i in (29, 59, 89, 99)
    ]
    assert checkpoints[0]["stream"]["stream_descriptor"] == {"name": "orders", "namespace": "public"}

    resumed = app.read(config, ["orders"], state=[checkpoints[1]])
    assert records_by_stream(resumed)["orders"] == orders[60:]

    # a legacy `{stream: state}` document is understood too, and a finished stream re-emits its state
    done = app.read(config, ["orders"], state={"orders": checkpoints[-1]["stream"]["stream_state"]})
    assert records_by_stream(done) == {}
    assert states(done, "orders")[-1]["stream"]["stream_state"] == checkpoints[-1]["stream"]["stream_state"]


def test_state_cursor_between_records_and_far_into_a_huge_source(source):
    """Resuming finds its first record by bisection: a state near the end of 50M records is instant."""
    stripe = source("stripe")
    stream = SHAPES["stripe"].stream("charges")
    total = 50_000_000
    cutoff = stream.cursor_value(0, total - 6)
    state = [
        {
            "type": "STREAM",
            "stream": {"stream_descriptor": {"name": "charges"}, "stream_state": {"created": cutoff}},
        }
    ]
    messages = stripe.read({"records": total}, ["charges"], state=state)
    rows = records_by_stream(messages)["charges"]
    assert len(rows) == 5 and all(row["created"] > cutoff for row in rows)


def test_full_refresh_ignores_state_and_emits_states_only_for_configured_streams(source):
    hubspot = source("hubspot")
    first = hubspot.read({"records": 40}, ["deals"])
    state = states(first, "deals")
    assert state and {
        m["state"]["stream"]["stream_descriptor"]["name"] for m in first if m["type"] == "STATE"
    } == {"deals"}

    again = hubspot.read({"records": 40}, ["deals"], state=state, sync_mode="full_refresh")
    assert len(records_by_stream(again)["deals"]) == 40
    assert not [m for m in again if m["type"] == "STATE"]


# -------------------------------------------------------------------------------- as a subprocess


def test_fail_after_crashes_the_process_after_exactly_n_records(tmp_path):
    stripe = Source("stripe", tmp_path)
    config = stripe._file("config.json", {"records": 500, "fail_after": 123, "state_every": 50})
    catalog = stripe._file("catalog.json", stripe.configured(["customers", "charges"]))
    completed = subprocess.run(
        [sys.executable, "-m", MODULE, "stripe", "read", "--config", config, "--catalog", catalog],
        capture_output=True,
        check=False,
        timeout=60,
    )
    messages = [json.loads(line) for line in completed.stdout.splitlines()]
    assert completed.returncode == 1
    assert sum(m["type"] == "RECORD" for m in messages) == 123
    assert len(states(messages, "customers")) == 2  # after records 50 and 100
    assert b"fail_after" in completed.stderr


def test_read_emits_exactly_the_configured_records(tmp_path):
    """The count only: the emission rate is measured by bench/embedded_sync.py (`raw`), not asserted here."""
    stripe = Source("stripe", tmp_path)
    config = stripe._file("config.json", {"records": 5_000})
    catalog = stripe._file("catalog.json", stripe.configured(["charges"]))
    completed = subprocess.run(
        [sys.executable, "-m", MODULE, "stripe", "read", "--config", config, "--catalog", catalog],
        stdout=subprocess.PIPE,
        check=True,
        timeout=120,
    )
    assert completed.stdout.count(b'"type":"RECORD"') == 5_000
