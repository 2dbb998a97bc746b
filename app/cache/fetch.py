"""The fetch behind /docs: hits from memory, one S3 request per key, stale answers while S3 fails, compression.

A request reads top to bottom: fresh entry -> answer it (``serve``); nothing storable known and a
HEAD or Range -> S3 as before (``stream``); otherwise one request per key fetches or revalidates
(``load``) while the others wait for it, and S3 failing falls back to a stale entry (``stale_or_raise``).
Hits go through Werkzeug's ``make_conditional`` for 304/412/206/416, If-Range and HEAD.
"""

import re
import time
from dataclasses import replace

from botocore.exceptions import BotoCoreError, ClientError
from flask import Response, current_app, g, request

from ..errors import DocsError, error_status, precondition_failed
from ..exceptions import is_missing
from ..s3 import get_s3
from ..serving.headers import (
    NOT_MODIFIED_HEADERS,
    conditional_params,
    is_single_byte_range,
    precondition_status,
    select_headers,
)
from ..serving import hooks, streaming
from ..serving.streaming import S3_DEFAULT_TYPE, object_response, s3_headers
from . import compression, policy
from .store import Entry, Variant

STORE = "docs.cache"

# Werkzeug and the WSGI server compute these for the bytes actually sent (a range, a coding).
COMPUTED_HEADERS = {"content-length", "content-range", "accept-ranges", "etag"}

# The request headers (as WSGI keys) that make a hit conditional or partial.
CONDITIONAL_ENVIRON = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_MATCH", "HTTP_IF_UNMODIFIED_SINCE",
                       "HTTP_RANGE", "HTTP_IF_RANGE")

QUOTED = re.compile(r'(?:W/)?"[^"]*"')


class NotAcceptable(DocsError):
    """The client refused identity and every content coding this server can produce (RFC 9110 12.5.3)."""

    status = 406


class CachedResponse(Response):
    """A response built here; its 304s keep ``Last-Modified``, which Werkzeug drops as an entity header."""

    def get_wsgi_headers(self, environ):
        """Return the headers to send, with ``Last-Modified`` kept on a 304 (RFC 9110 15.4.5 lists it)."""
        headers = super().get_wsgi_headers(environ)
        if self.status_code == 304:
            modified = self.headers.get("Last-Modified")
            if modified and "Last-Modified" not in headers:
                headers["Last-Modified"] = modified
        return headers


def get_store():
    """Return this worker's store, or ``None`` when the cache is off."""
    return current_app.extensions.get(STORE)


def cached(inner):
    """Return the cache's fetch in front of ``inner``, the fetch it stands for (serving's S3 fetch)."""

    def fetch_through_cache(key, params=None):
        return fetch(key, inner)

    return fetch_through_cache


def fetch(key, inner):
    """Return the response for ``key``: from the cache when it can, else from ``inner`` (S3); compressed where negotiated."""
    store = get_store()
    if store is None:
        return stream(inner, key, "BYPASS")
    entry = store.get(key)
    rewrite = hooks.page_rewrite()
    if entry is not None and entry.rewrite != (rewrite.suffix if rewrite is not None else ""):
        entry = None  # kept before the page's rewrite changed (the hub turned on or off): fetched again
    if entry is not None and policy.is_fresh(time.monotonic() - entry.validated, entry.lifetime):
        if entry.body is None:
            return stream(inner, key, "BYPASS", entry)
        return serve(store, key, entry, "HIT")
    if (entry is None or entry.body is None) and (request.method == "HEAD" or "Range" in request.headers):
        # Nothing stored to answer from, and this request would not fill the cache: S3 as before.
        return stream(inner, key, "MISS", entry)
    # Until something better is known: an error on the way is counted as a miss.
    g.cache_result = "MISS"
    flight, leader = store.join(key)
    if not leader:
        return follow(inner, store, key, entry, flight)
    try:
        label, result, s3_response = load(store, key, entry)
    except (ClientError, BotoCoreError) as error:
        store.land(key, flight, error)
        return stale_or_raise(store, key, entry, error)
    except BaseException as error:
        store.land(key, flight, error)
        raise
    store.land(key, flight, (label, result))
    if s3_response is None:
        return serve(store, key, result, label)
    if "Range" in request.headers:
        streaming.close_body(s3_response["Body"])
        return stream(inner, key, "BYPASS", result)
    g.cache_result = "BYPASS"
    config = current_app.config
    response = finish_stream(
        object_response(s3_response, config["DOCS_CHUNK_SIZE"], config["DOCS_SLOW_CHUNK_SIZE"]), key, "BYPASS"
    )
    # The client's conditionals were not sent to S3 (this GET fills the cache); answer them here.
    # Without this flag make_conditional would read the whole stream into memory to count its length.
    response.implicit_sequence_conversion = False
    return response.make_conditional(request)


