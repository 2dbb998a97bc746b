"""Routes: the hub's script and stylesheet, and its context API (what the script shows on a page)."""

import hashlib
import json
from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, request

from .. import access, hosts
from ..cache import compression
from ..errors import DocsError
from ..portal.versions import parse_version
from ..portal.views import (catalog_or_none, docs_url, readable_names, reader_resolution, shown_project,
                            visible_project)
from ..s3 import get_s3
from ..serving.hooks import spend_s3_call
from . import get_hub, policy

bp = Blueprint("hub", __name__, url_prefix="/_/hub")

ROUTE = {"methods": ["GET", "HEAD"], "provide_automatic_options": False}
IMMUTABLE = "public, max-age=31536000, immutable"
MAX_PAGE = 1024


@bp.route("/<any('hub.js', 'hub.css'):name>", **ROUTE)
def asset(name):
    """Serve the hub's script or stylesheet: immutable when asked for by its current version, compressed where accepted."""
    hub = get_hub()
    item = hub.assets[name]
    coding = compression.choose_encoding(request.headers.get("Accept-Encoding"), compression.available_codecs())
    body = item.body if coding in (None, "identity") else item.encoded[coding]
    headers = {"Content-Type": item.content_type, "Vary": "Accept-Encoding",
               "Cache-Control": IMMUTABLE if request.args.get("v") == hub.version else "no-cache"}
    if coding not in (None, "identity"):
        headers["Content-Encoding"] = coding
    response = Response(body, headers=headers)
    response.set_etag(compression.encoded_etag(item.etag, coding or "identity").strip('"'))
    return response.make_conditional(request)


def page_urls(project, names, page, first=()):
    """Return ``{version: URL}``: the same page in each version when its manifest has it, else the version's root.

    Manifests this worker does not hold yet are read from the request's fallback budget
    (``DOCS_FALLBACK_S3_CALLS``), ``first`` (the version read, the default) before the others: a project
    with more versions than a worker keeps must not make every page view one S3 GET per version.
    Versions beyond the budget lead through the switch, which finds the page when followed.
    """
    config = current_app.config
    manifests = get_hub().manifests
    switch = lambda name, version, rest: (  # noqa: E731
        hosts.main_url(f"/_/switch/{quote(name)}/{quote(version)}/{quote(rest)}"))
    urls = {}
    for name in sorted(names, key=lambda name: name not in first):
        published = project.by_name[name].published
        known, pages = manifests.kept(project.name, name, published)
        if not known and spend_s3_call():
            pages = manifests.pages(get_s3(), config["S3_BUCKET"], config["S3_PREFIX"], project.name, name,
                                    published, config["DOCS_INDEX_DOCUMENT"], current_app.logger)
        urls[name] = policy.version_url(docs_url, switch, project.name, name, page, pages, config["DOCS_INDEX_DOCUMENT"])
    return {name: urls[name] for name in names}


def context(project, version, page):
    """Return the context API's document for ``page`` of ``project`` ``version``, for the current reader."""
    names = readable_names(project)
    resolution = reader_resolution(project, names)
    # Title, owner, contact and repository as the versions this reader may read said them (portal.catalog).
    project = shown_project(project)
    current = project.by_name[version]
    listed = list(names)
    if version not in listed:
        listed.insert(0, version)  # a hidden version the reader is reading: shown as the current one only
    default = resolution.default
    urls = page_urls(project, listed, page, first=(version, default))
    newer = default is not None and parse_version(default) < parse_version(version)
    root = request.script_root
    # On a project's own host (DOCS_PROJECT_HOSTS) the search API answers for that project only: searching
    # every project is the main host's, which a page here cannot read (docs/security.md).
    own_host = hosts.site_project() is not None
    return {
        "project": {"name": project.name, "title": project.title, "owner": project.owner, "contact": project.contact,
                    "repo": project.repo, "url": hosts.main_url(f"/_/projects/{quote(project.name)}")},
        "version": {"name": version, "kind": current.kind, "hidden": current.hidden,
                    "aliases": resolution.aliases_of(version),
                    "notice": policy.notice(current.kind, current.hidden, version == default, newer, current.preview),
                    **({"preview": True, "expires": current.expires} if current.preview else {})},
        "page": page,
        "default": ({"name": default, "aliases": resolution.aliases_of(default), "url": urls.get(default)}
                    if default in urls else None),
        "versions": [{"name": name, "aliases": resolution.aliases_of(name), "url": urls[name],
                      "current": name == version} for name in listed],
        "search": {"api": f"{root}/_/api/search", "page": hosts.main_url("/_/search"), "all_projects": not own_host},
        "portal": hosts.main_url("/docs/"),
    }


@bp.route("/api/<project>/<version>", **ROUTE)
def context_api(project, version):
    """Return what the hub shows on a page of ``project`` ``version`` (``?page=``), for the current reader."""
    page = request.args.get("page", "")
    if len(page) > MAX_PAGE or page.startswith("/") or any(part in ("..", ".") for part in page.split("/")):
        raise DocsError("page must be a path below the version's root, such as guide/install.html")
    catalog = catalog_or_none()
    if catalog is None:
        raise DocsError("the portal index is unavailable; try again in a few seconds", 503, [("Retry-After", "10")])
    found = visible_project(catalog, project)
    # A version the reader may not read answers as one that does not exist, and so does a project without the hub.
    if (found is None or version not in found.by_name or not access.may_read(f"{project}/{version}/")
            or not policy.is_enabled(current_app.config["DOCS_HUB"], found.hub)):
        abort(404)
    body = json.dumps(context(found, version, page), separators=(",", ":")).encode()
    response = Response(body, mimetype="application/json", headers={"Cache-Control": "no-cache"})
    # The answer changes with the index, the reader's rights and the page: its own hash tags it.
    response.set_etag(hashlib.sha256(body).hexdigest()[:20])
    return response.make_conditional(request)


def init_app(app):
    """Register the hub's routes on ``app``: its files on every host, a project's context on that project's host."""
    app.register_blueprint(bp)
    hosts.serve_on_project_hosts(app, "hub.asset")
    hosts.serve_on_project_hosts(app, "hub.context_api", project_arg="project")
