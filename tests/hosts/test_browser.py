"""The attack the review made, repeated in headless Chromium: a page in an open project reads a restricted one
with the reader's sign-in. It succeeds on one shared origin and is refused with a host per project."""

import json
import uuid

import pytest

from app.portal.index import record_version, update_index
from tests.access.conftest import htpasswd_line
from tests.servers import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS

pytestmark = pytest.mark.browser

RULES = """\
default = "authenticated"
[[rule]]
path = "payments/"
users = ["alice"]
"""
SECRET = "PAYMENTS-SECRET-4711"

# Published into the open wiki by anyone who can publish there: it reads payments with whoever opens it.
ATTACK = """<!doctype html><title>wiki</title><p>Release notes</p>
<script>
(async () => {
  const port = location.port ? ":" + location.port : "";
  const attempts = {
    same_path: ["/docs/payments/1.0/", {}],
    cross_host: [location.protocol + "//payments.localhost" + port + "/docs/payments/1.0/", {credentials: "include"}],
    own_project: ["/docs/wiki/1.0/notes.html", {}],
    portal_api: ["/_/api/projects", {}],
  };
  const results = {};
  for (const [name, [url, options]] of Object.entries(attempts)) {
    try {
      const response = await fetch(url, options);
      results[name] = {status: response.status, body: await response.text()};
    } catch (error) {
      results[name] = {refused: String(error)};
    }
  }
  document.body.dataset.results = JSON.stringify(results);
  document.title = "done";
})();
</script>
"""


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
def bucket(server_s3):
    """A bucket with an open wiki holding the attacker's page and a payments project only alice may read."""
    name = f"hosts-{uuid.uuid4().hex[:12]}"
    server_s3.create_bucket(Bucket=name)
    html = {"ContentType": "text/html; charset=utf-8"}
    server_s3.put_object(Bucket=name, Key="wiki/1.0/attack.html", Body=ATTACK.encode(), **html)
    server_s3.put_object(Bucket=name, Key="wiki/1.0/notes.html", Body=b"<p>wiki notes</p>", **html)
    server_s3.put_object(Bucket=name, Key="payments/1.0/index.html", Body=f"<p>{SECRET}</p>".encode(), **html)
    # Listed in a portal index, as a publish lists them: the portal knows projects from its index only.
    for project in ("wiki", "payments"):
        update_index(server_s3, name, "", record_version(project, "1.0", {}, {}))
    return name


@pytest.fixture
def start(gunicorn_factory, bucket, tmp_path):
    """Start gunicorn with basic sign-in (alice) and the rules, plus ``env``; return it."""
    (tmp_path / "rules.toml").write_text(RULES)
    (tmp_path / "htpasswd").write_text(htpasswd_line("alice", "wonderland") + "\n")

    def start(**env):
        return gunicorn_factory(bucket, env={
            "DOCS_AUTH": "basic", "DOCS_AUTH_HTPASSWD": str(tmp_path / "htpasswd"),
            "DOCS_ACCESS_RULES": str(tmp_path / "rules.toml"), "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "4", **env,
        })

    return start


def open_as_alice(browser, url):
    """Open ``url`` in a fresh context signed in as alice; return the page's text and its attack results (if any)."""
    context = browser.new_context(http_credentials={"username": "alice", "password": "wonderland"},
                                  service_workers="block")
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        response = page.goto(url)
        assert response.status == 200, url
        if "attack" not in url:
            return page.inner_text("body"), None
        page.wait_for_function("document.title === 'done'")
        return page.inner_text("body"), json.loads(page.get_attribute("body", "data-results"))
    finally:
        context.close()


def test_on_one_shared_origin_a_page_of_the_open_wiki_reads_payments_with_alices_sign_in(localhost_browser, start):
    server = start()
    _, results = open_as_alice(localhost_browser, f"http://127.0.0.1:{server.port}/docs/wiki/1.0/attack.html")
    assert results["same_path"]["status"] == 200
    assert SECRET in results["same_path"]["body"]  # the attack works: this is what per-project hosts must stop
    assert "refused" in results["cross_host"]  # another host is another origin even here
    assert results["portal_api"]["status"] == 200 and '"payments"' in results["portal_api"]["body"]
    # Start-up said so: the rules treat payments differently, and every project shares one origin.
    assert "docs-proxy: warning: the access rules give projects different readers (payments)" in server.log()


