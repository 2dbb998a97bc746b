"""Website features over real HTTP: gunicorn serving the app against moto's S3 server."""

import hashlib
import re
import uuid
from html.parser import HTMLParser
from urllib.parse import parse_qs, unquote, urljoin, urlsplit

import pytest
import requests

from tests.ops.conftest import parse_metrics
from tests.servers import raw_request

from tests.website.conftest import (
    ARTIFACTS, BIG, GUIDE_404, PREFIX, REDIRECT_OBJECTS, ROOT_404, WEIRD_NAMES,
)

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
TIMEOUT = 30


def get(server, path, method="GET", **kwargs):
    """Send one request to the server without following redirects."""
    return requests.request(method, server.url + path, allow_redirects=False, timeout=TIMEOUT, **kwargs)


class Links(HTMLParser):
    """Collect the rows of a listing page: each entry's link and shown name."""

    def __init__(self):
        super().__init__()
        self.rows, self._href, self._text, self.scripts = [], None, [], 0

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts += 1
        if tag == "a":
            self._href, self._text = dict(attrs).get("href"), []

    def handle_data(self, data):
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self.rows.append((self._href, "".join(self._text).strip()))
            self._href = None


def parse_listing(body):
    """Return the parsed links of a listing page."""
    parser = Links()
    parser.feed(body)
    return parser


# Error documents

@pytest.mark.parametrize(
    "path, body",
    [
        ("/docs/guide/missing.html", GUIDE_404),
        ("/docs/guide/deeper/still/missing.html", GUIDE_404),
        ("/docs/guide/deeper/", GUIDE_404),
        ("/docs/missing.html", ROOT_404),
        ("/docs/other/missing/", ROOT_404),
    ],
)
def test_missing_page_shows_the_nearest_error_document_with_404(website_server, path, body):
    response = get(website_server, path, headers=HTML)

    assert response.status_code == 404
    assert response.content == body
    assert response.headers["Content-Type"].startswith("text/html")
    assert "ETag" not in response.headers


def test_error_document_is_never_taken_from_above_the_prefix(site_bucket, server_s3, moto_app):
    folder = f"noerr-{uuid.uuid4().hex[:8]}/"
    server_s3.put_object(Bucket=site_bucket, Key=folder + "404.html", Body=b"above the prefix")
    client = moto_app(S3_PREFIX=folder + "inner/", DOCS_ERROR_DOCUMENT="404.html").test_client()

    response = client.get("/docs/missing.html", headers=HTML)

    assert response.status_code == 404
    assert b"above the prefix" not in response.data
    assert b"Page not found" in response.data  # the missing page for people (app/website/notfound.py)


def test_head_of_missing_page_has_error_headers_and_no_body(website_server):
    response = get(website_server, "/docs/guide/missing.html", method="HEAD", headers=HTML)

    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["Content-Length"] == str(len(GUIDE_404))
    assert response.content == b""


@pytest.mark.parametrize("accept", [None, "application/json", "*/*", "text/html;q=0"])
def test_non_html_clients_keep_s3s_xml_error(website_server, accept):
    headers = {"Accept": accept} if accept else {}

    response = get(website_server, "/docs/guide/missing.html", headers=headers)

    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/xml"
    assert b"<Code>NoSuchKey</Code>" in response.content


def test_without_error_document_option_html_clients_get_the_missing_page_and_others_s3s_error(plain_server):
    response = get(plain_server, "/docs/guide/missing.html", headers=HTML)

    assert response.status_code == 404
    assert b"Page not found" in response.content and GUIDE_404 not in response.content
    assert b"<Code>NoSuchKey</Code>" in get(plain_server, "/docs/guide/missing.html").content


def test_error_document_lookup_is_cached_for_its_ttl(put, moto_app):
    folder = f"cached-{uuid.uuid4().hex[:8]}/"
    cached = moto_app(DOCS_ERROR_DOCUMENT="404.html", DOCS_ERROR_DOCUMENT_TTL=60).test_client()
    uncached = moto_app(DOCS_ERROR_DOCUMENT="404.html", DOCS_ERROR_DOCUMENT_TTL=0).test_client()
    assert cached.get(f"/docs/{folder}missing.html", headers=HTML).data == ROOT_404
    assert uncached.get(f"/docs/{folder}missing.html", headers=HTML).data == ROOT_404

    put(folder + "404.html", b"nearer", ContentType="text/html")

    assert cached.get(f"/docs/{folder}missing.html", headers=HTML).data == ROOT_404
    assert uncached.get(f"/docs/{folder}missing.html", headers=HTML).data == b"nearer"


