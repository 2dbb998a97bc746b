"""Website features in headless Chromium: a folder listing and a site's own 404 page render with their styles.

The MkDocs test site is built with ``site_url`` under /docs/mk/ (so its 404 page links its assets from
any depth, as MkDocs does for a deployed site), published, and served by gunicorn with error documents
and listings on. Set ``DOCS_SCREENSHOT_DIR`` to also write the screenshots there; that is how
``docs/images/website-listing.png`` and ``docs/images/website-404.png`` were made.
"""

import os
import shutil
import subprocess
import sys
import uuid

import pytest

from app.publishing.run import PublishOptions, publish_tree

from tests.browser.test_browser import SOURCES
from tests.servers import TIMEOUT_MS
from tests.servers import Gunicorn

pytestmark = pytest.mark.browser

ARTIFACTS = {
    "artifacts/nightly/docs-proxy-2026.11.21.tar.gz": 3_145_728,
    "artifacts/nightly/docs-proxy-2026.11.22.tar.gz": 3_305_771,
    "artifacts/nightly/handbook.pdf": 2_411_520,
    "artifacts/nightly/<script>alert(1).txt": 23,
    "artifacts/nightly/release notes \u00e9t\u00e9.txt": 4_096,
    "artifacts/nightly/wheels/docs_proxy-1.0-py3-none-any.whl": 51_200,
    "artifacts/nightly/wheels/docs_proxy-1.1-py3-none-any.whl": 52_480,
}


@pytest.fixture(scope="module")
def website_site(tmp_path_factory, server_s3):
    """A bucket with the MkDocs site (and its 404.html) under mk/ and an artifacts folder without an index."""
    bucket = f"browser-web-{uuid.uuid4().hex[:10]}"
    server_s3.create_bucket(Bucket=bucket)
    work = tmp_path_factory.mktemp("website-site")
    config = work / "mkdocs.yml"
    config.write_text(
        f"INHERIT: {SOURCES / 'mkdocs' / 'mkdocs.yml'}\n"
        f"docs_dir: {SOURCES / 'mkdocs' / 'docs'}\n"
        "site_url: http://127.0.0.1/docs/mk/\n"
    )
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(config), "-d", str(work / "out")],
                   check=True, timeout=120)
    report = publish_tree(server_s3, bucket, str(work / "out"), "mk/", PublishOptions())
    assert report.ok, report.failed
    for key, size in ARTIFACTS.items():
        server_s3.put_object(Bucket=bucket, Key=key, Body=(b"x" if key.endswith(".txt") else b"\0") * size,
                             ContentType="text/plain; charset=utf-8" if key.endswith(".txt") else "application/octet-stream")
    return bucket


@pytest.fixture(scope="module")
def website_server(website_site, moto_server, tmp_path_factory):
    """gunicorn with error documents and listings of artifacts/."""
    env = {
        "S3_BUCKET": website_site,
        "S3_ENDPOINT_URL": moto_server,
        "S3_ADDRESSING_STYLE": "path",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "8",
        "DOCS_ERROR_DOCUMENT": "404.html",
        "DOCS_LISTING_PREFIXES": "artifacts/",
    }
    server = Gunicorn(env, log_path=tmp_path_factory.mktemp("gunicorn") / "gunicorn.log")
    yield server
    server.stop()


@pytest.fixture
def page(browser, website_server):
    """A fresh page that records every failed or refused sub-request; only 127.0.0.1 is reachable."""
    context = browser.new_context(viewport={"width": 1100, "height": 640}, service_workers="block")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.problems = []
    context.route(lambda url: not url.startswith(website_server.url),
                  lambda route: (page.problems.append(f"outside request: {route.request.url}"), route.abort()))
    page.on("requestfailed", lambda request: page.problems.append(f"failed: {request.url}"))
    page.on("response", lambda response: response.status >= 400 and response.request.resource_type != "document"
            and page.problems.append(f"HTTP {response.status}: {response.url}"))
    page.on("console", lambda message: message.type == "error" and "404" not in message.text
            and page.problems.append(f"console: {message.text}"))
    yield page
    context.close()


def screenshot(page, tmp_path, name):
    """Save a screenshot, and copy it to ``DOCS_SCREENSHOT_DIR`` when set."""
    path = tmp_path / name
    page.screenshot(path=str(path))
    if os.environ.get("DOCS_SCREENSHOT_DIR"):
        os.makedirs(os.environ["DOCS_SCREENSHOT_DIR"], exist_ok=True)
        shutil.copyfile(path, os.path.join(os.environ["DOCS_SCREENSHOT_DIR"], name))


def style(page, selector, prop):
    """Return the computed ``prop`` of the first element matching ``selector``."""
    return page.locator(selector).first.evaluate(f"e => getComputedStyle(e).getPropertyValue('{prop}')")


def test_missing_page_shows_the_sites_own_404_page_with_its_theme(page, website_server, tmp_path):
    response = page.goto(website_server.url + "/docs/mk/guide/no/such/page/", wait_until="load")
    page.wait_for_load_state("networkidle")

    assert response.status == 404
    assert "404" in page.locator("h1").first.inner_text()
    assert style(page, "div.navbar", "display") == "flex"  # bootstrap.min.css
    assert style(page, "h1", "font-size") == "42px"  # base.css
    assert page.evaluate("document.styleSheets.length") >= 5
    assert page.problems == []
    screenshot(page, tmp_path, "website-404.png")


def test_folder_listing_renders_sorts_and_navigates(page, website_server, tmp_path):
    response = page.goto(website_server.url + "/docs/artifacts/nightly/", wait_until="load")

    assert response.status == 200
    names = page.locator("td.name a").all_inner_texts()
    assert names == ["Parent folder", "wheels/", "<script>alert(1).txt", "docs-proxy-2026.11.21.tar.gz",
                     "docs-proxy-2026.11.22.tar.gz", "handbook.pdf", "release notes \u00e9t\u00e9.txt"]
    assert page.locator("script").count() == 0
    assert style(page, "th", "background-color") == "rgb(246, 248, 250)"
    assert "3.2 MiB" in page.locator("tr", has_text="2026.11.22").inner_text()
    screenshot(page, tmp_path, "website-listing.png")

    with page.expect_navigation():
        page.locator("th a", has_text="Size").click()
    with page.expect_navigation():
        page.locator("th a", has_text="Size").click()
    assert page.locator("td.name a").all_inner_texts()[2] == "docs-proxy-2026.11.22.tar.gz"

    with page.expect_navigation():
        page.locator("td.name a", has_text="release notes").click()
    assert page.evaluate("document.contentType") == "text/plain"
    assert page.url.endswith("/docs/artifacts/nightly/release%20notes%20%C3%A9t%C3%A9.txt")
    page.go_back()
    with page.expect_navigation():
        page.locator("td.name a", has_text="wheels/").click()
    assert page.locator("h1").inner_text() == "Index of /docs/artifacts/nightly/wheels/"
    with page.expect_navigation():
        page.locator("nav.crumbs a", has_text="artifacts").click()
    assert page.url == website_server.url + "/docs/artifacts/"
    assert page.problems == []
