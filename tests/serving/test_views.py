"""The docs view through Flask's test client, against moto's mocked S3."""

import gzip
import logging
import socket

import pytest

from app import create_app
from app.serving import streaming

from tests.conftest import BUCKET, Bucket
from tests.servers import canned_s3_answer

PAGE = b"<!doctype html><title>Home</title><link rel=stylesheet href=style.css>"


@pytest.fixture
def bucket(s3):
    """The test bucket; objects are HTML unless a test says otherwise."""
    return Bucket(s3, BUCKET, ContentType="text/html; charset=utf-8")


@pytest.fixture
def s3_calls(app, bucket):
    """Every S3 operation the app's client makes, with its key."""
    return bucket.calls(app.extensions["s3"])


@pytest.fixture
def closed_bodies(monkeypatch):
    """Record every S3 body the app closes."""
    closed = []
    real_close = streaming.close_body

    def close_body(body):
        closed.append(body)
        real_close(body)

    monkeypatch.setattr(streaming, "close_body", close_body)
    return closed


# --- routing and key mapping -------------------------------------------------------------


def test_docs_root_serves_the_index_document(client, put):
    put("index.html", PAGE)
    with client.get("/docs/") as response:
        assert response.status_code == 200
        assert response.data == PAGE
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"


def test_docs_without_slash_redirects_to_docs_with_slash(client):
    with client.get("/docs?lang=en") as response:
        assert response.status_code == 301
        assert response.headers["Location"] == "./docs/?lang=en"


def test_bare_host_redirects_to_the_docs(client):
    with client.get("/") as response:
        assert response.status_code == 301
        assert response.headers["Location"] == "docs/"


def test_directory_path_with_slash_serves_its_index(client, put):
    put("guide/index.html", b"guide")
    with client.get("/docs/guide/") as response:
        assert response.data == b"guide"


def test_prefix_is_prepended_to_every_key(s3, put):
    put("site/1.0/guide/index.html", b"versioned guide")
    put("guide/index.html", b"outside the prefix")
    app = create_app({"S3_BUCKET": BUCKET, "S3_PREFIX": "site/1.0/"})
    with app.test_client().get("/docs/guide/") as response:
        assert response.data == b"versioned guide"


def test_custom_index_document_is_used(s3, put):
    put("api/default.htm", b"api")
    app = create_app({"S3_BUCKET": BUCKET, "DOCS_INDEX_DOCUMENT": "default.htm"})
    with app.test_client().get("/docs/api/") as response:
        assert response.data == b"api"


@pytest.mark.parametrize(
    "url, key",
    [
        ("/docs/with%20space.html", "with space.html"),
        ("/docs/a+b.html", "a+b.html"),
        ("/docs/a%2Bb.html", "a+b.html"),
        ("/docs/%E6%97%A5%E6%9C%AC/%E3%83%9A%E3%83%BC%E3%82%B8.html", "日本/ページ.html"),
        ("/docs/caf%C3%A9.html", "café.html"),
    ],
)
def test_unicode_spaces_and_plus_reach_the_right_key(client, put, url, key):
    put(key, key.encode())
    with client.get(url) as response:
        assert response.status_code == 200
        assert response.data == key.encode()


# --- directories without their slash ------------------------------------------------------


def test_directory_path_without_trailing_slash_redirected(client, put):
    put("guide/index.html", b"guide")
    with client.get("/docs/guide?highlight=install") as response:
        assert response.status_code == 301
        assert response.headers["Location"] == "./guide/?highlight=install"


def test_nested_directory_redirect_is_relative_to_the_last_segment(client, put):
    put("a/b/guide/index.html", b"guide")
    with client.get("/docs/a/b/guide") as response:
        assert response.status_code == 301
        assert response.headers["Location"] == "./guide/"


def test_head_on_a_directory_without_slash_redirects_too(client, put):
    put("guide/index.html", b"guide")
    with client.head("/docs/guide") as response:
        assert response.status_code == 301
        assert response.headers["Location"] == "./guide/"


def test_existing_key_without_slash_is_served_not_redirected(client, put):
    put("LICENSE", b"MIT", ContentType="text/plain")
    put("LICENSE/index.html", b"a directory too")
    with client.get("/docs/LICENSE") as response:
        assert response.status_code == 200
        assert response.data == b"MIT"


def test_missing_key_without_index_is_s3s_404(client, put):
    with client.get("/docs/nothing-here") as response:
        assert response.status_code == 404
        assert b"<Code>NoSuchKey</Code>" in response.data


