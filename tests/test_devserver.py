"""``make run``'s embedded mode: moto on 127.0.0.1, the sample site published, gunicorn serving it."""

import gzip
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from tests.servers import ROOT, free_port, wait_for_port

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


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """``python -m app.devserver`` with no S3_BUCKET, as ``make run`` starts it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "DOCS_", "AWS_"))}
    env.update(DOCS_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="1")
    log_path = tmp_path_factory.mktemp("devserver") / "devserver.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "app.devserver"], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, timeout=60, process=process)
        yield f"http://127.0.0.1:{port}", process, log_path
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_embedded_mode_prints_the_url_to_open(embedded):
    url, _, log_path = embedded
    assert f"docs-proxy: open {url}/docs/" in log_path.read_text()


@pytest.mark.parametrize("path, content_type", SAMPLE_ASSETS.items())
def test_every_sample_page_and_asset_is_served_with_its_type(embedded, path, content_type):
    url, _, _ = embedded
    response = requests.get(f"{url}/docs/{path}", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert len(response.content) > 0


def test_sample_pages_link_only_to_assets_that_exist(embedded):
    import re

    url, _, _ = embedded
    for page in ("", "guide/", "guide/install.html", "guide/advanced/"):
        html = requests.get(f"{url}/docs/{page}", timeout=10).text
        for link in re.findall(r'(?:href|src)="([^"#]+)"', html):
            target = requests.compat.urljoin(f"{url}/docs/{page}", link)
            assert requests.get(target, timeout=10).status_code == 200, f"{page} links to missing {link}"


def test_sample_gzip_asset_is_stored_encoded_and_relayed_untouched(embedded):
    url, _, _ = embedded
    response = requests.get(f"{url}/docs/_static/theme.css", stream=True, timeout=10)
    raw = response.raw.read(decode_content=False)
    assert response.headers["Content-Encoding"] == "gzip"
    assert b"#js-status" in gzip.decompress(raw)


def test_sample_directory_without_slash_redirects(embedded):
    url, _, _ = embedded
    response = requests.get(f"{url}/docs/guide", allow_redirects=False, timeout=10)
    assert response.status_code == 301
    assert response.headers["Location"] == "./guide/"


def test_sample_projects_are_in_the_portal_in_several_versions(embedded):
    url, _, _ = embedded
    projects = requests.get(f"{url}/_/api/projects", timeout=10).json()["projects"]
    assert {project["name"] for project in projects} >= {"payments", "ledger", "handbook"}
    assert all(project["version_count"] >= 2 for project in projects)
    page = requests.get(f"{url}/docs/payments/stable/guide/refunds.html", timeout=10)
    assert page.url.endswith("/docs/payments/2.0.0/guide/refunds.html")
    assert "<h1>Refunds</h1>" in page.text and "Partial refunds are allowed" in page.text


def test_sample_projects_are_searchable(embedded):
    url, _, _ = embedded
    answer = requests.get(f"{url}/_/api/search", params={"q": "partial refunds"}, timeout=30).json()
    assert any(hit["url"].startswith("/docs/payments/2.0.0/guide/refunds.html") for hit in answer["results"])


def test_ctrl_c_stops_everything(embedded):
    url, process, _ = embedded
    process.send_signal(signal.SIGINT)
    assert process.wait(30) == 0
    time.sleep(0.2)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/docs/", timeout=2)


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
                                       env=devserver_env(DOCS_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="2"))
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
    (site / "index.html").write_text('<link rel="stylesheet" href="_static/site.css"><h1>My build</h1>')
    (site / "_static" / "site.css").write_text("h1 { color: teal }")
    (site / "api" / "index.html").write_text("<h1>API</h1>")
    return site


def test_make_run_with_src_previews_that_build_instead_of_the_sample(local_build):
    port = free_port()
    env = devserver_env(DOCS_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="1")
    process = subprocess.Popen([sys.executable, "-m", "app.devserver", "--src", str(local_build)], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, timeout=60, process=process)
        url = f"http://127.0.0.1:{port}/docs/"
        page = requests.get(url, timeout=10)
        assert (page.status_code, page.text) == (200, (local_build / "index.html").read_text())
        css = requests.get(url + "_static/site.css", timeout=10)
        assert (css.status_code, css.headers["Content-Type"]) == (200, "text/css; charset=utf-8")
        api = requests.get(url + "api", timeout=10)
        assert (api.url, api.text) == (url + "api/", "<h1>API</h1>")
        assert requests.get(url + "guide/", timeout=10).status_code == 404  # the sample is not there
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=30)[0].decode()
    assert f"docs-proxy: serving your build in {local_build}" in output
    assert f"docs-proxy: open http://127.0.0.1:{port}/docs/" in output


@pytest.mark.parametrize(
    "settings, src, message",
    [
        ({}, "does/not/exist", "docs-proxy: SRC=does/not/exist is not a folder"),
        ({"S3_BUCKET": "acme-docs"}, ".", "docs-proxy: SRC previews a build on the embedded S3 endpoint; unset S3_BUCKET"),
        ({"DOCS_PROJECT_HOSTS": "{project}.localhost"}, ".", "DOCS_PROJECT_HOSTS serves only projects"),
    ],
)
def test_make_run_with_a_bad_src_says_why_and_exits_2(settings, src, message):
    env = devserver_env(DOCS_BIND=f"127.0.0.1:{free_port()}", **settings)
    result = subprocess.run([sys.executable, "-m", "app.devserver", "--src", src], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout) == (2, "")
    assert message in result.stderr


def test_make_run_with_an_empty_src_folder_says_so(tmp_path):
    env = devserver_env(DOCS_BIND=f"127.0.0.1:{free_port()}")
    result = subprocess.run([sys.executable, "-m", "app.devserver", "--src", str(tmp_path)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"docs-proxy: cannot preview {tmp_path}: " in result.stderr
    assert "Traceback" not in result.stderr


def test_make_run_with_project_hosts_serves_each_sample_project_at_its_own_localhost_name(tmp_path):
    port = free_port()
    env = devserver_env(DOCS_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="1", DOCS_PROJECT_HOSTS="{project}.localhost")
    with open(tmp_path / "devserver.log", "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "app.devserver"], cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, timeout=60, process=process)
        banner = (tmp_path / "devserver.log").read_text()
        assert f"the portal of sample projects is at http://localhost:{port}/_/" in banner
        assert f"payments at http://payments.localhost:{port}/docs/payments/" in banner

        def get(host, path):
            return requests.get(f"http://127.0.0.1:{port}{path}", headers={"Host": f"{host}:{port}"},
                                allow_redirects=False, timeout=10)

        portal = get("localhost", "/_/")
        assert portal.status_code == 200 and f'href="//payments.localhost:{port}/docs/payments/"' in portal.text
        assert get("localhost", "/docs/payments/").headers["Location"] == f"//payments.localhost:{port}/docs/payments/"
        assert get("payments.localhost", "/docs/payments/").headers["Location"] == "/docs/payments/2.0.0/"
        assert get("payments.localhost", "/docs/payments/2.0.0/").status_code == 200
    finally:
        process.send_signal(signal.SIGINT)  # as Ctrl-C: gunicorn and the embedded endpoint stop with it
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
