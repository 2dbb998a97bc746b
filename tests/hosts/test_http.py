"""Per-project hosts over HTTP: what each host serves, where it sends the rest, and every link the app makes."""

import json
import re
from urllib.parse import urlsplit

import pytest

from app import create_app
from tests.conftest import BUCKET
from tests.hosts.conftest import MAIN, PAYMENTS, WIKI


def get(client, base, path, **kwargs):
    """GET ``path`` on the host of ``base``; return the response, read and closed."""
    with client.get(path, base_url=base, **kwargs) as response:
        response.get_data()
        return response


def hrefs(html):
    """Return every href of ``html``."""
    return re.findall(r'href="([^"]*)"', html)


# --- what each host serves ---

def test_a_project_host_serves_its_own_project(client, projects):
    response = get(client, PAYMENTS, "/docs/payments/1.0/")
    assert response.status_code == 200
    assert b"<h1>payments 1.0</h1>" in response.data
    assert get(client, PAYMENTS, "/docs/payments/1.0/guide/").status_code == 200


@pytest.mark.parametrize("base, path, location", [
    # another project, from a project host: that project's host, same path and query
    (WIKI, "/docs/payments/1.0/", "//payments.docs.test/docs/payments/1.0/"),
    (WIKI, "/docs/payments/1.0/guide/?q=a%20b", "//payments.docs.test/docs/payments/1.0/guide/?q=a%20b"),
    (WIKI, "/docs/payments", "//payments.docs.test/docs/payments"),
    # a project, from the main host
    (MAIN, "/docs/payments/1.0/", "//payments.docs.test/docs/payments/1.0/"),
    (MAIN, "/docs//payments//1.0/", "//payments.docs.test/docs//payments//1.0/"),
    # the request's port is kept: the pattern has none
    ("http://docs.test:8080", "/docs/wiki/1.0/", "//wiki.docs.test:8080/docs/wiki/1.0/"),
    ("http://wiki.docs.test:8080", "/docs/payments/", "//payments.docs.test:8080/docs/payments/"),
    # the portal, search and APIs live on the main host
    (PAYMENTS, "/_/", "//docs.test/_/"),
    (PAYMENTS, "/_/api/projects", "//docs.test/_/api/projects"),
    (PAYMENTS, "/_/api/search?q=ledger", "//docs.test/_/api/search?q=ledger"),
    (PAYMENTS, "/_/search?q=ledger", "//docs.test/_/search?q=ledger"),
    (PAYMENTS, "/_/projects/payments", "//docs.test/_/projects/payments"),
    (PAYMENTS, "/_/switch/payments/1.0/guide/", "//docs.test/_/switch/payments/1.0/guide/"),
    ("http://payments.docs.test:8443", "/_/", "//docs.test:8443/_/"),
    # the docs root is the portal's landing page; a project host's own root is its project
    (PAYMENTS, "/docs/", "//docs.test/_/"),
    (MAIN, "/docs/", "/_/"),
    (MAIN, "/docs", "/_/"),
    (PAYMENTS, "/", "/docs/payments/"),
    (PAYMENTS, "/docs", "/docs/payments/"),
])
def test_requests_on_the_wrong_host_are_sent_to_the_right_one_before_any_s3_call(client, projects, s3_calls, base, path, location):
    s3_calls.clear()
    response = get(client, base, path)
    assert response.status_code == 302
    assert response.headers["Location"] == location
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.data == b""
    assert s3_calls == []


@pytest.mark.parametrize("base, path", [
    (MAIN, "/docs/index.html"),
    (MAIN, "/docs/My_Project/"),
    (MAIN, "/docs/Payments/1.0/"),
    (PAYMENTS, "/docs/Payments/1.0/"),
    (PAYMENTS, "/docs/favicon.ico"),
])
def test_files_at_the_root_and_projects_that_cannot_own_a_host_are_served_nowhere(client, projects, s3_calls, base, path):
    s3_calls.clear()
    response = get(client, base, path)
    assert response.status_code == 404
    assert b"has no host of its own" in response.data
    assert s3_calls == []


