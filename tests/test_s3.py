"""The S3 client's first-byte deadline (app/s3.py), from its event handlers and against moto's server."""

import time
from types import SimpleNamespace

import pytest
from botocore.exceptions import ReadTimeoutError

from app.settings import default_settings
from app.s3 import DEADLINE, FirstByteDeadline, FirstByteDeadlineExceeded, body_socket, create_client


def started(deadline, operation="GetObject"):
    """Return the request context of a call that ``deadline`` has started the clock for."""
    context = {}
    deadline.start(model=SimpleNamespace(name=operation), context=context)
    return context


@pytest.mark.parametrize(
    "operation, bounded",
    [("GetObject", True), ("HeadObject", True), ("ListObjectsV2", True),
     ("PutObject", False), ("UploadPart", False), ("CompleteMultipartUpload", False)],
)
def test_reads_are_bounded_and_uploads_keep_their_own_timeouts(operation, bounded):
    assert (DEADLINE in started(FirstByteDeadline(20, 30), operation)) is bounded


@pytest.mark.parametrize("seconds, read_timeout, expected", [(20, 30, 20), (20, 5, 5)])
def test_each_attempt_waits_the_smaller_of_the_read_timeout_and_what_is_left(seconds, read_timeout, expected):
    deadline = FirstByteDeadline(seconds, read_timeout)
    request = SimpleNamespace(context=started(deadline))
    deadline.bound_attempt(request=request)
    assert expected - 1 < request.context["read_timeout"] <= expected


def test_no_attempt_starts_after_the_deadline():
    deadline = FirstByteDeadline(0.01, 30)
    request = SimpleNamespace(context=started(deadline))
    time.sleep(0.02)
    with pytest.raises(FirstByteDeadlineExceeded, match="GetObject within 0.01 s"):
        deadline.bound_attempt(request=request)


def test_a_failed_attempt_past_the_deadline_is_not_retried_but_an_answer_is_kept():
    deadline = FirstByteDeadline(0.01, 30)
    request_dict = {"context": started(deadline)}
    time.sleep(0.02)
    assert deadline.refuse_late_retry(request_dict=request_dict, caught_exception=None) is None
    with pytest.raises(FirstByteDeadlineExceeded):
        deadline.refuse_late_retry(request_dict=request_dict, caught_exception=ReadTimeoutError(endpoint_url="x"))


def test_a_streamed_body_reads_with_the_read_timeout_not_the_deadlines_remainder(server_s3, moto_server, monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    server_s3.create_bucket(Bucket="deadline-body")
    server_s3.put_object(Bucket="deadline-body", Key="big.bin", Body=b"x" * 100_000)
    s3 = create_client({**default_settings(), "S3_ENDPOINT_URL": moto_server, "S3_REGION": "us-east-1",
                        "S3_ADDRESSING_STYLE": "path", "S3_FIRST_BYTE_DEADLINE": 2.0, "S3_READ_TIMEOUT": 30.0})
    body = s3.get_object(Bucket="deadline-body", Key="big.bin")["Body"]
    try:
        assert body_socket(body).gettimeout() == 30.0
        assert len(body.read()) == 100_000
    finally:
        body.close()