def test_redirect_uses_the_configured_prefix_and_index(s3, put):
    put("p/guide/default.htm", b"guide")
    app = create_app({"S3_BUCKET": BUCKET, "S3_PREFIX": "p/", "DOCS_INDEX_DOCUMENT": "default.htm"})
    with app.test_client().get("/docs/guide") as response:
        assert response.status_code == 301
        assert response.headers["Location"] == "./guide/"


@pytest.mark.parametrize(
    "url, location",
    [
        ("/docs//evil.example", "../../docs/evil.example"),
        ("/docs//evil.example/path", "../../../docs/evil.example/path"),
        ("/docs///evil.example", "../../../docs/evil.example"),
        ("/docs/guide//install.html", "../../../docs/guide/install.html"),
        ("/docs/guide//", "../../../docs/guide/"),
        ("/docs//x?q=1", "../../docs/x?q=1"),
    ],
)
def test_double_slashes_redirect_relatively_within_the_site(client, url, location):
    with client.get(url) as response:
        assert response.status_code == 301
        assert response.headers["Location"] == location
        assert not response.headers["Location"].startswith("//")


def test_double_slashes_before_a_directory_fold_and_add_the_slash_in_one_redirect(client, put):
    put("guide/index.html", b"guide")
    with client.get("/docs//guide") as response:
        assert response.status_code == 301
        assert response.headers["Location"] == "../../docs/guide/"


def test_double_slashes_before_an_existing_key_fold_without_a_slash(client, put):
    put("LICENSE", b"MIT", ContentType="text/plain")
    put("LICENSE/index.html", b"a directory too")
    with client.get("/docs//LICENSE") as response:
        assert response.headers["Location"] == "../../docs/LICENSE"


@pytest.mark.parametrize("headers", [{"X-Forwarded-Prefix": "/intranet"}, {"X-Forwarded-Prefix": "/elsewhere"}, {}])
def test_folding_redirects_are_relative_whatever_the_forwarded_prefix(s3, headers):
    app = create_app({"S3_BUCKET": BUCKET, "DOCS_TRUSTED_PROXIES": 1})
    with app.test_client().get("/docs//x", headers=headers) as response:
        assert response.headers["Location"] == "../../docs/x"


# --- refusals before any S3 call ----------------------------------------------------------


@pytest.mark.parametrize(
    "url, status, reason",
    [
        ("/docs/%2e%2e/secret", 400, b"'..' segments"),
        ("/docs/a/%2E%2E/%2e%2E/secret", 400, b"'..' segments"),
        ("/docs/a/./b", 400, b"'..' segments"),
        ("/docs/a%5Cb", 400, b"backslashes"),
        ("/docs/a%00b", 400, b"control characters"),
        ("/docs/a%0d%0aSet-Cookie:%20x", 400, b"control characters"),
        ("/docs/a%1bb", 400, b"control characters"),
        ("/docs/" + "a" * 1025, 414, b"1024-byte key limit"),
    ],
)
def test_unsafe_paths_are_refused_before_any_s3_call(client, s3_calls, url, status, reason):
    with client.get(url) as response:
        assert response.status_code == status
        assert reason in response.data
        assert response.headers["Content-Type"].startswith("text/plain")
    assert s3_calls == []


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_get_405_with_allow(client, method):
    with client.open("/docs/index.html", method=method) as response:
        assert response.status_code == 405
        assert response.headers["Allow"] == "GET, HEAD"


# --- streaming and headers ----------------------------------------------------------------


def test_body_is_streamed_in_configured_chunks(s3, put):
    data = bytes(range(256)) * 4096 * 3  # 3 MiB
    put("big.bin", data, ContentType="application/octet-stream")
    app = create_app({"S3_BUCKET": BUCKET, "DOCS_CHUNK_SIZE": 1024 * 1024, "DOCS_SLOW_CHUNK_SIZE": 1024 * 1024})
    response = app.test_client().get("/docs/big.bin", buffered=False)
    try:
        chunks = list(response.response)
    finally:
        response.close()
    assert [len(c) for c in chunks] == [1024 * 1024] * 3
    assert b"".join(chunks) == data


