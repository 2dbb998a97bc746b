"""End to end over real HTTP: gunicorn running the app against moto's S3 server on 127.0.0.1."""

import hashlib
import os
import socket
import threading
import uuid

import pytest
import requests

from tests.servers import Gunicorn, free_port, raw_request as raw_get

BIG_SIZE = 64 * 1024 * 1024
# A 416 comes from S3 on a miss and from the cache on a hit: the status and Content-Range are what count.
ANY_BODY = object()
SMALL = b"<!doctype html><title>Guide</title>"


@pytest.fixture(scope="module")
def bucket(server_s3):
    """A bucket on the moto server holding a page, a directory and a 64 MiB object."""
    name = f"e2e-{uuid.uuid4().hex[:12]}"
    server_s3.create_bucket(Bucket=name)
    big = os.urandom(BIG_SIZE)
    server_s3.put_object(Bucket=name, Key="site/big.bin", Body=big, ContentType="application/octet-stream")
    server_s3.put_object(Bucket=name, Key="site/index.html", Body=SMALL, ContentType="text/html")
    server_s3.put_object(Bucket=name, Key="site/guide/index.html", Body=b"guide", ContentType="text/html")
    server_s3.put_object(Bucket=name, Key="site/abc.txt", Body=b"abcdefghijklmnopqrstuvwxyz", ContentType="text/plain")
    return {"name": name, "big_sha256": hashlib.sha256(big).hexdigest()}


@pytest.fixture(scope="module")
def server(bucket, moto_server, tmp_path_factory):
    """One gunicorn for the module (two workers, eight threads each)."""
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    gunicorn = Gunicorn(
        {
            "S3_BUCKET": bucket["name"],
            "S3_PREFIX": "site/",
            "S3_ENDPOINT_URL": moto_server,
            "S3_ADDRESSING_STYLE": "path",
            "WEB_CONCURRENCY": "2",
            "GUNICORN_THREADS": "8",
            "S3_MAX_POOL_CONNECTIONS": "8",
        },
        log_path=log,
    )
    yield gunicorn
    gunicorn.stop()


