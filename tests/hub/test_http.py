"""The hub over real HTTP: gunicorn against moto's S3 server, raw requests (no client normalisation).

Off, pages are S3's bytes and ETags; on, the tag block is in each page once, after ``<head>``, for
HTML only, with the cache, compression, Range and If-None-Match answering for the page as sent.
"""

import gzip
import re
import uuid

import brotli
import pytest

from app import create_app
from tests.servers import FAKE_CREDENTIALS, raw_request as get
from tests.hub.conftest import page

BLOCK = re.compile(rb'<meta name="docs-hub-project".*?</script>')
PAGE = page(b"Install", b"<p>run it</p>" * 300)


@pytest.fixture(scope="module")
def bucket(server_s3, moto_server, tmp_path_factory):
    """A bucket with project ``on`` (hub on) and ``off`` (hub off), each 1.0, published through the CLI."""
    name = f"hub-{uuid.uuid4().hex[:12]}"
    server_s3.create_bucket(Bucket=name)
    site = tmp_path_factory.mktemp("site")
    (site / "guide").mkdir()
    (site / "guide" / "install.html").write_bytes(PAGE)
    (site / "index.html").write_bytes(page(b"Home"))
    (site / "app.js").write_bytes(b"console.log('<head>')\n" * 200)
    with pytest.MonkeyPatch.context() as patch:
        for variable, value in FAKE_CREDENTIALS.items():
            patch.setenv(variable, value)
        app = create_app({"S3_BUCKET": name, "S3_ENDPOINT_URL": moto_server, "S3_REGION": "us-east-1",
                          "S3_ADDRESSING_STYLE": "path"})
        runner = app.test_cli_runner()
        for project, options in (("on", ["--hub"]), ("off", [])):
            result = runner.invoke(args=["docs", "publish", str(site), "--project", project, "--version", "1.0", *options])
            assert result.exit_code == 0, result.output
    return name


@pytest.fixture(scope="module", params=["on", "off"], ids=["cache", "no-cache"])
def server(request, bucket, gunicorn_module):
    """gunicorn with the cache on, then off."""
    return gunicorn_module(bucket, {"DOCS_CACHE": request.param, "WEB_CONCURRENCY": "1"})


@pytest.fixture(scope="module")
def gunicorn_module(moto_server, tmp_path_factory):
    """Start gunicorn servers for this module; stopped at its end."""
    from tests.servers import Gunicorn

    started = []

    def start(bucket, env):
        server = Gunicorn({"S3_BUCKET": bucket, "S3_ENDPOINT_URL": moto_server, "S3_ADDRESSING_STYLE": "path",
                           "GUNICORN_THREADS": "4", **env},
                          log_path=tmp_path_factory.mktemp("gunicorn") / "gunicorn.log")
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def s3_object(server_s3, bucket, key):
    answer = server_s3.get_object(Bucket=bucket, Key=key)
    return answer["Body"].read(), answer["ETag"]


def test_off_pages_are_s3s_bytes_and_etag(server, server_s3, bucket):
    body, etag = s3_object(server_s3, bucket, "off/1.0/guide/install.html")

    for _ in range(2):
        status, headers, data = get(server, "/docs/off/1.0/guide/install.html")
        assert (status, data, headers["etag"]) == (200, body, etag)


def test_on_the_block_is_in_the_page_once_right_after_head(server, server_s3, bucket):
    body, etag = s3_object(server_s3, bucket, "on/1.0/guide/install.html")

    for _ in range(2):
        status, headers, data = get(server, "/docs/on/1.0/guide/install.html")
        assert status == 200
        assert len(BLOCK.findall(data)) == 1
        assert BLOCK.search(data).start() == body.index(b"<head>") + len(b"<head>")
        assert BLOCK.sub(b"", data) == body
        assert headers["content-length"] == str(len(data))
        assert headers["etag"] not in (etag, None)


def test_on_other_files_are_s3s_bytes_and_etag(server, server_s3, bucket):
    body, etag = s3_object(server_s3, bucket, "on/1.0/app.js")

    status, headers, data = get(server, "/docs/on/1.0/app.js")

    assert (status, data, headers["etag"]) == (200, body, etag)


@pytest.mark.parametrize("coding, decompress", [("gzip", gzip.decompress), ("br", brotli.decompress)])
def test_the_compressed_page_is_the_page_with_the_block(server, coding, decompress):
    _, plain_headers, plain = get(server, "/docs/on/1.0/guide/install.html")

    for _ in range(2):
        status, headers, data = get(server, "/docs/on/1.0/guide/install.html", {"Accept-Encoding": coding})
        assert headers["content-encoding"] == coding
        assert decompress(data) == plain
        assert headers["etag"] == plain_headers["etag"][:-1] + f'-{coding}"'


def test_if_none_match_answers_304_for_the_pages_etag_only(server, server_s3, bucket):
    _, object_etag = s3_object(server_s3, bucket, "on/1.0/guide/install.html")
    _, headers, _ = get(server, "/docs/on/1.0/guide/install.html")
    _, gzip_headers, _ = get(server, "/docs/on/1.0/guide/install.html", {"Accept-Encoding": "gzip"})

    assert get(server, "/docs/on/1.0/guide/install.html", {"If-None-Match": headers["etag"]})[0] == 304
    status, not_modified, _ = get(server, "/docs/on/1.0/guide/install.html",
                                  {"If-None-Match": gzip_headers["etag"], "Accept-Encoding": "gzip"})
    assert (status, not_modified["etag"]) == (304, gzip_headers["etag"])
    status, stale_headers, data = get(server, "/docs/on/1.0/guide/install.html", {"If-None-Match": object_etag})
    assert (status, stale_headers["etag"]) == (200, headers["etag"])
    assert BLOCK.search(data)


def test_a_range_is_of_the_pages_bytes(server):
    _, _, whole = get(server, "/docs/on/1.0/guide/install.html")

    status, headers, data = get(server, "/docs/on/1.0/guide/install.html", {"Range": "bytes=100-299"})

    if status == 206:  # from the cache
        assert (data, headers["content-range"]) == (whole[100:300], f"bytes 100-299/{len(whole)}")
    else:  # S3's ranges count the object's bytes: the whole page instead, as RFC 9110 14.2 allows
        assert (status, data) == (200, whole)


def test_the_script_and_stylesheet_weigh_at_most_20_kib_compressed_together(server):
    sizes = {}
    for name in ("hub.js", "hub.css"):
        status, headers, data = get(server, f"/_/hub/{name}", {"Accept-Encoding": "gzip"})
        assert (status, headers["content-encoding"]) == (200, "gzip")
        sizes[name] = len(data)

    assert sum(sizes.values()) <= 20 * 1024, sizes


def test_the_script_asked_for_by_its_version_is_immutable(server):
    _, _, page_bytes = get(server, "/docs/on/1.0/")
    script = re.search(rb'src="([^"]+)"', page_bytes).group(1).decode()

    status, headers, data = get(server, script)

    assert status == 200
    assert "immutable" in headers["cache-control"]
    assert b"docs-hub" in data
    assert get(server, "/_/hub/hub.js")[1]["cache-control"] == "no-cache"


def test_the_context_api_answers_for_the_page(server):
    status, headers, data = get(server, "/_/hub/api/on/1.0?page=guide/install.html")

    assert (status, headers["content-type"]) == (200, "application/json")
    assert b'"url":"/docs/on/1.0/guide/install.html"' in data
    assert get(server, "/_/hub/api/off/1.0?page=")[0] == 404
