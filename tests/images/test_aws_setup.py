"""`manage.py aws_setup` against a real moto server (SQS and S3 over HTTP)."""

from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from kombu import Connection

from images.management.commands.aws_setup import sqs_queue_name
from tests.support.moto import aws_env, boto3_client, reset_moto
from tests.support.processes import BASE_DIR, child_env, free_port

REGION = "eu-west-1"


@pytest.fixture(autouse=True)
def aws(moto_url: str, settings, monkeypatch) -> str:
    """A clean moto, the process environment and settings pointed at it."""
    reset_moto(moto_url)
    for name, value in aws_env(moto_url, region=REGION).items():
        monkeypatch.setenv(name, value)
    settings.AWS_ENDPOINT_URL = moto_url
    settings.AWS_REGION = REGION
    settings.SQS_QUEUE_NAME = "imagegen"
    settings.SQS_DEAD_LETTER_QUEUE = "imagegen-dlq"
    settings.SQS_MAX_RECEIVE_COUNT = 5
    settings.SQS_VISIBILITY_TIMEOUT = 900
    settings.IMAGE_S3_BUCKET = "imagegen-images"
    settings.CSRF_TRUSTED_ORIGINS = ["https://images.example.com"]
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    return moto_url


def run_setup(*args: str) -> str:
    out = StringIO()
    call_command("aws_setup", *args, stdout=out)
    return out.getvalue()


def queue_attributes(sqs, name: str) -> dict[str, str]:
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]


