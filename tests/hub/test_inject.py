"""The tag block, where it goes, and the rewrite of a page as a whole and as a stream (pure, from tables)."""

import pytest

from app.hub.inject import LOOKAHEAD, Injection, block, derived_etag, insertion_point, is_page

BLOCK = block("payments", "1.9", "guide/", "/_/hub/api/payments/1.9", "/_/hub/hub.js?v=abc")


@pytest.mark.parametrize("page, expected", [
    (b"<!doctype html><html><head><title>T</title></head><body></body></html>", b"<!doctype html><html><head>"),
    (b"<!DOCTYPE html><HTML lang=en><HEAD profile='x'><title>T</title>", b"<!DOCTYPE html><HTML lang=en><HEAD profile='x'>"),
    (b"<html>\n<head\n  data-theme=\"dark\"><meta charset=utf-8>", b"<html>\n<head\n  data-theme=\"dark\">"),
    (b"<!-- <head> in a comment --><html><head><title>", b"<!-- <head> in a comment --><html><head>"),
    (b"<html><header>not the head</header><body>", b"<html>"),  # no <head>: after <html>
    (b"<!doctype html><title>No head or html tag</title>", b"<!doctype html>"),
    (b"<p>A fragment", b""),
    (b"", b""),
])
def test_the_block_goes_after_the_head_tag_or_the_nearest_safe_place(page, expected):
    assert insertion_point(page, final=True) == len(expected)


def test_an_unfinished_head_or_comment_waits_for_more_bytes():
    assert insertion_point(b"<!doctype html><html><hea", final=False) is None
    assert insertion_point(b"<!doctype html><!-- <head> ", final=False) is None
    assert insertion_point(b"<!doctype html><html><head>", final=False) == 27


@pytest.mark.parametrize("status, headers, expected", [
    (200, {"content-type": "text/html"}, True),
    (200, {"content-type": "text/html; charset=utf-8"}, True),
    (200, {"content-type": "TEXT/HTML"}, True),
    (206, {"content-type": "text/html", "content-range": "bytes 0-1/10"}, False),
    (200, {"content-type": "text/html; charset=UTF-16"}, False),
    (200, {"content-type": "text/html", "content-encoding": "gzip"}, False),
    (200, {"content-type": "text/html", "x-amz-website-redirect-location": "/x"}, False),
    (200, {"content-type": "application/xhtml+xml"}, False),
    (200, {"content-type": "text/plain"}, False),
    (200, {}, False),
    (404, {"content-type": "text/html"}, False),
])
def test_only_whole_html_pages_get_the_block(status, headers, expected):
    assert is_page(status, headers) is expected


def test_the_block_names_project_version_and_page_and_escapes_them():
    text = block("p", "1.0", 'a"<b>.html', "/_/hub/api/p/1.0", "/_/hub/hub.js?v=1").decode()
    assert '<meta name="docs-hub-project" content="p">' in text
    assert '<meta name="docs-hub-version" content="1.0">' in text
    assert 'content="a&quot;&lt;b&gt;.html"' in text
    assert text.endswith('<script defer src="/_/hub/hub.js?v=1"></script>')


@pytest.mark.parametrize("etag, expected", [
    ('"abc"', '"abc-hubX"'),
    ('W/"abc"', 'W/"abc-hubX"'),
    ('"abc-5"', '"abc-5-hubX"'),
    (None, None),
    ("", ""),
])
def test_the_pages_etag_is_the_objects_with_the_blocks_suffix(etag, expected):
    assert derived_etag(etag, "-hubX") == expected


def test_the_suffix_changes_with_the_block():
    other = Injection(block("payments", "2.0", "guide/", "/_/hub/api/payments/2.0", "/_/hub/hub.js?v=abc"))
    assert Injection(BLOCK).suffix.startswith("-hub")
    assert Injection(BLOCK).suffix != other.suffix
    assert Injection(BLOCK).suffix == Injection(BLOCK).suffix


PAGE = b"<!doctype html><html lang=en><head><meta charset=utf-8><title>T</title></head><body>" + b"x" * 5000


@pytest.mark.parametrize("size", [1, 7, 30, 1024, 4096, 100_000])
def test_the_stream_gives_the_same_bytes_as_the_whole_body_whatever_the_chunk_size(size):
    injection = Injection(BLOCK)
    chunks = [PAGE[i:i + size] for i in range(0, len(PAGE), size)]

    streamed = b"".join(injection.stream(iter(chunks)))

    assert streamed == injection.body(PAGE)
    assert streamed.count(BLOCK) == 1
    assert streamed.index(BLOCK) == PAGE.index(b"<head>") + len(b"<head>")
    assert len(streamed) == injection.length(len(PAGE))


def test_a_page_whose_head_comes_late_is_held_back_at_most_the_lookahead():
    late = b"<!doctype html><html>" + b" " * (LOOKAHEAD + 10) + b"<head><title>T</title>"
    chunks = [late[i:i + 1024] for i in range(0, len(late), 1024)]
    held = []

    def counted():
        for chunk in chunks:
            held.append(chunk)
            yield chunk

    stream = Injection(BLOCK).stream(counted())
    first = next(stream)

    assert len(b"".join(held)) <= LOOKAHEAD + 1024
    assert first.startswith(b"<!doctype html><html>" + BLOCK)
    assert first + b"".join(stream) == Injection(BLOCK).body(late)


def test_closing_the_stream_closes_the_chunks():
    closed = []

    def chunks():
        try:
            yield b"<html><head>"
            yield b"rest"
        finally:
            closed.append(True)

    stream = Injection(BLOCK).stream(chunks())
    next(stream)
    stream.close()

    assert closed == [True]
