"""Reliability, group 1: arbitrary request paths never give a 5xx nor an S3 call outside ``S3_PREFIX``.

Hypothesis generates paths from unicode, percent-encodings, dot segments, doubled slashes,
backslashes, control characters and very long runs. Every key the app asks S3 for is recorded by a
botocore event hook on the app's own client, so the check covers redirects' index probes too.
"""

import os
import re
import socket
import string
from urllib.parse import parse_qs, quote, unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import BUCKET
from tests.faultproxy import FaultProxy, report_figures

PREFIX = "site/"
SECRET = b"outside the prefix: must never be served\n"
# Keys a path could reach only by escaping the prefix; none of them may ever be served.
OUTSIDE_KEYS = ["secret.txt", "sitex/secret.txt", "other/index.html", "index.html", "site.txt"]
INSIDE = {
    "index.html": b"<h1>home</h1>",
    "a/index.html": b"<h1>a</h1>",
    "a/b.html": b"<p>b</p>",
    "caf\u00e9/index.html": b"<p>cafe</p>",
    "with space.txt": b"space",
}
EXAMPLES = int(os.environ.get("DOCS_RELIABILITY_PATH_EXAMPLES", "2500"))
HTTP_EXAMPLES = int(os.environ.get("DOCS_RELIABILITY_HTTP_PATH_EXAMPLES", "300"))

# Pieces an attacker (or a confused client) would put in a path.
NASTY_SEGMENTS = [
    "..", ".", "...", "%2e%2e", "%2E%2e", ".%2e", "%2e.", "%2e", "%2f", "%2F", "%5c", "%5C", "..%2f", "..%5c",
    "%00", "%0d%0a", "%0aSet-Cookie:%20x=1", "\r\nX-Injected: 1", "%252e%252e", "%c0%ae%c0%ae", "%ff",
    "%e2%80%ae", "\u202e", "\uff0e\uff0e", "\u2024\u2024", "~", "~root", "index.html", "a", "b.html",
    "caf\u00e9", "cafe\u0301", " ", "%20", "?", "#", ";", "a;b", ":", "C:", "\\", "\\..\\", "//", "",
    "etc/passwd", "%u002e", "\x00", "\x7f", "\t", "\ud7ff", "\U0001f600",
]
# Mostly plain slashes, so that most cases get past the redirect that folds "//" and reach S3.
SEPARATORS = ["/"] * 8 + ["//", "\\", "%2f", "/./", "/../", "///"]

percent_bytes = st.binary(min_size=1, max_size=12).map(lambda raw: quote(raw, safe=""))
segments = st.one_of(
    st.sampled_from(NASTY_SEGMENTS),
    st.text(max_size=12),
    st.text(alphabet=string.printable, max_size=12),
    percent_bytes,
    st.text(alphabet="./\\%2eEfFcC5", max_size=10),
)
long_segments = st.integers(min_value=200, max_value=2500).map(lambda n: "x" * n)


@st.composite
def request_paths(draw):
    """A path below ``/docs/`` as a client would type it: segments glued by separators, maybe long."""
    parts = draw(st.lists(st.one_of(segments, long_segments) if draw(st.booleans()) else segments, max_size=8))
    path = ""
    for part in parts:
        path += part + draw(st.sampled_from(SEPARATORS))
    if draw(st.booleans()):
        path = path.rstrip("/")
    return path


@pytest.fixture
def app_config():
    """Serve only below ``site/``."""
    return {"S3_BUCKET": BUCKET, "S3_REGION": "us-east-1", "S3_PREFIX": PREFIX}


@pytest.fixture
def seeded(s3):
    """The bucket holds documents inside the prefix and secrets right next to it."""
    for key, body in INSIDE.items():
        s3.put_object(Bucket=BUCKET, Key=PREFIX + key, Body=body)
    for key in OUTSIDE_KEYS:
        s3.put_object(Bucket=BUCKET, Key=key, Body=SECRET)
    return s3


@pytest.fixture
def s3_calls(app, bucket):
    """Every S3 call the app's client makes, with its Key, recorded before the request is built."""
    return bucket.calls(app.extensions["s3"])


def is_inside_prefix(key):
    """Tell whether ``key`` lies inside ``PREFIX`` with no dot segment, backslash or control character."""
    rest = key[len(PREFIX):]
    return (
        key.startswith(PREFIX)
        and not any(segment in (".", "..") for segment in rest.split("/"))
        and "\\" not in rest
        and not any(ord(char) < 0x20 or ord(char) == 0x7F for char in rest)
    )


def s3_request_key(path, bucket):
    """Return the key an S3 request path names; for a listing (the portal's), the prefix it lists."""
    raw_path, _, query = path.partition("?")
    key = unquote(raw_path, errors="surrogateescape")[len(f"/{bucket}/"):]
    if key == "" and "list-type=" in query:
        return parse_qs(query).get("prefix", [""])[0]
    return key


