"""The pure publish policy, from tables: content types, hashed names, cache headers, prefixes, plans, manifest."""

import pytest

from app.publishing.policy import (
    BadPrefix,
    LocalFile,
    RemoteObject,
    cache_control_for,
    content_type_for,
    is_hashed_name,
    is_page,
    keys_to_check,
    normalise_prefix,
    plan_publish,
)
from app.publishing.manifest import MANIFEST_NAME, apply_manifest, decode_manifest, encode_manifest
from app.publishing.progress import BarProgress, format_seconds
from app.publishing.run import format_bytes
from app.publishing.source import is_hidden

PAGES = "no-cache"
HASHED = "public, max-age=31536000, immutable"


@pytest.mark.parametrize(
    "path, expected",
    [
        ("index.html", "text/html; charset=utf-8"),
        ("api/INDEX.HTM", "text/html; charset=utf-8"),
        ("_static/basic.css", "text/css; charset=utf-8"),
        ("_static/searchtools.js", "text/javascript; charset=utf-8"),
        ("assets/module.mjs", "text/javascript; charset=utf-8"),
        ("data.json", "application/json"),
        ("_static/app.3f2a9c1b.js.map", "application/json"),
        ("_images/diagram.svg", "image/svg+xml"),
        ("fonts/icons.woff", "font/woff"),
        ("fonts/icons.woff2", "font/woff2"),
        ("fonts/icons.ttf", "font/ttf"),
        ("logo.png", "image/png"),
        ("photo.jpg", "image/jpeg"),
        ("photo.JPEG", "image/jpeg"),
        ("anim.gif", "image/gif"),
        ("photo.webp", "image/webp"),
        ("photo.avif", "image/avif"),
        ("favicon.ico", "image/x-icon"),
        ("manual.pdf", "application/pdf"),
        ("robots.txt", "text/plain; charset=utf-8"),
        ("_sources/index.rst.txt", "text/plain; charset=utf-8"),
        ("sitemap.xml", "application/xml"),
        ("module.wasm", "application/wasm"),
        ("downloads/docs.zip", "application/zip"),
        ("downloads/docs.gz", "application/gzip"),
        ("downloads/docs.tar.gz", "application/gzip"),
        ("downloads/docs.tgz", "application/gzip"),
        ("changelog.Debian.gz", "application/gzip"),
        ("icons.svgz", "application/gzip"),
        ("downloads/docs.tar.bz2", "application/x-bzip2"),
        ("objects.inv", "application/octet-stream"),
        ("notes.unknownext", "application/octet-stream"),
        ("README", "application/octet-stream"),
        ("table.csv", "text/csv; charset=utf-8"),
    ],
)
def test_content_type_is_one_browsers_accept(path, expected):
    assert content_type_for(path) == expected


@pytest.mark.parametrize(
    "path",
    [
        "app.3f2a9c1b.js",
        "main-BxK3fA9d.js",
        "assets/index-C_x1b2-Y.js",
        "bundle.5d41402abc4b2a76b971.js",
        "assets/stylesheets/main.8608ea7d.min.css",
        "assets/javascripts/bundle.f1b6f286.min.js",
        "assets/javascripts/workers/search.f8cc74c7.min.js",
        "_next/static/chunks/pages/index-3a8b7c9d1e2f4a5b.js",
        "assets/js/1df93b7f.5b6c7d8e.js",
        "chunk-5XLCG3AB.js",
        "app.3f2a9c1b.js.map",
        "css/main.min.0c1b2a3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9.css",
    ],
)
def test_content_hashed_names_are_recognised(path):
    assert is_hashed_name(path)


