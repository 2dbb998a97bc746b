"""What changed between two versions: the pure comparison from tables, and the API and page over real HTTP."""

import pytest
import requests

from app.portal.diff import diff_manifests
from app.publishing.policy import RemoteObject
from tests.upload.conftest import make_tar, page


def manifest(**entries):
    """Return a decoded manifest of ``relkey=sha256`` entries (dots written as '_' in names)."""
    return {name.replace("_", "."): RemoteObject(name.replace("_", "."), "etag-" + sha, 1, "", sha) for name, sha in entries.items()}


@pytest.mark.parametrize("old, new, expected", [
    (manifest(a_html="1"), manifest(a_html="1"), {"added": [], "changed": [], "removed": []}),
    (manifest(a_html="1"), manifest(a_html="2"), {"added": [], "changed": ["a.html"], "removed": []}),
    (manifest(a_html="1"), manifest(b_html="1"), {"added": ["b.html"], "changed": [], "removed": ["a.html"]}),
    (manifest(a_html="1", s_css="1"), manifest(a_html="1", s_css="2", t_js="3"), {"added": [], "changed": [], "removed": []}),
    ({}, manifest(a_html="1"), {"added": ["a.html"], "changed": [], "removed": []}),
])
def test_pages_are_compared_by_checksum(old, new, expected):
    assert diff_manifests(old, new) == expected


def test_an_object_without_a_checksum_is_compared_by_etag():
    old = {"a.html": RemoteObject("a.html", "e1", 1)}
    assert diff_manifests(old, {"a.html": RemoteObject("a.html", "e2", 1)})["changed"] == ["a.html"]
    assert diff_manifests(old, {"a.html": RemoteObject("a.html", "e1", 1)})["changed"] == []


def test_the_diff_of_two_versions_lists_pages_with_links_into_both(site):
    token = site.token(projects=("compared",), actions=("publish", "preview"))
    old = {"index.html": page("Home"), "guide.html": page("Guide"), "gone.html": page("Gone"), "style.css": b"a{}"}
    new = {"index.html": page("Home"), "guide.html": page("Guide, revised"), "new.html": page("New"), "style.css": b"b{}"}
    assert site.put("compared", "1.0.0", make_tar(old), token).status_code == 201
    assert site.put("compared", "2.0.0", make_tar(new), token).status_code == 201
    assert site.put("compared", "pr-5", make_tar(old), token, kind="previews").status_code == 201

    diff = requests.get(f"{site.url}/_/api/projects/compared/diff", params={"from": "1.0.0", "to": "latest"}, timeout=10)
    assert diff.status_code == 200
    assert {key: diff.json()[key] for key in ("from", "to", "added", "changed", "removed")} == {
        "from": "1.0.0", "to": "2.0.0", "added": ["new.html"], "changed": ["guide.html"], "removed": ["gone.html"]}
    preview = requests.get(f"{site.url}/_/api/projects/compared/diff", params={"from": "2.0.0", "to": "pr-5"}, timeout=10).json()
    assert (preview["added"], preview["removed"]) == (["gone.html"], ["new.html"])

    html = requests.get(f"{site.url}/_/projects/compared/diff", params={"from": "1.0.0", "to": "2.0.0"}, timeout=10).text
    assert '/docs/compared/1.0.0/guide.html' in html and '/docs/compared/2.0.0/guide.html' in html
    assert '/docs/compared/2.0.0/new.html' in html and '/docs/compared/1.0.0/gone.html' in html
    assert '/docs/compared/1.0.0/new.html' not in html

    for params in ({"from": "1.0.0", "to": "9.9.9"}, {"from": "1.0.0"}, {"to": "1.0.0", "from": "../x"}):
        assert requests.get(f"{site.url}/_/api/projects/compared/diff", params=params, timeout=10).status_code == 404
    assert requests.get(f"{site.url}/_/api/projects/nothing/diff", params={"from": "a", "to": "b"}, timeout=10).status_code == 404


def test_the_project_page_offers_the_comparison(site):
    token = site.token(projects=("offered",))
    for version in ("1.0.0", "1.1.0"):
        assert site.put("offered", version, make_tar({"index.html": page(version)}), token).status_code == 201
    html = requests.get(f"{site.url}/_/projects/offered", timeout=10).text
    assert 'action="/_/projects/offered/diff"' in html and "<option selected>1.1.0</option>" in html
