"""The website features' pure policies, from tables: redirect locations, error-document candidates, listings."""

from datetime import datetime, timezone

import pytest

import config
from app.settings import app_settings
from app.publishing.redirects import RedirectsError, parse_redirects
from app.website.errordocs import LookupCache, candidate_paths, wants_html
from app.website.listing import Entry, breadcrumbs, human_size, is_listed, sort_entries
from app.website.presign import presign_params, wants_presign
from app.serving.redirects import BadRedirect, redirect_location


@pytest.mark.parametrize(
    "value, location",
    [
        ("/guide/new.html", "/docs/guide/new.html"),
        ("/", "/docs/"),
        ("/a/b.html?x=1#top", "/docs/a/b.html?x=1#top"),
        ("/caf\u00e9.html", "/docs/caf%C3%A9.html"),
        ("/already%20encoded.html", "/docs/already%20encoded.html"),
        ("https://example.org/x", "https://example.org/x"),
        ("HTTP://Example.org:8080/x?y=1", "HTTP://Example.org:8080/x?y=1"),
        ("/x%0D%0ASet-Cookie:%20a=b", "/docs/x%0D%0ASet-Cookie:%20a=b"),
    ],
)
def test_safe_redirect_locations_become_a_location(value, location):
    assert redirect_location(value, "/docs") == location


@pytest.mark.parametrize(
    "value",
    [
        "",
        "//evil.example/",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "data:text/html,<script>",
        "ftp://example.org/x",
        "https:evil.example",
        "https://",
        "http://:80/",
        "http://example.org:99999/",
        "guide/new.html",
        "/x\r\nSet-Cookie: a=b",
        "/x\nLocation: https://evil.example",
        "https://example.org/\x00",
        "/a b.html",
        "/../etc/passwd",
        "/a/./b",
        "/x\u2028y",
    ],
)
def test_unsafe_redirect_locations_are_refused(value):
    with pytest.raises(BadRedirect):
        redirect_location(value, "/docs")


def test_site_paths_are_placed_below_the_mount_point():
    assert redirect_location("/new.html", "/mounted/docs") == "/mounted/docs/new.html"


@pytest.mark.parametrize(
    "path, candidates",
    [
        ("", ["404.html"]),
        ("page.html", ["404.html"]),
        ("a/", ["a/404.html", "404.html"]),
        ("a/b/c.html", ["a/b/404.html", "a/404.html", "404.html"]),
        ("a/b/c/", ["a/b/c/404.html", "a/b/404.html", "a/404.html", "404.html"]),
    ],
)
def test_error_document_candidates_go_up_to_the_docs_root(path, candidates):
    assert candidate_paths(path, "404.html") == candidates


@pytest.mark.parametrize(
    "path, depth, candidates",
    [
        ("a/b/c/d.html", 2, ["a/b/404.html", "a/404.html", "404.html"]),
        ("a/b/c/d.html", 0, ["404.html"]),
        ("a/b.html", 8, ["a/404.html", "404.html"]),
        ("d/" * 480 + "x.html", 3, ["d/d/d/404.html", "d/d/404.html", "d/404.html", "404.html"]),
    ],
)
def test_error_document_candidates_stop_at_the_depth_bound_nearest_the_root(path, depth, candidates):
    assert candidate_paths(path, "404.html", depth) == candidates


@pytest.mark.parametrize(
    "accept, html",
    [
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),
        ("TEXT/HTML", True),
        ("application/json, text/html;q=0.5", True),
        ("text/html;q=0", False),
        ("text/html;q=oops", False),
        ("*/*", False),
        ("application/json", False),
        ("", False),
    ],
)
def test_error_documents_go_to_clients_that_accept_html(accept, html):
    assert wants_html(accept) is html


def test_lookup_cache_forgets_after_its_ttl():
    now = [100.0]
    cache = LookupCache(ttl=5, clock=lambda: now[0])
    cache.put("a/", "a/404.html")
    cache.put("b/", None)
    assert cache.get("a/") == (True, "a/404.html")
    assert cache.get("b/") == (True, None)
    now[0] = 106.0
    assert cache.get("a/") == (False, None)


