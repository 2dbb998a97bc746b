"""Over real HTTP: `flask docs publish` into moto's server, gunicorn serving, search followed to the heading.

Also in headless Chromium: type in the landing page's search box, follow a result, land on the heading.
"""

import os
import shutil
import subprocess
import sys
import time
import uuid
from urllib.parse import urlsplit

import pytest
import requests

from tests.servers import TIMEOUT_MS
from tests.search.conftest import write_site
from tests.servers import FAKE_CREDENTIALS, ROOT

PORTAL_TTL = 1.0


def publish(moto_server, bucket, source, project, version):
    """Run `flask docs publish SOURCE --project P --version V` against the moto server."""
    env = {**os.environ, **FAKE_CREDENTIALS, "S3_BUCKET": bucket, "S3_ENDPOINT_URL": moto_server,
           "S3_ADDRESSING_STYLE": "path"}
    env.pop("AWS_PROFILE", None)
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "docs", "publish", str(source), "--project", project,
         "--version", version],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def server_env(bucket):
    """Return the settings of the test servers: a short portal TTL, one worker (so one index to follow)."""
    return {"DOCS_PORTAL_TTL": str(PORTAL_TTL), "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "4"}


@pytest.fixture(scope="module")
def published(moto_server, server_s3, built_sites):
    """A bucket with the real Sphinx site as project `sphinx` 1.0 and the MkDocs site as `mkdocs` 2.0."""
    bucket = f"search-{uuid.uuid4().hex[:12]}"
    server_s3.create_bucket(Bucket=bucket)
    publish(moto_server, bucket, built_sites["sphinx"], "sphinx", "1.0")
    publish(moto_server, bucket, built_sites["mkdocs"], "mkdocs", "2.0")
    return bucket


@pytest.fixture(scope="module")
def docs_server(published, moto_server, tmp_path_factory):
    from tests.servers import Gunicorn

    env = {"S3_BUCKET": published, "S3_ENDPOINT_URL": moto_server, "S3_ADDRESSING_STYLE": "path",
           **server_env(published)}
    server = Gunicorn(env, log_path=tmp_path_factory.mktemp("search-gunicorn") / "gunicorn.log")
    yield server
    server.stop()


@pytest.mark.parametrize(("phrase", "url", "element_id"), [
    ("quokka threshold", "/docs/sphinx/1.0/guide/advanced/#tuning-the-worker-pool", "tuning-the-worker-pool"),
    ("marmalade rollback", "/docs/mkdocs/2.0/guide/install/#upgrading-from-an-older-release",
     "upgrading-from-an-older-release"),
])
def test_a_phrase_from_each_published_project_is_found_at_its_heading(docs_server, phrase, url, element_id):
    answer = requests.get(f"{docs_server.url}/_/api/search", params={"q": phrase}, timeout=30).json()

    assert [hit["url"] for hit in answer["results"]] == [url]
    page = requests.get(docs_server.url + url.split("#")[0], timeout=10)
    assert page.status_code == 200
    assert f'id="{element_id}"' in page.text


def test_a_new_default_version_is_followed_within_the_portal_ttl(moto_server, server_s3, gunicorn_factory, tmp_path):
    bucket = f"search-{uuid.uuid4().hex[:12]}"
    server_s3.create_bucket(Bucket=bucket)
    publish(moto_server, bucket, write_site(tmp_path / "1", {"index.html": ("Home", [("z", "Zebu", "zebu one")])}),
            "herd", "1.0")
    server = gunicorn_factory(bucket, env=server_env(bucket))
    search = lambda: requests.get(f"{server.url}/_/api/search", params={"q": "zebu"}, timeout=30).json()  # noqa: E731
    assert [hit["version"] for hit in search()["results"]] == ["1.0"]

    publish(moto_server, bucket, write_site(tmp_path / "2", {"index.html": ("Home", [("z", "Zebu", "zebu two")])}),
            "herd", "1.1")
    published = time.monotonic()
    versions = []
    while time.monotonic() - published < PORTAL_TTL + 10:
        versions = [hit["version"] for hit in search()["results"]]
        if versions == ["1.1"]:
            break
        time.sleep(0.1)
    followed = time.monotonic() - published

    assert versions == ["1.1"]
    # The TTL, plus the one request that starts the rebuild and the few that run while it builds.
    assert followed < PORTAL_TTL + 3, f"followed after {followed:.1f} s"


@pytest.mark.browser
def test_typing_in_the_landing_page_search_box_and_following_a_result_lands_on_the_heading(
        browser, docs_server, tmp_path_factory):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    problems = []
    context.on("response", lambda response: response.status >= 400 and problems.append(f"{response.status} {response.url}"))
    page = context.new_page()
    try:
        page.goto(f"{docs_server.url}/docs/")
        box = page.locator("form.docs-search-box input[name=q]")
        box.press_sequentially("quokka threshold")
        with page.expect_navigation():
            box.press("Enter")
        results = page.locator("ol.results a.hit")
        results.first.wait_for()
        shots = tmp_path_factory.mktemp("search-screens")
        page.screenshot(path=str(shots / "search-results.png"), full_page=True)
        if os.environ.get("DOCS_SCREENSHOT_DIR"):
            shutil.copyfile(shots / "search-results.png", os.path.join(os.environ["DOCS_SCREENSHOT_DIR"], "search-results.png"))

        assert results.count() == 1
        assert results.first.inner_text() == "Advanced topics › Tuning the worker pool"
        with page.expect_navigation():
            results.first.click()
        page.wait_for_load_state("load")

        location = urlsplit(page.url)
        assert (location.path, location.fragment) == ("/docs/sphinx/1.0/guide/advanced/", "tuning-the-worker-pool")
        heading = page.locator("#tuning-the-worker-pool h2")
        assert heading.inner_text().startswith("Tuning the worker pool")
        top = heading.evaluate("element => element.getBoundingClientRect().top")
        assert 0 <= top < 200, f"the heading is at {top}px from the top of the viewport"
        assert problems == []
    finally:
        context.close()


def test_readers_cycling_through_projects_over_http_run_one_build_at_a_time(moto_server, server_s3, gunicorn_factory, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from app.portal.index import record_version, update_index
    from app.publishing.run import PublishOptions, publish_tree
    from app.search.publish import SearchIndexer

    bucket = f"search-cycle-{uuid.uuid4().hex[:8]}"
    server_s3.create_bucket(Bucket=bucket)
    site = write_site(tmp_path / "site", {"index.html": ("Hello", [("", "", "hello world of docs")])})
    projects = [f"p{n}" for n in range(5)]
    for project in projects:
        for version in ("1.0", "2.0"):
            report = publish_tree(server_s3, bucket, str(site), f"{project}/{version}/", PublishOptions(jobs=2, indexers=(SearchIndexer(),)))
            assert report.ok
            update_index(server_s3, bucket, "", record_version(project, version, {}, {"size": 1, "files": 1}))
    server = gunicorn_factory(bucket, env={"DOCS_SEARCH_PROJECT_INDEXES": "1", "DOCS_SEARCH_BUILDS": "1",
                                           "DOCS_SEARCH_BUILD_WAIT": "0.2", "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "8"})

    def search(project):
        response = requests.get(f"{server.url}/_/api/search", params={"q": "hello", "project": project, "version": "all"}, timeout=30)
        return response.status_code, response.headers.get("Retry-After")

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(search, projects * 6))
    assert {status for status, _ in answers} <= {200, 503}
    assert all(retry == "5" for status, retry in answers if status == 503)

    in_flight = peak = 0
    for line in server.log().splitlines():
        if "search: building the index for project/" in line:
            in_flight += 1
            peak = max(peak, in_flight)
        elif "search: index for project/" in line:
            in_flight -= 1
    assert peak == 1