def test_cached_error_document_that_disappears_is_looked_up_again(site_bucket, server_s3, put, moto_app):
    folder = f"gone-{uuid.uuid4().hex[:8]}/"
    put(folder + "404.html", b"soon gone", ContentType="text/html")
    client = moto_app(DOCS_ERROR_DOCUMENT="404.html", DOCS_ERROR_DOCUMENT_TTL=60).test_client()
    assert client.get(f"/docs/{folder}x.html", headers=HTML).data == b"soon gone"

    server_s3.delete_object(Bucket=site_bucket, Key=PREFIX + folder + "404.html")

    response = client.get(f"/docs/{folder}x.html", headers=HTML)
    assert (response.status_code, response.data) == (404, ROOT_404)


def s3_calls(server):
    """Return how many S3 calls the server has counted (its /_/metrics), every operation and outcome."""
    status, _, body = raw_request(server, "/_/metrics")
    assert status == 200
    return sum(value for (name, _), value in parse_metrics(body.decode()).items() if name == "docs_proxy_s3_requests_total")


# With the budget spent before any error document, a browser gets the missing page for people (notfound.py).
@pytest.mark.parametrize("depth, budget, body", [("8", "12", ROOT_404), ("64", "4", b"Page not found")])
def test_a_deep_missing_path_costs_a_bounded_number_of_s3_calls(gunicorn_factory, site_bucket, depth, budget, body):
    server = gunicorn_factory(site_bucket, env={
        "S3_PREFIX": PREFIX, "DOCS_ERROR_DOCUMENT": "404.html", "WEB_CONCURRENCY": "1", "DOCS_CACHE": "off",
        "DOCS_ERROR_DOCUMENT_DEPTH": depth, "DOCS_FALLBACK_S3_CALLS": budget,
    })
    assert get(server, "/docs/warm/missing.html", headers=HTML).status_code == 404  # the portal's catalog, once
    before = s3_calls(server)

    response = get(server, "/docs/" + "d/" * 480 + "missing.html", headers=HTML)

    assert response.status_code == 404 and body in response.content
    # The page's own GET, then at most the budget: not one call per level (486 before).
    assert s3_calls(server) - before <= 1 + int(budget)


# Redirect objects

@pytest.mark.parametrize("key", sorted(REDIRECT_OBJECTS))
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_redirect_objects_answer_301_only_to_safe_locations(website_server, key, method):
    location, expected = REDIRECT_OBJECTS[key]

    response = get(website_server, "/docs/" + key, method=method)

    if expected is None:
        assert response.status_code == 200
        assert "Location" not in response.headers
        if method == "GET":
            assert response.content == b"body of " + key.encode()
        assert "ignoring the website redirect location" in website_server.log()
    else:
        assert response.status_code == 301
        assert response.headers["Location"] == expected
        assert "Set-Cookie" not in response.headers
        assert response.content == b""


def test_relative_redirect_object_leads_to_the_new_page(website_server):
    response = requests.get(website_server.url + "/docs/moved/relative.html", timeout=TIMEOUT)

    assert response.status_code == 200
    assert response.url == website_server.url + "/docs/guide/new.html"
    assert b"<title>New</title>" in response.content


# Listings

def test_listing_of_2500_keys_shows_every_one_in_order(website_server):
    response = get(website_server, "/docs/artifacts/", headers=HTML)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    names = [name for href, name in parse_listing(response.text).rows if href.startswith("./build-")]
    assert names == [f"build-{n:04d}.tar.gz" for n in range(ARTIFACTS)]
    assert "artifacts-elsewhere" not in response.text
    assert 'rel="next"' not in response.text


def test_listing_pages_link_to_the_next_until_every_key_was_shown(moto_app):
    client = moto_app(DOCS_LISTING_PREFIXES="artifacts/", DOCS_LISTING_PAGE_SIZE=1000).test_client()
    url, seen, pages = "/docs/artifacts/", [], 0
    while url and pages < 10:
        page = client.get(url, headers={"Accept": "application/json"}).get_json()
        seen += [entry["name"] for entry in page["entries"]]
        url = urljoin("/docs/artifacts/", page["next"]) if page["next"] else None
        pages += 1

    assert pages == 3
    assert seen == [f"build-{n:04d}.tar.gz" for n in range(ARTIFACTS)]


def test_listing_escapes_names_and_its_links_download_them(website_server):
    response = get(website_server, "/docs/weird/", headers=HTML)

    page = parse_listing(response.text)
    assert page.scripts == 0
    assert "<script>alert(1)" not in response.text and "<img" not in response.text
    rows = dict((name, href) for href, name in page.rows)
    assert set(WEIRD_NAMES) | {"sub/"} <= set(rows)
    for name in WEIRD_NAMES:
        download = requests.get(urljoin(website_server.url + "/docs/weird/", rows[name]), timeout=TIMEOUT)
        assert (download.status_code, download.content) == (200, name.encode())


