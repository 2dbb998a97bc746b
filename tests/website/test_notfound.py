"""The missing page for people: a portal-look 404 for browsers, S3's answer for everyone else, HEAD as GET."""

import pytest

from app.website.notfound import path_words
from tests.conftest import BUCKET

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture
def app_config():
    """The index re-read on every request, so a publish shows at once."""
    return {"S3_BUCKET": BUCKET, "S3_REGION": "us-east-1", "DOCS_PORTAL_TTL": 0.0, "DOCS_SEARCH_BUILD_WAIT": 10.0}


def write(root, files):
    """Write ``files`` (relative path -> text) below ``root``; return ``root``."""
    for relpath, text in files.items():
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).write_text(text)
    return root


@pytest.fixture
def published(app, tmp_path):
    """payments 1.0 (with guide/refunds.html), 2.0 (without it) and 2.1, the default, with a 404.html of its own."""
    runner = app.test_cli_runner()
    sites = {
        "1.0": {"index.html": "<title>Payments 1.0</title><h1>Payments</h1>",
                "guide/refunds.html": "<title>Refunds</title><h1>Refunds</h1><p>Partial refunds are allowed.</p>"},
        "2.0": {"index.html": "<title>Payments 2.0</title><h1>Payments</h1>",
                "guide/charges.html": "<title>Charges</title><h1>Charges</h1><p>Refunds live elsewhere now.</p>"},
        "2.1": {"index.html": "<title>Payments 2.1</title>", "404.html": "<title>Own 404</title><h1>Lost in 2.1</h1>",
                "guide/charges.html": "<title>Charges</title><h1>Charges</h1><p>Refunds live elsewhere now.</p>"},
    }
    for version, files in sites.items():
        source = write(tmp_path / version, files)
        result = runner.invoke(args=["docs", "publish", str(source), "--project", "payments", "--version", version])
        assert result.exit_code == 0, result.output


@pytest.mark.parametrize("path, skip, words", [
    ("payments/2.0.0/guide/refund-policy.html", ("payments", "2.0.0"), ["guide", "refund", "policy"]),
    ("guide/index.html", (), ["guide"]),
    ("a/b_c/Install%20Me.HTM", (), ["a", "b", "c", "install", "20me"]),
    ("2024/01/", (), []),
    ("", (), []),
])
def test_the_words_of_a_path_are_what_search_gets(path, skip, words):
    assert path_words(path, skip) == words


def test_a_browser_asking_for_a_missing_page_gets_the_portal_look_404_with_ways_on(client, published):
    response = client.get("/docs/payments/2.0/guide/refunds.html", headers=BROWSER)
    assert response.status_code == 404
    assert response.content_type == "text/html; charset=utf-8"
    page = response.text
    assert "Page not found" in page and "docs<span>/</span>portal" in page
    assert 'href="/docs/payments/1.0/guide/refunds.html"' in page  # the same page in another version
    assert 'href="/docs/payments/2.0/"' in page  # the version's root
    assert "Search results for “guide refunds”" in page
    assert "/docs/payments/" in page.split('id="search-results"')[1]


def test_search_results_on_the_404_page_come_from_the_words_of_the_path_in_the_default_version(client, published):
    page = client.get("/docs/payments/2.0/charges.html", headers=BROWSER).text
    results = page.split('id="search-results"')[1]
    assert 'href="/docs/payments/2.1/guide/charges.html' in results


def test_other_clients_keep_s3s_answer(client, published):
    response = client.get("/docs/payments/2.0/guide/refunds.html")
    assert response.status_code == 404
    assert response.content_type == "application/xml"
    assert b"<Code>NoSuchKey</Code>" in response.data
    assert response.headers["Vary"] == "Accept"  # a browser gets another answer at the same URL


@pytest.mark.parametrize("headers", [BROWSER, {}], ids=["browser", "other client"])
def test_head_and_get_of_a_missing_page_agree_on_status_type_and_length(client, published, headers):
    path = "/docs/payments/2.0/guide/refunds.html"
    get = client.get(path, headers=headers)
    head = client.head(path, headers=headers)
    assert head.data == b""
    assert (head.status_code, head.content_type, head.content_length) == (get.status_code, get.content_type, len(get.data))


def test_a_version_published_with_a_404_html_answers_with_its_own(client, published):
    response = client.get("/docs/payments/2.1/nothing/here.html", headers=BROWSER)
    assert (response.status_code, response.text) == (404, "<title>Own 404</title><h1>Lost in 2.1</h1>")
    assert response.headers["Vary"] == "Accept"
    head = client.head("/docs/payments/2.1/nothing/here.html", headers=BROWSER)
    assert (head.status_code, head.content_type, head.content_length) == (404, response.content_type, len(response.data))


def test_a_missing_page_outside_any_project_still_gets_the_page_for_browsers(client, s3):
    s3.put_object(Bucket=BUCKET, Key="plain/index.html", Body=b"<p>plain</p>", ContentType="text/html")
    response = client.get("/docs/plain/gone.html", headers=BROWSER)
    assert response.status_code == 404
    assert "Page not found" in response.text and "/docs/plain/gone.html" in response.text
    assert "Every version of" not in response.text
