"""Create the SQS queues and the S3 bucket Imagegen needs, idempotently.

``manage.py aws_setup`` creates the dead-letter queue, then the job queue with
a redrive policy pointing at it, then the private image bucket (public access
blocked, CORS for direct browser uploads). Run it again at any time: what
exists is reported as found, and settings that drifted (visibility timeout,
redrive policy, CORS origins) are brought back in line.

It targets ``AWS_ENDPOINT_URL`` when set (LocalStack, moto), real AWS
otherwise; the docker-compose ``aws-setup`` service and local development use
it in place of ``awslocal`` scripts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from kombu.transport.SQS import CHARS_REPLACE_TABLE

# A dead letter is kept as long as SQS allows (14 days) so a failure can still
# be inspected and redriven after a long weekend.
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
CORS_METHODS = ["GET", "HEAD", "PUT", "POST"]
CORS_MAX_AGE_SECONDS = 3000

# Fail fast: an unreachable endpoint should be one line after a few seconds,
# not a minute of silent retries.
BOTO_CONFIG = Config(connect_timeout=5, read_timeout=30, retries={"mode": "standard", "max_attempts": 2})


@dataclass(frozen=True)
class QueueNames:
    queue: str
    dead_letter_queue: str


def sqs_queue_name(name: str) -> str:
    """The SQS name kombu uses for a Celery queue name: prefix added, ``.`` → ``-``, other punctuation → ``_``."""
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("queue_name_prefix", "")
    full = prefix + name
    if full.endswith(".fifo"):
        return full[: -len(".fifo")].translate(CHARS_REPLACE_TABLE) + ".fifo"
    return full.translate(CHARS_REPLACE_TABLE)


def configured_queue_names() -> QueueNames:
    """The job queue (as Celery names it on SQS) and its dead-letter queue, from settings."""
    return QueueNames(
        queue=sqs_queue_name(settings.SQS_QUEUE_NAME),
        dead_letter_queue=sqs_queue_name(settings.SQS_DEAD_LETTER_QUEUE),
    )


def cors_origins() -> list[str]:
    """Origins allowed to upload straight to the bucket: the site itself and the API's CORS clients."""
    return sorted(set(settings.CSRF_TRUSTED_ORIGINS) | set(settings.CORS_ALLOWED_ORIGINS))


def _client_error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _queue_url(sqs: Any, name: str) -> str | None:
    try:
        return sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except ClientError as exc:
        if _client_error_code(exc) in {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}:
            return None
        raise


def ensure_queue(*, sqs: Any, name: str, attributes: dict[str, str]) -> tuple[str, str]:
    """Create queue ``name`` with ``attributes``, or bring an existing one's attributes in line.

    Returns ``(queue_url, outcome)``, outcome being ``created``, ``found`` or ``updated <attribute names>``.
    """
    if name.endswith(".fifo"):
        attributes = {**attributes, "FifoQueue": "true"}
    url = _queue_url(sqs, name)
    if url is None:
        return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"], "created"
    # FifoQueue can only be chosen at creation; everything else can be changed.
    wanted = {key: value for key, value in attributes.items() if key != "FifoQueue"}
    current = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(wanted))["Attributes"]
    drifted = {key: value for key, value in wanted.items() if not _same_attribute(key, current.get(key), value)}
    if not drifted:
        return url, "found"
    sqs.set_queue_attributes(QueueUrl=url, Attributes=drifted)
    return url, f"updated {', '.join(sorted(drifted))}"


def _same_attribute(key: str, current: str | None, wanted: str) -> bool:
    if current is None:
        return False
    if key == "RedrivePolicy":
        # SQS hands the policy back re-serialised (maxReceiveCount as a number).
        have, want = json.loads(current), json.loads(wanted)
        return have.get("deadLetterTargetArn") == want["deadLetterTargetArn"] and str(
            have.get("maxReceiveCount")
        ) == str(want["maxReceiveCount"])
    return str(current) == str(wanted)


def ensure_queues(*, sqs: Any, names: QueueNames, max_receive_count: int, visibility_timeout: int) -> list[str]:
    """The dead-letter queue first (its ARN goes into the redrive policy), then the job queue. Returns report lines."""
    if names.queue.endswith(".fifo") != names.dead_letter_queue.endswith(".fifo"):
        raise CommandError(
            f"SQS_QUEUE_NAME ({names.queue}) and SQS_DEAD_LETTER_QUEUE ({names.dead_letter_queue}) must both be "
            "FIFO queues (ending in .fifo) or both standard queues"
        )
    dlq_url, dlq_outcome = ensure_queue(
        sqs=sqs,
        name=names.dead_letter_queue,
        attributes={"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)},
    )
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)})
    queue_url, queue_outcome = ensure_queue(
        sqs=sqs,
        name=names.queue,
        attributes={"VisibilityTimeout": str(visibility_timeout), "RedrivePolicy": redrive},
    )
    return [
        f"SQS dead-letter queue {names.dead_letter_queue}: {dlq_outcome} ({dlq_url})",
        f"SQS queue {names.queue}: {queue_outcome} ({queue_url}); visibility timeout {visibility_timeout}s, "
        f"dead-lettered to {names.dead_letter_queue} after {max_receive_count} receives",
    ]


