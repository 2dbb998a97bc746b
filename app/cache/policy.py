"""Pure policy of the hot-object cache: what may be stored, how long it stays fresh, when stale may serve."""

from werkzeug.http import parse_date, parse_etags, unquote_etag

# Directives that forbid this cache keeping an object at all. ``no-cache`` is not among them: it tells
# browsers to revalidate, and this cache, the origin's own, revalidates within DOCS_CACHE_TTL anyway.
NEVER_STORE = ("no-store", "private")


def cache_directives(cache_control):
    """Return the directives of a ``Cache-Control`` value as a dict of lower-case name to value (or ``None``)."""
    directives = {}
    for part in (cache_control or "").split(","):
        name, _, value = part.strip().partition("=")
        name = name.strip().lower()
        if name:
            directives[name] = value.strip().strip('"') or None
    return directives


def is_storable(status, headers, max_object_size):
    """Tell whether a get_object answer may be kept: a whole 200 within the size limit, neither private nor no-store.

    ``headers`` are S3's response headers with lower-case names.
    """
    if status != 200 or "content-range" in headers:
        return False
    try:
        size = int(headers.get("content-length", ""))
    except ValueError:
        return False
    if size > max_object_size:
        return False
    # An object that redirects (S3 website redirect) is answered by its own code path every time.
    if "x-amz-website-redirect-location" in headers:
        return False
    directives = cache_directives(headers.get("cache-control"))
    return not any(name in directives for name in NEVER_STORE)


def freshness_lifetime(cache_control, ttl, immutable_ttl):
    """Return how many seconds an object stays fresh here: long when ``immutable``, else the short proxy TTL."""
    if "immutable" in cache_directives(cache_control):
        return immutable_ttl
    return ttl


def is_fresh(age, lifetime):
    """Tell whether an entry validated ``age`` seconds ago is still fresh."""
    return age < lifetime


def may_serve_stale(age, max_stale):
    """Tell whether an entry validated ``age`` seconds ago may stand in while S3 is failing."""
    return age <= max_stale


def failed_precondition(request_headers, etag, last_modified):
    """Return the precondition header that fails for a stored object (RFC 9110 13.2.2), or ``None``.

    Werkzeug's ``make_conditional`` answers If-None-Match, If-Modified-Since and If-Range; If-Match
    and If-Unmodified-Since, which it leaves alone, are evaluated here first, in the RFC's order.
    """
    if_match = request_headers.get("If-Match")
    if if_match:
        wanted = parse_etags(if_match)
        tag, weak = unquote_etag(etag) if etag else (None, True)
        if wanted.star_tag or (tag is not None and not weak and wanted.contains(tag)):
            return None
        return "If-Match"
    since = request_headers.get("If-Unmodified-Since")
    if not since:
        return None
    since, modified = parse_date(since), parse_date(last_modified)
    if since is not None and modified is not None and modified > since:
        return "If-Unmodified-Since"
    return None