def test_with_a_host_per_project_the_same_page_reads_nothing_of_payments(localhost_browser, start):
    server = start(DOCS_PROJECT_HOSTS="{project}.localhost")
    _, results = open_as_alice(localhost_browser, f"http://wiki.localhost:{server.port}/docs/wiki/1.0/attack.html")
    # The page runs and fetches its own project with alice's sign-in...
    assert results["own_project"] == {"status": 200, "body": "<p>wiki notes</p>"}
    # ...but payments is another origin now, whichever URL it tries, and sends no CORS header.
    assert "refused" in results["same_path"], results["same_path"]
    assert "refused" in results["cross_host"], results["cross_host"]
    assert "refused" in results["portal_api"], results["portal_api"]  # the portal and APIs: the main host's
    assert SECRET not in json.dumps(results)
    assert "warning: the access rules" not in server.log()
    # alice herself still reads payments, on its own host: the refusal is the origin's, not her rights'.
    text, _ = open_as_alice(localhost_browser, f"http://payments.localhost:{server.port}/docs/payments/1.0/")
    assert SECRET in text
    # and the main host sends her there.
    text, _ = open_as_alice(localhost_browser, f"http://localhost:{server.port}/docs/payments/1.0/")
    assert SECRET in text


def test_a_reader_goes_from_the_portal_to_a_projects_host_and_back(localhost_browser, start):
    server = start(DOCS_PROJECT_HOSTS="{project}.localhost")
    context = localhost_browser.new_context(http_credentials={"username": "alice", "password": "wonderland"},
                                            service_workers="block")
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"http://localhost:{server.port}/_/")
        page.click("a[href*='//payments.localhost']")
        page.wait_for_url(f"http://payments.localhost:{server.port}/docs/payments/**")
        assert SECRET in page.inner_text("body")
        page.goto(f"http://payments.localhost:{server.port}/docs/payments/9.9/")  # the portal's 404 page
        page.click("a.brand")
        page.wait_for_url(f"http://localhost:{server.port}/_/")
    finally:
        context.close()


@pytest.fixture
def hub_bucket(server_s3, moto_server, tmp_path, aws_credentials):
    """A bucket where payments 1.0 and 2.0 and wiki 1.0 were published with the hub, through the CLI."""
    from app import create_app

    name = f"hosts-hub-{uuid.uuid4().hex[:12]}"
    server_s3.create_bucket(Bucket=name)
    app = create_app({"S3_BUCKET": name, "S3_ENDPOINT_URL": moto_server, "S3_ADDRESSING_STYLE": "path",
                      "S3_REGION": "us-east-1"})
    runner = app.test_cli_runner()
    for project, version in (("payments", "1.0"), ("payments", "2.0"), ("wiki", "1.0")):
        source = tmp_path / f"{project}-{version}"
        source.mkdir()
        (source / "index.html").write_text(
            f"<!doctype html><html><head><title>{project} {version}</title></head><body>"
            f"<h1>{project} {version}</h1><section id='ledger'><h2>Ledger</h2><p>reconciliation of {project}</p>"
            "</section></body></html>")
        result = runner.invoke(args=["docs", "publish", str(source), "--project", project, "--version", version, "--hub"])
        assert result.exit_code == 0, result.output
    return name


def test_the_hub_works_on_a_projects_own_host_and_searches_that_project(localhost_browser, gunicorn_factory, hub_bucket):
    server = gunicorn_factory(hub_bucket, env={"DOCS_PROJECT_HOSTS": "{project}.localhost", "WEB_CONCURRENCY": "1",
                                               "GUNICORN_THREADS": "4"})
    context = localhost_browser.new_context(service_workers="block")
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        failed = []
        page.on("requestfailed", lambda request: failed.append(request.url))
        page.goto(f"http://payments.localhost:{server.port}/docs/payments/1.0/")
        # The context API answered on payments' own host: the banner of an old version and the menu show.
        banner = page.locator('[data-docs-hub="banner"]')
        banner.wait_for()
        assert "/docs/payments/2.0/" in banner.locator("a").first.get_attribute("href")
        page.keyboard.press("/")
        search = page.locator('[data-docs-hub="search"]')
        search.press_sequentially("reconciliation", delay=20)
        first = page.locator("#docs-hub-results [role=option]").first
        first.wait_for()
        assert page.locator("#docs-hub-results [role=option]").count() == 1  # this version of payments only
        assert page.locator("#docs-hub-all").count() == 0  # every project's search is the main host's
        assert "Search is unavailable" not in page.inner_text("body")
        assert failed == []
    finally:
        context.close()
