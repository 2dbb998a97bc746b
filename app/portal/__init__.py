"""The docs portal: every project and version in the bucket, ``latest``/``stable`` aliases, a landing page.

``get_catalog()`` is the read API other concerns use (search indexes from it); the index itself is
kept by ``flask docs publish`` and the portal's ``flask docs`` commands (docs/portal.md).
"""

from flask import current_app

from .catalog import Catalog, Project, Version  # noqa: F401  (the Catalog API other concerns import)

CACHE = "portal.index"


def init_app(app):
    """Give ``app`` its index cache, the /docs fallback, the /_/ pages and the portal's CLI commands."""
    from . import cli, views
    from .artifacts import ARTIFACTS, ArtifactCheck
    from .index import IndexCache

    app.extensions[CACHE] = IndexCache(app.config["DOCS_PORTAL_TTL"])
    app.extensions[ARTIFACTS] = ArtifactCheck(app.config["DOCS_ARTIFACT_RECHECK"])
    views.init_app(app)
    cli.init_app(app)


def get_index_cache(app=None):
    """Return the app's ``IndexCache``."""
    return (app or current_app).extensions[CACHE]


def get_catalog():
    """Return the current app's ``Catalog`` of every project and version, at most ``DOCS_PORTAL_TTL`` seconds old.

    Unfiltered: it includes hidden versions (flagged) and everything access control may hide;
    callers showing it to a reader filter with ``app.access.may_read``.
    """
    from ..s3 import get_s3

    config = current_app.config
    return get_index_cache().get(
        get_s3(), config["S3_BUCKET"], config["S3_PREFIX"], config["DOCS_INDEX_DOCUMENT"], current_app.logger
    )
