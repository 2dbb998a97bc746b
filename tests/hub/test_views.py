"""The hub through the app (Flask's test client against moto), with the cache on and off.

Off, pages are the bytes S3 holds with S3's ETag; on, the tag block is in every page of the project
once, after ``<head>``, and ETags, Range, conditionals and compression describe the page as sent.
"""

import gzip
import re

import pytest

from app.hub.inject import SUFFIX_MARK
from tests.conftest import BUCKET

BLOCK = re.compile(rb'<meta name="docs-hub-project" content="([^"]*)">.*?</script>')


def s3_object(s3, key):
    """Return the bytes and ETag S3 holds under ``key``."""
    answer = s3.get_object(Bucket=BUCKET, Key=key)
    return answer["Body"].read(), answer["ETag"]


def test_with_the_hub_off_pages_are_the_bytes_and_etag_s3_holds(client, publish, s3):
    publish("payments", "1.0")
    body, etag = s3_object(s3, "payments/1.0/guide/install.html")

    for _ in range(2):  # a miss, then (cache on) a hit
        response = client.get("/docs/payments/1.0/guide/install.html")
        assert response.data == body
        assert response.headers["ETag"] == etag
        assert b"docs-hub" not in response.data


def test_publish_with_hub_puts_the_block_once_right_after_head(client, publish, s3):
    publish("payments", "1.0", "--hub")
    body, etag = s3_object(s3, "payments/1.0/guide/install.html")

    for _ in range(2):
        response = client.get("/docs/payments/1.0/guide/install.html")
        assert response.status_code == 200
        data = response.data
        assert len(BLOCK.findall(data)) == 1
        assert data.index(b'<meta name="docs-hub-project" content="payments">') == body.index(b"<head>") + 6
        assert b'<meta name="docs-hub-version" content="1.0">' in data
        assert b'<meta name="docs-hub-page" content="guide/install.html">' in data
        assert re.sub(BLOCK, b"", data) == body
        assert response.headers["Content-Length"] == str(len(data))
        assert response.headers["ETag"] != etag
        assert response.headers["ETag"].startswith(etag[:-1] + SUFFIX_MARK)


def test_an_index_page_names_its_folder_as_the_page(client, publish):
    publish("payments", "1.0", "--hub")

    assert b'<meta name="docs-hub-page" content="guide/">' in client.get("/docs/payments/1.0/guide/").data
    assert b'<meta name="docs-hub-page" content="">' in client.get("/docs/payments/1.0/").data


def test_other_files_of_a_project_with_the_hub_are_left_alone(client, publish, s3):
    publish("payments", "1.0", "--hub")
    body, etag = s3_object(s3, "payments/1.0/_static/style.css")

    response = client.get("/docs/payments/1.0/_static/style.css")

    assert (response.data, response.headers["ETag"]) == (body, etag)


def test_the_hub_command_turns_it_on_and_off_for_one_project(client, publish, docs_cli, s3):
    publish("payments", "1.0")
    publish("ledger", "1.0")

    result = docs_cli("hub", "payments", "on")
    assert result.exit_code == 0, result.output
    assert b"docs-hub-project" in client.get("/docs/payments/1.0/guide/").data
    assert b"docs-hub-project" not in client.get("/docs/ledger/1.0/guide/").data

    assert docs_cli("hub", "payments", "off").exit_code == 0
    body, etag = s3_object(s3, "payments/1.0/guide/index.html")
    response = client.get("/docs/payments/1.0/guide/")
    assert (response.data, response.headers["ETag"]) == (body, etag)


def test_the_hub_command_refuses_an_unknown_project(docs_cli, publish):
    publish("payments", "1.0")

    result = docs_cli("hub", "nope", "on")

    assert result.exit_code != 0
    assert "no project 'nope'" in result.output
    assert "Traceback" not in result.output


@pytest.fixture
def hub_everywhere(app):
    app.config["DOCS_HUB"] = "on"


def test_docs_hub_on_serves_every_project_unless_it_turned_the_hub_off(client, publish, docs_cli, hub_everywhere):
    publish("payments", "1.0")
    publish("ledger", "1.0")
    docs_cli("hub", "ledger", "off")

    assert b"docs-hub-project" in client.get("/docs/payments/1.0/").data
    assert b"docs-hub-project" not in client.get("/docs/ledger/1.0/").data


def test_pages_outside_a_project_version_are_left_alone(client, publish, s3, hub_everywhere):
    publish("payments", "1.0")
    s3.put_object(Bucket=BUCKET, Key="guide/index.html", Body=b"<html><head></head>", ContentType="text/html")

    assert client.get("/docs/guide/").data == b"<html><head></head>"


