"""End to end: real Sphinx and MkDocs sites, published to moto's S3, served by gunicorn, browsed in Chromium.

Unit tests cannot show that a generated site renders. These build both sites from ``tests/sites/``,
publish them with ``flask docs publish`` (the path users take), serve them through the app under
real gunicorn and drive headless Chromium through them. Every page visited must load completely:
no failed request, no 4xx/5xx, no console error, no broken image or font, and the theme's stylesheets
must have applied. ``make test-fast`` skips this module (marker ``browser``); ``make test`` runs it.

Set ``DOCS_SCREENSHOT_DIR`` to also write each site's first-page screenshot there; that is how
``docs/images/sphinx-site.png`` was made. (make run's own screenshots: test_make_run.py.)
"""

import logging
import os
import shutil
import subprocess
import sys
from collections import deque
from dataclasses import dataclass
from urllib.parse import urldefrag, urlsplit

import pytest

from tests.servers import FAKE_CREDENTIALS, ROOT, TIMEOUT_MS, Gunicorn

pytestmark = pytest.mark.browser


BUCKET = "browser-docs"
SOURCES = ROOT / "tests" / "sites"
SEARCH_WORD = "tesseract"  # In tests/sites/*/ on the usage page only.


@dataclass(frozen=True)
class Site:
    """What the tests know about one published site: where it lives and how its theme looks."""

    name: str
    prefix: str
    # The theme's "next" link, and the pages it walks through from the root, in order, relative to the root.
    next_link: str
    next_chain: list
    # (selector, CSS property, expected substring), one per stylesheet; the first element is on every page.
    style_checks: list
    # Directory URLs (relative to the root, without their trailing slash) that must redirect and render.
    directories: list
    loads_fonts: bool = False

    @property
    def root(self):
        """The site's URL path on the proxy."""
        return f"/docs/{self.prefix}"


SPHINX = Site(
    "sphinx",
    "sphinx/1.0/",
    next_link='div.sphinxsidebar a[title="next chapter"]',
    next_chain=["guide/index.html", "guide/install.html", "guide/usage.html", "guide/advanced/index.html",
                "reference.html"],
    style_checks=[
        ("body", "font-family", "Georgia"),  # alabaster.css
        ("div.sphinxsidebar", "float", "left"),  # basic.css
        (".highlight .kn", "color", "rgb(0, 68, 97)"),  # pygments.css
    ],
    directories=["guide", "guide/advanced"],
)
MKDOCS = Site(
    "mkdocs",
    "mkdocs/",
    next_link='a[rel="next"][href]',  # Without href on the last page.
    next_chain=["guide/", "guide/install/", "guide/usage/", "about/"],
    style_checks=[
        ("div.navbar", "display", "flex"),  # bootstrap.min.css
        ("h1", "font-size", "42px"),  # base.css
        (".fa-arrow-right", "font-family", "Font Awesome"),  # fontawesome.min.css
    ],
    directories=["guide", "guide/install", "about"],
    loads_fonts=True,
)
SITES = {site.name: site for site in (SPHINX, MKDOCS)}

# What a browser needs to hear for each kind of resource: Chrome silently drops a stylesheet
# served as binary/octet-stream, so a wrong type must fail here, not only as a missing style.
EXPECTED_TYPES = {
    "document": "text/html",
    "stylesheet": "text/css",
    "script": "javascript",
    "image": "image/",
}

# Runs after load in the page: what did not render. Fonts are awaited first, so a failed font shows.
PAGE_PROBLEMS_JS = """
async ([styleChecks, loadsFonts]) => {
  await document.fonts.ready;
  const problems = [];
  for (const img of document.images) {
    if (!img.complete || img.naturalWidth === 0) problems.push(`broken image: ${img.currentSrc || img.src}`);
  }
  for (const link of document.querySelectorAll('link[rel~="stylesheet"]')) {
    if (!link.disabled && !link.sheet) problems.push(`stylesheet not applied: ${link.href}`);
  }
  const fonts = Array.from(document.fonts);
  for (const font of fonts) {
    if (font.status === "error") problems.push(`font failed: ${font.family}`);
  }
  if (loadsFonts && !fonts.some((font) => font.status === "loaded")) problems.push("no web font loaded");
  styleChecks.forEach(([selector, property, expected], index) => {
    const element = document.querySelector(selector);
    if (!element) {
      if (index === 0) problems.push(`theme element missing: ${selector}`);
      return;
    }
    const actual = getComputedStyle(element).getPropertyValue(property);
    if (!actual.includes(expected)) {
      problems.push(`theme style not applied: ${selector} {${property}} is ${JSON.stringify(actual)}, ` +
                    `expected ${JSON.stringify(expected)}`);
    }
  });
  return problems;
}
"""


