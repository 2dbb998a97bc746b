"""The one place where exceptions become responses: S3 errors, S3 unreachable, bad paths, HTTP errors."""

import logging

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    NoCredentialsError,
    ReadTimeoutError,
)
from flask import Response, current_app, g
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.http import HTTP_STATUS_CODES

from .exceptions import BadPath, DocsError, error_status, is_missing  # noqa: F401  (their home before app/exceptions.py)
from .serving.headers import ERROR_HEADERS, NOT_MODIFIED_HEADERS, select_headers
from .s3 import RAW_ERROR_BODY, FirstByteDeadlineExceeded


# A missing page, a failed precondition or a range past the end is what readers ask for, not trouble.
ROUTINE_S3_ERRORS = (404, 412, 416)


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
    return Response(body, status=status, headers=select_headers(headers, ERROR_HEADERS))


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


def handle_docs_error(error):
    """Answer a ``DocsError`` (``BadPath`` among them) with its status, reason and headers."""
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
    app.register_error_handler(DocsError, handle_docs_error)
    app.register_error_handler(HTTPException, handle_http_exception)
