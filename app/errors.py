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

from .exceptions import BadPath, DocsError, error_status, is_missing  # noqa: F401  (their home before app/exceptions.py)
from .serving.headers import ERROR_HEADERS, NOT_MODIFIED_HEADERS, select_headers
from .s3 import RAW_ERROR_BODY, FirstByteDeadlineExceeded, get_s3


# A missing page, a failed precondition or a range past the end is what readers ask for, not trouble.
ROUTINE_S3_ERRORS = (404, 412, 416)


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
    missing_page = status in (403, 404) and g.get("s3_key") is not None
    if status == 404 and code in ("NoSuchKey", ""):
        answer = no_such_key(g.get("s3_key"))
    else:
        body = response.get(RAW_ERROR_BODY, b"")
        if missing_page and request.method == "HEAD" and not body:
            headers, body = get_error_answer(headers, body)
        # On HEAD, werkzeug sends the headers of this body (its type and length) and leaves the body out.
        answer = Response(body, status=status, headers=select_headers(headers, ERROR_HEADERS))
    if missing_page:
        # A browser asking for the same missing page gets an HTML page (app/website): caches must tell them apart.
        answer.headers["Vary"] = "Accept"
    return answer


def get_error_answer(headers, body):
    """Return the headers and body S3 answers a GET of the missing key with, for a HEAD to tell the same.

    S3 answers a HEAD error without a body, so without this a HEAD would announce another type and
    length than its GET (RFC 9110 9.3.2). One more S3 call, only for a HEAD S3 refuses with 403 (a
    missing key without ``s3:ListBucket``); a 404 is answered with the same bytes for both anyway.
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


def handle_docs_error(error):
    """Answer a ``DocsError`` (``BadPath`` among them) with its status, reason and headers."""
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
    app.register_error_handler(DocsError, handle_docs_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    # Registered before every package's hooks, so it runs after theirs (Flask runs them in reverse).
    app.after_request(relative_routing_redirect)
