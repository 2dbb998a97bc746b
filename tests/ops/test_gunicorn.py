"""Operations under real gunicorn against moto's server: JSON logs, summed metrics, start-up warnings, draining."""

import http.client
import json
import os
import signal
import time
import uuid

import pytest
import requests

from tests.ops.conftest import parse_metrics, sample
from tests.servers import Gunicorn, raw_request

PAGE = b"<html><body>" + b"p" * 4000 + b"</body></html>"


@pytest.fixture
def bucket(server_s3):
    """A fresh bucket on the moto server with one page."""
    name = f"ops-{uuid.uuid4().hex[:12]}"
    server_s3.create_bucket(Bucket=name)
    server_s3.put_object(Bucket=name, Key="index.html", Body=PAGE, ContentType="text/html")
    server_s3.put_object(Bucket=name, Key='we"ird page.html', Body=b"odd", ContentType="text/html")
    return name


def json_lines(text):
    """Return every line of a log as parsed JSON (failing on any line that is not)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_json_mode_writes_every_log_line_as_json_with_the_request_fields(gunicorn_factory, bucket):
    # The logged byte count is compared with the page's length: sent as stored, not compressed.
    server = gunicorn_factory(bucket, env={"DOCS_LOG_FORMAT": "json", "DOCS_COMPRESSION": "off"})
    with requests.get(f"{server.url}/docs/", headers={"X-Request-ID": "ticket-4711"}) as response:
        assert response.content == PAGE
        ours = response.headers["X-Request-ID"]
        assert ours != "ticket-4711"
    with requests.get(f"{server.url}/docs/we%22ird%20page.html") as response:
        assert response.content == b"odd"
    requests.get(f"{server.url}/docs/missing.html", headers={"X-Request-ID": "ticket-4712"}).close()
    time.sleep(0.3)  # the access line is written after the response
    server.stop()
    lines = json_lines(server.log())
    access = [line for line in lines if line.get("logger") == "gunicorn.access"]
    page = next(line for line in access if line["client_request_id"] == "ticket-4711")
    assert page["request_id"] == ours
    assert page["status"] == 200 and page["method"] == "GET" and page["path"] == "/docs/"
    assert page["bytes"] == len(PAGE)
    assert page["s3_key"] == "index.html"
    assert page["s3_request_id"]
    assert page["route"] == "docs"
    assert page["duration_ms"] > 0
    assert page["level"] == "INFO" and page["time"].endswith("+00:00")
    odd = next(line for line in access if line["path"] == '/docs/we"ird page.html')
    assert odd["s3_key"] == 'we"ird page.html'
    # The application's own warning about the 404 carries the same request id as its access line.
    app_lines = [line for line in lines if line.get("client_request_id") == "ticket-4712"]
    assert len({line["request_id"] for line in app_lines}) == 1
    assert {line["logger"] for line in app_lines} == {"app", "gunicorn.access"}
    assert any(line["level"] == "INFO" and "Booting worker" in line["message"] for line in lines)


def test_text_mode_access_log_names_the_user_and_request_id(gunicorn_factory, bucket):
    server = gunicorn_factory(bucket)
    with requests.get(f"{server.url}/docs/", headers={"X-Request-ID": "text-77"}) as response:
        ours = response.headers["X-Request-ID"]
    time.sleep(0.3)
    server.stop()
    line = next(line for line in server.log().splitlines() if "client_request_id=text-77" in line)
    assert f" request_id={ours} " in line
    assert '"GET /docs/ HTTP/1.1" 200' in line
    assert "user=-" in line  # nobody signed in


def test_metrics_are_summed_across_workers(gunicorn_factory, bucket):
    # One S3 GET per request is what is counted: the cache (tests/cache) would answer the repeats.
    server = gunicorn_factory(bucket, env={"WEB_CONCURRENCY": "2", "DOCS_CACHE": "off"})
    sent = 40
    for _ in range(sent):
        # A fresh connection each time: the kernel spreads them over both workers (reuse_port).
        with requests.get(f"{server.url}/docs/", headers={"Connection": "close"}) as response:
            assert response.content == PAGE
    for _ in range(6):
        with requests.get(f"{server.url}/_/metrics", headers={"Connection": "close"}) as response:
            metrics = parse_metrics(response.text)
        assert sample(metrics, "docs_proxy_http_requests_total", route="docs", method="GET", status="2xx") == sent
        assert sample(metrics, "docs_proxy_s3_requests_total", operation="GetObject", outcome="ok") == sent
        assert sample(metrics, "docs_proxy_downloads_in_flight") == 0
    workers = {line.split("pid: ")[1].split()[0] for line in server.log().splitlines() if "Booting worker with pid" in line}
    assert len(workers) == 2


def test_made_up_methods_are_counted_under_one_label_not_a_series_each(gunicorn_factory, bucket):
    server = gunicorn_factory(bucket, env={"WEB_CONCURRENCY": "1"})
    for number in range(30):
        raw_request(server, "/docs/", method=f"X{number:04d}Y")
    raw_request(server, "/docs/", method="HEAD")
    status, _, body = raw_request(server, "/_/metrics")
    assert status == 200
    methods = {
        dict(labels)["method"]: value
        for (name, labels), value in parse_metrics(body.decode()).items()
        if name == "docs_proxy_http_requests_total"
    }
    assert methods == {"other": 30, "HEAD": 1}


def test_documented_limits_are_safe_by_default(gunicorn_factory, bucket):
    server = gunicorn_factory(bucket, env={"WEB_CONCURRENCY": "1", "DOCS_TRUSTED_PROXIES": "1", "DOCS_METRICS_ALLOW": "10.0.0.0/8"})
    # DOCS_METRICS_ALLOW judges the socket's peer (127.0.0.1), never what X-Forwarded-For claims.
    status, _, _ = raw_request(server, "/_/metrics", {"X-Forwarded-For": "10.1.2.3"})
    assert status == 403
    # Plain-text errors echo what was sent: browsers must not sniff them into HTML.
    for path in ("/docs/a/%2e%2e/<script>", "/_/metrics", "/no/such/route"):
        status, headers, _ = raw_request(server, path)
        assert status >= 400 and headers["Content-Type"].startswith("text/plain")
        assert headers["X-Content-Type-Options"] == "nosniff", path
    # A reader's X-Request-ID (another request's id, or junk) never becomes ours; a valid one is logged apart.
    _, first, _ = raw_request(server, "/docs/")
    _, second, _ = raw_request(server, "/docs/", {"X-Request-ID": first["X-Request-ID"]})
    _, third, _ = raw_request(server, "/docs/", {"X-Request-ID": "forged id=1 user=admin"})
    assert len({first["X-Request-ID"], second["X-Request-ID"], third["X-Request-ID"]}) == 3
    time.sleep(0.3)
    server.stop()
    log = server.log()
    assert f"request_id={second['X-Request-ID']} client_request_id={first['X-Request-ID']}" in log
    assert f"request_id={third['X-Request-ID']} client_request_id=-" in log and "user=admin" not in log


def test_startup_warns_naming_a_missing_bucket(gunicorn_factory):
    server = gunicorn_factory("no-such-bucket-anywhere", env={"WEB_CONCURRENCY": "1"})
    assert requests.get(f"{server.url}/_/health").status_code == 200
    with requests.get(f"{server.url}/_/ready") as response:
        assert response.status_code == 503
        assert "no such bucket" in response.text
    server.stop()
    assert "docs-proxy: warning: S3 is not usable for bucket 'no-such-bucket-anywhere': no such bucket: " in server.log()


def test_startup_warns_when_there_are_no_credentials(tmp_path, moto_server):
    env = {
        "S3_BUCKET": "any", "S3_ENDPOINT_URL": moto_server, "WEB_CONCURRENCY": "1",
        "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    server = Gunicorn(env, log_path=tmp_path / "gunicorn.log")
    server.stop()
    assert "S3 is not usable for bucket 'any': no credentials: boto3 found no AWS credentials" in server.log()


def test_ready_turns_503_once_the_worker_got_sigterm(gunicorn_factory, bucket):
    server = gunicorn_factory(bucket, env={"WEB_CONCURRENCY": "1"})
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", "/_/ready")
    response = connection.getresponse()
    assert (response.status, response.read()) == (200, b"ready\n")
    server.process.send_signal(signal.SIGTERM)
    # On the connection kept alive from before, as a load balancer's probe: 200 until the worker has
    # the signal (the master forwards it), then 503 while it drains (it keeps such connections ~2 s).
    deadline = time.monotonic() + 5
    while True:
        connection.request("GET", "/_/ready")
        response = connection.getresponse()
        body = response.read()
        if response.status != 200 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert response.status == 503
    assert body.startswith(b"503 Service Unavailable: not ready: draining: ")
    connection.close()
    server.process.wait(30)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/_/health", timeout=2)


def worker_pids(master_pid):
    """Return the PIDs of the gunicorn master's workers."""
    with open(f"/proc/{master_pid}/task/{master_pid}/children") as children:
        return sorted(int(pid) for pid in children.read().split())


def test_a_killed_workers_downloads_stop_counting_as_in_flight(gunicorn_factory, bucket, server_s3):
    server_s3.put_object(Bucket=bucket, Key="big.bin", Body=b"b" * (16 * 1024 * 1024))
    server = gunicorn_factory(bucket, env={"WEB_CONCURRENCY": "1", "DOCS_CHUNK_SIZE": "65536"})

    def in_flight():
        with requests.get(f"{server.url}/_/metrics", headers={"Connection": "close"}) as response:
            return sample(parse_metrics(response.text), "docs_proxy_downloads_in_flight")

    (old_worker,) = worker_pids(server.process.pid)
    download = requests.get(f"{server.url}/docs/big.bin", stream=True)
    next(download.iter_content(65536))  # the body is being sent; the client then stops reading
    assert in_flight() == 1
    os.kill(old_worker, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and worker_pids(server.process.pid) in ([], [old_worker]):
        time.sleep(0.1)
    download.close()
    # The replacement worker answers; child_exit removed the dead worker's live gauge.
    deadline = time.monotonic() + 30
    while True:
        try:
            value = in_flight()
            break
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    assert value == 0
