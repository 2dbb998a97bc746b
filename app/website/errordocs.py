"""Error documents: a missing page answers 404 with the nearest ``DOCS_ERROR_DOCUMENT`` up its path.

Each site's own 404 page (Sphinx and MkDocs Material generate one) shows with its styling; non-HTML
clients keep S3's XML error. The lookup looks in at most ``DOCS_ERROR_DOCUMENT_DEPTH`` folder levels
(below that, a path shares its ancestor's answer), each S3 call taken from the request's fallback
budget (``hooks.spend_s3_call``), and which key answered for a folder is cached for
``DOCS_ERROR_DOCUMENT_TTL`` seconds.

With ``DOCS_ERROR_DOCUMENT`` unset, a portal version whose publish found a ``404.html`` at its root
(the index says so) answers its own missing pages with it: one S3 call, no lookup up the path.
"""

import threading
import time
from functools import partial

from botocore.exceptions import BotoCoreError, ClientError
from flask import Response, current_app, g, request

from .. import hosts
from ..access import may_read
from ..errors import error_status
from ..exceptions import is_missing
from ..s3 import get_s3
from ..serving.hooks import add_fallback, spend_s3_call
from ..serving.streaming import close_body, prepend, stream_body

CACHE = "website.errordocs"
MAX_CACHED_FOLDERS = 10_000
# What an error page keeps of its object's headers: how to render it, never its validators (a 404
# must not become a 304 for the missing URL).
KEPT_HEADERS = {"content-type": "Content-Type", "content-language": "Content-Language",
                "content-encoding": "Content-Encoding"}


def candidate_paths(path, document, max_depth=None):
    """Return the document paths where the error document for ``path`` may be, nearest first.

    ``path`` is a document path below the docs root (``a/b/page.html``, ``a/b/``); the search goes up
    to the docs root (``S3_PREFIX``) and never above it. Only the ``max_depth`` folder levels nearest
    the root are looked in: a 480-level path must not cost 480 S3 calls.
    """
    folders = path.split("/")[:-1]
    if max_depth is not None:
        folders = folders[:max_depth]
    return ["".join(f"{folder}/" for folder in folders[:depth]) + document for depth in range(len(folders), -1, -1)]


def wants_html(accept):
    """Tell whether an ``Accept`` header names ``text/html`` (with a non-zero quality)."""
    for item in accept.split(","):
        media, _, params = item.strip().partition(";")
        if media.strip().lower() != "text/html":
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        return quality > 0
    return False


class LookupCache:
    """Which error document path answered for a folder (or ``None``), each kept for ``ttl`` seconds."""

    def __init__(self, ttl, clock=time.monotonic):
        self.ttl = ttl
        self.clock = clock
        self.entries = {}
        self.lock = threading.Lock()

    def get(self, folder):
        """Return ``(found, document_path)`` for ``folder``; ``found`` is False when unknown or expired."""
        with self.lock:
            entry = self.entries.get(folder)
        if entry is None or entry[0] < self.clock():
            return False, None
        return True, entry[1]

    def put(self, folder, document_path):
        """Remember the answer for ``folder``."""
        if self.ttl <= 0:
            return
        with self.lock:
            if len(self.entries) >= MAX_CACHED_FOLDERS:
                now = self.clock()
                self.entries = {key: value for key, value in self.entries.items() if value[0] >= now}
                if len(self.entries) >= MAX_CACHED_FOLDERS:
                    self.entries.clear()
            self.entries[folder] = (self.clock() + self.ttl, document_path)

    def forget(self, folder):
        """Drop what is known about ``folder``."""
        with self.lock:
            self.entries.pop(folder, None)


class OutOfCalls(Exception):
    """The request's budget of S3 calls for fallbacks is spent."""


