"""``make run``: its local S3 bucket (moto on 127.0.0.1) of sample projects kept between runs, SRC=, make publish."""

import gzip
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import boto3
import pytest
import requests
from botocore.config import Config

from tests.servers import ROOT, free_port, wait_for_port

# Every test here starts `python -m app.devserver` in a subprocess.
pytestmark = pytest.mark.usefixtures("real_server")

SAMPLE_ASSETS = {
    "": "text/html; charset=utf-8",
    "guide/": "text/html; charset=utf-8",
    "guide/install.html": "text/html; charset=utf-8",
    "guide/advanced/": "text/html; charset=utf-8",
    "_static/docs.css": "text/css; charset=utf-8",
    "_static/docs.js": "text/javascript; charset=utf-8",
    "_static/logo.png": "image/png",
    "files/handbook.pdf": "application/pdf",
}
SAMPLE = "/docs/sample/1.0/"


class MakeRun:
    """``python -m app.devserver`` as ``make run`` starts it, on free ports, keeping its data in ``data``."""

    def __init__(self, data, *args, s3_port=0, ready=None, **settings):
        self.port = free_port()
        self.ready = ready
        self.s3_port = s3_port
        self.data = data
        env = devserver_env(DOCS_BIND=f"127.0.0.1:{self.port}", WEB_CONCURRENCY="1",
                            DOCS_EMBEDDED_S3_PORT=str(s3_port), DOCS_EMBEDDED_DATA=str(data), **settings)
        self.process = subprocess.Popen([sys.executable, "-m", "app.devserver", *args], cwd=ROOT, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}"
        self.lines = []
        self.answered_at_banner = None
        try:
            self.wait_for_banner()
        except Exception:
            self.stop()
            raise

    def wait_for_banner(self, timeout=120):
        """Read make run's output until it prints the URL to open; check the URL answers at that moment."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("make run exited before printing its URL:\n" + "".join(self.lines))
            self.lines.append(line)
            if line.startswith(self.ready or f"docs-proxy: open {self.url}/docs/"):
                try:
                    self.answered_at_banner = requests.get(f"{self.url}/docs/", timeout=5).status_code
                except requests.ConnectionError:
                    self.answered_at_banner = "refused"
                # Keep draining the output, so gunicorn never blocks on a full pipe.
                threading.Thread(target=self.drain, daemon=True).start()
                return
        raise RuntimeError("make run printed no URL in time:\n" + "".join(self.lines))

    def drain(self):
        for line in self.process.stdout:
            self.lines.append(line)

    def output(self):
        """Return everything make run printed so far."""
        return "".join(self.lines)

    log = output  # what the browser tests' Visitor reads when a page fails

    def stop(self):
        """Stop it as Ctrl-C does; return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                # Its gunicorn and S3 server too, not only make run's own process.
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """``make run`` with no S3_BUCKET, its data in a fresh folder."""
    server = MakeRun(tmp_path_factory.mktemp("make-run-data"))
    yield server
    server.stop()


def test_make_run_prints_the_url_only_once_it_answers_and_names_its_address(embedded):
    assert embedded.answered_at_banner == 200
    output = embedded.output()
    assert output.count(f"docs-proxy: open {embedded.url}/docs/") == 1
    assert f"Listening at: {embedded.url} (" in output
    assert "Listening at:  (" not in output


def test_docs_is_the_portal_of_the_sample_projects_with_the_sample_site_among_them(embedded):
    landing = requests.get(f"{embedded.url}/docs/", timeout=10)
    assert landing.status_code == 200 and "docs<span>/</span>portal" in landing.text
    projects = requests.get(f"{embedded.url}/_/api/projects", timeout=10).json()["projects"]
    assert {project["name"] for project in projects} == {"sample", "payments", "ledger", "handbook"}
    assert 'href="/_/projects/sample"' in landing.text