@pytest.mark.parametrize(
    "path",
    [
        "_static/documentation_options.js",
        "_static/pygments.css",
        "_static/pygments.css?v=4f649999",
        "_static/jquery-3.6.0.js",
        "_static/underscore-1.13.1.js",
        "_static/sphinx_highlight.js",
        "searchindex.js",
        "v1.2.3",
        "notes/2024-01-01.txt",
        "release-2024.01.01.tar.gz",
        "IMG_20240101_123456.jpg",
        "fonts/fontawesome-webfont.woff2",
        "fonts/Inter-SemiBold.woff2",
        "fonts/Inter-Light300.woff2",
        "fonts/roboto-v30-latin-300italic.woff2",
        "img/logo-1200x630.png",
        "android-chrome-192x192.png",
        "assets/javascripts/lunr/min/lunr.ja.min.js",
        "_downloads/3f2a9c1b3f2a9c1b3f2a9c1b3f2a9c1b/example.py",
        "changelog.3f2a9c1b.html",
        "index.html",
        "3f2a9c1b",
    ],
)
def test_unversioned_names_are_not_taken_for_hashed(path):
    assert not is_hashed_name(path)


@pytest.mark.parametrize(
    "path, expected",
    [
        ("index.html", PAGES),
        ("_static/basic.css", PAGES),
        ("_static/documentation_options.js", PAGES),
        ("assets/main-BxK3fA9d.js", HASHED),
        ("assets/stylesheets/main.8608ea7d.min.css", HASHED),
    ],
)
def test_cache_control_is_immutable_only_for_hashed_names(path, expected):
    assert cache_control_for(path, PAGES, HASHED) == expected


def test_cache_policies_come_from_the_caller():
    assert cache_control_for("a.html", "max-age=60", "max-age=600") == "max-age=60"
    assert cache_control_for("a.3f2a9c1b.js", "max-age=60", "max-age=600") == "max-age=600"


@pytest.mark.parametrize(
    "prefix, expected",
    [
        ("", ""),
        ("/", ""),
        ("project/1.0", "project/1.0/"),
        ("/project/1.0/", "project/1.0/"),
        ("project//1.0/", "project/1.0/"),
        ("x/", "x/"),
    ],
)
def test_prefix_is_normalised(prefix, expected):
    assert normalise_prefix(prefix) == expected


@pytest.mark.parametrize("prefix", ["../x", "a/../b", "./a", "a/.", "a\\b", "a\nb"])
def test_prefix_with_dot_segments_or_control_characters_is_refused(prefix):
    with pytest.raises(BadPrefix):
        normalise_prefix(prefix)


@pytest.mark.parametrize(
    "path, expected", [("index.html", True), ("a/B.HTM", True), ("a.js", False), ("html", False)]
)
def test_pages_are_html_files(path, expected):
    assert is_page(path) is expected


@pytest.mark.parametrize(
    "path, expected",
    [(".buildinfo", True), ("a/.DS_Store", True), (".git/config", True), ("a/b.html", False), ("a.b/c", False)],
)
def test_hidden_paths_have_a_segment_starting_with_a_dot(path, expected):
    assert is_hidden(path) is expected


def local(relkey, content="x", content_type="text/html; charset=utf-8", cache_control=PAGES):
    """Return a ``LocalFile`` whose checksums are derived from ``content``, a short label."""
    return LocalFile(relkey, f"/src/{relkey}", len(content), f"sha{content}", f"md5{content}", content_type, cache_control)


def remote(item, multipart=False, known=True, **changes):
    """Return the ``RemoteObject`` that an upload of ``item`` leaves behind, with ``changes``."""
    fields = {
        "etag": "abc-2" if multipart else item.md5,
        "size": item.size,
        "last_modified": "2026-01-01T00:00:00+00:00",
        "sha256": item.sha256 if known else None,
        "content_type": item.content_type if known else None,
        "cache_control": item.cache_control if known else None,
    }
    fields.update(changes)
    return RemoteObject(item.relkey, **fields)


def test_plan_uploads_assets_before_pages():
    files = [local("index.html"), local("z.css", content_type="text/css"), local("a/page.html"), local("a.js")]
    plan = plan_publish(files, {})
    assert [item.relkey for item in plan.uploads] == ["a.js", "z.css", "a/page.html", "index.html"]
    assert plan.unchanged == [] and plan.deletes == []


