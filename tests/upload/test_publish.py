"""PUT an archive over real HTTP: the same publish as the CLI, new (201) then replaced (200), in every archive format."""

import json

import pytest
import requests

from tests.upload.conftest import make_tar, make_zip, page

FIRST = {
    "index.html": page("Payments", "Welcome to payments"),
    "guide/intro.html": page("Introduction", "How refunds work"),
    "guide/old.html": page("Old page", "going away"),
    "_static/app.3f2a9c1b7d.js": b"console.log(1)",
    "_static/style.css": b"body { color: black }",
    "_redirects": b"/moved.html /guide/intro.html\n",
}


@pytest.mark.parametrize("content_type, build", [
    ("application/x-tar", make_tar),
    ("application/gzip", lambda files: make_tar(files, "gz")),
    ("application/zip", make_zip),
])
def test_an_archive_is_published_like_the_cli_would(site, content_type, build):
    project = "fmt-" + content_type.split("/")[1].replace("x-", "")
    token = site.token(projects=(project,))
    response = site.put(project, "1.0.0", build(FIRST), token, content_type)
    assert response.status_code == 201, response.text
    summary = response.json()
    assert summary["files"] == 5 and summary["uploaded"] == 5 and summary["unchanged"] == 0 and summary["redirects"] == 1
    assert summary["url"] == f"/docs/{project}/1.0.0/" and summary["created"] is True

    head = site.s3.head_object(Bucket=site.bucket, Key=f"{project}/1.0.0/_static/app.3f2a9c1b7d.js")
    assert head["ContentType"] == "text/javascript; charset=utf-8"
    assert head["CacheControl"] == "public, max-age=31536000, immutable"
    assert site.s3.head_object(Bucket=site.bucket, Key=f"{project}/1.0.0/index.html")["CacheControl"] == "no-cache"
    with requests.get(f"{site.url}/docs/{project}/1.0.0/moved.html", allow_redirects=False, timeout=10) as moved:
        assert moved.status_code == 301 and moved.headers["Location"].endswith(f"/docs/{project}/1.0.0/guide/intro.html")
    with requests.get(f"{site.url}/docs/{project}/latest/", timeout=10) as latest:
        assert latest.status_code == 200 and "Welcome to payments" in latest.text
    assert not site.keys(".docs-staging/") and not site.keys(".docs-locks/") and not site.pending_multipart()


def test_a_second_upload_replaces_the_version_and_sends_only_what_changed(site):
    token = site.token(projects=("replaced",), actions=("publish", "alias"))
    assert site.put("replaced", "1.0.0", make_tar(FIRST), token).status_code == 201
    second = {**FIRST, "guide/intro.html": page("Introduction", "Refunds, second edition")}
    del second["guide/old.html"]
    response = site.put("replaced", "1.0.0", make_tar(second), token, params={"alias": "lts", "title": "Payments API",
                                                                             "description": "Money in, money out", "tag": "api"})
    assert response.status_code == 200, response.text
    summary = response.json()
    assert (summary["uploaded"], summary["unchanged"], summary["deleted"], summary["created"]) == (1, 3, 1, False)
    assert summary["suggested_redirects"] == ["/guide/old.html / 301"]
    assert summary["aliases"] == ["lts"]
    assert "replaced/1.0.0/guide/old.html" not in site.keys("replaced/")
    project = requests.get(f"{site.url}/_/api/projects/replaced", timeout=10).json()
    assert project["title"] == "Payments API" and project["tags"] == ["api"]
    assert set(project["versions"][0]["aliases"]) == {"latest", "lts", "stable"}
    found = requests.get(f"{site.url}/_/api/search", params={"q": "second edition"}, timeout=10).json()
    assert any("replaced" in json.dumps(hit) for hit in found.get("results", found.get("hits", [])))


def test_a_hidden_version_is_served_but_listed_nowhere(site):
    token = site.token(projects=("hiding",), actions=("publish", "hide"))
    assert site.put("hiding", "1.0.0", make_tar(FIRST), token).status_code == 201
    assert site.put("hiding", "2.0.0", make_tar(FIRST), token, params={"hidden": "1"}).status_code == 201
    with requests.get(f"{site.url}/docs/hiding/2.0.0/", timeout=10) as served:
        assert served.status_code == 200
    versions = requests.get(f"{site.url}/docs/hiding/versions.json", timeout=10).json()
    assert [entry["version"] for entry in versions] == ["1.0.0"]
    publish_only = site.token(projects=("hiding",))
    assert site.put("hiding", "3.0.0", make_tar(FIRST), publish_only, params={"hidden": "1"}).status_code == 403


def test_a_token_with_the_delete_action_deletes_a_version_or_a_preview(site):
    token = site.token(projects=("deleting",), actions=("publish", "alias", "preview", "delete"))
    assert site.put("deleting", "1.0.0", make_tar(FIRST), token).status_code == 201
    assert site.put("deleting", "2.0.0", make_tar(FIRST), token, params={"alias": "lts"}).status_code == 201
    assert site.put("deleting", "pr-3", make_tar(FIRST), token, kind="previews").status_code == 201
    publisher = site.token(projects=("deleting",))
    url = f"{site.url}/_/api/projects/deleting"
    assert requests.delete(f"{url}/versions/2.0.0", headers={"Authorization": f"Bearer {publisher}"}, timeout=10).status_code == 403
    deleted = requests.delete(f"{url}/versions/2.0.0", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["unpinned"] == ["lts"] and deleted.json()["deleted"] >= 5
    assert not site.keys("deleting/2.0.0/") and site.keys("deleting/1.0.0/")
    assert [version["name"] for version in requests.get(url, timeout=10).json()["versions"]] == ["1.0.0"]
    wrong_kind = requests.delete(f"{url}/versions/pr-3", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert wrong_kind.status_code == 409
    assert requests.delete(f"{url}/previews/pr-3", headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code == 200
    assert not site.keys("deleting/pr-3/")
    assert requests.delete(f"{url}/versions/9.9.9", headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 404


def test_everything_lands_below_s3_prefix_when_one_is_set(site_factory):
    site = site_factory({"S3_PREFIX": "docs-site/"})
    token = site.token(projects=("prefixed",), actions=("publish", "preview"))
    assert site.put("prefixed", "1.0.0", make_tar(FIRST), token).status_code == 201
    assert site.put("prefixed", "pr-1", make_tar(FIRST), token, kind="previews").status_code == 201
    assert [key for key in site.keys() if not key.startswith("docs-site/")] == []
    assert "docs-site/prefixed/1.0.0/index.html" in site.keys() and "docs-site/.docs-portal.json" in site.keys()
    with requests.get(f"{site.url}/docs/prefixed/latest/guide/intro.html", timeout=10) as served:
        assert served.status_code == 200 and "How refunds work" in served.text
