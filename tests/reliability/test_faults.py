"""Reliability, group 3: faults between the app and S3, injected by a proxy in front of moto.

gunicorn runs the app with its S3 endpoint pointing at ``FaultProxy``; each test injects one fault,
checks what the reader gets, then switches the proxy back to ``pass`` and checks the app serves
normally again. S3_MAX_ATTEMPTS counts total attempts (botocore's standard retry mode).
"""

import hashlib
import socket
import time

import pytest
import requests

from tests.faultproxy import FaultProxy, report_figures

BUCKET = "reliability-faults"
MAX_ATTEMPTS = 3
READ_TIMEOUT = 1.0
BIG = hashlib.sha256(b"seed").digest() * (4 * 1024 * 1024 // 32)  # 4 MiB, 16 chunks of 256 KiB
PAGE = b"<h1>release notes</h1>\n" * 100
FIGURES = {}


@pytest.fixture(scope="module", autouse=True)
def fault_report(tmp_path_factory):
    """Report the figures the module's tests measured once they have all run."""
    yield
    report_figures(tmp_path_factory.mktemp("faults"), "faults", FIGURES)


@pytest.fixture(scope="module")
def fault_bucket(server_s3):
    """The bucket behind the proxy: a page and a 4 MiB download."""
    server_s3.create_bucket(Bucket=BUCKET)
    server_s3.put_object(Bucket=BUCKET, Key="notes.html", Body=PAGE, ContentType="text/html")
    server_s3.put_object(Bucket=BUCKET, Key="big.bin", Body=BIG)
    return BUCKET


@pytest.fixture
def proxy(moto_server):
    """A fault proxy in front of the moto server, passing everything to start with."""
    fault_proxy = FaultProxy(moto_server).start()
    yield fault_proxy
    fault_proxy.stop()


@pytest.fixture
def server(gunicorn_factory, fault_bucket, proxy):
    """gunicorn whose S3 endpoint is the proxy, with short timeouts and three attempts per call."""
    return gunicorn_factory(fault_bucket, env={
        "S3_ENDPOINT_URL": proxy.url,
        "S3_CONNECT_TIMEOUT": "1",
        "S3_READ_TIMEOUT": str(READ_TIMEOUT),
        "S3_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
        "WEB_CONCURRENCY": "1",
        # What S3's faults do to a request that reaches S3; the cache's stale answers are tests/cache's.
        "DOCS_CACHE": "off",
    })


def fetch(server, path, method="GET"):
    """Request ``path`` over a raw socket; return status, headers, the body received and Content-Length.

    Reading to the end of the connection shows exactly what the server sent, short or not.
    """
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"{method} /docs/{path} HTTP/1.1\r\nHost: docs\r\nConnection: close\r\n\r\n".encode())
        received = b""
        while True:
            try:
                data = sock.recv(262144)
            except ConnectionResetError:
                break
            if not data:
                break
            received += data
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    length = int(headers["content-length"]) if "content-length" in headers else None
    return int(lines[0].split()[1]), headers, body, length


def assert_serves_normally(server):
    """The app answers a page and a download completely once the proxy passes again."""
    status, _, body, _ = fetch(server, "notes.html")
    assert (status, body) == (200, PAGE)
    status, _, body, length = fetch(server, "big.bin")
    assert (status, length, hashlib.sha256(body).digest()) == (200, len(BIG), hashlib.sha256(BIG).digest())


def record(name, **figures):
    """Keep a figure for the report written at the end of the module."""
    FIGURES[name] = figures


def test_s3_refusing_connections_gives_502_then_recovers(server, proxy):
    assert_serves_normally(server)
    proxy.set_mode("refuse")
    started = time.monotonic()
    status, _, body, _ = fetch(server, "notes.html")
    elapsed = time.monotonic() - started
    assert status == 502, body
    assert b"S3 could not be reached" in body
    proxy.set_mode("pass")
    assert_serves_normally(server)
    record("refused", status=status, seconds=round(elapsed, 2))


