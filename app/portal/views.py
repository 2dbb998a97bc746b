"""The portal's answers: the /docs fallback (landing page, project root, aliases, unknown versions, JSON) and /_/ pages.

Everything a reader sees is filtered through ``app.access.may_read``: a version the reader may not
read is listed nowhere, is never an alias target and is named in no error page.
"""

import hashlib
import json
from datetime import datetime
from functools import lru_cache
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError
from flask import Blueprint, Response, current_app, g, render_template, request

from .. import access, hosts
from ..publishing.run import format_bytes
from ..s3 import get_s3
from ..serving import hooks, keys
from . import get_catalog, get_index_cache
from .artifacts import HEADS_PER_REQUEST, get_artifact_check
from .catalog import BadIndex, groups, metadata_for
from .diff import NoManifest, diff_manifests, read_version_manifest
from .versions import parse_version, resolve_aliases, resolve_name

bp = Blueprint("portal", __name__, template_folder="templates")

ROUTE = {"methods": ["GET", "HEAD"], "provide_automatic_options": False}
NO_CACHE = {"Cache-Control": "no-cache"}
MAX_SWITCH_PROBES = 8


# --- what a reader may see ---

def readable_versions(project):
    """Return the names of every version of ``project`` the reader may read, hidden ones included."""
    return frozenset(version.name for version in project.versions if access.may_read(f"{project.name}/{version.name}/"))


def readable_names(project, readable=None):
    """Return the names of ``project``'s listed versions the reader may read, newest first."""
    readable = readable_versions(project) if readable is None else readable
    return [version.name for version in project.versions if not version.hidden and version.name in readable]


def shown_project(project, readable=None):
    """Return ``project`` with the metadata the reader may see: what the versions they may read said."""
    return metadata_for(project, readable_versions(project) if readable is None else readable)


def readable_previews(project):
    """Return ``project``'s previews the reader may read, newest first (marked apart: they are never listed as versions)."""
    return [
        version for version in sorted(project.versions, key=lambda version: version.published or "", reverse=True)
        if version.preview and access.may_read(f"{project.name}/{version.name}/")
    ]


def mark_preview(response):
    """Answer every document of a preview with ``X-Robots-Tag: noindex``: a temporary build must not be indexed."""
    path = g.get("doc_path")
    # Refusals and errors serve nothing of the preview (and must not cost a portal read).
    if not path or "/" not in path or response.status_code >= 400:
        return response
    project_name, version_name = path.split("/", 2)[:2]
    known = get_index_cache().catalog
    if known is not None and known.source != "index":
        # Previews are recorded only in the portal index; a bucket without one (listed instead) has none,
        # and must not be listed again per TTL for this header's sake.
        return response
    catalog = catalog_or_none()
    project = catalog and catalog.by_name.get(project_name)
    version = project and project.by_name.get(version_name)
    if version is not None and version.preview:
        response.headers["X-Robots-Tag"] = "noindex"
    return response


def reader_resolution(project, names=None):
    """Return the aliases of ``project`` as the current reader sees them."""
    names = readable_names(project) if names is None else names
    if len(names) == sum(1 for version in project.versions if not version.hidden):
        return project.resolution  # computed once per index version
    return resolve_aliases(names, project.pins)


def visible_project(catalog, name):
    """Return the project ``name`` if the reader may read any of its versions (hidden ones included), else ``None``."""
    project = catalog.by_name.get(name)
    if project is None:
        return None
    if any(access.may_read(f"{name}/{version.name}/") for version in project.versions):
        return project
    return None


def is_listing_folder(path):
    """Tell whether a later fallback (the listings) claimed the folder ``path`` lies in (``hooks.claim_folders``).

    A folder named in DOCS_LISTING_PREFIXES is a listing, even where its first segment is also a project's name.
    """
    return hooks.is_claimed(path.rstrip("/") + "/")


def catalog_or_none():
    """Return the catalog, or ``None`` when S3 cannot give it (the caller then answers as if the portal were absent)."""
    try:
        return get_catalog()
    except (ClientError, BotoCoreError, ValueError) as error:
        current_app.logger.error("portal index unavailable: %s", error)
        return None