@pytest.mark.parametrize("path", ["/docs/../payments/1.0/", "/docs/wiki/%2e%2e/payments/1.0/", "/docs/wiki/1.0/%5c..%5cx"])
def test_path_tricks_are_refused_before_a_host_is_chosen(client, projects, path):
    assert get(client, WIKI, path).status_code in (400, 404)
    assert get(client, MAIN, path).status_code in (400, 404)


@pytest.mark.parametrize("host", [
    "evil.payments.docs.test", "payments.docs.test.", "payments.docs.test.evil.example", "PAYMENTS.DOCS.TEST.",
    "pay_ments.docs.test", "payments-docs.test", "alice@payments.docs.test", "payments.docs.test:99999",
])
def test_look_alike_hosts_are_the_main_host_and_serve_no_project(client, projects, host):
    response = get(client, "http://x", "/docs/payments/1.0/", headers={"Host": host})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("//payments.docs.test")
    assert b"payments 1.0" not in response.data


def test_hosts_are_matched_without_regard_to_case(client, projects):
    response = get(client, "http://x", "/docs/payments/1.0/", headers={"Host": "PayMents.Docs.Test"})
    assert response.status_code == 200 and b"payments 1.0" in response.data


def test_the_ops_endpoints_answer_on_every_host(client, projects):
    for base in (MAIN, PAYMENTS, "http://10.0.0.7:8000"):
        assert get(client, base, "/_/health").status_code == 200


def test_metrics_are_read_on_the_main_host_only(client, projects):
    # A page on a project's host could otherwise read them (same origin): make the reader's browser
    # request another project's page, then see which access decision or S3 outcome was counted.
    response = get(client, WIKI, "/_/metrics")
    assert (response.status_code, response.headers["Location"]) == (302, "//docs.test/_/metrics")
    assert b"docs_proxy" not in response.data
    assert get(client, MAIN, "/_/metrics").status_code == 200
    assert get(client, "http://10.0.0.7:8000", "/_/metrics").status_code == 200
    assert get(client, WIKI, "/_/ready").status_code in (200, 503)


def test_the_bucket_root_favicon_is_a_sandboxed_document_on_every_host(client, projects):
    for base in (MAIN, PAYMENTS):
        response = get(client, base, "/favicon.ico")
        assert response.status_code == 200
        assert response.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"


@pytest.mark.parametrize("base, path", [
    (PAYMENTS, "/docs/payments/1.0/"), (PAYMENTS, "/docs/wiki/1.0/"), (MAIN, "/_/api/projects"),
    (MAIN, "/_/api/search?q=ledger"), (PAYMENTS, "/docs/payments/switcher.json"), (MAIN, "/docs/payments/"),
])
def test_no_response_lets_another_origin_read_it(client, projects, base, path):
    for method in ("GET", "OPTIONS"):
        with client.open(path, base_url=base, method=method, headers={"Origin": WIKI}) as response:
            assert not [name for name in response.headers.keys() if name.lower().startswith("access-control-")]


def test_one_origin_for_every_project_serves_every_project_on_any_host(s3, tmp_path):
    app = create_app({"S3_BUCKET": BUCKET, "S3_REGION": "us-east-1"})
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<h1>payments</h1>")
    result = app.test_cli_runner().invoke(args=["docs", "publish", str(tmp_path / "site"), "--project", "payments", "--version", "1.0"])
    assert result.exit_code == 0, result.output
    client = app.test_client()
    for base in (MAIN, WIKI, PAYMENTS):
        assert get(client, base, "/docs/payments/1.0/").status_code == 200


# --- every link points at the right host ---

def test_the_landing_page_links_each_project_on_its_own_host(client, projects):
    response = get(client, MAIN, "/_/")
    links = hrefs(response.get_data(as_text=True))
    assert "//payments.docs.test/docs/payments/" in links
    assert "//payments.docs.test/docs/payments/2.0/" in links
    assert "//wiki.docs.test/docs/wiki/1.0/" in links
    assert "/_/projects/payments" in links
    assert not [link for link in links if link.startswith("/docs/")]