@pytest.mark.parametrize("path, content_type", SAMPLE_ASSETS.items())
def test_every_sample_page_and_asset_is_served_with_its_type(embedded, path, content_type):
    response = requests.get(f"{embedded.url}{SAMPLE}{path}", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert len(response.content) > 0


def test_sample_pages_link_only_to_assets_that_exist(embedded):
    for page in ("", "guide/", "guide/install.html", "guide/advanced/", "404.html"):
        html = requests.get(f"{embedded.url}{SAMPLE}{page}", timeout=10).text
        for link in re.findall(r'(?:href|src)="([^"#]+)"', html):
            target = requests.compat.urljoin(f"{embedded.url}{SAMPLE}{page}", link)
            if target.endswith("/missing.html"):
                continue  # the sample's link to its own 404 page
            assert requests.get(target, timeout=10).status_code == 200, f"{page} links to missing {link}"


def test_sample_gzip_asset_is_stored_encoded_and_relayed_untouched(embedded):
    response = requests.get(f"{embedded.url}{SAMPLE}_static/theme.css", stream=True, timeout=10)
    raw = response.raw.read(decode_content=False)
    assert response.headers["Content-Encoding"] == "gzip"
    assert b"#js-status" in gzip.decompress(raw)


def test_sample_directory_without_slash_redirects(embedded):
    response = requests.get(f"{embedded.url}{SAMPLE}guide", allow_redirects=False, timeout=10)
    assert response.status_code == 301
    assert response.headers["Location"] == "./guide/"


def test_publishs_own_checksum_never_reaches_a_browser(embedded):
    head = local_s3(embedded).head_object(Bucket="docs-local", Key="sample/1.0/index.html")
    assert head["Metadata"].get("sha256")  # publish's record is there, in S3 ...
    response = requests.get(f"{embedded.url}{SAMPLE}", timeout=10)
    assert "x-amz-meta-sha256" not in response.headers  # ... and stays there


def test_sample_projects_are_in_the_portal_in_several_versions(embedded):
    projects = requests.get(f"{embedded.url}/_/api/projects", timeout=10).json()["projects"]
    assert all(project["version_count"] >= 2 for project in projects if project["name"] != "sample")
    page = requests.get(f"{embedded.url}/docs/payments/stable/guide/refunds.html", timeout=10)
    assert page.url.endswith("/docs/payments/2.0.0/guide/refunds.html")
    assert "<h1>Refunds</h1>" in page.text and "Partial refunds are allowed" in page.text


@pytest.mark.parametrize("query, url", [
    ("partial refunds", "/docs/payments/2.0.0/guide/refunds.html"),
    ("trailing slash", "/docs/sample/1.0/"),
])
def test_sample_projects_and_the_sample_site_are_searchable(embedded, query, url):
    answer = requests.get(f"{embedded.url}/_/api/search", params={"q": query}, timeout=30).json()
    assert any(hit["url"].startswith(url) for hit in answer["results"]), answer
    assert answer["unsearchable"] == []


def test_a_missing_sample_page_shows_the_sites_own_404_and_a_missing_project_page_the_portal_one(embedded):
    browser = {"Accept": "text/html"}
    own = requests.get(f"{embedded.url}{SAMPLE}guide/missing.html", headers=browser, timeout=10)
    assert own.status_code == 404 and "sample site's own <code>404.html</code>" in own.text
    portal = requests.get(f"{embedded.url}/docs/payments/2.0.0/guide/refundz.html", headers=browser, timeout=30)
    assert portal.status_code == 404 and "Page not found" in portal.text


@pytest.mark.parametrize("path, accept", [
    (f"{SAMPLE}guide/missing.html", "text/html"),
    ("/docs/payments/2.0.0/guide/refundz.html", "text/html"),
    ("/docs/payments/2.0.0/guide/refundz.html", "*/*"),
    ("/docs/nothing-here.html", "text/html"),
], ids=["own 404.html", "portal-look 404", "S3's XML", "outside any project"])
def test_head_and_get_of_a_missing_page_agree_over_http(embedded, path, accept):
    get = requests.get(embedded.url + path, headers={"Accept": accept}, timeout=30)
    head = requests.head(embedded.url + path, headers={"Accept": accept}, timeout=30)
    assert get.status_code == 404
    assert (head.status_code, head.headers["Content-Type"], int(head.headers["Content-Length"])) == (
        get.status_code, get.headers["Content-Type"], len(get.content))


def test_ctrl_c_stops_everything(embedded):
    assert embedded.stop() == 0
    time.sleep(0.2)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{embedded.url}/docs/", timeout=2)


def local_s3(server):
    """Return a client for a make run's local endpoint (its banner says where it is), with its fixed credentials."""
    endpoint = re.search(r"serving the local bucket docs-local at (http://\S+) ", server.output()).group(1)
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="docs-local",
                        aws_secret_access_key="docs-local-secret", config=Config(s3={"addressing_style": "path"}))


