"""The docs blueprint: ``/docs/<path>`` served from S3 with S3 website semantics."""

from botocore.exceptions import ClientError
from flask import Blueprint, Response, current_app, g, request
from werkzeug.routing import PathConverter

from . import hooks, keys
from ..errors import DocsError, NotFound, error_status, precondition_failed
from .headers import (
    NOT_MODIFIED_HEADERS,
    conditional_params,
    date_precondition_status,
    is_if_range_satisfied,
    precondition_status,
    select_headers,
)
from ..exceptions import is_missing
from ..s3 import get_s3
from .streaming import adopt_rewrite, close_body, object_response, s3_headers

bp = Blueprint("docs", __name__)

# Every route: GET and HEAD only (405 with Allow otherwise), and '//' reaches the view to be folded.
ROUTE = {"methods": ["GET", "HEAD"], "provide_automatic_options": False, "merge_slashes": False}


class AnyPathConverter(PathConverter):
    """A path converter that also matches empty segments, so the view can refuse or fold them."""

    regex = r"[\s\S]*"  # '.' would not match a newline, which must reach the view to be refused
    part_isolating = False


def redirect(location):
    """Return a 301 to ``location``, which the caller guarantees stays on this site."""
    return Response(status=301, headers={"Location": location, "Content-Type": "text/plain"})


@bp.route("/docs", **ROUTE)
def docs_root():
    """Redirect ``/docs`` to ``/docs/`` with a relative Location."""
    query = request.query_string.decode("latin-1")
    return redirect(keys.directory_location("docs", query))


@bp.route("/docs/", defaults={"path": ""}, **ROUTE)
@bp.route("/docs/<anypath:path>", **ROUTE)
def serve_doc(path):
    """Serve the object behind ``path``, redirecting directories that lack their trailing slash."""
    config = current_app.config
    if keys.has_empty_segment(path):
        query = request.query_string.decode("latin-1")
        return redirect(keys.folded_location(path, query, is_directory(keys.collapse_slashes(path))))
    key = keys.key_for_path(path, config["S3_PREFIX"], config["DOCS_INDEX_DOCUMENT"])
    g.doc_path = path
    g.s3_key = key
    try:
        hooks.run_gates(path)
    except NotFound as hidden:
        # A refusal hidden as a missing key gets a missing key's whole answer (error document, portal
        # page), without asking S3 about the key itself.
        g.answer_as_missing = True
        return answer_missing(path, hidden.as_client_error())
    response = hooks.first_answer(hooks.responders(), path, key)
    if response is not None:
        return response
    try:
        return hooks.fetch(key)
    except ClientError as error:
        if not is_missing(error):
            raise
        return answer_missing(path, error)


def answer_missing(path, error):
    """Return the first fallback's answer for a missing key, or raise S3's ``error``."""
    response = hooks.first_answer(hooks.fallbacks(), path, error)
    if response is None:
        raise error
    return response


def is_directory(path):
    """Tell whether ``path`` (no trailing slash) names no key but a directory with an index document.

    The gates run first, as before any S3 call; if one refuses, the plain folding redirect leads
    the reader to the refusal itself.
    """
    if path == "" or path.endswith("/"):
        return False
    config = current_app.config
    try:
        hooks.run_gates(path)
        key = keys.key_for_path(path, config["S3_PREFIX"], config["DOCS_INDEX_DOCUMENT"])
        get_s3().head_object(Bucket=config["S3_BUCKET"], Key=key)
    except (keys.BadPath, DocsError):
        return False
    except ClientError as error:
        return is_missing(error) and has_index(path)
    return False


def redirect_to_directory(path, error):
    """Redirect ``path`` to ``path/`` when that directory has an index document (the first fallback)."""
    if g.get("answer_as_missing"):
        return None
    if path != "" and not path.endswith("/") and hooks.spend_s3_call() and has_index(path):
        query = request.query_string.decode("latin-1")
        return redirect(keys.directory_location(path, query))
    return None


