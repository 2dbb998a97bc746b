"""The portal over real HTTP: gunicorn serving the app against moto's S3 server, and 20 publishes at once."""

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from moto.s3.responses import S3Response

from app.portal.index import read_index, record_version, update_index
from app.publishing.run import PublishOptions, publish_tree

from tests.servers import raw_request, s3_client

VERSIONS = ["0.9", "1.9.0", "1.10.0", "2.0.0rc1", "2.0.0", "2.1.0-beta.1", "1.2.3-SNAPSHOT", "1.x", "main"]


@pytest.fixture
def bucket(server_s3):
    """A fresh bucket on the moto server."""
    name = f"portal-{uuid.uuid4().hex[:12]}"
    server_s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def atomic_conditional_writes(monkeypatch):
    """Make moto's conditional PUT atomic, as S3's is.

    moto checks If-Match and then writes in two steps with no lock, so two writers holding the same
    ETag can both succeed on its threaded server; S3 lets exactly one of them win. Without this, the
    test would measure moto's race instead of our retry.
    """
    lock = threading.Lock()
    original = S3Response.put_object

    def put_object(self):
        with lock:
            return original(self)

    monkeypatch.setattr(S3Response, "put_object", put_object)


def publish_version(s3, bucket, site, project, version, metadata=None):
    """Publish ``site`` to ``project/version/`` and list it, the two steps ``flask docs publish --project`` takes."""
    report = publish_tree(s3, bucket, site, f"{project}/{version}/", PublishOptions(jobs=2))
    assert report.ok, report.failed
    files = report.plan.uploads + report.plan.unchanged
    update_index(s3, bucket, "", record_version(project, version, metadata or {},
                                                {"size": sum(f.size for f in files), "files": len(files)}))