def test_body_starts_in_slow_reader_chunks(s3, put):
    # A download holds one chunk while its reader takes it: until the reader has shown it is fast
    # (app/serving/chunks.py, past 4 MiB) every download costs 64 KiB, not DOCS_CHUNK_SIZE.
    data = bytes(range(256)) * 4096 * 3  # 3 MiB
    put("big.bin", data, ContentType="application/octet-stream")
    app = create_app({"S3_BUCKET": BUCKET, "DOCS_CHUNK_SIZE": 1024 * 1024})
    response = app.test_client().get("/docs/big.bin", buffered=False)
    try:
        chunks = list(response.response)
    finally:
        response.close()
    assert [len(c) for c in chunks] == [64 * 1024] * 48
    assert b"".join(chunks) == data


def test_representation_headers_and_metadata_are_copied(client, put):
    put(
        "report.pdf",
        b"%PDF-1.4",
        ContentType="application/pdf",
        ContentDisposition='attachment; filename="report.pdf"',
        ContentLanguage="en",
        CacheControl="public, max-age=60",
        Expires="Sun, 22 Nov 2026 10:00:00 GMT",
        Metadata={"sha256": "abc", "build": "42"},
    )
    with client.get("/docs/report.pdf") as response:
        headers = response.headers
        assert headers["Content-Type"] == "application/pdf"
        assert headers["Content-Length"] == "8"
        assert headers["Content-Disposition"] == 'attachment; filename="report.pdf"'
        assert headers["Content-Language"] == "en"
        assert headers["Cache-Control"] == "public, max-age=60"
        assert headers["Expires"] == "Sun, 22 Nov 2026 10:00:00 GMT"
        assert headers["Accept-Ranges"] == "bytes"
        assert headers["ETag"].startswith('"')
        assert "Last-Modified" in headers
        assert "x-amz-meta-sha256" not in headers  # publish's own checksum
        assert headers["x-amz-meta-build"] == "42"
        for hop_by_hop in ("Connection", "Transfer-Encoding", "Keep-Alive", "x-amz-request-id", "Server"):
            assert hop_by_hop not in headers


def test_version_id_is_copied_from_a_versioned_bucket(s3, client, put):
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    version = s3.head_object(Bucket=BUCKET, Key=put("v.html", b"v"))["VersionId"]
    with client.get("/docs/v.html") as response:
        assert response.headers["x-amz-version-id"] == version


def test_gzip_stored_asset_is_relayed_untouched(client, put):
    original = b"body { color: #123456; }\n" * 100
    stored = gzip.compress(original)
    put("style.css", stored, ContentType="text/css; charset=utf-8", ContentEncoding="gzip")
    with client.get("/docs/style.css", headers={"Accept-Encoding": "gzip"}) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        assert response.headers["Content-Length"] == str(len(stored))
        assert response.data == stored
        assert gzip.decompress(response.data) == original


def test_head_answers_headers_without_body_using_head_object(client, put, s3_calls):
    put("index.html", PAGE)
    with client.head("/docs/") as response:
        assert response.status_code == 200
        assert response.data == b""
        assert response.headers["Content-Length"] == str(len(PAGE))
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert s3_calls == [("HeadObject", "index.html")]


def test_body_is_closed_after_a_complete_download(client, put, closed_bodies):
    put("index.html", PAGE)
    with client.get("/docs/") as response:
        assert response.data == PAGE
    assert len(closed_bodies) >= 1


def test_body_is_closed_when_the_client_hangs_up_mid_stream(s3, put, closed_bodies):
    put("big.bin", b"x" * (3 * 1024 * 1024), ContentType="application/octet-stream")
    app = create_app({"S3_BUCKET": BUCKET, "DOCS_CHUNK_SIZE": 1024 * 1024})
    response = app.test_client().get("/docs/big.bin", buffered=False)
    next(iter(response.response))
    response.close()
    assert len(closed_bodies) >= 1


def test_body_is_closed_when_the_response_is_never_iterated(s3, put, closed_bodies):
    put("big.bin", b"x" * 1024, ContentType="application/octet-stream")
    app = create_app({"S3_BUCKET": BUCKET})
    response = app.test_client().get("/docs/big.bin", buffered=False)
    response.close()
    assert len(closed_bodies) >= 1
    assert len({id(body) for body in closed_bodies}) == 1


# --- Range and conditional requests -------------------------------------------------------


@pytest.fixture
def page(put):
    """A 26-byte object and its ETag and Last-Modified."""
    put("abc.txt", b"abcdefghijklmnopqrstuvwxyz", ContentType="text/plain")
    return "abc.txt"


def validators(client, url):
    with client.head(url) as response:
        return response.headers["ETag"], response.headers["Last-Modified"]


