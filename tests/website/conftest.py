"""Fixtures for the website features: one bucket on moto's server, gunicorn with and without the options."""

import os
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from app import create_app

from tests.conftest import Bucket
from tests.servers import Gunicorn

PREFIX = "site/"
ARTIFACTS = 2500
BIG = os.urandom(3 * 1024 * 1024)
ROOT_404 = b"<!doctype html><title>Root 404</title><h1>Not here (root)</h1>"
GUIDE_404 = b"<!doctype html><title>Guide 404</title><h1>Not here (guide)</h1>"
WEIRD_NAMES = ["<script>alert(1).txt", "\"><img src=x onerror=alert(2)>.txt", "with space.txt", "caf\u00e9 \u00fcn\u00ef\u2603.txt", "a:b.txt"]
# Website redirect locations as S3 stores them, and the Location the proxy must answer (None: served as is).
REDIRECT_OBJECTS = {
    "moved/relative.html": ("/guide/new.html", "/docs/guide/new.html"),
    "moved/absolute.html": ("https://example.org/new?x=1", "https://example.org/new?x=1"),
    "moved/scheme.html": ("javascript:alert(1)", None),
    "moved/other-host.html": ("//evil.example/", None),
    "moved/crlf.html": ("/guide/new.html%0D%0ASet-Cookie:%20stolen=1", "/docs/guide/new.html%0D%0ASet-Cookie:%20stolen=1"),
    "moved/dotdot.html": ("/../../etc/passwd", None),
}


@pytest.fixture(scope="session")
def site_bucket(server_s3):
    """A bucket on the moto server: error documents, redirect objects, artifact folders and a big file."""
    name = f"website-{uuid.uuid4().hex[:12]}"
    server_s3.create_bucket(Bucket=name)
    put = Bucket(server_s3, name, prefix=PREFIX).put
    html = {"ContentType": "text/html; charset=utf-8"}
    put("index.html", b"<!doctype html><title>Home</title>", **html)
    put("404.html", ROOT_404, **html)
    put("guide/index.html", b"<!doctype html><title>Guide</title>", **html)
    put("guide/404.html", GUIDE_404, **html)
    put("guide/new.html", b"<!doctype html><title>New</title>", **html)
    for key, (location, _) in REDIRECT_OBJECTS.items():
        put(key, b"body of " + key.encode(), WebsiteRedirectLocation=location, **html)
    for weird in WEIRD_NAMES:
        put("weird/" + weird, weird.encode())
    put("weird/sub/deep.txt", b"deep")
    put("weird-sibling.txt", b"outside")
    put("weirdo/outside.txt", b"outside")
    put("downloads/big.bin", BIG, ContentType="application/octet-stream",
        ContentDisposition='attachment; filename="big.bin"')
    put("downloads/small.bin", b"small", ContentType="application/octet-stream")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: put(f"artifacts/build-{n:04d}.tar.gz", b"x" * (n % 7)), range(ARTIFACTS)))
    put("artifacts-elsewhere.txt", b"outside")
    return name


def website_env(bucket, moto_server, **extra):
    """The environment for gunicorn serving ``bucket`` with every website feature on."""
    return {
        "S3_BUCKET": bucket,
        "S3_PREFIX": PREFIX,
        "S3_ENDPOINT_URL": moto_server,
        "S3_ADDRESSING_STYLE": "path",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "8",
        "S3_MAX_POOL_CONNECTIONS": "8",
        **extra,
    }


@pytest.fixture
def bucket(server_s3, site_bucket):
    """The site bucket, below the site prefix (``put`` writes there)."""
    return Bucket(server_s3, site_bucket, prefix=PREFIX)


@pytest.fixture(scope="session")
def website_server(site_bucket, moto_server, tmp_path_factory):
    """gunicorn with error documents, listings (artifacts/, weird/) and presigned downloads from 1 MiB."""
    env = website_env(
        site_bucket, moto_server,
        DOCS_ERROR_DOCUMENT="404.html",
        DOCS_LISTING_PREFIXES="artifacts/, weird/",
        DOCS_PRESIGN_ABOVE="1MiB",
        DOCS_PRESIGN_EXPIRES="120",
    )
    server = Gunicorn(env, log_path=tmp_path_factory.mktemp("gunicorn") / "website.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def plain_server(site_bucket, moto_server, tmp_path_factory):
    """gunicorn on the same bucket with every website option left off."""
    server = Gunicorn(website_env(site_bucket, moto_server), log_path=tmp_path_factory.mktemp("gunicorn") / "plain.log")
    yield server
    server.stop()


@pytest.fixture
def moto_app(site_bucket, moto_server, monkeypatch):
    """Build the app in-process against the moto server with extra settings (for settings gunicorn tests do not vary)."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)

    def build(**settings):
        config = {"S3_BUCKET": site_bucket, "S3_PREFIX": PREFIX, "S3_ENDPOINT_URL": moto_server,
                  "S3_ADDRESSING_STYLE": "path", "S3_REGION": "us-east-1", **settings}
        return create_app(config)

    return build
