"""NGINX's S3 gateway integration assertions, ported: a bucket without a portal index is a plain S3 website.

nginxinc/nginx-s3-gateway checks its gateway with curl against a bucket of awkward names
(test/integration/test_api.sh). These are the same requests and expectations, in the mode that is
S3 website hosting's own (index pages on, directory listings off, a folder without its slash
redirected to it) and written for pytest over real HTTP: gunicorn in front of moto's server, on a
bucket with no portal index, so no folder is taken for a project. The bucket's contents are our own.
Redirects are followed (curl -L). One difference: where the script types a path with non-ASCII
letters, curl sends them as raw UTF-8, which gunicorn refuses with 400 before the app sees it (RFC
9112 3.2 allows only ASCII in a request target); such paths are sent percent-encoded, as browsers send them.
"""

from urllib.parse import quote, urljoin, urlsplit

import pytest

from tests.servers import raw_request

BUCKET = "s3-gateway-suite"

OBJECTS = {
    "index.html": b"<h1>bucket root</h1>",
    "a.txt": b"Let go, or be dragged.\n",
    "a/%@!*()=$#^&|.txt": b"percent and punctuation\n",
    "a/abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.txt": b"every letter and digit\n",
    "a/c/あ": b"hiragana\n",
    "a/plus+plus.txt": b"a plus sign\n",
    "a/これは　This is ASCII системы  חן .txt": b"four scripts and spaces\n",
    "b/c/'(1).txt": b"quote and parentheses\n",
    "b/c/=": b"equals\n",
    "b/c/@": b"at\n",
    "b/c/d.txt": b"deep\n",
    "b/e.txt": b"shallow\n",
    "b/クズ箱/ゴミ.txt": b"katakana folder\n",
    "b/ブツブツ.txt": b"katakana file\n",
    "statichost/index.html": b"<h1>static host</h1>",
    "statichost/noindexdir/multipledir/index.html": b"<h1>deeper static host</h1>",
    "test/index.html": b"<h1>test</h1>",
    "системы/%bad%file%name%": b"percent signs\n",
    "системы/system.txt": b"cyrillic folder\n",
}

HEAD_STATUS = [
    ("a.txt", 200),
    ("a.txt?some=param&that=should&be=stripped", 200),
    ("b/c/d.txt", 200),
    ("b/e.txt", 200),  # curl resolves b/c/../e.txt to this before sending
    ("b//e.txt", 200),
    ("a/abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.txt", 200),
    ("b/c/%3D", 200),
    ("b/c/=", 200),
    ("b/c/%40", 200),
    ("b/c/@", 200),
    ("b/c/%27%281%29.txt", 200),
    ("b/c/'(1).txt", 200),
    ("a/plus%2Bplus.txt", 200),
    ("%D1%81%D0%B8%D1%81%D1%82%D0%B5%D0%BC%D1%8B/%25bad%25file%25name%25", 200),
    ("a/c/%E3%81%82", 200),
    ("a/c/あ", 200),
    ("b/%E3%82%AF%E3%82%BA%E7%AE%B1/%E3%82%B4%E3%83%9F.txt", 200),
    ("b/クズ箱/ゴミ.txt", 200),
    ("%D1%81%D0%B8%D1%81%D1%82%D0%B5%D0%BC%D1%8B/system.txt", 200),
    ("системы/system.txt", 200),
    ("b/%E3%83%96%E3%83%84%E3%83%96%E3%83%84.txt", 200),
    ("b/ブツブツ.txt", 200),
    ("a/%25%40%21%2A%28%29%3D%24%23%5E%26%7C.txt", 200),
    ("a/%E3%81%93%E3%82%8C%E3%81%AF%E3%80%80This%20is%20ASCII%20%D1%81%D0%B8%D1%81%D1%82%D0%B5%D0%BC%D1%8B"
     "%20%20%D7%97%D7%9F%20.txt", 200),
    ("not%20found", 404),
    ("b/c", 404),
    ("", 200),
    ("b/", 404),
    ("b/c/", 404),
    ("soap", 404),
    ("b//c", 404),
    ("statichost/", 200),
    ("nonexistdir/noindexdir/", 404),
    ("nonexistdir/noindexdir", 404),
    ("statichost/noindexdir/multipledir/", 200),
    ("nonexistdir/", 404),
    ("nonexistdir", 404),
    ("statichost", 200),
    ("statichost/noindexdir/multipledir", 200),
]

