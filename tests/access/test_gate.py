"""Access control on the request path, through Flask's test client against moto: answers, headers,
and for every path attack, no S3 call before the decision."""

import logging

import pytest
from flask import Blueprint, g

from app.access import current_user, may_read

from tests.access.conftest import SECRET, basic

DAVE = {"X-Forwarded-User": "dave", "X-Forwarded-Groups": "marketing"}  # signed in, not in payments
CAROL = {"X-Forwarded-User": "carol", "X-Forwarded-Groups": "team-payments"}
PROXY = {"X-Docs-Proxy-Secret": SECRET}


@pytest.fixture
def app(make_app, rules_file, secret_file, htpasswd_file):
    """header (with a secret) then basic, the example rules."""
    app = make_app(
        DOCS_AUTH="header,basic",
        DOCS_AUTH_SECRET_FILE=secret_file,
        DOCS_AUTH_HTPASSWD=htpasswd_file,
        DOCS_ACCESS_RULES=rules_file(),
    )
    app.seen = []

    @app.after_request
    def record(response):
        app.seen.append((g.get("user"), g.get("access_decision")))
        return response

    return app


@pytest.fixture
def client(app):
    return app.test_client()


def as_user(person):
    return {**person, **PROXY}


# --- path attacks: refused before any S3 call --------------------------------------------------

ATTACKS = [
    # (url, status for anonymous, status for dave)
    ("/docs/%2e%2e/payments/x", 400, 400),
    ("/docs/handbook/%2e%2e/payments/x", 400, 400),
    ("/docs/handbook/%2E%2E/payments/", 400, 400),
    ("/docs//payments/x", 301, 301),  # folded by a redirect to /docs/payments/x, decided there
    ("/docs/payments%2Fx", 401, 403),
    ("/docs/payments%2fx", 401, 403),
    ("/docs/Payments/", 401, 403),
    ("/docs/PAYMENTS/x", 401, 403),
    ("/docs/payments", 401, 403),  # no directory probe (HEAD payments/index.html) before the decision
    ("/docs/payments/", 401, 403),
    ("/docs/payments/x", 401, 403),
    ("/docs/payments/missing.html", 401, 403),
    ("/docs/payments/runbooks/", 401, 403),
    ("/docs/payments-old/", 401, 200),  # not covered by payments/: the default (authenticated)
    ("/docs/caf%C3%A9/", 401, 403),  # NFC
    ("/docs/cafe%CC%81/", 401, 403),  # NFD spelling of the same folder
    ("/docs/", 401, 200),
    ("/favicon.ico", 401, 204),
]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_path_attacks_are_decided_before_any_s3_call(app, client, method):
    # One app for the whole table: building one per row would cost more than the rows themselves.
    for url, anonymous, dave in ATTACKS:
        for who, headers, expected in (("anonymous", {}, anonymous), ("dave", as_user(DAVE), dave)):
            app.s3_calls.clear()
            response = client.open(url, method=method, headers=headers)
            assert response.status_code == expected, f"{method} {url} as {who}"
            if expected in (301, 400, 401, 403):
                assert app.s3_calls == [], f"{method} {url} as {who} made S3 calls {app.s3_calls} before refusing"


def test_the_slash_folding_redirect_leads_to_the_same_decision(client):
    response = client.get("/docs//payments/x", headers=as_user(DAVE))
    # Relative, resolved by the browser against /docs//payments/x (issue 9).
    assert response.headers["Location"] == "../../../docs/payments/x"
    assert client.get("/docs/payments/x", headers=as_user(DAVE)).status_code == 403


CONDITIONALS = [
    {"Range": "bytes=0-3"},
    {"If-None-Match": '"abc"'},
    {"If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"},
    {"If-Match": '"abc"'},
    {"If-Range": '"abc"', "Range": "bytes=1-"},
]


def test_range_and_conditional_requests_are_refused_before_s3_too(app, client):
    for headers in CONDITIONALS:
        for method in ("GET", "HEAD"):
            assert client.open("/docs/payments/x", method=method, headers={**headers, **as_user(DAVE)}).status_code == 403, headers
            assert client.open("/docs/payments/x", method=method, headers=headers).status_code == 401, headers
    assert app.s3_calls == []


# --- answers ----------------------------------------------------------------------------------


