"""Access control over real HTTP: nginx with auth_request in front of gunicorn, a JWKS on 127.0.0.1,
htpasswd passwords, and the access log naming the reader."""

import http.client
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.access.conftest import OBJECTS, SECRET, basic
from tests.servers import free_port, wait_for_port

# Sessions the stand-in for oauth2-proxy knows, by cookie value.
SESSIONS = {
    "carol-session": ("carol", "carol@corp.example", "team-payments,writers"),
    "dave-session": ("dave", "dave@corp.example", "marketing"),
}

NGINX_CONF = """\
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port};
        absolute_redirect off;
        # docs/access.md's configuration, as operators would copy it.
        location /oauth2/ {{
            proxy_pass http://127.0.0.1:{auth_port};
            proxy_set_header X-Auth-Request-Redirect $request_uri;
        }}
        location @sign_in {{
            return 302 /oauth2/sign_in?rd=$request_uri;
        }}
        location = /oauth2/auth {{
            internal;
            proxy_pass http://127.0.0.1:{auth_port};
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
        }}
        location / {{
            auth_request /oauth2/auth;
            error_page 401 = @sign_in;
            auth_request_set $auth_user $upstream_http_x_auth_request_user;
            auth_request_set $auth_email $upstream_http_x_auth_request_email;
            auth_request_set $auth_groups $upstream_http_x_auth_request_groups;
            proxy_set_header X-Forwarded-User $auth_user;
            proxy_set_header X-Forwarded-Email $auth_email;
            proxy_set_header X-Forwarded-Groups $auth_groups;
            proxy_set_header X-Docs-Proxy-Secret "{secret}";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Prefix "";
            proxy_buffering off;
            proxy_pass http://127.0.0.1:{app_port};
        }}
    }}
}}
"""


class AuthStandIn:
    """What nginx needs of oauth2-proxy: ``/oauth2/auth`` answers 202 with the session's identity, else 401."""

    def __init__(self):
        self.checks = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = self.path.split("?", 1)[0]
                if path == "/oauth2/auth":
                    cookie = SimpleCookie(self.headers.get("Cookie", ""))
                    session = SESSIONS.get(cookie["_oauth2_proxy"].value) if "_oauth2_proxy" in cookie else None
                    stand_in.checks.append(self.headers.get("X-Original-URI"))
                    if session is None:
                        self.answer(401)
                    else:
                        user, email, groups = session
                        self.answer(202, {"X-Auth-Request-User": user, "X-Auth-Request-Email": email, "X-Auth-Request-Groups": groups})
                elif path == "/oauth2/sign_in":
                    self.answer(200, {"Content-Type": "text/html"}, b"<h1>Sign in with your company account</h1>")
                else:
                    self.answer(404)

            def answer(self, status, headers=None, body=b""):
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def nginx_front_door(server_s3, gunicorn_factory, rules_file, secret_file):
    """nginx -> (auth_request to the stand-in) -> gunicorn in header mode, trusting 127.0.0.1 and the secret."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.access(nginx, os.X_OK):
        pytest.fail("nginx is not installed: apt-get install nginx (tests/system-deps.sh)")
    bucket = f"access-nginx-{free_port()}"
    server_s3.create_bucket(Bucket=bucket)
    for key, body in OBJECTS.items():
        server_s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/html")
    app = gunicorn_factory(
        bucket,
        env={
            "DOCS_AUTH": "header",
            "DOCS_AUTH_TRUSTED_NETWORKS": "127.0.0.1/32",
            "DOCS_AUTH_SECRET_FILE": secret_file,
            "DOCS_ACCESS_RULES": rules_file(),
            "DOCS_TRUSTED_PROXIES": "1",  # as the README says behind nginx
            "WEB_CONCURRENCY": "1",
            "GUNICORN_THREADS": "4",
        },
    )
    auth = AuthStandIn()
    # Started as root, nginx's worker runs as nobody and must be able to enter its prefix.
    prefix = Path(tempfile.mkdtemp(prefix="docs-proxy-nginx-"))
    prefix.chmod(0o755)
    port = free_port()
    (prefix / "nginx.conf").write_text(
        NGINX_CONF.format(prefix=prefix, port=port, auth_port=auth.port, app_port=app.port, secret=SECRET)
    )
    process = subprocess.Popen(
        [nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port(port, timeout=15, process=process)
        yield {"url": f"http://127.0.0.1:{port}", "app": app, "auth": auth}
    finally:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        auth.stop()
        shutil.rmtree(prefix, ignore_errors=True)


def raw_get(url, headers):
    """GET with exactly these header lines (requests would not send a header with '_' in its name as-is)."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.putrequest("GET", "/docs/payments/x", skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_nginx_with_auth_request_in_front_passes_identity_and_the_app_decides(nginx_front_door):
    url = nginx_front_door["url"]
    carol = {"Cookie": "_oauth2_proxy=carol-session"}
    dave = {"Cookie": "_oauth2_proxy=dave-session"}

    response = requests.get(url + "/docs/payments/x", headers=carol, timeout=10)
    assert (response.status_code, response.content) == (200, OBJECTS["payments/x"])
    assert response.headers["Cache-Control"].startswith("private")
    assert requests.get(url + "/docs/payments/runbooks/", headers=carol, timeout=10).status_code == 403
    assert requests.get(url + "/docs/payments/x", headers=dave, timeout=10).status_code == 403
    assert requests.get(url + "/docs/payments-old/", headers=dave, timeout=10).status_code == 200

    # No session: nginx sends the browser to sign in, with a relative return address.
    anonymous = requests.get(url + "/docs/payments/x", allow_redirects=False, timeout=10)
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"] == "/oauth2/sign_in?rd=/docs/payments/x"

    # A signed-in reader cannot claim another identity: nginx replaces the identity headers.
    forged = requests.get(url + "/docs/payments/x", headers={**dave, "X-Forwarded-User": "carol", "X-Forwarded-Groups": "team-payments"}, timeout=10)
    assert forged.status_code == 403
    assert "/docs/payments/x" in nginx_front_door["auth"].checks

    # Nor with an underscore spelling, which nginx drops (and gunicorn would too).
    status, _ = raw_get(url, {**dave, "X_Forwarded_Groups": "team-payments"})
    assert status == 403

    log = nginx_front_door["app"].log()
    assert "user=carol" in log and "user=dave" in log


