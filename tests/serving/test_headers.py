"""Header policy, tested from tables without Flask."""

from datetime import datetime, timezone

import pytest

from app.serving.headers import (
    NOT_MODIFIED_HEADERS,
    conditional_params,
    date_precondition_status,
    is_etag_list,
    is_if_range_satisfied,
    precondition_status,
    select_headers,
)

S3_HEADERS = {
    "x-amz-id-2": "abc",
    "x-amz-request-id": "REQ",
    "date": "Sat, 21 Nov 2026 10:00:00 GMT",
    "last-modified": "Fri, 20 Nov 2026 10:00:00 GMT",
    "etag": '"d41d8cd98f00b204e9800998ecf8427e"',
    "x-amz-version-id": "v1",
    "x-amz-meta-sha256": "deadbeef",  # publish's own checksum: never copied
    "x-amz-meta-build": "42",
    "x-amz-checksum-crc32": "AAAAAA==",
    "x-amz-server-side-encryption": "AES256",
    "accept-ranges": "bytes",
    "content-type": "text/html; charset=utf-8",
    "content-length": "42",
    "content-encoding": "gzip",
    "content-disposition": "inline",
    "content-language": "en",
    "cache-control": "no-cache",
    "expires": "Sun, 22 Nov 2026 10:00:00 GMT",
    "connection": "keep-alive",
    "transfer-encoding": "chunked",
    "keep-alive": "timeout=5",
    "server": "AmazonS3",
}


def test_representation_headers_are_copied_with_canonical_names():
    selected = dict(select_headers(S3_HEADERS))
    assert selected == {
        "Last-Modified": "Fri, 20 Nov 2026 10:00:00 GMT",
        "ETag": '"d41d8cd98f00b204e9800998ecf8427e"',
        "x-amz-version-id": "v1",
        "x-amz-meta-build": "42",
        "Accept-Ranges": "bytes",
        "Content-Type": "text/html; charset=utf-8",
        "Content-Length": "42",
        "Content-Encoding": "gzip",
        "Content-Disposition": "inline",
        "Content-Language": "en",
        "Cache-Control": "no-cache",
        "Expires": "Sun, 22 Nov 2026 10:00:00 GMT",
    }


@pytest.mark.parametrize(
    "name", ["connection", "transfer-encoding", "keep-alive", "server", "date", "x-amz-request-id", "x-amz-id-2"]
)
def test_hop_by_hop_and_s3_internal_headers_are_dropped(name):
    assert name not in {key.lower() for key, _ in select_headers(S3_HEADERS)}


def test_not_modified_keeps_validators_but_no_body_headers():
    selected = dict(select_headers(S3_HEADERS, NOT_MODIFIED_HEADERS))
    assert set(selected) == {"ETag", "Last-Modified", "Cache-Control", "Expires", "x-amz-version-id"}


def test_header_values_with_line_breaks_are_dropped():
    assert select_headers({"x-amz-meta-evil": "a\r\nSet-Cookie: x", "etag": '"1"'}) == [("ETag", '"1"')]


DATE = "Fri, 20 Nov 2026 10:00:00 GMT"
PARSED = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "headers, expected",
    [
        ({}, {}),
        ({"Range": "bytes=0-99"}, {"Range": "bytes=0-99"}),
        ({"If-Match": '"a"'}, {"IfMatch": '"a"'}),
        ({"If-None-Match": '"a", "b"'}, {}),
        ({"If-Match": '"a",W/"b"'}, {}),
        ({"If-None-Match": 'W/"a"'}, {"IfNoneMatch": 'W/"a"'}),
        ({"If-None-Match": '"a"', "If-Modified-Since": DATE}, {"IfNoneMatch": '"a"'}),
        ({"If-None-Match": '"a", "b"', "If-Modified-Since": DATE}, {}),
        ({"If-Match": '"a"', "If-Unmodified-Since": DATE}, {"IfMatch": '"a"'}),
        ({"If-None-Match": "*"}, {"IfNoneMatch": "*"}),
        ({"If-Modified-Since": DATE}, {"IfModifiedSince": PARSED}),
        ({"If-Unmodified-Since": DATE}, {"IfUnmodifiedSince": PARSED}),
        ({"If-Modified-Since": "yesterday"}, {}),
        ({"If-Unmodified-Since": "Fri, 99 Nov 2026"}, {}),
        ({"Range": "bytes=0-1", "If-Range": '"abc"'}, {"Range": "bytes=0-1"}),
        ({"Range": "bytes=0-1", "If-Range": DATE}, {"Range": "bytes=0-1"}),
        ({"Range": "bytes=0-1", "If-Range": 'W/"abc"'}, {}),
        ({"Range": "bytes=0-1", "If-Range": "garbage"}, {}),
        ({"Accept-Encoding": "gzip", "Cookie": "a=b"}, {}),
        ({"Range": "bytes=5-1"}, {}),
        ({"Range": "bytes=abc"}, {}),
        ({"Range": "chars=0-10"}, {}),
        ({"Range": "bytes=0-1,5-6"}, {}),
        ({"Range": "bytes=0-1\r\nX-Injected: 1"}, {}),
    ],
)
def test_conditional_and_range_headers_become_s3_parameters(headers, expected):
    assert conditional_params(headers) == expected