def test_anonymous_readers_get_401_with_the_basic_challenge_and_no_store(client):
    response = client.get("/docs/payments/")
    assert response.status_code == 401
    assert response.headers.getlist("WWW-Authenticate") == ['Basic realm="docs", charset="UTF-8"']
    assert response.headers["Cache-Control"] == "no-store"
    assert b"sign in" in response.data


def test_denied_readers_get_the_same_403_whether_or_not_the_object_exists(client):
    existing = client.get("/docs/payments/x", headers=as_user(DAVE))
    missing = client.get("/docs/payments/no-such-page.html", headers=as_user(DAVE))
    assert existing.status_code == missing.status_code == 403
    assert existing.data == missing.data
    assert without_request_id(existing.headers) == without_request_id(missing.headers)
    assert existing.headers["Cache-Control"] == "no-store"


def without_request_id(headers):
    """Return the headers as a sorted list, less X-Request-ID (a fresh id per request, by design)."""
    return sorted((name, value) for name, value in headers.items() if name != "X-Request-ID")


def test_hide_denied_answers_404_instead(make_app, rules_file, secret_file):
    from tests.access.conftest import RULES

    app = make_app(DOCS_AUTH="header", DOCS_AUTH_SECRET_FILE=secret_file, DOCS_ACCESS_RULES=rules_file("hide_denied = true\n" + RULES))
    response = app.test_client().get("/docs/payments/x", headers=as_user(DAVE))
    assert response.status_code == 404
    assert response.headers["Cache-Control"] == "private"
    assert b"<Code>NoSuchKey</Code>" in response.data
    # Only what a missing key costs too (the portal's catalog); never the refused key.
    assert [key for _, key in app.s3_calls if key and key.startswith("payments/")] == []


def test_members_read_with_cache_control_private_replacing_public(app, client):
    for headers in (as_user(CAROL), {"Authorization": basic("bob", "builder")}):
        response = client.get("/docs/payments/x", headers=headers)
        assert response.status_code == 200
        assert response.data == b"payments x"
        assert response.headers["Cache-Control"] == "private, max-age=31536000, immutable"
        etag = response.headers["ETag"]
        partial = client.get("/docs/payments/x", headers={**headers, "Range": "bytes=0-3"})
        assert (partial.status_code, partial.data) == (206, b"paym")
        assert partial.headers["Cache-Control"].startswith("private")
        not_modified = client.get("/docs/payments/x", headers={**headers, "If-None-Match": etag})
        assert not_modified.status_code == 304
        assert not_modified.headers["Cache-Control"].startswith("private")
    assert app.seen[-1] == ("bob", "allowed")


def test_public_paths_need_no_credentials_and_keep_their_cache_control(app, client):
    response = client.get("/docs/handbook/")
    assert (response.status_code, response.data) == (200, b"<h1>handbook</h1>")
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert app.seen[-1] == (None, "public")


def test_a_bad_credential_is_401_even_where_anonymous_readers_are_welcome(app, client):
    response = client.get("/docs/handbook/", headers={"Authorization": basic("alice", "wrong")})
    assert response.status_code == 401
    assert app.seen[-1] == (None, "unauthenticated")
    assert app.s3_calls == []


def test_identity_headers_from_anyone_but_the_proxy_are_401_and_logged(app, client, caplog):
    with caplog.at_level(logging.WARNING, logger="docs_proxy.access"):
        response = client.get("/docs/handbook/", headers=CAROL)  # no shared secret
    assert response.status_code == 401
    assert "identity headers from 127.0.0.1 refused" in caplog.text
    # Never a fall-back to the next source: a good password does not rescue a forged header.
    both = client.get("/docs/payments/", headers={**CAROL, "Authorization": basic("bob", "builder")})
    assert both.status_code == 401