def test_the_landing_pages_kept_html_is_not_reused_across_ports(client, projects):
    assert "//wiki.docs.test:8080/docs/wiki/" in hrefs(get(client, "http://docs.test:8080", "/_/").get_data(as_text=True))
    assert "//wiki.docs.test:9090/docs/wiki/" in hrefs(get(client, "http://docs.test:9090", "/_/").get_data(as_text=True))


def test_the_project_page_links_versions_aliases_and_files_on_the_projects_host(client, projects):
    links = hrefs(get(client, MAIN, "/_/projects/payments").get_data(as_text=True))
    for link in ("//payments.docs.test/docs/payments/", "//payments.docs.test/docs/payments/1.0/",
                 "//payments.docs.test/docs/payments/stable/", "//payments.docs.test/docs/payments/versions.json",
                 "//payments.docs.test/docs/payments/switcher.json", "/_/api/projects/payments", "/_/"):
        assert link in links


def test_the_api_names_each_projects_urls_on_its_host(client, projects):
    listing = json.loads(get(client, MAIN, "/_/api/projects").data)
    assert {project["name"]: project["url"] for project in listing["projects"]} == {
        "payments": "//payments.docs.test/docs/payments/", "wiki": "//wiki.docs.test/docs/wiki/"}
    detail = json.loads(get(client, MAIN, "/_/api/projects/payments").data)
    assert [version["url"] for version in detail["versions"]] == [
        "//payments.docs.test/docs/payments/2.0/", "//payments.docs.test/docs/payments/1.0/"]


def test_search_results_link_to_the_projects_host(client, projects):
    answer = json.loads(get(client, MAIN, "/_/api/search?q=ledger").data)
    urls = {hit["url"] for hit in answer["results"]}
    assert urls == {"//payments.docs.test/docs/payments/2.0/", "//wiki.docs.test/docs/wiki/1.0/"}
    page = get(client, MAIN, "/_/search?q=ledger").get_data(as_text=True)
    assert "//payments.docs.test/docs/payments/2.0/" in hrefs(page)


def test_aliases_and_the_project_root_stay_on_the_projects_host(client, projects):
    assert get(client, PAYMENTS, "/docs/payments/").headers["Location"] == "/docs/payments/2.0/"
    assert get(client, PAYMENTS, "/docs/payments/latest/guide/?x=1").headers["Location"] == "/docs/payments/2.0/guide/?x=1"
    assert get(client, PAYMENTS, "/docs/payments/1/").headers["Location"] == "/docs/payments/1.0/"


def test_versions_json_and_switcher_json_name_the_projects_own_host(client, projects):
    versions = json.loads(get(client, PAYMENTS, "/docs/payments/versions.json").data)
    assert [entry["version"] for entry in versions] == ["2.0", "1.0"]
    switcher = json.loads(get(client, PAYMENTS, "/docs/payments/switcher.json").data)
    urls = [urlsplit(entry["url"]) for entry in switcher]
    # Absolute on the project's host, or path-absolute (which the browser resolves against that same host).
    assert {url.netloc for url in urls} <= {"", "payments.docs.test"}
    assert [url.path for url in urls] == ["/docs/payments/2.0/", "/docs/payments/1.0/"]


def test_the_unknown_version_page_on_a_project_host_links_the_portal_on_the_main_host(client, projects):
    response = get(client, PAYMENTS, "/docs/payments/9.9/guide/")
    assert response.status_code == 404
    links = hrefs(response.get_data(as_text=True))
    assert "//docs.test/_/switch/payments/2.0/guide/" in links
    assert "//docs.test/_/projects/payments" in links
    assert "//docs.test/_/" in links
    assert "/docs/payments/1.0/" in links


def test_switching_versions_on_the_main_host_lands_on_the_projects_host(client, projects):
    response = get(client, MAIN, "/_/switch/payments/1.0/guide/")
    assert response.headers["Location"] == "//payments.docs.test/docs/payments/1.0/guide/"
    assert get(client, MAIN, "/_/switch/nosuch/1.0/").headers["Location"] == "/docs/"