def build_sphinx(out_dir, work_dir):
    """Build the Sphinx project into ``out_dir``, keeping doctrees out of the published tree."""
    subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-W", "-b", "html", "-d", str(work_dir / "doctrees"),
         str(SOURCES / "sphinx"), str(out_dir)],
        check=True, timeout=120,
    )


def build_mkdocs(out_dir, work_dir):
    """Build the MkDocs project into ``out_dir``."""
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "-q", "--strict", "-f", str(SOURCES / "mkdocs" / "mkdocs.yml"),
         "-d", str(out_dir)],
        check=True, timeout=120,
    )


def publish(site_dir, prefix, moto_server):
    """Upload a built site with ``flask docs publish``, the command users run."""
    env = {
        **os.environ,
        **FAKE_CREDENTIALS,
        "S3_BUCKET": BUCKET,
        "S3_ENDPOINT_URL": moto_server,
        "S3_ADDRESSING_STYLE": "path",
    }
    env.pop("AWS_PROFILE", None)
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "docs", "publish", str(site_dir), "--prefix", prefix],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, (
        f"flask docs publish {site_dir} --prefix {prefix} exited {result.returncode}:\n"
        f"{result.stdout}\n{result.stderr}"
    )


@pytest.fixture(scope="module", autouse=True)
def quiet_moto_log():
    """Keep moto's per-request log lines out of failure reports, where they would bury the problem list."""
    logger = logging.getLogger("werkzeug")
    level = logger.level
    logger.setLevel(logging.WARNING)
    yield
    logger.setLevel(level)


@pytest.fixture(scope="module")
def published_sites(tmp_path_factory, moto_server, server_s3):
    """Both sites, built from ``tests/sites/`` and published to ``BUCKET`` under their prefixes."""
    work_dir = tmp_path_factory.mktemp("sites")
    server_s3.create_bucket(Bucket=BUCKET)
    for site, build in ((SPHINX, build_sphinx), (MKDOCS, build_mkdocs)):
        out_dir = work_dir / site.name
        build(out_dir, work_dir)
        publish(out_dir, site.prefix, moto_server)
    return SITES