def test_64_mib_object_arrives_byte_exact(server, bucket):
    digest = hashlib.sha256()
    with requests.get(f"{server.url}/docs/big.bin", stream=True, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["Content-Length"] == str(BIG_SIZE)
        assert "Transfer-Encoding" not in response.headers
        for chunk in response.iter_content(1024 * 1024):
            digest.update(chunk)
    assert digest.hexdigest() == bucket["big_sha256"]


def test_index_and_head_over_http(server):
    status, headers, body = raw_get(server, "/docs/")
    assert (status, body) == (200, SMALL)
    status, headers, body = raw_get(server, "/docs/big.bin", method="HEAD")
    assert status == 200
    assert headers["Content-Length"] == str(BIG_SIZE)
    assert body == b""


@pytest.mark.parametrize(
    "headers, status, body",
    [
        ({"Range": "bytes=0-3"}, 206, b"abcd"),
        ({"Range": "bytes=-3"}, 206, b"xyz"),
        ({"Range": "bytes=30-40"}, 416, None),
        ({"If-None-Match": "ETAG"}, 304, b""),
        ({"If-None-Match": '"other"'}, 200, b"abcdefghijklmnopqrstuvwxyz"),
        ({"If-Match": '"other"'}, 412, None),
        ({"If-Match": "ETAG"}, 200, b"abcdefghijklmnopqrstuvwxyz"),
        ({"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}, 304, b""),
        ({"If-Unmodified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}, 412, None),
        ({"Range": "bytes=0-3", "If-Range": "ETAG"}, 206, b"abcd"),
        ({"Range": "bytes=0-3", "If-Range": '"stale"'}, 200, b"abcdefghijklmnopqrstuvwxyz"),
        # RFC 9110 13.1.2: any listed tag matching (weak comparison) gives 304; If-Match lists 412 or 200.
        ({"If-None-Match": '"other", ETAG'}, 304, b""),
        ({"If-None-Match": 'ETAG, "other"'}, 304, b""),
        ({"If-None-Match": '"other", W/ETAG'}, 304, b""),
        ({"If-None-Match": '"other", "more"'}, 200, b"abcdefghijklmnopqrstuvwxyz"),
        ({"If-Match": '"other", ETAG'}, 200, b"abcdefghijklmnopqrstuvwxyz"),
        ({"If-Match": '"other", "more"'}, 412, None),
        ({"Range": "bytes=0-3", "If-None-Match": '"other", ETAG'}, 304, b""),
        # The object shrank below the range since the client's copy: the whole object, not S3's 416.
        ({"Range": "bytes=30-40", "If-Range": '"stale"'}, 200, b"abcdefghijklmnopqrstuvwxyz"),
        ({"Range": "bytes=30-40", "If-Range": "Mon, 01 Jan 2001 00:00:00 GMT"}, 200, b"abcdefghijklmnopqrstuvwxyz"),
        ({"Range": "bytes=30-40", "If-Range": "ETAG"}, 416, ANY_BODY),
    ],
)
def test_range_and_conditionals_over_http(server, headers, status, body):
    _, head, _ = raw_get(server, "/docs/abc.txt", method="HEAD")
    headers = {name: value.replace("W/ETAG", "W/" + head["ETag"]).replace("ETAG", head["ETag"]) for name, value in headers.items()}
    got_status, got_headers, got_body = raw_get(server, "/docs/abc.txt", headers)
    assert got_status == status
    if body is None:
        assert got_body.startswith(b"<?xml")  # S3's error document, or one shaped like it
    elif body is not ANY_BODY:
        assert got_body == body
    if status == 304:
        assert got_headers["ETag"] == head["ETag"]


def test_directory_redirect_over_http(server):
    status, headers, _ = raw_get(server, "/docs/guide?q=1")
    assert status == 301
    assert headers["Location"] == "./guide/?q=1"
    response = requests.get(f"{server.url}/docs/guide?q=1", timeout=10)
    assert response.url == f"{server.url}/docs/guide/?q=1"
    assert response.content == b"guide"


@pytest.mark.parametrize("path", ["//evil.example", "//evil.example/", "///evil.example"])
def test_double_slash_never_redirects_off_site_over_http(server, path):
    status, headers, _ = raw_get(server, "/docs" + path)
    assert status == 301
    assert headers["Location"].startswith("../")
    assert headers["Location"].rstrip("/").endswith("/docs/evil.example")


def test_double_slash_before_a_directory_takes_one_relative_redirect_over_http(server):
    status, headers, _ = raw_get(server, "/docs//guide?q=1")
    assert (status, headers["Location"]) == (301, "../../docs/guide/?q=1")
    response = requests.get(f"{server.url}/docs//guide?q=1", timeout=10)
    assert (len(response.history), response.url, response.content) == (1, f"{server.url}/docs/guide/?q=1", b"guide")


@pytest.mark.parametrize(
    "path", ["/docs/../../etc/passwd", "/docs/a/%2e%2e/%2e%2e/x", "/docs/a%5c..%5cb", "/docs/a%00"]
)
def test_traversal_is_refused_over_http(server, path):
    status, _, body = raw_get(server, path)
    assert status == 400
    assert body.startswith(b"400 Bad Request: ")


def test_missing_key_passes_s3s_404_through(server):
    status, headers, body = raw_get(server, "/docs/missing.html")
    assert status == 404
    assert headers["Content-Type"] == "application/xml"
    assert b"<Code>NoSuchKey</Code>" in body


def test_40_clients_hanging_up_mid_download_leave_the_server_healthy(server, bucket):
    def hang_up():
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(b"GET /docs/big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            received = 0
            while received < 256 * 1024:
                data = sock.recv(65536)
                if not data:
                    break
                received += len(data)

    threads = [threading.Thread(target=hang_up) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    results = []

    def fetch():
        response = requests.get(f"{server.url}/docs/abc.txt", timeout=30)
        results.append((response.status_code, response.content))

    threads = [threading.Thread(target=fetch) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == [(200, b"abcdefghijklmnopqrstuvwxyz")] * 40
    test_64_mib_object_arrives_byte_exact(server, bucket)
    assert "Traceback" not in server.log()
    assert "Connection pool is full" not in server.log()


def test_unreachable_s3_gives_502_over_http(tmp_path):
    gunicorn = Gunicorn(
        {
            "S3_BUCKET": "docs",
            "S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
            "S3_MAX_ATTEMPTS": "1",
            "WEB_CONCURRENCY": "1",
        },
        log_path=tmp_path / "gunicorn.log",
    )
    try:
        status, _, body = raw_get(gunicorn, "/docs/")
    finally:
        gunicorn.stop()
    assert status == 502
    assert body == b"Bad Gateway: S3 could not be reached.\n"
    assert "S3 unreachable for key 'index.html'" in gunicorn.log()


def test_gunicorn_refuses_to_start_with_bad_configuration(tmp_path):
    with pytest.raises(RuntimeError, match="exited with"):
        Gunicorn({"S3_BUCKET": "docs", "S3_ADDRESSING_STYLE": "sideways"}, log_path=tmp_path / "g.log")
    log = (tmp_path / "g.log").read_text()
    assert "docs-proxy: configuration error: S3_ADDRESSING_STYLE='sideways' is not allowed" in log
    assert "Traceback" not in log


def test_a_missing_page_is_logged_once_at_info_with_s3s_code(gunicorn_factory, server_s3, bucket):
    server = gunicorn_factory(bucket["name"], env={"S3_PREFIX": "site/", "WEB_CONCURRENCY": "1"})
    assert raw_get(server, "/docs/missing.html")[0] == 404
    assert raw_get(server, "/docs/missing.html", method="HEAD")[0] == 404
    server.stop()
    lines = [line for line in server.log().splitlines() if "S3 answered" in line]
    assert len(lines) == 2, lines
    get_line, head_line = lines
    assert "S3 answered 404 NoSuchKey for key 'site/missing.html' (request id " in get_line
    assert "S3 answered 404 for key 'site/missing.html'" in head_line
    assert all("INFO" in line and "WARNING" not in line for line in lines), lines
