"""app/exceptions.py: the refusals packages raise, and reading S3's word that a key is missing."""

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from app.exceptions import BadPath, DocsError, is_missing, is_transient


def client_error(status, code):
    return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject")


@pytest.mark.parametrize(
    "status, code, for_a_reader, strict",
    [
        (404, "NoSuchKey", True, True),
        (404, "404", True, True),  # a HEAD: no body, botocore puts the status in the code
        (403, "AccessDenied", True, False),  # without s3:ListBucket a missing key answers 403
        (403, "403", True, False),
        (404, "NoSuchBucket", True, False),
        (500, "InternalError", False, False),
        (503, "SlowDown", False, False),
        (304, "304", False, False),
        (412, "PreconditionFailed", False, False),
    ],
)
def test_is_missing_counts_a_refusal_only_for_readers(status, code, for_a_reader, strict):
    error = client_error(status, code)
    assert (is_missing(error), is_missing(error, strict=True)) == (for_a_reader, strict)


def test_bad_path_is_a_docs_error_with_its_status():
    error = BadPath("backslashes are not allowed in document paths", status=414)
    assert isinstance(error, DocsError) and isinstance(error, ValueError)
    assert (error.status, error.reason, error.headers) == (414, "backslashes are not allowed in document paths", [])


@pytest.mark.parametrize("error, transient", [
    (client_error(503, "SlowDown"), True),
    (client_error(500, "InternalError"), True),
    (client_error(400, "RequestTimeout"), True),
    (EndpointConnectionError(endpoint_url="http://s3.invalid"), True),
    (ReadTimeoutError(endpoint_url="http://s3.invalid"), True),
    (ConnectionResetError(), True),
    (client_error(403, "AccessDenied"), False),
    (client_error(404, "NoSuchKey"), False),
    (ValueError("not a search document"), False),
    (KeyError("sections"), False),
])
def test_is_transient_tells_a_passing_s3_failure_from_one_that_stays(error, transient):
    assert is_transient(error) is transient
