"""deploy/'s nginx site in front of gunicorn with DOCS_PROJECT_HOSTS: hosts routed, a client's X-Forwarded-Host overwritten."""

import http.client
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from tests.ops.test_deploy import DEPLOY, self_signed_certificate
from tests.servers import free_port, wait_for_port

DOMAIN = "docs.example.internal"  # the deploy files' own names, unchanged


@pytest.fixture
def deployed(server_s3, gunicorn_factory):
    """The deploy/ nginx site (TLS on a free port) -> gunicorn with the deploy environment's DOCS_PROJECT_HOSTS."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.access(nginx, os.X_OK):
        pytest.fail("nginx is not installed: apt-get install nginx (tests/system-deps.sh)")
    bucket = f"hosts-nginx-{uuid.uuid4().hex[:12]}"
    server_s3.create_bucket(Bucket=bucket)
    for key in ("payments/1.0/index.html", "wiki/1.0/index.html"):
        server_s3.put_object(Bucket=bucket, Key=key, Body=f"<p>{key}</p>".encode(), ContentType="text/html")
    environment = dict(line.split("=", 1) for line in (DEPLOY / "systemd" / "docs-proxy.env").read_text().splitlines()
                       if line and not line.startswith("#"))
    app = gunicorn_factory(bucket, env={"DOCS_PROJECT_HOSTS": environment["DOCS_PROJECT_HOSTS"],
                                        "DOCS_TRUSTED_PROXIES": environment["DOCS_TRUSTED_PROXIES"],
                                        "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "4"})
    # Started as root, nginx's worker runs as nobody and must be able to enter its prefix.
    prefix = Path(tempfile.mkdtemp(prefix="docs-proxy-nginx-"))
    prefix.chmod(0o755)
    cert, key = self_signed_certificate(prefix)
    tls_port = free_port()
    site = (DEPLOY / "nginx" / "docs-proxy.conf").read_text()
    for old, new in (("/etc/ssl/docs-proxy/fullchain.pem", str(cert)), ("/etc/ssl/docs-proxy/privkey.pem", str(key)),
                     ("server 127.0.0.1:8000 ", f"server 127.0.0.1:{app.port} "),
                     ("listen 443 ssl http2;", f"listen 127.0.0.1:{tls_port} ssl http2;"),
                     ("listen [::]:443 ssl http2;", ""), ("listen 80;", f"listen 127.0.0.1:{free_port()};"),
                     ("listen [::]:80;", "")):
        assert old in site, old
        site = site.replace(old, new)
    (prefix / "site.conf").write_text(site)
    (prefix / "nginx.conf").write_text(
        f"daemon off;\nworker_processes 1;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log;\n"
        "events { worker_connections 64; }\nhttp {\n"
        f"    client_body_temp_path {prefix}/body; proxy_temp_path {prefix}/proxy; fastcgi_temp_path {prefix}/fastcgi;\n"
        f"    uwsgi_temp_path {prefix}/uwsgi; scgi_temp_path {prefix}/scgi;\n"
        f"    access_log off;\n    include {prefix}/site.conf;\n}}\n"
    )
    process = subprocess.Popen([nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        wait_for_port(tls_port, timeout=15, process=process)
        yield {"port": tls_port, "app": app}
    finally:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(prefix, ignore_errors=True)


def get(port, path, headers, tls=True):
    """GET ``path`` from 127.0.0.1:``port`` with exactly ``headers``; return the status, Location and body."""
    if tls:
        connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=ssl._create_unverified_context())
    else:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.getheader("Location"), response.read()
    finally:
        connection.close()


def test_the_deployed_nginx_site_routes_each_project_host_and_overwrites_a_clients_forwarded_host(deployed):
    port = deployed["port"]
    status, _, body = get(port, "/docs/payments/1.0/", {"Host": f"payments.{DOMAIN}"})
    assert (status, body) == (200, b"<p>payments/1.0/index.html</p>")
    assert get(port, "/docs/payments/1.0/", {"Host": DOMAIN})[:2] == (302, f"//payments.{DOMAIN}/docs/payments/1.0/")
    # A page on wiki's host sets X-Forwarded-Host on its fetch: nginx replaces it with the real host.
    spoofed = get(port, "/docs/payments/1.0/", {"Host": f"wiki.{DOMAIN}", "X-Forwarded-Host": f"payments.{DOMAIN}"})
    assert spoofed[:2] == (302, f"//payments.{DOMAIN}/docs/payments/1.0/")
    assert b"payments/1.0" not in spoofed[2]


def test_a_proxy_that_passed_the_clients_forwarded_host_on_would_be_refused(deployed):
    # Straight to gunicorn, which trusts one proxy: as if the proxy had passed the client's header on.
    status, _, body = get(deployed["app"].port, "/docs/payments/1.0/",
                          {"Host": f"wiki.{DOMAIN}", "X-Forwarded-Host": f"payments.{DOMAIN}"}, tls=False)
    assert status == 400 and b"X-Forwarded-Host" in body
