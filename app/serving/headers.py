"""Pure policy: which headers go from S3 to the client and from the client to S3."""

from werkzeug.http import parse_date, parse_etags, parse_range_header, unquote_etag

# Headers that describe the representation; anything else S3 sends (hop-by-hop headers,
# x-amz-request-id, checksums, server) stays between the app and S3.
REPRESENTATION_HEADERS = {
    "content-type": "Content-Type",
    "content-length": "Content-Length",
    "content-range": "Content-Range",
    "content-encoding": "Content-Encoding",
    "content-disposition": "Content-Disposition",
    "content-language": "Content-Language",
    "cache-control": "Cache-Control",
    "expires": "Expires",
    "etag": "ETag",
    "last-modified": "Last-Modified",
    "accept-ranges": "Accept-Ranges",
    "x-amz-version-id": "x-amz-version-id",
}

# A 304 carries the validators and caching headers, never a body's length or type (RFC 9110 15.4.5).
NOT_MODIFIED_HEADERS = ("cache-control", "expires", "etag", "last-modified", "x-amz-version-id")

# What an S3 error response keeps: its body's type, and Content-Range on a 416.
ERROR_HEADERS = ("content-type", "content-range")

META_PREFIX = "x-amz-meta-"
# User metadata publish keeps for itself (a file's checksum, to skip unchanged uploads): no reader needs it.
PUBLISH_METADATA = frozenset({"x-amz-meta-sha256"})


def _is_safe_value(value):
    return "\r" not in value and "\n" not in value and "\0" not in value


def select_headers(s3_headers, allowed=None):
    """Return the (name, value) pairs of S3's response headers that the client should see."""
    selected = []
    for name, value in s3_headers.items():
        lower = name.lower()
        if not _is_safe_value(value):
            continue
        if allowed is not None:
            if lower in allowed:
                selected.append((REPRESENTATION_HEADERS.get(lower, name), value))
        elif lower in REPRESENTATION_HEADERS:
            selected.append((REPRESENTATION_HEADERS[lower], value))
        elif lower.startswith(META_PREFIX) and lower not in PUBLISH_METADATA:
            selected.append((lower, value))
    return selected


def conditional_params(request_headers):
    """Return the get_object/head_object parameters for the request's Range and conditionals.

    Dates that do not parse are dropped, as RFC 9110 13.1.3 tells a server to ignore them, and so
    are dates beside an entity-tag condition, which takes precedence (RFC 9110 13.2.2). Lists of
    entity tags are not sent: S3 compares one tag, so ``precondition_status`` decides those.
    """
    params = {}
    for header, param in (("If-Match", "IfMatch"), ("If-None-Match", "IfNoneMatch")):
        value = request_headers.get(header)
        if value and _is_safe_value(value) and not is_etag_list(value):
            params[param] = value
    for header, param in (("If-Modified-Since", "IfModifiedSince"), ("If-Unmodified-Since", "IfUnmodifiedSince")):
        value = request_headers.get(header)
        if value and not request_headers.get(DATE_OVERRIDDEN_BY[header]):
            date = parse_date(value)
            if date is not None:
                params[param] = date
    byte_range = request_headers.get("Range")
    if byte_range and is_single_byte_range(byte_range) and is_range_wanted(request_headers):
        params["Range"] = byte_range
    return params


# RFC 9110 13.1.3/13.1.4: a recipient ignores the date when the entity-tag condition is present.
DATE_OVERRIDDEN_BY = {"If-Modified-Since": "If-None-Match", "If-Unmodified-Since": "If-Match"}


def is_etag_list(value):
    """Tell whether an If-Match/If-None-Match value names more than one entity tag."""
    etags = parse_etags(value)
    return not etags.star_tag and len(etags._strong) + len(etags._weak) > 1


def precondition_status(request_headers, s3_headers):
    """Return 412 or 304 when If-Match / If-None-Match decide against a 2xx S3 gave, else ``None``.

    RFC 9110 13.2.2: If-Match first, strong comparison (412); then If-None-Match, weak comparison
    (304 for GET and HEAD). S3 compares a single tag itself; this covers lists and weak tags, which
    it answers with 200, and agrees with S3 on everything else.
    """
    etag, weak = unquote_etag(s3_headers.get("etag", ""))
    if_match = request_headers.get("If-Match")
    if if_match and _is_safe_value(if_match):
        etags = parse_etags(if_match)
        if not (etags.star_tag or (etag is not None and not weak and etags.contains(etag))):
            return 412
    if_none_match = request_headers.get("If-None-Match")
    if if_none_match and _is_safe_value(if_none_match):
        etags = parse_etags(if_none_match)
        if etags.star_tag or (etag is not None and etags.contains_weak(etag)):
            return 304
    return None


def date_precondition_status(request_headers, s3_headers):
    """Return 412 or 304 when If-Unmodified-Since / If-Modified-Since decide against a 2xx, else ``None``.

    For answers whose conditionals were not sent to S3 (a rewritten page): a date is ignored beside
    the entity-tag condition that overrides it, and when it does not parse (RFC 9110 13.1.3, 13.1.4).
    """
    unmodified = request_headers.get("If-Unmodified-Since") if not request_headers.get("If-Match") else None
    modified_since = request_headers.get("If-Modified-Since") if not request_headers.get("If-None-Match") else None
    if not unmodified and not modified_since:
        return None  # most requests: no date to parse
    modified = parse_date(s3_headers.get("last-modified", ""))
    if modified is None:
        return None
    since = parse_date(unmodified) if unmodified else None
    if since is not None and modified > since:
        return 412
    since = parse_date(modified_since) if modified_since else None
    if since is not None and modified <= since:
        return 304
    return None


def is_single_byte_range(value):
    """Tell whether ``value`` is a well-formed Range of one byte range, the only kind S3 serves.

    Anything else is ignored and the whole object served, as RFC 9110 14.2 allows: an unknown unit
    or a malformed, reversed or multi-range set is never sent on for S3 (or a look-alike) to misread.
    """
    if not _is_safe_value(value):
        return False
    parsed = parse_range_header(value)
    return parsed is not None and parsed.units == "bytes" and len(parsed.ranges) == 1


def is_range_wanted(request_headers):
    """Tell whether the Range may be sent given If-Range; a weak or unparsable validator never matches."""
    validator = request_headers.get("If-Range")
    if not validator:
        return True
    validator = validator.strip()
    if validator.startswith("W/"):
        return False
    if validator.startswith('"'):
        return True
    return parse_date(validator) is not None


def is_if_range_satisfied(request_headers, s3_headers):
    """Tell whether a partial response S3 gave still matches the request's If-Range (RFC 9110 13.1.5)."""
    validator = request_headers.get("If-Range")
    if not validator:
        return True
    validator = validator.strip()
    if validator.startswith('"'):
        etag, weak = unquote_etag(s3_headers.get("etag", ""))
        wanted, _ = unquote_etag(validator)
        return not weak and etag is not None and etag == wanted
    wanted = parse_date(validator)
    modified = parse_date(s3_headers.get("last-modified", ""))
    return wanted is not None and modified is not None and wanted == modified