def follow(inner, store, key, entry, flight):
    """Wait for another request's fetch of ``key`` and answer from its outcome."""
    if not flight.done.wait(current_app.config["DOCS_CACHE_WAIT"]):
        if has_stale_body(entry):
            current_app.logger.warning("S3 fetch of %r still running after the wait; serving the stale copy", key)
            return serve(store, key, entry, "STALE", age=time.monotonic() - entry.validated)
        raise DocsError("S3 did not answer in time", 504)
    outcome = flight.outcome
    if isinstance(outcome, BaseException):
        return stale_or_raise(store, key, entry, outcome)
    label, result = outcome
    if result.body is None:
        return stream(inner, key, "BYPASS", result)
    return serve(store, key, result, label)


def has_stale_body(entry):
    """Tell whether ``entry`` holds bytes young enough to stand in while S3 fails."""
    return (
        entry is not None
        and entry.body is not None
        and policy.may_serve_stale(time.monotonic() - entry.validated, current_app.config["DOCS_CACHE_MAX_STALE"])
    )


def is_s3_failure(error):
    """Tell whether ``error`` means S3 failed (unreachable, timed out, 5xx) rather than answered."""
    return isinstance(error, BotoCoreError) or (isinstance(error, ClientError) and error_status(error) >= 500)


def stale_or_raise(store, key, entry, error):
    """Answer with the stale entry when S3 failed and one is young enough; otherwise raise ``error``."""
    if is_s3_failure(error) and has_stale_body(entry):
        age = time.monotonic() - entry.validated
        current_app.logger.warning("S3 failed for key %r (%s); serving the copy validated %.0f s ago", key, error, age)
        return serve(store, key, entry, "STALE", age=age)
    if isinstance(error, ClientError) and is_missing(error):
        store.discard(key)
    raise error


