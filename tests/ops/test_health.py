"""Health and readiness: /_/health never asks S3; /_/ready says in one line why S3 is not usable, cached."""

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from app import create_app
from app.ops.health import get_health, mark_draining, not_ready_reason
from app.s3 import create_client
from tests.conftest import BUCKET
from tests.servers import canned_s3_answer, free_port


def client_error(status, code):
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject")


@pytest.mark.parametrize(
    "error, starts_with",
    [
        (client_error(404, "NoSuchKey"), None),
        (client_error(416, "InvalidRange"), None),
        (client_error(404, "NoSuchBucket"), "no such bucket: "),
        (client_error(403, "AccessDenied"), "denied: "),
        (client_error(403, "InvalidAccessKeyId"), "denied: "),
        (client_error(403, "SignatureDoesNotMatch"), "denied: "),
        (client_error(400, "ExpiredToken"), "denied: "),
        (client_error(500, "InternalError"), "S3 error: "),
        (NoCredentialsError(), "no credentials: "),
        (ConnectTimeoutError(endpoint_url="http://s3.example"), "timed out: "),
        (ReadTimeoutError(endpoint_url="http://s3.example"), "timed out: "),
        (EndpointConnectionError(endpoint_url="http://s3.example"), "unreachable: "),
    ],
)
def test_not_ready_reason_names_the_cause_first(error, starts_with):
    reason = not_ready_reason(error, "docs-bucket", "http://s3.example")
    if starts_with is None:
        assert reason is None
    else:
        assert reason.startswith(starts_with)
        assert "\n" not in reason


def test_health_answers_without_asking_s3(aws_credentials):
    app = create_app({"S3_BUCKET": BUCKET, "S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"})
    with app.test_client().get("/_/health") as response:
        assert response.status_code == 200
        assert response.data == b"ok\n"
        assert response.headers["Cache-Control"] == "no-store"


def test_ready_when_the_bucket_answers_even_without_a_root_index(client):
    with client.get("/_/ready") as response:
        assert response.status_code == 200
        assert response.data == b"ready\n"


def test_ready_answers_503_naming_a_missing_bucket(s3):
    app = create_app({"S3_BUCKET": "no-such-bucket-here", "S3_REGION": "us-east-1"})
    with app.test_client().get("/_/ready") as response:
        assert response.status_code == 503
        assert response.data.startswith(b"503 Service Unavailable: not ready: no such bucket: ")
        assert b"no-such-bucket-here" in response.data
        assert response.data.count(b"\n") == 1


def test_ready_answers_503_when_s3_denies_the_credentials(app, client):
    health = get_health(app)
    health.client = create_client(health.config)
    body = b"<Error><Code>InvalidAccessKeyId</Code><Message>no such key id</Message></Error>"
    canned_s3_answer(health.client, 403, body, {"content-type": "application/xml"}, request_id="REQ-OPS")
    with client.get("/_/ready") as response:
        assert response.status_code == 503
        assert b"not ready: denied: " in response.data
        assert b"InvalidAccessKeyId" in response.data


def test_ready_answers_503_when_s3_is_unreachable(aws_credentials):
    app = create_app({"S3_BUCKET": BUCKET, "S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"})
    with app.test_client().get("/_/ready") as response:
        assert response.status_code == 503
        assert b"not ready: unreachable: " in response.data


def test_ready_answers_503_when_s3_times_out(aws_credentials):
    import socket

    with socket.socket() as listener:  # accepts connections (backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        app = create_app({"S3_BUCKET": BUCKET, "S3_ENDPOINT_URL": f"http://127.0.0.1:{port}", "DOCS_READY_TIMEOUT": 0.3})
        with app.test_client().get("/_/ready") as response:
            assert response.status_code == 503
            assert b"not ready: timed out: " in response.data


def test_ready_answers_503_without_credentials(monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    app = create_app({"S3_BUCKET": BUCKET, "S3_REGION": "us-east-1", "S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"})
    with app.test_client().get("/_/ready") as response:
        assert response.status_code == 503
        assert b"not ready: no credentials: " in response.data


def test_readiness_answer_is_reused_for_the_cache_time(s3, app_config):
    app = create_app({**app_config, "DOCS_READY_CACHE_SECONDS": 300})
    client = app.test_client()
    assert client.get("/_/ready").status_code == 200
    s3.delete_bucket(Bucket=BUCKET)
    assert client.get("/_/ready").status_code == 200  # S3 was not asked again


def test_readiness_is_asked_again_once_the_cache_time_passed(s3, app_config):
    app = create_app({**app_config, "DOCS_READY_CACHE_SECONDS": 0})
    client = app.test_client()
    assert client.get("/_/ready").status_code == 200
    s3.delete_bucket(Bucket=BUCKET)
    with client.get("/_/ready") as response:
        assert response.status_code == 503
        assert b"no such bucket" in response.data


def test_ready_turns_503_as_soon_as_the_worker_drains(app, client):
    assert client.get("/_/ready").status_code == 200
    mark_draining(app)
    with client.get("/_/ready") as response:
        assert response.status_code == 503
        assert response.data == b"503 Service Unavailable: not ready: draining: this worker is shutting down and finishes its requests in flight\n"
    assert client.get("/_/health").status_code == 200


@pytest.mark.parametrize("path", ["/_/health", "/_/ready", "/_/metrics"])
def test_ops_endpoints_answer_head_and_refuse_post(client, path):
    assert client.head(path).status_code == 200
    with client.post(path) as response:
        assert response.status_code == 405
        assert response.headers["Allow"] == "GET, HEAD"