@pytest.mark.parametrize(
    "byte_range, body, content_range",
    [
        ("bytes=0-3", b"abcd", "bytes 0-3/26"),
        ("bytes=23-", b"xyz", "bytes 23-25/26"),
        ("bytes=-2", b"yz", "bytes 24-25/26"),
        ("bytes=20-100", b"uvwxyz", "bytes 20-25/26"),
    ],
)
def test_range_is_forwarded_and_206_relayed(client, page, byte_range, body, content_range):
    with client.get("/docs/abc.txt", headers={"Range": byte_range}) as response:
        assert response.status_code == 206
        assert response.data == body
        assert response.headers["Content-Range"] == content_range
        assert response.headers["Content-Length"] == str(len(body))


def test_unsatisfiable_range_is_s3s_416(client, page):
    with client.get("/docs/abc.txt", headers={"Range": "bytes=100-200"}) as response:
        assert response.status_code == 416
        assert b"<Code>InvalidRange</Code>" in response.data


def test_matching_if_none_match_gives_304_with_etag(client, page):
    etag, _ = validators(client, "/docs/abc.txt")
    with client.get("/docs/abc.txt", headers={"If-None-Match": etag}) as response:
        assert response.status_code == 304
        assert response.headers["ETag"] == etag
        assert response.data == b""
        assert "Content-Length" not in response.headers or response.headers["Content-Length"] == "0"


def test_non_matching_if_none_match_gives_the_object(client, page):
    with client.get("/docs/abc.txt", headers={"If-None-Match": '"other"'}) as response:
        assert response.status_code == 200
        assert response.data == b"abcdefghijklmnopqrstuvwxyz"


def test_if_modified_since_last_modified_gives_304(client, page):
    _, last_modified = validators(client, "/docs/abc.txt")
    with client.get("/docs/abc.txt", headers={"If-Modified-Since": last_modified}) as response:
        assert response.status_code == 304


def test_head_with_matching_if_none_match_gives_304(client, page):
    etag, _ = validators(client, "/docs/abc.txt")
    with client.head("/docs/abc.txt", headers={"If-None-Match": etag}) as response:
        assert response.status_code == 304


def test_failed_if_match_is_s3s_412(client, page):
    with client.get("/docs/abc.txt", headers={"If-Match": '"stale"'}) as response:
        assert response.status_code == 412
        assert b"<Code>PreconditionFailed</Code>" in response.data
        assert response.headers["Content-Type"] == "application/xml"


