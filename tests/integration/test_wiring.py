"""Where two concerns meet: access control with the portal, listings and the cache; metrics with both.

Each concern has its own suite; these tests check the seams between them, through the app as a
reader sees it (Flask's test client against moto), with basic authentication and a rules file.
"""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import create_app
from tests.access.conftest import basic, htpasswd_line
from tests.conftest import BUCKET

RULES = """
default = "authenticated"
[[rule]]
path = "handbook/"
public = true
[[rule]]
path = "secret/"
users = ["alice"]
[[rule]]
path = "artifacts/private/"
users = ["alice"]
[[rule]]
path = "handbook/1.0/internal/"
users = ["alice"]
"""

ALICE = {"Authorization": basic("alice", "wonderland")}
BOB = {"Authorization": basic("bob", "builder")}
PAGE = (b"<!doctype html><html><head><title>Page</title></head><body><main><h1 id=page>Page</h1><p>zebra crossing</p>"
        + b"x" * 2000 + b"</main></body></html>")


@pytest.fixture(scope="module")
def htpasswd_text():
    """alice and bob, hashed by Debian's htpasswd -B once for the module."""
    return "\n".join([htpasswd_line("alice", "wonderland"), htpasswd_line("bob", "builder")]) + "\n"


@pytest.fixture
def app(s3, tmp_path, htpasswd_text):
    """The app with basic authentication, the rules above, listings under artifacts/, the cache on."""
    (tmp_path / "htpasswd").write_text(htpasswd_text)
    (tmp_path / "rules.toml").write_text(RULES)
    return create_app({
        "S3_BUCKET": BUCKET,
        "S3_REGION": "us-east-1",
        "DOCS_AUTH": "basic",
        "DOCS_AUTH_HTPASSWD": str(tmp_path / "htpasswd"),
        "DOCS_ACCESS_RULES": str(tmp_path / "rules.toml"),
        "DOCS_LISTING_PREFIXES": "artifacts/",
    })


@pytest.fixture
def site(tmp_path):
    """A built site: a home page and an internal page, both mentioning zebras."""
    root = tmp_path / "site"
    (root / "internal").mkdir(parents=True)
    (root / "index.html").write_bytes(PAGE)
    (root / "internal" / "s1.html").write_text(
        "<!doctype html><html><head><title>Merger</title></head><body><main><h1 id=merger>Merger</h1>"
        "<p>zebra confidential</p></main></body></html>")
    return root


@pytest.fixture
def publish(app, site):
    """Publish ``site`` as project/version through ``flask docs publish``."""
    runner = app.test_cli_runner()

    def run(project, version):
        result = runner.invoke(args=["docs", "publish", str(site), "--project", project, "--version", version])
        assert result.exit_code == 0, result.output

    return run


@pytest.fixture
def s3_calls(app, bucket):
    """The S3 operations the app's client makes."""
    return bucket.operations(app.extensions["s3"])


def metric(client, name, **labels):
    """Return one sample of the app's /_/metrics (0 when absent)."""
    text = client.get("/_/metrics").get_data(as_text=True)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


@pytest.mark.parametrize("path", [
    ".docs-portal.json", "secret/.docs-project.json", "secret/1.0/.docs-publish.json", "secret/1.0/.docs-search.json",
    "handbook/1.0/.docs-search.json",
])
def test_docs_proxys_own_records_are_never_served(client, publish, s3, s3_calls, path):
    publish("handbook", "1.0")
    publish("secret", "1.0")
    s3.head_object(Bucket=BUCKET, Key=path)  # the record exists: it is refused, not missing
    s3_calls.clear()
    for headers in ({}, BOB, ALICE):
        response = client.get(f"/docs/{path}", headers=headers)
        assert response.status_code == 404
        assert b".docs-" in response.data and b"zebra" not in response.data
    assert s3_calls == []


def test_switching_version_never_tells_whether_a_refused_page_exists(client, publish):
    publish("handbook", "1.0")
    existing = client.get("/_/switch/handbook/1.0/internal/s1.html", headers=BOB)
    missing = client.get("/_/switch/handbook/1.0/internal/nope.html", headers=BOB)
    assert existing.status_code == missing.status_code == 302
    assert existing.headers["Location"] == missing.headers["Location"]
    allowed = client.get("/_/switch/handbook/1.0/internal/s1.html", headers=ALICE)
    assert allowed.headers["Location"].endswith("/docs/handbook/1.0/internal/s1.html")


def test_search_counts_only_what_the_reader_may_read(client, publish):
    publish("handbook", "1.0")
    query = {"q": "zebra", "project": "handbook", "version": "1.0"}
    as_alice = client.get("/_/api/search", query_string=query, headers=ALICE).json
    as_bob = client.get("/_/api/search", query_string=query, headers=BOB).json
    assert {result["path"] for result in as_alice["results"]} == {"index.html", "internal/s1.html"}
    assert [result["path"] for result in as_bob["results"]] == ["index.html"]
    assert as_bob["total"] == 1 and as_bob["pages"] == 1