def test_twenty_concurrent_publishes_all_land_in_the_index(moto_server, bucket, site, atomic_conditional_writes):
    clients = [s3_client(moto_server) for _ in range(20)]
    jobs = [(clients[n], f"project-{n % 5}", f"1.{n}") for n in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        for future in [pool.submit(publish_version, s3, bucket, site, project, version) for s3, project, version in jobs]:
            future.result()
    document, _ = read_index(clients[0], bucket, "")
    listed = {(project, version) for project, entry in document["projects"].items() for version in entry["versions"]}
    assert listed == {(project, version) for _, project, version in jobs}


def get(server, path, method="GET"):
    """Send one request without following redirects."""
    return requests.request(method, server.url + path, allow_redirects=False, timeout=10)


def test_every_portal_url_over_http(server_s3, bucket, site, gunicorn_factory):
    for version in VERSIONS:
        publish_version(server_s3, bucket, site, "payments", version,
                        {"title": "Payments", "description": "Cards and wallets", "commit": "abc123"})
    server = gunicorn_factory(bucket, env={"DOCS_PORTAL_TTL": "1"})

    landing = get(server, "/docs/")
    assert landing.status_code == 200 and "Cards and wallets" in landing.text
    assert "Cards and wallets" not in get(server, "/docs/?q=ledger").text

    for method in ("GET", "HEAD"):
        for path, target in [
            ("/docs/payments/", "/docs/payments/2.0.0/"),
            ("/docs/payments/latest/guide/install.html?a=1&b=%20", "/docs/payments/2.1.0-beta.1/guide/install.html?a=1&b=%20"),
            ("/docs/payments/stable/guide/", "/docs/payments/2.0.0/guide/"),
            ("/docs/payments/1/", "/docs/payments/1.10.0/"),
            ("/docs/payments/1.9/guide/?x", "/docs/payments/1.9.0/guide/?x"),
            ("/docs/payments/0/", "/docs/payments/0.9/"),
            ("/_/switch/payments/1.9.0/guide/install.html", "/docs/payments/1.9.0/guide/install.html"),
            ("/_/switch/payments/1.9.0/guide/missing.html", "/docs/payments/1.9.0/guide/"),
            ("/_/switch/payments/8.8/guide/", "/docs/payments/"),
        ]:
            response = get(server, path, method)
            assert (response.status_code, response.headers.get("Location")) == (302, target), (method, path)
            assert response.headers["Cache-Control"] == "no-cache"

    followed = requests.get(server.url + "/docs/payments/latest/guide/install.html", timeout=10)
    assert followed.status_code == 200 and "Install" in followed.text
    assert followed.url == server.url + "/docs/payments/2.1.0-beta.1/guide/install.html"

    unknown = get(server, "/docs/payments/7.0/guide/")
    assert unknown.status_code == 404 and ">1.10.0</a>" in unknown.text

    versions = get(server, "/docs/payments/versions.json").json()
    assert versions[1] == {"version": "2.1.0-beta.1", "title": "2.1.0-beta.1", "aliases": ["latest"]}
    switcher = get(server, "/docs/payments/switcher.json").json()
    assert [entry["version"] for entry in switcher if entry.get("preferred")] == ["2.0.0"]
    assert switcher[2]["url"] == "/docs/payments/2.0.0/"

    project = get(server, "/_/projects/payments")
    assert project.status_code == 200 and "abc123" in project.text
    assert get(server, "/_/api/projects").json()["projects"][0]["default_version"] == "2.0.0"
    assert [v["name"] for v in get(server, "/_/api/projects/payments").json()["versions"]] == VERSIONS[::-1][:1] + [
        "2.1.0-beta.1", "2.0.0", "2.0.0rc1", "1.x", "1.10.0", "1.9.0", "1.2.3-SNAPSHOT", "0.9"]


def test_real_objects_named_like_portal_urls_are_served_byte_for_byte(server_s3, bucket, site, gunicorn_factory):
    publish_version(server_s3, bucket, site, "payments", "1.0")
    own_versions = b'[{"version":"1.0","title":"One","aliases":["handmade"]}]\n'
    own_latest = b"<!doctype html><p>a page someone put at latest/</p>"
    server_s3.put_object(Bucket=bucket, Key="payments/versions.json", Body=own_versions, ContentType="application/json")
    server_s3.put_object(Bucket=bucket, Key="payments/latest/index.html", Body=own_latest, ContentType="text/html")
    server = gunicorn_factory(bucket)
    assert get(server, "/docs/payments/versions.json").content == own_versions
    latest = get(server, "/docs/payments/latest/")
    assert (latest.status_code, latest.content) == (200, own_latest)
    assert get(server, "/docs/payments/stable/").headers["Location"] == "/docs/payments/1.0/"


def test_every_redirect_is_relative_and_generated_urls_path_absolute_whatever_the_host(server_s3, bucket, site, gunicorn_factory):
    publish_version(server_s3, bucket, site, "payments", "2.0.0")
    server = gunicorn_factory(bucket)
    forged = {"Host": "evil.example"}
    for path in ["/", "/docs", "/docs//payments/2.0.0/", "/docs/payments/", "/docs/payments/latest/guide/",
                 "/docs/payments/2.0.0/guide", "/_//health", "/_//projects", "/_//switch/payments/2.0.0/guide/", "/docs/payments/7/"]:
        status, headers, _ = raw_request(server, path, forged)
        if status in (301, 302, 307, 308):
            location = headers["Location"]
            assert "evil.example" not in location and not location.startswith("//"), (path, location)
            assert "://" not in location, (path, location)
    status, headers, _ = raw_request(server, "/_//health", forged)
    assert (status, headers["Location"], headers["Cache-Control"]) == (308, "/_/health", "no-cache")
    status, _, body = raw_request(server, "/docs/payments/switcher.json", forged)
    assert status == 200 and [entry["url"] for entry in json.loads(body)] == ["/docs/payments/2.0.0/"]


def test_readers_see_only_what_versions_they_may_read_said_and_a_version_id_of_their_own(server_s3, bucket, site, gunicorn_factory, tmp_path):
    import subprocess

    publish_version(server_s3, bucket, site, "corp", "1.0", {"description": "Public handbook", "owner": "docs-team", "repo": "https://git.example/corp"})
    publish_version(server_s3, bucket, site, "corp", "2.0", {"title": "Nightfall", "description": "Project Nightfall merger", "owner": "m-and-a", "repo": "javascript:alert(document.cookie)"})
    publish_version(server_s3, bucket, site, "vault", "1.0", {"description": "vault"})
    line = subprocess.run(["htpasswd", "-nbB", "-C", "4", "bob", "builder"], capture_output=True, text=True, check=True).stdout
    (tmp_path / "htpasswd").write_text(line)
    (tmp_path / "rules.toml").write_text(
        'default = "public"\n[[rule]]\npath = "corp/2.0/"\nusers = ["bob"]\n[[rule]]\npath = "vault/"\nusers = ["bob"]\n')
    server = gunicorn_factory(bucket, env={"DOCS_AUTH": "basic", "DOCS_AUTH_HTPASSWD": str(tmp_path / "htpasswd"),
                                           "DOCS_ACCESS_RULES": str(tmp_path / "rules.toml"), "DOCS_PORTAL_TTL": "0"})

    landing = get(server, "/docs/").text
    assert "Public handbook" in landing and "Nightfall" not in landing and "m-and-a" not in landing
    assert "javascript:" not in landing
    assert "corp" not in get(server, "/docs/?q=nightfall").text.split("</form>", 1)[-1]
    page = get(server, "/_/projects/corp").text
    assert "Public handbook" in page and "Nightfall" not in page and "javascript:" not in page
    api = get(server, "/_/api/projects").json()
    assert [(p["name"], p["description"], p["owner"], p["repo"]) for p in api["projects"]] == [
        ("corp", "Public handbook", "docs-team", "https://git.example/corp")]
    assert get(server, "/_/api/projects/corp").json()["description"] == "Public handbook"
    search_page = get(server, "/_/search?q=hello")
    assert search_page.status_code in (200, 503) and "Nightfall" not in search_page.text
    # bob reads every version: the latest publish's words, but never a javascript: link.
    bob = requests.get(server.url + "/_/api/projects/corp", auth=("bob", "builder"), timeout=10).json()
    assert (bob["title"], bob["description"], bob["repo"]) == ("Nightfall", "Project Nightfall merger", "")

    # A restricted project changes: what an anonymous reader sees, version_id included, does not.
    publish_version(server_s3, bucket, site, "vault", "2.0", {"description": "vault 2"})
    assert get(server, "/_/api/projects").json() == api
