"""The exceptions packages raise to refuse a request, and how to read S3's; no Flask here, so pure
modules (policy, publishing, the portal's index) import them freely. ``app/errors.py`` answers them."""


class DocsError(Exception):
    """A refusal any package can raise; ``app.errors`` turns it into a plain-text response.

    Subclasses (access control's 401/403, the portal's, ...) set ``status`` and may carry ``headers``
    (``WWW-Authenticate``, ``Cache-Control``, ``Location``); the reason is said to the client.
    """

    status = 400

    def __init__(self, reason, status=None, headers=None):
        super().__init__(reason)
        self.reason = reason
        if status is not None:
            self.status = status
        self.headers = list(headers or [])


class BadPath(DocsError, ValueError):
    """A request path that must be refused before any S3 call; ``status`` is the 4xx to answer."""

    def __init__(self, reason, status=400):
        super().__init__(reason, status)


def error_status(error):
    """Return the HTTP status S3 answered with for a ``ClientError``."""
    return error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 502


def is_missing(error, strict=False):
    """Tell whether S3's ``ClientError`` says the key does not exist.

    A reader's request counts a 403 too: without s3:ListBucket, S3 answers 403 for keys that do not
    exist. ``strict`` (for code about to write, or reading its own records) counts only S3's word that
    the key is absent (``NoSuchKey``, or a HEAD's bare 404), never a refusal or a missing bucket.
    """
    response = error.response
    if strict:
        code = response.get("Error", {}).get("Code") or str(response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        return code in ("NoSuchKey", "404")
    return response.get("ResponseMetadata", {}).get("HTTPStatusCode") in (403, 404)


# S3's codes for "slow down" and "try again": a retry later may succeed.
RETRYABLE_CODES = frozenset({"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestTimeTooSkewed",
                             "InternalError", "ServiceUnavailable", "OperationAborted"})


def is_transient(error):
    """Tell whether ``error`` (raised reading from S3) may pass by itself: a network failure, a 5xx, throttling.

    Not a refusal, a missing key or a document that cannot be decoded: those stay until someone acts.
    """
    response = getattr(error, "response", None)
    if isinstance(response, dict):  # botocore's ClientError, told apart without importing botocore
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return status >= 500 or response.get("Error", {}).get("Code") in RETRYABLE_CODES
    module = type(error).__module__ or ""
    return isinstance(error, (OSError, TimeoutError)) or module.startswith(("botocore", "urllib3"))