def test_a_listing_on_a_project_host_links_its_docs_root_to_the_portal(client, projects):
    response = get(client, WIKI, "/docs/wiki/files/")
    assert response.status_code == 200
    links = hrefs(response.get_data(as_text=True))
    assert links[0] == "//docs.test/_/"
    assert "./report.txt" in links


# --- the proxy in front ---

@pytest.fixture
def behind_proxy(s3, projects):
    """An app trusting one proxy's X-Forwarded-* headers, on the same bucket."""
    return create_app({"S3_BUCKET": BUCKET, "S3_REGION": "us-east-1", "DOCS_PROJECT_HOSTS": "{project}.docs.test",
                       "DOCS_TRUSTED_PROXIES": 1}).test_client()


def test_a_forwarded_host_that_disagrees_with_the_host_is_refused(behind_proxy):
    # A page on wiki's host can set X-Forwarded-Host on its own fetch; a proxy that passed it on
    # would make wiki's origin read payments.
    response = get(behind_proxy, WIKI, "/docs/payments/1.0/", headers={"X-Forwarded-Host": "payments.docs.test"})
    assert response.status_code == 400
    assert b"X-Forwarded-Host" in response.data and b"payments 1.0" not in response.data


def test_a_forwarded_host_that_agrees_with_the_host_is_served(behind_proxy):
    response = get(behind_proxy, "http://payments.docs.test:8443", "/docs/payments/1.0/",
                   headers={"X-Forwarded-Host": "payments.docs.test", "X-Forwarded-Proto": "https"})
    assert response.status_code == 200 and b"payments 1.0" in response.data


# --- metrics ---

def test_metrics_count_requests_on_every_host_without_a_label_per_host(client, projects):
    from tests.ops.conftest import parse_metrics

    for base in (MAIN, PAYMENTS, WIKI, "http://other.docs.test"):
        get(client, base, "/docs/payments/1.0/")
    metrics = parse_metrics(get(client, MAIN, "/_/metrics").get_data(as_text=True))
    values = {value for (_, labels) in metrics for _, value in labels}
    assert not [value for value in values if "docs.test" in value]
    assert metrics[("docs_proxy_http_requests_total", frozenset({"route": "docs", "method": "GET", "status": "3xx"}.items()))] == 3
    assert metrics[("docs_proxy_http_requests_total", frozenset({"route": "docs", "method": "GET", "status": "2xx"}.items()))] >= 1


# --- error documents, access control, the cache, other packages' routes ---

def test_a_project_host_shows_its_own_error_document_never_the_bucket_roots(s3, projects):
    s3.put_object(Bucket=BUCKET, Key="404.html", Body=b"<p>root 404</p>", ContentType="text/html")
    app = create_app({"S3_BUCKET": BUCKET, "S3_REGION": "us-east-1", "DOCS_PROJECT_HOSTS": "{project}.docs.test",
                      "DOCS_ERROR_DOCUMENT": "404.html"})
    client = app.test_client()
    html = {"Accept": "text/html"}
    response = get(client, WIKI, "/docs/wiki/1.0/missing.html", headers=html)
    assert response.status_code == 404 and b"root 404" not in response.data
    s3.put_object(Bucket=BUCKET, Key="wiki/404.html", Body=b"<p>wiki 404</p>", ContentType="text/html")
    app.extensions["website.errordocs"].entries.clear()
    assert get(client, WIKI, "/docs/wiki/1.0/missing.html", headers=html).data == b"<p>wiki 404</p>"
    # On one origin the root's error document serves every project, as before.
    single = create_app({"S3_BUCKET": BUCKET, "S3_REGION": "us-east-1", "DOCS_ERROR_DOCUMENT": "404.html"}).test_client()
    assert get(single, MAIN, "/docs/payments/1.0/missing.html", headers=html).data == b"<p>root 404</p>"


