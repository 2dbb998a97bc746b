"""The cache over real HTTP: gunicorn, moto's S3 server, and the fault proxy counting and breaking S3 requests."""

import gzip
import hashlib
import time
from concurrent.futures import ThreadPoolExecutor

import brotli
import pytest
from backports import zstd

from tests.cache.conftest import IMMUTABLE, OBJECT_LIMIT, TTL, s3_gets
from tests.servers import raw_request as get

PAGE = b"<!doctype html><title>Guide</title>" + b"<p>Install the tool, then run it.</p>\n" * 200
DECOMPRESS = {"gzip": gzip.decompress, "br": brotli.decompress, "zstd": zstd.decompress}


def test_second_request_is_a_hit_without_asking_s3(cache_server, s3_proxy, put):
    key = put("page.html", PAGE, ContentType="text/html", CacheControl=IMMUTABLE)

    first = get(cache_server, f"/docs/{key}")
    second = get(cache_server, f"/docs/{key}")

    assert (first[0], first[1]["x-cache"], first[2]) == (200, "MISS", PAGE)
    assert (second[0], second[1]["x-cache"], second[2]) == (200, "HIT", PAGE)
    assert second[1]["content-type"] == "text/html"
    assert second[1]["content-length"] == str(len(PAGE))
    assert s3_gets(s3_proxy, key) == 1


def test_object_changed_in_s3_is_served_new_within_the_ttl(cache_server, s3_proxy, put, server_s3, cache_bucket):
    key = put("page.html", b"old", ContentType="text/html")
    assert get(cache_server, f"/docs/{key}")[2] == b"old"
    server_s3.put_object(Bucket=cache_bucket, Key=key, Body=b"new", ContentType="text/html")
    published = time.monotonic()

    deadline = published + TTL + 2
    while time.monotonic() < deadline:
        status, headers, body = get(cache_server, f"/docs/{key}")
        if body == b"new":
            break
        time.sleep(0.05)

    assert body == b"new"
    assert headers["x-cache"] == "MISS"
    assert time.monotonic() - published < TTL + 1.0


def test_unchanged_object_is_revalidated_after_the_ttl(cache_server, s3_proxy, put):
    key = put("page.html", PAGE, ContentType="text/html", CacheControl="no-cache")
    get(cache_server, f"/docs/{key}")
    time.sleep(TTL + 0.1)

    status, headers, body = get(cache_server, f"/docs/{key}")

    assert (status, headers["x-cache"], body) == (200, "REVALIDATED", PAGE)
    assert headers["cache-control"] == "no-cache"
    assert s3_gets(s3_proxy, key) == 2
    assert get(cache_server, f"/docs/{key}")[1]["x-cache"] == "HIT"


def test_immutable_objects_are_not_requested_again(cache_server, s3_proxy, put):
    key = put("app.3f2a.js", b"console.log(1)", ContentType="application/javascript",
              CacheControl="public, max-age=31536000, immutable")
    get(cache_server, f"/docs/{key}")
    time.sleep(TTL + 0.1)

    status, headers, body = get(cache_server, f"/docs/{key}")

    assert (status, headers["x-cache"], body) == (200, "HIT", b"console.log(1)")
    assert s3_gets(s3_proxy, key) == 1


def test_fifty_concurrent_requests_for_a_cold_key_make_one_s3_request(cache_server, s3_proxy, put):
    # Immutable, so the TTL cannot expire while the 50 requests queue for gunicorn's 16 threads.
    key = put("page.html", PAGE, ContentType="text/html", CacheControl=IMMUTABLE)
    # S3 takes a moment to answer, so every request arrives while the first fetch is in flight.
    s3_proxy.set_mode("stall", count=1, seconds=0.5)

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(lambda _: get(cache_server, f"/docs/{key}"), range(50)))

    assert [(status, body) for status, _, body in results] == [(200, PAGE)] * 50
    assert s3_gets(s3_proxy, key) == 1


