"""The upload API behind deploy/nginx/docs-proxy.conf: large bodies pass, streamed, while other routes keep their 16k limit."""

import re

import pytest
import requests

from tests.ops.cluster import DEPLOY_SITE, Nginx, location_block
from tests.upload.conftest import make_tar, page


def upload_location(site_text):
    """Return the deploy site's upload API ``location`` block."""
    match = re.search(r"\n    location ~ \^/_/api/projects/.*?\n    \}\n", site_text, re.S)
    assert match, "deploy/nginx/docs-proxy.conf has no upload API location"
    return match.group(0)


@pytest.fixture
def nginx(site, tmp_path, monkeypatch):
    """Debian's nginx with the deploy site's body limit, its `location /` and its upload location, in front of ``site``."""
    text = DEPLOY_SITE.read_text()
    blocks = "        client_max_body_size 16k;\n" + location_block(text) + upload_location(text)
    monkeypatch.setattr("tests.ops.cluster.location_block", lambda _: blocks)
    server = Nginx(tmp_path / "nginx", [site.server.port])
    yield server
    server.stop()


def test_an_upload_of_megabytes_passes_nginx_which_still_refuses_large_bodies_elsewhere(site, nginx):
    token = site.token(projects=("proxied",))
    body = make_tar({"index.html": page("Behind nginx"), "big.bin": bytes(range(256)) * 12_000})
    assert len(body) > 3_000_000
    published = requests.put(f"{nginx.url}/_/api/projects/proxied/versions/1.0.0", data=body, timeout=120,
                             headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-tar"})
    assert published.status_code == 201, published.text
    assert site.read("proxied/1.0.0/big.bin") == bytes(range(256)) * 12_000
    refused = requests.post(f"{nginx.url}/_/search", data=b"x" * 100_000, timeout=30)
    assert refused.status_code == 413