def test_the_documented_auth_request_snippet_is_the_one_tested():
    readme = (Path(__file__).resolve().parents[2] / "docs" / "access.md").read_text()
    snippet = readme.split("**Behind nginx + oauth2-proxy**", 1)[1].split("```nginx", 1)[1].split("```", 1)[0]
    location = snippet.split("location / {", 1)[1].split("}", 1)[0]
    readme_headers = {line.split("#")[0].strip() for line in location.splitlines() if "proxy_set_header" in line}
    tested = {line.strip() for line in NGINX_CONF.splitlines() if "proxy_set_header" in line}
    assert 'proxy_set_header X-Forwarded-Prefix "";' in readme_headers
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in readme_headers
    assert {line for line in readme_headers if "Secret" not in line} <= tested


def test_through_the_readmes_nginx_a_clients_forwarded_prefix_never_reaches_a_redirect(nginx_front_door):
    url = nginx_front_door["url"]
    carol = {"Cookie": "_oauth2_proxy=carol-session"}
    for prefix in ("//evil.example", "/elsewhere"):
        response = requests.get(url + "/docs/handbook", headers={**carol, "X-Forwarded-Prefix": prefix}, allow_redirects=False, timeout=10)
        assert response.status_code == 301
        assert response.headers["Location"] == "./handbook/", prefix


def test_a_client_that_bypasses_nginx_cannot_assert_an_identity(nginx_front_door):
    app_url = nginx_front_door["app"].url
    # Same host, so inside the trusted network, but without the shared secret.
    forged = requests.get(app_url + "/docs/payments/x", headers={"X-Forwarded-User": "carol", "X-Forwarded-Groups": "team-payments"}, timeout=10)
    assert forged.status_code == 401
    assert forged.headers["Cache-Control"] == "no-store"
    assert requests.get(app_url + "/docs/handbook/", headers={"X-Forwarded-User": "carol"}, timeout=10).status_code == 401
    # Even with the secret, gunicorn never turns X_Forwarded_User into X-Forwarded-User.
    status, _ = raw_get(app_url, {"X_Forwarded_User": "carol", "X_Forwarded_Groups": "team-payments", "X-Docs-Proxy-Secret": SECRET})
    assert status == 401
    assert "identity headers from 127.0.0.1 refused" in nginx_front_door["app"].log()


