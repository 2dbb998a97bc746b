"""The docs blueprint: ``/docs/<path>`` served from S3 with S3 website semantics."""

from urllib.parse import quote

from botocore.exceptions import ClientError
from flask import Blueprint, Response, current_app, g, request
from werkzeug.routing import PathConverter

from . import hooks, keys
from ..errors import error_status
from .headers import conditional_params, is_if_range_satisfied
from ..s3 import get_s3
from .streaming import close_body, object_response, s3_headers

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
        # Path-absolute and rooted at our own prefix, so '//evil.example' can only become '/docs/evil.example'.
        collapsed = keys.collapse_slashes(path)
        return redirect(f"{request.script_root}/docs/{quote(collapsed)}")
    key = keys.key_for_path(path, config["S3_PREFIX"], config["DOCS_INDEX_DOCUMENT"])
    g.doc_path = path
    g.s3_key = key
    hooks.run_gates(path)
    response = hooks.first_answer(hooks.responders(), path, key)
    if response is not None:
        return response
    try:
        return hooks.fetch(key)
    except ClientError as error:
        if not is_missing(error):
            raise
        response = hooks.first_answer(hooks.fallbacks(), path, error)
        if response is None:
            raise
        return response


def is_missing(error):
    """Tell whether S3's error means the key does not exist.

    403 counts as missing: without s3:ListBucket, S3 answers 403 for keys that do not exist.
    """
    return error_status(error) in (403, 404)


def redirect_to_directory(path, error):
    """Redirect ``path`` to ``path/`` when that directory has an index document (the first fallback)."""
    if path != "" and not path.endswith("/") and has_index(path):
        query = request.query_string.decode("latin-1")
        return redirect(keys.directory_location(path, query))
    return None


def fetch_object(key, params=None):
    """Return the response for ``key``: HEAD via head_object, GET streamed, If-Range honoured.

    ``params`` are the conditional and Range parameters for S3, by default the request's own.
    """
    s3 = get_s3()
    bucket = current_app.config["S3_BUCKET"]
    operation = s3.head_object if request.method == "HEAD" else s3.get_object
    if params is None:
        params = conditional_params(request.headers)
    s3_response = operation(Bucket=bucket, Key=key, **params)
    if s3_response["ResponseMetadata"]["HTTPStatusCode"] == 206 and not is_if_range_satisfied(
        request.headers, s3_headers(s3_response)
    ):
        # The object changed since the client's partial copy: the whole object replaces it.
        if "Body" in s3_response:
            close_body(s3_response["Body"])
        params.pop("Range")
        s3_response = operation(Bucket=bucket, Key=key, **params)
    return object_response(s3_response, current_app.config["DOCS_CHUNK_SIZE"])


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
