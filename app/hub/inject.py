"""Pure: the hub's tag block, where it goes in a page, and the page's rewrite (body, stream, ETag, length).

The block goes right after the page's ``<head ...>`` start tag (any case, with attributes). A page
without one gets it after ``<html ...>``, else after its doctype, else at the very start: the HTML
parser puts ``<meta>`` and ``<script>`` met there into the head it makes up, and a page without a
doctype is in quirks mode already. ``<head`` is looked for in the first ``LOOKAHEAD`` bytes only, so
a page is never held back whole; what comes before the insertion point is held until it is found.
"""

import hashlib
import re
from dataclasses import dataclass, field
from html import escape

# The head comes first in every real page; 64 KiB leaves room for long comments and doctypes.
LOOKAHEAD = 64 * 1024

HEAD_TAG = re.compile(rb"<head(?:\s[^>]*)?>", re.IGNORECASE)
HTML_TAG = re.compile(rb"<html(?:\s[^>]*)?>", re.IGNORECASE)
DOCTYPE = re.compile(rb"<!doctype[^>]*>", re.IGNORECASE)
# A comment may itself contain '<head>' (commented-out markup): matches inside one are skipped. One not
# closed yet runs to the end of what has arrived, so a stream decides as the whole page would.
COMMENT = re.compile(rb"<!--.*?(?:-->|\Z)", re.DOTALL)

PAGE_TYPES = ("text/html",)
# Byte-wise matching of ASCII tags is wrong for these; such pages are left alone.
WIDE_CHARSETS = ("utf-16", "utf-32", "ucs-2", "ucs-4")
SUFFIX_MARK = "-hub"


def block(project, version, page, api_url, script_url):
    """Return the tag block for ``page`` (relative to the version root) of ``project`` ``version``, as bytes."""
    values = [("docs-hub-project", project), ("docs-hub-version", version), ("docs-hub-page", page),
              ("docs-hub-api", api_url)]
    metas = "".join(f'<meta name="{name}" content="{escape(value, quote=True)}">' for name, value in values)
    return f'{metas}<script defer src="{escape(script_url, quote=True)}"></script>'.encode()


def insertion_point(data, final):
    """Return where the block goes in the page's first bytes ``data``, or ``None`` to wait for more.

    ``final`` says ``data`` is all there is (the page ended or the lookahead is used up).
    """
    comments = [match.span() for match in COMMENT.finditer(data)]
    for match in HEAD_TAG.finditer(data):
        if not any(start <= match.start() < end for start, end in comments):
            return match.end()
    if not final:
        # An unfinished '<!--' may hide the head tag's start: wait for more rather than guess.
        return None
    for pattern in (HTML_TAG, DOCTYPE):
        match = pattern.search(data)
        if match and not any(start <= match.start() < end for start, end in comments):
            return match.end()
    return 0


def is_page(status, headers):
    """Tell whether an S3 answer (headers with lower-case names) is a whole HTML page the block may go into."""
    if status != 200 or "content-range" in headers or "x-amz-website-redirect-location" in headers:
        return False
    if headers.get("content-encoding", "identity").strip().lower() not in ("", "identity"):
        return False
    media_type, _, params = (headers.get("content-type") or "").partition(";")
    if media_type.strip().lower() not in PAGE_TYPES:
        return False
    return not any(charset in params.lower() for charset in WIDE_CHARSETS)


def derived_etag(etag, suffix):
    """Return ``etag`` (strong or weak) with ``suffix`` added inside its quotes."""
    if not etag or not etag.endswith('"'):
        return etag
    return f'{etag[:-1]}{suffix}"'


@dataclass(frozen=True)
class Injection:
    """The rewrite of one page: its tag block, and the ETag suffix that names it (app/serving/hooks.py)."""

    block: bytes
    suffix: str = field(init=False)

    def __post_init__(self):
        # The block's hash, so a page's tag changes with anything its block says (the script's version too).
        object.__setattr__(self, "suffix", SUFFIX_MARK + hashlib.sha256(self.block).hexdigest()[:10])

    def applies(self, status, headers):
        """Tell whether this S3 answer is a page to put the block into."""
        return is_page(status, headers)

    def etag(self, value):
        """Return the page's ETag for the object's ``value``."""
        return derived_etag(value, self.suffix)

    def length(self, size):
        """Return the page's length for an object of ``size`` bytes."""
        return size + len(self.block)

    def body(self, data):
        """Return the whole page ``data`` with the block in place."""
        at = insertion_point(data[:LOOKAHEAD], final=True)
        return data[:at] + self.block + data[at:]

    def stream(self, chunks):
        """Yield ``chunks`` with the block in place, holding back at most ``LOOKAHEAD`` bytes; closing closes ``chunks``."""
        held = b""
        try:
            for chunk in chunks:
                if held is None:
                    yield chunk
                    continue
                held += chunk
                at = insertion_point(held[:LOOKAHEAD], final=len(held) >= LOOKAHEAD)
                if at is None:
                    continue
                yield held[:at] + self.block + held[at:]
                held = None
            if held is not None:
                at = insertion_point(held, final=True)
                yield held[:at] + self.block + held[at:]
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
