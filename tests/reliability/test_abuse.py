"""Reliability, group 2: malformed and hostile requests over raw sockets to real gunicorn.

Every case must get a 4xx or the plain object (whole, or the exact range asked for), never a 5xx,
and never a header the client smuggled in through a path, query or header value.
"""

import socket

import pytest

from tests.faultproxy import report_figures

BUCKET = "reliability-abuse"
OBJECT = bytes(range(256)) * 40  # 10240 bytes: every byte value, so a wrong offset shows.
PAGE_PATH = b"/docs/page.bin"
INJECTED = (b"x-injected", b"set-cookie")
OK = {200}
OK_OR_4XX = {200, 400, 405, 411, 413, 414, 416, 431}
REFUSED = {400, 405, 411, 413, 414, 431}


def request(target=PAGE_PATH, *headers, method=b"GET", version=b"HTTP/1.1", body=b"", close=True):
    """Build a request byte for byte, ``Host`` first and ``Connection: close`` unless told otherwise."""
    lines = [method + b" " + target + b" " + version if version else method + b" " + target, b"Host: docs"]
    lines += list(headers)
    if close:
        lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


CASES = {
    # Range: S3 ignores what it cannot parse (the whole object), answers 416 for what it cannot satisfy.
    "range_reversed": (request(PAGE_PATH, b"Range: bytes=5-1"), {200, 416}, "object"),
    "range_not_numbers": (request(PAGE_PATH, b"Range: bytes=abc"), {200, 416}, "object"),
    "range_unknown_unit": (request(PAGE_PATH, b"Range: chars=0-10"), {200, 416}, "object"),
    "range_empty": (request(PAGE_PATH, b"Range: bytes="), {200, 416}, "object"),
    "range_two_hundred_ranges": (
        request(PAGE_PATH, b"Range: bytes=" + b",".join(b"%d-%d" % (i * 10, i * 10 + 4) for i in range(200))),
        {200, 206, 416}, "object",
    ),
    "range_huge_end": (request(PAGE_PATH, b"Range: bytes=0-99999999999999999999999999"), {200, 206, 416}, "range"),
    "range_huge_start": (request(PAGE_PATH, b"Range: bytes=99999999999999999999999999-"), {200, 416}, "object"),
    "range_huge_suffix": (request(PAGE_PATH, b"Range: bytes=-99999999999999999999999999"), {200, 206, 416}, "range"),
    "range_zero_suffix": (request(PAGE_PATH, b"Range: bytes=-0"), {200, 416}, "object"),
    "range_negative": (request(PAGE_PATH, b"Range: bytes=-5--1"), {200, 416}, "object"),
    "range_past_end": (request(PAGE_PATH, b"Range: bytes=20000-30000"), {200, 416}, "object"),
    "range_valid": (request(PAGE_PATH, b"Range: bytes=100-199"), {206}, "range"),
    "range_twice": (request(PAGE_PATH, b"Range: bytes=0-9", b"Range: bytes=10-19"), {200, 206, 400}, "range"),
    "range_if_range_garbage": (request(PAGE_PATH, b"Range: bytes=0-9", b"If-Range: yesterday"), {200, 206}, "range"),
    # Conditionals: dates that do not parse are ignored (RFC 9110 13.1.3), validators S3 judges.
    "ims_garbage": (request(PAGE_PATH, b"If-Modified-Since: not a date"), OK, "object"),
    "ims_impossible": (request(PAGE_PATH, b"If-Modified-Since: Mon, 99 Foo 2020 99:99:99 GMT"), OK, "object"),
    "ims_far_future": (request(PAGE_PATH, b"If-Modified-Since: Fri, 31 Dec 9999 23:59:59 GMT"), {200, 304}, None),
    "ims_year_zero": (request(PAGE_PATH, b"If-Modified-Since: Sat, 01 Jan 0000 00:00:00 GMT"), OK, "object"),
    "ims_huge_number": (request(PAGE_PATH, b"If-Modified-Since: 99999999999999999999999"), OK, "object"),
    "ius_garbage": (request(PAGE_PATH, b"If-Unmodified-Since: \xff\xfe garbage"), OK, "object"),
    "ius_epoch": (request(PAGE_PATH, b"If-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT"), {412}, None),
    "inm_garbage": (request(PAGE_PATH, b'If-None-Match: "'), {200, 304, 400}, None),
    "inm_long_list": (request(PAGE_PATH, b"If-None-Match: " + b", ".join(b'"%d"' % i for i in range(600))),
                      {200, 400, 431}, None),
    "if_match_garbage": (request(PAGE_PATH, b"If-Match: \x01\x02"), {200, 400, 412}, None),
    # Oversized and too many headers, overlong request line.
    "header_oversized": (request(PAGE_PATH, b"X-Big: " + b"a" * 9000), REFUSED, None),
    "headers_too_many": (request(PAGE_PATH, *(b"X-H%d: v" % i for i in range(150))), REFUSED, None),
    "request_line_overlong": (request(b"/docs/" + b"a" * 9000), REFUSED, None),
    "header_without_colon": (request(PAGE_PATH, b"NoColonHere"), REFUSED, None),
    "header_name_with_space": (request(PAGE_PATH, b"Bad Name: v"), REFUSED, None),
    "header_obs_fold": (request(PAGE_PATH, b"X-A: 1", b" X-Injected: 1"), REFUSED | OK, "object"),
    "header_value_nul": (request(PAGE_PATH, b"X-A: a\x00b"), REFUSED | OK, "object"),
    # CR/LF in the path or query: a header must never come out of them.
    "path_raw_cr": (b"GET /docs/page.bin\rX-Injected: 1 HTTP/1.1\r\nHost: docs\r\nConnection: close\r\n\r\n",
                    REFUSED | {404}, None),
    "path_raw_lf": (b"GET /docs/a\nX-Injected: 1 HTTP/1.1\r\nHost: docs\r\nConnection: close\r\n\r\n",
                    REFUSED | {404}, None),
    "path_encoded_crlf": (request(b"/docs/dir%0d%0aX-Injected:%201"), {400}, None),
    "path_encoded_crlf_set_cookie": (request(b"/docs/%0d%0aSet-Cookie:%20a=b/"), {400}, None),
    "redirect_query_crlf": (request(b"/docs/dir?x=%0d%0aX-Injected:%201"), {301}, None),
    "redirect_query_raw_cr": (b"GET /docs/dir?x=\rX-Injected:1 HTTP/1.1\r\nHost: docs\r\nConnection: close\r\n\r\n",
                              REFUSED | {301}, None),
    "redirect_double_slash_crlf": (request(b"/docs//%0d%0aX-Injected:%201//"), {301, 400}, None),
    "path_nul": (request(b"/docs/page.bin%00"), {400}, None),
    # HTTP versions.
    "http_1_0": (request(PAGE_PATH, version=b"HTTP/1.0", close=False), OK, "object"),
    "http_1_0_without_host": (b"GET /docs/page.bin HTTP/1.0\r\n\r\n", OK, "object"),
    "http_1_0_keep_alive": (request(PAGE_PATH, b"Connection: keep-alive", version=b"HTTP/1.0", close=False),
                            OK, "object"),
    "http_0_9": (b"GET /docs/page.bin\r\n\r\n", REFUSED | {505}, None),
    "http_2_0_line": (request(PAGE_PATH, version=b"HTTP/2.0"), REFUSED | {505}, None),
    "http_version_garbage": (request(PAGE_PATH, version=b"HTTP/x.y"), REFUSED | {505}, None),
    "http_1_1_without_host": (b"GET /docs/page.bin HTTP/1.1\r\nConnection: close\r\n\r\n", REFUSED | OK, None),
    "absolute_form_target": (request(b"http://evil.example/docs/page.bin"), REFUSED | OK | {404}, None),
    "asterisk_target": (request(b"*", method=b"OPTIONS"), REFUSED | {404}, None),
    "lowercase_method": (request(PAGE_PATH, method=b"get"), REFUSED, None),
    "unknown_method": (request(PAGE_PATH, method=b"BREW"), REFUSED, None),
    "connect_method": (request(b"evil.example:443", method=b"CONNECT"), REFUSED | {404}, None),
    # Requests with bodies.
    "get_with_body": (request(PAGE_PATH, b"Content-Length: 11", body=b"hello world"), OK, "object"),
    "get_with_chunked_body": (
        request(PAGE_PATH, b"Transfer-Encoding: chunked", body=b"5\r\nhello\r\n0\r\n\r\n"), OK, "object"),
    "get_with_bad_chunked_body": (
        request(PAGE_PATH, b"Transfer-Encoding: chunked", body=b"zz\r\nhello\r\n0\r\n\r\n"), REFUSED | OK, None),
    "content_length_and_chunked": (
        request(PAGE_PATH, b"Content-Length: 5", b"Transfer-Encoding: chunked", body=b"0\r\n\r\n"),
        REFUSED, None),
    "content_length_twice_differing": (
        request(PAGE_PATH, b"Content-Length: 5", b"Content-Length: 6", body=b"hello!"), REFUSED, None),
    "content_length_negative": (request(PAGE_PATH, b"Content-Length: -1"), REFUSED, None),
    "content_length_huge": (request(PAGE_PATH, b"Content-Length: 99999999999999999999999"), REFUSED | OK, None),
    "content_length_short_body": (request(PAGE_PATH, b"Content-Length: 100", body=b"short"), REFUSED | OK, None),
    "post_with_body": (request(PAGE_PATH, b"Content-Length: 4", method=b"POST", body=b"data"), {405}, None),
    "put_with_body": (request(PAGE_PATH, b"Content-Length: 4", method=b"PUT", body=b"data"), {405}, None),
    "delete": (request(PAGE_PATH, method=b"DELETE"), {405}, None),
    "body_smuggles_second_request": (
        request(PAGE_PATH, b"Content-Length: 0", b"Transfer-Encoding: chunked", close=False,
                body=b"0\r\n\r\nGET /docs/page.bin HTTP/1.1\r\nHost: docs\r\nX-Injected: 1\r\nConnection: close\r\n\r\n"),
        REFUSED, None),
    "garbage": (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(200)) + b"\r\n\r\n", REFUSED, None),
    "non_utf8_header": (request(PAGE_PATH, b"Accept-Language: \xff\xfe\xfd"), OK, "object"),
    "non_ascii_host": (b"GET /docs/page.bin HTTP/1.1\r\nHost: \xc3\xa9vil\r\nConnection: close\r\n\r\n",
                       REFUSED | OK, None),
}


