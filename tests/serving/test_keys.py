"""Path-to-key policy, tested from tables without Flask."""

import pytest

from app.serving.keys import (
    BadPath,
    collapse_slashes,
    directory_location,
    folded_location,
    has_empty_segment,
    key_for_path,
)


@pytest.mark.parametrize(
    "path, prefix, expected",
    [
        ("", "", "index.html"),
        ("", "site/", "site/index.html"),
        ("guide/", "", "guide/index.html"),
        ("guide/install.html", "", "guide/install.html"),
        ("guide/install.html", "site/1.0/", "site/1.0/guide/install.html"),
        ("guide", "", "guide"),
        ("a b/c+d.html", "", "a b/c+d.html"),
        ("日本語/ページ.html", "", "日本語/ページ.html"),
        ("%2e%2e", "", "%2e%2e"),  # still encoded after one decoding: a literal key, not a traversal
        ("..data", "", "..data"),
        ("a.../", "", "a.../index.html"),
        (".docs/x.html", "", ".docs/x.html"),  # only names starting with '.docs-' are docs-proxy's own
        ("a/docs-publish.json", "", "a/docs-publish.json"),
    ],
)
def test_path_maps_to_key(path, prefix, expected):
    assert key_for_path(path, prefix) == expected


def test_custom_index_document_is_appended_to_directories():
    assert key_for_path("api/", "", "default.htm") == "api/default.htm"


@pytest.mark.parametrize(
    "path, reason",
    [
        ("..", "'.' and '..'"),
        ("../secret", "'.' and '..'"),
        ("a/../../b", "'.' and '..'"),
        ("a/./b", "'.' and '..'"),
        ("a/..", "'.' and '..'"),
        (".", "'.' and '..'"),
        ("a\\b", "backslashes"),
        ("..\\b", "backslashes"),
        ("a\x00b", "control characters"),
        ("a\nb", "control characters"),
        ("a\rb", "control characters"),
        ("a\x7fb", "control characters"),
        ("a\x85b", "control characters"),
        ("/etc/passwd", "must not start with '/'"),
    ],
)
def test_unsafe_paths_are_refused_with_400(path, reason):
    with pytest.raises(BadPath) as raised:
        key_for_path(path)
    assert raised.value.status == 400
    assert reason in raised.value.reason


def test_key_over_1024_bytes_is_refused_with_414():
    with pytest.raises(BadPath) as raised:
        key_for_path("é" * 513)  # 1026 bytes in UTF-8
    assert raised.value.status == 414


def test_key_of_exactly_1024_bytes_is_accepted():
    assert key_for_path("a" * 1024) == "a" * 1024


def test_index_document_counts_toward_the_key_limit():
    with pytest.raises(BadPath):
        key_for_path("a" * 1019 + "/")


@pytest.mark.parametrize(
    "path, query, expected",
    [
        ("guide", "", "./guide/"),
        ("a/b/guide", "", "./guide/"),
        ("guide", "v=1&x=2", "./guide/?v=1&x=2"),
        ("a b", "", "./a%20b/"),
        ("c+d", "", "./c%2Bd/"),
        ("ページ", "", "./%E3%83%9A%E3%83%BC%E3%82%B8/"),
        ("javascript:alert(1)", "", "./javascript%3Aalert%281%29/"),
        ("guide", "a=1\r\nSet-Cookie: x", "./guide/?a=1%0D%0ASet-Cookie:%20x"),
    ],
)
def test_directory_location_is_relative_and_adds_the_slash(path, query, expected):
    assert directory_location(path, query) == expected


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/evil.example", "evil.example"),
        ("//evil.example/x", "evil.example/x"),
        ("a//b", "a/b"),
        ("a//", "a/"),
        ("//", ""),
    ],
)
def test_collapse_slashes_never_leaves_a_leading_slash(path, expected):
    assert collapse_slashes(path) == expected


@pytest.mark.parametrize(
    "path, expected",
    [("/evil.example", True), ("a//b", True), ("a/b//", True), ("", False), ("a/b/", False), ("a/b.html", False)],
)
def test_empty_segments_include_a_leading_slash_below_docs(path, expected):
    assert has_empty_segment(path) is expected


def resolve(base_path, reference):
    """Resolve a relative path reference as RFC 3986 5.2 and browsers do, keeping empty segments.

    (Python's ``urljoin`` drops empty segments from the base first, which no browser does.)
    """
    reference, _, query = reference.partition("?")
    segments = base_path.split("/")[:-1]
    for segment in reference.split("/"):
        if segment == "..":
            if len(segments) > 1:
                segments.pop()
        elif segment != ".":
            segments.append(segment)
    return "/".join(segments) + ("?" + query if query else "")


@pytest.mark.parametrize("mount", ["", "/intranet", "/a/b"])
@pytest.mark.parametrize(
    "path, query, directory, target",
    [
        ("/evil.example", "", False, "/docs/evil.example"),
        ("//evil.example/", "", False, "/docs/evil.example/"),
        ("a//b", "", False, "/docs/a/b"),
        ("a//b", "", True, "/docs/a/b/"),
        ("a/b//", "", True, "/docs/a/b/"),
        ("//", "", True, "/docs/"),
        ("/x", "q=1", False, "/docs/x?q=1"),
        ("/c d:e", "", False, "/docs/c%20d%3Ae"),
    ],
)
def test_folded_location_resolves_below_the_mount_point_of_the_request(mount, path, query, directory, target):
    location = folded_location(path, query, directory)
    assert location.startswith("../")
    assert resolve(f"{mount}/docs/{path}", location) == f"{mount}{target}"


@pytest.mark.parametrize(
    "path",
    [".docs-portal.json", "p/.docs-project.json", "p/1.0/.docs-publish.json", "p/1.0/.docs-search.json",
     ".docs-anything/index.html", "p/.docs-x/"],
)
def test_docs_proxys_own_records_are_refused_as_not_found(path):
    with pytest.raises(BadPath) as refused:
        key_for_path(path)
    assert refused.value.status == 404
    assert "own records" in refused.value.reason
