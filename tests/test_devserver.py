"""``make run``'s embedded mode: moto on 127.0.0.1, the sample site published, gunicorn serving it."""

import gzip
import os
import signal
import subprocess
import sys
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