def present_artifacts(project, version):
    """Return the paths of ``version``'s granted artifacts that S3 holds and the reader may read.

    Only a page that lists artifacts calls this: a HEAD for each artifact this worker has not yet
    found, or last found absent longer than ``DOCS_ARTIFACT_RECHECK`` ago (portal/artifacts.py).
    A refused artifact is never asked about, so no listing tells whether it exists.
    """
    if not version.artifacts:
        return []
    config = current_app.config
    check = get_artifact_check()
    base = f"{project.name}/{version.name}/"
    # One budget of HEADs for the whole request, however many versions it lists.
    budget = g.setdefault("artifact_heads", [HEADS_PER_REQUEST])
    return [
        artifact.path for artifact in version.artifacts
        if access.may_read(base + artifact.path)
        and check.exists(get_s3(), config["S3_BUCKET"], config["S3_PREFIX"] + base + artifact.path,
                         version.published, budget)
    ]


# --- URLs ---

@lru_cache(maxsize=65536)
def quoted(part):
    """Return a URL path part percent-encoded (cached: the landing page quotes the same names on every request)."""
    return quote(part)


def docs_url(*parts, query=""):
    """Return the URL of ``/docs/<parts joined>``, each part quoted, with ``query`` kept.

    Path-absolute, or scheme-relative on the project's own host when ``DOCS_PROJECT_HOSTS`` serves it elsewhere.
    """
    path = "/".join(quoted(part) for part in parts)
    origin = hosts.project_origin(parts[0]) if parts and parts[0] else hosts.main_origin()
    return f"{origin}{request.script_root}/docs/{path}" + (f"?{query}" if query else "")


def found(location):
    """Return a 302 to ``location`` (a path on this site) that no cache keeps: the target moves every release."""
    return Response(status=302, headers={"Location": location, "Content-Type": "text/plain", **NO_CACHE})


def json_response(document, status=200):
    """Return ``document`` as JSON that is revalidated on every use."""
    return Response(json.dumps(document, indent=1) + "\n", status=status, mimetype="application/json", headers=NO_CACHE)


# --- the /docs fallback ---

def portal_fallback(path, error):
    """Answer a missing key under /docs/ when the portal knows what it means; otherwise ``None``."""
    if is_listing_folder(path):
        return None
    catalog = catalog_or_none()
    if path == "":
        # Only a bucket with projects has a landing page; any other answers as S3 website hosting does.
        # (An unreadable index still gets the landing page's own answer: a 503 saying so.)
        return landing_page(as_fallback=True) if catalog is None or catalog.projects else None
    name, slash, rest = path.partition("/")
    project = catalog and visible_project(catalog, name)
    if project is None:
        return None
    query = request.query_string.decode("latin-1")
    names = readable_names(project)
    resolution = reader_resolution(project, names)
    if rest == "":
        if resolution.default is None:
            return None
        return found(docs_url(project.name, resolution.default, "", query=query))
    if rest == "versions.json":
        return json_response(mike_versions(project, resolution))
    if rest == "switcher.json":
        return json_response(switcher_versions(project, resolution))
    wanted, slash, tail = rest.partition("/")
    if wanted in project.by_name and access.may_read(f"{project.name}/{wanted}/"):
        return None  # a real version: the page is simply missing, S3's 404 (or a later fallback) says so
    # A version the reader may not read is answered as one that does not exist (hide_denied).
    target = resolve_name(wanted, resolution)
    if target is not None:
        return found(docs_url(project.name, target, tail, query=query))
    return unknown_version(project, resolution, wanted, tail)


def unknown_version(project, resolution, wanted, tail):
    """Return the 404 page naming the reader's versions, linking to the same page in the default one."""
    html = render_template(
        "portal/unknown_version.html", project=shown_project(project), wanted=wanted, tail=tail,
        versions=[(name, resolution.aliases_of(name)) for name in resolution.ordered],
        default=resolution.default,
        switch_url=(hosts.main_url(f"/_/switch/{quote(project.name)}/{quote(resolution.default)}/{quote(tail)}")
                    if resolution.default else None),
    )
    return Response(html, status=404, mimetype="text/html", headers=NO_CACHE)


