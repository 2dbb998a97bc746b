"""Which projects get the hub, which keys are pages, and what a version's menu entry and notice are (pure)."""

import pytest

from app.hub import policy


@pytest.mark.parametrize("mode, setting, expected", [
    ("off", None, False),
    ("off", True, True),
    ("off", False, False),
    ("on", None, True),
    ("on", True, True),
    ("on", False, False),
])
def test_docs_hub_and_the_projects_own_setting_decide_together(mode, setting, expected):
    assert policy.is_enabled(mode, setting) is expected


@pytest.mark.parametrize("path, expected", [
    ("p/1.0/guide/x.html", ("p", "1.0", "guide/x.html")),
    ("p/1.0/", ("p", "1.0", "")),
    ("p/1.0", None),
    ("p/", None),
    ("", None),
])
def test_a_document_path_inside_a_version_splits_into_project_version_and_rest(path, expected):
    assert policy.split_version_path(path) == expected


@pytest.mark.parametrize("key, expected", [
    ("p/1.0/index.html", True),
    ("p/1.0/guide/install.HTM", True),
    ("p/1.0/guide/", False),
    ("p/1.0/_static/app.js", False),
    ("p/1.0/guide/install", False),
])
def test_only_html_keys_are_pages(key, expected):
    assert policy.is_page_key(key, "index.html") is expected


@pytest.mark.parametrize("relkey, page", [
    ("index.html", ""),
    ("guide/index.html", "guide/"),
    ("guide/install.html", "guide/install.html"),
])
def test_an_index_document_stands_for_its_folder(relkey, page):
    assert policy.page_name(relkey, "index.html") == page


@pytest.mark.parametrize("kind, hidden, is_default, newer, expected", [
    ("release", False, True, False, None),
    ("release", False, False, False, "outdated"),
    ("prerelease", False, False, True, "prerelease"),
    ("prerelease", False, False, False, "outdated"),  # an old release candidate
    ("development", False, False, False, "development"),
    ("line", False, False, True, "development"),
    ("release", True, False, False, "hidden"),
    ("release", True, True, False, "hidden"),
])
def test_each_version_gets_its_notice(kind, hidden, is_default, newer, expected):
    assert policy.notice(kind, hidden, is_default, newer) == expected


def docs_url(project, version, page):
    return f"/docs/{project}/{version}/{page}"


def switch_url(project, version, page):
    return f"/_/switch/{project}/{version}/{page}"


@pytest.mark.parametrize("page, pages, expected", [
    ("guide/install.html", {"guide/install.html", "index.html"}, "/docs/p/2.0/guide/install.html"),
    ("guide/", {"guide/index.html"}, "/docs/p/2.0/guide/"),
    ("gone.html", {"index.html"}, "/docs/p/2.0/"),
    ("", {"index.html"}, "/docs/p/2.0/"),
    ("guide/install.html", None, "/_/switch/p/2.0/guide/install.html"),
])
def test_a_menu_entry_leads_to_the_same_page_when_the_manifest_has_it_else_the_root(page, pages, expected):
    assert policy.version_url(docs_url, switch_url, "p", "2.0", page, pages, "index.html") == expected


@pytest.mark.parametrize("kind, is_default, newer", [("release", False, False), ("development", False, False), ("release", True, False)])
def test_a_preview_says_so_before_any_other_notice(kind, is_default, newer):
    assert policy.notice(kind, True, is_default, newer, preview=True) == "preview"
