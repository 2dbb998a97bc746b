"""The portal through Flask's test client against moto: every URL, access filtering, real objects winning, S3 calls."""

import json

import pytest

import app.access
from app.portal.index import record_version, update_index

from tests.conftest import BUCKET


VECTOR = ["0.9", "1.9.0", "1.10.0", "2.0.0rc1", "2.0.0", "2.1.0-beta.1", "1.2.3-SNAPSHOT", "1.x", "main"]


@pytest.fixture
def payments(s3, site, publish):
    """The issue's test vector as project ``payments``: the last version through ``flask docs publish``, the rest
    written the same way publish leaves them (pages, then the index entry), which is much faster."""
    metadata = {"title": "Payments <API>", "description": "Cards & wallets", "owner": "Team Money",
                "contact": "#payments", "tags": ["api", "billing"], "commit": "0123456789abcdef"}
    for version in VECTOR[:-1]:
        for path in site.rglob("*.html"):
            s3.put_object(Bucket=BUCKET, Key=f"payments/{version}/{path.relative_to(site)}", Body=path.read_bytes(),
                          ContentType="text/html; charset=utf-8")
        update_index(s3, BUCKET, "", record_version("payments", version, metadata, {"size": 120, "files": 3}))
    publish("payments", VECTOR[-1], "--commit", "0123456789abcdef")
    return "payments"


def location(response):
    """Return a redirect's Location."""
    return response.headers["Location"]


ALIAS_REDIRECTS = [
    ("/docs/payments/", "/docs/payments/2.0.0/"),
    ("/docs/payments/?utm=x", "/docs/payments/2.0.0/?utm=x"),
    ("/docs/payments", "/docs/payments/2.0.0/"),
    ("/docs/payments/latest/", "/docs/payments/2.1.0-beta.1/"),
    ("/docs/payments/latest", "/docs/payments/2.1.0-beta.1/"),
    ("/docs/payments/stable/guide/install.html?q=a%20b&x=1", "/docs/payments/2.0.0/guide/install.html?q=a%20b&x=1"),
    ("/docs/payments/1/guide/", "/docs/payments/1.10.0/guide/"),
    ("/docs/payments/1.9/index.html", "/docs/payments/1.9.0/index.html"),
    ("/docs/payments/0/", "/docs/payments/0.9/"),
    ("/docs/payments/latest/a%20b.html", "/docs/payments/2.1.0-beta.1/a%20b.html"),
]


def test_aliases_and_release_lines_redirect_keeping_path_and_query(client, payments):
    # One test walks the table: the fixture publishes nine versions, too costly to repeat per row.
    for url, target in ALIAS_REDIRECTS:
        for method in ("GET", "HEAD"):
            response = client.open(url, method=method)
            assert (response.status_code, location(response)) == (302, target), (method, url)
            assert response.headers["Cache-Control"] == "no-cache"


def test_a_pinned_alias_redirects_and_overrides_the_computed_one(client, payments, docs_cli):
    assert docs_cli("alias", "payments", "lts", "1.10.0").exit_code == 0
    assert docs_cli("alias", "payments", "stable", "1.9.0").exit_code == 0
    assert location(client.get("/docs/payments/lts/guide/")) == "/docs/payments/1.10.0/guide/"
    assert location(client.get("/docs/payments/stable/")) == "/docs/payments/1.9.0/"
    assert location(client.get("/docs/payments/")) == "/docs/payments/1.9.0/"
    assert docs_cli("alias", "payments", "default", "2.0.0").exit_code == 0
    assert location(client.get("/docs/payments/")) == "/docs/payments/2.0.0/"