def test_s3_stalling_past_the_read_timeout_gives_504_after_every_attempt(server, proxy):
    proxy.set_mode("stall", seconds=READ_TIMEOUT * 3, then="close")
    started = time.monotonic()
    status, _, body, _ = fetch(server, "notes.html")
    elapsed = time.monotonic() - started
    attempts = proxy.faults
    assert status == 504, body
    assert attempts == MAX_ATTEMPTS
    head_status, _, _, _ = fetch(server, "notes.html", method="HEAD")
    assert head_status == 504
    proxy.set_mode("pass")
    assert_serves_normally(server)
    record("stall_before_head", status=status, attempts=attempts, seconds=round(elapsed, 2))


def test_s3_stalling_once_is_retried_and_served_whole(server, proxy):
    proxy.set_mode("stall", count=1, seconds=READ_TIMEOUT * 3, then="close")
    status, _, body, length = fetch(server, "big.bin")
    assert (status, length, body == BIG) == (200, len(BIG), True)
    assert proxy.faults == 1
    record("stall_once", status=status, attempts=2, complete=True)


def test_s3_stalling_right_after_the_head_gives_504(server, proxy):
    proxy.set_mode("stall_body", count=1, after_bytes=0, seconds=READ_TIMEOUT * 3)
    status, _, body, _ = fetch(server, "big.bin")
    assert status == 504, body[:300]
    proxy.set_mode("pass")
    assert_serves_normally(server)
    record("stall_after_head", status=status)


def test_s3_stalling_mid_body_ends_the_response_short_of_its_length(server, proxy):
    proxy.set_mode("stall_body", count=1, after_bytes=1024 * 1024 + 1000, seconds=READ_TIMEOUT * 3)
    status, _, body, length = fetch(server, "big.bin")
    assert status == 200 and length == len(BIG)
    assert len(body) < length, "a stalled download must not look complete"
    assert BIG.startswith(body)
    proxy.set_mode("pass")
    assert_serves_normally(server)
    record("stall_mid_body", status=status, content_length=length, received=len(body))


def test_s3_resetting_mid_body_ends_the_response_short_of_its_length(server, proxy):
    proxy.set_mode("reset", count=1, after_bytes=1024 * 1024 + 1000)
    status, _, body, length = fetch(server, "big.bin")
    assert status == 200 and length == len(BIG)
    assert len(body) < length, "a truncated download must not look complete"
    assert BIG.startswith(body)
    assert proxy.faults == 1  # botocore had already returned the response: no retry is possible
    proxy.set_mode("pass")
    assert_serves_normally(server)
    record("reset_mid_body", status=status, content_length=length, received=len(body))


def test_s3_resetting_mid_body_makes_an_http_client_raise(server, proxy):
    proxy.set_mode("reset", count=1, after_bytes=2 * 1024 * 1024)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        with requests.get(f"{server.url}/docs/big.bin", stream=True, timeout=30) as response:
            assert response.status_code == 200
            b"".join(response.iter_content(65536))
    proxy.set_mode("pass")
    assert_serves_normally(server)


def test_s3_resetting_right_after_the_head_gives_502(server, proxy):
    proxy.set_mode("reset", count=1, after_bytes=0)
    status, _, body, _ = fetch(server, "big.bin")
    assert status == 502, body[:300]
    proxy.set_mode("pass")
    assert_serves_normally(server)
    record("reset_after_head", status=status)


def test_s3_resetting_before_the_head_is_retried_and_served_whole(server, proxy):
    proxy.set_mode("drop", count=1)
    status, _, body, length = fetch(server, "big.bin")
    assert (status, length, body == BIG) == (200, len(BIG), True)
    assert proxy.faults == 1
    proxy.set_mode("drop")
    status, _, body, _ = fetch(server, "notes.html")
    attempts = proxy.faults
    assert status == 502, body
    assert attempts == MAX_ATTEMPTS
    proxy.set_mode("pass")
    assert_serves_normally(server)
    record("reset_before_head", retried_then_served=True, always_reset_status=status, attempts=attempts)