@pytest.mark.parametrize("fault, options, uncached_status", [
    ("refuse", {}, 502),
    ("stall", {"seconds": 3}, 504),
    ("slowdown", {}, 503),
])
def test_cached_pages_are_served_stale_with_age_while_s3_fails(cache_server, s3_proxy, put, fault, options,
                                                                uncached_status):
    cached = put("page.html", PAGE, ContentType="text/html")
    uncached = put("other.html", PAGE, ContentType="text/html")
    get(cache_server, f"/docs/{cached}")
    time.sleep(TTL + 0.1)
    s3_proxy.set_mode(fault, **options)

    status, headers, body = get(cache_server, f"/docs/{cached}")
    other_status, _, _ = get(cache_server, f"/docs/{uncached}")

    assert (status, headers["x-cache"], body) == (200, "STALE", PAGE)
    assert int(headers["age"]) >= 0
    assert other_status == uncached_status
    assert "serving the copy validated" in cache_server.log()


@pytest.mark.parametrize("cache_control", ["no-store", "private, max-age=60"])
def test_no_store_and_private_objects_are_never_cached(cache_server, s3_proxy, put, cache_control):
    key = put("secret.html", PAGE, ContentType="text/html", CacheControl=cache_control)

    results = [get(cache_server, f"/docs/{key}") for _ in range(3)]

    assert [(status, headers["x-cache"], body) for status, headers, body in results] == [(200, "BYPASS", PAGE)] * 3
    assert s3_gets(s3_proxy, key) == 3


# Incompressible-looking but the same in every xdist worker (test ids must match).
DATA = b"".join(hashlib.sha256(b"%d" % n).digest() for n in range(157))[:5000]
WHOLE = slice(None)