def test_if_none_match_with_the_pages_etag_is_a_304_and_with_the_objects_a_200(client, publish, s3):
    publish("payments", "1.0", "--hub")
    _, object_etag = s3_object(s3, "payments/1.0/guide/install.html")
    etag = client.get("/docs/payments/1.0/guide/install.html").headers["ETag"]

    not_modified = client.get("/docs/payments/1.0/guide/install.html", headers={"If-None-Match": etag})
    stale = client.get("/docs/payments/1.0/guide/install.html", headers={"If-None-Match": object_etag})

    assert (not_modified.status_code, not_modified.headers["ETag"], not_modified.data) == (304, etag, b"")
    assert stale.status_code == 200
    assert stale.headers["ETag"] == etag


def test_if_modified_since_is_decided_on_the_page(client, publish):
    publish("payments", "1.0", "--hub")
    first = client.get("/docs/payments/1.0/guide/install.html")

    again = client.get("/docs/payments/1.0/guide/install.html",
                       headers={"If-Modified-Since": first.headers["Last-Modified"]})

    assert again.status_code == 304
    assert again.headers["ETag"] == first.headers["ETag"]


def test_a_range_counts_the_pages_bytes_never_the_objects(client, publish):
    publish("payments", "1.0", "--hub")
    whole = client.get("/docs/payments/1.0/guide/install.html").data

    response = client.get("/docs/payments/1.0/guide/install.html", headers={"Range": "bytes=0-199"})

    # A 206 of the page's own bytes (from the cache), or the whole page (S3 cannot count the page's bytes).
    if response.status_code == 206:
        assert response.data == whole[:200]
        assert response.headers["Content-Range"] == f"bytes 0-199/{len(whole)}"
    else:
        assert (response.status_code, response.data) == (200, whole)


def test_head_gives_the_pages_length_and_etag(client, publish):
    publish("payments", "1.0", "--hub")
    whole = client.get("/docs/payments/1.0/guide/install.html")

    head = client.head("/docs/payments/1.0/guide/install.html")

    assert head.headers["Content-Length"] == str(len(whole.data))
    assert head.headers["ETag"] == whole.headers["ETag"]


def test_the_compressed_page_is_the_rewritten_page(client, publish):
    publish("payments", "1.0", "--hub")
    plain = client.get("/docs/payments/1.0/guide/install.html")

    for _ in range(2):
        response = client.get("/docs/payments/1.0/guide/install.html", headers={"Accept-Encoding": "gzip"})
        assert response.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(response.data) == plain.data
        assert response.headers["ETag"] == plain.headers["ETag"][:-1] + '-gzip"'


def test_a_page_view_costs_no_s3_call_more_than_without_the_hub(client, publish, docs_cli, s3_calls, app):
    publish("payments", "1.0")
    publish("ledger", "1.0", "--hub")
    client.get("/docs/payments/1.0/guide/")  # the catalog is read once per DOCS_PORTAL_TTL, as the portal does
    s3_calls.clear()

    client.get("/docs/payments/1.0/guide/install.html")
    without = list(s3_calls)
    s3_calls.clear()
    client.get("/docs/ledger/1.0/guide/install.html")

    assert s3_calls == without


def test_a_page_too_large_to_keep_streams_with_the_block(app, client, publish, s3):
    app.config["DOCS_CACHE_OBJECT_SIZE"] = 1000  # the install page (4 KiB) is not kept: it streams every time
    app.config["DOCS_CHUNK_SIZE"] = 1024  # and arrives in several chunks
    publish("payments", "1.0", "--hub")
    body, _ = s3_object(s3, "payments/1.0/guide/install.html")

    for _ in range(2):
        response = client.get("/docs/payments/1.0/guide/install.html")
        assert len(BLOCK.findall(response.data)) == 1
        assert re.sub(BLOCK, b"", response.data) == body
        assert response.headers["Content-Length"] == str(len(response.data))
        assert response.headers.get("X-Cache") in (None, "BYPASS")


def test_with_docs_hub_off_a_bucket_without_a_portal_index_is_listed_once_not_per_ttl(app, client, s3, s3_calls):
    s3.put_object(Bucket=BUCKET, Key="team/1.0/guide/page.html", Body=b"<html><head></head>", ContentType="text/html")
    assert client.get("/docs/team/1.0/guide/page.html").data == b"<html><head></head>"
    app.extensions["portal.index"].invalidate()  # as if the portal's TTL had passed
    s3_calls.clear()

    for _ in range(2):
        assert client.get("/docs/team/1.0/guide/page.html").data == b"<html><head></head>"

    assert "ListObjectsV2" not in s3_calls
