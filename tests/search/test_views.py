"""/_/search and /_/api/search through Flask's test client, on sites published with `flask docs publish` to moto."""

import threading

import pytest

from app import access
from app.access.settings import AccessControl
from app.search import SERVICE
from tests.search.conftest import write_site
from tests.search.test_query import HOSTILE


@pytest.fixture
def two_projects(publish, built_sites):
    publish(built_sites["sphinx"], "sphinx", "1.0")
    publish(built_sites["mkdocs"], "mkdocs", "2.0")


@pytest.fixture
def tiny_projects(publish, tmp_path):
    """Two small projects whose pages both mention tesseract (cheaper to publish than the real sites)."""
    publish(write_site(tmp_path / "sphinx", {"index.html": ("Home", [("intro", "Intro", "hello")]),
                                             "usage.html": ("Usage", [("usage", "Use", "tesseract here")])}),
            "sphinx", "1.0")
    publish(write_site(tmp_path / "mkdocs", {"guide/usage/index.html": ("Usage", [("u", "Use", "tesseract too")])}),
            "mkdocs", "2.0")


@pytest.fixture
def access_rules(monkeypatch):
    """Access control on, with ``may_read`` standing for its rules: ``access_rules(may_read)``."""

    def use(may_read):
        monkeypatch.setattr(AccessControl, "is_open", property(lambda self: False))
        monkeypatch.setattr(access, "may_read", may_read)

    return use


def search(client, status=200, **params):
    response = client.get("/_/api/search", query_string=params)
    assert response.status_code == status, response.text
    return response.json if status == 200 else response.text


def test_a_phrase_is_found_with_its_project_version_heading_anchor_and_highlight(client, two_projects):
    answer = search(client, q="quokka threshold")

    assert answer["total"] == 1
    hit = answer["results"][0]
    assert (hit["project"], hit["version"], hit["title"], hit["heading"]) == (
        "sphinx", "1.0", "Advanced topics", "Tuning the worker pool")
    assert hit["url"] == "/docs/sphinx/1.0/guide/advanced/#tuning-the-worker-pool"
    assert "<mark>quokka</mark> <mark>threshold</mark>" in hit["snippet_html"]
    assert "Raise the quokka threshold" in hit["snippet"]


def test_the_results_page_links_each_hit_to_its_heading(client, two_projects):
    response = client.get("/_/search?q=marmalade")

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert 'href="/docs/mkdocs/2.0/guide/install/#upgrading-from-an-older-release"' in response.text
    assert "<mark>marmalade</mark>" in response.text
    assert "1 result." in response.text


def test_the_search_page_without_a_query_shows_the_box_and_the_projects(client, tiny_projects):
    response = client.get("/_/search")

    assert response.status_code == 200
    assert 'name="q"' in response.text and '<option value="sphinx">' in response.text


def test_the_landing_page_and_project_page_carry_a_search_box(client, tiny_projects):
    landing = client.get("/docs/").text
    project = client.get("/_/projects/mkdocs").text

    assert 'action="/_/search"' in landing
    assert 'action="/_/search"' in project and '<input type="hidden" name="project" value="mkdocs">' in project


def test_a_project_scope_searches_only_that_project(client, tiny_projects):
    everywhere = search(client, q="tesseract")
    mkdocs = search(client, q="tesseract", project="mkdocs")

    assert {hit["project"] for hit in everywhere["results"]} == {"sphinx", "mkdocs"}
    assert {hit["project"] for hit in mkdocs["results"]} == {"mkdocs"}


def test_only_the_default_version_is_searched_unless_all_versions_are_asked_for(client, publish, tmp_path):
    publish(write_site(tmp_path / "old", {"index.html": ("Old", [("w", "Wombat", "wombat in the old release")])}),
            "zoo", "1.0")
    publish(write_site(tmp_path / "new", {"index.html": ("New", [("w", "Wombat", "wombat in the new release")])}),
            "zoo", "2.0")

    default = search(client, q="wombat")
    every = search(client, q="wombat", project="zoo", version="all")
    one = search(client, q="wombat", project="zoo", version="1.0")

    assert [hit["version"] for hit in default["results"]] == ["2.0"]
    assert sorted(hit["version"] for hit in every["results"]) == ["1.0", "2.0"]
    assert [hit["version"] for hit in one["results"]] == ["1.0"]


def test_results_include_only_what_the_reader_may_read(client, tiny_projects, access_rules):
    access_rules(lambda path: not path.startswith("mkdocs/"))

    answer = search(client, q="tesseract")

    assert {hit["project"] for hit in answer["results"]} == {"sphinx"}
    assert answer["total"] == 1
    assert "no project named 'mkdocs'" in search(client, 404, q="tesseract", project="mkdocs")
    assert '<option value="mkdocs">' not in client.get("/_/search").text


