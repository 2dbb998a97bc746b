"""The context API: what the script shows on a page, from the portal index and the publish manifests,
filtered by access rules (Flask's test client against moto)."""

import pytest

from app import create_app
from tests.access.conftest import basic, htpasswd_line
from tests.conftest import BUCKET
from tests.hub.conftest import page

API = "/_/hub/api/payments/{}?page={}"


@pytest.fixture
def app_config():
    return {"S3_BUCKET": BUCKET, "S3_REGION": "us-east-1"}


@pytest.fixture
def other_site(tmp_path):
    """A later build in which the install page is gone."""
    root = tmp_path / "other"
    (root / "guide").mkdir(parents=True)
    (root / "index.html").write_bytes(page(b"Home"))
    (root / "guide" / "index.html").write_bytes(page(b"Guide"))
    return root


def test_the_context_names_versions_aliases_default_and_the_same_page_in_each(client, publish, other_site, docs_cli):
    publish("payments", "1.0", "--hub", "--owner", "Team Pay", "--contact", "pay@corp.example",
            "--repo", "https://git.corp.example/pay")
    publish("payments", "2.0")
    publish("payments", "2.1", source=other_site)
    publish("payments", "3.0rc1")

    answer = client.get(API.format("1.0", "guide/install.html"))

    assert answer.status_code == 200
    context = answer.get_json()
    assert context["project"] | {"url": None} == {"name": "payments", "title": "payments", "owner": "Team Pay",
                                                  "contact": "pay@corp.example", "repo": "https://git.corp.example/pay",
                                                  "url": None}
    assert context["version"] == {"name": "1.0", "kind": "release", "hidden": False, "aliases": [], "notice": "outdated"}
    assert context["default"] == {"name": "2.1", "aliases": ["stable"], "url": "/docs/payments/2.1/"}
    assert [(entry["name"], entry["aliases"], entry["url"], entry["current"]) for entry in context["versions"]] == [
        ("3.0rc1", ["latest"], "/docs/payments/3.0rc1/guide/install.html", False),
        ("2.1", ["stable"], "/docs/payments/2.1/", False),  # no install page there: its root
        ("2.0", [], "/docs/payments/2.0/guide/install.html", False),
        ("1.0", [], "/docs/payments/1.0/guide/install.html", True),
    ]
    assert context["search"] == {"api": "/_/api/search", "page": "/_/search", "all_projects": True}


@pytest.mark.parametrize("version, notice", [("2.0", None), ("3.0rc1", "prerelease"), ("main", "development")])
def test_each_version_has_its_notice(client, publish, version, notice):
    for name in ("1.0", "2.0", "3.0rc1", "main"):
        publish("payments", name, "--hub")

    assert client.get(API.format(version, "")).get_json()["version"]["notice"] == notice


def test_a_hidden_version_is_listed_only_as_the_one_being_read(client, publish, docs_cli):
    publish("payments", "1.0", "--hub")
    publish("payments", "2.0")
    docs_cli("hide", "payments", "1.0")

    hidden = client.get(API.format("1.0", "")).get_json()
    shown = client.get(API.format("2.0", "")).get_json()

    assert hidden["version"]["notice"] == "hidden"
    assert [entry["name"] for entry in hidden["versions"]] == ["1.0", "2.0"]
    assert [entry["name"] for entry in shown["versions"]] == ["2.0"]


def test_manifests_are_read_once_per_publish_not_per_page_view(app, client, publish, bucket):
    calls = bucket.calls(app.extensions["s3"])
    publish("payments", "1.0", "--hub")
    publish("payments", "2.0")
    client.get(API.format("1.0", "guide/"))
    assert ("GetObject", "payments/2.0/.docs-publish.json") in calls
    calls.clear()

    for path in ("", "guide/", "guide/install.html"):
        assert client.get(API.format("1.0", path)).status_code == 200
    assert not [key for operation, key in calls if operation == "GetObject" and key.endswith(".docs-publish.json")]

    publish("payments", "2.0")  # a new publish time in the index: its manifest is read again
    client.get(API.format("1.0", "guide/"))
    assert ("GetObject", "payments/2.0/.docs-publish.json") in calls


def test_a_version_without_a_manifest_leads_through_the_switch(client, publish, s3):
    publish("payments", "1.0", "--hub")
    publish("payments", "2.0")
    s3.delete_object(Bucket=BUCKET, Key="payments/2.0/.docs-publish.json")

    versions = client.get(API.format("1.0", "guide/install.html")).get_json()["versions"]

    assert versions[0]["url"] == "/_/switch/payments/2.0/guide/install.html"


def test_the_answer_is_revalidated_with_its_etag(client, publish):
    publish("payments", "1.0", "--hub")
    first = client.get(API.format("1.0", ""))

    again = client.get(API.format("1.0", ""), headers={"If-None-Match": first.headers["ETag"]})

    assert first.headers["Cache-Control"] == "no-cache"
    assert again.status_code == 304


@pytest.mark.parametrize("url", [
    "/_/hub/api/nope/1.0", "/_/hub/api/payments/9.9", "/_/hub/api/ledger/1.0",  # unknown, unknown, hub off
])
def test_unknown_projects_versions_and_projects_without_the_hub_are_404(client, publish, url):
    publish("payments", "1.0", "--hub")
    publish("ledger", "1.0")

    assert client.get(url).status_code == 404


@pytest.mark.parametrize("page", ["../x", "/etc", "a/./b", "x" * 2000])
def test_a_page_outside_the_version_is_refused(client, publish, page):
    publish("payments", "1.0", "--hub")

    response = client.get(API.format("1.0", page))

    assert response.status_code == 400


