"""The one place where exceptions become responses: S3 errors, S3 unreachable, bad paths, HTTP errors."""

import logging

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    NoCredentialsError,
    ReadTimeoutError,
)
from flask import Response, current_app, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.http import HTTP_STATUS_CODES

from .serving.headers import ERROR_HEADERS, NOT_MODIFIED_HEADERS, select_headers
from .serving.keys import BadPath
from .s3 import RAW_ERROR_BODY, FirstByteDeadlineExceeded, get_s3


# A missing page, a failed precondition or a range past the end is what readers ask for, not trouble.
ROUTINE_S3_ERRORS = (404, 412, 416)


class DocsError(Exception):
    """A refusal any package can raise; ``handle_docs_error`` turns it into a plain-text response.

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


# The body S3 answers a failed precondition with: a refusal looks the same whether S3, the serving
# code (tag lists S3 does not compare) or a cache hit decided it.
PRECONDITION_FAILED_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PreconditionFailed</Code>'
    "<Message>At least one of the pre-conditions you specified did not hold</Message>"
    "<Condition>{}</Condition></Error>"
)


def precondition_failed(condition, headers=()):
    """Return the 412 for a failed ``condition`` (a request header name), shaped as S3's own."""
    return Response(PRECONDITION_FAILED_XML.format(condition), status=412,
                    headers=[("Content-Type", "application/xml"), *headers])


def plain(status, text, headers=None):
    """Return a short plain-text response."""
    return Response(text.rstrip("\n") + "\n", status=status, headers=headers, mimetype="text/plain")


def error_status(error):
    """Return the HTTP status S3 answered with for a ``ClientError``."""
    return error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 502


def handle_client_error(error):
    """Pass S3's error through: its status, its XML body and its content type (a 304 stays a 304)."""
    status = error_status(error)
    response = error.response
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    if status == 304:
        return Response(status=304, headers=select_headers(headers, NOT_MODIFIED_HEADERS))
    code = response.get("Error", {}).get("Code", "")
    if code == str(status):
        code = ""  # a HEAD error has no body: botocore fills the code in with the status
    request_id = response.get("ResponseMetadata", {}).get("RequestId", "")
    current_app.logger.log(
        logging.INFO if status in ROUTINE_S3_ERRORS else logging.WARNING,
        "S3 answered %s%s for key %r%s",
        status,
        f" {code}" if code else "",
        g.get("s3_key"),
        f" (request id {request_id})" if request_id else "",
    )
    body = response.get(RAW_ERROR_BODY, b"")
    extra = []
    if status in (403, 404) and g.get("s3_key") is not None:
        if request.method == "HEAD" and not body:
            headers, body = get_error_answer(headers, body)
        # A browser asking for the same missing page gets an HTML page (app/website): caches must tell them apart.
        extra.append(("Vary", "Accept"))
    # On HEAD, werkzeug sends the headers of this body (its type and length) and leaves the body out.
    return Response(body, status=status, headers=select_headers(headers, ERROR_HEADERS) + extra)


def get_error_answer(headers, body):
    """Return the headers and body S3 answers a GET of the missing key with, for a HEAD to tell the same.

    S3 answers a HEAD error without a body, so without this a HEAD would announce another type and
    length than its GET (RFC 9110 9.3.2). One more S3 call, only for a HEAD of a missing page.
    """
    key = g.get("s3_key")
    if key is None:
        return headers, body
    try:
        found = get_s3().get_object(Bucket=current_app.config["S3_BUCKET"], Key=key)
    except ClientError as error:
        return error.response.get("ResponseMetadata", {}).get("HTTPHeaders", {}), error.response.get(RAW_ERROR_BODY, b"")
    except BotoCoreError:
        return headers, body
    found["Body"].close()  # appeared in between: the HEAD's own answer stands
    return headers, body


def handle_botocore_error(error):
    """Answer 504 when S3 timed out and 502 when it could not be reached or used."""
    key = g.get("s3_key")
    if isinstance(error, (ConnectTimeoutError, ReadTimeoutError, FirstByteDeadlineExceeded)):
        current_app.logger.error("S3 timed out for key %r: %s", key, error)
        return plain(504, "Gateway Timeout: S3 did not answer in time.")
    if isinstance(error, NoCredentialsError):
        current_app.logger.error("no AWS credentials for key %r: %s", key, error)
        return plain(502, "Bad Gateway: the proxy has no credentials for S3.")
    current_app.logger.error("S3 unreachable for key %r: %s", key, error)
    return plain(502, "Bad Gateway: S3 could not be reached.")


def handle_bad_path(error):
    """Refuse a path that cannot name a document, saying why."""
    return plain(error.status, f"{error.status} {HTTP_STATUS_CODES[error.status]}: {error.reason}.")


def handle_docs_error(error):
    """Answer a ``DocsError`` with its status, reason and headers."""
    return plain(error.status, f"{error.status} {HTTP_STATUS_CODES[error.status]}: {error.reason}.", error.headers)


def handle_http_exception(error):
    """Answer routing errors (404, 405, ...) in plain text, keeping headers such as ``Allow``."""
    headers = [
        (name, value) for name, value in error.get_headers() if name.lower() not in ("content-type", "allow")
    ]
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        # werkzeug collects the methods in a set; a stable order is what clients and tests expect.
        headers.append(("Allow", ", ".join(sorted(error.valid_methods, key=lambda method: ({"GET": 0, "HEAD": 1}.get(method, 2), method)))))
    return plain(error.code, f"{error.code} {error.name}: {error.description}", headers=headers)


def init_app(app):
    """Register the error handlers on ``app``."""
    app.register_error_handler(ClientError, handle_client_error)
    app.register_error_handler(BotoCoreError, handle_botocore_error)
    app.register_error_handler(BadPath, handle_bad_path)
    app.register_error_handler(DocsError, handle_docs_error)
    app.register_error_handler(HTTPException, handle_http_exception)
