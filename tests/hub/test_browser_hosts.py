"""The hub in headless Chromium with one origin per project (DOCS_PROJECT_HOSTS={project}.localhost):
banner, menu and search all work from the project's own host, with no request failing."""

import uuid

import pytest
from playwright.sync_api import expect

from app import create_app
from tests.hub.test_browser import SEARCH_WORD, write_plain_site
from tests.servers import CHROMIUM, CHROMIUM_ARGS, FAKE_CREDENTIALS, TIMEOUT_MS

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def localhost_browser():
    """Chromium resolving every *.localhost name to 127.0.0.1, where the test's gunicorn listens."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, timeout=TIMEOUT_MS,
            args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP *.localhost 127.0.0.1"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def server(gunicorn_factory, server_s3, moto_server, tmp_path):
    """gunicorn with a host per project, serving the plain site as payments 1.0 and 2.0 with the hub."""
    bucket = f"hub-hosts-{uuid.uuid4().hex[:12]}"
    server_s3.create_bucket(Bucket=bucket)
    site = tmp_path / "plain"
    write_plain_site(site)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in FAKE_CREDENTIALS.items():
            patch.setenv(name, value)
        app = create_app({"S3_BUCKET": bucket, "S3_ENDPOINT_URL": moto_server, "S3_REGION": "us-east-1",
                          "S3_ADDRESSING_STYLE": "path"})
        runner = app.test_cli_runner()
        for version in ("1.0", "2.0"):
            result = runner.invoke(args=["docs", "publish", str(site), "--project", "payments", "--version", version,
                                         "--hub"])
            assert result.exit_code == 0, result.output
    return gunicorn_factory(bucket, {"DOCS_PROJECT_HOSTS": "{project}.localhost", "WEB_CONCURRENCY": "1"})


def test_banner_menu_and_search_work_on_the_projects_own_host(localhost_browser, server):
    context = localhost_browser.new_context(service_workers="block")
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    problems = []
    tab.on("requestfailed", lambda request: problems.append(f"failed {request.url}: {request.failure}"))
    tab.on("response", lambda response: response.status >= 400 and problems.append(f"{response.status} {response.url}"))
    origin = f"http://payments.localhost:{server.port}"

    tab.goto(f"{origin}/docs/payments/1.0/guide/install.html")
    expect(tab.locator('[data-docs-hub="banner"]')).to_contain_text("The stable version is 2.0")
    tab.locator('[data-docs-hub="menu"]').click()
    expect(tab.locator('[data-docs-hub="menu"] a')).to_have_count(2)
    tab.keyboard.press("Escape")
    tab.keyboard.press("/")
    tab.locator('[data-docs-hub="search"]').press_sequentially(SEARCH_WORD, delay=20)
    expect(tab.locator("#docs-hub-results [role=option]").first).to_have_attribute("aria-selected", "true")
    expect(tab.get_by_role("link", name="All projects")).to_have_attribute(
        "href", f"//localhost:{server.port}/_/search?q={SEARCH_WORD}")
    tab.wait_for_load_state("networkidle")  # leaving cancels what the page still fetches: no fault of ours
    tab.keyboard.press("Enter")

    tab.wait_for_url(f"{origin}/docs/payments/1.0/guide/usage.html#*")
    assert problems == []
    context.close()