RULES = """
default = "authenticated"
[[rule]]
path = "payments/3.0/"
users = ["alice"]
"""


@pytest.fixture
def guarded(s3, tmp_path):
    """The app with basic authentication: every signed-in reader reads payments, only alice its 3.0."""
    (tmp_path / "htpasswd").write_text(htpasswd_line("alice", "wonderland") + "\n" + htpasswd_line("bob", "builder") + "\n")
    (tmp_path / "rules.toml").write_text(RULES)
    return create_app({"S3_BUCKET": BUCKET, "S3_REGION": "us-east-1", "DOCS_AUTH": "basic",
                       "DOCS_AUTH_HTPASSWD": str(tmp_path / "htpasswd"), "DOCS_ACCESS_RULES": str(tmp_path / "rules.toml")})


def test_under_access_rules_nothing_about_a_version_the_reader_may_not_read_reaches_them(guarded, site):
    runner = guarded.test_cli_runner()
    for version in ("1.0", "2.0", "3.0"):
        result = runner.invoke(args=["docs", "publish", str(site), "--project", "payments", "--version", version, "--hub"])
        assert result.exit_code == 0, result.output
    client = guarded.test_client()
    alice, bob = {"Authorization": basic("alice", "wonderland")}, {"Authorization": basic("bob", "builder")}

    for_bob = client.get(API.format("1.0", ""), headers=bob)
    for_alice = client.get(API.format("1.0", ""), headers=alice)

    assert [entry["name"] for entry in for_bob.get_json()["versions"]] == ["2.0", "1.0"]
    assert b"3.0" not in for_bob.data
    assert for_bob.get_json()["default"]["name"] == "2.0"
    assert for_bob.headers["Cache-Control"].startswith("private")
    assert [entry["name"] for entry in for_alice.get_json()["versions"]] == ["3.0", "2.0", "1.0"]
    assert client.get(API.format("3.0", ""), headers=bob).status_code == 404
    assert client.get(API.format("1.0", "")).status_code == 401
    page_for_bob = client.get("/docs/payments/1.0/", headers=bob).data
    assert b"3.0" not in page_for_bob.replace(b"docs-hub", b"")


def test_what_a_restricted_version_said_about_the_project_reaches_only_its_readers(guarded, site):
    # Issue 19 item 10 for the hub and the unknown-version page: bob reads 1.0 and 2.0, not 3.0, whose
    # publish named another title, owner, contact and repository.
    runner = guarded.test_cli_runner()
    for version, extra in (("1.0", ["--hub", "--owner", "Team Pay"]), ("2.0", []),
                           ("3.0", ["--title", "Project Nightjar", "--owner", "Acquisition team",
                                    "--contact", "nightjar@corp.example", "--repo", "https://git.corp.example/nightjar"])):
        result = runner.invoke(args=["docs", "publish", str(site), "--project", "payments", "--version", version, *extra])
        assert result.exit_code == 0, result.output
    client = guarded.test_client()
    alice, bob = {"Authorization": basic("alice", "wonderland")}, {"Authorization": basic("bob", "builder")}

    for_bob = client.get(API.format("1.0", ""), headers=bob)
    unknown_for_bob = client.get("/docs/payments/9.9/", headers={**bob, "Accept": "text/html"})

    assert for_bob.get_json()["project"] == {**for_bob.get_json()["project"], "title": "payments", "owner": "Team Pay",
                                              "contact": "", "repo": ""}
    assert unknown_for_bob.status_code == 404
    for answer in (for_bob, unknown_for_bob):
        assert b"Nightjar" not in answer.data and b"nightjar" not in answer.data and b"Acquisition" not in answer.data
    assert client.get(API.format("1.0", ""), headers=alice).get_json()["project"]["title"] == "Project Nightjar"
    assert b"Project Nightjar" in client.get("/docs/payments/9.9/", headers={**alice, "Accept": "text/html"}).data


def test_a_context_request_reads_at_most_the_fallback_budget_of_manifests_not_yet_kept(app, client, publish, bucket):
    # A project with more versions than a worker keeps manifests of (or a cold worker) must not turn
    # each page view into one S3 GET per version: the rest lead through the switch until read later.
    app.config["DOCS_FALLBACK_S3_CALLS"] = 3
    versions = [f"1.{minor}" for minor in range(8)]
    publish("payments", versions[0], "--hub")
    for version in versions[1:]:
        publish("payments", version)
    calls = bucket.calls(app.extensions["s3"])

    def manifest_reads():
        reads = [key for operation, key in calls if operation == "GetObject" and key.endswith(".docs-publish.json")]
        calls.clear()
        return reads

    first = client.get(API.format("1.0", "guide/")).get_json()
    assert len(manifest_reads()) == 3
    # The version read and the default are read first; the others lead through the switch for now.
    urls = {entry["name"]: entry["url"] for entry in first["versions"]}
    assert urls["1.0"] == "/docs/payments/1.0/guide/" and urls["1.7"] == "/docs/payments/1.7/guide/"
    assert sum(url.startswith("/_/switch/") for url in urls.values()) == len(versions) - 3

    for expected in (3, 2):  # later views read the rest, the budget at a time
        client.get(API.format("1.0", "guide/"))
        assert len(manifest_reads()) == expected
    last = client.get(API.format("1.0", "guide/")).get_json()
    assert manifest_reads() == []
    assert all(entry["url"] == f"/docs/payments/{entry['name']}/guide/" for entry in last["versions"])