def exchange(port, raw, timeout=15):
    """Send ``raw`` and read until the server closes; return the whole response bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        received = b""
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            received += data
    return received


def parse_responses(received):
    """Split back-to-back HTTP/1.x responses into (status, header lines, body) triples."""
    responses = []
    while received:
        head, separator, rest = received.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status_line = lines[0].split(b" ", 2)
        assert separator and len(status_line) >= 2 and status_line[0].startswith(b"HTTP/1."), received[:300]
        status = int(status_line[1])
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            body, received = rest, b""
        else:
            body, received = rest[:length], rest[length:]
            assert len(body) == length, f"short body: {len(body)} of {length} bytes"
        responses.append((status, lines[1:], body))
    return responses


def header(lines, name):
    """Return the value of header ``name`` in ``lines``, or ``None``."""
    for line in lines:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None


def check_body(expectation, status, lines, body):
    """Check that a 200 is the plain object and a 206 the exact bytes its Content-Range names."""
    if status == 200 and expectation in ("object", "range"):
        assert body == OBJECT
    elif status == 206:
        content_range = header(lines, b"content-range").decode()
        first, last = (int(n) for n in content_range.split()[1].split("/")[0].split("-"))
        assert body == OBJECT[first:last + 1]


@pytest.fixture(scope="module")
def abuse_bucket(server_s3):
    """A bucket with one binary object and a directory, created once for the module."""
    server_s3.create_bucket(Bucket=BUCKET)
    server_s3.put_object(Bucket=BUCKET, Key="page.bin", Body=OBJECT, ContentType="application/octet-stream")
    server_s3.put_object(Bucket=BUCKET, Key="dir/index.html", Body=b"<p>dir</p>", ContentType="text/html")
    return BUCKET


@pytest.fixture
def docs_server(gunicorn_factory, abuse_bucket):
    """gunicorn serving the abuse bucket."""
    return gunicorn_factory(abuse_bucket)


def test_malformed_and_hostile_requests_get_4xx_or_the_plain_object(docs_server, tmp_path):
    port = int(docs_server.url.rsplit(":", 1)[1])
    outcomes = {}
    failures = []
    for name, (raw, allowed, expectation) in CASES.items():
        try:
            responses = parse_responses(exchange(port, raw))
            assert responses, "no response at all"
            for status, lines, body in responses:
                assert status in allowed, f"status {status}, allowed {sorted(allowed)}: {body[:200]!r}"
                assert status < 500
                assert not any(line.lower().startswith(INJECTED) for line in lines), lines
                check_body(expectation, status, lines, body)
            outcomes[name] = [status for status, _, _ in responses]
        except AssertionError as error:
            failures.append(f"{name}: {error}")
    assert not failures, "\n".join(failures)
    # The server is still healthy after all of that.
    (status, _, body), = parse_responses(exchange(port, request()))
    assert (status, body) == (200, OBJECT)
    assert "Traceback" not in docs_server.log()
    report_figures(tmp_path, "abuse", {"cases": len(CASES), "statuses": outcomes})


def test_client_sending_a_body_slowly_then_hanging_up_leaves_the_server_serving(docs_server):
    port = int(docs_server.url.rsplit(":", 1)[1])
    for _ in range(20):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(request(PAGE_PATH, b"Content-Length: 100000", body=b"x" * 10))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /docs/page.bin HTTP/1.1\r\nHost: docs\r\n")  # and never finish the head
        (status, _, body), = parse_responses(exchange(port, request()))
    assert (status, body) == (200, OBJECT)


def test_keep_alive_requests_after_a_request_body_are_parsed_from_the_right_byte(docs_server):
    port = int(docs_server.url.rsplit(":", 1)[1])
    smuggled = b"GET /docs/page.bin HTTP/1.1\r\nHost: docs\r\nX-Injected: 1\r\n\r\n"
    raw = (request(PAGE_PATH, b"Content-Length: %d" % len(smuggled), close=False, body=smuggled)
           + request(PAGE_PATH, b"Range: bytes=0-3"))
    responses = parse_responses(exchange(port, raw))
    assert [status for status, _, _ in responses] == [200, 206]
    assert responses[0][2] == OBJECT and responses[1][2] == OBJECT[:4]
    for _, lines, _ in responses:
        assert not any(line.lower().startswith(INJECTED) for line in lines)