def test_jwt_and_basic_under_gunicorn(server_s3, gunicorn_factory, key_server, jwt_settings, signers, htpasswd_file, rules_file):
    bucket = f"access-jwt-{free_port()}"
    server_s3.create_bucket(Bucket=bucket)
    for key, body in OBJECTS.items():
        server_s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/html", CacheControl="public, max-age=31536000, immutable")
    app = gunicorn_factory(
        bucket,
        env={**jwt_settings, "DOCS_AUTH": "jwt,basic", "DOCS_AUTH_HTPASSWD": htpasswd_file, "DOCS_ACCESS_RULES": rules_file(), "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "4"},
    )
    page = app.url + "/docs/payments/x"

    def get(headers):
        return requests.get(page, headers=headers, timeout=10)

    good = get({"Authorization": "Bearer " + signers["k1"].token()})
    assert (good.status_code, good.content) == (200, OBJECTS["payments/x"])
    assert good.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    assert get({"Authorization": "Bearer " + signers["k1"].token(email="dave@corp.example", groups=["marketing"])}).status_code == 403
    assert get({"Authorization": "Bearer " + signers["k1"].token(iss="https://evil.example")}).status_code == 401
    assert get({"Authorization": basic("bob", "builder")}).status_code == 200

    refused = get({})
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == 'Basic realm="docs", charset="UTF-8", Bearer realm="docs"'
    # wrong password, no colon, bad base64, not UTF-8, an empty token, a scheme nobody reads: 401, never 500
    for authorization in (basic("bob", "wrong"), "Basic Ym9iYnVpbGRlcg==", "Basic %%%", "Basic //46cHc=", "Bearer", "Negotiate abc"):
        assert get({"Authorization": authorization}).status_code == 401, authorization

    # The key URL goes down: a token naming a key we do not hold cannot be checked.
    key_server.stop()
    down = get({"Authorization": "Bearer " + signers["k2"].token()})
    assert down.status_code == 503
    assert down.headers["Cache-Control"] == "no-store"

    log = app.log()
    assert "user=alice@corp.example" in log and "user=bob" in log
    assert "Traceback" not in log


def test_password_guessing_is_throttled_per_user_and_per_client_while_others_read_on(server_s3, gunicorn_factory, htpasswd_file, rules_file):
    bucket = f"access-guess-{free_port()}"
    server_s3.create_bucket(Bucket=bucket)
    for key, body in OBJECTS.items():
        server_s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/html")
    app = gunicorn_factory(bucket, env={
        "DOCS_AUTH": "basic", "DOCS_AUTH_HTPASSWD": htpasswd_file, "DOCS_ACCESS_RULES": rules_file(),
        "DOCS_AUTH_BASIC_FAILURES": "3", "DOCS_TRUSTED_PROXIES": "1", "WEB_CONCURRENCY": "1",
    })

    def get(path, user=None, password=None, client="10.9.9.9"):
        headers = {"X-Forwarded-For": client}
        if user is not None:
            headers["Authorization"] = basic(user, password)
        return requests.get(app.url + path, headers=headers, timeout=10)

    assert get("/docs/payments/x", "bob", "builder").status_code == 200
    # Guesses at alice's password from three addresses: the third failure stops her name for a minute.
    assert [get("/docs/payments/x", "alice", "guess", f"10.0.0.{n}").status_code for n in (1, 2, 3)] == [401] * 3
    throttled = get("/docs/payments/x", "alice", "wonderland", "10.0.0.4")
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["Retry-After"]) <= 60
    assert throttled.headers["Cache-Control"] == "no-store"
    # One address guessing many names: the address is stopped, whatever name it sends next.
    assert [get("/docs/payments/x", name, "guess", "10.0.0.5").status_code for name in ("bob", "eve", "mallory")] == [401] * 3
    assert get("/docs/payments/x", "zed", "guess", "10.0.0.5").status_code == 429
    # Other readers read on: a public page, and bob, whose password was checked before the guessing.
    assert get("/docs/handbook/", client="10.0.0.5").status_code == 200
    assert get("/docs/payments/x", "bob", "builder", "10.0.0.5").status_code == 200


HIDDEN_RULES = """\
hide_denied = true
default = "authenticated"
[[rule]]
path = "corp/2.0/"
users = ["bob"]
[[rule]]
path = "secret/"
users = ["bob"]
"""


def comparable(response, swap=None):
    """Return what a reader sees of a response, less what differs per request; ``swap`` renames the path asked for."""
    body = response.content
    if swap:
        body = body.replace(swap[0].encode(), swap[1].encode())
    headers = sorted((name, value) for name, value in response.headers.items() if name not in ("Date", "X-Request-ID", "Server"))
    return response.status_code, headers, body