@pytest.fixture
def signed_in(s3, projects, tmp_path):
    """An app with basic sign-in (alice, bob) where only alice may read payments."""
    from tests.access.conftest import basic, htpasswd_line

    (tmp_path / "rules.toml").write_text('default = "authenticated"\n[[rule]]\npath = "payments/"\nusers = ["alice"]\n')
    (tmp_path / "htpasswd").write_text(htpasswd_line("alice", "wonderland") + "\n" + htpasswd_line("bob", "builder") + "\n")
    app = create_app({"S3_BUCKET": BUCKET, "S3_REGION": "us-east-1", "DOCS_PROJECT_HOSTS": "{project}.docs.test",
                      "DOCS_AUTH": "basic", "DOCS_AUTH_HTPASSWD": str(tmp_path / "htpasswd"),
                      "DOCS_ACCESS_RULES": str(tmp_path / "rules.toml")})
    return app.test_client(), {"alice": {"Authorization": basic("alice", "wonderland")},
                               "bob": {"Authorization": basic("bob", "builder")}}


def test_access_rules_decide_on_the_projects_own_host(signed_in):
    client, readers = signed_in
    assert get(client, PAYMENTS, "/docs/payments/1.0/", headers=readers["alice"]).status_code == 200
    assert get(client, PAYMENTS, "/docs/payments/1.0/", headers=readers["bob"]).status_code == 403
    refused = get(client, PAYMENTS, "/docs/payments/1.0/")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Basic")
    assert get(client, WIKI, "/docs/wiki/1.0/", headers=readers["bob"]).status_code == 200


def test_a_redirect_to_the_right_host_asks_for_no_sign_in_and_tells_nothing(signed_in):
    client, readers = signed_in
    for headers in ({}, readers["bob"], {"Authorization": "Basic bad"}):
        response = get(client, WIKI, "/docs/payments/1.0/", headers=headers)
        assert response.status_code == 302 and "WWW-Authenticate" not in response.headers
    assert get(client, MAIN, "/docs/payments/nosuch/").headers["Location"] == "//payments.docs.test/docs/payments/nosuch/"


def test_a_cached_page_is_served_only_on_its_projects_host(client, projects):
    assert get(client, PAYMENTS, "/docs/payments/1.0/").headers["X-Cache"] == "MISS"
    assert get(client, PAYMENTS, "/docs/payments/1.0/").headers["X-Cache"] == "HIT"
    for base in (WIKI, MAIN, "http://10.0.0.7"):
        response = get(client, base, "/docs/payments/1.0/")
        assert response.status_code == 302 and "X-Cache" not in response.headers and b"payments" not in response.data


def test_a_package_may_let_its_routes_answer_on_project_hosts_and_the_rest_go_to_the_main_host(s3):
    from flask import Blueprint, request

    from app import hosts

    app = create_app({"S3_BUCKET": BUCKET, "S3_REGION": "us-east-1", "DOCS_PROJECT_HOSTS": "{project}.docs.test"})
    for name in ("widget", "extra"):
        blueprint = Blueprint(name, __name__)
        blueprint.add_url_rule(f"/_/{name}.js", "script", lambda: "script")
        blueprint.add_url_rule(f"/_/{name}/api/<project>", "context", lambda project: f"about {project}")
        blueprint.add_url_rule(f"/_/{name}/find", "find", lambda: f"found in {request.args.get('project')}")
        app.register_blueprint(blueprint)
    hosts.serve_on_project_hosts(app, "widget")
    hosts.serve_on_project_hosts(app, "widget.context", project_arg="project")
    hosts.serve_on_project_hosts(app, "widget.find", project_arg="project")
    client = app.test_client()
    assert get(client, PAYMENTS, "/_/widget.js").data == b"script"
    assert get(client, PAYMENTS, "/_/widget/api/payments").data == b"about payments"
    assert get(client, PAYMENTS, "/_/widget/find?project=payments").data == b"found in payments"
    # Another project's, or every project's, is not answered on this host: its own host (or the main host) answers.
    assert get(client, PAYMENTS, "/_/widget/api/wiki?x=1").headers["Location"] == "//wiki.docs.test/_/widget/api/wiki?x=1"
    assert get(client, PAYMENTS, "/_/widget/api/My_Lib").headers["Location"] == "//docs.test/_/widget/api/My_Lib"
    assert get(client, PAYMENTS, "/_/widget/find?project=wiki").headers["Location"] == "//wiki.docs.test/_/widget/find?project=wiki"
    assert get(client, PAYMENTS, "/_/widget/find").headers["Location"] == "//docs.test/_/widget/find"
    # A blueprint that did not ask answers on the main host only.
    assert get(client, PAYMENTS, "/_/extra.js").headers["Location"] == "//docs.test/_/extra.js"
    assert get(client, PAYMENTS, "/_/extra/api/payments").headers["Location"] == "//docs.test/_/extra/api/payments"
    assert get(client, MAIN, "/_/extra.js").data == b"script"
    assert get(client, MAIN, "/_/widget/find").data == b"found in None"