def test_plan_skips_files_already_there_with_the_same_checksum_and_headers():
    same, edited = local("a.html"), local("b.html", content="new")
    plan = plan_publish([same, edited], {"a.html": remote(same), "b.html": remote(local("b.html", content="old"))})
    assert plan.unchanged == [same]
    assert plan.uploads == [edited]


@pytest.mark.parametrize(
    "change",
    [{"content_type": "binary/octet-stream"}, {"cache_control": "max-age=600"}, {"sha256": "other"}, {"size": 7}],
)
def test_plan_uploads_again_when_a_header_or_the_checksum_differs(change):
    item = local("a.html")
    assert plan_publish([item], {"a.html": remote(item, **change)}).uploads == [item]


def test_plan_uploads_again_when_the_remote_state_is_unknown():
    item = local("a.html")
    assert plan_publish([item], {"a.html": remote(item, known=False)}).uploads == [item]


def test_only_objects_whose_md5_matches_or_that_are_multipart_need_a_head():
    same, edited, big, new, known = local("same"), local("edited", "y"), local("big"), local("new"), local("known")
    remotes = {
        "same": remote(same, known=False),
        "edited": remote(local("edited", "z"), known=False),
        "big": remote(big, multipart=True, known=False),
        "known": remote(known),
    }
    assert keys_to_check([same, edited, big, new, known], remotes) == ["same", "big"]


def test_plan_deletes_only_with_delete_and_keeps_the_manifest():
    item = local("a.html")
    remotes = {"a.html": remote(item), "old.html": remote(local("old.html")), MANIFEST_NAME: remote(local("m"))}
    assert plan_publish([item], remotes).deletes == []
    assert plan_publish([item], remotes, delete=True, keep=(MANIFEST_NAME,)).deletes == ["old.html"]


def test_manifest_round_trips():
    items = [remote(local("a.html")), remote(local("b.js"), multipart=True)]
    assert decode_manifest(encode_manifest(items)) == {item.relkey: item for item in items}


@pytest.mark.parametrize("data", [b"", b"not json", b"[]", b'{"version": 99, "objects": {}}', b'{"version": 1}'])
def test_unreadable_manifest_is_ignored(data):
    assert decode_manifest(data) == {}


def test_manifest_describes_only_the_exact_object_it_recorded():
    item = local("a.html")
    recorded = remote(item)
    manifest = {"a.html": recorded, "b.html": remote(local("b.html")), "c.html": remote(local("c.html"))}
    listing = {
        "a.html": remote(item, known=False),
        "b.html": remote(local("b.html"), known=False, last_modified="2026-02-02T00:00:00+00:00"),
        "c.html": remote(local("c.html"), known=False, etag="rewritten"),
    }
    known = apply_manifest(listing, manifest)
    assert known["a.html"] == recorded
    assert known["b.html"].sha256 is None
    assert known["c.html"].sha256 is None


@pytest.mark.parametrize(
    "count, expected", [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (64 * 1024 * 1024, "64.0 MiB")]
)
def test_bytes_are_shown_in_binary_units(count, expected):
    assert format_bytes(count) == expected


def test_progress_bar_shows_files_bytes_rate_and_eta():
    progress = BarProgress()
    progress.total_files, progress.total_bytes, progress.files, progress.nbytes = 10, 2048, 5, 1024
    progress.started -= 0
    line = progress.line(120)
    assert "[##########----------]" in line
    assert "5/10 files" in line and "1.0 KiB/2.0 KiB" in line and "/s" in line and "ETA" in line
    assert len(progress.line(40)) < 40
    assert format_seconds(75) == "1:15"


def test_manifest_entry_without_a_modification_time_is_matched_on_etag_and_size():
    item = local("a.html")
    fresh = remote(item, last_modified="")
    assert apply_manifest({"a.html": remote(item, known=False)}, {"a.html": fresh})["a.html"] == remote(item)
    moved = remote(item, known=False, etag="other")
    assert apply_manifest({"a.html": moved}, {"a.html": fresh})["a.html"].sha256 is None
