"""The one place where exceptions become responses: S3 errors, S3 unreachable, bad paths, HTTP errors."""

import logging
from xml.sax.saxutils import escape

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    NoCredentialsError,
    ReadTimeoutError,
)
from flask import Response, current_app, g, request
from urllib.parse import urlsplit

from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import RequestRedirect
from werkzeug.http import HTTP_STATUS_CODES

from .serving.headers import ERROR_HEADERS, NOT_MODIFIED_HEADERS, select_headers
from .serving.keys import BadPath
from .s3 import RAW_ERROR_BODY, FirstByteDeadlineExceeded


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

# A missing key's answer is rebuilt from its key alone: S3's own body carries a fresh RequestId and
# HostId every time, and a refusal hidden as a missing key (hide_denied) must be the same bytes.
NO_SUCH_KEY_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code>'
    "<Message>The specified key does not exist.</Message><Key>{}</Key></Error>"
)


class NotFound(DocsError):
    """Answer exactly as S3 answers a missing key (what access control raises to hide a refusal)."""

    status = 404

    def as_client_error(self):
        """Return the ``ClientError`` S3 raises for the current request's key."""
        return ClientError(
            {"Error": {"Code": "NoSuchKey", "Message": "The specified key does not exist."},
             "ResponseMetadata": {"HTTPStatusCode": 404, "HTTPHeaders": {"content-type": "application/xml"}}},
            "GetObject",
        )


def no_such_key(key):
    """Return S3's 404 for a missing ``key``, the same bytes every time."""
    return Response(NO_SUCH_KEY_XML.format(escape(key or "")), status=404, headers=[("Content-Type", "application/xml")])


def precondition_failed(condition, headers=()):
    """Return the 412 for a failed ``condition`` (a request header name), shaped as S3's own."""
    return Response(PRECONDITION_FAILED_XML.format(condition), status=412,
                    headers=[("Content-Type", "application/xml"), *headers])


def plain(status, text, headers=None):
    """Return a short plain-text response (``nosniff``: a reason may echo what the client sent)."""
    response = Response(text.rstrip("\n") + "\n", status=status, headers=headers, mimetype="text/plain")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


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
    if status == 404 and code in ("NoSuchKey", ""):
        return no_such_key(g.get("s3_key"))
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


def handle_bad_path(error):
    """Refuse a path that cannot name a document, saying why."""
    return plain(error.status, f"{error.status} {HTTP_STATUS_CODES[error.status]}: {error.reason}.")


def handle_docs_error(error):
    """Answer a ``DocsError`` with its status, reason and headers."""
    if isinstance(error, NotFound):
        return no_such_key(g.get("s3_key"))
    return plain(error.status, f"{error.status} {HTTP_STATUS_CODES[error.status]}: {error.reason}.", error.headers)


def relative_routing_redirect(response):
    """Give werkzeug's routing redirect (``/_//x`` -> ``/_/x``, a 308) a path-absolute Location (an after_request hook).

    Flask answers routing exceptions without error handlers, and werkzeug builds the Location and its
    body's link from the Host header: a forged Host would then reach a cache.
    """
    error = request.routing_exception
    if isinstance(error, RequestRedirect) and response.status_code == error.code:
        target = urlsplit(error.new_url)
        location = "/" + target.path.lstrip("/") + (f"?{target.query}" if target.query else "")
        response.headers["Location"] = location
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.mimetype = "text/plain"
        response.set_data(f"{error.code} {HTTP_STATUS_CODES[error.code]}: {location}\n")
    return response


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
    # Registered before every package's hooks, so it runs after theirs (Flask runs them in reverse).
    app.after_request(relative_routing_redirect)