def load(store, key, entry):
    """Fetch ``key`` from S3 (revalidating ``entry`` if given) and store what may be stored.

    Returns ``(label, entry, s3_response)``: ``s3_response`` is the open answer when the object may
    not be stored (the entry is then a pass marker), for the caller to stream; else ``None``.
    """
    config = current_app.config
    # A pass marker has no bytes to revalidate: its object is fetched whole, to stream or to store.
    revalidate = entry is not None and entry.body is not None and entry.etag
    params = {"IfNoneMatch": entry.etag} if revalidate else {}
    started = time.monotonic()
    try:
        s3_response = get_s3().get_object(Bucket=config["S3_BUCKET"], Key=key, **params)
    except ClientError as error:
        if error_status(error) != 304:
            raise
        refreshed = replace(entry, validated=started)
        store.put(key, refreshed)
        return "REVALIDATED", refreshed, None
    raw = s3_headers(s3_response)
    status = s3_response["ResponseMetadata"]["HTTPStatusCode"]
    headers = [(name, value) for name, value in select_headers(raw) if name.lower() not in COMPUTED_HEADERS]
    if "content-type" not in raw:
        headers.append(("Content-Type", S3_DEFAULT_TYPE))
    compressible = config["DOCS_COMPRESSION"] == "on" and compression.may_compress(
        raw, key, config["DOCS_COMPRESSION_MIN_SIZE"], config["DOCS_COMPRESSION_MAX_SIZE"]
    )
    rewrite = hooks.page_rewrite()
    suffix = rewrite.suffix if rewrite is not None else ""
    rewritten = rewrite is not None and rewrite.applies(status, raw)
    if not policy.is_storable(status, raw, config["DOCS_CACHE_OBJECT_SIZE"]):
        marker = Entry(headers, None, raw.get("etag"), started, config["DOCS_CACHE_TTL"], compressible,
                       suffix, rewritten)
        store.put(key, marker)
        return "BYPASS", marker, s3_response
    body = s3_response["Body"]
    try:
        data = body.read()
    finally:
        streaming.close_body(body)
    if rewritten:
        # The rewritten page is what is kept, compressed and answered from: rewriting costs once per fetch.
        data = rewrite.body(data)
    lifetime = policy.freshness_lifetime(raw.get("cache-control"), config["DOCS_CACHE_TTL"],
                                         config["DOCS_CACHE_IMMUTABLE_TTL"])
    fresh = Entry(headers, data, raw.get("etag"), started, lifetime, compressible, suffix, rewritten)
    store.put(key, fresh)
    return "MISS", fresh, None


def negotiate():
    """Return the content coding for this request, ``"identity"``, or raise 406 when nothing is acceptable."""
    if current_app.config["DOCS_COMPRESSION"] != "on" or "Range" in request.headers:
        return "identity"
    coding = compression.choose_encoding(request.headers.get("Accept-Encoding"), compression.available_codecs())
    if coding is None:
        raise NotAcceptable("identity is refused and no acceptable content coding "
                            f"is available (this server sends {', '.join(sorted(compression.available_codecs()))})")
    return coding


def encoded_body(store, key, entry, coding):
    """Return ``entry``'s body in ``coding``, compressed once and kept beside it."""
    variant_key = (key, coding)
    variant = store.get(variant_key)
    if variant is None or variant.source_etag is None or variant.source_etag != entry.client_etag:
        variant = Variant(entry.client_etag, compression.compress_off_loop(entry.body, coding))
        store.put(variant_key, variant)
    return variant.body


def serve(store, key, entry, label, age=None):
    """Answer from ``entry``: the coding negotiated, then Werkzeug's conditional and Range handling."""
    headers = list(entry.headers)
    body, etag = entry.body, entry.client_etag
    if entry.compressible:
        headers.append(("Vary", "Accept-Encoding"))
        coding = negotiate()
        if coding != "identity":
            body = encoded_body(store, key, entry, coding)
            etag = compression.encoded_etag(etag, coding)
            headers.append(("Content-Encoding", coding))
    if etag:
        headers.append(("ETag", etag))
    headers.append(("X-Cache", label))
    if age is not None:
        headers.append(("Age", str(int(age))))
    g.cache_result = label
    environ = request.environ
    if not any(name in environ for name in CONDITIONAL_ENVIRON):
        # Nothing to evaluate: the plain 200 make_conditional would build, without parsing dates for nothing.
        headers.append(("Accept-Ranges", "bytes"))
        return CachedResponse(body, status=200, headers=headers)
    failed = policy.failed_precondition(request.headers, etag, entry_header(entry, "last-modified"))
    if failed:
        return precondition_failed(failed, [("X-Cache", label)])
    response = CachedResponse(body, status=200, headers=headers)
    byte_range = environ.get("HTTP_RANGE")
    if byte_range and (
        not is_single_byte_range(byte_range) or precondition_status(request.headers, {"etag": etag or ""}) == 304
    ):
        # As on the S3 path: a malformed or multi-range Range is ignored and the whole object sent. And
        # If-None-Match is decided before Range (RFC 9110 13.2.2), which make_conditional does the other way round.
        environ = {name: value for name, value in environ.items() if name != "HTTP_RANGE"}
    return response.make_conditional(environ, accept_ranges=True, complete_length=len(body))


