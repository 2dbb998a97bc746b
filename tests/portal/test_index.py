"""The portal index in moto's bucket: conditional writes retried on conflict, rebuilds from listings, the cache."""

import json

import pytest

from app.portal.catalog import BadIndex, catalog_from_index, decode_index, empty_index, encode_index
from app.portal.index import (
    INDEX_NAME,
    IndexCache,
    IndexConflict,
    build_index,
    read_index,
    record_version,
    update_index,
)

from tests.conftest import BUCKET

STATS = {"size": 10, "files": 1}


def stored(s3, prefix=""):
    """Return the index document in the bucket."""
    return json.loads(s3.get_object(Bucket=BUCKET, Key=prefix + INDEX_NAME)["Body"].read())


PAGE = b"<p>page</p>"


def test_the_first_update_creates_the_index_only_if_it_is_still_absent(s3):
    update_index(s3, BUCKET, "docs/", record_version("api", "1.0", {"commit": "abc"}, STATS))
    document = stored(s3, "docs/")
    assert document["projects"]["api"]["versions"]["1.0"]["commit"] == "abc"
    assert document["format"] == 1


def test_a_write_that_loses_a_race_is_retried_from_a_fresh_read(s3):
    update_index(s3, BUCKET, "", record_version("api", "1.0", {}, STATS))
    raced = []

    def change(document):
        if not raced:
            # Another publisher lands between our read and our write: S3 must refuse ours (If-Match).
            raced.append(True)
            update_index(s3, BUCKET, "", record_version("web", "2.0", {}, STATS))
        record_version("api", "1.1", {}, STATS)(document)

    update_index(s3, BUCKET, "", change)
    versions = {project: sorted(entry["versions"]) for project, entry in stored(s3)["projects"].items()}
    assert versions == {"api": ["1.0", "1.1"], "web": ["2.0"]}


def test_an_index_that_never_stops_changing_gives_up_without_writing(s3):
    update_index(s3, BUCKET, "", record_version("api", "1.0", {}, STATS))
    writes = []

    def always_raced(document):
        writes.append(1)
        s3.put_object(Bucket=BUCKET, Key=INDEX_NAME, Body=encode_index({**stored(s3), "noise": len(writes)}))
        document["projects"]["mine"] = {"versions": {}}

    before = stored(s3)
    with pytest.raises(IndexConflict, match="changed 3 times"):
        update_index(s3, BUCKET, "", always_raced, attempts=3)
    assert stored(s3)["projects"] == before["projects"]
    assert len(writes) == 3


def test_a_refused_change_writes_nothing(s3):
    update_index(s3, BUCKET, "", record_version("api", "1.0", {}, STATS))
    etag = s3.head_object(Bucket=BUCKET, Key=INDEX_NAME)["ETag"]
    with pytest.raises(ValueError, match="ambiguous"):
        update_index(s3, BUCKET, "", record_version("api", "v1.0", {}, STATS))
    assert s3.head_object(Bucket=BUCKET, Key=INDEX_NAME)["ETag"] == etag


def test_creating_the_index_keeps_sites_copied_in_by_hand(s3, put):
    put("handmade/0.1/index.html", PAGE, ContentType="text/html")
    put("handmade/0.1/guide.html", PAGE, ContentType="text/html")
    update_index(s3, BUCKET, "", record_version("api", "1.0", {}, STATS))
    handmade = stored(s3)["projects"]["handmade"]["versions"]["0.1"]
    assert handmade["files"] == 2 and handmade["size"] == 22


def test_a_rebuild_keeps_metadata_pins_and_flags_and_follows_the_bucket(s3, put):
    for key in ["api/1.0/index.html", "api/2.0/index.html", "api/2.0/a/b.html", "new/0.1/index.html",
                "plain/index.html", "plain/sub/index.html", "api/assets/x.css", "_static/x.css", "api/3.0/only.css"]:
        put(key, PAGE, ContentType="text/html")
    previous = empty_index()
    previous["projects"]["api"] = {"title": "API", "tags": ["x"], "aliases": {"lts": "1.0", "old": "0.5"},
                                   "versions": {"1.0": {"hidden": True, "commit": "c1", "published": "2020-01-01T00:00:00+00:00"},
                                                "0.5": {}}}
    rebuilt = build_index(s3, BUCKET, "", previous)
    api = rebuilt["projects"]["api"]
    assert sorted(rebuilt["projects"]) == ["api", "new"]  # plain/ is a site of its own, not a project
    assert sorted(api["versions"]) == ["1.0", "2.0"]  # assets/ and 3.0/ have no index page
    assert api["title"] == "API" and api["tags"] == ["x"] and api["aliases"] == {"lts": "1.0"}
    assert api["versions"]["1.0"]["hidden"] is True and api["versions"]["1.0"]["commit"] == "c1"
    assert api["versions"]["1.0"]["published"] == "2020-01-01T00:00:00+00:00"
    assert api["versions"]["2.0"]["files"] == 2 and api["versions"]["2.0"]["published"]