def mike_versions(project, resolution):
    """Return mike's ``versions.json``: newest first, ``version``, ``title`` and ``aliases`` for each."""
    return [
        {"version": name, "title": name, "aliases": resolution.aliases_of(name)}
        for name in resolution.ordered
    ]


def switcher_versions(project, resolution):
    """Return pydata-sphinx-theme's ``switcher.json``, with exactly one ``preferred`` entry (the default version)."""
    entries = []
    for name in resolution.ordered:
        aliases = resolution.aliases_of(name)
        # Path-absolute (scheme-relative on the project's own host with DOCS_PROJECT_HOSTS), never built
        # from the Host header: a forged Host would reach a cache through it.
        entry = {"name": f"{name} ({', '.join(aliases)})" if aliases else name, "version": name,
                 "url": docs_url(project.name, name, "")}
        if name == resolution.default:
            entry["preferred"] = True
        entries.append(entry)
    return entries


# --- the landing page ---

def summarise(project, names, readable):
    """Return what the landing page shows of ``project`` for a reader who may read its versions ``names``."""
    resolution = reader_resolution(project, names)
    project = shown_project(project, readable)
    default = project.by_name.get(resolution.default)
    latest = resolution.aliases.get("latest")
    newer = None
    if latest and default is not None and latest != default.name and parse_version(default.name) < parse_version(latest):
        newer = project.by_name[latest]
    return {
        "project": project, "default": default, "newer": newer, "count": len(names), "search": project.search_text,
        "url": docs_url(project.name, ""),
        "default_url": default and docs_url(project.name, default.name, ""),
        "newer_url": newer and docs_url(project.name, newer.name, ""),
        "page_url": hosts.main_url(f"/_/projects/{quoted(project.name)}"),
    }


RENDERED = "portal.rendered"
MAX_RENDERED = 256


def landing_page(as_fallback=False):
    """Render the landing page: every project the reader may read, filtered by ``?q=`` (works without JavaScript).

    The HTML is kept per index version, filter and set of readable versions: rendering 50 projects
    costs several times a small page, while finding what the reader may read costs little.
    """
    query = request.args.get("q", "").strip()
    words = query.lower().split()
    try:
        catalog = get_catalog()
    except BadIndex as error:
        current_app.logger.error("portal index unreadable: %s", error)
        return Response(render_template("portal/landing.html", cards=[], query=query, total=0, unavailable=True),
                        status=503, mimetype="text/html", headers={"Retry-After": "10", **NO_CACHE})
    except (ClientError, BotoCoreError):
        if as_fallback:
            return None  # S3's own answer (no such bucket, access denied, unreachable) says more than ours
        raise
    readable = [(project, readable_versions(project)) for project in catalog.projects]
    readable = [(project, readable_names(project, versions), versions) for project, versions in readable]
    # The readable names themselves, not a hash of them: a collision must never show one reader another's list.
    # The links depend on the host and port too, with DOCS_PROJECT_HOSTS (hosts.link_context); the
    # readable versions themselves, not a hash of them: a collision must never show one reader another's list.
    key = (catalog.version_id, request.script_root, hosts.link_context(), query,
           tuple(tuple(sorted(versions)) for _, _, versions in readable))
    rendered = current_app.extensions[RENDERED]
    html = rendered.get(key)
    if html is None:
        every = [summarise(project, names, versions) for project, names, versions in readable if names]
        cards = [card for card in every if all(word in card["search"] for word in words)]
        html = render_template("portal/landing.html", cards=cards, query=query, total=len(every), unavailable=False)
        if len(rendered) >= MAX_RENDERED:
            rendered.clear()
        rendered[key] = html
    return Response(html, mimetype="text/html", headers=NO_CACHE)


@bp.route("/_/", **ROUTE)
def portal_home():
    """Serve the landing page at /_/ too, for buckets whose root has its own index page."""
    return landing_page()