def test_hiding_a_version_keeps_it_served_but_lists_it_nowhere(client, payments, docs_cli):
    assert docs_cli("hide", "payments", "2.0.0").exit_code == 0
    assert client.get("/docs/payments/2.0.0/").status_code == 200
    assert location(client.get("/docs/payments/stable/")) == "/docs/payments/1.10.0/"
    assert location(client.get("/docs/payments/2/")) == "/docs/payments/2.1.0-beta.1/"
    assert "2.0.0" not in [entry["version"] for entry in client.get("/docs/payments/versions.json").json]
    assert ">2.0.0<" not in client.get("/_/projects/payments").text
    assert docs_cli("show", "payments", "2.0.0").exit_code == 0
    assert location(client.get("/docs/payments/stable/")) == "/docs/payments/2.0.0/"


def test_a_real_version_serves_its_pages_and_its_missing_pages_stay_s3_404s(client, payments):
    with client.get("/docs/payments/2.0.0/guide/install.html") as response:
        assert response.status_code == 200
        assert b"Install" in response.data
    response = client.get("/docs/payments/2.0.0/nope.html")
    assert response.status_code == 404
    assert b"NoSuchKey" in response.data


def test_an_unknown_version_gets_a_404_page_naming_the_known_ones(client, payments):
    response = client.get("/docs/payments/7.7/guide/install.html")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    page = response.text
    for version in ["2.1.0-beta.1", "2.0.0", "1.10.0", "main", "0.9"]:
        assert f">{version}</a>" in page
    assert 'href="/_/switch/payments/2.0.0/guide/install.html"' in page
    assert "Payments &lt;API&gt;" in page


