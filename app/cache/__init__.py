"""The hot-object cache in front of S3 and on-the-fly compression (docs/cache.md)."""

from ..serving import hooks
from .fetch import STORE, cached, fetch, get_store
from .store import Store

__all__ = ["cached", "fetch", "get_store", "init_app"]


def init_app(app):
    """Give ``app`` a per-worker store (unless ``DOCS_CACHE=off``) and put the cache's fetch on the request path."""
    if app.config["DOCS_CACHE"] == "on":
        # create_app runs in each gunicorn worker after the fork: every worker has its own store.
        app.extensions[STORE] = Store(app.config["DOCS_CACHE_SIZE"])
    hooks.wrap_fetch(app, cached)