@bp.route("/_/projects/<name>", **ROUTE)
def project_page(name):
    """Render a project's page: versions grouped stable / next / past / development, with aliases and facts."""
    catalog = catalog_or_none()
    project = catalog and visible_project(catalog, name)
    if project is None:
        return not_found(f"there is no project {name!r}")
    names = readable_names(project)
    resolution, grouped = groups(project, names)
    artifacts = {name: present_artifacts(project, project.by_name[name]) for name in resolution.ordered}
    html = render_template("portal/project.html", project=shown_project(project), resolution=resolution, groups=grouped,
                           versions=project.by_name, previews=readable_previews(project), artifacts=artifacts)
    return Response(html, mimetype="text/html", headers=NO_CACHE)


@bp.route("/_/switch/<name>/<version>/", defaults={"rest": ""}, **ROUTE)
@bp.route("/_/switch/<name>/<version>/<path:rest>", **ROUTE)
def switch_version(name, version, rest):
    """Redirect to ``rest`` in ``version`` if it exists, else its nearest ancestor with an index, else the version's root."""
    catalog = catalog_or_none()
    project = catalog and visible_project(catalog, name)
    if project is None:
        return found(hosts.main_url("/docs/"))
    resolution = reader_resolution(project)
    if version in project.by_name and access.may_read(f"{name}/{version}/"):
        target = version
    else:
        target = resolve_name(version, resolution)
    if target is None:
        return found(docs_url(name, ""))
    for candidate in candidates(rest):
        path = f"{name}/{target}/{candidate}"
        # Only pages the reader may read are probed: a redirect must not tell whether a refused page exists.
        if access.may_read(path) and page_exists(path):
            query = request.query_string.decode("latin-1") if candidate == rest else ""
            return found(docs_url(name, target, candidate, query=query))
    return found(docs_url(name, target, ""))


def candidates(rest):
    """Return ``rest`` and its ancestor folders, nearest first, without the root (at most ``MAX_SWITCH_PROBES``)."""
    found_paths = []
    current = rest
    while current and len(found_paths) < MAX_SWITCH_PROBES:
        found_paths.append(current)
        current = current.rstrip("/").rpartition("/")[0]
        current = current + "/" if current else ""
    return found_paths


def page_exists(path):
    """Tell whether ``path`` (below /docs/) names an object, or a folder with an index document."""
    config = current_app.config
    try:
        key = keys.key_for_path(path, config["S3_PREFIX"], config["DOCS_INDEX_DOCUMENT"])
        get_s3().head_object(Bucket=config["S3_BUCKET"], Key=key)
    except (keys.BadPath, ClientError, BotoCoreError):
        return False
    return True


# --- JSON API ---

def project_facts(project, names, resolution, detail):
    """Return the JSON facts of ``project`` for the reader (with every version when ``detail``)."""
    project = shown_project(project)
    facts = {
        "name": project.name, "title": project.title, "description": project.description,
        "owner": project.owner, "contact": project.contact, "repo": project.repo, "tags": list(project.tags),
        "default_version": resolution.default, "aliases": dict(sorted(resolution.aliases.items())),
        "version_count": len(names), "url": docs_url(project.name, ""),
    }
    if detail:
        facts["versions"] = [version_facts(project, project.by_name[name], resolution) for name in resolution.ordered]
    else:
        facts["versions"] = list(resolution.ordered)
    return facts


def version_facts(project, version, resolution):
    """Return the JSON facts of one listed ``version`` of ``project``, with the URLs of its artifacts S3 holds."""
    artifacts = present_artifacts(project, version)
    return {
        "name": version.name, "kind": version.kind, "aliases": resolution.aliases_of(version.name),
        "published": version.published, "commit": version.commit, "size": version.size, "files": version.files,
        "url": docs_url(project.name, version.name, ""),
        **({"artifacts": [docs_url(project.name, version.name, path) for path in artifacts]} if artifacts else {}),
    }


