"""Routes: ``/_/search`` (HTML) and ``/_/api/search`` (JSON), over the same search."""

from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError
from flask import Blueprint, current_app, jsonify, render_template, request, url_for

from .. import access, hosts
from ..errors import DocsError
from ..portal import get_catalog
from . import get_search
from .engine import SearchTimeout
from .query import parse_query
from .results import hit_url, marked_html, page_count, parse_page_number, plain_text
from ..portal.catalog import metadata_for
from .service import catalog_sources

bp = Blueprint("search", __name__, url_prefix="/_", template_folder="templates")

ALL_VERSIONS = "all"
NO_STORE = {"Cache-Control": "private, no-cache"}


@dataclass
class Answer:
    """One page of results, and what was searched: the query, the scope, the page, the notices."""

    query: object
    project: str | None
    version: str | None
    page: int
    per_page: int
    total: int
    hits: list
    unsearchable: list
    # The versions to search changed (a publish) and this worker is still building their index.
    rebuilding: bool = False
    corrected: str | None = None

    @property
    def pages(self):
        """Return how many result pages there are."""
        return page_count(self.total, self.per_page)

    def as_json(self):
        """Return the answer as the API's JSON object."""
        return {
            "query": self.query.text,
            "terms": [" ".join(phrase) for phrase in self.query.phrases],
            "shortened": self.query.shortened,
            "project": self.project,
            "version": self.version,
            "page": self.page,
            "per_page": self.per_page,
            "pages": self.pages,
            "total": self.total,
            "unsearchable": self.unsearchable,
            "rebuilding": self.rebuilding,
            "corrected": self.corrected,
            "results": [
                {key: value for key, value in hit.items() if key not in ("heading_html", "snippet_html", "title_html")}
                | {"snippet_html": str(hit["snippet_html"]), "heading_html": str(hit["heading_html"])}
                for hit in self.hits
            ],
        }


@bp.get("/search")
def search_page():
    """Render the search page: the box, and the results when there is a query."""
    answer = run_search(request.args) if request.args.get("q", "").strip() else None
    # Titles as the reader may see them: a restricted version's publish may have set the project's.
    projects = [shown(project) for project in read_catalog().projects if is_visible(project)]
    html = render_template(
        "search/search.html", answer=answer, q=request.args.get("q", ""), projects=projects,
        search_project=request.args.get("project") or "", search_version=request.args.get("version") or "",
        page_url=lambda number: url_for("search.search_page", **{**request.args.to_dict(), "page": number}),
    )
    return html, 200, NO_STORE


@bp.get("/api/search")
def search_api():
    """Answer a search in JSON."""
    if not request.args.get("q", "").strip():
        raise DocsError("give the words to search for in the q parameter, e.g. /_/api/search?q=install")
    return jsonify(run_search(request.args).as_json()), 200, NO_STORE


def read_catalog():
    """Return the portal's catalog, or refuse with 503 when S3 cannot give it."""
    try:
        return get_catalog()
    except (ClientError, BotoCoreError, ValueError) as error:
        current_app.logger.error("search: the portal index is unavailable: %s", error)
        raise DocsError("the list of projects cannot be read right now; try again in a few seconds", 503,
                        [("Retry-After", "10")]) from None


def shown(project):
    """Return ``project`` with only the metadata the versions the reader may read gave it (portal.catalog)."""
    readable = {version.name for version in project.versions if access.may_read(f"{project.name}/{version.name}/")}
    return metadata_for(project, readable)


def is_visible(project):
    """Tell whether the reader may read any version of ``project`` (as the portal lists projects)."""
    return any(access.may_read(f"{project.name}/{version.name}/") for version in project.versions)


