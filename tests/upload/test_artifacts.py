"""Direct uploads over real HTTP: a version lists a file granted a presigned POST once S3 holds it, and keeps it."""

import base64
import json
import time

import pytest
import requests

from tests.upload.conftest import Site, make_tar, page

RECHECK = 1.0  # DOCS_ARTIFACT_RECHECK of this module's site: how long a worker trusts "not there yet"


@pytest.fixture(scope="module")
def direct(moto_server, server_s3, credentials, tmp_path_factory):
    """A site whose workers ask S3 again about a missing artifact after RECHECK seconds."""
    started = Site(moto_server, server_s3, tmp_path_factory.mktemp("artifacts") / "gunicorn.log",
                   {"DOCS_ARTIFACT_RECHECK": RECHECK})
    yield started
    started.stop()


def grant(site, token, project, path, size):
    """Return the presigned POST the upload API grants for ``path`` of ``project`` 1.0.0, at most ``size`` bytes."""
    granted = requests.post(f"{site.url}/_/api/projects/{project}/versions/1.0.0/uploads",
                            json={"path": path, "size": size}, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert granted.status_code == 201, granted.text
    return granted.json()


def publish_and_grant(site, project, path, size):
    """Publish ``project`` 1.0.0 and return ``(token, presigned POST)`` for ``path``, at most ``size`` bytes."""
    token = site.token(projects=(project,))
    assert site.put(project, "1.0.0", make_tar({"index.html": page(project)}), token).status_code == 201
    return token, grant(site, token, project, path, size)


def artifacts(site, project):
    """Return the artifact URLs the portal's JSON API lists for ``project`` 1.0.0 (asked of both workers in turn)."""
    listed = [requests.get(f"{site.url}/_/api/projects/{project}", timeout=10).json()["versions"][0].get("artifacts", [])
              for _ in range(4)]
    assert all(one == listed[0] for one in listed), listed
    return listed[0]


def listed_within(site, project, seconds):
    """Return the artifact URLs of ``project`` 1.0.0 once any are listed, or ``[]`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = requests.get(f"{site.url}/_/api/projects/{project}", timeout=10).json()["versions"][0].get("artifacts", [])
        if found:
            return found
        time.sleep(0.1)
    return []


def send(post, body, **fields):
    """POST ``body`` to S3 with the presigned ``post``'s fields (``fields`` overriding some); return S3's answer."""
    return requests.post(post["url"], data={**post["fields"], **fields}, files={"file": ("file", body)}, timeout=30)


def test_a_granted_file_is_listed_only_once_it_is_in_s3(direct):
    _, post = publish_and_grant(direct, "granted", "dist/manual.pdf", 1000)
    assert artifacts(direct, "granted") == []
    assert "manual.pdf" not in requests.get(f"{direct.url}/_/projects/granted", timeout=10).text
    time.sleep(RECHECK + 0.2)
    assert artifacts(direct, "granted") == []  # asked again: still not there

    assert send(post, b"%" * 1000).status_code in (200, 204)
    assert listed_within(direct, "granted", RECHECK + 5) == ["/docs/granted/1.0.0/dist/manual.pdf"]
    time.sleep(RECHECK + 0.2)
    assert artifacts(direct, "granted") == ["/docs/granted/1.0.0/dist/manual.pdf"]
    portal = requests.get(f"{direct.url}/_/projects/granted", timeout=10).text
    assert 'href="/docs/granted/1.0.0/dist/manual.pdf"' in portal
    with requests.get(f"{direct.url}/docs/granted/1.0.0/dist/manual.pdf", timeout=10) as served:
        assert served.status_code == 200 and served.content == b"%" * 1000


def test_an_upload_to_another_key_than_granted_is_not_listed(direct):
    _, post = publish_and_grant(direct, "misdirected", "dist/manual.pdf", 1000)
    # S3 refuses a POST whose key breaks the signed policy; moto, which enforces no policy, stores it where
    # asked. Either way nothing is at the granted key, and the other key was never granted.
    send(post, b"%" * 10, key="misdirected/1.0.0/dist/other.pdf")
    time.sleep(RECHECK + 0.2)
    assert artifacts(direct, "misdirected") == []
    assert "dist/" not in requests.get(f"{direct.url}/_/projects/misdirected", timeout=10).text


def test_publishing_the_version_again_keeps_an_uploaded_file_listed(direct):
    token, post = publish_and_grant(direct, "kept", "dist/manual.pdf", 1000)
    grant(direct, token, "kept", "dist/never.pdf", 1000)  # granted, never sent
    assert send(post, b"%" * 1000).status_code in (200, 204)
    assert listed_within(direct, "kept", RECHECK + 5) == ["/docs/kept/1.0.0/dist/manual.pdf"]

    republished = direct.put("kept", "1.0.0", make_tar({"index.html": page("Kept, again")}), token)
    assert republished.status_code == 200 and republished.json()["deleted"] == 0
    assert direct.read("kept/1.0.0/dist/manual.pdf") == b"%" * 1000
    assert artifacts(direct, "kept") == ["/docs/kept/1.0.0/dist/manual.pdf"]


def test_the_signed_policy_binds_the_key_content_type_cache_header_and_size(direct):
    _, post = publish_and_grant(direct, "bound", "dist/site.tar.gz", 4096)
    policy = json.loads(base64.b64decode(post["fields"]["policy"]))
    conditions = policy["conditions"]
    assert {"key": "bound/1.0.0/dist/site.tar.gz"} in conditions and {"bucket": direct.bucket} in conditions
    assert {"Content-Type": "application/gzip"} in conditions and post["fields"]["Content-Type"] == "application/gzip"
    assert any(list(condition) == ["Cache-Control"] for condition in conditions if isinstance(condition, dict))
    assert ["content-length-range", 1, 4096] in conditions
    # No condition loosens the key or the headers to a prefix: the POST writes exactly one object.
    assert not [condition for condition in conditions if isinstance(condition, list) and condition[0] != "content-length-range"]
