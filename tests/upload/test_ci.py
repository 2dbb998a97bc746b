"""A CI job with only tar, curl and a token publishes a version (deploy/ci/publish-docs.sh) that readers then find."""

import subprocess

import requests

from tests.servers import ROOT
from tests.upload.conftest import page

SCRIPT = ROOT / "deploy" / "ci" / "publish-docs.sh"


def run_script(site, token, *args, env=None):
    """Run the CI script with a minimal environment: no AWS credentials, no Python, only tar and curl on PATH."""
    return subprocess.run(
        ["/bin/sh", str(SCRIPT), *args],
        env={"PATH": "/usr/bin:/bin", "DOCS_URL": site.url, "DOCS_TOKEN": token, **(env or {})},
        capture_output=True, text=True, timeout=120,
    )


def test_a_curl_only_ci_job_publishes_what_the_portal_latest_and_search_show(site, tmp_path):
    build = tmp_path / "html"
    (build / "guide").mkdir(parents=True)
    (build / "index.html").write_bytes(page("Ledger docs", "double entry bookkeeping explained"))
    (build / "guide" / "reconcile.html").write_bytes(page("Reconciliation", "matching statements overnight"))
    created = site.cli("token", "create", "--project", "ledger*", "--actions", "publish,alias,preview", "--expires", "90d")
    token = created.output.strip().splitlines()[-1]

    result = run_script(site, token, "ledger", "2.1.0", str(build), "alias=lts&title=Ledger")
    assert result.returncode == 0, result.stderr
    assert '"created":true' in result.stdout.replace(" ", "")
    assert token.split("_", 2)[2] not in result.stdout + result.stderr

    projects = requests.get(f"{site.url}/_/api/projects", timeout=10).json()["projects"]
    assert any(project["name"] == "ledger" and project["title"] == "Ledger" for project in projects)
    assert "Ledger" in requests.get(f"{site.url}/_/", timeout=10).text
    with requests.get(f"{site.url}/docs/ledger/latest/guide/reconcile.html", timeout=10) as latest:
        assert latest.status_code == 200 and "matching statements overnight" in latest.text
    with requests.get(f"{site.url}/docs/ledger/lts/", allow_redirects=False, timeout=10) as lts:
        assert lts.headers["Location"].endswith("/docs/ledger/2.1.0/")
    found = requests.get(f"{site.url}/_/api/search", params={"q": "reconciliation"}, timeout=10)
    assert "ledger/2.1.0/guide/reconcile.html" in found.text

    preview = run_script(site, token, "ledger", "pr-9", str(build), env={"DOCS_PREVIEW_EXPIRES": "3d"})
    assert preview.returncode == 0, preview.stderr
    with requests.get(f"{site.url}/docs/ledger/pr-9/", timeout=10) as served:
        assert served.headers["X-Robots-Tag"] == "noindex"

    refused = run_script(site, token, "billing", "1.0.0", str(build))
    assert refused.returncode != 0 and "may not publish 'billing'" in refused.stdout + refused.stderr