@pytest.mark.parametrize(
    "if_range, s3_headers, expected",
    [
        (None, {}, True),
        ('"abc"', {"etag": '"abc"'}, True),
        ('"abc"', {"etag": '"def"'}, False),
        ('"abc"', {"etag": 'W/"abc"'}, False),
        ('"abc"', {}, False),
        (DATE, {"last-modified": DATE}, True),
        (DATE, {"last-modified": "Fri, 20 Nov 2026 10:00:01 GMT"}, False),
        (DATE, {}, False),
    ],
)
def test_if_range_matches_only_a_strong_equal_validator(if_range, s3_headers, expected):
    headers = {"If-Range": if_range} if if_range else {}
    assert is_if_range_satisfied(headers, s3_headers) is expected


@pytest.mark.parametrize(
    "value, expected",
    [('"a"', False), ("*", False), ('W/"a"', False), ('"a", "b"', True), ('"a",W/"b"', True), ('"a", "a"', False), ("", False)],
)
def test_only_two_or_more_distinct_entity_tags_make_a_list(value, expected):
    assert is_etag_list(value) is expected


CURRENT = {"etag": '"abc"'}


@pytest.mark.parametrize(
    "headers, s3_headers, expected",
    [
        ({}, CURRENT, None),
        ({"If-None-Match": '"other", "abc"'}, CURRENT, 304),
        ({"If-None-Match": '"other", W/"abc"'}, CURRENT, 304),
        ({"If-None-Match": 'W/"abc"'}, CURRENT, 304),
        ({"If-None-Match": '"abc"'}, {"etag": 'W/"abc"'}, 304),
        ({"If-None-Match": '"other", "more"'}, CURRENT, None),
        ({"If-None-Match": "*"}, CURRENT, 304),
        ({"If-None-Match": '"abc"'}, {}, None),
        ({"If-Match": '"other", "abc"'}, CURRENT, None),
        ({"If-Match": '"other", "more"'}, CURRENT, 412),
        ({"If-Match": '"other", W/"abc"'}, CURRENT, 412),
        ({"If-Match": '"abc"'}, {"etag": 'W/"abc"'}, 412),
        ({"If-Match": "*"}, CURRENT, None),
        ({"If-Match": '"abc"'}, {}, 412),
        ({"If-Match": '"other"', "If-None-Match": '"abc"'}, CURRENT, 412),
        ({"If-Match": '"abc"', "If-None-Match": '"x", "abc"'}, CURRENT, 304),
        ({"If-None-Match": '"x", "abc"\r\nX-Injected: 1'}, CURRENT, None),
    ],
)
def test_entity_tag_conditions_decide_with_if_match_first_strong_then_if_none_match_weak(headers, s3_headers, expected):
    assert precondition_status(headers, s3_headers) == expected


MODIFIED = "Tue, 01 Dec 2026 10:00:00 GMT"


@pytest.mark.parametrize("request_headers, expected", [
    ({}, None),
    ({"If-Modified-Since": MODIFIED}, 304),
    ({"If-Modified-Since": "Tue, 01 Dec 2026 09:59:59 GMT"}, None),
    ({"If-Modified-Since": MODIFIED, "If-None-Match": '"other"'}, None),  # the tag condition overrides the date
    ({"If-Modified-Since": "not a date"}, None),
    ({"If-Unmodified-Since": "Tue, 01 Dec 2026 09:59:59 GMT"}, 412),
    ({"If-Unmodified-Since": MODIFIED}, None),
    ({"If-Unmodified-Since": "Tue, 01 Dec 2026 09:59:59 GMT", "If-Match": '"x"'}, None),
])
def test_date_conditions_decided_here_follow_rfc_9110(request_headers, expected):
    assert date_precondition_status(request_headers, {"last-modified": MODIFIED}) == expected