def test_lookup_cache_with_zero_ttl_keeps_nothing():
    cache = LookupCache(ttl=0)
    cache.put("a/", "a/404.html")
    assert cache.get("a/") == (False, None)


@pytest.mark.parametrize(
    "path, prefixes, listed",
    [
        ("artifacts/", ("artifacts/",), True),
        ("artifacts/nightly/", ("artifacts/",), True),
        ("artifacts-old/", ("artifacts/",), False),
        ("", ("artifacts/",), False),
        ("", ("*",), True),
        ("anything/", ("*",), True),
        ("docs/", (), False),
    ],
)
def test_listing_prefixes_decide_which_folders_are_listed(path, prefixes, listed):
    assert is_listed(path, prefixes) is listed


@pytest.mark.parametrize(
    "raw, parsed",
    [
        ("artifacts/", ("artifacts/",)),
        (" artifacts , /nightly/builds ,*,", ("artifacts/", "nightly/builds/", "*")),
        ("a/,a/", ("a/",)),
        ("", ()),
    ],
)
def test_listing_prefixes_setting_is_normalised(raw, parsed):
    assert config.folders("DOCS_LISTING_PREFIXES", raw) == parsed


@pytest.mark.parametrize(
    "name, raw, message",
    [
        ("DOCS_LISTING_PREFIXES", "a/../b/", "DOCS_LISTING_PREFIXES entry 'a/../b/' is not a document path"),
        ("DOCS_LISTING_PREFIXES", "art*/", "is not a document path"),
        ("DOCS_PRESIGN_ABOVE", "big", "DOCS_PRESIGN_ABOVE='big' is not a size"),
        ("DOCS_PRESIGN_ABOVE", "10 parsecs", "is not a size"),
        ("DOCS_PRESIGN_ABOVE", "0", "at least 1 byte"),
        ("DOCS_PRESIGN_EXPIRES", "0", "out of range"),
        ("DOCS_PRESIGN_EXPIRES", "604801", "out of range"),
        ("DOCS_ERROR_DOCUMENT", "errors/404.html", "must be a file name without '/'"),
        ("DOCS_ERROR_DOCUMENT_TTL", "-1", "out of range"),
        ("S3_PUBLIC_ENDPOINT_URL", "s3.example.internal", "must be an http:// or https:// URL"),
    ],
)
def test_bad_website_settings_stop_start_up_naming_the_variable(name, raw, message):
    with pytest.raises(config.ConfigError, match=message.replace("*", r"\*").replace("(", r"\(").replace(")", r"\)")):
        config.from_environ({name: raw}, app_settings())


@pytest.mark.parametrize(
    "raw, size",
    [("1048576", 1048576), ("100MiB", 100 * 1024**2), ("2GB", 2 * 1000**3), ("1.5 GiB", int(1.5 * 1024**3)), ("512k", 512_000)],
)
def test_presign_threshold_takes_human_sizes(raw, size):
    assert config.from_environ({"DOCS_PRESIGN_ABOVE": raw}, app_settings())["DOCS_PRESIGN_ABOVE"] == size


@pytest.mark.parametrize(
    "size, text",
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"), (5 * 1024**2, "5.0 MiB"),
     (3 * 1024**3, "3.0 GiB"), (2 * 1024**4, "2.0 TiB"), (None, "")],
)
def test_sizes_are_shown_in_human_units(size, text):
    assert human_size(size) == text


@pytest.mark.parametrize(
    "path, crumbs",
    [
        ("", [("docs", "./")]),
        ("a/", [("docs", "../"), ("a", "./")]),
        ("a/b c/", [("docs", "../../"), ("a", "../"), ("b c", "./")]),
    ],
)
def test_breadcrumbs_link_each_level_relatively(path, crumbs):
    assert breadcrumbs(path) == crumbs


