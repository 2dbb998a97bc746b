"""The /docs request path as create_app assembles it from the packages, and which package may import which."""

import ast
import ipaddress
from pathlib import Path

from flask import Response

from app import create_app
from app.serving import hooks

from tests.conftest import BUCKET

APP = Path(__file__).resolve().parent.parent / "app"

EVERY_FEATURE = {
    "S3_BUCKET": BUCKET, "S3_REGION": "us-east-1",
    "DOCS_AUTH": "header", "DOCS_AUTH_TRUSTED_NETWORKS": (ipaddress.ip_network("127.0.0.1/32"),), "DOCS_CACHE": "on",
    "DOCS_PRESIGN_ABOVE": 1024 * 1024, "DOCS_LISTING_PREFIXES": ("artifacts/",), "DOCS_ERROR_DOCUMENT": "404.html",
    "DOCS_HUB": "on",
}

# Read top to bottom: what runs for GET /docs/<path>, in order (docs/architecture.md).
REQUEST_PATH = [
    ("gate", "app.access.require_read"),
    ("responder", "app.website.presign.presigned_download"),
    ("rewrite", "app.hub.page_injection"),
    ("fetch", "app.cache.fetch.cached"),
    ("fetch", "app.serving.views.fetch_object"),
    ("fallback", "app.serving.views.redirect_to_directory"),
    ("fallback", "app.portal.views.portal_fallback"),
    ("fallback", "app.website.listing.listing"),
    ("fallback", "app.website.errordocs.error_document"),
    ("fallback", "app.website.notfound.missing_page"),
]


def test_every_feature_on_puts_gates_responders_fetch_layers_and_fallbacks_in_this_order(s3):
    assert hooks.request_path(create_app(EVERY_FEATURE)) == REQUEST_PATH


def test_flask_docs_hooks_prints_the_request_path(s3):
    result = create_app(EVERY_FEATURE).test_cli_runner().invoke(args=["docs", "hooks"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1:-1] == [f"{stage:9} {name}" for stage, name in REQUEST_PATH]
    assert lines[0].startswith("route") and lines[-1].startswith("exceptions")


def test_a_fetch_wrapper_is_handed_the_fetch_it_wraps(s3, put):
    put("page.html", b"<p>page</p>", ContentType="text/html")
    app = create_app({"S3_BUCKET": BUCKET, "S3_REGION": "us-east-1"})
    seen = []

    def tagging(inner):
        def fetch(key, params=None):
            seen.append(key)
            response = inner(key, params)
            response.headers["X-Wrapped"] = "yes"
            return response
        return fetch

    hooks.wrap_fetch(app, tagging)

    with app.test_client().get("/docs/page.html") as response:
        assert (response.status_code, response.headers["X-Wrapped"], response.headers["X-Cache"]) == (200, "yes", "MISS")
        assert response.data == b"<p>page</p>"
    assert seen == ["page.html"]
    fetch_layers = [name for stage, name in hooks.request_path(app) if stage == "fetch"]
    assert fetch_layers == [f"{__name__}.test_a_fetch_wrapper_is_handed_the_fetch_it_wraps.<locals>.tagging",
                            "app.cache.fetch.cached", "app.serving.views.fetch_object"]


def test_set_fetch_replaces_the_whole_fetch(s3):
    app = create_app({"S3_BUCKET": BUCKET, "S3_REGION": "us-east-1"})
    hooks.set_fetch(app, lambda key, params=None: Response(b"canned " + key.encode()))
    assert app.test_client().get("/docs/x.html").data == b"canned x.html"
    assert [stage for stage, _ in hooks.request_path(app)].count("fetch") == 1


def test_listings_claim_their_folders_from_the_portal(s3):
    app = create_app({**EVERY_FEATURE, "DOCS_LISTING_PREFIXES": ("artifacts/", "*")})
    with app.test_request_context():
        assert hooks.is_claimed("artifacts/") and hooks.is_claimed("artifacts/nightly/")
        assert not hooks.is_claimed("payments/")  # '*' claims nothing from the portal


def imported_modules(path):
    """Return the app modules ``path`` imports, as dotted names (relative imports resolved)."""
    package = ".".join(path.relative_to(APP.parent).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rsplit(".", 1)[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name == "app" or name.startswith("app.")}


def imports_of(package):
    """Return ``{module path: app modules it imports}`` for every module of ``app/<package>``."""
    return {path: imported_modules(path) for path in sorted((APP / package).glob("**/*.py"))}


def test_serving_imports_no_package_that_registers_into_it():
    later = ("app.access", "app.cache", "app.portal", "app.search", "app.website", "app.publishing")
    for path, modules in imports_of("serving").items():
        assert not [name for name in modules if name.startswith(later)], path


def test_the_cache_does_not_import_the_fetch_it_wraps():
    for path, modules in imports_of("cache").items():
        assert "app.serving.views" not in modules and "app.serving.views.fetch_object" not in modules, path


def test_the_portal_does_not_read_the_listing_settings_nor_import_website():
    for path, modules in imports_of("portal").items():
        assert not [name for name in modules if name.startswith("app.website")], path
        assert "DOCS_LISTING_PREFIXES" not in path.read_text().replace("named in DOCS_LISTING_PREFIXES", ""), path


def test_publishing_and_the_portal_cli_do_not_import_each_other():
    assert not [name for name in imported_modules(APP / "publishing" / "cli.py") if name.startswith("app.portal")]
