"""The portal in headless Chromium: Material for MkDocs' version selector from our versions.json, and the landing page.

A Material site is built once from ``tests/sites/material/`` and published in three versions with
``flask docs publish --project material --version V``; the sample projects of ``make run`` are
published beside it. gunicorn serves the app against moto's server.

Set ``DOCS_SCREENSHOT_DIR`` to also write the landing page and a project page there; that is how
``docs/images/portal-landing.png`` and ``docs/images/portal-project.png`` were made.
"""

import os
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from app import create_app
from app.portal.samples import publish_sample_projects

from tests.servers import TIMEOUT_MS
from tests.servers import FAKE_CREDENTIALS, ROOT, Gunicorn, s3_client

pytestmark = pytest.mark.browser

BUCKET = "portal-browser"
MATERIAL_VERSIONS = ["1.0", "1.1", "2.0"]


@pytest.fixture(scope="module")
def portal_server(tmp_path_factory, moto_server):
    """gunicorn serving a bucket with the Material site in three versions and the sample projects."""
    work = tmp_path_factory.mktemp("material")
    out = work / "site"
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "-q", "--strict", "-f",
         str(ROOT / "tests" / "sites" / "material" / "mkdocs.yml"), "-d", str(out)],
        check=True, timeout=120, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    s3 = s3_client(moto_server)
    s3.create_bucket(Bucket=BUCKET)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in FAKE_CREDENTIALS.items():
            patch.setenv(name, value)
        app = create_app({"S3_BUCKET": BUCKET, "S3_ENDPOINT_URL": moto_server, "S3_REGION": "us-east-1",
                          "S3_ADDRESSING_STYLE": "path"})
        runner = app.test_cli_runner()
        for version in MATERIAL_VERSIONS:
            result = runner.invoke(args=["docs", "publish", str(out), "--project", "material", "--version", version,
                                         "--title", "Material Demo", "--description", "A Material for MkDocs site",
                                         "--tag", "mkdocs"])
            assert result.exit_code == 0, result.output
        publish_sample_projects(app.extensions["s3"], BUCKET)
    server = Gunicorn({"S3_BUCKET": BUCKET, "S3_ENDPOINT_URL": moto_server, "S3_ADDRESSING_STYLE": "path",
                       "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "8"},
                      log_path=work / "gunicorn.log")
    yield server
    server.stop()


@pytest.fixture
def page(browser, portal_server):
    """A fresh page that records failed requests and console errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, service_workers="block")
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    tab.problems = []
    tab.on("requestfailed", lambda request: tab.problems.append(f"failed {request.url}: {request.failure}"))
    tab.on("response", lambda response: response.status >= 400 and tab.problems.append(f"{response.status} {response.url}"))
    tab.on("console", lambda message: message.type == "error" and tab.problems.append(f"console: {message.text}"))
    yield tab
    context.close()


def screenshot(tab, name):
    """Save a screenshot into ``DOCS_SCREENSHOT_DIR`` when it is set."""
    target = os.environ.get("DOCS_SCREENSHOT_DIR")
    if target:
        tab.screenshot(path=os.path.join(target, name))


def test_materials_version_selector_lists_our_versions_and_switching_keeps_the_page(page, portal_server):
    page.goto(f"{portal_server.url}/docs/material/latest/guide/install/")
    assert page.url == f"{portal_server.url}/docs/material/2.0/guide/install/"
    current = page.locator(".md-version__current")
    expect(current).to_have_text("2.0")
    expect(page.locator("[data-md-component=outdated]")).to_be_hidden()  # 2.0 is stable
    links = page.locator(".md-version__list .md-version__link")
    expect(links).to_have_count(3)
    assert [text.strip() for text in links.all_inner_texts()] == ["2.0", "1.1", "1.0"]
    page.wait_for_load_state("networkidle")  # leaving cancels what the page still fetches: no fault of ours
    page.locator(".md-version").hover()
    page.locator(".md-version__link", has_text="1.0").click()
    page.wait_for_url(f"{portal_server.url}/docs/material/1.0/guide/install/")
    expect(page.locator(".md-version__current")).to_have_text("1.0")
    expect(page.locator("h1")).to_have_text("Install")
    expect(page.locator("[data-md-component=outdated]")).to_be_visible()  # 1.0 is not stable: the banner says so
    assert page.problems == []


def test_the_landing_page_renders_filters_and_links(page, portal_server):
    page.set_viewport_size({"width": 1280, "height": 760})
    page.goto(f"{portal_server.url}/docs/")
    cards = page.locator("#projects > li")
    expect(cards).to_have_count(4)
    expect(page.locator("#projects")).to_contain_text("Payments API")
    screenshot(page, "portal-landing.png")

    page.fill("#q", "ledger")  # filters as you type, with JavaScript
    expect(page.locator("#projects > li:visible")).to_have_count(1)
    expect(page.locator("#projects > li:visible h2")).to_have_text("General Ledger")
    page.fill("#q", "zzz-nothing")
    expect(page.locator("#none")).to_be_visible()

    page.fill("#q", "material")
    page.click("button[type=submit]")  # the form works on its own: the server filters
    page.wait_for_url("**/docs/?q=material")
    expect(page.locator("#projects > li")).to_have_count(1)

    page.click("#projects > li h2 a")
    page.wait_for_url(f"{portal_server.url}/docs/material/2.0/")
    expect(page.locator(".md-version__current")).to_have_text("2.0")
    page.wait_for_load_state("networkidle")  # Material's search index, before leaving the page

    page.goto(f"{portal_server.url}/docs/")
    page.locator("#projects > li", has_text="Payments API").get_by_text("All 5 versions").click()
    page.wait_for_url(f"{portal_server.url}/_/projects/payments")
    expect(page.locator("h1")).to_have_text("Payments API")
    screenshot(page, "portal-project.png")
    page.get_by_role("link", name="2.1.0rc1").first.click()
    page.wait_for_url(f"{portal_server.url}/docs/payments/2.1.0rc1/")
    assert page.problems == []


def test_the_landing_page_works_without_javascript_on_a_phone(browser, portal_server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False,
                                  color_scheme="dark")
    tab = context.new_page()
    tab.goto(f"{portal_server.url}/docs/?q=billing")
    expect(tab.locator("#projects > li")).to_have_count(1)
    expect(tab.locator("#projects h2")).to_have_text("Payments API")
    width = tab.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing forces sideways scrolling on a phone
    background = tab.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(17, 21, 28)"  # the dark palette
    context.close()