def run_search(args):
    """Search for ``args['q']`` in the scope ``args`` names (project, version) and return an ``Answer``.

    Phases: the request's arguments, the scope (which versions), the index, the readable documents,
    the search itself, the hits as the page and the API show them.
    """
    config = current_app.config
    page, project_name, version_name, query = parse_search_args(args, config)
    per_page = config["DOCS_SEARCH_PER_PAGE"]
    catalog = read_catalog()
    wanted = resolve_scope(catalog, project_name, version_name)
    sources = catalog_sources(catalog, config["S3_PREFIX"])

    index = get_search().index(sources, catalog.version_id)
    if index is None:
        raise DocsError("the search index is still being built; try again in a few seconds", 503, [("Retry-After", "5")])
    if version_name is None:
        wanted = indexed_defaults(wanted, {(source.project, source.version) for source in index.sources}, catalog)
    in_scope = [(source.project, source.version) for source in index.sources if (source.project, source.version) in wanted]
    readable = {pair for pair in in_scope if access.may_read(f"{pair[0]}/{pair[1]}/")}
    docs = [doc for pair, doc in index.docs.items() if pair in readable]
    # Only versions whose current publish lacks a search document: one republished since the index
    # was built is being loaded again, not "published before search existed".
    current = set(sources)
    missing = {(source.project, source.version) for source in index.stats.missing if source in current}
    rebuilding = set(index.sources) != set(sources)
    unsearchable = sorted(f"{project}/{version}" for project, version in readable & missing)

    # Without access control every page is readable: no check per hit, and the total is the index's count.
    is_readable = None if access.get_access().is_open else (
        lambda project, version, path: access.may_read(f"{project}/{version}/{path}"))
    try:
        results = index.search(
            query, docs, offset=(page - 1) * per_page, limit=per_page, timeout=config["DOCS_SEARCH_TIMEOUT"],
            is_readable=is_readable,
        )
    except SearchTimeout as error:
        raise DocsError(f"{error}; add words to narrow it", 503) from None
    hits = format_hits(results.hits, config["DOCS_INDEX_DOCUMENT"], request.script_root)
    return Answer(query, project_name, version_name, page, per_page, results.total, hits, unsearchable, rebuilding,
                  results.corrected)


def parse_search_args(args, config):
    """Return ``(page, project name, version name, parsed query)`` from the request's arguments, or refuse."""
    page = parse_page_number(args.get("page"))
    if page is None:
        raise DocsError("page must be a whole number from 1 to 100")
    project_name, version_name = args.get("project") or None, args.get("version") or None
    if version_name and not project_name:
        raise DocsError("version needs a project: give project=NAME too")
    query = parse_query(args.get("q", ""), config["DOCS_SEARCH_QUERY_MAX_CHARS"], config["DOCS_SEARCH_QUERY_MAX_TERMS"])
    return page, project_name, version_name, query


def resolve_scope(catalog, project_name, version_name):
    """Return the (project, version) pairs to search: each project's default version, one project's, one
    version, or every listed version of a project (``all``); a project or version the reader may not see
    answers 404."""
    if not project_name:
        return {(project.name, project.default_version) for project in catalog.projects if project.default_version}
    project = next((item for item in catalog.projects if item.name == project_name), None)
    if project is None or not is_visible(project):
        raise DocsError(f"there is no project named {project_name!r}", 404)
    if version_name is None:
        return {(project.name, project.default_version)}
    if version_name == ALL_VERSIONS:
        return {(project.name, version.name) for version in project.versions if not version.hidden}
    # A version the reader may not read answers as one that does not exist: no probing for names.
    if (all(version.name != version_name for version in project.versions)
            or not access.may_read(f"{project.name}/{version_name}/")):
        raise DocsError(f"project {project_name!r} has no version {version_name!r}", 404)
    return {(project.name, version_name)}


def indexed_defaults(wanted, indexed, catalog):
    """Return the default versions in ``wanted``, each not yet in the index replaced by its newest listed one that is.

    While a new default version is being indexed, its project keeps being searched in the version
    readers were served before, rather than vanishing from the results until the rebuild ends.
    """
    chosen = set()
    for project_name, version_name in wanted:
        if (project_name, version_name) in indexed:
            chosen.add((project_name, version_name))
            continue
        project = catalog.by_name.get(project_name)
        fallback = next((version.name for version in (project.versions if project else ())
                         if not version.hidden and (project_name, version.name) in indexed), None)
        if fallback is not None:
            chosen.add((project_name, fallback))
    return chosen


def format_hits(hits, index_document, root):
    """Return the hits as the results page and the API show them: plain and marked text, and each hit's URL."""
    return [
        {
            "project": hit.project,
            "version": hit.version,
            "title": hit.title,
            "heading": plain_text(hit.heading),
            "heading_html": marked_html(hit.heading),
            "anchor": hit.anchor,
            "name": hit.name,
            "path": hit.path,
            "url": hit_url(hosts.project_origin(hit.project) + root, hit.project, hit.version, hit.path, hit.anchor,
                           index_document),
            "snippet": plain_text(hit.snippet),
            "snippet_html": marked_html(hit.snippet),
        }
        for hit in hits
    ]