def test_a_hidden_refusal_is_byte_identical_to_a_missing_page_of_the_same_kind(server_s3, gunicorn_factory, htpasswd_file, rules_file, tmp_path):
    from tests.portal.test_e2e import publish_version

    bucket = f"access-hidden-{free_port()}"
    server_s3.create_bucket(Bucket=bucket)
    site = tmp_path / "site"
    (site / "guide").mkdir(parents=True)
    (site / "guide" / "index.html").write_text("<title>Guide</title>")
    (site / "index.html").write_text("<title>Home</title>")
    for version in ("1.0", "2.0"):
        publish_version(server_s3, bucket, str(site), "corp", version)
    server_s3.put_object(Bucket=bucket, Key="secret/page.html", Body=b"secret", ContentType="text/html")
    server_s3.put_object(Bucket=bucket, Key="404.html", Body=b"<title>Not found</title>", ContentType="text/html")
    app = gunicorn_factory(bucket, env={
        "DOCS_AUTH": "basic", "DOCS_AUTH_HTPASSWD": htpasswd_file, "DOCS_ACCESS_RULES": rules_file(HIDDEN_RULES),
        "DOCS_ERROR_DOCUMENT": "404.html", "WEB_CONCURRENCY": "1",
    })
    alice = {"Authorization": basic("alice", "wonderland")}
    html = {**alice, "Accept": "text/html"}

    def get(path, headers, method="GET"):
        return requests.request(method, app.url + path, headers=headers, allow_redirects=False, timeout=10)

    assert get("/docs/secret/page.html", {"Authorization": basic("bob", "builder")}).status_code == 200
    for method in ("GET", "HEAD"):
        for path, missing, headers in [
            ("/docs/secret/page.html", "/docs/secrex/page.html", alice),  # S3's XML
            ("/docs/secret/page.html", "/docs/secrex/page.html", html),  # the error document
            ("/docs/secret", "/docs/secrex", alice),  # no directory probe either
            ("/docs/corp/2.0/guide/", "/docs/corp/3.0/guide/", html),  # the portal's unknown version page
            ("/docs/corp/2.0/", "/docs/corp/3.0/", alice),
        ]:
            hidden, real = get(path, headers, method), get(missing, headers, method)
            assert hidden.status_code == 404, (method, path)
            swap = (path.split("/")[2], missing.split("/")[2]) if "secret" in path else ("2.0", "3.0")
            assert comparable(hidden, swap) == comparable(real), (method, path, headers)


def test_a_public_folder_rule_does_not_serve_the_file_of_its_name_in_a_restricted_parent(server_s3, gunicorn_factory, htpasswd_file, rules_file):
    bucket = f"access-open-{free_port()}"
    server_s3.create_bucket(Bucket=bucket)
    server_s3.put_object(Bucket=bucket, Key="corp/open", Body=b"restricted file", ContentType="text/plain")
    server_s3.put_object(Bucket=bucket, Key="corp/open/index.html", Body=b"open page", ContentType="text/html")
    rules = 'default = "public"\n[[rule]]\npath = "corp/"\nusers = ["bob"]\n[[rule]]\npath = "corp/open/"\npublic = true\n'
    app = gunicorn_factory(bucket, env={"DOCS_AUTH": "basic", "DOCS_AUTH_HTPASSWD": htpasswd_file,
                                        "DOCS_ACCESS_RULES": rules_file(rules), "WEB_CONCURRENCY": "1"})

    def get(path, headers=None):
        return requests.get(app.url + path, headers=headers or {}, allow_redirects=False, timeout=10)

    assert (get("/docs/corp/open/").status_code, get("/docs/corp/open/").content) == (200, b"open page")
    for headers, status in [({}, 401), ({"Authorization": basic("alice", "wonderland")}, 403)]:
        refused = get("/docs/corp/open", headers)
        assert refused.status_code == status and b"restricted file" not in refused.content
    assert get("/docs/corp/open", {"Authorization": basic("bob", "builder")}).content == b"restricted file"


