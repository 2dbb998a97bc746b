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


def worker_pids(server):
    """Return the pids of a gunicorn server's workers (the master's children)."""
    pid = server.process.pid
    with open(f"/proc/{pid}/task/{pid}/children") as children:
        return {int(child) for child in children.read().split()}


def answers_from_every_worker(server, query, expected_versions, workers=3, seconds=30):
    """Search until each of the ``workers`` workers has answered with ``expected_versions``; return their pids."""
    since = len(server.log())
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        # A new connection per request: the workers take turns accepting them.
        answer = requests.get(f"{server.url}/_/api/search", params={"q": query}, timeout=30,
                              headers={"Connection": "close"}).json()
        versions = [hit["version"] for hit in answer["results"]]
        if versions != expected_versions:
            since = len(server.log())  # only answers with the expected versions count
        log = server.log()[since:]
        answered = {int(line.split("pid=")[1].split()[0].strip("<>")) for line in log.splitlines()
                    if "/_/api/search" in line and '" 200 ' in line and "pid=" in line}
        running = worker_pids(server)
        if versions == expected_versions and len(running) == workers and running <= answered:
            return running
        time.sleep(0.05)
    raise AssertionError(f"not every worker answered {expected_versions}: {server.log()[-3000:]}")


def worker_children(server):
    """Return the processes the server's workers started (its index builders), with their states."""
    found = {}
    for worker in worker_pids(server):
        for task in os.listdir(f"/proc/{worker}/task"):
            with open(f"/proc/{worker}/task/{task}/children") as children:
                for child in children.read().split():
                    with open(f"/proc/{child}/stat") as stat:
                        found[int(child)] = stat.read().rsplit(")", 1)[1].split()[0]
    return found


def no_builder_left(server, seconds=10):
    """Wait until no worker has a child process (every builder exited and was reaped, none a zombie)."""
    deadline = time.monotonic() + seconds
    while worker_children(server) and time.monotonic() < deadline:
        time.sleep(0.05)
    return worker_children(server) == {}


@pytest.mark.parametrize("engine", ["gevent", "gthread"])
def test_several_workers_share_one_host_index_built_once_by_a_builder_process_and_swapped_on_a_new_default(
        moto_server, server_s3, gunicorn_factory, tmp_path, engine):
    bucket = f"search-{uuid.uuid4().hex[:12]}"
    server_s3.create_bucket(Bucket=bucket)
    publish(moto_server, bucket, write_site(tmp_path / "1", {"index.html": ("Home", [("g", "Gaur", "gaur one")])}),
            "herd", "1.0")
    index_dir = tmp_path / "host-index"
    server = gunicorn_factory(bucket, env={**server_env(bucket), "WEB_CONCURRENCY": "3", "GUNICORN_WORKER_CLASS": engine,
                                           "DOCS_SEARCH_INDEX_DIR": str(index_dir)})

    workers = answers_from_every_worker(server, "gaur", ["1.0"])

    assert len(workers) == 3
    built = [line for line in server.log().splitlines() if "search: host index built" in line]
    assert len(built) == 1
    # Logged by the builder, a process of its own: no worker built it.
    assert not any(f"[{pid}]" in built[0] for pid in workers)
    assert sorted(os.listdir(index_dir)) == ["search.lock", "search.sqlite"]
    assert no_builder_left(server)

    publish(moto_server, bucket, write_site(tmp_path / "2", {"index.html": ("Home", [("g", "Gaur", "gaur two")])}),
            "herd", "1.1")
    answers_from_every_worker(server, "gaur", ["1.1"])

    assert server.log().count("search: host index built") == 2
    assert sorted(os.listdir(index_dir)) == ["search.lock", "search.sqlite"]
    assert no_builder_left(server)
    assert worker_pids(server) == workers


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


def test_readers_cycling_through_projects_over_http_make_one_host_build(moto_server, server_s3, gunicorn_factory, tmp_path):
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
    server = gunicorn_factory(bucket, env={"DOCS_SEARCH_BUILD_WAIT": "0.2", "WEB_CONCURRENCY": "2",
                                           "GUNICORN_THREADS": "8"})

    def search(project):
        response = requests.get(f"{server.url}/_/api/search", params={"q": "hello", "project": project, "version": "all"}, timeout=30)
        return response.status_code, response.headers.get("Retry-After")

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(search, projects * 6))
    assert {status for status, _ in answers} <= {200, 503}
    assert all(retry == "5" for status, retry in answers if status == 503)

    # Issue 19 made readers cycling through projects cost a build per search; the host index holds
    # every version of every project: one build for the host, whatever the scopes asked for.
    assert server.log().count("search: host index built") == 1
    assert search(projects[0])[0] == 200