def test_failed_if_unmodified_since_is_412(client, page):
    with client.get("/docs/abc.txt", headers={"If-Unmodified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}) as response:
        assert response.status_code == 412


def test_malformed_conditional_date_is_ignored(client, page):
    with client.get("/docs/abc.txt", headers={"If-Modified-Since": "not a date"}) as response:
        assert response.status_code == 200


def test_if_range_with_current_etag_gives_the_range(client, page):
    etag, _ = validators(client, "/docs/abc.txt")
    with client.get("/docs/abc.txt", headers={"Range": "bytes=0-3", "If-Range": etag}) as response:
        assert response.status_code == 206
        assert response.data == b"abcd"


def test_if_range_with_stale_etag_gives_the_whole_object(client, page, closed_bodies):
    with client.get("/docs/abc.txt", headers={"Range": "bytes=0-3", "If-Range": '"stale"'}) as response:
        assert response.status_code == 200
        assert response.data == b"abcdefghijklmnopqrstuvwxyz"
        assert "Content-Range" not in response.headers
    assert len(closed_bodies) == 2  # the partial body we discarded, then the whole one


def test_if_range_with_current_date_gives_the_range(client, page):
    _, last_modified = validators(client, "/docs/abc.txt")
    with client.get("/docs/abc.txt", headers={"Range": "bytes=0-3", "If-Range": last_modified}) as response:
        assert response.status_code == 206


def test_if_range_with_other_date_gives_the_whole_object(client, page):
    with client.get("/docs/abc.txt", headers={"Range": "bytes=0-3", "If-Range": "Mon, 01 Jan 2001 00:00:00 GMT"}) as response:
        assert response.status_code == 200
        assert len(response.data) == 26


def test_if_range_with_weak_etag_gives_the_whole_object(client, page):
    with client.get("/docs/abc.txt", headers={"Range": "bytes=0-3", "If-Range": 'W/"x"'}) as response:
        assert response.status_code == 200


# --- S3 errors and S3 unreachable ---------------------------------------------------------

ACCESS_DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Access Denied</Message><RequestId>REQ123</RequestId></Error>"
)


def test_no_such_key_passes_through_with_s3s_body(client):
    with client.get("/docs/missing.html") as response:
        assert response.status_code == 404
        assert response.headers["Content-Type"] == "application/xml"
        assert response.data.startswith(b"<?xml")
        assert b"<Key>missing.html</Key>" in response.data


def test_no_such_bucket_passes_through(s3):
    app = create_app({"S3_BUCKET": "no-such-bucket"})
    with app.test_client().get("/docs/") as response:
        assert response.status_code == 404
        assert b"<Code>NoSuchBucket</Code>" in response.data


def test_access_denied_passes_through_byte_for_byte(app, client):
    canned_s3_answer(app.extensions["s3"], 403, ACCESS_DENIED, {"content-type": "application/xml"})
    with client.get("/docs/secret.html") as response:
        assert response.status_code == 403
        assert response.data == ACCESS_DENIED
        assert response.headers["Content-Type"] == "application/xml"


def test_s3_errors_are_logged_with_key_and_request_id(app, client, caplog):
    canned_s3_answer(app.extensions["s3"], 403, ACCESS_DENIED, {"content-type": "application/xml"})
    with caplog.at_level(logging.WARNING):
        client.get("/docs/secret.html").close()
    assert "403 AccessDenied for key 'secret.html' (request id REQ123)" in caplog.text


def test_s3_server_error_passes_through_after_retries(app, client):
    body = b"<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>"
    canned_s3_answer(app.extensions["s3"], 500, body, {"content-type": "application/xml"})
    with client.get("/docs/x.html") as response:
        assert response.status_code == 500
        assert response.data == body


def test_unreachable_s3_gives_502(aws_credentials, caplog):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(
        {"S3_BUCKET": BUCKET, "S3_ENDPOINT_URL": f"http://127.0.0.1:{port}", "S3_MAX_ATTEMPTS": 1}
    )
    with app.test_client().get("/docs/index.html") as response:
        assert response.status_code == 502
        assert response.data == b"Bad Gateway: S3 could not be reached.\n"
    assert "S3 unreachable for key 'index.html'" in caplog.text


def test_s3_timeout_gives_504(aws_credentials):
    with socket.socket() as listener:  # accepts connections (backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        app = create_app(
            {
                "S3_BUCKET": BUCKET,
                "S3_ENDPOINT_URL": f"http://127.0.0.1:{listener.getsockname()[1]}",
                "S3_MAX_ATTEMPTS": 1,
                "S3_READ_TIMEOUT": 0.3,
            }
        )
        with app.test_client().get("/docs/index.html") as response:
            assert response.status_code == 504
            assert response.data == b"Gateway Timeout: S3 did not answer in time.\n"


def test_favicon_at_the_host_root_comes_from_the_docs_root(s3, put):
    put("site/favicon.ico", b"\x00\x00\x01\x00", ContentType="image/vnd.microsoft.icon")
    app = create_app({"S3_BUCKET": BUCKET, "S3_PREFIX": "site/"})
    with app.test_client().get("/favicon.ico") as response:
        assert response.status_code == 200
        assert response.data == b"\x00\x00\x01\x00"


def test_missing_favicon_is_a_cacheable_204_not_a_console_error(client):
    with client.get("/favicon.ico") as response:
        assert response.status_code == 204
        assert response.headers["Cache-Control"] == "public, max-age=86400"


@pytest.mark.parametrize("prefix", ["//evil.example", "/\\evil.example", "https://evil.example", "intranet", "/a//b"])
def test_a_forwarded_prefix_that_is_not_a_plain_path_is_refused(s3, put, prefix):
    # Behind DOCS_TRUSTED_PROXIES, X-Forwarded-Prefix becomes the start of every path-absolute link and
    # Location (a redirect to a website redirect object's target, the portal's aliases, the hub's script):
    # '//evil.example' would make them name another host. A proxy that passes a client's on must not.
    put("moved.html", b"", WebsiteRedirectLocation="/new.html")
    app = create_app({"S3_BUCKET": BUCKET, "DOCS_TRUSTED_PROXIES": 1})
    client = app.test_client()
    with client.get("/docs/moved.html", headers={"X-Forwarded-Prefix": "/intranet"}) as response:
        assert (response.status_code, response.headers["Location"]) == (301, "/intranet/docs/new.html")
    with client.get("/docs/moved.html", headers={"X-Forwarded-Prefix": prefix}) as response:
        assert response.status_code == 400
        assert "Location" not in response.headers
