"""Tokens over real HTTP: made and revoked by the CLI, stored as a hash, scoped, expiring, never logged."""

from datetime import timedelta

import requests

from app.upload.tokens import utc_now
from tests.upload.conftest import make_tar, page

SITE = make_tar({"index.html": page("Home", "hello")})


def test_the_api_is_off_until_a_token_exists(site_factory):
    site = site_factory()
    before = site.keys()
    refused = site.put("payments", "1.0.0", SITE, token=None)
    assert refused.status_code == 404
    assert "no upload token exists" in refused.text
    assert site.put("payments", "1.0.0", SITE, token="dpt_0123456789abcdef_" + "x" * 43).status_code == 404
    assert site.keys() == before

    created = site.cli("token", "create", "--project", "payments*", "--actions", "publish", "--expires", "90d")
    assert created.exit_code == 0, created.output
    token = created.output.strip().splitlines()[-1]
    assert token.startswith("dpt_")

    unauthenticated = site.put("payments", "1.0.0", SITE, token=None)
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["WWW-Authenticate"].startswith("Bearer")
    assert site.put("payments", "1.0.0", SITE, token=token).status_code == 201


def test_only_a_hash_of_the_token_is_kept_and_list_never_shows_it(site_factory):
    site = site_factory()
    created = site.cli("token", "create", "--project", "docs", "--project", "api-*", "--actions", "publish,alias",
                       "--expires", "12h", "--note", "github actions")
    token = created.output.strip().splitlines()[-1]
    _, token_id, secret = token.split("_", 2)
    stored = {key: site.read(key) for key in site.keys()}
    assert list(stored) == [f".docs-tokens/{token_id}.json"]
    assert secret.encode() not in stored[f".docs-tokens/{token_id}.json"]
    listed = site.cli("token", "list")
    assert token_id in listed.output and "docs,api-*" in listed.output and "publish,alias" in listed.output
    assert "github actions" in listed.output and "(valid)" in listed.output
    assert secret not in listed.output
    with requests.get(f"{site.url}/docs/.docs-tokens/{token_id}.json", timeout=10) as refused:
        assert refused.status_code == 404


def test_a_token_works_only_on_its_projects_and_actions(site):
    token = site.token(projects=("scoped*",), actions=("publish",))
    assert site.put("scoped-api", "1.0.0", SITE, token).status_code == 201
    outside = site.put("other", "1.0.0", SITE, token)
    assert outside.status_code == 403
    assert "may not publish 'other'" in outside.text
    no_alias = site.put("scoped-api", "1.0.0", SITE, token, params={"alias": "lts"})
    assert no_alias.status_code == 403 and "may not alias" in no_alias.text
    no_preview = site.put("scoped-api", "pr-1", SITE, token, kind="previews")
    assert no_preview.status_code == 403
    assert "other/" not in "".join(site.keys())


def test_expired_revoked_and_malformed_tokens_are_refused(site):
    expired = site.token(projects=("*",), expires=timedelta(days=1), now=utc_now() - timedelta(days=2))
    refused = site.put("expiring", "1.0.0", SITE, expired)
    assert refused.status_code == 401 and "expired" in refused.text

    token = site.token(projects=("*",))
    assert site.put("expiring", "1.0.0", SITE, token).status_code == 201
    token_id = token.split("_")[1]
    revoked = site.cli("token", "revoke", token_id)
    assert revoked.exit_code == 0 and f"Revoked token {token_id}" in revoked.output
    assert site.put("expiring", "1.0.0", SITE, token).status_code == 401
    assert site.cli("token", "revoke", token_id).exit_code == 1

    other = site.token(projects=("*",))
    wrong_secret = other[:-4] + ("AAAA" if not other.endswith("AAAA") else "BBBB")
    for bad in (wrong_secret, "Basic dXNlcjpwYXNz", "not-a-token", other + "x"):
        headers = {"Authorization": bad if bad.startswith("Basic") else f"Bearer {bad}", "Content-Type": "application/x-tar"}
        response = requests.put(f"{site.url}/_/api/projects/expiring/versions/1.0.1", data=SITE, headers=headers, timeout=30)
        assert response.status_code == 401, bad


def test_tokens_never_reach_the_logs(site):
    token = site.token(projects=("*",))
    secret = token.split("_", 2)[2]
    assert site.put("logged", "1.0.0", SITE, token).status_code == 201
    # A token pasted into the query string by mistake is refused, and its value kept out of the access log.
    misplaced = requests.put(f"{site.url}/_/api/projects/logged/versions/1.0.1?token={token}", data=SITE,
                             headers={"Content-Type": "application/x-tar"}, timeout=30)
    assert misplaced.status_code == 401
    misplaced = site.put("logged", "1.0.1", SITE, token, params={"token": token})
    assert misplaced.status_code == 400 and "unknown option 'token'" in misplaced.text
    log = site.server.log()
    assert "/_/api/projects/logged/versions/1.0.1?token=REDACTED" in log
    assert secret not in log
    assert f"user=token:{token.split('_')[1]}" in log


def test_the_api_works_whatever_readers_must_show(site_factory):
    site = site_factory({"DOCS_AUTH": "header", "DOCS_AUTH_TRUSTED_NETWORKS": "127.0.0.1/32"})
    token = site.token(projects=("*",))
    published = site.put("private", "1.0.0", SITE, token)
    assert published.status_code == 201, published.text
    with requests.get(f"{site.url}/docs/private/1.0.0/", timeout=10) as reader:
        assert reader.status_code == 401  # readers still need their own credentials
