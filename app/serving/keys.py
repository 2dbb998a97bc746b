"""Pure policy: which S3 key a request path names, and whether the path is acceptable at all."""

import posixpath
import re
from urllib.parse import quote

from ..exceptions import BadPath  # keys.BadPath: raised here, defined beside DocsError

MAX_KEY_BYTES = 1024  # S3's limit on an object key, in UTF-8 bytes.
# Unicode's control characters (category Cc: exactly C0, DEL and C1) and the backslash.
REFUSED_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f\\]")

# docs-proxy's own records in the bucket (publish's manifest, search documents, the portal index and
# its per-project entries) all start with this. They hold names and text from folders the access
# rules may refuse, so no path that names one is ever served as a document.
RESERVED_PREFIX = ".docs-"


def check_path(path):
    """Raise ``BadPath`` unless ``path`` (decoded, below ``/docs/``) is safe to map to a key."""
    refused = REFUSED_CHARACTER.search(path)
    if refused is not None:
        if refused.group() == "\\":
            raise BadPath("backslashes are not allowed in document paths")
        raise BadPath("control characters are not allowed in document paths")
    if path.startswith("/"):
        raise BadPath("document paths must not start with '/'")
    segments = path.split("/")
    if any(segment in (".", "..") for segment in segments):
        raise BadPath("'.' and '..' segments are not allowed in document paths")
    if any(is_reserved_name(segment) for segment in segments):
        raise BadPath(f"names starting with {RESERVED_PREFIX!r} are docs-proxy's own records, not documents", status=404)


def is_reserved_name(name):
    """Tell whether ``name`` (one path segment) is one of docs-proxy's own records in the bucket."""
    return name.startswith(RESERVED_PREFIX)


def key_for_path(path, prefix="", index_document="index.html"):
    """Return the S3 key for a path below ``/docs/``; directory paths get the index document."""
    check_path(path)
    key = prefix + path
    if path == "" or path.endswith("/"):
        key += index_document
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise BadPath(f"the document path is longer than S3's {MAX_KEY_BYTES}-byte key limit", status=414)
    return key


def has_empty_segment(path):
    """Tell whether ``/docs/`` + ``path`` has an empty segment, answered with a redirect to the collapsed path."""
    return path.startswith("/") or "//" in path


def collapse_slashes(path):
    """Return ``path`` with runs of ``/`` folded into one and no leading ``/``."""
    collapsed = "/".join(segment for segment in path.split("/") if segment)
    if path.endswith("/") and collapsed:
        collapsed += "/"
    return collapsed


def folded_location(path, query_string="", directory=False):
    """Return the relative ``Location`` that folds the empty segments of ``/docs/`` + ``path`` in one redirect.

    It climbs back to the mount point (one ``../`` per directory the browser sees in the request
    path) and names ``docs/<collapsed path>`` from there, so a proxy that mounts the app under a
    path keeps its prefix; starting with ``..``, it can never become ``//evil.example``. With
    ``directory`` the trailing slash is added too, saving the second redirect.
    """
    collapsed = collapse_slashes(path)
    if directory and collapsed and not collapsed.endswith("/"):
        collapsed += "/"
    ups = ("/docs/" + path).count("/") - 1
    return "../" * ups + "docs/" + quote(collapsed) + _query(query_string)


def _query(query_string):
    # Re-quote so that nothing a client sent can break out of the header value.
    return "?" + quote(query_string, safe="=&%+;/?:@,$!*'()~[]") if query_string else ""


def directory_location(path, query_string=""):
    """Return the relative ``Location`` that adds a trailing slash to the last segment of ``path``.

    Relative, so it stays right behind a TLS-terminating proxy and can never name another host:
    ``a/b`` gives ``b/``, resolved by the browser against ``/docs/a/b`` to ``/docs/a/b/``.
    """
    last = posixpath.basename(path.rstrip("/"))
    # "./" keeps a first segment that contains ':' from being read as a URL scheme.
    return "./" + quote(last, safe="") + "/" + _query(query_string)
