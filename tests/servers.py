"""Real servers for end-to-end tests: moto's S3 server and gunicorn serving the app, on 127.0.0.1."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import http.client

import boto3
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from werkzeug.datastructures import Headers

ROOT = Path(__file__).resolve().parent.parent
# Debian's Chromium (never a downloaded browser), headless, with no background traffic: this machine's
# network is closed, and Chromium would otherwise retry its own services at every start.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    # No --user-data-dir: Playwright refuses it in launch args and gives every launch a fresh temporary profile.
]
TIMEOUT_MS = 15_000

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port():
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port, timeout=30.0, process=None):
    """Wait until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listened on 127.0.0.1:{port} within {timeout}s")


def s3_client(endpoint_url):
    """Return a plain S3 client for a test endpoint."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


class Gunicorn:
    """gunicorn serving ``wsgi:app`` from the repository root in a subprocess."""

    def __init__(self, env, args=(), log_path=None):
        self.port = free_port()
        self.log_path = log_path
        full_env = {**os.environ, **FAKE_CREDENTIALS, **env, "DOCS_BIND": f"127.0.0.1:{self.port}"}
        log = open(log_path, "wb") if log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", *args, "wsgi:app"],
            cwd=ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        if log_path:
            log.close()
        try:
            wait_for_port(self.port, process=self.process)
        except Exception:
            self.stop()
            raise
        self.url = f"http://127.0.0.1:{self.port}"

    def log(self):
        """Return what gunicorn has written so far."""
        return Path(self.log_path).read_text(errors="replace") if self.log_path else ""

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Stop gunicorn and wait for it."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class RawConnection(http.client.HTTPConnection):
    """http.client sending the request line as UTF-8, as curl sends a path typed with non-ASCII letters."""

    def _encode_request(self, request):
        return request.encode("utf-8")


def raw_request(server, path, headers=None, method="GET"):
    """Send one request with http.client, the path and headers exactly as given (no normalisation, no
    Accept-Encoding added); return the status, the headers (case-insensitive) and the body as sent."""
    connection = RawConnection("127.0.0.1", server.port, timeout=30)
    try:
        # A Host given in ``headers`` replaces http.client's own (two would be a 400).
        skip_host = any(name.lower() == "host" for name in (headers or {}))
        connection.putrequest(method, path, skip_host=skip_host, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, Headers(response.getheaders()), response.read()
    finally:
        connection.close()


def canned_s3_answer(s3_client, status, body=b"", headers=None, request_id="REQ123"):
    """Make ``s3_client`` receive this HTTP response for every request, without reaching any endpoint."""

    class Raw:
        def __init__(self):
            self.data = body

        def stream(self, **kwargs):
            yield body

    def send(request, **kwargs):
        return AWSResponse(request.url, status, {"x-amz-request-id": request_id, **(headers or {})}, Raw())

    s3_client.meta.events.register_first("before-send.s3.*", send)
