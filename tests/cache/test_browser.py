"""Chromium loads the Sphinx test site through the cache with compressed transfers and no failed request."""

import os
import subprocess
import sys
import uuid

import pytest

from tests.browser.test_browser import SPHINX, Visitor, build_sphinx
from tests.servers import FAKE_CREDENTIALS, ROOT, Gunicorn

pytestmark = pytest.mark.browser

TEXT_RESOURCES = ("document", "stylesheet", "script")


@pytest.fixture(scope="module")
def sphinx_server(moto_server, server_s3, tmp_path_factory):
    """The Sphinx test site built, published with ``flask docs publish`` and served by gunicorn, cache on."""
    bucket = f"cache-browser-{uuid.uuid4().hex[:8]}"
    server_s3.create_bucket(Bucket=bucket)
    work = tmp_path_factory.mktemp("sphinx")
    build_sphinx(work / "html", work)
    env = {**os.environ, **FAKE_CREDENTIALS, "S3_BUCKET": bucket, "S3_ENDPOINT_URL": moto_server,
           "S3_ADDRESSING_STYLE": "path"}
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "docs", "publish", str(work / "html"),
                    "--prefix", SPHINX.prefix], cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    server = Gunicorn({"S3_BUCKET": bucket, "S3_ENDPOINT_URL": moto_server, "S3_ADDRESSING_STYLE": "path",
                       "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "8"},
                      log_path=work / "gunicorn.log")
    yield server
    server.stop()


def test_sphinx_site_loads_compressed_with_no_failed_request(browser, sphinx_server):
    visitor = Visitor(browser, sphinx_server)
    transfers = []

    def record(response):
        if response.request.resource_type in TEXT_RESOURCES and response.status == 200:
            headers = response.all_headers()
            transfers.append((response.url, headers.get("content-encoding"), headers.get("x-cache"),
                              len(response.body())))

    visitor.context.on("response", record)
    try:
        visitor.open(SPHINX.root, SPHINX)
        for page in SPHINX.next_chain:
            visitor.open(SPHINX.root + page, SPHINX)
        # Back to the first page: now from the cache (or the browser's own), still whole and styled.
        visitor.open(SPHINX.root, SPHINX)
    finally:
        visitor.close()

    large = [(url, encoding) for url, encoding, _, size in transfers if size >= 1024]
    assert len(large) >= 10
    uncompressed = [url for url, encoding in large if encoding not in ("zstd", "br", "gzip")]
    assert not uncompressed, f"sent uncompressed: {uncompressed}"
    assert {cache for _, _, cache, _ in transfers} >= {"MISS", "HIT"}
