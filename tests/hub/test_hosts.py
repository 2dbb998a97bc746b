"""The hub with one origin per project (``DOCS_PROJECT_HOSTS``, issue 19): everything a page's script
fetches is answered on the project's own host, and nothing about another project is.
"""

import pytest

from tests.conftest import BUCKET
from tests.hosts.conftest import MAIN, PAYMENTS, WIKI, write_site


@pytest.fixture
def app_config():
    return {"S3_BUCKET": BUCKET, "S3_REGION": "us-east-1", "DOCS_PORTAL_TTL": 0.0, "DOCS_SEARCH_BUILD_WAIT": 10.0,
            "DOCS_PROJECT_HOSTS": "{project}.docs.test"}


@pytest.fixture
def projects(app, tmp_path):
    """payments 1.0 and 2.0 with the hub, wiki 1.0 with it too; every page mentions ledger reconciliation."""
    runner = app.test_cli_runner()
    for project, version in (("payments", "1.0"), ("payments", "2.0"), ("wiki", "1.0")):
        source = write_site(tmp_path / f"{project}-{version}", f"{project} {version}")
        result = runner.invoke(args=["docs", "publish", str(source), "--project", project, "--version", version, "--hub"])
        assert result.exit_code == 0, result.output


def get(client, base, path):
    return client.get(path, base_url=base)


def test_a_page_on_its_projects_host_gets_the_block_and_its_script_and_context_answer_there(client, projects):
    page = get(client, PAYMENTS, "/docs/payments/1.0/guide/")
    assert b'<meta name="docs-hub-project" content="payments">' in page.data
    assert get(client, PAYMENTS, "/_/hub/hub.js").status_code == 200

    context = get(client, PAYMENTS, "/_/hub/api/payments/1.0?page=guide/")

    assert context.status_code == 200
    answer = context.get_json()
    assert [entry["url"] for entry in answer["versions"]] == ["/docs/payments/2.0/guide/", "/docs/payments/1.0/guide/"]
    assert answer["search"] == {"api": "/_/api/search", "page": "//docs.test/_/search", "all_projects": False}
    assert answer["project"]["url"] == "//docs.test/_/projects/payments"
    assert answer["portal"] == "//docs.test/docs/"


def test_another_projects_context_and_search_are_not_answered_on_this_host(client, projects):
    context = get(client, PAYMENTS, "/_/hub/api/wiki/1.0?page=")
    search = get(client, PAYMENTS, "/_/api/search?q=ledger&project=wiki")

    assert (context.status_code, context.headers["Location"]) == (302, "//wiki.docs.test/_/hub/api/wiki/1.0?page=")
    assert (search.status_code, search.headers["Location"]) == (302, "//wiki.docs.test/_/api/search?q=ledger&project=wiki")
    assert get(client, PAYMENTS, "/_/api/search?q=ledger").status_code == 302  # every-project search: main host only


def test_the_hubs_search_on_a_project_host_finds_only_that_project(client, projects):
    response = get(client, PAYMENTS, "/_/api/search?q=ledger&project=payments&version=1.0")

    assert response.status_code == 200
    hits = response.get_json()["results"]
    assert hits and {(hit["project"], hit["version"]) for hit in hits} == {("payments", "1.0")}
    assert all(hit["url"].startswith("/docs/payments/1.0/") for hit in hits)


def test_on_the_main_host_the_hub_answers_as_without_project_hosts(client, projects):
    assert get(client, MAIN, "/_/hub/hub.js").status_code == 200
    assert get(client, WIKI, "/_/hub/api/wiki/1.0?page=").status_code == 200