def test_versions_json_is_mikes_format_newest_first_with_aliases(client, payments):
    response = client.get("/docs/payments/versions.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-cache"
    versions = response.json
    assert versions[:3] == [
        {"version": "main", "title": "main", "aliases": []},
        {"version": "2.1.0-beta.1", "title": "2.1.0-beta.1", "aliases": ["latest"]},
        {"version": "2.0.0", "title": "2.0.0", "aliases": ["stable"]},
    ]
    assert len(versions) == 9


def test_switcher_json_is_pydata_format_with_exactly_one_preferred(client, payments):
    entries = client.get("/docs/payments/switcher.json").json
    assert [entry for entry in entries if entry.get("preferred")] == [
        {"name": "2.0.0 (stable)", "version": "2.0.0", "url": "/docs/payments/2.0.0/", "preferred": True}
    ]
    assert {"name", "version", "url"} <= set(entries[0])


def test_real_objects_always_win_over_the_portal(client, s3, payments):
    own = b'[{"version": "handmade", "title": "Handmade", "aliases": []}]'
    s3.put_object(Bucket=BUCKET, Key="payments/versions.json", Body=own, ContentType="application/json")
    s3.put_object(Bucket=BUCKET, Key="payments/latest/index.html", Body=b"<p>a real latest</p>", ContentType="text/html")
    assert client.get("/docs/payments/versions.json").data == own
    assert client.get("/docs/payments/latest/").data == b"<p>a real latest</p>"
    s3.put_object(Bucket=BUCKET, Key="index.html", Body=b"<h1>our own front page</h1>", ContentType="text/html")
    assert client.get("/docs/").data == b"<h1>our own front page</h1>"
    assert "Payments" in client.get("/_/").text


def test_the_landing_page_shows_each_project_with_its_facts(client, payments, publish):
    publish("ledger", "3.1", "--description", "The general ledger")
    response = client.get("/docs/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.text
    assert "Payments &lt;API&gt;" in page and "<API>" not in page  # autoescaped
    for fact in ["Cards &amp; wallets", "Team Money", "#payments", ">api<", ">billing<", ">2.0.0<",
                 ">2.1.0-beta.1<", "All 9 versions", 'href="/_/projects/payments"', 'href="/docs/payments/2.0.0/"',
                 "The general ledger", "All 1 version<"]:
        assert fact in page, fact
    assert 'name="viewport"' in page and "prefers-color-scheme: dark" in page


@pytest.mark.parametrize("query, shown, hidden", [
    ("ledger", ["The general ledger"], ["Cards &amp; wallets"]),
    ("BILLING", ["Cards &amp; wallets"], ["The general ledger"]),
    ("team money", ["Cards &amp; wallets"], ["The general ledger"]),
    ("nothing-like-this", ["No project matches"], ["Cards &amp; wallets", "The general ledger"]),
])
def test_the_landing_page_filters_without_javascript(client, payments, publish, query, shown, hidden):
    publish("ledger", "3.1", "--description", "The general ledger")
    page = client.get("/docs/", query_string={"q": query}).text
    for text in shown:
        assert text in page
    for text in hidden:
        assert text not in page


def test_the_project_page_groups_versions_with_aliases_and_facts(client, payments):
    page = client.get("/_/projects/payments").text
    sections = [part.split("</h2>")[0] for part in page.split("<h2>")[1:]]
    assert sections == ["Stable", "Next (prereleases)", "Past versions", "Development"]
    stable, upcoming, past, development = page.split("<h2>")[1:]
    assert ">2.0.0<" in stable and ">2.1.0-beta.1<" in upcoming
    assert ">2.0.0rc1<" in past and ">1.2.3-SNAPSHOT<" in past and ">0.9<" in past
    assert ">main<" in development and ">1.x<" in development
    assert "0123456789" in page and ">latest<" in page


def test_unknown_projects_are_404_pages(client, payments):
    assert client.get("/_/projects/nope").status_code == 404
    assert client.get("/_/api/projects/nope").status_code == 404
    assert client.get("/docs/nope/latest/").status_code == 404


@pytest.mark.parametrize("url, target", [
    ("/_/switch/payments/1.9.0/guide/install.html", "/docs/payments/1.9.0/guide/install.html"),
    ("/_/switch/payments/1.9.0/guide/install.html?a=1", "/docs/payments/1.9.0/guide/install.html?a=1"),
    ("/_/switch/payments/1.9.0/guide/gone.html", "/docs/payments/1.9.0/guide/"),
    ("/_/switch/payments/1.9.0/deep/er/gone.html", "/docs/payments/1.9.0/"),
    ("/_/switch/payments/latest/guide/", "/docs/payments/2.1.0-beta.1/guide/"),
    ("/_/switch/payments/1/guide/", "/docs/payments/1.10.0/guide/"),
    ("/_/switch/payments/9.9/guide/", "/docs/payments/"),
    ("/_/switch/nope/1.0/guide/", "/docs/"),
])
def test_switching_version_keeps_the_page_or_its_nearest_ancestor(client, payments, url, target):
    response = client.get(url)
    assert response.status_code == 302
    assert location(response) == target


def test_the_api_lists_projects_and_versions(client, payments):
    listing = client.get("/_/api/projects").json
    assert [project["name"] for project in listing["projects"]] == ["payments"]
    assert listing["projects"][0]["default_version"] == "2.0.0"
    assert listing["version_id"]
    detail = client.get("/_/api/projects/payments").json
    assert detail["aliases"] == {"latest": "2.1.0-beta.1", "stable": "2.0.0"}
    first = detail["versions"][1]
    assert first["name"] == "2.1.0-beta.1" and first["aliases"] == ["latest"] and first["kind"] == "prerelease"
    assert first["commit"] == "0123456789abcdef" and first["files"] == 3 and first["size"] > 0


def test_every_list_and_alias_shows_only_what_the_reader_may_read(client, payments, publish, monkeypatch):
    publish("secret", "1.0", "--description", "Top secret")
    assert "Top secret" in client.get("/docs/").text  # rendered and kept for a reader who may read everything
    monkeypatch.setattr(app.access, "may_read", lambda path: not path.startswith(("secret/", "payments/2.")))
    landing = client.get("/docs/").text
    assert "Top secret" not in landing and "Payments" in landing
    assert location(client.get("/docs/payments/latest/")) == "/docs/payments/1.10.0/"
    assert location(client.get("/docs/payments/")) == "/docs/payments/1.10.0/"
    assert client.get("/docs/payments/2/").status_code == 404  # no readable 2.x release
    names = [entry["version"] for entry in client.get("/docs/payments/versions.json").json]
    assert not [name for name in names if name.startswith("2.")]
    assert "2.0.0" not in client.get("/docs/payments/9/").text
    assert [p["name"] for p in client.get("/_/api/projects").json["projects"]] == ["payments"]
    assert client.get("/_/api/projects/secret").status_code == 404
    assert client.get("/_/projects/secret").status_code == 404
    assert client.get("/docs/secret/").status_code == 404
    assert location(client.get("/_/switch/secret/1.0/")) == "/docs/"


# Each request's own S3 call is the subject: the hot-object cache (tests/cache) would answer repeats itself.
@pytest.mark.parametrize("app_config", [{"S3_BUCKET": BUCKET, "S3_REGION": "us-east-1", "DOCS_PORTAL_TTL": 10, "DOCS_CACHE": "off"}])
def test_a_versioned_page_costs_one_s3_call_and_the_index_is_read_once_per_ttl(client, payments, s3_calls, clock, fresh):
    fresh()
    client.get("/docs/payments/latest/")  # loads the index
    s3_calls.clear()
    for _ in range(3):
        with client.get("/docs/payments/2.0.0/guide/install.html") as response:
            assert response.status_code == 200
    assert s3_calls == ["GetObject"] * 3
    s3_calls.clear()
    for _ in range(3):
        assert client.get("/docs/payments/latest/").status_code == 302
    assert s3_calls == ["HeadObject"] * 3 or s3_calls == ["GetObject"] * 3  # the miss, nothing for the index
    clock.now += 11
    s3_calls.clear()
    client.get("/docs/payments/latest/")
    client.get("/docs/payments/latest/")
    assert s3_calls.count("GetObject") == 3  # two misses and one conditional index read (a 304)


def test_a_changed_index_is_seen_after_the_ttl(client, payments, s3, clock, fresh):
    fresh()
    assert location(client.get("/docs/payments/latest/")) == "/docs/payments/2.1.0-beta.1/"
    index = json.loads(s3.get_object(Bucket=BUCKET, Key=".docs-portal.json")["Body"].read())
    index["projects"]["payments"]["aliases"]["latest"] = "0.9"
    s3.put_object(Bucket=BUCKET, Key=".docs-portal.json", Body=json.dumps(index).encode())
    assert location(client.get("/docs/payments/latest/")) == "/docs/payments/2.1.0-beta.1/"
    clock.now += 10.5
    assert location(client.get("/docs/payments/latest/")) == "/docs/payments/0.9/"


def test_a_bucket_without_an_index_has_no_projects_and_answers_as_s3_website_hosting(client, s3, s3_calls):
    for key in ["tools/1.0/index.html", "tools/2.0/index.html", "guide/index.html", "assets/images/a.png"]:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"<p>x</p>", ContentType="text/html")
    assert client.get("/docs/").status_code == 404  # no root index.html, no projects: S3's 404
    assert client.get("/docs/assets/").status_code == 404  # not a redirect into a guessed version
    assert client.get("/docs/tools/latest/").status_code == 404
    assert client.get("/docs/tools/2.0/").text == "<p>x</p>"
    assert client.get("/_/api/projects").json["projects"] == []
    assert "ListObjectsV2" not in s3_calls


def test_a_corrupt_index_gives_a_clear_503_landing_page_and_plain_s3_404s(client, s3):
    s3.put_object(Bucket=BUCKET, Key=".docs-portal.json", Body=b"{not json")
    response = client.get("/docs/")
    assert response.status_code == 503
    assert "cannot be read" in response.text
    assert client.get("/docs/x/latest/").status_code == 404
    assert client.get("/_/api/projects").status_code == 503
