"""The ``_redirects`` step of a publish: one zero-byte redirect object per line, so renamed pages keep their URLs.

The file sits at the site root and uses the format Netlify and Cloudflare Pages read: ``old new
[status]`` per line, ``#`` comments. ``old`` is a path on the site, ``new`` a path on the site or an
absolute http(s) URL. Each line becomes an object at ``old`` carrying ``x-amz-website-redirect-location``
(S3 website semantics), which the server answers with a 301. Every line is checked before anything is
uploaded: one bad line stops the publish with its line number, and nothing is changed in the bucket.
"""

from concurrent.futures import as_completed
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from ..serving.keys import is_reserved_name
from ..serving.redirects import BadRedirect, check_location

REDIRECTS_FILE = "_redirects"
# Redirect objects answer 301 whatever the file says; '!' (Netlify's "force") is accepted, since a
# redirect object always replaces what was at its path.
ACCEPTED_STATUSES = ("301", "301!")
# A redirect object per line: tens of thousands of lines is already far past any real site.
MAX_REDIRECTS_BYTES = 8 * 1024 * 1024


class RedirectsError(ValueError):
    """A ``_redirects`` line that cannot be published; the message names the line."""


@dataclass(frozen=True)
class Redirect:
    """One redirect object to write: its key below the destination and its website redirect location."""

    line: int
    relkey: str
    location: str


def old_relkey(old, index_document):
    """Return the key (below the site root) of the redirect object for the site path ``old``, or raise ``BadRedirect``."""
    if not old.startswith("/"):
        raise BadRedirect(f"the old path {old!r} must start with '/'")
    if any(char in old for char in "?#*\\") or any(segment.startswith(":") for segment in old.split("/")):
        raise BadRedirect(
            f"the old path {old!r} has a query, fragment, wildcard or placeholder; redirect objects match one exact path"
        )
    relkey = old[1:]
    segments = relkey.split("/")
    if any(segment in (".", "..") for segment in segments) or "//" in old:
        raise BadRedirect(f"the old path {old!r} has '.', '..' or empty segments")
    if any(is_reserved_name(segment) for segment in segments):
        # A redirect object there would replace the version's own record (its search document, its
        # publish manifest), breaking that version's search or next publish.
        raise BadRedirect(f"the old path {old!r} names one of docs-proxy's own records (.docs-*)")
    if relkey == "" or relkey.endswith("/"):
        relkey += index_document
    return relkey


def new_location(new, site_path):
    """Return the website redirect location for ``new``: site paths below the docs root, URLs as they are."""
    if new.startswith("/") and not new.startswith("//"):
        new = "/" + site_path + new[1:]
    check_location(new)
    return new


def parse_redirects(text, site_path="", index_document="index.html", files=()):
    """Return the ``Redirect`` list of a ``_redirects`` file, or raise ``RedirectsError`` naming the first bad line.

    ``site_path`` is where the site is published below the docs root (``platform/2.4/``); ``files`` are
    the site's own files, which a redirect must not replace.
    """
    redirects, seen, files = [], {}, set(files)
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        try:
            if len(fields) not in (2, 3):
                raise BadRedirect("expected 'old new [status]'")
            if len(fields) == 3 and fields[2] not in ACCEPTED_STATUSES:
                raise BadRedirect(
                    f"status {fields[2]!r} is not supported: redirect objects always answer 301; write 301 or leave it out"
                )
            relkey = old_relkey(fields[0], index_document)
            location = new_location(fields[1], site_path)
            if relkey in files:
                raise BadRedirect(f"{fields[0]} is also a file of the site ({relkey}); remove the file or the line")
            if relkey in seen:
                raise BadRedirect(f"{fields[0]} is already redirected on line {seen[relkey]}")
        except BadRedirect as error:
            raise RedirectsError(f"{REDIRECTS_FILE} line {number}: {error.reason}: {line!r}") from None
        seen[relkey] = number
        redirects.append(Redirect(number, relkey, location))
    return redirects


def read_redirects(sources, site_path, index_document, opener=None):
    """Return ``(redirects, sources without the _redirects file)`` for a scanned site; raise ``RedirectsError``.

    ``opener(source)`` opens a source file for reading bytes (a file on disk by default).
    """
    found = [source for source in sources if source.relkey == REDIRECTS_FILE]
    if not found:
        return [], sources
    opener = opener or (lambda source: open(source.path, "rb"))
    try:
        with opener(found[0]) as file:
            text = file.read(MAX_REDIRECTS_BYTES + 1).decode("utf-8")
        if len(text.encode()) > MAX_REDIRECTS_BYTES:
            raise RedirectsError(f"{REDIRECTS_FILE} is larger than {MAX_REDIRECTS_BYTES // 1024 // 1024} MiB")
    except UnicodeDecodeError:
        raise RedirectsError(f"{REDIRECTS_FILE} is not UTF-8 text") from None
    except (OSError, ClientError, BotoCoreError) as error:
        raise RedirectsError(f"{REDIRECTS_FILE} cannot be read: {getattr(error, 'strerror', None) or error}") from None
    rest = [source for source in sources if source.relkey != REDIRECTS_FILE]
    redirects = parse_redirects(text, site_path, index_document, {source.relkey for source in rest})
    return redirects, rest


def write_redirects(s3, bucket, key_prefix, redirects, cache_control, pool):
    """Write every redirect object on ``pool``; return ``(written relkeys, [(relkey, error), ...])``."""
    def put(redirect):
        s3.put_object(
            Bucket=bucket,
            Key=key_prefix + redirect.relkey,
            Body=b"",
            WebsiteRedirectLocation=redirect.location,
            ContentType="text/html; charset=utf-8",
            CacheControl=cache_control,
        )

    futures = {pool.submit(put, redirect): redirect for redirect in redirects}
    written, failed = [], []
    for future in as_completed(futures):
        error = future.exception()
        if error is None:
            written.append(futures[future].relkey)
        else:
            failed.append((futures[future].relkey, error))
    return sorted(written), failed
