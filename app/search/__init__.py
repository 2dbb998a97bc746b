"""Search across every project's docs: extraction at publish time, an in-memory index per worker, /_/search."""

SERVICE = "search"


def init_app(app):
    """Register the search routes, the worker's index service and publish's search step on ``app``."""
    from .. import hosts, publishing
    from .publish import SearchIndexer
    from .service import SearchService, s3_loader
    from .views import bp

    app.register_blueprint(bp)
    # On a project's own host the API searches that project only (the hub's search as you type);
    # every other search is the main host's (docs/security.md).
    hosts.serve_on_project_hosts(app, "search.search_api", project_arg="project")
    app.extensions[SERVICE] = SearchService(
        # The S3 client is looked up at load time: a package initialised later may wrap it.
        lambda source: s3_loader(app.extensions["s3"], app.config["S3_BUCKET"])(source),
        build_wait=app.config["DOCS_SEARCH_BUILD_WAIT"],
        project_indexes=app.config["DOCS_SEARCH_PROJECT_INDEXES"],
        max_builds=app.config["DOCS_SEARCH_BUILDS"],
    )
    if app.config["DOCS_SEARCH_PUBLISH"] == "on":
        publishing.add_indexer(app, SearchIndexer())


def get_search():
    """Return the current app's ``SearchService``."""
    from flask import current_app

    return current_app.extensions[SERVICE]