# --- the hub (issue 23) on each project's own host ---

@pytest.fixture
def hub_client(s3, projects):
    """An app with the hub on for every project, on the same bucket."""
    return create_app({"S3_BUCKET": BUCKET, "S3_REGION": "us-east-1", "DOCS_PORTAL_TTL": 0.0, "DOCS_HUB": "on",
                       "DOCS_PROJECT_HOSTS": "{project}.docs.test"}).test_client()


def test_the_hubs_script_and_context_answer_on_the_projects_own_host(hub_client):
    page = get(hub_client, PAYMENTS, "/docs/payments/1.0/guide/").get_data(as_text=True)
    api = re.search(r'name="docs-hub-api" content="([^"]+)"', page).group(1)
    script = re.search(r'<script defer src="([^"]+)"', page).group(1)
    assert api == "/_/hub/api/payments/1.0" and script.startswith("/_/hub/hub.js?v=")  # this host's own paths
    assert get(hub_client, PAYMENTS, script).status_code == 200
    response = get(hub_client, PAYMENTS, api + "?page=guide/")
    assert response.status_code == 200
    context = json.loads(response.data)
    assert {entry["name"]: entry["url"] for entry in context["versions"]} == {
        "2.0": "/docs/payments/2.0/guide/", "1.0": "/docs/payments/1.0/guide/"}
    assert context["project"]["url"] == "//docs.test/_/projects/payments"
    assert context["portal"] == "//docs.test/docs/"
    assert context["search"] == {"api": "/_/api/search", "page": "//docs.test/_/search", "all_projects": False}


def test_the_hubs_context_of_another_project_is_answered_only_on_that_projects_host(hub_client):
    response = get(hub_client, PAYMENTS, "/_/hub/api/wiki/1.0?page=")
    assert response.status_code == 302 and response.headers["Location"] == "//wiki.docs.test/_/hub/api/wiki/1.0?page="
    assert get(hub_client, WIKI, "/_/hub/api/wiki/1.0?page=").status_code == 200


def test_on_a_project_host_the_search_api_searches_that_project_only(hub_client):
    answer = json.loads(get(hub_client, PAYMENTS, "/_/api/search?q=ledger&project=payments&version=all").data)
    assert {hit["project"] for hit in answer["results"]} == {"payments"}
    assert {hit["url"] for hit in answer["results"]} == {"/docs/payments/2.0/", "/docs/payments/1.0/"}
    for path, location in (
        ("/_/api/search?q=ledger", "//docs.test/_/api/search?q=ledger"),
        ("/_/api/search?q=ledger&project=wiki", "//wiki.docs.test/_/api/search?q=ledger&project=wiki"),
        ("/_/search?q=ledger&project=payments", "//docs.test/_/search?q=ledger&project=payments"),
    ):
        response = get(hub_client, PAYMENTS, path)
        assert (response.status_code, response.headers["Location"]) == (302, location)
    # On the main host, the hub may search every project, as on one origin.
    context = json.loads(get(hub_client, MAIN, "/_/hub/api/payments/1.0?page=").data)
    assert context["search"]["all_projects"] is True
    assert context["versions"][0]["url"] == "//payments.docs.test/docs/payments/2.0/"