def test_entries_sort_with_folders_first():
    old, new = datetime(2024, 1, 1, tzinfo=timezone.utc), datetime(2025, 1, 1, tzinfo=timezone.utc)
    entries = [Entry("b.txt", 5, new), Entry("z/"), Entry("a.txt", 9, old), Entry("c/")]

    assert [e.name for e in sort_entries(entries)] == ["c/", "z/", "a.txt", "b.txt"]
    assert [e.name for e in sort_entries(entries, "name", "desc")] == ["z/", "c/", "b.txt", "a.txt"]
    assert [e.name for e in sort_entries(entries, "size")] == ["c/", "z/", "b.txt", "a.txt"]
    assert [e.name for e in sort_entries(entries, "date", "desc")] == ["c/", "z/", "b.txt", "a.txt"]


@pytest.mark.parametrize(
    "name, href",
    [("a b.txt", "./a%20b.txt"), ("sub/", "./sub/"), ("a:b", "./a%3Ab"), ("<x>", "./%3Cx%3E"), ("#1?", "./%231%3F")],
)
def test_entry_links_are_relative_and_quoted(name, href):
    assert Entry(name).href == href


@pytest.mark.parametrize(
    "method, headers, size, presign",
    [
        ("GET", {}, 100, True),
        ("GET", {}, 99, False),
        ("HEAD", {}, 100, False),
        ("GET", {"Range": "bytes=0-1"}, 100, False),
        ("GET", {}, None, False),
    ],
)
def test_only_whole_gets_of_big_objects_are_presigned(method, headers, size, presign):
    assert wants_presign(method, headers, size, 100) is presign


def test_presign_keeps_content_disposition():
    head = {"ContentDisposition": 'attachment; filename="a.bin"'}
    assert presign_params("b", "k", head) == {"Bucket": "b", "Key": "k", "ResponseContentDisposition": head["ContentDisposition"]}
    assert presign_params("b", "k", {}) == {"Bucket": "b", "Key": "k"}


# _redirects

def test_redirects_file_lines_become_redirect_objects():
    text = """
    # renamed pages
    /old.html        /new.html
    /guide/          /handbook/           301
    /gone.html       https://example.org/gone   301!
    """
    redirects = parse_redirects(text, site_path="platform/2.4/", files={"new.html"})

    assert [(r.line, r.relkey, r.location) for r in redirects] == [
        (3, "old.html", "/platform/2.4/new.html"),
        (4, "guide/index.html", "/platform/2.4/handbook/"),
        (5, "gone.html", "https://example.org/gone"),
    ]


@pytest.mark.parametrize(
    "line, reason",
    [
        ("/only-one-field", "expected 'old new [status]'"),
        ("/a /b 301 extra", "expected 'old new [status]'"),
        ("/a /b 302", "status '302' is not supported"),
        ("/a /b 200", "status '200' is not supported"),
        ("old.html /b", "must start with '/'"),
        ("/blog/* /news/:splat", "wildcard or placeholder"),
        ("/a?x=1 /b", "query, fragment, wildcard"),
        ("/a/../b /c", "'.', '..' or empty segments"),
        ("/a //evil.example", "starts with '//'"),
        ("/a javascript:alert(1)", "neither a path starting with '/' nor an http(s) URL"),
        ("/a /../../x", "'.' or '..' segments"),
        ("/index.html /b", "is also a file of the site"),
        ("/ /b", "is also a file of the site"),
    ],
)
def test_bad_redirect_lines_are_refused_naming_the_line(line, reason):
    text = "# header\n/fine /ok\n" + line + "\n"

    with pytest.raises(RedirectsError) as raised:
        parse_redirects(text, files={"index.html"})

    assert str(raised.value).startswith("_redirects line 3: ")
    assert reason in str(raised.value)


def test_a_path_redirected_twice_is_refused_naming_both_lines():
    with pytest.raises(RedirectsError, match="line 2: /a is already redirected on line 1"):
        parse_redirects("/a /b\n/a /c\n")