GET_BODY = [
    ("a.txt", "a.txt"),
    ("a/abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.txt",
     "a/abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.txt"),
    ("a.txt?some=param&that=should&be=stripped", "a.txt"),
    ("b/c/d.txt", "b/c/d.txt"),
    ("b/c/%3D", "b/c/="),
    ("b/c/=", "b/c/="),
    ("b/c/%27%281%29.txt", "b/c/'(1).txt"),
    ("b/c/'(1).txt", "b/c/'(1).txt"),
    ("b/e.txt", "b/e.txt"),
    ("a/plus%2Bplus.txt", "a/plus+plus.txt"),
    ("a/c/%E3%81%82", "a/c/あ"),
    ("b/%E3%83%96%E3%83%84%E3%83%96%E3%83%84.txt", "b/ブツブツ.txt"),
    ("b/%E3%82%AF%E3%82%BA%E7%AE%B1/%E3%82%B4%E3%83%9F.txt", "b/クズ箱/ゴミ.txt"),
    ("%D1%81%D0%B8%D1%81%D1%82%D0%B5%D0%BC%D1%8B/system.txt", "системы/system.txt"),
    ("%D1%81%D0%B8%D1%81%D1%82%D0%B5%D0%BC%D1%8B/%25bad%25file%25name%25", "системы/%bad%file%name%"),
    ("a/%25%40%21%2A%28%29%3D%24%23%5E%26%7C.txt", "a/%@!*()=$#^&|.txt"),
    ("a/%E3%81%93%E3%82%8C%E3%81%AF%E3%80%80This%20is%20ASCII%20%D1%81%D0%B8%D1%81%D1%82%D0%B5%D0%BC%D1%8B"
     "%20%20%D7%97%D7%9F%20.txt", "a/これは　This is ASCII системы  חן .txt"),
    ("statichost/", "statichost/index.html"),
    ("statichost/noindexdir/multipledir/", "statichost/noindexdir/multipledir/index.html"),
    ("statichost", "statichost/index.html"),
    ("statichost/noindexdir/multipledir", "statichost/noindexdir/multipledir/index.html"),
    ("", "index.html"),
]


@pytest.fixture(scope="module")
def gateway_bucket(server_s3):
    """The suite's bucket, without a portal index."""
    server_s3.create_bucket(Bucket=BUCKET)
    for key, body in OBJECTS.items():
        server_s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    yield BUCKET
    for key in OBJECTS:
        server_s3.delete_object(Bucket=BUCKET, Key=key)
    server_s3.delete_bucket(Bucket=BUCKET)


@pytest.fixture
def gateway(gateway_bucket, gunicorn_factory):
    """docs-proxy serving the suite's bucket, every optional feature at its default."""
    return gunicorn_factory(gateway_bucket, {"WEB_CONCURRENCY": "1"})


def follow(server, method, path, hops=5):
    """Request ``/docs/<path>`` as curl -L does; return the final status and body, and every status met."""
    # Only non-ASCII letters are encoded: every ASCII character goes exactly as the suite wrote it.
    target = quote(f"/docs/{path}", safe="".join(chr(code) for code in range(33, 127)))
    statuses = []
    for _ in range(hops):
        status, headers, body = raw_request(server, target, method=method)
        statuses.append(status)
        if status not in (301, 302, 307, 308):
            return status, body, statuses
        resolved = urlsplit(urljoin(f"http://docs{target}", headers["Location"]))
        target = resolved.path + (f"?{resolved.query}" if resolved.query else "")
    raise AssertionError(f"more than {hops} redirects: {statuses}")


def test_every_head_of_the_gateway_suite_answers_as_s3_website_hosting(gateway):
    # One server for the whole table: a gunicorn per row would cost a second each.
    wrong = {}
    for path, expected in HEAD_STATUS:
        status, _, statuses = follow(gateway, "HEAD", path)
        if status != expected or 302 in statuses:
            wrong[path] = statuses
    assert wrong == {}


def test_every_get_of_the_gateway_suite_returns_the_stored_bytes(gateway):
    wrong = {}
    for path, key in GET_BODY:
        status, body, statuses = follow(gateway, "GET", path)
        if (status, body) != (200, OBJECTS[key]):
            wrong[path] = (statuses, body[:80])
    assert wrong == {}


@pytest.mark.parametrize("path", ["b/", "b", "a/", "a/c/", "", "системы/"])
def test_a_folder_without_an_index_page_is_never_redirected_into_a_guessed_version(gateway, server_s3, path):
    # Without a root index.html too: the portal's landing page needs projects, which need an index.
    server_s3.delete_object(Bucket=BUCKET, Key="index.html")
    try:
        status, _, body = raw_request(gateway, quote(f"/docs/{path}"))
    finally:
        server_s3.put_object(Bucket=BUCKET, Key="index.html", Body=OBJECTS["index.html"])
    assert status == 404
    assert b"<Code>NoSuchKey</Code>" in body


def test_a_raw_utf8_request_line_is_refused_by_gunicorn_before_the_app(gateway):
    # The one row of the suite that cannot pass as curl sends it (see the module's docstring).
    status, _, body = raw_request(gateway, "/docs/a/c/あ")
    assert status == 400 and b"Invalid HTTP request line" in body