@pytest.fixture(scope="module")
def docs_server(published_sites, moto_server, tmp_path_factory):
    """gunicorn serving the app against the moto server, shared by this module's tests."""
    env = {
        "S3_BUCKET": BUCKET,
        "S3_ENDPOINT_URL": moto_server,
        "S3_ADDRESSING_STYLE": "path",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "8",
    }
    server = Gunicorn(env, log_path=tmp_path_factory.mktemp("gunicorn") / "gunicorn.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def screenshot_dir(tmp_path_factory):
    """Where the first-page screenshots go: the pytest temp dir (and ``DOCS_SCREENSHOT_DIR`` if set)."""
    return tmp_path_factory.mktemp("screenshots")


class Visitor:
    """One browsing session; each page it opens is checked, and any problem fails the test with a list."""

    def __init__(self, browser, server):
        self.server = server
        self.base = server.url
        self.problems = []
        self.context = browser.new_context(viewport={"width": 1280, "height": 800}, service_workers="block")
        self.context.set_default_timeout(TIMEOUT_MS)
        self.context.set_default_navigation_timeout(TIMEOUT_MS)
        # Only 127.0.0.1 is reachable: a page asking for anything else would hang or fail for users offline.
        self.context.route(lambda url: not url.startswith(self.base), self._refuse_external)
        self.context.on("requestfailed", self._on_request_failed)
        self.context.on("response", self._on_response)
        self.context.on("console", self._on_console)
        self.context.on("weberror", lambda error: self.problems.append(f"uncaught error: {error.error}"))
        self.page = self.context.new_page()

    def _refuse_external(self, route):
        self.problems.append(f"request outside the test server: {route.request.url}")
        route.abort()

    def _on_request_failed(self, request):
        self.problems.append(f"request failed: {request.method} {request.url}: {request.failure}")

    def _on_response(self, response):
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.request.method} {response.url}")
        expected = EXPECTED_TYPES.get(response.request.resource_type)
        content_type = response.headers.get("content-type", "")
        if response.status == 200 and expected and expected not in content_type:
            self.problems.append(
                f"{response.request.resource_type} served as {content_type or 'no Content-Type'}: {response.url}"
            )

    def _on_console(self, message):
        if message.type == "error":
            location = message.location or {}
            self.problems.append(f"console error: {message.text} ({location.get('url', '?')})")

    def url(self, path):
        """Return the absolute URL of a path on the test server."""
        return self.base + path

    def open(self, path, site):
        """Open ``path``, wait until the network is idle, and check the page."""
        response = self.page.goto(self.url(path), wait_until="load")
        assert response is not None, f"no response for {path}"
        self.settle(site)
        return response

    def click(self, locator, site):
        """Click a link, wait for the page it leads to, and check that page."""
        href = locator.get_attribute("href")
        with self.page.expect_navigation(wait_until="load"):
            locator.click()
        self.settle(site, f"after clicking {href!r}")

    def settle(self, site, how=""):
        """Wait for the page's late requests (search index, workers) and check what rendered."""
        self.page.wait_for_load_state("networkidle")
        where = f"{self.page.url} {how}".strip()
        for problem in self.page.evaluate(PAGE_PROBLEMS_JS, [site.style_checks, site.loads_fonts]):
            self.problems.append(f"{problem} (on {where})")
        self.assert_clean(where)

    def assert_clean(self, where):
        """Fail with every problem recorded so far, and the server log when the server erred."""
        if not self.problems:
            return
        problems = list(dict.fromkeys(self.problems))
        message = [f"{len(problems)} problem(s) while loading {where}:"] + [f"  - {problem}" for problem in problems]
        if any(problem.startswith("HTTP 5") for problem in self.problems):
            message.append("gunicorn log (tail):\n" + "\n".join(self.server.log().splitlines()[-30:]))
        self.problems.clear()
        pytest.fail("\n".join(message), pytrace=False)

    def links_below(self, root):
        """Return the absolute URLs, without fragments, of this page's links that stay below ``root``."""
        hrefs = self.page.eval_on_selector_all("a[href]", "links => links.map(link => link.href)")
        prefix = self.url(root)
        return [urldefrag(href).url for href in hrefs if urldefrag(href).url.startswith(prefix)]

    def close(self):
        """Close the context; a problem recorded after the last check still fails the test."""
        try:
            self.assert_clean(f"the end of the test (last page {self.page.url})")
        finally:
            self.context.close()


@pytest.fixture
def visitor(browser, docs_server):
    """A fresh browser context that records every problem while the test browses."""
    visitor = Visitor(browser, docs_server)
    yield visitor
    visitor.close()


def is_page(url):
    """Tell whether a site URL names an HTML page (rather than a source file, image or index)."""
    path = urlsplit(url).path
    return path.endswith("/") or path.endswith(".html")


@pytest.fixture(params=list(SITES), ids=list(SITES))
def site(request, published_sites):
    """Each published site in turn."""
    return published_sites[request.param]


def test_first_page_renders_styled_with_every_asset(visitor, site, screenshot_dir):
    response = visitor.open(site.root, site)

    assert response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    image = visitor.page.locator("img[src*='diagram.png']").first
    assert image.evaluate("img => img.naturalWidth") == 240
    path = screenshot_dir / f"{site.name}-site.png"
    visitor.page.screenshot(path=str(path))
    if os.environ.get("DOCS_SCREENSHOT_DIR"):
        os.makedirs(os.environ["DOCS_SCREENSHOT_DIR"], exist_ok=True)
        shutil.copyfile(path, os.path.join(os.environ["DOCS_SCREENSHOT_DIR"], path.name))


