"""Previews and direct uploads over real HTTP: unlisted, noindex, marked in the portal, removed by gc once expired."""

import base64
import json
from datetime import datetime, timedelta, timezone

import requests

from tests.upload.conftest import make_tar, page

SITE = make_tar({"index.html": page("Preview home", "pull request build"), "guide.html": page("Guide")})


def test_a_preview_is_served_unlisted_and_marked(site):
    token = site.token(projects=("previewed",), actions=("publish", "preview"))
    assert site.put("previewed", "1.0.0", make_tar({"index.html": page("Release")}), token).status_code == 201
    response = site.put("previewed", "pr-42", SITE, token, kind="previews", params={"expires": "2h", "commit": "abc123"})
    assert response.status_code == 201, response.text
    summary = response.json()
    expires = datetime.fromisoformat(summary["expires"])
    assert timedelta(hours=1, minutes=59) < expires - datetime.now(expires.tzinfo) <= timedelta(hours=2)

    with requests.get(f"{site.url}/docs/previewed/pr-42/guide.html", timeout=10) as served:
        assert served.status_code == 200 and served.headers["X-Robots-Tag"] == "noindex"
    with requests.get(f"{site.url}/docs/previewed/1.0.0/", timeout=10) as release:
        assert "X-Robots-Tag" not in release.headers
    with requests.get(f"{site.url}/docs/previewed/", allow_redirects=False, timeout=10) as default:
        assert default.headers["Location"].endswith("/docs/previewed/1.0.0/")
    assert [entry["version"] for entry in requests.get(f"{site.url}/docs/previewed/versions.json", timeout=10).json()] == ["1.0.0"]
    assert "pr-42" not in requests.get(f"{site.url}/docs/previewed/switcher.json", timeout=10).text
    assert [version["name"] for version in requests.get(f"{site.url}/_/api/projects/previewed", timeout=10).json()["versions"]] == ["1.0.0"]
    found = requests.get(f"{site.url}/_/api/search", params={"q": "pull request build"}, timeout=10)
    assert "pr-42" not in found.text
    portal = requests.get(f"{site.url}/_/projects/previewed", timeout=10).text
    assert "Previews" in portal and "/docs/previewed/pr-42/" in portal and 'badge pre">preview' in portal

    pin = site.cli("alias", "previewed", "stable", "pr-42")
    assert pin.exit_code != 0 and "hidden" in pin.output
    show = site.cli("show", "previewed", "pr-42")
    assert show.exit_code != 0 and "preview" in show.output


def test_gc_removes_expired_previews_with_every_object_and_reports(site):
    token = site.token(projects=("collected",), actions=("publish", "preview"))
    assert site.put("collected", "1.0.0", make_tar({"index.html": page("Release")}), token).status_code == 201
    assert site.put("collected", "pr-1", SITE, token, kind="previews", params={"expires": "1h"}).status_code == 201
    assert site.put("collected", "pr-2", SITE, token, kind="previews", params={"expires": "3d"}).status_code == 201
    assert site.keys("collected/pr-1/")

    early = site.cli("gc")
    assert early.exit_code == 0 and "removed 0 expired previews" in early.output
    later = (datetime.now().astimezone() + timedelta(hours=2)).isoformat()
    dry = site.cli("gc", "--dry-run", "--now", later)
    assert "would delete preview collected pr-1" in dry.output and site.keys("collected/pr-1/")
    collected = site.cli("gc", "--now", later)
    assert collected.exit_code == 0, collected.output
    assert "deleted preview collected pr-1" in collected.output and "pr-2" not in collected.output
    assert not site.keys("collected/pr-1/")
    assert site.keys("collected/pr-2/") and site.keys("collected/1.0.0/")
    with requests.get(f"{site.url}/docs/collected/pr-1/", timeout=10) as gone:
        assert gone.status_code == 404
    assert "pr-1" not in requests.get(f"{site.url}/_/projects/collected", timeout=10).text


def test_the_cli_publishes_a_preview_too(site, tmp_path):
    (tmp_path / "index.html").write_bytes(page("CLI preview"))
    published = site.cli("publish", str(tmp_path), "--project", "clipreview", "--preview", "pr-7", "--expires", "30m")
    assert published.exit_code == 0, published.output
    assert "preview clipreview pr-7" in published.output
    with requests.get(f"{site.url}/docs/clipreview/pr-7/", timeout=10) as served:
        assert served.status_code == 200 and served.headers["X-Robots-Tag"] == "noindex"
    bad = site.cli("publish", str(tmp_path), "--project", "clipreview", "--preview", "pr-8", "--expires", "soon")
    assert bad.exit_code == 2 and "not a duration" in bad.output


def test_a_presigned_post_sends_one_large_file_straight_to_s3_bounded_by_its_size(site):
    token = site.token(projects=("direct",))
    url = f"{site.url}/_/api/projects/direct/versions/1.0.0/uploads"
    headers = {"Authorization": f"Bearer {token}"}
    early = requests.post(url, json={"path": "dist/manual.pdf", "size": 1000}, headers=headers, timeout=10)
    assert early.status_code == 404 and "publish it first" in early.text
    assert site.put("direct", "1.0.0", make_tar({"index.html": page("Direct")}), token).status_code == 201

    granted = requests.post(url, json={"path": "dist/manual.pdf", "size": 1000}, headers=headers, timeout=10)
    assert granted.status_code == 201, granted.text
    post = granted.json()
    assert post["fields"]["key"] == "direct/1.0.0/dist/manual.pdf"
    # S3 enforces the signed policy; moto does not, so the bounds are read from the policy S3 would check.
    policy = json.loads(base64.b64decode(post["fields"]["policy"]))
    assert ["content-length-range", 1, 1000] in policy["conditions"]
    assert {"key": "direct/1.0.0/dist/manual.pdf"} in policy["conditions"]
    assert {"Content-Type": "application/pdf"} in policy["conditions"]
    assert {"bucket": site.bucket} in policy["conditions"]
    lifetime = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00")) - datetime.now(timezone.utc)
    assert timedelta(minutes=55) < lifetime <= timedelta(hours=1)
    landed = requests.post(post["url"], data=post["fields"], files={"file": ("manual.pdf", b"%" * 1000)}, timeout=30)
    assert landed.status_code in (200, 204), landed.text
    with requests.get(f"{site.url}/docs/direct/1.0.0/dist/manual.pdf", timeout=10) as served:
        assert served.status_code == 200 and served.content == b"%" * 1000
        assert served.headers["Content-Type"] == "application/pdf"

    listed = requests.get(f"{site.url}/_/api/projects/direct", timeout=10).json()["versions"][0]
    assert listed["artifacts"] == ["/docs/direct/1.0.0/dist/manual.pdf"]
    republished = site.put("direct", "1.0.0", make_tar({"index.html": page("Direct, again")}), token)
    assert republished.status_code == 200 and republished.json()["deleted"] == 0
    assert site.read("direct/1.0.0/dist/manual.pdf") == b"%" * 1000

    for body, reason in (({"path": "../x.pdf", "size": 10}, "'..'"), ({"path": "x.pdf", "size": 0}, "size"),
                         ({"path": "x.pdf"}, "size"), ([], "JSON")):
        refused = requests.post(url, json=body, headers=headers, timeout=10)
        assert refused.status_code == 400 and reason in refused.text
    assert requests.post(url, json={"path": "x.pdf", "size": 10}, timeout=10).status_code == 401
    outsider = site.token(projects=("elsewhere",))
    assert requests.post(url, json={"path": "x.pdf", "size": 10}, headers={"Authorization": f"Bearer {outsider}"},
                         timeout=10).status_code == 403