def test_arbitrary_paths_never_give_5xx_nor_reach_outside_the_prefix(client, seeded, s3_calls, tmp_path):
    generated = {"paths": 0, "responses": 0, "statuses": {}, "s3_calls": 0}

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(path=request_paths(), method=st.sampled_from(["GET", "HEAD"]), as_environ=st.booleans())
    def check(path, method, as_environ):
        s3_calls.clear()
        generated["paths"] += 1
        if as_environ:
            # What a WSGI server hands over after percent-decoding: raw bytes as latin-1 (PEP 3333).
            raw = unquote(path, encoding="latin-1", errors="strict")
            environ = {"PATH_INFO": "/docs/" + raw.encode("utf-8", "surrogatepass").decode("latin-1")}
            response = client.open("/docs/", method=method, environ_overrides=environ)
        else:
            response = client.open("/docs/" + path, method=method)
        with response:
            status = response.status_code
            body = response.get_data()
            location = response.headers.get("Location", "")
        if status == 301 and location.startswith("../"):
            # Follow the slash-folding redirect once: the path it names must be just as safe. It climbs
            # to the mount point, the root here, then names docs/...
            check_response(path, status, body, location)
            with client.open("/" + re.sub(r"^(\.\./)+", "", location), method=method) as response:
                status, body = response.status_code, response.get_data()
                location = response.headers.get("Location", "")
        check_response(path, status, body, location)

    def check_response(path, status, body, location):
        generated["responses"] += 1
        generated["statuses"][status] = generated["statuses"].get(status, 0) + 1
        generated["s3_calls"] += len(s3_calls)
        assert status < 500, (path, status, body[:200])
        assert SECRET not in body
        assert all(is_inside_prefix(key) for _, key in s3_calls if key is not None), (path, s3_calls)
        assert not location.startswith("//") and "://" not in location.split("?")[0], (path, location)
        assert "\r" not in location and "\n" not in location

    check()
    assert generated["paths"] >= 2000
    report_figures(tmp_path, "paths_test_client", generated)


def raw_request(port, target, method="GET"):
    """Send ``target`` byte for byte (no client-side normalisation) and return status and headers."""
    request = method.encode() + b" /docs/" + target + b" HTTP/1.1\r\nHost: docs\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while b"\r\n\r\n" not in received:
            data = sock.recv(65536)
            if not data:
                break
            received += data
        head, _, body = received.partition(b"\r\n\r\n")
        while True:
            data = sock.recv(65536)
            if not data:
                break
            body += data
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) >= 2 else 0
    return status, lines[1:], body


@pytest.fixture
def gunicorn_behind_recorder(gunicorn_factory, moto_server, server_s3):
    """gunicorn serving ``site/`` through a pass-through proxy that records every S3 request line."""
    bucket = "reliability-paths"
    server_s3.create_bucket(Bucket=bucket)
    for key, body in INSIDE.items():
        server_s3.put_object(Bucket=bucket, Key=PREFIX + key, Body=body)
    for key in OUTSIDE_KEYS:
        server_s3.put_object(Bucket=bucket, Key=key, Body=SECRET)
    proxy = FaultProxy(moto_server)
    proxy.start()
    server = gunicorn_factory(bucket, env={"S3_ENDPOINT_URL": proxy.url, "S3_PREFIX": PREFIX})
    yield server, proxy, bucket
    proxy.stop()


def test_arbitrary_raw_paths_over_real_http_stay_inside_the_prefix(gunicorn_behind_recorder, tmp_path):
    server, proxy, bucket = gunicorn_behind_recorder
    port = int(server.url.rsplit(":", 1)[1])
    generated = {"cases": 0, "statuses": {}, "s3_calls": 0}
    target_bytes = st.one_of(
        request_paths().map(lambda path: quote(path, safe="/%;:@~!$&'()*+,=").encode("ascii")),
        # Bytes a real server receives that a test client would have normalised away.
        st.binary(max_size=60).map(lambda raw: bytes(b for b in raw if b not in b" \r\n?#")),
        request_paths().map(lambda path: path.encode("utf-8", "surrogatepass").replace(b" ", b"%20")
                            .replace(b"\r", b"").replace(b"\n", b"").replace(b"?", b"").replace(b"#", b"")),
    )

    @settings(max_examples=HTTP_EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(target=target_bytes, method=st.sampled_from(["GET", "HEAD"]))
    def check(target, method):
        proxy.requests.clear()
        status, headers, body = raw_request(port, target, method)
        generated["cases"] += 1
        generated["statuses"][status] = generated["statuses"].get(status, 0) + 1
        keys = [s3_request_key(path, bucket) for _, path in list(proxy.requests)]
        generated["s3_calls"] += len(keys)
        assert 0 < status < 500, (target, status, body[:200])
        assert SECRET not in body
        assert all(is_inside_prefix(key) for key in keys), (target, keys)
        assert not any(line.lower().startswith((b"x-injected", b"set-cookie")) for line in headers)

    check()
    assert generated["cases"] >= HTTP_EXAMPLES
    assert "Traceback" not in server.log()
    report_figures(tmp_path, "paths_gunicorn", generated)