def fetch_document(document_path):
    """Return S3's GET (or HEAD) of an error document, or ``None`` when it is missing."""
    if not spend_s3_call():
        raise OutOfCalls()
    config = current_app.config
    s3 = get_s3()
    operation = s3.head_object if request.method == "HEAD" else s3.get_object
    try:
        return operation(Bucket=config["S3_BUCKET"], Key=config["S3_PREFIX"] + document_path)
    except ClientError as error:
        if is_missing(error):
            return None
        raise


def find_document(path):
    """Return ``(document_path, s3_response)`` for the nearest error document of ``path``, or ``None``."""
    cache = current_app.extensions[CACHE]
    config = current_app.config
    candidates = candidate_paths(path, config["DOCS_ERROR_DOCUMENT"], config["DOCS_ERROR_DOCUMENT_DEPTH"])
    # Deeper paths share the answer of the deepest folder looked in, so they cannot fill the cache.
    folder = candidates[0][:-len(config["DOCS_ERROR_DOCUMENT"])]
    project = hosts.site_project()
    try:
        known, cached = cache.get(folder)
        if known and (cached is None or may_read(cached)):
            if cached is None:
                return None
            response = fetch_document(cached)
            if response is not None:
                return cached, response
            cache.forget(folder)
        skipped = False
        for candidate in candidates:
            if project is not None and not candidate.startswith(project + "/"):
                continue  # above the project (the bucket root's): no project's page, so not on this origin
            if not may_read(candidate):
                skipped = True
                continue
            response = fetch_document(candidate)
            if response is not None:
                cache.put(folder, candidate)
                return candidate, response
    except OutOfCalls:
        # S3's own 404 answers; nothing is cached from an unfinished lookup.
        return None
    if not skipped:
        # "None here" is only true for every reader when no candidate was hidden from this one.
        cache.put(folder, None)
    return None


def version_document(path):
    """Return ``(document_path, s3_response)`` for the error document publish recorded for ``path``'s version, or ``None``."""
    from ..portal import get_catalog

    name, _, rest = path.partition("/")
    version_name = rest.partition("/")[0]
    try:
        project = get_catalog().by_name.get(name)
    except (ClientError, BotoCoreError, ValueError):
        return None
    version = project and project.by_name.get(version_name)
    if not version or not version.error_document:
        return None
    document_path = f"{name}/{version_name}/{version.error_document}"
    if not may_read(document_path):
        return None
    try:
        response = fetch_document(document_path)
    except OutOfCalls:
        return None
    return None if response is None else (document_path, response)


def error_document(path, error):
    """Answer a missing key with the nearest error document, for clients that accept HTML (a fallback)."""
    if not wants_html(request.headers.get("Accept", "")):
        return None
    found = find_document(path) if current_app.config.get("DOCS_ERROR_DOCUMENT") else version_document(path)
    if found is None:
        return None
    document_path, s3_response = found
    raw = s3_response["ResponseMetadata"]["HTTPHeaders"]
    headers = [(name, raw[lower]) for lower, name in KEPT_HEADERS.items() if lower in raw]
    headers += [("Cache-Control", "no-cache"), ("Vary", "Accept")]
    # S3 answers 403 for a missing key when the proxy may not list the bucket; the reader sees S3's status.
    status = error_status(error)
    if "content-length" in raw:
        headers.append(("Content-Length", raw["content-length"]))
    body = s3_response.get("Body")
    if body is None:
        return Response(status=status, headers=headers)
    chunks = stream_body(
        body, current_app.config["DOCS_CHUNK_SIZE"], g.get("s3_key"), current_app.logger,
        current_app.config["DOCS_SLOW_CHUNK_SIZE"],
    )
    response = Response(prepend(next(chunks, None), chunks), status=status, headers=headers)
    response.call_on_close(partial(close_body, body))
    return response


def init_app(app):
    """Register the error-document fallback: ``DOCS_ERROR_DOCUMENT`` up the path, else versions' own."""
    app.extensions[CACHE] = LookupCache(app.config["DOCS_ERROR_DOCUMENT_TTL"])
    add_fallback(app, error_document)