@pytest.mark.parametrize(
    "headers, status, expected",
    [
        ({"Range": "bytes=10-19"}, 206, slice(10, 20)),
        ({"Range": "bytes=-5"}, 206, slice(-5, None)),
        ({"Range": "bytes=4990-"}, 206, slice(4990, None)),
        ({"Range": "bytes=0-1,5-6"}, 200, WHOLE),
        ({"Range": "bytes=5000-"}, 416, None),
        ({"If-None-Match": "ETAG"}, 304, slice(0, 0)),
        ({"If-None-Match": '"other", ETAG'}, 304, slice(0, 0)),
        ({"If-None-Match": '"other"'}, 200, WHOLE),
        ({"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}, 304, slice(0, 0)),
        ({"If-Match": '"other"'}, 412, None),
        ({"If-Match": "ETAG"}, 200, WHOLE),
        ({"If-Unmodified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}, 412, None),
        ({"Range": "bytes=0-3", "If-Range": "ETAG"}, 206, slice(0, 4)),
        ({"Range": "bytes=0-3", "If-Range": '"stale"'}, 200, WHOLE),
    ],
)
def test_conditional_and_range_requests_are_answered_from_the_cache_byte_exact(cache_server, s3_proxy, put,
                                                                                headers, status, expected):
    key = put("data.bin", DATA, ContentType="application/octet-stream", CacheControl=IMMUTABLE)
    _, filled, _ = get(cache_server, f"/docs/{key}")
    headers = {name: value.replace("ETAG", filled["etag"]) for name, value in headers.items()}

    got_status, got_headers, body = get(cache_server, f"/docs/{key}", headers)

    assert got_status == status
    assert got_headers.get("x-cache", "HIT") == "HIT"  # a 416 is Werkzeug's error response, without it
    if expected is not None:
        assert body == DATA[expected]
    if status == 206:
        assert got_headers["content-range"].endswith(f"/{len(DATA)}")
        assert got_headers["content-length"] == str(len(DATA[expected]))
    if status == 304:
        # A 304 carries what a 200 would for caching (RFC 9110 15.4.5), not only the ETag.
        assert got_headers["etag"] == filled["etag"]
        assert got_headers["cache-control"] == IMMUTABLE
        assert got_headers["last-modified"] == filled["last-modified"]
    if status == 416:
        assert got_headers["content-range"] == f"bytes */{len(DATA)}"
    assert s3_gets(s3_proxy, key) == 1


def test_head_is_answered_from_the_cache(cache_server, s3_proxy, put):
    key = put("data.bin", DATA, ContentType="application/octet-stream", CacheControl=IMMUTABLE)
    get(cache_server, f"/docs/{key}")

    status, headers, body = get(cache_server, f"/docs/{key}", method="HEAD")

    assert (status, headers["x-cache"], headers["content-length"], body) == (200, "HIT", str(len(DATA)), b"")
    assert s3_gets(s3_proxy, key) == 1


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_cached_text_is_sent_compressed_with_its_own_etag_and_length(cache_server, s3_proxy, put, coding):
    key = put("page.html", PAGE, ContentType="text/html")
    _, plain, _ = get(cache_server, f"/docs/{key}", {"Accept-Encoding": "identity"})

    status, headers, body = get(cache_server, f"/docs/{key}", {"Accept-Encoding": coding})

    assert status == 200
    assert headers["content-encoding"] == coding
    assert headers["vary"] == "Accept-Encoding"
    assert headers["content-length"] == str(len(body))
    assert len(body) < len(PAGE) / 5
    assert DECOMPRESS[coding](body) == PAGE
    assert headers["etag"] == plain["etag"][:-1] + f'-{coding}"'
    assert plain["vary"] == "Accept-Encoding" and "content-encoding" not in plain


def test_browser_accept_encoding_gets_zstd_and_the_suffixed_etag_revalidates(cache_server, s3_proxy, put):
    key = put("style.css", PAGE, ContentType="text/css", CacheControl="no-cache")
    accept = {"Accept-Encoding": "gzip, deflate, br, zstd"}
    _, first, _ = get(cache_server, f"/docs/{key}", accept)

    status, headers, body = get(cache_server, f"/docs/{key}", {**accept, "If-None-Match": first["etag"]})

    assert first["content-encoding"] == "zstd"
    assert (status, body) == (304, b"")
    assert headers["etag"] == first["etag"]
    assert headers["vary"] == "Accept-Encoding"
    assert headers["cache-control"] == "no-cache"
    assert headers["last-modified"] == first["last-modified"]


def test_range_requests_are_never_compressed(cache_server, s3_proxy, put):
    key = put("page.html", PAGE, ContentType="text/html")

    status, headers, body = get(cache_server, f"/docs/{key}", {"Accept-Encoding": "gzip", "Range": "bytes=0-9"})

    assert (status, body) == (206, PAGE[:10])
    assert "content-encoding" not in headers


@pytest.mark.parametrize(
    "extra",
    [
        {"ContentEncoding": "gzip"},
        {"CacheControl": "public, no-transform"},
    ],
)
def test_stored_encodings_and_no_transform_are_sent_as_stored(cache_server, s3_proxy, put, extra):
    stored = gzip.compress(PAGE) if "ContentEncoding" in extra else PAGE
    key = put("page.html", stored, ContentType="text/html", **extra)

    for _ in range(2):
        status, headers, body = get(cache_server, f"/docs/{key}", {"Accept-Encoding": "br, zstd"})
        assert (status, body) == (200, stored)
        assert headers.get("content-encoding") == extra.get("ContentEncoding")


def test_small_text_is_not_compressed(cache_server, s3_proxy, put):
    key = put("tiny.html", b"<p>hi</p>", ContentType="text/html")

    status, headers, body = get(cache_server, f"/docs/{key}", {"Accept-Encoding": "gzip"})

    assert (status, body, headers.get("content-encoding")) == (200, b"<p>hi</p>", None)


def test_refusing_identity_and_every_coding_is_not_acceptable(cache_server, s3_proxy, put):
    key = put("page.html", PAGE, ContentType="text/html")

    status, _, body = get(cache_server, f"/docs/{key}", {"Accept-Encoding": "compress, identity;q=0"})

    assert status == 406
    assert b"Not Acceptable" in body


BIG_TEXT = b"".join(b"line %d of the changelog, which nobody reads whole\n" % n for n in range(20000))


def test_large_text_streams_compressed_without_a_length_and_round_trips(cache_server, s3_proxy, put):
    assert len(BIG_TEXT) > OBJECT_LIMIT
    key = put("changelog.txt", BIG_TEXT, ContentType="text/plain")

    status, headers, body = get(cache_server, f"/docs/{key}", {"Accept-Encoding": "gzip"})

    assert (status, headers["x-cache"], headers["content-encoding"]) == (200, "BYPASS", "gzip")
    assert "content-length" not in headers
    assert headers["transfer-encoding"] == "chunked"
    assert headers["vary"] == "Accept-Encoding"
    assert gzip.decompress(body) == BIG_TEXT


def test_suffixed_etag_of_a_streamed_object_is_stripped_before_asking_s3(cache_server, s3_proxy, put):
    key = put("changelog.txt", BIG_TEXT, ContentType="text/plain", CacheControl="no-cache")
    _, first, _ = get(cache_server, f"/docs/{key}", {"Accept-Encoding": "br"})

    status, headers, body = get(cache_server, f"/docs/{key}", {"Accept-Encoding": "br", "If-None-Match": first["etag"]})
    ranged = get(cache_server, f"/docs/{key}", {"Accept-Encoding": "br", "Range": "bytes=100-199"})

    assert first["etag"].endswith('-br"')
    assert (status, body) == (304, b"")
    assert headers["etag"] == first["etag"]
    assert headers["cache-control"] == "no-cache"
    assert (ranged[0], ranged[2], ranged[1].get("content-encoding")) == (206, BIG_TEXT[100:200], None)


def test_cache_off_sends_every_request_to_s3(gunicorn_factory, s3_proxy, put, cache_bucket):
    server = gunicorn_factory(cache_bucket, env={"S3_ENDPOINT_URL": s3_proxy.url, "DOCS_CACHE": "off"})
    key = put("page.html", PAGE, ContentType="text/html")

    results = [get(server, f"/docs/{key}", {"Accept-Encoding": "gzip"}) for _ in range(2)]

    assert [(status, headers["x-cache"]) for status, headers, _ in results] == [(200, "BYPASS")] * 2
    assert [gzip.decompress(body) for _, _, body in results] == [PAGE] * 2
    assert s3_gets(s3_proxy, key) == 2


def test_large_object_fetched_again_after_the_ttl_streams_whole(cache_server, s3_proxy, put):
    key = put("changelog.txt", BIG_TEXT, ContentType="text/plain")
    get(cache_server, f"/docs/{key}")
    time.sleep(TTL + 0.1)

    status, headers, body = get(cache_server, f"/docs/{key}")

    assert (status, headers["x-cache"], body) == (200, "BYPASS", BIG_TEXT)


def test_first_conditional_request_for_a_large_object_is_answered_304(cache_server, s3_proxy, put, server_s3,
                                                                       cache_bucket):
    key = put("changelog.txt", BIG_TEXT, ContentType="text/plain")
    etag = server_s3.head_object(Bucket=cache_bucket, Key=key)["ETag"]

    status, headers, body = get(cache_server, f"/docs/{key}", {"If-None-Match": etag})

    assert (status, headers["etag"], body) == (304, etag, b"")


def test_requests_waiting_on_a_stalled_fetch_get_504_without_a_copy(gunicorn_factory, s3_proxy, put, cache_bucket):
    server = gunicorn_factory(cache_bucket, env={
        "S3_ENDPOINT_URL": s3_proxy.url, "WEB_CONCURRENCY": "1", "S3_READ_TIMEOUT": "5", "S3_MAX_ATTEMPTS": "1",
        "DOCS_CACHE_WAIT": "0.5"})
    key = put("page.html", PAGE, ContentType="text/html")
    s3_proxy.set_mode("stall", count=1, seconds=2)

    with ThreadPoolExecutor(2) as pool:
        leader = pool.submit(get, server, f"/docs/{key}")
        assert s3_proxy.fault_taken.wait(10), "the leader's S3 request never reached the proxy"
        waiter = get(server, f"/docs/{key}")

    assert leader.result()[0] == 200
    assert waiter[0] == 504
    assert waiter[2] == b"504 Gateway Timeout: S3 did not answer in time.\n"
    assert s3_gets(s3_proxy, key) == 1


def test_with_presigned_downloads_on_cached_pages_skip_the_head_and_stay_served_while_s3_is_down(
        cache_bucket, proxy, s3_proxy, put, tmp_path):
    from tests.servers import Gunicorn

    server = Gunicorn({
        "S3_BUCKET": cache_bucket, "S3_ENDPOINT_URL": proxy.url, "S3_ADDRESSING_STYLE": "path",
        "S3_CONNECT_TIMEOUT": "1", "S3_READ_TIMEOUT": "1", "S3_MAX_ATTEMPTS": "1", "WEB_CONCURRENCY": "1",
        "DOCS_CACHE_TTL": str(TTL), "DOCS_CACHE_OBJECT_SIZE": str(OBJECT_LIMIT), "DOCS_PRESIGN_ABOVE": "1MiB",
    }, log_path=tmp_path / "presign.log")
    try:
        key = put("page.html", PAGE, ContentType="text/html")
        assert get(server, f"/docs/{key}")[1]["x-cache"] == "MISS"
        heads = sum(1 for method, path in proxy.requests if method == "HEAD" and path.split("?")[0].endswith(key))
        assert get(server, f"/docs/{key}")[1]["x-cache"] in ("HIT", "REVALIDATED")
        assert sum(1 for method, path in proxy.requests if method == "HEAD" and path.split("?")[0].endswith(key)) == heads
        time.sleep(TTL + 0.1)
        s3_proxy.set_mode("refuse")
        status, headers, body = get(server, f"/docs/{key}")
        assert (status, headers["x-cache"], body) == (200, "STALE", PAGE)
    finally:
        server.stop()


def test_compression_on_the_fly_is_bounded_in_size_and_cheapest_for_large_bodies(cache_server, s3_proxy, put):
    text = b"<p>Install the tool, then run it; then read the guide again.</p>\n"
    small = put("small.html", text * (200 * 1024 // len(text)), ContentType="text/html")  # streamed: above the cache's limit
    large = put("large.html", text * (2 * 1024 * 1024 // len(text)), ContentType="text/html")
    huge = put("huge.html", text * (6 * 1024 * 1024 // len(text)), ContentType="text/html")

    # Above DOCS_COMPRESSION_MAX_SIZE (4 MiB): sent as stored, whatever the client asks for.
    status, headers, body = get(cache_server, f"/docs/{huge}", {"Accept-Encoding": "gzip"})
    assert status == 200 and "content-encoding" not in headers and len(body) == 6 * 1024 * 1024 // len(text) * len(text)
    # From 1 MiB: the cheapest coding the client accepts (zstd over its preferred gzip), at the fastest level.
    status, headers, body = get(cache_server, f"/docs/{large}", {"Accept-Encoding": "gzip;q=1, zstd;q=0.1"})
    assert headers["content-encoding"] == "zstd" and len(zstd.decompress(body)) == len(text) * (2 * 1024 * 1024 // len(text))
    status, headers, body = get(cache_server, f"/docs/{large}", {"Accept-Encoding": "gzip"})
    assert headers["content-encoding"] == "gzip" and body[8] == 4  # gzip's XFL: the fastest level
    # Smaller bodies keep the client's choice at the usual level.
    status, headers, body = get(cache_server, f"/docs/{small}", {"Accept-Encoding": "gzip;q=1, zstd;q=0.1"})
    assert headers["content-encoding"] == "gzip" and body[8] == 0
