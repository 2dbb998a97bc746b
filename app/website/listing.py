"""Folder listings: a folder without an index document, below a ``DOCS_LISTING_PREFIXES`` entry, lists its contents.

HTML (escaped by Jinja, sortable by name, size and date, with breadcrumbs) or JSON for clients that
ask for ``application/json``. A page holds up to ``DOCS_LISTING_PAGE_SIZE`` entries, gathered from as
many ``list_objects_v2`` calls as that takes (S3 returns at most 1,000 keys per call); a longer folder
links to its next page with S3's continuation token. Entries the reader may not read are left out.
"""

from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote, urlencode

from botocore.exceptions import ClientError
from flask import Response, current_app, render_template, request

from .. import hosts
from ..access import may_read
from ..errors import DocsError, error_status
from ..s3 import get_s3
from ..serving.hooks import add_fallback, claim_folders, spend_s3_call
from ..serving.keys import directory_location, is_reserved_name
from ..serving.views import redirect

S3_MAX_KEYS = 1000
# S3 calls a listing page may make beyond what its size needs, to fill it past hidden entries.
EXTRA_CALLS = 20
SORT_KEYS = ("name", "size", "date")
ORDERS = ("asc", "desc")


@dataclass(frozen=True)
class Entry:
    """One line of a listing: a file, or a folder (``name`` ends in '/', no size or date)."""

    name: str
    size: int | None = None
    last_modified: datetime | None = None

    @property
    def is_folder(self):
        """Tell whether the entry is a folder."""
        return self.name.endswith("/")

    @property
    def href(self):
        """Return the entry's link, relative to the folder ('./' keeps a ':' from reading as a scheme)."""
        return "./" + quote(self.name, safe="/")


def is_listed(path, prefixes):
    """Tell whether the folder ``path`` (``''`` or ending in '/') may be listed under ``prefixes``."""
    return any(prefix == "*" or path.startswith(prefix) for prefix in prefixes)


def human_size(size):
    """Return ``size`` bytes the way people read them: ``999 B``, ``1.5 KiB``, ``2.0 GiB``."""
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def breadcrumbs(path):
    """Return ``(label, href)`` pairs from the docs root down to the folder ``path``, hrefs relative."""
    segments = [segment for segment in path.split("/") if segment]
    crumbs = [("docs", "../" * len(segments) or "./")]
    for depth, segment in enumerate(segments, start=1):
        crumbs.append((segment, "../" * (len(segments) - depth) or "./"))
    return crumbs


def site_breadcrumbs(path):
    """Return the breadcrumbs of ``path`` on this host: on a project's own host the docs root is the main host's portal."""
    crumbs = breadcrumbs(path)
    if hosts.site_project() is not None:
        crumbs[0] = (crumbs[0][0], hosts.main_url("/_/"))
    return crumbs


def sort_entries(entries, sort="name", order="asc"):
    """Return ``entries`` sorted by ``sort`` in ``order``, folders always before files."""
    keys = {
        "name": lambda entry: entry.name,
        "size": lambda entry: (entry.size or 0, entry.name),
        "date": lambda entry: (entry.last_modified.timestamp() if entry.last_modified else 0.0, entry.name),
    }
    reverse = order == "desc"
    folders = sorted((entry for entry in entries if entry.is_folder), key=lambda entry: entry.name, reverse=reverse and sort == "name")
    files = sorted((entry for entry in entries if not entry.is_folder), key=keys[sort], reverse=reverse)
    return folders + files


def entries_of_page(page, key_prefix):
    """Return the ``Entry`` list of one ``list_objects_v2`` answer, names relative to ``key_prefix``."""
    entries = []
    for common in page.get("CommonPrefixes", ()):
        entries.append(Entry(common["Prefix"][len(key_prefix):]))
    for item in page.get("Contents", ()):
        entries.append(Entry(item["Key"][len(key_prefix):], item["Size"], item["LastModified"].astimezone(timezone.utc)))
    # The folder's own marker object, names S3 cannot turn back into a path, and docs-proxy's own records.
    return [
        entry for entry in entries
        if entry.name and not entry.name.startswith("/") and not is_reserved_name(entry.name)
    ]


def list_folder(key_prefix, page_size, token=None, keep=None):
    """Return ``(entries, next_token)``: up to ``page_size`` entries of the folder that ``keep`` accepts, from ``token`` on.

    Entries are filtered while the page is gathered, so a page is short only where the folder ends
    (or after ``EXTRA_CALLS`` calls that found nothing to keep): a page of 20 with 13 shown would
    tell a reader that 7 are hidden from them.
    """
    s3 = get_s3()
    bucket = current_app.config["S3_BUCKET"]
    entries = []
    calls = 0
    while True:
        params = {"Bucket": bucket, "Prefix": key_prefix, "Delimiter": "/",
                  "MaxKeys": min(S3_MAX_KEYS, page_size - len(entries))}
        if token:
            params["ContinuationToken"] = token
        page = s3.list_objects_v2(**params)
        calls += 1
        entries.extend(entry for entry in entries_of_page(page, key_prefix) if keep is None or keep(entry))
        token = page.get("NextContinuationToken") if page.get("IsTruncated") else None
        if token is None or len(entries) >= page_size or calls >= page_size // S3_MAX_KEYS + 1 + EXTRA_CALLS:
            return entries, token