def devserver_env(**settings):
    """The environment ``make run`` would see with only ``settings`` configured."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "DOCS_", "AWS_", "GUNICORN_", "WEB_"))}
    env.update(settings)
    return env


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"S3_BUCKET": "acme-docs", "GUNICORN_THREADS": "abc"}, "GUNICORN_THREADS='abc' is not an integer"),
        ({"S3_BUCKET": "acme-docs", "WEB_CONCURRENCY": "abc"}, "WEB_CONCURRENCY='abc' is not an integer"),
        ({"S3_MAX_ATTEMPTS": "0"}, "S3_MAX_ATTEMPTS='0' is out of range"),
    ],
)
def test_a_bad_setting_stops_make_run_before_any_banner(settings, message):
    env = devserver_env(DOCS_BIND=f"127.0.0.1:{free_port()}", **settings)
    result = subprocess.run([sys.executable, "-m", "app.devserver"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr


def open_and_close_connections(port, until):
    """Open a connection, send a request head, and hang up, over and over until ``until`` (monotonic)."""
    while time.monotonic() < until:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET /docs/ HTTP/1.1\r\nHost: docs\r\n\r\n")
        except OSError:
            if time.monotonic() < until:
                time.sleep(0.01)


@pytest.mark.slow
def test_ctrl_c_on_make_run_stops_it_in_seconds_every_time(tmp_path):
    # A terminal's Ctrl-C signals the whole process group: devserver, gunicorn's master and workers.
    for attempt in range(3):
        port = free_port()
        log_path = tmp_path / f"devserver-{attempt}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen([sys.executable, "-m", "app.devserver"], cwd=ROOT, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True,
                                       env=devserver_env(DOCS_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="2",
                                                         DOCS_EMBEDDED_S3_PORT="0",
                                                         DOCS_EMBEDDED_DATA=str(tmp_path / "data")))
        try:
            wait_for_port(port, timeout=60, process=process)
            assert requests.get(f"http://127.0.0.1:{port}/docs/", timeout=10).status_code == 200
            # Connections opening and closing as Ctrl-C lands: the worker's main loop is handing them to
            # its thread pool, inside the lock that gthread's own SIGQUIT handler used to wait on forever.
            churn = threading.Thread(target=open_and_close_connections, args=(port, time.monotonic() + 5), daemon=True)
            churn.start()
            time.sleep(0.3)
            started = time.monotonic()
            os.killpg(process.pid, signal.SIGINT)
            returncode = process.wait(30)
            stopped_after = time.monotonic() - started
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log = log_path.read_text()
        assert returncode == 0, log
        assert "SIGKILL" not in log
        assert stopped_after < 15, f"attempt {attempt}: {stopped_after:.1f} s"


@pytest.fixture
def local_build(tmp_path):
    """A small built site, as a docs generator leaves it in build/html."""
    site = tmp_path / "build" / "html"
    (site / "_static").mkdir(parents=True)
    (site / "api").mkdir()
    (site / "index.html").write_text('<link rel="stylesheet" href="_static/site.css"><title>My build</title>'
                                     "<h1>My build</h1><p>Quokkas are the happiest marsupials.</p>")
    (site / "_static" / "site.css").write_text("h1 { color: teal }")
    (site / "api" / "index.html").write_text("<h1>API</h1>")
    return site


def test_make_run_with_src_publishes_that_build_as_a_project_version_beside_the_samples(local_build, tmp_path):
    server = MakeRun(tmp_path / "data", "--src", str(local_build))
    try:
        url = f"{server.url}/docs/preview/1.0/"
        page = requests.get(url, timeout=10)
        assert page.status_code == 200
        # The build's page, with the hub's tag block in front (published with --hub, docs/hub.md).
        assert page.text.endswith((local_build / "index.html").read_text())
        assert '<meta name="docs-hub-project" content="preview">' in page.text
        css = requests.get(url + "_static/site.css", timeout=10)
        assert (css.status_code, css.headers["Content-Type"]) == (200, "text/css; charset=utf-8")
        api = requests.get(url + "api", timeout=10)
        assert (api.url, api.text.endswith("<h1>API</h1>")) == (url + "api/", True)
        assert requests.get(f"{server.url}/docs/preview/latest/", timeout=10).url == url
        names = {project["name"] for project in requests.get(f"{server.url}/_/api/projects", timeout=10).json()["projects"]}
        assert {"preview", "sample", "payments"} <= names
        answer = requests.get(f"{server.url}/_/api/search", params={"q": "quokkas"}, timeout=30).json()
        assert [hit["url"] for hit in answer["results"]] == ["/docs/preview/1.0/"]
        assert f"docs-proxy: your build in {local_build} is preview 1.0: open {url}" in server.output()
    finally:
        server.stop()


def test_the_local_bucket_keeps_a_make_publish_between_runs_until_make_reset(local_build, tmp_path):
    data = tmp_path / "data"
    s3_port = free_port()
    env = devserver_env(DOCS_EMBEDDED_S3_PORT=str(s3_port), DOCS_EMBEDDED_DATA=str(data))
    publish = [sys.executable, "-m", "app.devserver", "--publish", str(local_build), "--project", "mine"]
    # Nothing running: make publish starts the local endpoint itself, publishes, saves, stops.
    first = subprocess.run([*publish, "--version", "1.0"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    server = MakeRun(data, s3_port=s3_port, DOCS_PORTAL_TTL="1")
    try:
        assert requests.get(f"{server.url}/docs/mine/1.0/", timeout=10).status_code == 200
        assert "restored from" in server.output()
        # make run running: make publish publishes into it, and the portal shows it within its TTL.
        second = subprocess.run([*publish, "--version", "2.0"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert second.returncode == 0, second.stdout + second.stderr
        assert "publishing into make run's local bucket" in second.stdout
        time.sleep(1.5)
        assert requests.get(f"{server.url}/docs/mine/latest/", timeout=10).url == f"{server.url}/docs/mine/2.0/"
    finally:
        assert server.stop() == 0
    again = MakeRun(data)
    try:
        assert requests.get(f"{again.url}/docs/mine/2.0/", timeout=10).status_code == 200
    finally:
        again.stop()
    reset = subprocess.run(["make", "--no-print-directory", "reset", f"DOCS_EMBEDDED_DATA={data}"], cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    assert reset.returncode == 0 and not data.exists()


@pytest.mark.parametrize(
    "settings, src, message",
    [
        ({}, "does/not/exist", "docs-proxy: SRC=does/not/exist is not a folder"),
        ({"S3_BUCKET": "acme-docs"}, ".", "docs-proxy: SRC publishes a build into make run's local bucket; unset S3_BUCKET"),
    ],
)
def test_make_run_with_a_bad_src_says_why_and_exits_2(settings, src, message):
    env = devserver_env(DOCS_BIND=f"127.0.0.1:{free_port()}", **settings)
    result = subprocess.run([sys.executable, "-m", "app.devserver", "--src", src], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout) == (2, "")
    assert message in result.stderr


def test_make_run_with_an_empty_src_folder_says_so(tmp_path):
    env = devserver_env(DOCS_BIND=f"127.0.0.1:{free_port()}", DOCS_EMBEDDED_S3_PORT="0",
                        DOCS_EMBEDDED_DATA=str(tmp_path / "data"))
    (tmp_path / "empty").mkdir()
    result = subprocess.run([sys.executable, "-m", "app.devserver", "--src", str(tmp_path / "empty")], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "is empty" in result.stderr or "no files" in result.stderr.lower(), result.stderr
    assert "Traceback" not in result.stderr


def test_make_publish_without_project_and_version_says_how(tmp_path):
    result = subprocess.run([sys.executable, "-m", "app.devserver", "--publish", str(tmp_path)], cwd=ROOT,
                            env=devserver_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "make publish needs PROJECT= and VERSION=" in result.stderr


def test_plain_make_lists_the_targets_instead_of_building_anything():
    result = subprocess.run(["make", "--no-print-directory"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.splitlines()[0].startswith("help: ")
    for target in ("run: ", "run SRC=", "publish SRC=", "reset: ", "test: "):
        assert any(line.startswith(target) for line in result.stdout.splitlines()), target


def test_make_run_with_project_hosts_serves_each_sample_project_at_its_own_localhost_name(tmp_path):
    server = MakeRun(tmp_path / "data", DOCS_PROJECT_HOSTS="{project}.localhost", ready="docs-proxy: each project at its own host")
    port = server.port
    try:
        banner = server.output()
        assert f"the portal of sample projects is at http://localhost:{port}/_/" in banner
        assert f"payments at http://payments.localhost:{port}/docs/payments/" in banner
        assert f"the sample site at http://sample.localhost:{port}/docs/sample/" in banner

        def get(host, path):
            return requests.get(f"http://127.0.0.1:{port}{path}", headers={"Host": f"{host}:{port}"},
                                allow_redirects=False, timeout=10)

        portal = get("localhost", "/_/")
        assert portal.status_code == 200 and f'href="//payments.localhost:{port}/docs/payments/"' in portal.text
        assert get("localhost", "/docs/payments/").headers["Location"] == f"//payments.localhost:{port}/docs/payments/"
        assert get("payments.localhost", "/docs/payments/").headers["Location"] == "/docs/payments/2.0.0/"
        assert get("payments.localhost", "/docs/payments/2.0.0/").status_code == 200
        assert get("sample.localhost", "/docs/sample/1.0/").status_code == 200
    finally:
        assert server.stop() == 0  # as Ctrl-C: gunicorn and the local endpoint stop with it
