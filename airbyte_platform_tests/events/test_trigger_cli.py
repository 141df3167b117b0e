"""Manual launch of `airbyte_event_driven_sync` with a connection id, through the receiver on loopback."""

from __future__ import annotations

import dagster as dg

from airbyte_platform.events.resources import WebhookInboxResource
from airbyte_platform.events.sensors.triggers import build_trigger_sensor
from airbyte_platform.events.trigger import main
from airbyte_platform.settings import load_settings

from .conftest import TRIGGER_TOKEN, free_port
from .sensor_harness import tick


def test_manual_launch_with_a_connection_id_becomes_one_run_of_that_connection(
    receiver, settings, instance, monkeypatch, capsys
):
    monkeypatch.setenv("WEBHOOK_TRIGGER_TOKEN", TRIGGER_TOKEN)  # read by the CLI through the settings
    cli_settings = load_settings({"WEBHOOK_TRIGGER_TOKEN": TRIGGER_TOKEN})
    argv = ["airbyte_event_driven_sync", "--connection-id", "hubspot_to_postgres", "--key", "manual-1"]
    assert main([*argv, "--url", receiver.url], settings=cli_settings) == 0
    assert capsys.readouterr().out.startswith('202 {"status":"accepted","event_id":"trigger-manual-1"}')
    assert main([*argv, "--url", receiver.url], settings=cli_settings) == 0  # pressed twice
    assert '"status":"duplicate"' in capsys.readouterr().out

    sensor = build_trigger_sensor("airbyte_event_driven_sync", settings, dg.DefaultSensorStatus.RUNNING)
    result = tick(sensor, instance, {"webhook_inbox": WebhookInboxResource(dsn=receiver.inbox_dsn)})
    [request] = result.run_requests
    assert request.run_key == "trigger-manual-1"
    assert request.run_config == {"connection_id": "hubspot_to_postgres"}


def test_an_unknown_connection_is_refused_with_what_is_known(receiver, monkeypatch, capsys):
    monkeypatch.setenv("WEBHOOK_TRIGGER_TOKEN", TRIGGER_TOKEN)
    code = main(
        ["airbyte_event_driven_sync", "--connection-id", "nope", "--url", receiver.url],
        settings=load_settings({"WEBHOOK_TRIGGER_TOKEN": TRIGGER_TOKEN}),
    )
    assert code == 1
    assert "422" in capsys.readouterr().out and receiver.stored() == []


def test_no_receiver_says_so(capsys):
    code = main(
        ["postgres_cdc_replication", "--url", f"http://127.0.0.1:{free_port()}"], settings=load_settings({})
    )
    assert code == 1 and "is `make dev` running?" in capsys.readouterr().err