def test_search_answers_a_refused_version_as_a_missing_one(client, publish):
    publish("secret", "1.0")
    publish("handbook", "1.0")
    refused = client.get("/_/api/search", query_string={"q": "x", "project": "handbook", "version": "9.9"}, headers=BOB)
    assert refused.status_code == 404
    hidden = client.get("/_/api/search", query_string={"q": "x", "project": "secret", "version": "1.0"}, headers=BOB)
    assert hidden.status_code == 404


def test_the_portal_shows_only_projects_the_reader_may_read(client, publish):
    publish("handbook", "1.0")
    publish("secret", "1.0")
    publish("secret", "2.0")
    assert client.get("/_/api/projects").status_code == 401
    as_bob = [project["name"] for project in client.get("/_/api/projects", headers=BOB).json["projects"]]
    as_alice = [project["name"] for project in client.get("/_/api/projects", headers=ALICE).json["projects"]]
    assert as_bob == ["handbook"]
    assert sorted(as_alice) == ["handbook", "secret"]
    landing = client.get("/_/", headers=BOB)
    assert landing.status_code == 200 and b"handbook" in landing.data and b"secret" not in landing.data
    assert landing.headers["Cache-Control"].startswith("private")


def test_an_alias_never_leads_a_reader_where_the_rules_refuse(client, publish, s3_calls):
    publish("secret", "1.0")
    s3_calls.clear()
    refused = client.get("/docs/secret/latest/", headers=BOB)
    assert refused.status_code == 403
    assert s3_calls == []  # decided on the alias path, before the portal or S3 are asked
    allowed = client.get("/docs/secret/latest/", headers=ALICE)
    assert allowed.status_code == 302
    assert allowed.headers["Location"].endswith("/docs/secret/1.0/")


def test_a_cached_page_is_never_served_to_a_reader_the_rules_refuse(client, publish, s3_calls):
    publish("secret", "1.0")
    first = client.get("/docs/secret/1.0/", headers=ALICE)
    second = client.get("/docs/secret/1.0/", headers=ALICE)
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("MISS", "HIT")
    assert second.data == PAGE
    # A private page: no shared cache may keep it, whatever publish set.
    assert second.headers["Cache-Control"].startswith("private")
    s3_calls.clear()
    refused = client.get("/docs/secret/1.0/", headers=BOB)
    assert refused.status_code == 403
    assert PAGE not in refused.data and "X-Cache" not in refused.headers
    assert client.get("/docs/secret/1.0/").status_code == 401
    assert s3_calls == []


def test_a_listing_leaves_out_what_the_reader_may_not_read(client, s3):
    for key in ("artifacts/public.tar.gz", "artifacts/private/secret.tar.gz"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"tarball")
    as_bob = client.get("/docs/artifacts/", headers={**BOB, "Accept": "application/json"})
    as_alice = client.get("/docs/artifacts/", headers={**ALICE, "Accept": "application/json"})
    assert as_bob.status_code == as_alice.status_code == 200
    assert "private/" not in as_bob.get_data(as_text=True)
    assert "public.tar.gz" in as_bob.get_data(as_text=True)
    assert "private/" in as_alice.get_data(as_text=True)


def test_metrics_count_cache_results_and_access_decisions(client, publish):
    publish("handbook", "1.0")
    publish("secret", "1.0")

    def status(url, headers=None):
        # Metrics count a request once its response is closed (the last byte sent).
        with client.get(url, headers=headers) as response:
            return response.status_code

    assert [status("/docs/handbook/1.0/") for _ in range(3)] == [200] * 3  # public: anonymous reads it
    assert status("/docs/secret/1.0/", ALICE) == 200
    assert status("/docs/secret/1.0/", BOB) == 403
    assert status("/docs/secret/1.0/") == 401
    assert metric(client, "docs_proxy_cache_results_total", result="MISS") == 2
    assert metric(client, "docs_proxy_cache_results_total", result="HIT") == 2
    assert metric(client, "docs_proxy_access_decisions_total", decision="public") == 3
    assert metric(client, "docs_proxy_access_decisions_total", decision="allowed") == 1
    assert metric(client, "docs_proxy_access_decisions_total", decision="denied") == 1
    assert metric(client, "docs_proxy_access_decisions_total", decision="unauthenticated") == 1


def test_a_filtered_not_found_page_is_private_too(client, publish):
    publish("handbook", "1.0")
    response = client.get("/docs/handbook/9.9/", headers=ALICE)
    assert response.status_code == 404
    assert b"1.0" in response.data  # the portal's page names the versions this reader may read
    assert response.headers["Cache-Control"].startswith("private")
