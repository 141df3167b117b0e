from __future__ import annotations

import pytest

from airbyte_platform.core.catalog import CatalogError, declared_connections, parse_catalog
from airbyte_platform.core.naming import clean_name, unique_clean_names


def test_documented_connections_are_declared():
    names = {c.name for c in declared_connections()}
    assert names == {
        "stripe_to_s3",
        "stripe_to_postgres",
        "hubspot_to_postgres",
        "salesforce_to_postgres",
        "app_postgres_cdc",
    }


def test_fan_out_keys_include_the_destination():
    by_name = {c.name: c for c in declared_connections()}
    lake = by_name["stripe_to_s3"].asset_key("customers")
    postgres = by_name["stripe_to_postgres"].asset_key("customers")
    assert lake.path == ["lake", "stripe", "customers"]
    assert postgres.path == ["postgres", "stripe", "customers"]


def test_every_stream_has_a_unique_key():
    keys = [c.asset_key(s) for c in declared_connections() for s in c.streams]
    assert len(keys) == len(set(keys)) > 10


def _doc(**overrides):
    connection = {
        "name": "x",
        "source": "stripe",
        "destination": "lake",
        "connection_id_variable": "AIRBYTE_STRIPE_S3_CONNECTION_ID",
        "local": {"connector": "sample:stripe"},
        "streams": [{"name": "charges", "sync_mode": "incremental", "cursor_field": "created"}],
    }
    connection.update(overrides)
    return {"connections": [connection]}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"destination": "ftp"}, "destination must be one of"),
        ({"connection_id_variable": "AIRBYTE_NOPE"}, "AIRBYTE_NOPE"),
        ({"streams": [{"name": "charges", "sync_mode": "incremental"}]}, "needs a cursor_field"),
        ({"streams": [{"name": "charges", "sync_mode": "cdc"}]}, "sync_mode must be"),
        # A typo is an error, never a silent default (here: no primary key).
        (
            {"streams": [{"name": "charges", "primary_keys": ["id"]}]},
            r"x: streams\.charges\.primary_keys is not a known key",
        ),
        ({"local": {"connector": "sample:stripe", "inactivity_timeout_seconds": "90"}}, "positive number"),
        ({"freshness_hours": 0}, "freshness_hours: Input should be greater than 0"),
    ],
)
def test_bad_catalog_entries_say_what_to_fix(overrides, message):
    with pytest.raises(CatalogError, match=message):
        parse_catalog(_doc(**overrides))


def test_every_problem_of_the_file_is_listed_at_once_with_where_it_is():
    with pytest.raises(CatalogError) as raised:
        parse_catalog({"connections": [{"name": "half", "source": "stripe"}]})
    lines = str(raised.value).splitlines()
    assert lines == [
        f"connections.yaml: half: {field} is missing"
        for field in ("destination", "connection_id_variable", "local", "streams")
    ]


def test_duplicate_keys_are_rejected():
    doc = _doc()
    doc["connections"].append(dict(doc["connections"][0], name="y"))
    with pytest.raises(CatalogError, match="declared twice: lake/stripe/charges"):
        parse_catalog(doc)


@pytest.mark.parametrize(
    ("name", "cleaned"),
    [
        ("Account", "account"),
        ("public.order-items", "public_order_items"),
        ("1st stream", "_1st_stream"),
        ("Événements clés", "evenements_cles"),
        ("select", "select"),
    ],
)
def test_clean_name(name, cleaned):
    assert clean_name(name) == cleaned


def test_colliding_names_stay_unique_and_order_independent():
    names = ["Order Items", "order_items", "order-items", "users"]
    mapping = unique_clean_names(names)
    assert len(set(mapping.values())) == 4
    assert mapping["users"] == "users"
    assert unique_clean_names(reversed(names)) == mapping
    assert all(v.startswith("order_items_") for k, v in mapping.items() if k != "users")


def test_unnameable_names_still_get_a_key():
    assert clean_name("???").startswith("_")