def entry_header(entry, name):
    """Return the value of header ``name`` (lower case) stored with ``entry``, or ``None``."""
    for header, value in entry.headers:
        if header.lower() == name:
            return value
    return None


def stream(inner, key, label, marker=None):
    """Stream ``key`` from S3 through ``inner``, with the suffixed ETags mapped back to S3's."""
    g.cache_result = label
    params = conditional_params(request.headers)
    for name in ("IfMatch", "IfNoneMatch"):
        if name in params:
            params[name] = compression.strip_etag_suffixes(params[name])
    try:
        response = inner(key, params)
    except ClientError as error:
        if error_status(error) != 304:
            raise
        return not_modified(error, marker, label)
    if response.status_code == 304 and response.headers.get("ETag"):
        # Decided by the serving code (a rewritten page): answer with the tag the client holds.
        response.headers["ETag"] = held_tag(response.headers["ETag"])
    return finish_stream(response, key, label)


def held_tag(etag):
    """Return the tag in the request's If-None-Match that names ``etag`` in some coding, else ``etag``."""
    held = [tag for tag in QUOTED.findall(request.headers.get("If-None-Match", ""))
            if compression.strip_etag_suffixes(tag).removeprefix("W/") == etag]
    return held[0].removeprefix("W/") if held else etag


def finish_stream(response, key, label):
    """Label a streamed S3 response and compress it on the fly when the client and the object allow it."""
    response.headers["X-Cache"] = label
    if response.status_code not in (200, 206):
        return response  # a website redirect (serving/streaming.py): no representation to vary
    headers = {name.lower(): value for name, value in response.headers.items()}
    if current_app.config["DOCS_COMPRESSION"] != "on" or not compression.is_compressible_type(
        headers.get("content-type"), key
    ):
        return response
    response.vary.add("Accept-Encoding")
    if response.status_code != 200 or not compression.may_compress(
        headers, key, current_app.config["DOCS_COMPRESSION_MIN_SIZE"], current_app.config["DOCS_COMPRESSION_MAX_SIZE"]
    ):
        return response
    try:
        coding = negotiate()
    except NotAcceptable:
        response.close()
        raise
    if coding == "identity":
        return response
    length = headers.get("content-length")
    coding, level = compression.stream_encoding(
        request.headers.get("Accept-Encoding"), compression.available_codecs(), int(length) if length and length.isdigit() else None
    )
    response.headers["Content-Encoding"] = coding
    # The compressed length is unknown until the end: the body goes out chunked.
    response.headers.pop("Content-Length", None)
    response.headers.pop("Accept-Ranges", None)
    if "etag" in headers:
        response.headers["ETag"] = compression.encoded_etag(headers["etag"], coding)
    if request.method != "HEAD":
        response.response = compression.compress_stream(response.response, coding, level)
    return response


def not_modified(error, marker, label):
    """Answer S3's 304 with the caching headers a 200 would carry and the ETag the client holds."""
    raw = error.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    etag = raw.get("etag")
    if marker is not None and marker.etag is not None and marker.etag == etag:
        source = marker.headers
    else:
        source = select_headers(raw, NOT_MODIFIED_HEADERS)
    headers = [(name, value) for name, value in source if name.lower() in NOT_MODIFIED_HEADERS and name.lower() != "etag"]
    if etag:
        # The client may hold the tag of a compressed representation: answer with the tag it matched.
        headers.append(("ETag", held_tag(etag)))
    if marker is not None and marker.compressible:
        headers.append(("Vary", "Accept-Encoding"))
    headers.append(("X-Cache", label))
    return CachedResponse(status=304, headers=headers)