def test_listing_shows_nothing_outside_its_folder(website_server):
    listing = get(website_server, "/docs/weird/", headers={"Accept": "application/json"}).json()

    names = {entry["name"] for entry in listing["entries"]}
    assert names == set(WEIRD_NAMES) | {"sub/"}


def test_listing_json_shape(website_server):
    response = get(website_server, "/docs/weird/", headers={"Accept": "application/json"})

    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Vary"] == "Accept"
    body = response.json()
    assert body["path"] == "weird/" and body["next"] is None
    folder, *files = body["entries"]
    assert folder == {"name": "sub/", "type": "folder", "size": None, "last_modified": None, "href": "./sub/"}
    space = next(entry for entry in files if entry["name"] == "with space.txt")
    assert space["type"] == "file" and space["size"] == len(b"with space.txt")
    assert space["href"] == "./with%20space.txt"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00", space["last_modified"])


@pytest.mark.parametrize(
    "query, first",
    [("", "\"><img src=x onerror=alert(2)>.txt"), ("?sort=name&order=desc", "with space.txt"), ("?sort=size&order=desc", "\"><img src=x onerror=alert(2)>.txt"),
     ("?sort=size", "a:b.txt")],
)
def test_listing_sorts_files_by_name_size_and_date_with_folders_first(website_server, query, first):
    body = get(website_server, "/docs/weird/" + query, headers={"Accept": "application/json"}).json()

    names = [entry["name"] for entry in body["entries"]]
    assert names[0] == "sub/"
    assert names[1] == first


def test_listing_sorts_by_date_newest_first(website_server):
    body = get(website_server, "/docs/weird/?sort=date&order=desc", headers={"Accept": "application/json"}).json()

    files = [entry for entry in body["entries"] if entry["type"] == "file"]
    assert files == sorted(files, key=lambda entry: (entry["last_modified"], entry["name"]), reverse=True)


def test_listing_has_breadcrumbs_parent_link_and_sort_links(website_server):
    page = parse_listing(get(website_server, "/docs/weird/sub/", headers=HTML).text)

    links = dict((name, href) for href, name in page.rows)
    assert links["docs"] == "../../" and links["weird"] == "../"
    assert links["Parent folder"] == "../"
    assert links["deep.txt"] == "./deep.txt"
    assert parse_qs(urlsplit(links["Size"]).query) == {"sort": ["size"], "order": ["asc"]}


def test_bad_sort_is_a_400_with_a_reason(website_server):
    response = get(website_server, "/docs/weird/?sort=owner")

    assert response.status_code == 400
    assert "sort must be one of name, size, date" in response.text


def test_listed_folder_without_slash_redirects_and_unlisted_folder_stays_404(website_server):
    assert get(website_server, "/docs/weird").headers["Location"] == "./weird/"
    assert get(website_server, "/docs/downloads/", headers={"Accept": "application/json"}).status_code == 404


def test_listing_head_has_headers_and_no_body(website_server):
    response = get(website_server, "/docs/weird/", method="HEAD", headers=HTML)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.content == b""


def test_without_listing_option_folder_without_index_is_s3s_404(plain_server):
    response = get(plain_server, "/docs/artifacts/")

    assert response.status_code == 404
    assert b"<Code>NoSuchKey</Code>" in response.content
    assert b"build-0001" not in get(plain_server, "/docs/artifacts/", headers=HTML).content


def test_listing_leaves_out_entries_the_reader_may_not_read(moto_app, monkeypatch):
    from app.website import listing

    monkeypatch.setattr(listing, "may_read", lambda path: "<script>" not in path)
    client = moto_app(DOCS_LISTING_PREFIXES="weird/").test_client()

    names = {entry["name"] for entry in client.get("/docs/weird/", headers={"Accept": "application/json"}).get_json()["entries"]}

    assert names == set(WEIRD_NAMES) - {"<script>alert(1).txt"} | {"sub/"}


# Presigned downloads

def test_big_object_redirects_to_a_presigned_url_that_downloads_the_exact_bytes(website_server):
    response = get(website_server, "/docs/downloads/big.bin")

    assert response.status_code == 302
    assert response.headers["Cache-Control"] == "no-store"
    location = response.headers["Location"]
    query = parse_qs(urlsplit(location).query)
    assert query["X-Amz-Expires"] == ["120"]
    assert query["response-content-disposition"] == ['attachment; filename="big.bin"']
    download = requests.get(location, timeout=TIMEOUT)
    assert download.status_code == 200
    assert hashlib.sha256(download.content).digest() == hashlib.sha256(BIG).digest()
    assert download.headers["Content-Disposition"] == 'attachment; filename="big.bin"'


