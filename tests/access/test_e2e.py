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
