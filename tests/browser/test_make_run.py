"""``make run`` in headless Chromium: what a newcomer sees, and the README's screenshots, taken from it.

Each screenshot is written to docs/images/ on every run (the README shows each once), so they always
show what ``make run`` shows now.
"""

from urllib.parse import urlsplit

import pytest

from tests.browser.test_browser import Site, Visitor
from tests.servers import ROOT, TIMEOUT_MS
from tests.test_devserver import MakeRun

pytestmark = pytest.mark.browser

IMAGES = ROOT / "docs" / "images"
README_SCREENSHOTS = ("make-run.png", "make-run-project.png", "make-run-search.png", "make-run-hub.png",
                      "make-run-404.png", "make-run-sample.png")
PORTAL = Site("portal", "", next_link="", next_chain=[], style_checks=[("header.top", "border-bottom-style", "solid")],
              directories=[])
SAMPLE = Site("sample", "sample/1.0/", next_link="footer a.next", next_chain=["guide/"],
              style_checks=[("header", "border-bottom-style", "solid")], directories=[])


@pytest.fixture(scope="module")
def make_run(tmp_path_factory):
    """``make run`` with nothing configured, its data in a fresh folder."""
    server = MakeRun(tmp_path_factory.mktemp("make-run-browser"))
    yield server
    server.stop()


@pytest.fixture
def visitor(browser, make_run):
    """A browsing session on make run that fails the test on any broken request, error or unstyled page."""
    session = Visitor(browser, make_run)
    yield session
    session.close()


def shoot(page, name):
    """Save the README's screenshot ``name``."""
    page.screenshot(path=str(IMAGES / name))


def test_make_runs_first_page_is_the_portal_of_the_sample_projects(visitor):
    response = visitor.open("/docs/", PORTAL)
    assert response.status == 200
    titles = visitor.page.locator(".card h2").all_inner_texts()
    assert titles == ["Engineering Handbook", "General Ledger", "Payments API", "Sample site"]
    shoot(visitor.page, "make-run.png")


def test_a_project_page_lists_its_versions_in_groups(visitor):
    visitor.open("/_/projects/payments", PORTAL)
    headings = visitor.page.locator("section > h2").all_inner_texts()
    assert headings[:2] == ["Stable", "Next (prereleases)"] and "Development" in headings
    shoot(visitor.page, "make-run-project.png")


def test_searching_from_the_landing_page_finds_the_sample_projects(visitor):
    visitor.open("/docs/", PORTAL)
    box = visitor.page.locator("form.docs-search-box input[name=q]")
    box.fill("refunds")
    visitor.click(visitor.page.locator("form.docs-search-box button"), PORTAL)
    hits = visitor.page.locator("ol.results a.hit")
    assert hits.count() >= 1
    assert "/docs/payments/" in hits.first.get_attribute("href")
    shoot(visitor.page, "make-run-search.png")


def test_an_old_payments_version_shows_the_hub_with_its_notice(browser, make_run):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        assert page.goto(f"{make_run.url}/docs/payments/1.9.0/").status == 200
        banner = page.locator('[data-docs-hub="banner"]')
        banner.wait_for()
        assert "You are reading 1.9.0" in banner.inner_text()
        shoot(page, "make-run-hub.png")
    finally:
        context.close()


def test_the_sample_site_renders_with_its_styles_and_script(visitor):
    visitor.open("/docs/sample/1.0/", SAMPLE)
    assert visitor.page.locator("#js-status").inner_text() != "JavaScript did not run."
    shoot(visitor.page, "make-run-sample.png")


def test_a_missing_page_shows_the_portal_look_404_whose_links_lead_on(browser, make_run):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        # 1.10.0 has the refunds page; it is missing from none of the versions, so ask for a page only 2.0.0 lacks.
        response = page.goto(f"{make_run.url}/docs/payments/2.0.0/guide/refund.html")
        assert response.status == 404
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert page.locator("h1").inner_text() == "Page not found"
        assert page.locator("header.top .brand").is_visible()  # the portal's look, not S3's XML
        assert page.locator("#way-back a").first.get_attribute("href") == "/docs/payments/2.0.0/"
        results = page.locator("#search-results ol.results a.hit")
        assert results.count() >= 1
        shoot(page, "make-run-404.png")
        with page.expect_navigation():
            results.first.click()
        assert urlsplit(page.url).path.startswith("/docs/payments/2.0.0/guide/")
        assert page.locator("h1").inner_text() == "Refunds"
    finally:
        context.close()


def test_the_readme_shows_each_make_run_screenshot_once():
    readme = (ROOT / "README.md").read_text()
    for name in README_SCREENSHOTS:
        assert readme.count(f"(docs/images/{name})") == 1, name
    first_image = readme[readme.index("!["):].split(")", 1)[0]
    assert first_image.endswith("(docs/images/make-run.png")