def fetch_object(key, params=None):
    """Return the response for ``key``: HEAD via head_object, GET streamed, If-Range and tag lists honoured.

    ``params`` are the conditional and Range parameters for S3, by default the request's own (the
    cache passes its own when it strips an encoding's ETag suffix).
    """
    if params is None:
        params = conditional_params(request.headers)
    conditions = request.headers
    local = hooks.page_rewrite() is not None
    if local:
        # S3 knows the object's validators, not the rewritten page's, and its ranges count the object's
        # bytes: the whole object is asked for, and the conditionals decided here on the page's own
        # (with the tags as the caller prepared them for S3: the cache strips its coding suffixes).
        conditions = local_conditions(request.headers, params)
        params = {}
    s3_response = call_s3(key, params)
    adopt_rewrite(s3_response)
    raw_headers = s3_headers(s3_response)
    decided = precondition_status(conditions, raw_headers)
    if decided is None and local:
        decided = date_precondition_status(conditions, raw_headers)
    if decided is not None:
        close_s3_response(s3_response)
        if decided == 304:
            return Response(status=304, headers=select_headers(raw_headers, NOT_MODIFIED_HEADERS))
        return precondition_failed("If-Match")
    return object_response(s3_response, current_app.config["DOCS_CHUNK_SIZE"], current_app.config["DOCS_SLOW_CHUNK_SIZE"])


def local_conditions(request_headers, params):
    """Return the request's conditional headers, with the entity tags ``params`` hold for S3 in their place."""
    conditions = {name: request_headers.get(name) for name in
                  ("If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since")}
    for header, param in (("If-Match", "IfMatch"), ("If-None-Match", "IfNoneMatch")):
        if param in params:
            conditions[header] = params[param]
    return conditions


def call_s3(key, params):
    """Call get_object (head_object for HEAD) with ``params``; the whole object replaces a range If-Range refuses."""
    s3 = get_s3()
    bucket = current_app.config["S3_BUCKET"]
    operation = s3.head_object if request.method == "HEAD" else s3.get_object
    if_range = "Range" in params and bool(request.headers.get("If-Range"))
    try:
        s3_response = operation(Bucket=bucket, Key=key, **params)
    except ClientError as error:
        if not (if_range and error_status(error) == 416):
            raise
        # The range lies past the end: the object shrank since the client's partial copy, unless the
        # validator still matches, and then the 416 stands (RFC 9110 13.1.5).
        whole = operation(Bucket=bucket, Key=key, **without_range(params))
        if is_if_range_satisfied(request.headers, s3_headers(whole)):
            close_s3_response(whole)
            raise
        return whole
    if if_range and s3_response["ResponseMetadata"]["HTTPStatusCode"] == 206 and not is_if_range_satisfied(
        request.headers, s3_headers(s3_response)
    ):
        # The object changed since the client's partial copy: the whole object replaces it.
        close_s3_response(s3_response)
        s3_response = operation(Bucket=bucket, Key=key, **without_range(params))
    return s3_response


def without_range(params):
    """Return ``params`` without the Range, to ask for the whole object."""
    return {name: value for name, value in params.items() if name != "Range"}


def close_s3_response(s3_response):
    """Close the body of an S3 response that will not be relayed."""
    if "Body" in s3_response:
        close_body(s3_response["Body"])


def has_index(path):
    """Tell whether ``path`` names a directory with an index document (the key ``path/`` maps to)."""
    config = current_app.config
    try:
        index_key = keys.key_for_path(path + "/", config["S3_PREFIX"], config["DOCS_INDEX_DOCUMENT"])
        get_s3().head_object(Bucket=config["S3_BUCKET"], Key=index_key)
    except (keys.BadPath, ClientError):
        return False
    return True


@bp.route("/", **ROUTE)
def site_root():
    """Send visitors of the bare host to the docs."""
    return redirect("docs/")


@bp.route("/favicon.ico", **ROUTE)
def favicon():
    """Serve the docs root's favicon.ico, or a cacheable 204 so browsers stop asking the bare host."""
    key = current_app.config["S3_PREFIX"] + "favicon.ico"
    g.doc_path = "favicon.ico"
    g.s3_key = key
    hooks.run_gates("favicon.ico")
    try:
        return hooks.fetch(key)
    except ClientError as error:
        if not is_missing(error):
            raise
    return Response(status=204, headers={"Cache-Control": "public, max-age=86400"})


def init_app(app):
    """Register the path converter, the request-path hooks and the blueprint on ``app``."""
    app.url_map.converters["anypath"] = AnyPathConverter
    hooks.init_app(app)
    hooks.add_fallback(app, redirect_to_directory)
    app.register_blueprint(bp)