def test_it_creates_the_dead_letter_queue_and_the_queue_with_its_redrive_policy(aws):
    output = run_setup("--queues-only")

    sqs = boto3_client("sqs", aws, region=REGION)
    dlq = queue_attributes(sqs, "imagegen-dlq")
    queue = queue_attributes(sqs, "imagegen")
    assert queue["VisibilityTimeout"] == "900"
    redrive = json.loads(queue["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq["QueueArn"]
    assert int(redrive["maxReceiveCount"]) == 5
    assert dlq["MessageRetentionPeriod"] == str(14 * 24 * 3600)
    assert "SQS dead-letter queue imagegen-dlq: created" in output
    assert "SQS queue imagegen: created" in output
    assert "S3" not in output


def test_a_message_received_more_than_max_receive_count_times_lands_in_the_dead_letter_queue(aws, settings):
    settings.SQS_MAX_RECEIVE_COUNT = 2
    run_setup("--queues-only")
    sqs = boto3_client("sqs", aws, region=REGION)
    queue_url = sqs.get_queue_url(QueueName="imagegen")["QueueUrl"]
    dlq_url = sqs.get_queue_url(QueueName="imagegen-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody="poison")

    receives = 0
    for _ in range(5):
        # VisibilityTimeout=0 hands the message straight back, like a worker that died on it.
        messages = sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=0, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            break
        receives += 1

    assert receives == 2
    dead = sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=0)["Messages"]
    assert [message["Body"] for message in dead] == ["poison"]


def test_it_creates_a_private_bucket_in_the_region_with_cors_for_direct_uploads(aws):
    output = run_setup("--bucket-only")

    s3 = boto3_client("s3", aws, region=REGION)
    assert s3.get_bucket_location(Bucket="imagegen-images")["LocationConstraint"] == REGION
    block = s3.get_public_access_block(Bucket="imagegen-images")["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    [rule] = s3.get_bucket_cors(Bucket="imagegen-images")["CORSRules"]
    assert sorted(rule["AllowedOrigins"]) == ["https://app.example.com", "https://images.example.com"]
    assert {"PUT", "POST"} <= set(rule["AllowedMethods"])
    assert "S3 bucket imagegen-images: created in eu-west-1" in output
    assert "SQS" not in output


def test_it_creates_a_bucket_in_us_east_1_without_a_location_constraint(aws, settings, monkeypatch):
    settings.AWS_REGION = "us-east-1"
    monkeypatch.setenv("AWS_REGION", "us-east-1")

    run_setup("--bucket-only")

    s3 = boto3_client("s3", aws, region="us-east-1")
    assert s3.get_bucket_location(Bucket="imagegen-images")["LocationConstraint"] in (None, "")


def test_running_it_twice_finds_everything_and_changes_nothing(aws):
    run_setup()
    sqs = boto3_client("sqs", aws, region=REGION)
    before = queue_attributes(sqs, "imagegen")

    output = run_setup()

    assert "created" not in output
    assert "SQS dead-letter queue imagegen-dlq: found" in output
    assert "SQS queue imagegen: found" in output
    assert "S3 bucket imagegen-images: found" in output
    assert "CORS found" in output
    assert queue_attributes(sqs, "imagegen")["RedrivePolicy"] == before["RedrivePolicy"]
    assert len(sqs.list_queues()["QueueUrls"]) == 2


def test_it_brings_a_drifted_queue_and_cors_back_in_line(aws, settings):
    run_setup()
    settings.SQS_VISIBILITY_TIMEOUT = 1200
    settings.SQS_MAX_RECEIVE_COUNT = 3
    settings.CORS_ALLOWED_ORIGINS = ["https://other.example.com"]

    output = run_setup()

    sqs = boto3_client("sqs", aws, region=REGION)
    queue = queue_attributes(sqs, "imagegen")
    assert queue["VisibilityTimeout"] == "1200"
    assert int(json.loads(queue["RedrivePolicy"])["maxReceiveCount"]) == 3
    assert "SQS queue imagegen: updated RedrivePolicy, VisibilityTimeout" in output
    [rule] = boto3_client("s3", aws, region=REGION).get_bucket_cors(Bucket="imagegen-images")["CORSRules"]
    assert sorted(rule["AllowedOrigins"]) == ["https://images.example.com", "https://other.example.com"]


def test_it_names_the_queue_as_celery_does_on_sqs(aws, settings):
    settings.SQS_QUEUE_NAME = "imagegen.jobs"
    settings.SQS_DEAD_LETTER_QUEUE = "imagegen.jobs.dlq"
    run_setup("--queues-only")
    sqs = boto3_client("sqs", aws, region=REGION)
    created = sorted(url.rsplit("/", 1)[1] for url in sqs.list_queues()["QueueUrls"])
    assert created == ["imagegen-jobs", "imagegen-jobs-dlq"]

    # kombu resolves the Celery queue name to the queue we made instead of creating its own.
    with Connection("sqs://", transport_options={"region": REGION, "is_secure": False}) as conn:
        url = conn.default_channel._new_queue("imagegen.jobs")
    assert url.endswith("/imagegen-jobs")
    assert len(sqs.list_queues()["QueueUrls"]) == 2


def test_queue_names_follow_the_broker_s_queue_name_prefix(settings):
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"queue_name_prefix": "prod-"}

    assert sqs_queue_name("imagegen.jobs") == "prod-imagegen-jobs"
    assert sqs_queue_name("jobs.fifo") == "prod-jobs.fifo"


def test_it_refuses_a_fifo_queue_with_a_standard_dead_letter_queue(settings):
    settings.SQS_QUEUE_NAME = "imagegen.fifo"

    with pytest.raises(CommandError, match="both be FIFO queues"):
        run_setup("--queues-only")


def test_it_skips_the_bucket_when_none_is_configured(aws, settings):
    settings.IMAGE_S3_BUCKET = ""

    output = run_setup()

    assert "SQS queue imagegen: created" in output
    assert "IMAGE_S3_BUCKET is not set" in output
    assert boto3_client("s3", aws, region=REGION).list_buckets()["Buckets"] == []


def test_bucket_only_without_a_bucket_is_an_error(settings):
    settings.IMAGE_S3_BUCKET = ""

    with pytest.raises(CommandError, match="IMAGE_S3_BUCKET is not set"):
        run_setup("--bucket-only")


def test_an_unreachable_endpoint_is_a_one_line_error(settings):
    settings.AWS_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(CommandError) as raised:
        run_setup("--queues-only")

    message = str(raised.value)
    assert "\n" not in message
    assert "Could not connect to the endpoint URL" in message
    assert settings.AWS_ENDPOINT_URL in message


def test_missing_credentials_are_a_one_line_error_naming_the_variables(monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    with pytest.raises(CommandError) as raised:
        run_setup("--queues-only")

    assert "\n" not in str(raised.value)
    assert "AWS_ACCESS_KEY_ID" in str(raised.value)


@pytest.mark.slow
def test_manage_py_prints_the_error_without_a_traceback(tmp_path):
    env = child_env(AWS_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}", AWS_ACCESS_KEY_ID="x")
    env["AWS_SECRET_ACCESS_KEY"] = "x"

    result = subprocess.run(
        [sys.executable, "manage.py", "aws_setup", "--queues-only"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "CommandError: aws_setup (SQS on http://127.0.0.1:" in result.stderr
