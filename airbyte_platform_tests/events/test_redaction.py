"""A DSN's password never reaches an error message, even when libpq quotes the connection string."""

from __future__ import annotations

import dagster as dg
import pytest

from airbyte_platform.events.cdc import CdcSourceResource, CdcSourceUnreachable, build_cdc_lag_sensor
from airbyte_platform.events.inbox import InboxError, open_inbox
from airbyte_platform.events.redact import redact_dsn

from .sensor_harness import tick

PASSWORD = "pw-4f9e1c"
MALFORMED = f"postgresql://cdc:{PASSWORD}@[::1/app"  # libpq answers: '... in URI: "<the whole DSN>"'


def test_redact_masks_uri_and_keyword_passwords():
    assert redact_dsn(f'in URI: "{MALFORMED}"') == 'in URI: "postgresql://cdc:***@[::1/app"'
    assert redact_dsn(f"host=db password={PASSWORD} user=x") == "host=db password=*** user=x"
    assert redact_dsn(f"password = '{PASSWORD} with space' port=1") == "password = *** port=1"
    assert redact_dsn(f"failed for {MALFORMED}", MALFORMED) == "failed for <DSN>"


def test_cdc_source_with_a_malformed_dsn_fails_without_the_password(instance):
    resource = CdcSourceResource(dsn=MALFORMED, connect_timeout_seconds=2)
    with pytest.raises(CdcSourceUnreachable) as raised:
        resource.read_slot()
    assert PASSWORD not in str(raised.value) and raised.value.__cause__ is None
    result = tick(build_cdc_lag_sensor(dg.DefaultSensorStatus.RUNNING), instance, {"cdc_source": resource})
    assert result.run_requests == [] and PASSWORD not in (result.skip_message or "")


def test_postgres_inbox_with_a_malformed_dsn_fails_without_the_password():
    with pytest.raises(InboxError) as raised:
        open_inbox(MALFORMED)
    assert "WEBHOOK_INBOX_DSN" in str(raised.value) and PASSWORD not in str(raised.value)