def has_readable_contents(path):
    """Tell whether the folder ``path`` holds anything the reader may see (a listing would not be empty)."""
    entries, _ = list_folder(current_app.config["S3_PREFIX"] + path, 1, keep=lambda entry: may_read(path + entry.name))
    return bool(entries)


def wants_json():
    """Tell whether the client prefers JSON to HTML."""
    accept = request.accept_mimetypes
    return accept.best_match(["text/html", "application/json"]) == "application/json" and accept["application/json"] > 0


def page_link(token, sort, order):
    """Return the relative link to a listing page with its sort order."""
    params = {}
    if sort != "name" or order != "asc":
        params.update(sort=sort, order=order)
    if token:
        params["page"] = token
    return "./?" + urlencode(params) if params else "./"


def listing(path, error):
    """List a folder that has no index document, when listings are on for it (a fallback)."""
    prefixes = current_app.extensions["website.listing_prefixes"]
    config = current_app.config
    if path != "" and not path.endswith("/"):
        # A listable folder named without its slash: the same redirect an index document gets.
        if (is_listed(path + "/", prefixes) and may_read(path + "/") and spend_s3_call()
                and has_readable_contents(path + "/")):
            return redirect(directory_location(path, request.query_string.decode("latin-1")))
        return None
    if not is_listed(path, prefixes) or not may_read(path) or not spend_s3_call():
        return None
    sort = request.args.get("sort", "name")
    order = request.args.get("order", "asc")
    if sort not in SORT_KEYS or order not in ORDERS:
        raise DocsError(f"sort must be one of {', '.join(SORT_KEYS)} and order one of {', '.join(ORDERS)}")
    token = request.args.get("page") or None
    key_prefix = config["S3_PREFIX"] + path
    try:
        entries, next_token = list_folder(
            key_prefix, config["DOCS_LISTING_PAGE_SIZE"], token, keep=lambda entry: may_read(path + entry.name)
        )
    except ClientError as failure:
        if token is None or error_status(failure) != 400:
            raise
        # S3 refuses a token it did not issue (or one for another prefix) with 400 InvalidArgument.
        raise DocsError("the page parameter is not a page of this folder; start again from the first page") from None
    if not entries and token is None and next_token is None:
        # Nothing this reader may see: the answer a folder that does not exist gets, hidden entries or not.
        return None
    entries = sort_entries(entries, sort, order)
    next_link = page_link(next_token, sort, order) if next_token else None
    headers = {"Cache-Control": "no-cache", "Vary": "Accept"}
    if wants_json():
        response = current_app.json.response(listing_json(path, entries, next_link))
        response.headers.update(headers)
        return response
    html = render_template(
        "website/listing.html",
        path=path,
        title="/docs/" + path,
        entries=entries,
        crumbs=site_breadcrumbs(path),
        parent="../" if path else None,
        sort=sort,
        order=order,
        sort_link=lambda column: page_link(token, column, "desc" if column == sort and order == "asc" else "asc"),
        next_link=next_link,
        first_link=page_link(None, sort, order) if token else None,
        human_size=human_size,
    )
    return Response(html, status=200, headers=headers, mimetype="text/html")


def listing_json(path, entries, next_link):
    """Return the JSON body of a listing page."""
    return {
        "path": path,
        "entries": [
            {
                "name": entry.name,
                "type": "folder" if entry.is_folder else "file",
                "size": entry.size,
                "last_modified": entry.last_modified.isoformat() if entry.last_modified else None,
                "href": entry.href,
            }
            for entry in entries
        ],
        "next": next_link,
    }


def init_app(app):
    """Register the listing fallback when ``DOCS_LISTING_PREFIXES`` names any folder."""
    prefixes = app.config["DOCS_LISTING_PREFIXES"]  # normalised folders, parsed by config.folders
    if not prefixes:
        return
    app.extensions["website.listing_prefixes"] = prefixes
    add_fallback(app, listing)
    # The portal runs first: tell it which folders are listings. '*' (everywhere) claims nothing, leaving
    # the portal's answers to the portal.
    named = [prefix for prefix in prefixes if prefix != "*"]
    claim_folders(app, lambda folder: is_listed(folder, named))