def test_a_page_the_reader_may_not_read_is_left_out_of_its_version(client, tiny_projects, access_rules):
    access_rules(lambda path: "usage" not in path)

    assert {hit["path"] for hit in search(client, q="tesseract")["results"]} == set()


def test_results_are_paginated_in_rank_order(client, publish, tmp_path):
    pages = {f"p{number:02d}.html": (f"Page {number}", [("s", "Section", "pangolin " + "filler " * number)])
             for number in range(25)}
    publish(write_site(tmp_path / "site", pages), "many", "1.0")

    answers = [search(client, q="pangolin", page=number) for number in (1, 2, 3)]

    assert [len(answer["results"]) for answer in answers] == [10, 10, 5]
    assert {(answer["total"], answer["pages"]) for answer in answers} == {(25, 3)}
    urls = [hit["url"] for answer in answers for hit in answer["results"]]
    assert len(set(urls)) == 25
    assert search(client, q="pangolin", page=4)["results"] == []
    html = client.get("/_/search?q=pangolin&page=2").text
    assert 'rel="prev" href="/_/search?q=pangolin&amp;page=1"' in html
    assert 'rel="next" href="/_/search?q=pangolin&amp;page=3"' in html


def test_hostile_queries_are_searched_as_text(client, tiny_projects):
    for text in HOSTILE:
        assert search(client, q=text)["page"] == 1
        assert client.get("/_/search", query_string={"q": text}).status_code == 200
    assert search(client, q='"tesseract" - * (')["total"] == 2


def test_a_query_of_a_thousand_characters_is_shortened_and_says_so(client, tiny_projects):
    answer = search(client, q="tesseract " * 100)

    assert answer["shortened"] is True
    assert answer["total"] == 2


def test_text_from_the_docs_is_escaped_in_the_results_page(client, publish, tmp_path):
    publish(write_site(tmp_path / "site", {"index.html": ("X", [("h", "Heading &lt;b&gt;", "narwhal &lt;script&gt;alert(1)&lt;/script&gt;")])}),
            "xss", "1.0")

    html = client.get("/_/search?q=narwhal").text
    answer = search(client, q="narwhal")

    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert answer["results"][0]["snippet"] == "narwhal <script>alert(1)</script>"
    assert "&lt;script&gt;" in answer["results"][0]["snippet_html"]


@pytest.mark.parametrize(("params", "status", "reason"), [
    ({}, 400, "give the words to search for"),
    ({"q": "x", "page": "0"}, 400, "page must be a whole number"),
    ({"q": "x", "page": "two"}, 400, "page must be a whole number"),
    ({"q": "x", "page": "101"}, 400, "page must be a whole number"),
    ({"q": "x", "project": "nope"}, 404, "no project named 'nope'"),
    ({"q": "x", "project": "sphinx", "version": "9.9"}, 404, "has no version '9.9'"),
    ({"q": "x", "version": "1.0"}, 400, "version needs a project"),
])
def test_bad_parameters_are_refused_with_a_reason(client, tiny_projects, params, status, reason):
    assert reason in search(client, status, **params)


def test_a_version_without_a_search_document_is_named_as_unsearchable(client, tiny_projects, s3):
    from tests.conftest import BUCKET

    s3.delete_object(Bucket=BUCKET, Key="mkdocs/2.0/.docs-search.json")

    answer = search(client, q="tesseract")

    assert answer["unsearchable"] == ["mkdocs/2.0"]
    assert {hit["project"] for hit in answer["results"]} == {"sphinx"}


def test_a_worker_without_an_index_yet_answers_503_rather_than_waiting_forever(app, client, tiny_projects):
    release = threading.Event()
    service = app.extensions[SERVICE]
    original = service._builder.load
    service._builder.load = lambda source: release.wait(10) and original(source)
    service._build_wait = 0.0
    try:
        response = client.get("/_/api/search?q=quokka")
    finally:
        release.set()

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "still being built" in response.text


def test_a_new_default_version_is_followed_without_blocking_requests(app, client, publish, tmp_path):
    publish(write_site(tmp_path / "one", {"index.html": ("One", [("a", "Axolotl", "axolotl first")])}), "zoo", "1.0")
    assert [hit["version"] for hit in search(client, q="axolotl")["results"]] == ["1.0"]
    release = threading.Event()
    service = app.extensions[SERVICE]
    original = service._builder.load
    service._builder.load = lambda source: release.wait(10) and original(source)

    publish(write_site(tmp_path / "two", {"index.html": ("Two", [("a", "Axolotl", "axolotl second")])}), "zoo", "2.0")
    while_building = search(client, q="axolotl")
    release.set()
    after = None
    for _ in range(200):
        after = search(client, q="axolotl")
        if after["results"][0]["version"] == "2.0":
            break
        threading.Event().wait(0.02)

    assert [hit["version"] for hit in while_building["results"]] == ["1.0"]
    assert [hit["version"] for hit in after["results"]] == ["2.0"]