def test_the_trusted_network_is_checked_against_the_socket_not_x_forwarded_for(make_app):
    app = make_app(DOCS_AUTH="header", DOCS_AUTH_TRUSTED_NETWORKS="10.0.0.0/8", DOCS_TRUSTED_PROXIES=1)
    client = app.test_client()
    forged = {**CAROL, "X-Forwarded-For": "10.0.0.7"}
    assert client.get("/docs/x", headers=forged, environ_base={"REMOTE_ADDR": "192.0.2.1"}).status_code == 401
    trusted = client.get("/docs/payments/x", headers=CAROL, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert trusted.status_code == 200


@pytest.mark.parametrize(
    "url, location",
    [
        ("/docs/payments/", "/oauth2/start?rd=%2Fdocs%2Fpayments%2F"),
        ("/docs/payments/a b.html?x=1&y=//evil.example", "/oauth2/start?rd=%2Fdocs%2Fpayments%2Fa%2520b.html%3Fx%3D1%26y%3D%2F%2Fevil.example"),
        ("/_/projects", "/oauth2/start?rd=%2F_%2Fprojects"),
    ],
)
def test_browsers_are_sent_to_the_login_url_with_a_relative_return_address(make_app, secret_file, url, location):
    app = make_app(DOCS_AUTH="header", DOCS_AUTH_SECRET_FILE=secret_file, DOCS_AUTH_LOGIN_URL="/oauth2/start")
    client = app.test_client()
    response = client.get(url, headers={"Accept": "text/html,application/xhtml+xml"})
    assert response.status_code == 302
    assert response.headers["Location"] == location
    assert response.headers["Cache-Control"] == "no-store"
    # Scripts, HEAD and bad credentials get the 401 instead.
    assert client.get(url).status_code == 401
    assert client.head(url, headers={"Accept": "text/html"}).status_code == 401
    assert client.get(url, headers={"Accept": "text/html", "X-Forwarded-User": "x"}).status_code == 401


def test_unreachable_keys_are_503_never_200(make_app, jwt_settings, signers, key_server):
    key_server.stop()
    app = make_app(**jwt_settings)
    response = app.test_client().get("/docs/handbook/", headers={"Authorization": "Bearer " + signers["k1"].token()})
    assert response.status_code == 503
    assert response.headers["Cache-Control"] == "no-store"
    assert app.s3_calls == []


# --- pages other concerns add: portal, search, ops ----------------------------------------------


def portal_blueprint(name="portal"):
    """A stand-in page under /_/ that filters with may_read (the real portal's routes are tested in tests/portal)."""
    bp = Blueprint(f"stand_in_{name}", __name__)

    @bp.route(f"/_/stand-in-{name}")
    def page():
        return {"user": current_user(), "readable": [path for path in ("handbook/", "payments/", "payments/runbooks/", "") if may_read(path)]}

    return bp


@pytest.mark.parametrize("name, url", [("portal", "/_/stand-in-portal"), ("search", "/_/stand-in-search")])
def test_portal_and_search_pages_fail_closed_and_filter_with_may_read(app, client, name, url):
    app.register_blueprint(portal_blueprint(name))
    assert client.get(url).status_code == 401
    response = client.get(url, headers=as_user(DAVE))
    assert response.json == {"user": "dave", "readable": ["handbook/", ""]}
    assert response.headers["Cache-Control"] == "private"
    assert client.get(url, headers={"Authorization": basic("bob", "builder")}).json["readable"] == ["handbook/", "payments/", "payments/runbooks/", ""]


def test_unknown_pages_under_the_portal_prefix_fail_closed_too(client):
    assert client.get("/_/anything").status_code == 401


def test_pages_are_public_when_the_default_is(make_app, rules_file, secret_file):
    app = make_app(DOCS_AUTH="header", DOCS_AUTH_SECRET_FILE=secret_file, DOCS_ACCESS_RULES=rules_file('default = "public"\n[[rule]]\npath = "payments/"\ngroups = ["team-payments"]'))
    app.register_blueprint(portal_blueprint())
    response = app.test_client().get("/_/stand-in-portal")
    assert response.json == {"user": None, "readable": ["handbook/", ""]}
    # Filtered for this reader: a shared cache must not hand it to the next one.
    assert response.headers["Cache-Control"] == "private"


@pytest.mark.parametrize("url", ["/_/health", "/_/ready", "/_/metrics"])
def test_ops_endpoints_are_never_behind_access_control(client, url):
    for headers in ({}, {"Authorization": basic("alice", "wrong")}, CAROL):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.data
        assert "WWW-Authenticate" not in response.headers
    assert client.get(url + "x").status_code == 401  # only those paths


def test_without_access_settings_everything_stays_open(make_app):
    app = make_app()
    response = app.test_client().get("/docs/payments/x", headers=CAROL)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    with app.test_request_context("/docs/payments/x"):
        assert may_read("payments/x") and current_user() is None


def test_rules_alone_can_only_open_paths(make_app, rules_file):
    app = make_app(DOCS_ACCESS_RULES=rules_file('default = "public"\n[[rule]]\npath = "handbook/"\npublic = true'))
    assert app.test_client().get("/docs/payments/x").status_code == 200
