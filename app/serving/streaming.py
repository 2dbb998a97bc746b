"""S3 responses to Flask responses: status, allowed headers, a streamed body that is always closed."""

import socket
import time
from functools import partial

from flask import Response, current_app, g, request

from . import hooks
from .chunks import ChunkSizer, probe_bytes
from .headers import select_headers
from .redirects import BadRedirect, redirect_location

# S3 website semantics: an object carrying this header answers 301 to it (issue 14).
WEBSITE_REDIRECT = "x-amz-website-redirect-location"

S3_DEFAULT_TYPE = "binary/octet-stream"


def close_body(body):
    """Close an S3 body and give its connection slot back to the pool, read to the end or not."""
    raw = getattr(body, "_raw_stream", None)
    body.close()
    # urllib3's close() drops the socket but keeps the pool slot; release_conn hands the slot back
    # (the pool replaces a closed connection on its next use), so hang-ups never shrink the pool.
    if raw is not None and hasattr(raw, "release_conn"):
        raw.release_conn()


def stream_body(body, chunk_size, key, logger, slow_chunk_size=None, send_buffer=0, on_fast=None):
    """Yield the S3 body in pieces, closing it however the iteration ends.

    Pieces are ``slow_chunk_size`` bytes until the reader has shown it takes bytes fast, then
    ``chunk_size`` (``chunks.ChunkSizer``); without ``slow_chunk_size``, always ``chunk_size``.
    ``on_fast()`` is called each time the reader turns out fast.
    """
    # ``key`` and ``logger`` come in as arguments: the server iterates after the app context is gone.
    sizer = ChunkSizer(slow_chunk_size or chunk_size, chunk_size, probe_bytes(send_buffer))
    sent = 0
    try:
        while True:
            chunk = body.read(sizer.size)
            if not chunk:
                break
            # The generator is suspended here while the server sends the chunk: that is the reader's time.
            handed_over = time.monotonic()
            yield chunk
            size = sizer.size
            if sizer.sent(len(chunk), time.monotonic() - handed_over) > size and on_fast is not None:
                on_fast()
            sent += len(chunk)
    except Exception as error:
        # Headers (and Content-Length) are already sent: raising makes the server drop the connection,
        # so the client sees a short body rather than a complete-looking one. A failure before the
        # first chunk still becomes a response in errors.py, which logs it there.
        if sent:
            logger.error("S3 body for key %r failed after %d bytes: %s", key, sent, error)
        raise
    finally:
        close_body(body)


# A fast reader's socket gets what Linux would have grown it to (the worker fixed it at DOCS_SEND_BUFFER
# for every reader): a busy worker then moves megabytes per turn of its loop instead of 512 KiB.
FAST_SEND_BUFFER = 4 * 1024 * 1024


def grow_send_buffer(client):
    """Give a fast reader's socket a large kernel send buffer (best effort)."""
    try:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, FAST_SEND_BUFFER)
    except (OSError, AttributeError):
        pass


def prepend(first, chunks):
    """Yield ``first`` (unless ``None``), then the rest of ``chunks``; closing this closes ``chunks``."""
    if first is not None:
        yield first
    yield from chunks


def s3_headers(s3_response):
    """Return the raw HTTP headers of a boto3 response."""
    return s3_response["ResponseMetadata"]["HTTPHeaders"]


def website_redirect(raw_headers, body):
    """Return the 301 for an object with a valid website redirect location, else ``None``.

    An invalid location is logged and ignored (the object is served as it is), never followed.
    """
    value = raw_headers.get(WEBSITE_REDIRECT)
    if value is None:
        return None
    try:
        location = redirect_location(value, f"{request.script_root}/docs")
    except BadRedirect as error:
        current_app.logger.warning(
            "ignoring the website redirect location %r of key %r: %s", value, g.get("s3_key"), error.reason
        )
        return None
    if body is not None:
        close_body(body)
    return Response(status=301, headers={"Location": location, "Content-Type": "text/plain", "Cache-Control": "no-cache"})


REWRITTEN = "DocsRewrite"


def adopt_rewrite(s3_response):
    """Return the request's page rewrite when it applies to ``s3_response``, with its headers made the rewritten body's.

    The ETag gets the rewrite's suffix and Content-Length its added bytes, so conditionals and the
    length a client sees describe what is sent. Idempotent: the response is marked once adopted.
    """
    if REWRITTEN in s3_response:
        return s3_response[REWRITTEN]
    rewrite = hooks.page_rewrite()
    raw_headers = s3_headers(s3_response)
    if rewrite is None or not rewrite.applies(s3_response["ResponseMetadata"]["HTTPStatusCode"], raw_headers):
        s3_response[REWRITTEN] = None
        return None
    if "etag" in raw_headers:
        raw_headers["etag"] = rewrite.etag(raw_headers["etag"])
    length = raw_headers.get("content-length", "")
    if length.isdigit():
        raw_headers["content-length"] = str(rewrite.length(int(length)))
    s3_response[REWRITTEN] = rewrite
    return rewrite


def object_response(s3_response, chunk_size, slow_chunk_size=None):
    """Return a Flask response relaying a get_object or head_object result (or the object's redirect).

    The body streams in ``slow_chunk_size`` pieces, ``chunk_size`` ones once the reader is fast (``stream_body``).
    """
    rewrite = adopt_rewrite(s3_response)
    raw_headers = s3_headers(s3_response)
    redirect = website_redirect(raw_headers, s3_response.get("Body"))
    if redirect is not None:
        return redirect
    headers = select_headers(raw_headers)
    if "content-type" not in raw_headers:
        headers.append(("Content-Type", S3_DEFAULT_TYPE))
    status = s3_response["ResponseMetadata"]["HTTPStatusCode"]
    body = s3_response.get("Body")
    if body is None:
        return Response(status=status, headers=headers)
    send_buffer = current_app.config.get("DOCS_SEND_BUFFER", 0)
    client = request.environ.get("gunicorn.socket")
    on_fast = partial(grow_send_buffer, client) if send_buffer and client is not None else None
    chunks = stream_body(body, chunk_size, g.get("s3_key"), current_app.logger, slow_chunk_size, send_buffer, on_fast)
    if rewrite is not None:
        chunks = rewrite.stream(chunks)
    # Read the first chunk while the status is still ours to choose: S3 failing this early (a reset,
    # a stall) becomes errors.py's 502/504 instead of the server's bare 500.
    first = next(chunks, None)
    response = Response(prepend(first, chunks), status=status, headers=headers)
    # Closing the response closes the body even if the server never iterates it.
    response.call_on_close(partial(close_body, body))
    return response
