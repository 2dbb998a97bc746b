"""A small cluster on 127.0.0.1 for the scale-out tests: moto's server, gunicorn replicas, nginx, Prometheus.

Every process runs in its own session so a replica can be killed as a whole (master and workers),
and everything is stopped by the fixtures that start it.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.servers import FAKE_CREDENTIALS, ROOT, free_port, s3_client, wait_for_port

DEPLOY_SITE = ROOT / "deploy" / "nginx" / "docs-proxy.conf"


def stop_group(process, sig=signal.SIGTERM, timeout=30):
    """Signal a process's whole session, wait for it, and kill it if it does not exit."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class MotoProcess:
    """moto's S3 server in its own process, so the load's client threads do not share its interpreter."""

    def __init__(self, log_path):
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=open(log_path, "wb"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_for_port(self.port, process=self.process)
        self.url = f"http://127.0.0.1:{self.port}"
        self.client = s3_client(self.url)

    def stop(self):
        stop_group(self.process, timeout=10)


class Replica:
    """One docs-proxy replica: gunicorn with the repository's gunicorn.conf.py on a fixed port."""

    def __init__(self, name, env, log_dir, port=None):
        self.name = name
        self.env = env
        self.log_dir = Path(log_dir)
        self.port = port or free_port()
        self.starts = 0
        self.process = None

    def start(self, wait=True):
        """Start gunicorn (again, on the same port after a restart)."""
        self.starts += 1
        log = open(self.log_dir / f"{self.name}-{self.starts}.log", "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env={**os.environ, **FAKE_CREDENTIALS, **self.env, "DOCS_BIND": f"127.0.0.1:{self.port}"},
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=60):
        """Wait until /_/ready answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_/ready", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} was not ready within {timeout}s:\n{self.log()}")

    def kill(self):
        """Kill the replica at once, master and workers, as a crashed machine would."""
        stop_group(self.process, signal.SIGKILL)

    def terminate(self, timeout=60):
        """Stop the replica gracefully (SIGTERM to the master, as systemd or Kubernetes do) and wait."""
        stop_group(self.process, signal.SIGTERM, timeout)

    def log(self):
        return "\n".join(path.read_text(errors="replace") for path in sorted(self.log_dir.glob(f"{self.name}-*.log")))


def location_block(site_text):
    """Return the deploy site's ``location / { ... }`` block: the proxy settings the test runs with."""
    match = re.search(r"\n    location / \{\n.*?\n    \}\n", site_text, re.S)
    assert match, "deploy/nginx/docs-proxy.conf has no `location / { ... }` block"
    return match.group(0)


NGINX_CONFIG = """\
daemon off;
master_process on;
worker_processes 1;
user root;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    log_format upstreams '$status $upstream_addr $upstream_status $request_id $upstream_http_x_request_id';
    access_log {prefix}/access.log upstreams;
    upstream docs_proxy {{
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        set $docs_request_id $http_x_request_id;
        if ($docs_request_id = "") {{
            set $docs_request_id $request_id;
        }}
{location}
    }}
}}
"""


class Nginx:
    """Debian's nginx in front of the replicas, with deploy/nginx/docs-proxy.conf's proxy settings."""

    def __init__(self, prefix, ports, fail_timeout=10):
        self.prefix = Path(prefix)
        self.prefix.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        servers = "\n".join(f"        server 127.0.0.1:{port} max_fails=2 fail_timeout={fail_timeout}s;" for port in ports)
        text = NGINX_CONFIG.format(
            prefix=self.prefix, port=self.port, servers=servers, location=location_block(DEPLOY_SITE.read_text())
        )
        (self.prefix / "nginx.conf").write_text(text)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.process = subprocess.Popen(
            [nginx, "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf"), "-e", str(self.prefix / "error.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_for_port(self.port, process=self.process)
        self.url = f"http://127.0.0.1:{self.port}"

    def access_lines(self):
        path = self.prefix / "access.log"
        return path.read_text().splitlines() if path.exists() else []

    def stop(self):
        stop_group(self.process, signal.SIGQUIT, timeout=10)


PROMETHEUS_CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: docs-proxy
    metrics_path: /_/metrics
    static_configs:
      - targets: [{targets}]
"""


class Prometheus:
    """Debian's Prometheus scraping the replicas every second, from a generated configuration."""

    def __init__(self, directory, ports):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        targets = ", ".join(f"'127.0.0.1:{port}'" for port in ports)
        (self.directory / "prometheus.yml").write_text(PROMETHEUS_CONFIG.format(targets=targets))
        binary = shutil.which("prometheus") or "/usr/bin/prometheus"
        self.process = subprocess.Popen(
            [binary, f"--config.file={self.directory / 'prometheus.yml'}",
             f"--storage.tsdb.path={self.directory / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}",
             "--log.level=warn"],
            stdout=open(self.directory / "prometheus.log", "wb"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("prometheus exited:\n" + (self.directory / "prometheus.log").read_text())
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("prometheus was not ready within 60 s")

    def stop(self):
        stop_group(self.process, timeout=20)


def port_is_free(port):
    """Tell whether nothing listens on 127.0.0.1:``port``."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0
