"""The missing page for people: a browser asking for a page S3 does not have gets a 404 page in the portal's look.

The last fallback, after error documents: where no site's own 404 page answered, a client that asks
for HTML gets the same path in the other versions that have it, the version's root, and search
results for the words of the path. Every other client keeps S3's own answer. The page is the same
for GET and HEAD (HEAD sends its headers, length included, without the body).
"""

import re

from botocore.exceptions import BotoCoreError, ClientError
from flask import Response, current_app, render_template, request
from werkzeug.datastructures import MultiDict

from ..access import may_read
from ..errors import DocsError, error_status
from .errordocs import wants_html

# At most this many other versions are probed for the same page (one HEAD each, newest first).
MAX_OTHER_VERSIONS = 5
MAX_HITS = 5
MAX_WORDS = 6
# Path words that say nothing about the content.
NOISE_WORDS = {"html", "htm", "index", "php", "aspx", "md", "www", "docs"}
WORD = re.compile(r"[^\W_]+")


def path_words(path, skip=()):
    """Return the words of a document path worth searching for, without file extensions, noise and ``skip``.

    >>> path_words("payments/2.0.0/guide/refund-policy.html", skip=("payments", "2.0.0"))
    ['guide', 'refund', 'policy']
    """
    segments = [segment for segment in path.split("/") if segment and segment not in skip]
    words = []
    for segment in segments:
        for word in WORD.findall(segment.casefold()):
            if word not in NOISE_WORDS and not word.isdigit() and word not in words:
                words.append(word)
    return words[-MAX_WORDS:]


def split_version_path(path, catalog):
    """Return ``(project, version_name, rest)`` when ``path`` lies in a known version, else ``(None, None, path)``."""
    name, _, rest = path.partition("/")
    project = catalog.by_name.get(name) if catalog else None
    version, slash, tail = rest.partition("/")
    if project is None or version not in project.by_name or not slash:
        return None, None, path
    return project, version, tail


def other_versions(project, version, rest):
    """Return ``[(name, url)]`` for the reader's other versions of ``project`` holding the page ``rest``."""
    from ..portal.views import docs_url, page_exists, readable_names
    from ..serving.hooks import spend_s3_call

    found = []
    for name in [name for name in readable_names(project) if name != version][:MAX_OTHER_VERSIONS]:
        path = f"{project.name}/{name}/{rest}"
        if not may_read(path):
            continue
        if not spend_s3_call():
            break  # the request's budget for probing S3 about a missing key (DOCS_FALLBACK_S3_CALLS) is spent
        if page_exists(path):
            found.append((name, docs_url(project.name, name, rest)))
    return found


def search_hits(words, project):
    """Return up to ``MAX_HITS`` search hits for ``words`` (in ``project`` when given), or ``None`` when search cannot answer.

    Always in the default versions, the index every worker keeps anyway: a version's own index would
    be built on first use, so a stream of missing pages across projects could make workers rebuild
    one after another.
    """
    if not words or "search" not in current_app.blueprints:
        return None
    from ..search.views import run_search

    for query in dict.fromkeys([" ".join(words), words[-1]]):
        args = MultiDict({"q": query, **({"project": project.name} if project else {})})
        try:
            answer = run_search(args)
        except DocsError:
            return None
        if answer.hits:
            return answer.hits[:MAX_HITS]
    return []


def catalog_or_none():
    """Return the portal's catalog, or ``None`` when it cannot be read (the page is then plainer)."""
    from ..portal import get_catalog

    try:
        return get_catalog()
    except (ClientError, BotoCoreError, ValueError):
        return None


def missing_page(path, error):
    """Answer a missing page for a client that asks for HTML with a 404 page in the portal's look (a fallback)."""
    if not wants_html(request.headers.get("Accept", "")):
        return None
    catalog = catalog_or_none()
    project, version, rest = split_version_path(path, catalog)
    if project is not None and not may_read(f"{project.name}/{version}/"):
        project, version, rest = None, None, path
    words = path_words(rest if project else path)
    others = other_versions(project, version, rest) if project else []
    hits = search_hits(words, project)
    html = render_template(
        "website/not_found.html", path=path, project=project, version=version, others=others, hits=hits,
        words=words, has_landing=bool(catalog and catalog.projects),
    )
    # S3 answers 403 for a missing key when the proxy may not list the bucket: the reader sees S3's status.
    return Response(html, status=error_status(error), mimetype="text/html",
                    headers={"Cache-Control": "no-cache", "Vary": "Accept"})


def init_app(app):
    """Register the missing-page fallback (after every other one)."""
    from ..serving.hooks import add_fallback

    add_fallback(app, missing_page)