@pytest.mark.parametrize(
    "path, method, headers, status",
    [
        ("/docs/downloads/small.bin", "GET", {}, 200),
        ("/docs/downloads/big.bin", "HEAD", {}, 200),
        ("/docs/downloads/big.bin", "GET", {"Range": "bytes=10-19"}, 206),
    ],
)
def test_small_objects_head_and_ranges_stream_as_before(website_server, path, method, headers, status):
    response = get(website_server, path, method=method, headers=headers)

    assert response.status_code == status
    assert "Location" not in response.headers
    if status == 206:
        assert response.content == BIG[10:20]


def test_without_presign_option_big_objects_stream(plain_server):
    response = get(plain_server, "/docs/downloads/big.bin")

    assert response.status_code == 200
    assert response.content == BIG


def test_presigned_url_names_the_public_endpoint_and_expires_as_configured(moto_app):
    app = moto_app(DOCS_PRESIGN_ABOVE=1024, DOCS_PRESIGN_EXPIRES=30, S3_PUBLIC_ENDPOINT_URL="https://s3.example.internal")

    response = app.test_client().get("/docs/downloads/big.bin")

    location = urlsplit(response.headers["Location"])
    assert (location.scheme, location.netloc) == ("https", "s3.example.internal")
    assert unquote(location.path).endswith(PREFIX + "downloads/big.bin")
    query = parse_qs(location.query)
    assert query["X-Amz-Expires"] == ["30"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    # moto does not enforce expiry, so check what S3 does: the expiry is signed, and altering it breaks the URL.
    assert signature_for(location, expires=30) == query["X-Amz-Signature"][0]
    assert signature_for(location, expires=3600) != query["X-Amz-Signature"][0]


def signature_for(location, expires):
    """Return the SigV4 query signature S3 would expect for ``location`` signed with ``expires`` seconds."""
    from botocore.auth import S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    query = parse_qs(location.query)
    unsigned = [(name, value) for name, values in parse_qs(location.query).items() for value in values
                if not name.startswith("X-Amz-")]
    request = AWSRequest(method="GET", url=f"{location.scheme}://{location.netloc}{location.path}",
                         params=dict(unsigned))
    request.context["timestamp"] = query["X-Amz-Date"][0]
    auth = S3SigV4QueryAuth(Credentials("testing", "testing"), "s3", "us-east-1", expires=expires)
    auth.add_auth(request)
    return parse_qs(urlsplit(request.url).query)["X-Amz-Signature"][0]


def test_listings_never_tell_how_many_entries_are_hidden(server_s3, gunicorn_factory, tmp_path):
    import subprocess

    bucket = f"listing-hidden-{uuid.uuid4().hex[:8]}"
    server_s3.create_bucket(Bucket=bucket)
    for key in ("files/a1/x", "files/a2/x", "files/a3/x", "files/b.txt", "files/c.txt", "files/d.txt", "files/e.txt",
                "files/only/h1/x", "files/only/h2/x"):
        server_s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    line = subprocess.run(["htpasswd", "-nbB", "-C", "4", "bob", "builder"], capture_output=True, text=True, check=True).stdout
    (tmp_path / "htpasswd").write_text(line)
    rules = 'default = "public"\n' + "".join(
        f'[[rule]]\npath = "files/{folder}/"\nusers = ["bob"]\n' for folder in ("a1", "a2", "a3", "only/h1", "only/h2"))
    (tmp_path / "rules.toml").write_text(rules)
    server = gunicorn_factory(bucket, env={
        "DOCS_LISTING_PREFIXES": "files/", "DOCS_LISTING_PAGE_SIZE": "3", "DOCS_AUTH": "basic",
        "DOCS_AUTH_HTPASSWD": str(tmp_path / "htpasswd"), "DOCS_ACCESS_RULES": str(tmp_path / "rules.toml"),
        "WEB_CONCURRENCY": "1",
    })
    json_accept = {"Accept": "application/json"}

    first = get(server, "/docs/files/", headers=json_accept).json()
    assert [entry["name"] for entry in first["entries"]] == ["b.txt", "c.txt", "d.txt"]
    second = get(server, "/docs/files/" + first["next"].removeprefix("./"), headers=json_accept).json()
    assert [entry["name"] for entry in second["entries"]] == ["only/", "e.txt"] and second["next"] is None
    # A folder of hidden entries only answers as one that does not exist, with or without its slash.
    for path in ("/docs/files/only/", "/docs/files/only"):
        hidden, missing = get(server, path, headers=json_accept), get(server, path.replace("only", "nope"), headers=json_accept)
        assert (hidden.status_code, hidden.content.replace(b"only", b"nope")) == (missing.status_code, missing.content)
        assert hidden.status_code == 404
    bob = get(server, "/docs/files/", headers=json_accept, auth=("bob", "builder")).json()
    assert [entry["name"] for entry in bob["entries"]] == ["a1/", "a2/", "a3/"]