def _bucket_exists(s3: Any, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 404 or _client_error_code(exc) in {"404", "NoSuchBucket", "NotFound"}:
            return False
        if status == 403:
            raise CommandError(
                f"S3 bucket {bucket} exists but these credentials may not use it (403): "
                "bucket names are global, pick another IMAGE_S3_BUCKET or fix the permissions"
            ) from None
        raise
    return True


def ensure_bucket(*, s3: Any, bucket: str, region: str, origins: list[str]) -> list[str]:
    """Create the private image bucket (or find it), block public access and set CORS. Returns report lines."""
    lines = []
    if _bucket_exists(s3, bucket):
        lines.append(f"S3 bucket {bucket}: found")
    else:
        params: dict[str, Any] = {"Bucket": bucket}
        if region != "us-east-1":  # us-east-1 is the one region that refuses an explicit constraint
            params["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            s3.create_bucket(**params)
            lines.append(f"S3 bucket {bucket}: created in {region}")
        except ClientError as exc:
            if _client_error_code(exc) != "BucketAlreadyOwnedByYou":
                raise
            lines.append(f"S3 bucket {bucket}: found")

    # Objects are only ever reached through presigned URLs or CloudFront (OAC),
    # never through public ACLs or bucket policies.
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    lines.append(f"S3 bucket {bucket}: public access blocked, ACLs disabled")
    lines.append(_ensure_cors(s3, bucket, origins))
    return lines


def _ensure_cors(s3: Any, bucket: str, origins: list[str]) -> str:
    if not origins:
        return (
            f"S3 bucket {bucket}: CORS left as it is (no CSRF_TRUSTED_ORIGINS or CORS_ALLOWED_ORIGINS set, "
            "so browsers cannot upload to it directly)"
        )
    rule = {
        "AllowedOrigins": origins,
        "AllowedMethods": CORS_METHODS,
        # Presigned PUTs carry Content-Type and x-amz-* headers chosen by the signer.
        "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag"],
        "MaxAgeSeconds": CORS_MAX_AGE_SECONDS,
    }
    try:
        current = s3.get_bucket_cors(Bucket=bucket).get("CORSRules", [])
    except ClientError as exc:
        if _client_error_code(exc) != "NoSuchCORSConfiguration":
            raise
        current = []
    if _same_cors(current, rule):
        return f"S3 bucket {bucket}: CORS found ({', '.join(origins)})"
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [rule]})
    return f"S3 bucket {bucket}: CORS set: {'/'.join(CORS_METHODS)} from {', '.join(origins)}"


def _same_cors(current: list[dict[str, Any]], rule: dict[str, Any]) -> bool:
    if len(current) != 1:
        return False
    have = current[0]
    return (
        all(
            sorted(have.get(key, [])) == sorted(rule[key])
            for key in ("AllowedOrigins", "AllowedMethods", "AllowedHeaders", "ExposeHeaders")
        )
        and int(have.get("MaxAgeSeconds", 0)) == rule["MaxAgeSeconds"]
    )


def aws_client(service: str) -> Any:
    """A boto3 client for ``service`` in ``AWS_REGION``, on ``AWS_ENDPOINT_URL`` when set."""
    import boto3

    return boto3.session.Session().client(
        service,
        region_name=settings.AWS_REGION,
        endpoint_url=settings.AWS_ENDPOINT_URL or None,
        config=BOTO_CONFIG,
    )


def _describe(exc: Exception) -> str:
    if isinstance(exc, NoCredentialsError):
        return (
            "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(any value for LocalStack or moto), or run with an IAM role"
        )
    message = " ".join(str(exc).split())  # one line, whatever botocore put in it
    if isinstance(exc, ClientError):
        return f"AWS refused: {message}"
    return message


class Command(BaseCommand):
    help = (
        "Create the SQS queue with its dead-letter queue and the private S3 image bucket, if they do not exist "
        "(idempotent; uses AWS_ENDPOINT_URL when set)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        only = parser.add_mutually_exclusive_group()
        only.add_argument("--queues-only", action="store_true", help="Only the SQS queue and dead-letter queue.")
        only.add_argument("--bucket-only", action="store_true", help="Only the S3 bucket (IMAGE_S3_BUCKET).")

    def handle(self, *args: Any, queues_only: bool = False, bucket_only: bool = False, **options: Any) -> None:
        if bucket_only and not settings.IMAGE_S3_BUCKET:
            raise CommandError("IMAGE_S3_BUCKET is not set: there is no bucket to create")
        target = settings.AWS_ENDPOINT_URL or f"AWS {settings.AWS_REGION}"
        step = "SQS"
        try:
            if not bucket_only:
                lines = ensure_queues(
                    sqs=aws_client("sqs"),
                    names=configured_queue_names(),
                    max_receive_count=settings.SQS_MAX_RECEIVE_COUNT,
                    visibility_timeout=settings.SQS_VISIBILITY_TIMEOUT,
                )
                self._report(lines)
            if queues_only:
                return
            step = "S3"
            if not settings.IMAGE_S3_BUCKET:
                self.stdout.write("S3: IMAGE_S3_BUCKET is not set, so images stay on local storage: no bucket created")
                return
            lines = ensure_bucket(
                s3=aws_client("s3"),
                bucket=settings.IMAGE_S3_BUCKET,
                region=settings.AWS_REGION,
                origins=cors_origins(),
            )
            self._report(lines)
        except (BotoCoreError, ClientError) as exc:
            raise CommandError(f"aws_setup ({step} on {target}): {_describe(exc)}") from None

    def _report(self, lines: list[str]) -> None:
        for line in lines:
            self.stdout.write(line)
