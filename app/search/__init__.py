"""Search across every project's docs: extraction at publish time, one index file per host, /_/search."""

import os

SERVICE = "search"


def init_app(app):
    """Register the search routes, the worker's index service and publish's search step on ``app``."""
    from .. import hosts, publishing
    from .publish import SearchIndexer
    from .service import HostIndex
    from .views import bp

    app.register_blueprint(bp)
    # On a project's own host the API searches that project only (the hub's search as you type);
    # every other search is the main host's (docs/security.md).
    hosts.serve_on_project_hosts(app, "search.search_api", project_arg="project")
    directory = index_directory(app.config)
    app.extensions[SERVICE] = HostIndex(directory, index_builder(app, directory),
                                        build_wait=app.config["DOCS_SEARCH_BUILD_WAIT"])
    if app.config["DOCS_SEARCH_PUBLISH"] == "on":
        publishing.add_indexer(app, SearchIndexer())


def index_directory(config):
    """Return the folder of the host's index: ``DOCS_SEARCH_INDEX_DIR``, else one per bucket and prefix in the temp dir."""
    import hashlib
    import tempfile

    if config["DOCS_SEARCH_INDEX_DIR"]:
        return config["DOCS_SEARCH_INDEX_DIR"]
    # Two apps of one host serving different buckets must never share an index.
    origin = "\n".join((config.get("S3_ENDPOINT_URL") or "", config["S3_BUCKET"] or "", config["S3_PREFIX"] or ""))
    return os.path.join(tempfile.gettempdir(), "docs-proxy-search", hashlib.sha256(origin.encode()).hexdigest()[:16])


def index_builder(app, directory):
    """Return what ``app``'s worker hands the host's builds to: a builder process of its own (builder.py)."""
    from .builder import ProcessBuilder, builder_settings

    return ProcessBuilder(directory, builder_settings(app.config), app.config["DOCS_SEARCH_BUILD_TIMEOUT"])


def get_search():
    """Return the current app's ``HostIndex``."""
    from flask import current_app

    return current_app.extensions[SERVICE]
