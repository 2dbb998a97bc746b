"""The hub inside every page: a version menu, a banner on old versions and search, on any theme (docs/hub.md).

For a project that has it (``DOCS_HUB``, ``flask docs hub P on|off``, ``publish --hub``), every
``200 text/html`` page inside a version gets one small tag block after ``<head>`` while it streams
(inject.py, through serving's rewrite hook); the script it names reads the context API
(``/_/hub/api/<project>/<version>``) and draws the hub. Deciding costs no S3 call: the portal's
catalog says which projects have it.
"""

import hashlib
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError
from flask import current_app, request

from ..cache import compression
from ..serving import hooks
from . import policy
from .inject import Injection, block
from .manifests import ManifestCache

HUB = "hub"
STATIC = Path(__file__).parent / "static"
ASSETS = {"hub.js": "text/javascript; charset=utf-8", "hub.css": "text/css; charset=utf-8"}


class Asset:
    """One of the hub's static files, with its ETag and its compressed forms, read once per worker."""

    def __init__(self, name, content_type):
        self.name = name
        self.content_type = content_type
        self.body = (STATIC / name).read_bytes()
        self.etag = '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'
        self.encoded = {coding: compression.compress(self.body, coding) for coding in compression.available_codecs()}


class HubState:
    """What the hub keeps per worker: its static files, their version tag, and the versions' page sets."""

    def __init__(self):
        self.assets = {name: Asset(name, kind) for name, kind in ASSETS.items()}
        self.version = hashlib.sha256(b"".join(asset.body for asset in self.assets.values())).hexdigest()[:12]
        self.manifests = ManifestCache()


def get_hub(app=None):
    """Return the app's ``HubState``."""
    return (app or current_app).extensions[HUB]


def hub_catalog():
    """Return the portal's catalog for deciding which projects have the hub, or ``None`` when it cannot be read.

    With ``DOCS_HUB=off`` a bucket without a portal index has no project that turned the hub on:
    once a worker has listed it, pages do not make it list the bucket again.
    """
    from ..portal import get_catalog, get_index_cache

    if current_app.config["DOCS_HUB"] == "off":
        known = get_index_cache().catalog
        if known is not None and known.source == "listing":
            return None
    try:
        return get_catalog()
    except (ClientError, BotoCoreError, ValueError) as error:
        current_app.logger.warning("hub: the portal index is unavailable, pages are served without the hub: %s", error)
        return None


def page_injection(path, key):
    """Return the ``Injection`` for the page at ``path`` (key ``key``) when its project has the hub, else ``None``."""
    config = current_app.config
    where = policy.split_version_path(path)
    if where is None or not policy.is_page_key(key, config["DOCS_INDEX_DOCUMENT"]):
        return None
    project_name, version, _ = where
    catalog = hub_catalog()
    project = catalog.by_name.get(project_name) if catalog is not None else None
    if project is None or version not in project.by_name or not policy.is_enabled(config["DOCS_HUB"], project.hub):
        return None
    relkey = key[len(config["S3_PREFIX"]) + len(project_name) + len(version) + 2:]
    page = policy.page_name(relkey, config["DOCS_INDEX_DOCUMENT"])
    return injection(request.script_root, project_name, version, page, get_hub().version)


@lru_cache(maxsize=8192)
def injection(script_root, project, version, page, asset_version):
    """Return the (immutable) ``Injection`` of one page, built once per worker."""
    api_url = f"{script_root}/_/hub/api/{quote(project)}/{quote(version)}"
    script_url = f"{script_root}/_/hub/hub.js?v={asset_version}"
    return Injection(block(project, version, page, api_url, script_url))


def init_app(app):
    """Give ``app`` the hub: its page rewrite on the /docs path, its /_/hub/ routes and ``flask docs hub``."""
    from . import cli, views

    app.extensions[HUB] = HubState()
    hooks.set_rewrite(app, page_injection)
    views.init_app(app)
    cli.init_app(app)
