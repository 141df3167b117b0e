"""The lake code on `s3://` paths, against a loopback S3 (moto's server) reached through pyarrow's
S3 filesystem and the standard AWS variables, as in production: syncs publish, increment and fail
exactly as on a local folder."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from airbyte_platform.core.lake import lake_files, read_lake_table, read_manifest
from airbyte_platform.ingestion.embedded.runner import EmbeddedAirbyteRunner, EmbeddedSyncError
from airbyte_platform_tests.ingestion.conftest import ITEMS, make_runner

BUCKET = "biz-datalake-test"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_runner(s3_endpoint, tmp_path, monkeypatch) -> EmbeddedAirbyteRunner:
    # The AWS SDK's own variables, read by pyarrow's S3 filesystem (and boto3), not by our settings.
    for name, value in {
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3")
    if BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=BUCKET)
    return make_runner(tmp_path, f"s3://{BUCKET}/{tmp_path.name}", None)


def _objects(prefix: str) -> set[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return {item["Key"] for item in listed.get("Contents", [])}


def test_syncs_to_s3_publish_and_increment_without_duplicates(fake_connection, s3_runner):
    connection = fake_connection(streams=(ITEMS,))

    [first] = s3_runner.sync(connection)

    location = f"{s3_runner.lake_root}/airbyte/{connection.source}/items"
    assert first.location == location and location.startswith(f"s3://{BUCKET}/")
    assert (first.records_synced, first.total_rows) == (100, 100)
    manifest = read_manifest(location)
    assert manifest is not None and manifest["state"]["stream"]["stream_state"] == {"cursor": 100}
    prefix = location.removeprefix(f"s3://{BUCKET}/")
    published = {f"{prefix}/_manifest.json", *(f"{prefix}/{name}" for name in manifest["files"])}
    assert published <= _objects(prefix)

    [second] = s3_runner.sync(connection, config={"records": 130})
    assert (second.records_synced, second.total_rows) == (30, 130)
    [third] = s3_runner.sync(connection, config={"records": 130})
    assert (third.records_synced, third.total_rows) == (0, 130)
    assert sorted(read_lake_table(location).column("id").to_pylist()) == list(range(130))
    assert len(lake_files(location)) == 2


def test_a_failed_sync_to_s3_leaves_the_published_data_and_state(fake_connection, s3_runner):
    connection = fake_connection(streams=(ITEMS,))
    [first] = s3_runner.sync(connection)
    before = read_manifest(first.location), sorted(read_lake_table(first.location).column("id").to_pylist())
    prefix = first.location.removeprefix(f"s3://{BUCKET}/")
    objects = _objects(prefix)

    with pytest.raises(EmbeddedSyncError, match="stream 'items'"):
        s3_runner.sync(connection, config={"records": 500, "fail": {"mode": "crash", "after": 50}})

    after = read_manifest(first.location), sorted(read_lake_table(first.location).column("id").to_pylist())
    assert after == before
    assert _objects(prefix) == objects  # the failed sync's staged files are removed, not left behind
    [retried] = s3_runner.sync(connection, config={"records": 150})
    assert (retried.records_synced, retried.total_rows) == (50, 150)
