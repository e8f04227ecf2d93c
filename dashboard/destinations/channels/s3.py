"""Upload each file to the customer's S3-compatible bucket (boto3): bucket, prefix, region,
endpoint (AWS when empty) and the customer's access keys."""

from __future__ import annotations

from typing import Any

from dashboard.destinations.channels.base import Channel, FieldSpec, SendContext
from dashboard.destinations.content import DeliveryContent
from dashboard.destinations.errors import DestinationError
from dashboard.destinations.outbound import OutboundPolicy, check_url

# Answers that mean "your settings are wrong", not "try later".
_PERMANENT = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "NoSuchBucket"}


def object_key(prefix: str, file_name: str) -> str:
    prefix = (prefix or "").strip("/")
    return f"{prefix}/{file_name}" if prefix else file_name


class S3Channel(Channel):
    kind = "s3"
    label = "S3"
    fields = (
        FieldSpec("bucket", max_length=63),
        FieldSpec("prefix", required=False, default="", max_length=500),
        FieldSpec("region", required=False, default="", max_length=50),
        FieldSpec("endpoint_url", required=False, default="", max_length=500),
        FieldSpec("access_key_id", max_length=200),
        FieldSpec("secret_access_key", secret=True, max_length=200),
    )

    def target(self, config: dict[str, Any]) -> str:
        key = object_key(config.get("prefix") or "", "")
        return f"s3://{config.get('bucket')}/{key}"

    def check(self, config: dict[str, Any], policy: OutboundPolicy) -> dict[str, Any]:
        if config.get("endpoint_url"):
            check_url(config["endpoint_url"], policy)
        return {}

    def _client(self, config: dict[str, Any], policy: OutboundPolicy):
        # boto3 is imported where an upload needs it: it costs every command a tenth of a second.
        import boto3
        from botocore.config import Config as BotoConfig

        return boto3.session.Session().client(
            "s3",
            region_name=config.get("region") or "us-east-1",
            endpoint_url=config.get("endpoint_url") or None,
            aws_access_key_id=config["access_key_id"],
            aws_secret_access_key=config["secret_access_key"],
            config=BotoConfig(
                connect_timeout=policy.timeout,
                read_timeout=policy.timeout,
                retries={"max_attempts": 1},  # the outbox retries, with backoff
                s3={"addressing_style": "path"} if config.get("endpoint_url") else None,
            ),
        )

    def deliver(self, content: DeliveryContent, config: dict[str, Any], send: SendContext) -> None:
        # The endpoint is checked again now (its name may point elsewhere since it was saved).
        self.check(config, send.policy)
        from botocore.exceptions import BotoCoreError, ClientError

        client = self._client(config, send.policy)
        try:
            for link in content.files:
                if link.open is None:
                    raise DestinationError(f"{link.file_name} is no longer stored.")
                with link.open() as source:
                    client.upload_fileobj(
                        source, config["bucket"], object_key(config.get("prefix") or "", link.file_name)
                    )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise DestinationError(
                f"The bucket refused the upload ({code or 'error'}).", retryable=code not in _PERMANENT
            ) from exc
        except BotoCoreError as exc:
            raise DestinationError(
                f"The upload to the bucket failed ({type(exc).__name__}).", retryable=True
            ) from exc