def test_next_links_walk_every_page_in_order(visitor, site):
    visitor.open(site.root, site)

    visited = []
    while visitor.page.locator(site.next_link).count() and len(visited) <= len(site.next_chain):
        visitor.click(visitor.page.locator(site.next_link).first, site)
        visited.append(visitor.page.url.removeprefix(visitor.url(site.root)))

    assert visited == site.next_chain


def test_every_linked_page_and_file_loads(visitor, site):
    root_url = visitor.url(site.root)
    queue, seen, files, pages = deque([root_url]), {root_url}, set(), []
    while queue and len(pages) < 40:
        pages.append(queue.popleft())
        visitor.open(pages[-1].removeprefix(visitor.base), site)
        for url in visitor.links_below(site.root):
            if url in seen:
                continue
            seen.add(url)
            if is_page(url):
                queue.append(url)
            else:
                files.add(url)

    broken = []
    for url in sorted(files):
        response = visitor.context.request.get(url)
        if response.status >= 400:
            broken.append(f"HTTP {response.status}: {url}")
    assert not broken, "linked files that did not load:\n" + "\n".join(broken)
    unreached = [page for page in site.next_chain if root_url + page not in pages]
    assert not unreached, f"pages not linked from {site.root} or below: {unreached}; reached {pages}"


def test_in_page_link_to_nested_page_renders(visitor, site):
    visitor.open(site.root, site)
    nested = visitor.page.locator("div.body a[href^='guide/install'], div[role=main] a[href^='guide/install']")

    visitor.click(nested.first, site)

    assert visitor.page.url.startswith(visitor.url(site.root + "guide/install"))
    assert visitor.page.locator("img[src*='diagram.png']").evaluate("img => img.naturalWidth") == 240


@pytest.mark.parametrize(
    ("site_name", "directory"),
    [(site.name, directory) for site in SITES.values() for directory in ["", *site.directories]],
    ids=lambda value: value or "root",
)
def test_directory_without_trailing_slash_redirects_and_renders(visitor, published_sites, site_name, directory):
    site = published_sites[site_name]
    path = site.root + directory if directory else site.root.rstrip("/")

    response = visitor.open(path, site)

    assert visitor.page.url == visitor.url(path + "/")
    assert response.request.redirected_from is not None, f"{path} was served without a redirect"
    assert response.request.redirected_from.url == visitor.url(path)


def test_sphinx_search_finds_a_word_from_the_sources(visitor):
    visitor.open(SPHINX.root, SPHINX)

    visitor.page.locator("#searchbox input[name=q]").fill(SEARCH_WORD)
    with visitor.page.expect_navigation(wait_until="load"):
        visitor.page.locator("#searchbox input[name=q]").press("Enter")
    results = visitor.page.locator("#search-results ul.search li a")
    results.first.wait_for()
    visitor.page.locator("#search-results p.search-summary", has_text="found").wait_for()
    visitor.settle(SPHINX, f"searching for {SEARCH_WORD!r}")

    assert results.count() == 1
    assert results.first.inner_text() == "Usage"
    visitor.click(results.first, SPHINX)
    assert urlsplit(visitor.page.url).path == SPHINX.root + "guide/usage.html"


def test_mkdocs_search_finds_a_word_from_the_sources(visitor):
    visitor.open(MKDOCS.root, MKDOCS)

    visitor.page.locator("a[data-bs-target='#mkdocs_search_modal']").click()
    # The theme searches on keyup, so type the word as a person would.
    visitor.page.locator("#mkdocs-search-query").press_sequentially(SEARCH_WORD)
    results = visitor.page.locator("#mkdocs-search-results article h3 a")
    results.first.wait_for()
    visitor.settle(MKDOCS, f"searching for {SEARCH_WORD!r}")

    # One hit for the page and one for its section, both on the usage page.
    assert set(results.evaluate_all("links => links.map(link => link.pathname)")) == {MKDOCS.root + "guide/usage/"}
    assert results.first.inner_text() == "Usage"
    visitor.click(results.first, MKDOCS)
    assert urlsplit(visitor.page.url).path == MKDOCS.root + "guide/usage/"
