"""Pure policy: which ``x-amz-website-redirect-location`` values may become a 301, and to where.

S3 website hosting accepts two forms: a path on the same site (``/new/page.html``) and an absolute
``http``/``https`` URL. Anything else (``//host``, ``javascript:``, a backslash, control characters
that could split the header) is refused, so a crafted value can neither leave the site unnoticed nor
inject a header.
"""

import unicodedata
from urllib.parse import quote, urlsplit

# Characters kept as they are when re-quoting: the URL's own delimiters and existing escapes.
URL_SAFE = "/%:@!$&'()*+,;=-._~?#[]"


class BadRedirect(ValueError):
    """A redirect location that must not be followed; ``reason`` says why."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def check_location(value):
    """Raise ``BadRedirect`` unless ``value`` is a site path (``/...``) or an absolute http(s) URL."""
    if not value:
        raise BadRedirect("the location is empty")
    if any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in value):
        raise BadRedirect("the location contains control characters")
    if " " in value or "\t" in value:
        raise BadRedirect("the location contains spaces (percent-encode them as %20)")
    if "\\" in value:
        raise BadRedirect("the location contains a backslash, which browsers read as '/'")
    if value.startswith("/"):
        if value.startswith("//"):
            raise BadRedirect("the location starts with '//', which browsers read as another host")
        path = urlsplit(value).path
        if any(segment in (".", "..") for segment in path.split("/")):
            raise BadRedirect("the location contains '.' or '..' segments")
        return
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https"):
        raise BadRedirect("the location is neither a path starting with '/' nor an http(s) URL")
    try:
        host = parts.hostname
        parts.port
    except ValueError:
        host = None
    if not host or value[len(parts.scheme):len(parts.scheme) + 3] != "://":
        raise BadRedirect("the URL has no host")


def redirect_location(value, docs_root="/docs"):
    """Return the ``Location`` for a redirect object's ``value``, or raise ``BadRedirect``.

    A site path is below the docs root (``/guide/`` is ``{docs_root}/guide/``), the way S3 reads it
    below the website's root; an absolute URL is kept. Non-ASCII characters are percent-encoded, so
    the header value is plain ASCII whatever the object's metadata held.
    """
    check_location(value)
    if value.startswith("/"):
        return docs_root.rstrip("/") + quote(value, safe=URL_SAFE)
    return quote(value, safe=URL_SAFE)
