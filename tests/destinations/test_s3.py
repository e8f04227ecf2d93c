"""Uploads to an S3-compatible bucket: moto's server on loopback holds byte-identical files."""

from __future__ import annotations

import boto3
import pytest

from dashboard.destinations.channels import SendContext, get_channel
from dashboard.destinations.errors import DestinationError, OutboundRefused

from .servers import free_port
from .test_sftp import stored_files
from .test_webhook import sample_content

pytestmark = pytest.mark.nodb


@pytest.fixture(scope="module")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def bucket(endpoint: str, name: str):
    client = boto3.client(
        "s3",
        region_name="eu-west-1",
        endpoint_url=endpoint,
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="test-secret",
    )
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    return client


def config_for(endpoint: str, name: str) -> dict:
    return {
        "bucket": name,
        "prefix": "pos/exports/",
        "region": "eu-west-1",
        "endpoint_url": endpoint,
        "access_key_id": "AKIDTEST",
        "secret_access_key": "test-secret",
    }


def test_files_arrive_byte_identical_under_the_prefix(moto_endpoint, tmp_path, loopback_policy):
    client = bucket(moto_endpoint, "customer-bucket")
    files = stored_files(tmp_path)
    channel = get_channel("s3")
    config = config_for(moto_endpoint, "customer-bucket")
    channel.check(config, loopback_policy)
    channel.deliver(sample_content(files=files), config, SendContext(loopback_policy, "r:0"))
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket="customer-bucket")["Contents"])
    assert keys == ["pos/exports/sales_2026-11.csv", "pos/exports/sales_2026-11.xlsx"]
    for link in files:
        with link.open() as source:
            stored = client.get_object(Bucket="customer-bucket", Key=f"pos/exports/{link.file_name}")
            assert stored["Body"].read() == source.read()
    assert channel.target(config) == "s3://customer-bucket/pos/exports/"


def test_a_missing_bucket_is_a_clear_permanent_error(moto_endpoint, tmp_path, loopback_policy):
    with pytest.raises(DestinationError, match="NoSuchBucket") as failed:
        get_channel("s3").deliver(
            sample_content(files=stored_files(tmp_path)),
            config_for(moto_endpoint, "not-there"),
            SendContext(loopback_policy, "r:0"),
        )
    assert failed.value.retryable is False


def test_production_mode_refuses_a_loopback_or_http_endpoint(moto_endpoint, production_policy):
    with pytest.raises(OutboundRefused):
        get_channel("s3").check(config_for(moto_endpoint, "b"), production_policy)
    with pytest.raises(OutboundRefused, match="loopback"):
        get_channel("s3").check(
            config_for(moto_endpoint.replace("http://", "https://"), "b"), production_policy
        )