@pytest.mark.parametrize("data", [b"", b"[]", b'{"format": 2, "projects": {}}', b'{"format": 1}',
                                  b'{"format": 1, "projects": {"a": []}}'])
def test_an_index_this_version_cannot_read_is_refused(data):
    with pytest.raises(BadIndex):
        decode_index(data)


def test_the_catalog_orders_projects_by_name_and_versions_newest_first():
    document = empty_index()
    for project, versions in {"zeta": ["1.0", "main"], "alpha": ["0.9", "1.10", "1.9", "2.0rc1"]}.items():
        document["projects"][project] = {"versions": {version: {"hidden": version == "1.10"} for version in versions}}
    catalog = catalog_from_index(document, "etag-1")
    assert [project.name for project in catalog.projects] == ["alpha", "zeta"]
    alpha = catalog.by_name["alpha"]
    assert [version.name for version in alpha.versions] == ["2.0rc1", "1.10", "1.9", "0.9"]
    assert alpha.by_name["1.10"].hidden is True
    assert alpha.default_version == "1.9"  # 1.10 is hidden
    assert alpha.title == "alpha"
    assert catalog.by_name["zeta"].default_version == "1.0"
    assert catalog.version_id == "etag-1"


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


def test_the_cache_revalidates_after_the_ttl_with_a_conditional_get(s3, bucket):
    update_index(s3, BUCKET, "", record_version("api", "1.0", {}, STATS))
    calls = bucket.operations()
    clock = Clock()
    cache = IndexCache(10, clock)
    first = cache.get(s3, BUCKET, "")
    clock.now = 9.9
    assert cache.get(s3, BUCKET, "") is first
    assert calls == ["GetObject"]
    clock.now = 10.1
    assert cache.get(s3, BUCKET, "") is first  # a 304: the same parsed catalog
    assert calls == ["GetObject", "GetObject"]
    update_index(s3, BUCKET, "", record_version("api", "1.1", {}, STATS))
    clock.now = 20.5
    second = cache.get(s3, BUCKET, "")
    assert second.version_id != first.version_id
    assert [version.name for version in second.by_name["api"].versions] == ["1.1", "1.0"]


def test_the_cache_keeps_serving_its_copy_when_s3_fails(s3, monkeypatch):
    update_index(s3, BUCKET, "", record_version("api", "1.0", {}, STATS))
    clock = Clock()
    cache = IndexCache(10, clock)
    first = cache.get(s3, BUCKET, "")
    s3.put_object(Bucket=BUCKET, Key=INDEX_NAME, Body=b"garbage")
    clock.now = 11
    assert cache.get(s3, BUCKET, "") is first


def test_a_conditional_read_of_an_unchanged_index_returns_no_document(s3):
    update_index(s3, BUCKET, "", record_version("api", "1.0", {}, STATS))
    document, etag = read_index(s3, BUCKET, "")
    assert document["projects"]
    assert read_index(s3, BUCKET, "", if_none_match=etag) == (None, etag)


def test_a_rebuild_finds_each_versions_own_404_page(s3, put):
    for key in ["api/1.0/index.html", "api/1.0/404.html", "api/2.0/index.html", "api/2.0/guide/404.html"]:
        put(key, PAGE, ContentType="text/html")
    versions = build_index(s3, BUCKET, "")["projects"]["api"]["versions"]
    assert versions["1.0"]["error_document"] == "404.html"
    assert "error_document" not in versions["2.0"]  # only at the version's root


@pytest.mark.parametrize("url, ok", [
    ("https://git.example/corp", True), ("http://git.example", True), ("javascript:alert(1)", False),
    ("JaVaScRiPt:alert(1)", False), ("data:text/html,x", False), ("//evil.example/x", False),
    ("https://", False), ("https://git.example/\nx", False), ("ftp://git.example", False), ("", False),
])
def test_only_http_urls_become_repository_links(url, ok):
    from app.portal.catalog import is_web_link, link_or_empty

    assert is_web_link(url) is ok
    assert link_or_empty(url) == (url if ok else "")