@bp.route("/_/api/projects", **ROUTE)
def api_projects():
    """Return every project the reader may read, as JSON."""
    catalog = catalog_or_none()
    if catalog is None:
        return json_response({"error": "the portal index is unavailable"}, status=503)
    projects = []
    for project in catalog.projects:
        names = readable_names(project)
        if names:
            projects.append(project_facts(project, names, reader_resolution(project, names), detail=False))
    # Of what this reader sees, not the index's ETag: that changes when a restricted project does.
    seen = hashlib.sha256(json.dumps(projects, sort_keys=True).encode()).hexdigest()[:32]
    return json_response({"projects": projects, "version_id": seen})


@bp.route("/_/api/projects/<name>", **ROUTE)
def api_project(name):
    """Return one project with every version the reader may read, as JSON."""
    catalog = catalog_or_none()
    project = catalog and visible_project(catalog, name)
    if project is None:
        return json_response({"error": f"there is no project {name!r}"}, status=404)
    names = readable_names(project)
    return json_response(project_facts(project, names, reader_resolution(project, names), detail=True))


def compare(name):
    """Return ``(project, from, to, changes)`` for the reader's ``?from=A&to=B`` of project ``name``, or an error response."""
    catalog = catalog_or_none()
    project = catalog and visible_project(catalog, name)
    if project is None:
        return None, json_response({"error": f"there is no project {name!r}"}, status=404)
    resolution = reader_resolution(project)
    names = []
    for parameter in ("from", "to"):
        wanted = request.args.get(parameter, "")
        # Any version or preview by its own name (the reader may have its link), or a listed alias.
        version = wanted if wanted in project.by_name else resolve_name(wanted, resolution) if wanted else None
        if not version or not access.may_read(f"{project.name}/{version}/"):
            return None, json_response({"error": f"{parameter}={wanted!r} is not a version of {project.name}"}, status=404)
        names.append(version)
    config = current_app.config
    try:
        old, new = (read_version_manifest(get_s3(), config["S3_BUCKET"], config["S3_PREFIX"], project.name, version)
                    for version in names)
    except NoManifest as error:
        return None, json_response({"error": str(error)}, status=404)
    return (project, names[0], names[1], diff_manifests(old, new)), None


@bp.route("/_/api/projects/<name>/diff", **ROUTE)
def api_diff(name):
    """Return the pages added, changed and removed between ``?from=A`` and ``?to=B``, as JSON."""
    found, error = compare(name)
    if error is not None:
        return error
    project, old, new, changes = found
    return json_response({"project": project.name, "from": old, "to": new, **changes,
                          "from_url": docs_url(project.name, old, ""), "to_url": docs_url(project.name, new, "")})


@bp.route("/_/projects/<name>/diff", **ROUTE)
def diff_page(name):
    """Render what changed between ``?from=A`` and ``?to=B``, with links into both."""
    found, error = compare(name)
    if error is not None:
        return not_found(error.get_json()["error"])
    project, old, new, changes = found
    html = render_template("portal/diff.html", project=project, old=old, new=new, changes=changes)
    return Response(html, mimetype="text/html", headers=NO_CACHE)


def not_found(reason):
    """Return the portal's HTML 404 page with ``reason``."""
    html = render_template("portal/not_found.html", reason=reason)
    return Response(html, status=404, mimetype="text/html", headers=NO_CACHE)


# --- template helpers ---

def when(iso):
    """Return an ISO 8601 time as ``22 Nov 2026``, or ``""``."""
    try:
        return datetime.fromisoformat(iso).strftime("%-d %b %Y")
    except (TypeError, ValueError):
        return ""


def size(value):
    """Return a byte count in a human unit, or ``""`` when unknown."""
    return format_bytes(value) if isinstance(value, int) else ""


def init_app(app):
    """Register the portal's fallback, its /_/ pages and its template filters on ``app``."""
    hooks.add_fallback(app, portal_fallback)
    app.after_request(mark_preview)
    app.extensions[RENDERED] = {}
    app.add_template_filter(when, "when")
    app.add_template_filter(size, "size")
    app.add_template_global(docs_url, "docs_url")
    app.register_blueprint(bp)