def test_a_tokens_user_claim_never_stands_in_for_its_unverified_email(server_s3, gunicorn_factory, key_server, jwt_settings, signers, rules_file):
    # With a user claim other than email (preferred_username, which many IdPs let users choose), an
    # unverified email is dropped; the user name must not then be read as the email instead.
    bucket = f"access-claims-{free_port()}"
    server_s3.create_bucket(Bucket=bucket)
    server_s3.put_object(Bucket=bucket, Key="boss/x", Body=b"boss", ContentType="text/plain")
    rules = 'default = "deny"\n[[rule]]\npath = "boss/"\nemails = ["boss@corp.example"]\n'
    app = gunicorn_factory(bucket, env={**jwt_settings, "DOCS_AUTH_JWT_USER_CLAIM": "preferred_username",
                                        "DOCS_ACCESS_RULES": rules_file(rules), "WEB_CONCURRENCY": "1"})

    def status(**claims):
        token = signers["k1"].token(claims)
        return requests.get(app.url + "/docs/boss/x", headers={"Authorization": "Bearer " + token}, timeout=10).status_code

    assert status(preferred_username="boss", email="boss@corp.example", email_verified=True) == 200
    assert status(preferred_username="boss", email="boss@corp.example", email_verified=False) == 403
    assert status(preferred_username="boss@corp.example", email="mallory@evil.example", email_verified=False) == 403
    assert status(preferred_username="boss@corp.example", email=None) == 403


def test_only_the_same_person_matches_and_unverified_emails_count_for_nobody(server_s3, gunicorn_factory, key_server, jwt_settings, signers, rules_file):
    bucket = f"access-names-{free_port()}"
    server_s3.create_bucket(Bucket=bucket)
    for folder in ("boss", "kit"):
        server_s3.put_object(Bucket=bucket, Key=f"{folder}/x", Body=folder.encode(), ContentType="text/plain")
    rules = ('default = "deny"\n[[rule]]\npath = "boss/"\nemails = ["boss@corp.example"]\n'
             '[[rule]]\npath = "kit/"\nemail_domains = ["kit.example"]\n')
    app = gunicorn_factory(bucket, env={**jwt_settings, "DOCS_ACCESS_RULES": rules_file(rules), "WEB_CONCURRENCY": "1"})

    def status(path, **claims):
        token = signers["k1"].token(claims)
        return requests.get(app.url + path, headers={"Authorization": "Bearer " + token}, timeout=10).status_code

    assert status("/docs/boss/x", email="boss@corp.example") == 200
    assert status("/docs/boss/x", email="BOSS@corp.example") == 200  # ASCII case is the same address
    assert status("/docs/boss/x", email="bo\u017fs@corp.example") == 403  # long s: case folding made it 'boss'
    assert status("/docs/kit/x", email="a@kit.example") == 200
    assert status("/docs/kit/x", email="a@\u212ait.example") == 403  # Kelvin sign: folded (and NFC'd) to 'k'
    assert status("/docs/boss/x", email="boss@corp.example", email_verified=True) == 200
    assert status("/docs/boss/x", email="boss@corp.example", email_verified="true") == 200
    assert status("/docs/boss/x", email="boss@corp.example", email_verified=False) == 401
    assert status("/docs/boss/x", email="boss@corp.example", email_verified="false") == 401


def test_identity_headers_sent_twice_by_the_trusted_hop_are_refused(server_s3, gunicorn_factory, secret_file, rules_file):
    bucket = f"access-twice-{free_port()}"
    server_s3.create_bucket(Bucket=bucket)
    for key, body in OBJECTS.items():
        server_s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/html")
    app = gunicorn_factory(bucket, env={
        "DOCS_AUTH": "header", "DOCS_AUTH_TRUSTED_NETWORKS": "127.0.0.1/32", "DOCS_AUTH_SECRET_FILE": secret_file,
        "DOCS_ACCESS_RULES": rules_file(), "WEB_CONCURRENCY": "1",
    })

    def get(*headers):
        connection = http.client.HTTPConnection("127.0.0.1", app.port, timeout=10)
        try:
            connection.putrequest("GET", "/docs/payments/x")
            for name, value in (("X-Docs-Proxy-Secret", SECRET), *headers):
                connection.putheader(name, value)
            connection.endheaders()
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    assert get(("X-Forwarded-User", "bob")) == (200, OBJECTS["payments/x"])  # bob is in sre (local group)
    assert get(("X-Forwarded-User", "carol"), ("X-Forwarded-User", "bob"))[0] == 401
    assert get(("X-Forwarded-User", "carol,bob"))[0] == 401
    assert get(("X-Forwarded-User", "dave"), ("X-Forwarded-Groups", "marketing"), ("X-Forwarded-Groups", "team-payments"))[0] == 401
    assert get(("X-Forwarded-Email", "dave@corp.example"), ("X-Forwarded-Email", "ciso@corp.example"))[0] == 401
    # A client cannot forge the mark to refuse others' requests: it is dropped before the app sees it.
    assert get(("X-Forwarded-User", "bob"), ("X-Docs-Proxy-Repeated", "X-FORWARDED-USER"))[0] == 200
    assert "sent more than once" in app.log()