def test_s3_slowdown_is_retried_max_attempts_times_then_passed_through(server, proxy):
    proxy.set_mode("slowdown")
    status, headers, body, _ = fetch(server, "notes.html")
    attempts = proxy.faults
    times = [at for at, _ in proxy.faulted]
    assert status == 503
    assert b"<Code>SlowDown</Code>" in body
    assert headers["content-type"] == "application/xml"
    assert attempts == MAX_ATTEMPTS
    proxy.set_mode("pass")
    assert_serves_normally(server)
    gaps = [round(later - earlier, 3) for earlier, later in zip(times, times[1:])]
    record("slowdown_always", status=status, attempts=attempts, backoff_seconds=gaps)


def test_s3_slowdown_for_fewer_than_max_attempts_is_absorbed_by_retries(server, proxy):
    proxy.set_mode("slowdown", count=MAX_ATTEMPTS - 1)
    status, _, body, length = fetch(server, "big.bin")
    assert (status, length, body == BIG) == (200, len(BIG), True)
    assert proxy.faults == MAX_ATTEMPTS - 1
    record("slowdown_then_ok", status=status, slowdowns=proxy.faults)


def test_s3_stalling_is_cut_by_the_first_byte_deadline_not_attempts_times_read_timeout(
    gunicorn_factory, fault_bucket, proxy
):
    # The default 30 s read timeout and 3 attempts would hold the reader 90 s; the deadline ends it.
    server = gunicorn_factory(fault_bucket, env={
        "S3_ENDPOINT_URL": proxy.url, "S3_FIRST_BYTE_DEADLINE": "1.5", "WEB_CONCURRENCY": "1",
    })
    proxy.set_mode("stall", seconds=60, then="close")
    started = time.monotonic()
    status, _, body, _ = fetch(server, "notes.html")
    elapsed = time.monotonic() - started
    attempts = proxy.faults
    assert status == 504, body
    assert b"did not answer in time" in body
    assert elapsed < 30, "the wait must end at the deadline, not at the 30 s read timeout"
    assert attempts == 1
    proxy.set_mode("pass")
    assert_serves_normally(server)
    record("stall_deadline_1_5s", status=status, attempts=attempts, seconds=round(elapsed, 2))


def test_s3_stalling_retries_within_the_deadline_then_stops(server_with_deadline, proxy):
    # READ_TIMEOUT 1 s and a 2.5 s deadline: attempts at 0 s and ~1.x s, none after the deadline.
    proxy.set_mode("stall", seconds=60, then="close")
    status, _, body, _ = fetch(server_with_deadline, "notes.html")
    assert status == 504, body
    assert 2 <= proxy.faults < MAX_ATTEMPTS + 1
    proxy.set_mode("stall", count=1, seconds=60, then="close")
    status, _, body, _ = fetch(server_with_deadline, "notes.html")
    assert (status, body) == (200, PAGE)


@pytest.fixture
def server_with_deadline(gunicorn_factory, fault_bucket, proxy):
    """gunicorn with a 1 s read timeout, 5 attempts and a 2.5 s first-byte deadline."""
    return gunicorn_factory(fault_bucket, env={
        "S3_ENDPOINT_URL": proxy.url, "S3_READ_TIMEOUT": str(READ_TIMEOUT), "S3_MAX_ATTEMPTS": "5",
        "S3_FIRST_BYTE_DEADLINE": "2.5", "WEB_CONCURRENCY": "1",
    })


@pytest.mark.slow
def test_s3_stalling_gives_504_before_a_fronting_proxy_gives_up_with_the_default_settings(
    gunicorn_factory, fault_bucket, proxy
):
    # Only the endpoint is set: read timeout, attempts and deadline are the shipped defaults.
    server = gunicorn_factory(fault_bucket, env={"S3_ENDPOINT_URL": proxy.url, "WEB_CONCURRENCY": "1"})
    proxy.set_mode("stall", seconds=120, then="close")
    started = time.monotonic()
    status, _, body, _ = fetch(server, "notes.html")
    elapsed = time.monotonic() - started
    attempts = proxy.faults
    assert status == 504, body
    assert elapsed < 60, "nginx's default proxy_read_timeout is 60 s: the reader must get our 504 first"
    proxy.set_mode("pass")
    assert_serves_normally(server)
    record("stall_default_settings", status=status, attempts=attempts, seconds=round(elapsed, 2))
